#include "client/channel.h"

#include <algorithm>

#include "client/link.h"

namespace qxlbox::client {

namespace {
constexpr std::size_t kMiniHeaderBytes = 6;
constexpr std::size_t kFullHeaderBytes = 18;
constexpr std::size_t kReadChunkBytes = 256 * 1024;

std::string printable(std::span<const std::uint8_t> text) {
    std::string out;
    for (auto c : text) {
        if (c == 0) break;
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
        if (out.size() >= 200) break;
    }
    return out;
}
}  // namespace

const char* channel_type_name(std::uint8_t type) {
    switch (type) {
        case 1: return "main";
        case 2: return "display";
        case 3: return "inputs";
        case 4: return "cursor";
        case 5: return "playback";
        case 6: return "record";
        case 8: return "smartcard";
        case 9: return "usbredir";
        case 10: return "port";
        case 11: return "webdav";
        default: return "unknown";
    }
}

Channel::Channel(ChannelType type, std::uint8_t id, std::unique_ptr<Socket> socket, bool mini_header,
                 ChannelHost& host)
    : type_(type), id_(id), socket_(std::move(socket)), mini_header_(mini_header), host_(host) {}

std::string Channel::name() const {
    return std::string(channel_type_name(static_cast<std::uint8_t>(type_))) + ":" + std::to_string(id_);
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

void Channel::send(std::uint16_t type, std::span<const std::uint8_t> body) {
    if (failed()) return;
    if (out_.size() + body.size() > kMaxPendingOutputBytes) {
        fail("the server stopped reading (" + std::to_string(out_.size()) + " bytes unsent)");
        return;
    }
    Writer h;
    if (mini_header_) {
        h.u16(type).u32(static_cast<std::uint32_t>(body.size()));
    } else {
        h.u64(++send_serial_).u16(type).u32(static_cast<std::uint32_t>(body.size())).u32(0);
    }
    out_.insert(out_.end(), h.data().begin(), h.data().end());
    out_.insert(out_.end(), body.begin(), body.end());
    on_writable();
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
    const std::size_t old = in_.size();
    in_.resize(old + kReadChunkBytes);
    std::string why;
    const long n = socket_->read_some(std::span(in_).subspan(old), why);
    in_.resize(old + static_cast<std::size_t>(std::max(n, 0L)));
    if (n < 0) {
        process_buffer();  // what arrived before the close still counts
        fail(why);
        return;
    }
    process_buffer();
}

bool Channel::waits_satisfied() {
    std::erase_if(waits_, [this](const Wait& w) { return host_.received_serial(w.type, w.id) >= w.serial; });
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
    const std::size_t header_bytes = mini_header_ ? kMiniHeaderBytes : kFullHeaderBytes;
    while (!failed() && !waiting()) {
        const std::size_t avail = in_.size() - in_start_;
        if (avail < header_bytes) break;
        Reader h(std::span<const std::uint8_t>(in_).subspan(in_start_, header_bytes));
        std::uint32_t sub_list = 0;
        if (!mini_header_) h.u64();  // server serials are not checked (spice-gtk does not either)
        const std::uint16_t type = h.u16();
        const std::uint32_t size = h.u32();
        if (!mini_header_) sub_list = h.u32();
        if (size > kMaxMessageBytes) {
            fail("message type " + std::to_string(type) + " announces " + std::to_string(size) +
                 " bytes (limit " + std::to_string(kMaxMessageBytes) + ")");
            break;
        }
        if (avail - header_bytes < size) break;
        const auto body = std::span<const std::uint8_t>(in_).subspan(in_start_ + header_bytes, size);
        ++received_serial_;
        bool ok = true;
        if (sub_list != 0) ok = dispatch_list(body, sub_list);
        if (ok) ok = dispatch(type, body);
        in_start_ += header_bytes + size;
        if (!ok) break;
        if (type != msg::kSetAck && ack_window_ != 0 && --ack_countdown_ == 0) {
            send(msg::kcAck, std::span<const std::uint8_t>{});
            ++acks_sent_;
            ack_countdown_ = ack_window_;
        }
    }
    if (in_start_ > 0 && (in_start_ == in_.size() || in_start_ > (1u << 20))) {
        in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_start_));
        in_start_ = 0;
    }
}

