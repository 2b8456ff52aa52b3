// The network I/O thread: listener, link stage, main/inputs channels, ACK windows, pings,
// and the display/cursor sockets fed by the worker (spice-server's reds + red-channel-client).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>

#include "server/byte_io.h"
#include "server/server_impl.h"
#include "server/spice_constants.h"

namespace qxlbox::server {
namespace {

using spice::ChannelType;
using spice::LinkError;

enum class LinkState { Header, Mess, AuthMech, Ticket, Data };

struct Conn {
    int fd = -1;
    std::uint64_t id = 0;  // unique per connection; the generation of its ChannelOut
    std::string peer;
    LinkState st = LinkState::Header;
    std::vector<std::uint8_t> in;
    std::size_t need = spice::kLinkHeaderSize;
    std::deque<std::vector<std::uint8_t>> out;
    std::size_t out_off = 0;
    std::size_t out_bytes = 0;
    Clock::time_point created;
    Clock::time_point last_progress;
    bool closing = false;  // flush what is queued, then close
    bool abort = false;    // close with a reset: the kernel's unsent bytes are discarded too
    ChannelType type = ChannelType::Main;
    LinkMess link;
    bool mini = false;
    bool auth_selection = false;
    bool have_header = false;
    std::uint16_t msg_type = 0;
    // ACK window (display and cursor only).
    bool uses_ack = false;
    std::uint32_t ack_generation = 0;
    std::uint32_t client_ack_generation = 0;
    std::uint64_t unacked = 0;
    Clock::time_point ack_blocked_since{};
    std::uint64_t out_serial = 0;
    bool display_inited = false;
    // Pings (main).
    std::uint32_t ping_id = 0;
    bool ping_outstanding = false;
    Clock::time_point ping_sent;
    Clock::time_point last_ping;
    // Inputs.
    unsigned motion_count = 0;
    std::uint16_t leds_sent = 0;
    // Main: agent tokens.
    std::uint32_t client_tokens = 0;   // AGENT_DATA messages we may send to the client
    std::uint32_t agent_consumed = 0;  // client AGENT_DATA messages taken since the last AGENT_TOKEN
    bool agent_started = false;
    std::uint32_t mouse_mode = spice::kMouseModeServer;
};

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

std::uint32_t mm_time_ms() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
    return static_cast<std::uint32_t>(ms) - 400;  // server mm time minus the default latency (§8)
}

const char* channel_name(ChannelType t) {
    switch (t) {
        case ChannelType::Main: return "main";
        case ChannelType::Display: return "display";
        case ChannelType::Inputs: return "inputs";
        case ChannelType::Cursor: return "cursor";
    }
    return "?";
}

class Reds {
public:
    explicit Reds(SpiceServer::Impl& impl) : impl_(impl), rng_(std::random_device{}()) {}
    ~Reds() {
        for (auto& [id, c] : conns_) ::close(c->fd);
    }
    void run();

private:
    SpiceServer::Impl& impl_;
    std::mt19937 rng_;
    std::map<std::uint64_t, std::unique_ptr<Conn>> conns_;
    std::uint64_t next_conn_id_ = 1;
    std::uint32_t session_id_ = 0;
    std::map<ChannelType, std::uint64_t> session_conns_;  // linked channels of the session

