// The network I/O thread: listener, link stage, main/inputs channels, ACK windows, pings,
// and the display/cursor sockets fed by the worker (spice-server's reds + red-channel-client).
//
// Every byte layout comes from protocol/wire: the link stage is its sans-IO LinkServer, data
// messages are framed by its MessageFramer, demarshalled through the per-channel
// MessageSets and marshalled from the message definitions in messages.h. This file only
// moves bytes and decides what to do with each message.
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

#include "protocol/wire/header.h"
#include "protocol/wire/link.h"
#include "protocol/wire/messages.h"
#include "server/server_impl.h"

namespace qxlbox::server {
namespace {

namespace wire = proto::wire;
using wire::ChannelType;
using wire::LinkError;

// Agent flow control towards the client (spice-server's values): the tokens MAIN_INIT grants,
// and how many consumed client messages are returned in one AGENT_TOKEN.
constexpr std::uint32_t kAgentClientTokens = 10;
constexpr std::uint32_t kAgentTokensToSend = 5;

struct Conn {
    int fd = -1;
    std::uint64_t id = 0;  // unique per connection; the generation of its ChannelOut
    std::string peer;
    std::unique_ptr<wire::LinkServer> link;   // the link stage; null once linked
    std::optional<wire::MessageFramer> framer;  // data messages, once linked
    bool linked = false;
    std::deque<std::vector<std::uint8_t>> out;
    std::size_t out_off = 0;
    std::size_t out_bytes = 0;
    Clock::time_point created;
    Clock::time_point last_progress;
    bool closing = false;  // flush what is queued, then close
    bool abort = false;    // close with a reset: the kernel's unsent bytes are discarded too
    ChannelType type = ChannelType::Main;
    std::uint32_t connection_id = 0;
    wire::CapabilitySet channel_caps;  // what the client advertised for this channel
    bool mini = false;
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
    std::uint32_t mouse_mode = wire::kMouseModeServer;
};

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

std::uint32_t mm_time_ms() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
    return static_cast<std::uint32_t>(ms) - 400;  // server mm time minus the default latency (§8)
}

const char* channel_name(ChannelType t) { return wire::channel_type_name(t); }

std::uint32_t supported_mouse_modes(bool agent) {
    return wire::kMouseModeServer | (agent ? wire::kMouseModeClient : 0);
}

bool served_channel(ChannelType t, std::uint8_t id) {
    return id == 0 && (t == ChannelType::Main || t == ChannelType::Display || t == ChannelType::Inputs ||
                       t == ChannelType::Cursor);
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
    void handle_writable(Conn& c);
    void handle_chunk(Conn& c, wire::ByteView data);
    void link_step(Conn& c, wire::ByteView data);
    void link_decide(Conn& c);
    void link_done(Conn& c);
    void data_message(Conn& c, const wire::Frame& f);
    template <class Set>
    void dispatch(Conn& c, const wire::Frame& f);

    // Base messages, every channel.
    void on(Conn& c, const wire::MsgcAckSync& m);
    void on(Conn& c, const wire::MsgcAck& m);
    void on(Conn& c, const wire::MsgcPong& m);
    void on(Conn& c, const wire::MsgcMigrateFlushMark& m);
    void on(Conn& c, const wire::MsgcDisconnecting& m);
    // Main.
    void on(Conn& c, const wire::MsgcMainAttachChannels& m);
    void on(Conn& c, const wire::MsgcMainMouseModeRequest& m);
    void on(Conn& c, const wire::MsgcMainAgentStart& m);
    void on(Conn& c, const wire::MsgcMainAgentToken& m);
    void on(Conn& c, const wire::MsgcMainAgentData& m);
    void on(Conn& c, const wire::MsgcMainMigrateConnected& m);
    void on(Conn& c, const wire::MsgcMainMigrateConnectError& m);
    // Display.
    void on(Conn& c, const wire::MsgcDisplayInit& m);
    void on(Conn& c, const wire::MsgcDisplayStreamReport& m);
    void on(Conn& c, const wire::MsgcDisplayPreferredCompression& m);
    void on(Conn& c, const wire::MsgcDisplayPreferredVideoCodecType& m);
    // Inputs.
    void on(Conn& c, const wire::MsgcInputsKeyDown& m);
    void on(Conn& c, const wire::MsgcInputsKeyUp& m);
    void on(Conn& c, const wire::MsgcInputsKeyScancode& m);
    void on(Conn& c, const wire::MsgcInputsKeyModifiers& m);
    void on(Conn& c, const wire::MsgcInputsMouseMotion& m);
    void on(Conn& c, const wire::MsgcInputsMousePosition& m);
    void on(Conn& c, const wire::MsgcInputsMousePress& m);
    void on(Conn& c, const wire::MsgcInputsMouseRelease& m);
    // Defined by the protocol but not served (migration, GL, CLIENT_INFO...): spice-server
    // disconnects on them, and so do we.
    template <class M>
    void on(Conn& c, const M&) {
        drop(c, std::string("unhandled ") + channel_name(c.type) + " message type " + std::to_string(M::kType) + " (" +
                    std::string(M::kName) + ")",
             true);
    }
    void key_code(std::uint32_t code);
    void motion_ack(Conn& c);

    void send_raw(Conn& c, std::vector<std::uint8_t> bytes);
    void send_msg(Conn& c, std::uint16_t type, wire::ByteView body);
    template <wire::MessageDef M>
    void send(Conn& c, const M& msg) {
        auto body = wire::marshal(msg);
        if (!body) {
            impl_.log("reds: cannot marshal " + std::string(M::kName) + ": " + body.error().to_string());
            return;
        }
        send_msg(c, M::kType, *body);
    }
    void send_notify(Conn& c, const std::string& text);
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
            if (!c->linked || c->closing) continue;
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
                            handle_chunk(c, wire::ByteView(buf.data(), static_cast<std::size_t>(got)));
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
        wire::LinkServerConfig link;
        link.ticketing_enabled = impl_.cfg.password.has_value();
        link.password = impl_.cfg.password.value_or("");
        link.channel_caps = [](ChannelType t, std::uint8_t id) -> std::optional<wire::CapabilitySet> {
            if (!served_channel(t, id)) return std::nullopt;
            return wire::default_server_channel_caps(t);
        };
        link.key = impl_.key;
        link.silent_on_unavailable_channel = true;
        c->link = std::make_unique<wire::LinkServer>(std::move(link));
        impl_.with_stats([](ServerStats& s) { ++s.connections_accepted; });
        conns_[c->id] = std::move(c);
    }
}

