#include "client/channels.h"

namespace qxlbox::client {

MainChannel::MainChannel(std::unique_ptr<Socket> socket, bool mini_header, Session& session)
    : Channel(ChannelType::Main, 0, std::move(socket), mini_header, session), session_(session) {}

void MainChannel::request_mouse_mode(MouseMode mode) {
    send_message(wire::MsgcMainMouseModeRequest{static_cast<std::uint16_t>(mode)});
}

bool MainChannel::handle_message(std::uint16_t type, wire::ByteView body) {
    auto parsed = wire::MainServerMessages::demarshal(type, body);
    if (!parsed) {
        if (parsed.error().code == wire::ErrorCode::UnknownMessage) {
            report_unknown(type);
            return true;
        }
        fail("malformed message " + std::to_string(type) + ": " + parsed.error().to_string());
        return false;
    }
    return std::visit(
        [&](auto& m) -> bool {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, wire::MsgMainInit>) {
                send_message(wire::MsgcMainAttachChannels{});
                session_.on_main_init(m.session_id, m.supported_mouse_modes, m.current_mouse_mode);
            } else if constexpr (std::is_same_v<M, wire::MsgMainChannelsList>) {
                std::vector<std::pair<std::uint8_t, std::uint8_t>> list;
                for (const auto& c : m.channels) list.emplace_back(c.type, c.id);
                session_.on_channels_list(list);
            } else if constexpr (std::is_same_v<M, wire::MsgMainMouseMode>) {
                session_.on_mouse_mode(m.supported_modes, m.current_mode);
            } else if constexpr (std::is_same_v<M, wire::MsgMainName>) {
                std::string name;
                for (auto c : m.name) {
                    if (c == 0 || name.size() >= 128) break;
                    name.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
                }
                session_.on_server_name(name);
            } else if constexpr (std::is_same_v<M, wire::MsgMainMigrateBegin> ||
                                 std::is_same_v<M, wire::MsgMainMigrateCancel> ||
                                 std::is_same_v<M, wire::MsgMainMigrateSwitchHost> ||
                                 std::is_same_v<M, wire::MsgMainMigrateEnd> ||
                                 std::is_same_v<M, wire::MsgMainMigrateBeginSeamless> ||
                                 std::is_same_v<M, wire::MsgMainMigrateDstSeamlessAck> ||
                                 std::is_same_v<M, wire::MsgMainMigrateDstSeamlessNack>) {
                report_once("migrate", "migration is not supported; ignoring migration messages");
            }
            // UUID, multimedia time and the agent messages need no answer: we start no agent.
            return !failed();
        },
        parsed.value());
}

}  // namespace qxlbox::client