    void accept_all();
    void handle_readable(Conn& c);
    void handle_writable(Conn& c);
    void process_input(Conn& c);
    void handle_chunk(Conn& c, std::span<const std::uint8_t> data);
    void link_header(Conn& c, std::span<const std::uint8_t> data);
    void link_mess(Conn& c, std::span<const std::uint8_t> data);
    void link_ticket(Conn& c, std::span<const std::uint8_t> data);
    void link_done(Conn& c);
    void data_message(Conn& c, std::uint16_t type, std::span<const std::uint8_t> body);
    bool common_message(Conn& c, std::uint16_t type, ByteReader& r);
    void main_message(Conn& c, std::uint16_t type, ByteReader& r);
    void display_message(Conn& c, std::uint16_t type, ByteReader& r);
    void inputs_message(Conn& c, std::uint16_t type, ByteReader& r);
    void send_raw(Conn& c, std::vector<std::uint8_t> bytes);
    void send_msg(Conn& c, std::uint16_t type, std::span<const std::uint8_t> body);
    void send_link_error(Conn& c, LinkError e, const std::string& why);
    void send_link_result(Conn& c, LinkError e);
    // Closes `c`; with `flush` what is queued (an error reply, a link result) goes out first.
    void drop(Conn& c, const std::string& why, bool violation, bool flush = true);
    void close_now(std::uint64_t id);
    void end_session(const std::string& why);
    void pump_channel_out(Conn& c, ChannelOut& out);
    void pump_agent(Conn& c);
    void pump_leds(Conn& c);
    void timers(Conn& c);
    Conn* session_conn(ChannelType t) {
        auto it = session_conns_.find(t);
        if (it == session_conns_.end()) return nullptr;
        auto c = conns_.find(it->second);
        return c == conns_.end() ? nullptr : c->second.get();
    }
    std::vector<std::uint64_t> to_close_;
};

void Reds::run() {
    std::vector<pollfd> fds;
    std::vector<std::uint64_t> ids;
    std::vector<std::uint8_t> buf(64 * 1024);
    while (!impl_.stopping.load()) {
        // Move worker output and agent data into the sockets before polling.
        for (auto& [id, c] : conns_) {
            if (c->st != LinkState::Data || c->closing) continue;
            if (c->type == ChannelType::Display) pump_channel_out(*c, impl_.display_out);
            if (c->type == ChannelType::Cursor) {
                if (impl_.cursor_overflow.exchange(false)) {
                    drop(*c, "cursor client does not keep up", false);
                    continue;
                }
                pump_channel_out(*c, impl_.cursor_out);
            }
            if (c->type == ChannelType::Main) pump_agent(*c);
            if (c->type == ChannelType::Inputs) pump_leds(*c);
        }
        for (auto& [id, c] : conns_) timers(*c);
        for (auto id : to_close_) close_now(id);
        to_close_.clear();

        fds.clear();
        ids.clear();
        fds.push_back(pollfd{impl_.listen_fd, POLLIN, 0});
        fds.push_back(pollfd{impl_.wake_fd, POLLIN, 0});
        for (auto& [id, c] : conns_) {
            short ev = c->closing ? 0 : POLLIN;
            if (c->out_bytes > 0) ev |= POLLOUT;
            fds.push_back(pollfd{c->fd, ev, 0});
            ids.push_back(id);
        }
        int n = ::poll(fds.data(), fds.size(), 20);
        if (n < 0) {
            if (errno == EINTR) continue;
            impl_.log("reds: poll failed: " + std::string(std::strerror(errno)));
            break;
        }
        if (fds[1].revents & POLLIN) {
            std::uint64_t v = 0;
            [[maybe_unused]] auto r = ::read(impl_.wake_fd, &v, sizeof v);
        }
        if (fds[0].revents & POLLIN) accept_all();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            auto it = conns_.find(ids[i]);
            if (it == conns_.end()) continue;
            Conn& c = *it->second;
            short re = fds[i + 2].revents;
            if (re & (POLLERR | POLLNVAL)) {
                drop(c, "socket error", false);
                continue;
            }
            if (re & POLLOUT) handle_writable(c);
            if (re & (POLLIN | POLLHUP)) {
                if (std::find(to_close_.begin(), to_close_.end(), c.id) == to_close_.end()) {
                    if (!c.closing) {
                        ssize_t got = ::recv(c.fd, buf.data(), buf.size(), 0);
                        if (got == 0) {
                            drop(c, "peer closed the connection", false);
                        } else if (got < 0) {
                            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                                drop(c, "recv failed: " + std::string(std::strerror(errno)), false);
                        } else {
                            handle_chunk(c, std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(got)));
                        }
                    } else if (re & POLLHUP) {
                        to_close_.push_back(c.id);
                    }
                }
            }
        }
        for (auto id : to_close_) close_now(id);
        to_close_.clear();
    }
}