void Reds::handle_chunk(Conn& c, wire::ByteView data) {
    if (!c.linked) {
        // Once linked, the framer already holds whatever the client pipelined behind its ticket.
        link_step(c, data);
        if (!c.linked || c.closing) return;
    } else {
        c.framer->feed(data);
    }
    while (!c.closing) {
        auto next = c.framer->next();
        if (!next) break;
        if (!*next) {
            const auto& e = next->error();
            drop(c, (e.code == wire::ErrorCode::TooLarge ? "oversize message (" : "bad message header (") + e.what + ")",
                 true);
            break;
        }
        data_message(c, next->value());
    }
}

void Reds::link_step(Conn& c, wire::ByteView data) {
    c.link->feed(data);
    send_raw(c, c.link->take_output());
    switch (c.link->state()) {
        case wire::LinkServer::State::Failed: {
            const std::string reason = c.link->failure_reason();
            if (c.link->failure() == LinkError::ChannelNotAvailable) {
                drop(c, "link to unavailable channel (" + reason + ")", true);
            } else {
                drop(c, std::string("link refused (") + wire::link_error_name(c.link->failure()) + "): " + reason, true);
            }
            return;
        }
        case wire::LinkServer::State::AwaitingDecision: link_decide(c); return;
        default: return;
    }
}

