#include "client/channel.h"

#include <algorithm>

#include "client/link.h"

namespace qxlbox::client {

namespace {
constexpr std::size_t kReadChunkBytes = 256 * 1024;

std::string printable(wire::ByteView text) {
    std::string out;
    for (auto c : text) {
        if (c == 0) break;
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
        if (out.size() >= 200) break;
    }
    return out;
}
}  // namespace

Channel::Channel(ChannelType type, std::uint8_t id, std::unique_ptr<Socket> socket, bool mini_header,
                 ChannelHost& host)
    : type_(type),
      id_(id),
      socket_(std::move(socket)),
      mini_header_(mini_header),
      host_(host),
      framer_(mini_header, wire::kMaxServerMessageBytes) {}

std::string Channel::name() const {
    return std::string(wire::channel_type_name(type_)) + ":" + std::to_string(id_);
}

void Channel::fail(const std::string& why) {
    if (error_.empty()) error_ = name() + ": " + why;
}

void Channel::report_once(const std::string& key, const std::string& text) {
    if (reported_.insert(key).second) host_.log(name() + ": " + text);
}

void Channel::report_unknown(std::uint16_t type) {
    report_once("type" + std::to_string(type), "ignoring unsupported message type " + std::to_string(type));
}

void Channel::send_raw(std::uint16_t type, wire::ByteView body) {
    if (failed()) return;
    if (out_.size() + body.size() > kMaxPendingOutputBytes) {
        fail("the server stopped reading (" + std::to_string(out_.size()) + " bytes unsent)");
        return;
    }
    const auto framed = wire::frame_message(mini_header_, ++send_serial_, type, body);
    out_.insert(out_.end(), framed.begin(), framed.end());
    if (!batching_) on_writable();
}

void Channel::on_writable() {
    while (!failed() && !out_.empty()) {
        std::string why;
        const long n = socket_->write_some(out_, why);
        if (n < 0) {
            fail(why);
            return;
        }
        if (n == 0) return;
        out_.erase(out_.begin(), out_.begin() + n);
    }
}

void Channel::on_readable() {
    if (failed() || waiting()) return;
    std::vector<std::uint8_t> chunk(kReadChunkBytes);
    std::string why;
    const long n = socket_->read_some(chunk, why);
    receive(wire::ByteView(chunk.data(), static_cast<std::size_t>(std::max(n, 0L))));  // what came before a close counts
    if (n < 0) fail(why);
}

void Channel::receive(wire::ByteView bytes) {
    if (failed()) return;
    framer_.feed(bytes);
    process_buffer();
}

bool Channel::waits_satisfied() {
    std::erase_if(waits_, [this](const wire::ChannelWait& w) {
        return host_.received_serial(w.channel_type, w.channel_id) >= w.message_serial;
    });
    if (waits_.empty()) return true;
    if (Clock::now() > wait_deadline_) {
        fail("WAIT_FOR_CHANNELS not satisfied within " + std::to_string(kWaitForChannelsLimitMs) + " ms");
    }
    return false;
}

void Channel::resume() {
    if (failed() || !waiting()) return;
    if (waits_satisfied()) process_buffer();
}

void Channel::process_buffer() {
    batching_ = true;
    while (!failed() && !waiting()) {
        auto next = framer_.next();
        if (!next) break;
        if (!next->ok()) {
            fail("bad message header: " + next->error().to_string());
            break;
        }
        const wire::Frame& frame = next->value();
        ++received_serial_;
        bool ok = true;
        if (frame.sub_list != 0) ok = dispatch_list(frame.body, frame.sub_list);
        if (ok) ok = dispatch(frame.type, frame.body);
        if (!ok) break;
        // spice-gtk counts every message after SET_ACK (a message with sub-messages once).
        if (frame.type != wire::MsgSetAck::kType && ack_window_ != 0 && --ack_countdown_ == 0) {
            send_message(wire::MsgcAck{});
            ++acks_sent_;
            ack_countdown_ = ack_window_;
        }
    }
    batching_ = false;
    on_writable();
}

bool Channel::dispatch_list(wire::ByteView body, std::uint32_t offset) {
    auto items = wire::parse_sub_message_list(body, offset);
    if (!items) {
        fail("malformed sub-message list: " + items.error().to_string());
        return false;
    }
    for (const auto& sub : *items) {
        if (sub.type == wire::MsgList::kType) {
            fail("nested message list");
            return false;
        }
        if (!dispatch(sub.type, sub.data)) return false;
    }
    return true;
}

bool Channel::dispatch(std::uint16_t type, wire::ByteView body) {
    if (type == wire::MsgList::kType && mini_header_) return dispatch_list(body, 0);
    const bool ok = wire::BaseServerMessages::knows(type) ? handle_common(type, body) : handle_message(type, body);
    if (!ok && !failed()) fail("cannot handle message type " + std::to_string(type));
    return ok && !failed();
}

bool Channel::handle_common(std::uint16_t type, wire::ByteView body) {
    auto parsed = wire::BaseServerMessages::demarshal(type, body);
    if (!parsed) {
        fail("malformed message: " + parsed.error().to_string());
        return false;
    }
    return std::visit(
        [this](auto& m) -> bool {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, wire::MsgSetAck>) {
                send_message(wire::MsgcAckSync{m.generation});
                ack_window_ = m.window;
                ack_countdown_ = m.window;
            } else if constexpr (std::is_same_v<M, wire::MsgPing>) {
                // The padding of the network-test ping is not echoed (spice-protocol.md §3).
                send_message(wire::MsgcPong{m.id, m.timestamp});
                ++pongs_sent_;
            } else if constexpr (std::is_same_v<M, wire::MsgWaitForChannels>) {
                waits_ = std::move(m.waits);
                wait_deadline_ = Clock::now() + std::chrono::milliseconds(kWaitForChannelsLimitMs);
                waits_satisfied();
            } else if constexpr (std::is_same_v<M, wire::MsgDisconnecting>) {
                host_.log(name() + ": server is disconnecting (" +
                          wire::link_error_name(static_cast<wire::LinkError>(m.reason)) + ")");
            } else if constexpr (std::is_same_v<M, wire::MsgNotify>) {
                static const char* const kSeverity[] = {"info", "warning", "error"};
                host_.log(name() + ": server " + (m.severity < 3 ? kSeverity[m.severity] : "notice") + ": " +
                          printable(m.message));
            } else if constexpr (std::is_same_v<M, wire::MsgMigrate> || std::is_same_v<M, wire::MsgMigrateData>) {
                report_once("migrate", "migration is not supported; ignoring MIGRATE");
            } else {
                report_unknown(M::kType);
            }
            return !failed();
        },
        parsed.value());
}

}  // namespace qxlbox::client