void Reds::accept_all() {
    for (;;) {
        sockaddr_in addr{};
        socklen_t len = sizeof addr;
        int fd = ::accept4(impl_.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        c->id = next_conn_id_++;
        char ip[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
        c->peer = std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
        c->created = c->last_progress = Clock::now();
        impl_.with_stats([](ServerStats& s) { ++s.connections_accepted; });
        conns_[c->id] = std::move(c);
    }
}

void Reds::handle_chunk(Conn& c, std::span<const std::uint8_t> data) {
    c.in.insert(c.in.end(), data.begin(), data.end());
    std::size_t pos = 0;
    while (!c.closing && c.in.size() - pos >= c.need) {
        std::size_t n = c.need;
        auto piece = std::span<const std::uint8_t>(c.in.data() + pos, n);
        pos += n;
        if (c.st == LinkState::Data) {
            if (!c.have_header) {
                ByteReader r(piece);
                std::uint32_t size = 0;
                if (c.mini) {
                    c.msg_type = r.u16();
                    size = r.u32();
                } else {
                    r.u64();  // the client's serial is not checked (§10c)
                    c.msg_type = r.u16();
                    size = r.u32();
                    r.u32();  // sub_list: clients do not send lists
                }
                std::uint32_t limit = c.type == ChannelType::Main     ? spice::kMaxMainMsgBytes
                                      : c.type == ChannelType::Inputs ? spice::kMaxInputsMsgBytes
                                                                      : spice::kMaxDisplayMsgBytes;
                if (size > limit) {
                    drop(c, "oversize message (type " + std::to_string(c.msg_type) + ", " + std::to_string(size) +
                                " bytes, limit " + std::to_string(limit) + ")",
                         true);
                    break;
                }
                if (size == 0) {
                    data_message(c, c.msg_type, {});
                } else {
                    c.have_header = true;
                    c.need = size;
                }
            } else {
                c.have_header = false;
                c.need = c.mini ? spice::kMiniHeaderSize : spice::kFullHeaderSize;
                data_message(c, c.msg_type, piece);
            }
            continue;
        }
        switch (c.st) {
            case LinkState::Header: link_header(c, piece); break;
            case LinkState::Mess: link_mess(c, piece); break;
            case LinkState::AuthMech: {
                ByteReader r(piece);
                std::uint32_t mech = r.u32();
                if (mech != spice::kAuthMechanismSpice) {
                    send_link_result(c, LinkError::InvalidData);
                    drop(c, "unsupported auth mechanism " + std::to_string(mech), true);
                } else {
                    c.st = LinkState::Ticket;
                    c.need = spice::kTicketSize;
                }
                break;
            }
            case LinkState::Ticket: link_ticket(c, piece); break;
            case LinkState::Data: break;
        }
    }
    if (c.closing) {
        c.in.clear();
    } else {
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(pos));
    }
}

void Reds::link_header(Conn& c, std::span<const std::uint8_t> data) {
    auto h = parse_link_header(std::span<const std::uint8_t, spice::kLinkHeaderSize>(data.data(), data.size()));
    if (h.magic != spice::kLinkMagic) {
        send_link_error(c, LinkError::InvalidMagic, "bad link magic");
        return;
    }
    if (h.major_version != spice::kVersionMajor) {
        send_link_error(c, LinkError::VersionMismatch,
                        "protocol major version " + std::to_string(h.major_version) + " unsupported");
        return;
    }
    constexpr std::uint32_t kMaxLinkMess = spice::kLinkMessSize + 4 * 2 * 1024;
    if (h.size < spice::kLinkMessSize || h.size > kMaxLinkMess) {
        send_link_error(c, LinkError::InvalidData, "link message size " + std::to_string(h.size) + " invalid");
        return;
    }
    c.st = LinkState::Mess;
    c.need = h.size;
}

void Reds::link_mess(Conn& c, std::span<const std::uint8_t> data) {
    auto m = parse_link_mess(data);
    if (!m) {
        send_link_error(c, LinkError::InvalidData, "malformed link message");
        return;
    }
    auto t = m->channel_type;
    bool known = t == static_cast<std::uint8_t>(ChannelType::Main) || t == static_cast<std::uint8_t>(ChannelType::Display) ||
                 t == static_cast<std::uint8_t>(ChannelType::Inputs) || t == static_cast<std::uint8_t>(ChannelType::Cursor);
    if (!known || m->channel_id != 0) {
        // spice-server closes without a reply for channels it does not have (§10c).
        drop(c, "link to unavailable channel " + std::to_string(t) + ":" + std::to_string(m->channel_id), true);
        return;
    }
    c.type = static_cast<ChannelType>(t);
    c.link = std::move(*m);
    std::vector<std::uint32_t> common, chan;
    set_cap(common, spice::kCapAuthSelection);
    set_cap(common, spice::kCapAuthSpice);
    set_cap(common, spice::kCapMiniHeader);
    switch (c.type) {
        case ChannelType::Main:
            set_cap(chan, spice::kMainCapNameAndUuid);
            set_cap(chan, spice::kMainCapAgentConnectedTokens);
            break;
        case ChannelType::Display: set_cap(chan, spice::kDisplayCapMonitorsConfig); break;
        case ChannelType::Inputs: set_cap(chan, spice::kInputsCapKeyScancode); break;
        case ChannelType::Cursor: break;
    }
    send_raw(c, build_link_reply(LinkError::Ok, impl_.key->public_der(), common, chan));
    c.mini = has_cap(c.link.common_caps, spice::kCapMiniHeader);
    c.auth_selection = has_cap(c.link.common_caps, spice::kCapAuthSelection);
    c.st = c.auth_selection ? LinkState::AuthMech : LinkState::Ticket;
    c.need = c.auth_selection ? 4 : spice::kTicketSize;
}

void Reds::link_ticket(Conn& c, std::span<const std::uint8_t> data) {
    auto plain = impl_.key->decrypt(data);
    if (!plain) {
        send_link_result(c, LinkError::PermissionDenied);
        drop(c, "ticket does not decrypt", true);
        return;
    }
    if (impl_.cfg.password && (impl_.cfg.password->empty() || *plain != *impl_.cfg.password)) {
        send_link_result(c, LinkError::PermissionDenied);
        drop(c, "wrong password", true);
        return;
    }
    if (c.type != ChannelType::Main && (session_id_ == 0 || c.link.connection_id != session_id_)) {
        send_link_result(c, LinkError::BadConnectionId);
        drop(c, std::string(channel_name(c.type)) + " link with unknown connection id", true);
        return;
    }
    link_done(c);
}

void Reds::link_done(Conn& c) {
    if (c.type == ChannelType::Main) {
        if (session_id_ != 0) end_session("replaced by a new client from " + c.peer);
        do {
            session_id_ = static_cast<std::uint32_t>(rng_());
        } while (session_id_ == 0);
        impl_.with_stats([](ServerStats& s) { ++s.sessions; });
    } else if (auto* old = session_conn(c.type)) {
        drop(*old, std::string("replaced by a new ") + channel_name(c.type) + " link", false);
        for (auto id : to_close_) close_now(id);
        to_close_.clear();
    }
    send_link_result(c, LinkError::Ok);
    c.st = LinkState::Data;
    c.need = c.mini ? spice::kMiniHeaderSize : spice::kFullHeaderSize;
    c.created = Clock::now();
    session_conns_[c.type] = c.id;
    impl_.log(std::string("reds: ") + channel_name(c.type) + " channel linked from " + c.peer);

    switch (c.type) {
        case ChannelType::Main: {
            bool agent = false;
            {
                std::lock_guard lock(impl_.agent_m);
                agent = impl_.agent_attached;
                impl_.agent_state_changed = false;
            }
            std::uint64_t ram = 0;
            {
                std::lock_guard lock(impl_.device_m);
                ram = impl_.device_info.ram_size_bytes;
            }
            ByteWriter w;
            w.u32(session_id_);
            w.u32(1);  // display_channels_hint
            w.u32(spice::kMouseModeServer | (agent ? spice::kMouseModeClient : 0));
            w.u32(spice::kMouseModeServer);
            w.u32(agent ? 1 : 0);
            w.u32(spice::kAgentClientTokens);
            w.u32(mm_time_ms());
            w.u32(static_cast<std::uint32_t>(std::min<std::uint64_t>(ram, 0xffffffffu)));
            send_msg(c, spice::main_msg::kInit, w.data());
            if (has_cap(c.link.channel_caps, spice::kMainCapNameAndUuid)) {
                ByteWriter nw;
                nw.u32(static_cast<std::uint32_t>(impl_.cfg.name.size() + 1));
                nw.bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(impl_.cfg.name.data()),
                                                       impl_.cfg.name.size()));
                nw.u8(0);
                send_msg(c, spice::main_msg::kName, nw.data());
                send_msg(c, spice::main_msg::kUuid, impl_.cfg.uuid);
            }
            c.last_ping = Clock::now() - impl_.cfg.ping_interval;  // first ping right away
            break;
        }
        case ChannelType::Display: {
            {
                std::lock_guard lock(impl_.display_out.m);
                impl_.display_out.q.clear();
                impl_.display_out.generation = c.id;
            }
            c.uses_ack = true;
            ByteWriter w;
            w.u32(++c.ack_generation);
            w.u32(impl_.cfg.ack_window);
            send_msg(c, spice::msg::kSetAck, w.data());
            break;
        }
        case ChannelType::Cursor: {
            {
                std::lock_guard lock(impl_.cursor_out.m);
                impl_.cursor_out.q.clear();
                impl_.cursor_out.generation = c.id;
            }
            impl_.cursor_overflow.store(false);
            c.uses_ack = true;
            ByteWriter w;
            w.u32(++c.ack_generation);
            w.u32(impl_.cfg.ack_window);
            send_msg(c, spice::msg::kSetAck, w.data());
            impl_.dispatcher.post_control(CursorClientInit{c.id});
            break;
        }
        case ChannelType::Inputs: {
            ByteWriter w;
            auto* sink = impl_.input_sink.load();
            c.leds_sent = sink ? sink->keyboard_leds() : 0;
            w.u16(c.leds_sent);
            send_msg(c, spice::inputs_msg::kInit, w.data());
            break;
        }
    }
}