void Reds::link_decide(Conn& c) {
    const auto& peer = c.link->peer();
    c.type = peer.channel_type;
    c.connection_id = peer.connection_id;
    c.channel_caps = peer.channel_caps;
    c.mini = c.link->mini_header();
    if (c.type != ChannelType::Main && (session_id_ == 0 || c.connection_id != session_id_)) {
        c.link->reject(LinkError::BadConnectionId);
        send_raw(c, c.link->take_output());
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
    c.link->accept();
    send_raw(c, c.link->take_output());
    c.framer.emplace(c.mini, wire::max_client_message_bytes(c.type));
    c.framer->feed(c.link->take_leftover());
    c.link.reset();
    c.linked = true;
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
            wire::MsgMainInit init;
            init.session_id = session_id_;
            init.display_channels_hint = 1;
            init.supported_mouse_modes = supported_mouse_modes(agent);
            init.current_mouse_mode = wire::kMouseModeServer;
            init.agent_connected = agent ? 1 : 0;
            init.agent_tokens = kAgentClientTokens;
            init.multi_media_time = mm_time_ms();
            init.ram_hint = static_cast<std::uint32_t>(std::min<std::uint64_t>(ram, 0xffffffffu));
            send(c, init);
            if (c.channel_caps.has(wire::main_cap::kNameAndUuid)) {
                wire::MsgMainName name;
                name.name.assign(impl_.cfg.name.begin(), impl_.cfg.name.end());
                name.name.push_back(0);  // the length counts the terminating NUL
                send(c, name);
                send(c, wire::MsgMainUuid{impl_.cfg.uuid});
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
            send(c, wire::MsgSetAck{++c.ack_generation, impl_.cfg.ack_window});
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
            send(c, wire::MsgSetAck{++c.ack_generation, impl_.cfg.ack_window});
            impl_.dispatcher.post_control(CursorClientInit{c.id});
            break;
        }
        case ChannelType::Inputs: {
            auto* sink = impl_.input_sink.load();
            c.leds_sent = sink ? sink->keyboard_leds() : 0;
            send(c, wire::MsgInputsInit{c.leds_sent});
            break;
        }
        default: break;  // served_channel() admits no other type
    }
}

void Reds::data_message(Conn& c, const wire::Frame& f) {
    switch (c.type) {
        case ChannelType::Main: dispatch<wire::MainClientMessages>(c, f); break;
        case ChannelType::Display: dispatch<wire::DisplayClientMessages>(c, f); break;
        case ChannelType::Inputs: dispatch<wire::InputsClientMessages>(c, f); break;
        case ChannelType::Cursor: dispatch<wire::CursorClientMessages>(c, f); break;
        default: drop(c, "message on an unserved channel", true); break;
    }
}

template <class Set>
void Reds::dispatch(Conn& c, const wire::Frame& f) {
    if (!Set::knows(f.type)) {
        drop(c, std::string("unhandled ") + channel_name(c.type) + " message type " + std::to_string(f.type), true);
        return;
    }
    auto msg = Set::demarshal(f.type, f.body);
    if (!msg) {
        const auto& e = msg.error();
        drop(c,
             std::string(e.code == wire::ErrorCode::Truncated ? "truncated" : "malformed") + " message type " +
                 std::to_string(f.type) + " (" + e.to_string() + ")",
             true);
        return;
    }
    std::visit([&](const auto& m) { on(c, m); }, *msg);
}

void Reds::on(Conn& c, const wire::MsgcAckSync& m) { c.client_ack_generation = m.generation; }

void Reds::on(Conn& c, const wire::MsgcAck&) {
    if (c.uses_ack && c.client_ack_generation == c.ack_generation) {
        c.unacked = c.unacked > impl_.cfg.ack_window ? c.unacked - impl_.cfg.ack_window : 0;
        c.ack_blocked_since = Clock::time_point{};
    }
}

void Reds::on(Conn& c, const wire::MsgcPong& m) {
    if (c.ping_outstanding && m.id == c.ping_id) c.ping_outstanding = false;
    impl_.with_stats([](ServerStats& s) { ++s.pongs; });
}

void Reds::on(Conn&, const wire::MsgcMigrateFlushMark&) {}

void Reds::on(Conn& c, const wire::MsgcDisconnecting& m) {
    drop(c, "client disconnecting (reason " + std::to_string(m.reason) + ")", false);
}

void Reds::on(Conn& c, const wire::MsgcMainAttachChannels&) {
    wire::MsgMainChannelsList list;
    for (auto t : {ChannelType::Display, ChannelType::Cursor, ChannelType::Inputs})
        list.channels.push_back(wire::ChannelId{static_cast<std::uint8_t>(t), 0});
    send(c, list);
}

void Reds::on(Conn& c, const wire::MsgcMainMouseModeRequest& m) {
    bool agent = false;
    {
        std::lock_guard lock(impl_.agent_m);
        agent = impl_.agent_attached;
    }
    const std::uint32_t supported = supported_mouse_modes(agent);
    if ((m.mode & supported) && (m.mode == wire::kMouseModeServer || m.mode == wire::kMouseModeClient)) {
        c.mouse_mode = m.mode;
    } else {
        impl_.log("reds: mouse mode " + std::to_string(m.mode) + " not available");
    }
    send(c, wire::MsgMainMouseMode{static_cast<std::uint16_t>(supported), static_cast<std::uint16_t>(c.mouse_mode)});
}

