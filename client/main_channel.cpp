#include "client/channels.h"

namespace qxlbox::client {

namespace {
namespace main_msg {
constexpr std::uint16_t kMigrateBegin = 101;
constexpr std::uint16_t kMigrateCancel = 102;
constexpr std::uint16_t kInit = 103;
constexpr std::uint16_t kChannelsList = 104;
constexpr std::uint16_t kMouseMode = 105;
constexpr std::uint16_t kMultiMediaTime = 106;
constexpr std::uint16_t kAgentConnected = 107;
constexpr std::uint16_t kAgentDisconnected = 108;
constexpr std::uint16_t kAgentData = 109;
constexpr std::uint16_t kAgentToken = 110;
constexpr std::uint16_t kMigrateSwitchHost = 111;
constexpr std::uint16_t kMigrateEnd = 112;
constexpr std::uint16_t kName = 113;
constexpr std::uint16_t kUuid = 114;
constexpr std::uint16_t kAgentConnectedTokens = 115;
constexpr std::uint16_t kMigrateBeginSeamless = 116;
constexpr std::uint16_t kMigrateDstSeamlessAck = 117;
constexpr std::uint16_t kMigrateDstSeamlessNack = 118;
constexpr std::uint16_t kcAttachChannels = 104;
constexpr std::uint16_t kcMouseModeRequest = 105;
}  // namespace main_msg
}  // namespace

MainChannel::MainChannel(std::unique_ptr<Socket> socket, bool mini_header, Session& session)
    : Channel(ChannelType::Main, 0, std::move(socket), mini_header, session), session_(session) {}

void MainChannel::request_mouse_mode(MouseMode mode) {
    send(main_msg::kcMouseModeRequest, Writer().u16(static_cast<std::uint16_t>(mode)));
}

bool MainChannel::handle_message(std::uint16_t type, Reader body) {
    using namespace main_msg;
    switch (type) {
        case kInit: {
            const std::uint32_t session_id = body.u32();
            body.u32();  // display_channels_hint
            const std::uint32_t supported = body.u32();
            const std::uint32_t current = body.u32();
            if (!body.ok()) {
                fail("truncated MAIN_INIT");
                return false;
            }
            send(kcAttachChannels, std::span<const std::uint8_t>{});
            session_.on_main_init(session_id, supported, current);
            return true;
        }
        case kChannelsList: {
            const std::uint32_t n = body.u32();
            if (!body.ok() || n > body.remaining() / 2) {
                fail("CHANNELS_LIST count exceeds the message");
                return false;
            }
            std::vector<std::pair<std::uint8_t, std::uint8_t>> list;
            for (std::uint32_t i = 0; i < n; ++i) {
                const std::uint8_t t = body.u8();
                list.emplace_back(t, body.u8());
            }
            session_.on_channels_list(list);
            return true;
        }
        case kMouseMode: {
            const std::uint16_t supported = body.u16();
            const std::uint16_t current = body.u16();
            if (!body.ok()) {
                fail("truncated MOUSE_MODE");
                return false;
            }
            session_.on_mouse_mode(supported, current);
            return true;
        }
        case kName: {
            const std::uint32_t len = body.u32();
            const auto text = body.bytes(std::min<std::size_t>(len, body.remaining()));
            std::string name;
            for (auto c : text) {
                if (c == 0 || name.size() >= 128) break;
                name.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
            }
            session_.on_server_name(name);
            return true;
        }
        case kUuid:
        case kMultiMediaTime:
        case kAgentConnected:
        case kAgentDisconnected:
        case kAgentData:
        case kAgentToken:
        case kAgentConnectedTokens:
            return true;  // no agent support; nothing to answer
        case kMigrateBegin:
        case kMigrateCancel:
        case kMigrateSwitchHost:
        case kMigrateEnd:
        case kMigrateBeginSeamless:
        case kMigrateDstSeamlessAck:
        case kMigrateDstSeamlessNack:
            report_once("migrate", "migration is not supported; ignoring migration messages");
            return true;
        default:
            report_unknown(type);
            return true;
    }
}

}  // namespace qxlbox::client