void Reds::data_message(Conn& c, std::uint16_t type, std::span<const std::uint8_t> body) {
    ByteReader r(body);
    if (type < 101) {
        if (!common_message(c, type, r)) return;
    } else {
        switch (c.type) {
            case ChannelType::Main: main_message(c, type, r); break;
            case ChannelType::Display: display_message(c, type, r); break;
            case ChannelType::Inputs: inputs_message(c, type, r); break;
            case ChannelType::Cursor:
                drop(c, "unknown cursor message type " + std::to_string(type), true);
                return;
        }
    }
    if (!r.ok() && !c.closing) drop(c, "truncated message type " + std::to_string(type), true);
}

bool Reds::common_message(Conn& c, std::uint16_t type, ByteReader& r) {
    switch (type) {
        case spice::msgc::kAckSync: c.client_ack_generation = r.u32(); return true;
        case spice::msgc::kAck:
            if (c.uses_ack && c.client_ack_generation == c.ack_generation) {
                c.unacked = c.unacked > impl_.cfg.ack_window ? c.unacked - impl_.cfg.ack_window : 0;
                c.ack_blocked_since = Clock::time_point{};
            }
            return true;
        case spice::msgc::kPong: {
            std::uint32_t id = r.u32();
            r.u64();
            if (r.ok() && c.ping_outstanding && id == c.ping_id) c.ping_outstanding = false;
            impl_.with_stats([](ServerStats& s) { ++s.pongs; });
            return true;
        }
        case spice::msgc::kMigrateFlushMark: return true;
        case spice::msgc::kDisconnecting: {
            r.u64();
            std::uint32_t reason = r.u32();
            drop(c, "client disconnecting (reason " + std::to_string(reason) + ")", false);
            return false;
        }
        default: drop(c, "unknown common message type " + std::to_string(type), true); return false;
    }
}