void Reds::on(Conn& c, const wire::MsgcMainAgentStart& m) {
    c.client_tokens = m.num_tokens;
    c.agent_started = true;
}

void Reds::on(Conn& c, const wire::MsgcMainAgentToken& m) {
    c.client_tokens =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{c.client_tokens} + m.num_tokens, 0xffffffffu));
}

void Reds::on(Conn& c, const wire::MsgcMainAgentData& m) {
    if (m.data.size() > proto::VD_AGENT_MAX_DATA_SIZE) {
        drop(c, "agent data chunk of " + std::to_string(m.data.size()) + " bytes", true);
        return;
    }
    std::lock_guard lock(impl_.agent_m);
    if (!impl_.agent_attached) {
        impl_.log("reds: client agent data without a guest agent dropped");
    } else {
        // Towards the guest the data travels as one VDIChunk for the client port.
        auto& out = impl_.agent_to_guest;
        wire::put_le(out, proto::VDP_CLIENT_PORT);
        wire::put_le(out, static_cast<std::uint32_t>(m.data.size()));
        out.insert(out.end(), m.data.begin(), m.data.end());
        impl_.agent_flush_to_guest_locked();
    }
    ++c.agent_consumed;  // the token goes back once the device has taken the data
}

void Reds::on(Conn&, const wire::MsgcMainMigrateConnected&) {}
void Reds::on(Conn&, const wire::MsgcMainMigrateConnectError&) {}

void Reds::on(Conn& c, const wire::MsgcDisplayInit& m) {
    if (c.display_inited) return;
    c.display_inited = true;
    impl_.dispatcher.post_control(DisplayClientInit{c.id, std::max<std::int64_t>(m.pixmap_cache_size, 0),
                                                    c.channel_caps.has(wire::display_cap::kMonitorsConfig)});
}

// Streams are never created, so their reports and codec preferences change nothing.
void Reds::on(Conn&, const wire::MsgcDisplayStreamReport&) {}
void Reds::on(Conn&, const wire::MsgcDisplayPreferredCompression&) {}
void Reds::on(Conn&, const wire::MsgcDisplayPreferredVideoCodecType&) {}

// KEY_DOWN/KEY_UP carry up to four scancode bytes, low byte first, ended by a zero byte.
void Reds::key_code(std::uint32_t code) {
    std::uint8_t bytes[4];
    std::size_t n = 0;
    for (int i = 0; i < 4; ++i) {
        auto b = static_cast<std::uint8_t>(code >> (8 * i));
        if (b == 0) break;
        bytes[n++] = b;
    }
    auto* sink = impl_.input_sink.load();
    if (sink && n > 0) sink->key_scancodes(std::span<const std::uint8_t>(bytes, n));
}

void Reds::on(Conn&, const wire::MsgcInputsKeyDown& m) { key_code(m.code); }
void Reds::on(Conn&, const wire::MsgcInputsKeyUp& m) { key_code(m.code); }

void Reds::on(Conn&, const wire::MsgcInputsKeyScancode& m) {
    auto* sink = impl_.input_sink.load();
    if (sink && !m.data.empty()) sink->key_scancodes(m.data);
}

void Reds::on(Conn&, const wire::MsgcInputsKeyModifiers& m) {
    if (auto* sink = impl_.input_sink.load()) sink->key_modifiers(m.modifiers);
}

void Reds::motion_ack(Conn& c) {
    if (++c.motion_count % wire::kInputMotionAckBunch == 0) {
        send(c, wire::MsgInputsMouseMotionAck{});
        impl_.with_stats([](ServerStats& s) { ++s.motion_acks; });
    }
}

void Reds::on(Conn& c, const wire::MsgcInputsMouseMotion& m) {
    if (auto* sink = impl_.input_sink.load()) sink->mouse_motion(m.dx, m.dy, m.buttons_state);
    motion_ack(c);
}

void Reds::on(Conn& c, const wire::MsgcInputsMousePosition& m) {
    if (auto* sink = impl_.input_sink.load()) sink->mouse_position(m.x, m.y, m.buttons_state, m.display_id);
    motion_ack(c);
}

void Reds::on(Conn&, const wire::MsgcInputsMousePress& m) {
    if (auto* sink = impl_.input_sink.load()) sink->mouse_button(m.button, true, m.buttons_state);
}