bool Channel::dispatch_list(std::span<const std::uint8_t> body, std::uint32_t offset) {
    Reader list(body, offset);
    const std::uint16_t count = list.u16();
    for (std::uint16_t i = 0; i < count && list.ok(); ++i) {
        Reader sub = list.at(list.u32());
        const std::uint16_t type = sub.u16();
        const std::uint32_t size = sub.u32();
        const auto sub_body = sub.bytes(size);
        if (!list.ok() || !sub.ok()) break;
        if (type == msg::kList) {
            fail("nested message list");
            return false;
        }
        if (!dispatch(type, sub_body)) return false;
    }
    if (!list.ok()) {
        fail("malformed sub-message list");
        return false;
    }
    return true;
}

bool Channel::dispatch(std::uint16_t type, std::span<const std::uint8_t> body) {
    if (type == msg::kList && mini_header_) return dispatch_list(body, 0);
    if (type < 101) {
        bool handled = false;
        const bool ok = handle_common(type, Reader(body), handled);
        if (handled || !ok) return ok;
    }
    const bool ok = handle_message(type, Reader(body));
    if (!ok && !failed()) fail("cannot handle message type " + std::to_string(type));
    return ok && !failed();
}

bool Channel::handle_common(std::uint16_t type, Reader body, bool& handled) {
    handled = true;
    switch (type) {
        case msg::kSetAck: {
            const std::uint32_t generation = body.u32();
            const std::uint32_t window = body.u32();
            if (!body.ok()) {
                fail("truncated SET_ACK");
                return false;
            }
            send(msg::kcAckSync, Writer().u32(generation));
            ack_window_ = window;
            ack_countdown_ = window;
            return true;
        }
        case msg::kPing: {
            const std::uint32_t ping_id = body.u32();
            const std::uint64_t timestamp = body.u64();
            if (!body.ok()) {
                fail("truncated PING");
                return false;
            }
            send(msg::kcPong, Writer().u32(ping_id).u64(timestamp));
            ++pongs_sent_;
            return true;
        }
        case msg::kWaitForChannels: {
            const std::uint8_t count = body.u8();
            std::vector<Wait> waits;
            for (unsigned i = 0; i < count; ++i) {
                Wait w;
                w.type = body.u8();
                w.id = body.u8();
                w.serial = body.u64();
                waits.push_back(w);
            }
            if (!body.ok()) {
                fail("truncated WAIT_FOR_CHANNELS");
                return false;
            }
            waits_ = std::move(waits);
            wait_deadline_ = Clock::now() + std::chrono::milliseconds(kWaitForChannelsLimitMs);
            waits_satisfied();
            return !failed();
        }
        case msg::kDisconnecting: {
            body.u64();
            const std::uint32_t reason = body.u32();
            host_.log(name() + ": server is disconnecting (" + (body.ok() ? link_error_name(reason) : "no reason") +
                      ")");
            return true;
        }
        case msg::kNotify: {
            body.u64();
            const std::uint32_t severity = body.u32();
            body.u32();
            body.u32();
            const std::uint32_t len = body.u32();
            const auto text = body.bytes(std::min<std::size_t>(len, body.remaining()));
            static const char* const kSeverity[] = {"info", "warning", "error"};
            host_.log(name() + ": server " + (severity < 3 ? kSeverity[severity] : "notice") + ": " +
                      printable(text));
            return true;
        }
        case msg::kMigrate:
        case msg::kMigrateData:
            report_once("migrate", "migration is not supported; ignoring MIGRATE");
            return true;
        default:
            report_unknown(type);
            return true;
    }
}

}  // namespace qxlbox::client