void Reds::main_message(Conn& c, std::uint16_t type, ByteReader& r) {
    namespace mc = spice::main_msgc;
    switch (type) {
        case mc::kAttachChannels: {
            ByteWriter w;
            w.u32(3);
            for (auto t : {ChannelType::Display, ChannelType::Cursor, ChannelType::Inputs}) {
                w.u8(static_cast<std::uint8_t>(t));
                w.u8(0);
            }
            send_msg(c, spice::main_msg::kChannelsList, w.data());
            break;
        }
        case mc::kMouseModeRequest: {
            std::uint16_t mode = r.u16();
            if (!r.ok()) return;
            bool agent = false;
            {
                std::lock_guard lock(impl_.agent_m);
                agent = impl_.agent_attached;
            }
            std::uint32_t supported = spice::kMouseModeServer | (agent ? spice::kMouseModeClient : 0);
            if ((mode & supported) && (mode == spice::kMouseModeServer || mode == spice::kMouseModeClient)) {
                c.mouse_mode = mode;
            } else {
                impl_.log("reds: mouse mode " + std::to_string(mode) + " not available");
            }
            ByteWriter w;
            w.u16(static_cast<std::uint16_t>(supported));
            w.u16(static_cast<std::uint16_t>(c.mouse_mode));
            send_msg(c, spice::main_msg::kMouseMode, w.data());
            break;
        }
        case mc::kAgentStart:
            c.client_tokens = r.u32();
            c.agent_started = true;
            break;
        case mc::kAgentToken: {
            std::uint32_t t = r.u32();
            c.client_tokens = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{c.client_tokens} + t,
                                                                                  0xffffffffu));
            break;
        }
        case mc::kAgentData: {
            auto bytes = r.rest();
            if (bytes.size() > spice::kAgentMaxDataSize) {
                drop(c, "agent data chunk of " + std::to_string(bytes.size()) + " bytes", true);
                return;
            }
            std::lock_guard lock(impl_.agent_m);
            if (!impl_.agent_attached) {
                impl_.log("reds: client agent data without a guest agent dropped");
            } else {
                ByteWriter w;
                w.u32(proto::VDP_CLIENT_PORT);
                w.u32(static_cast<std::uint32_t>(bytes.size()));
                w.bytes(bytes);
                auto& out = impl_.agent_to_guest;
                out.insert(out.end(), w.data().begin(), w.data().end());
                impl_.agent_flush_to_guest_locked();
            }
            ++c.agent_consumed;  // the token goes back once the device has taken the data
            break;
        }
        case mc::kMigrateConnected:
        case mc::kMigrateConnectError: break;
        default: drop(c, "unhandled main message type " + std::to_string(type), true); break;
    }
}