void Reds::on(Conn&, const wire::MsgcInputsMouseRelease& m) {
    if (auto* sink = impl_.input_sink.load()) sink->mouse_button(m.button, false, m.buttons_state);
}

void Reds::send_raw(Conn& c, std::vector<std::uint8_t> bytes) {
    if (bytes.empty()) return;
    if (c.out_bytes == 0) c.last_progress = Clock::now();
    c.out_bytes += bytes.size();
    c.out.push_back(std::move(bytes));
    handle_writable(c);
}

void Reds::send_msg(Conn& c, std::uint16_t type, wire::ByteView body) {
    // With mini headers the serial is implicit; full headers number messages 1, 2, 3...
    const std::uint64_t serial = c.mini ? 0 : ++c.out_serial;
    if (c.uses_ack) ++c.unacked;
    send_raw(c, wire::frame_message(c.mini, serial, type, body));
}

void Reds::send_notify(Conn& c, const std::string& text) {
    wire::MsgNotify notify;
    notify.time_stamp = now_ns();
    notify.severity = 1;    // WARN
    notify.visibility = 2;  // HIGH
    notify.message.assign(text.begin(), text.end());
    auto body = wire::marshal(notify);
    if (!body) return;
    // As spice-server does, a NUL follows the message_len bytes so that clients can print it.
    body->push_back(0);
    send_msg(c, wire::MsgNotify::kType, *body);
}

void Reds::drop(Conn& c, const std::string& why, bool violation, bool flush) {
    if (c.closing) return;
    if (!flush) {
        c.abort = true;
        c.out.clear();
        c.out_off = 0;
        c.out_bytes = 0;
    }
    impl_.log(std::string("reds: ") + (c.linked ? channel_name(c.type) : "link") + " connection from " +
              c.peer + " closed: " + why);
    if (violation) impl_.with_stats([](ServerStats& s) { ++s.connections_rejected; });
    c.closing = true;
    // Whatever is queued (an error reply, a link result) still goes out; close_now follows
    // once it is written, or at once if nothing is queued.
    handle_writable(c);
    if (c.out_bytes == 0) to_close_.push_back(c.id);
    if (c.linked) {
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
            send_notify(c, "session ended: " + why);
            send(c, wire::MsgDisconnecting{now_ns(), static_cast<std::uint32_t>(LinkError::Ok)});
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
        if (msg.type == 0) continue;  // marshalling found nothing the wire can carry
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
    if (guest_drained && c.agent_consumed >= kAgentTokensToSend) {
        send(c, wire::MsgMainAgentToken{c.agent_consumed});
        c.agent_consumed = 0;
    }
    if (changed) {
        if (attached) {
            if (c.channel_caps.has(wire::main_cap::kAgentConnectedTokens)) {
                send(c, wire::MsgMainAgentConnectedTokens{kAgentClientTokens});
            } else {
                send(c, wire::MsgMainAgentConnected{});
            }
        } else {
            send(c, wire::MsgMainAgentDisconnected{static_cast<std::uint32_t>(LinkError::Ok)});
        }
        if (!attached) c.mouse_mode = wire::kMouseModeServer;
        send(c, wire::MsgMainMouseMode{static_cast<std::uint16_t>(supported_mouse_modes(attached)),
                                       static_cast<std::uint16_t>(c.mouse_mode)});
    }
    for (auto& ch : chunks) {
        wire::MsgMainAgentData data;
        data.data = std::move(ch);
        send(c, data);
    }
}

// The guest's lock LEDs follow the client: a change is announced with KEY_MODIFIERS (§7).
void Reds::pump_leds(Conn& c) {
    auto* sink = impl_.input_sink.load();
    if (!sink) return;
    std::uint16_t leds = sink->keyboard_leds();
    if (leds == c.leds_sent) return;
    c.leds_sent = leds;
    send(c, wire::MsgInputsKeyModifiers{leds});
}

void Reds::timers(Conn& c) {
    if (c.closing) {
        // A peer that does not take even the final bytes is cut off.
        if (Clock::now() - c.last_progress > impl_.cfg.stall_timeout) to_close_.push_back(c.id);
        return;
    }
    auto now = Clock::now();
    if (!c.linked) {
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
            wire::MsgPing ping;
            ping.id = ++c.ping_id;
            ping.timestamp = now_ns();
            send(c, ping);
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