void Reds::display_message(Conn& c, std::uint16_t type, ByteReader& r) {
    namespace dc = spice::display_msgc;
    switch (type) {
        case dc::kInit: {
            r.u8();
            std::int64_t cache_pixels = r.i64();
            r.u8();
            r.i32();
            if (!r.ok()) return;
            if (c.display_inited) return;
            c.display_inited = true;
            if (cache_pixels < 0) cache_pixels = 0;
            impl_.dispatcher.post_control(
                DisplayClientInit{c.id, cache_pixels, has_cap(c.link.channel_caps, spice::kDisplayCapMonitorsConfig)});
            break;
        }
        case dc::kStreamReport:
        case dc::kPreferredCompression:
        case dc::kPreferredVideoCodecType: r.rest(); break;
        default: drop(c, "unhandled display message type " + std::to_string(type), true); break;
    }
}

void Reds::inputs_message(Conn& c, std::uint16_t type, ByteReader& r) {
    namespace ic = spice::inputs_msgc;
    auto* sink = impl_.input_sink.load();
    switch (type) {
        case ic::kKeyDown:
        case ic::kKeyUp: {
            std::uint32_t code = r.u32();
            if (!r.ok()) return;
            std::uint8_t bytes[4];
            std::size_t n = 0;
            for (int i = 0; i < 4; ++i) {
                auto b = static_cast<std::uint8_t>(code >> (8 * i));
                if (b == 0) break;
                bytes[n++] = b;
            }
            if (sink && n > 0) sink->key_scancodes(std::span<const std::uint8_t>(bytes, n));
            break;
        }
        case ic::kKeyScancode: {
            auto bytes = r.rest();
            if (sink && !bytes.empty()) sink->key_scancodes(bytes);
            break;
        }
        case ic::kKeyModifiers: {
            std::uint16_t m = r.u16();
            if (r.ok() && sink) sink->key_modifiers(m);
            break;
        }
        case ic::kMouseMotion:
        case ic::kMousePosition: {
            if (type == ic::kMouseMotion) {
                std::int32_t dx = r.i32(), dy = r.i32();
                std::uint16_t buttons = r.u16();
                if (!r.ok()) return;
                if (sink) sink->mouse_motion(dx, dy, buttons);
            } else {
                std::uint32_t x = r.u32(), y = r.u32();
                std::uint16_t buttons = r.u16();
                std::uint8_t display = r.u8();
                if (!r.ok()) return;
                if (sink) sink->mouse_position(x, y, buttons, display);
            }
            if (++c.motion_count % spice::kMotionAckBunch == 0) {
                send_msg(c, spice::inputs_msg::kMouseMotionAck, {});
                impl_.with_stats([](ServerStats& s) { ++s.motion_acks; });
            }
            break;
        }
        case ic::kMousePress:
        case ic::kMouseRelease: {
            std::uint8_t button = r.u8();
            std::uint16_t buttons = r.u16();
            if (r.ok() && sink) sink->mouse_button(button, type == ic::kMousePress, buttons);
            break;
        }
        default: drop(c, "unhandled inputs message type " + std::to_string(type), true); break;
    }
}

void Reds::send_raw(Conn& c, std::vector<std::uint8_t> bytes) {
    if (bytes.empty()) return;
    if (c.out_bytes == 0) c.last_progress = Clock::now();
    c.out_bytes += bytes.size();
    c.out.push_back(std::move(bytes));
    handle_writable(c);
}

void Reds::send_msg(Conn& c, std::uint16_t type, std::span<const std::uint8_t> body) {
    ByteWriter w;
    if (c.mini) {
        w.u16(type);
        w.u32(static_cast<std::uint32_t>(body.size()));
    } else {
        w.u64(++c.out_serial);
        w.u16(type);
        w.u32(static_cast<std::uint32_t>(body.size()));
        w.u32(0);
    }
    w.bytes(body);
    if (c.uses_ack) ++c.unacked;
    send_raw(c, w.take());
}

void Reds::send_link_error(Conn& c, LinkError e, const std::string& why) {
    send_raw(c, build_link_reply(e, {}, {}, {}));
    drop(c, why, true);
}

void Reds::send_link_result(Conn& c, LinkError e) {
    ByteWriter w;
    w.u32(static_cast<std::uint32_t>(e));
    send_raw(c, w.take());
}

void Reds::drop(Conn& c, const std::string& why, bool violation, bool flush) {
    if (c.closing) return;
    if (!flush) {
        c.abort = true;
        c.out.clear();
        c.out_off = 0;
        c.out_bytes = 0;
    }
    impl_.log(std::string("reds: ") + (c.st == LinkState::Data ? channel_name(c.type) : "link") + " connection from " +
              c.peer + " closed: " + why);
    if (violation) impl_.with_stats([](ServerStats& s) { ++s.connections_rejected; });
    c.closing = true;
    // Whatever is queued (an error reply, a link result) still goes out; close_now follows
    // once it is written, or at once if nothing is queued.
    handle_writable(c);
    if (c.out_bytes == 0) to_close_.push_back(c.id);
    if (c.st == LinkState::Data) {
        auto it = session_conns_.find(c.type);
        if (it != session_conns_.end() && it->second == c.id) {
            session_conns_.erase(it);
            if (c.type == ChannelType::Display || c.type == ChannelType::Cursor) {
                auto& out = c.type == ChannelType::Display ? impl_.display_out : impl_.cursor_out;
                {
                    std::lock_guard lock(out.m);
                    if (out.generation == c.id) {
                        out.generation = 0;
                        out.q.clear();
                    }
                }
                impl_.dispatcher.post_control(ClientGone{c.type == ChannelType::Display, c.id});
            }
            if (c.type == ChannelType::Main) end_session("main channel closed");
        }
    }
}

void Reds::end_session(const std::string& why) {
    if (session_id_ == 0) return;
    session_id_ = 0;
    auto conns = session_conns_;
    for (auto& [type, id] : conns) {
        auto it = conns_.find(id);
        if (it == conns_.end()) continue;
        Conn& c = *it->second;
        if (c.type == ChannelType::Main && !c.closing) {
            std::string text = "session ended: " + why;
            ByteWriter w;
            w.u64(now_ns());
            w.u32(1);  // WARN
            w.u32(2);  // HIGH visibility
            w.u32(0);
            w.u32(static_cast<std::uint32_t>(text.size()));
            w.bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
            w.u8(0);
            send_msg(c, spice::msg::kNotify, w.data());
            ByteWriter d;
            d.u64(now_ns());
            d.u32(0);
            send_msg(c, spice::msg::kDisconnecting, d.data());
        }
        drop(c, why, false);
    }
    session_conns_.clear();
}

void Reds::close_now(std::uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    if (it->second->abort) {
        linger lg{1, 0};
        ::setsockopt(it->second->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ::close(it->second->fd);
    conns_.erase(it);
}

void Reds::handle_writable(Conn& c) {
    while (!c.out.empty()) {
        auto& front = c.out.front();
        ssize_t n = ::send(c.fd, front.data() + c.out_off, front.size() - c.out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            c.out.clear();
            c.out_bytes = 0;
            if (!c.closing) {
                drop(c, "send failed: " + std::string(std::strerror(errno)), false);
            } else {
                to_close_.push_back(c.id);
            }
            return;
        }
        c.last_progress = Clock::now();
        c.out_off += static_cast<std::size_t>(n);
        c.out_bytes -= static_cast<std::size_t>(n);
        if (c.out_off == front.size()) {
            c.out.pop_front();
            c.out_off = 0;
        }
    }
    if (c.closing && std::find(to_close_.begin(), to_close_.end(), c.id) == to_close_.end()) to_close_.push_back(c.id);
}

void Reds::pump_channel_out(Conn& c, ChannelOut& out) {
    for (;;) {
        if (c.uses_ack && c.unacked > 2 * std::uint64_t{impl_.cfg.ack_window}) {
            if (c.ack_blocked_since == Clock::time_point{}) c.ack_blocked_since = Clock::now();
            return;
        }
        // Keep the socket buffer the only big backlog: the worker's pipe stays droppable.
        if (c.out_bytes > (4u << 20)) return;
        OutMessage msg;
        {
            std::lock_guard lock(out.m);
            if (out.generation != c.id || out.q.empty()) return;
            msg = std::move(out.q.front());
            out.q.pop_front();
        }
        send_msg(c, msg.type, msg.body);
    }
}

void Reds::pump_agent(Conn& c) {
    bool changed = false, attached = false, guest_drained = false;
    proto::AgentPort* read_ready = nullptr;
    std::vector<std::vector<std::uint8_t>> chunks;
    {
        std::lock_guard lock(impl_.agent_m);
        impl_.agent_flush_to_guest_locked();
        guest_drained = impl_.agent_to_guest.empty();
        changed = impl_.agent_state_changed;
        impl_.agent_state_changed = false;
        attached = impl_.agent_attached;
        while (c.agent_started && c.client_tokens > 0 && !impl_.agent_to_client.empty()) {
            impl_.agent_to_client_bytes -= impl_.agent_to_client.front().size();
            chunks.push_back(std::move(impl_.agent_to_client.front()));
            impl_.agent_to_client.pop_front();
            --c.client_tokens;
        }
        if (impl_.agent_read_blocked && impl_.agent_to_client_bytes < SpiceServer::Impl::kAgentBacklogBytes / 2) {
            impl_.agent_read_blocked = false;
            read_ready = impl_.agent_port;
        }
    }
    if (read_ready) read_ready->read_ready();
    // Client tokens come back in bunches once the device has taken their data, so a client
    // can never have more than its window of agent data waiting here.
    if (guest_drained && c.agent_consumed >= spice::kAgentTokensToSend) {
        ByteWriter w;
        w.u32(c.agent_consumed);
        c.agent_consumed = 0;
        send_msg(c, spice::main_msg::kAgentToken, w.data());
    }
    if (changed) {
        if (attached) {
            if (has_cap(c.link.channel_caps, spice::kMainCapAgentConnectedTokens)) {
                ByteWriter w;
                w.u32(spice::kAgentClientTokens);
                send_msg(c, spice::main_msg::kAgentConnectedTokens, w.data());
            } else {
                send_msg(c, spice::main_msg::kAgentConnected, {});
            }
        } else {
            ByteWriter w;
            w.u32(0);
            send_msg(c, spice::main_msg::kAgentDisconnected, w.data());
        }
        ByteWriter m;
        m.u16(static_cast<std::uint16_t>(spice::kMouseModeServer | (attached ? spice::kMouseModeClient : 0)));
        if (!attached) c.mouse_mode = spice::kMouseModeServer;
        m.u16(static_cast<std::uint16_t>(c.mouse_mode));
        send_msg(c, spice::main_msg::kMouseMode, m.data());
    }
    for (auto& ch : chunks) send_msg(c, spice::main_msg::kAgentData, ch);
}

// The guest's lock LEDs follow the client: a change is announced with KEY_MODIFIERS (§7).
void Reds::pump_leds(Conn& c) {
    auto* sink = impl_.input_sink.load();
    if (!sink) return;
    std::uint16_t leds = sink->keyboard_leds();
    if (leds == c.leds_sent) return;
    c.leds_sent = leds;
    ByteWriter w;
    w.u16(leds);
    send_msg(c, spice::inputs_msg::kKeyModifiers, w.data());
}

void Reds::timers(Conn& c) {
    if (c.closing) {
        // A peer that does not take even the final bytes is cut off.
        if (Clock::now() - c.last_progress > impl_.cfg.stall_timeout) to_close_.push_back(c.id);
        return;
    }
    auto now = Clock::now();
    if (c.st != LinkState::Data) {
        if (now - c.created > impl_.cfg.link_timeout) drop(c, "link not completed in time", true);
        return;
    }
    if (c.out_bytes > impl_.cfg.max_out_bytes) {
        drop(c, "output backlog over " + std::to_string(impl_.cfg.max_out_bytes) + " bytes", true, false);
        return;
    }
    if (c.out_bytes > 0 && now - c.last_progress > impl_.cfg.stall_timeout) {
        drop(c, "client does not read (no progress for " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(impl_.cfg.stall_timeout).count()) +
                    " ms)",
             true, false);
        return;
    }
    if (c.ack_blocked_since != Clock::time_point{} && now - c.ack_blocked_since > impl_.cfg.stall_timeout) {
        drop(c, "client does not acknowledge messages", true, false);
        return;
    }
    if (c.type == ChannelType::Display && !c.display_inited && now - c.created > impl_.cfg.display_init_timeout) {
        drop(c, "no DISPLAY_INIT in time", true);
        return;
    }
    if (c.type == ChannelType::Main) {
        if (c.ping_outstanding && now - c.ping_sent > impl_.cfg.stall_timeout + impl_.cfg.ping_interval) {
            drop(c, "no PONG", true, false);
            return;
        }
        if (!c.ping_outstanding && now - c.last_ping >= impl_.cfg.ping_interval) {
            ByteWriter w;
            w.u32(++c.ping_id);
            w.u64(now_ns());
            send_msg(c, spice::msg::kPing, w.data());
            c.ping_outstanding = true;
            c.ping_sent = c.last_ping = now;
        }
    }
}

}  // namespace

void SpiceServer::Impl::io_main() {
    Reds reds(*this);
    reds.run();
}

}  // namespace qxlbox::server
