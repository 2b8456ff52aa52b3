#include "tests/client/fake_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace qxlbox::client::test {

namespace {
using SteadyClock = std::chrono::steady_clock;

int ms_left(SteadyClock::time_point deadline) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    return ms < 0 ? 0 : static_cast<int>(ms);
}
}  // namespace

FakePeer::FakePeer(int fd, bool mini_header, const std::atomic<bool>& stop)
    : fd_(fd), mini_header_(mini_header), stop_(stop), framer_(mini_header, wire::kMaxServerMessageBytes) {}

bool FakePeer::send_raw(wire::ByteView bytes) {
    while (!bytes.empty()) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, 5000) <= 0) return false;
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool FakePeer::send(std::uint16_t type, wire::ByteView body) {
    return send_raw(wire::frame_message(mini_header_, 0, type, body));
}

std::optional<wire::Frame> FakePeer::receive(int timeout_ms) {
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (auto next = framer_.next()) {
            if (!next->ok()) return std::nullopt;
            return std::move(next->value());
        }
        if (closed_ || stop_) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        const int rc = ::poll(&p, 1, std::min(ms_left(deadline), 100));
        if (rc < 0) return std::nullopt;
        if (rc == 0) {
            if (ms_left(deadline) == 0) return std::nullopt;
            continue;
        }
        std::uint8_t buf[65536];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            closed_ = true;
            continue;
        }
        framer_.feed(wire::ByteView(buf, static_cast<std::size_t>(n)));
    }
}

std::optional<wire::Frame> FakePeer::receive_type(std::uint16_t type, int timeout_ms,
                                                  std::vector<std::uint16_t>* seen) {
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    while (ms_left(deadline) > 0) {
        auto f = receive(ms_left(deadline));
        if (!f) return std::nullopt;
        if (seen) seen->push_back(f->type);
        if (f->type == type) return f;
    }
    return std::nullopt;
}

bool FakePeer::drain_until_closed(int timeout_ms, std::vector<std::uint16_t>* seen) {
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    while (ms_left(deadline) > 0 && !stop_) {
        auto f = receive(ms_left(deadline));
        if (f) {
            if (seen) seen->push_back(f->type);
            continue;
        }
        return closed_;
    }
    return closed_;
}

std::shared_ptr<const wire::RsaKeyPair> FakeServer::shared_key() {
    static const std::shared_ptr<const wire::RsaKeyPair> key = [] {
        auto k = wire::RsaKeyPair::generate();
        return k ? std::make_shared<const wire::RsaKeyPair>(std::move(k).value()) : nullptr;
    }();
    return key;
}

FakeServer::FakeServer(FakeServerOptions options) : options_(std::move(options)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 8);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeServer::~FakeServer() {
    stop_ = true;
    acceptor_.join();
    {
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
}

std::vector<std::uint16_t> FakeServer::main_received() const {
    std::lock_guard lock(mutex_);
    return main_received_;
}

std::vector<std::pair<int, wire::LinkError>> FakeServer::link_results() const {
    std::lock_guard lock(mutex_);
    return link_results_;
}

void FakeServer::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mutex_);
        fds_.push_back(fd);
        workers_.emplace_back([this, fd] { serve(fd); });
    }
}

void FakeServer::serve(int fd) {
    wire::LinkServerConfig config;
    config.ticketing_enabled = options_.ticketing;
    config.password = options_.password;
    config.key = shared_key();
    if (!options_.mini_header) {
        config.common_caps = wire::CapabilitySet::of({wire::common_cap::kProtocolAuthSelection,
                                                       wire::common_cap::kAuthSpice});
    }
    const auto display_caps = options_.display_caps;
    config.channel_caps = [display_caps](wire::ChannelType type, std::uint8_t) -> std::optional<wire::CapabilitySet> {
        if (type == wire::ChannelType::Display) return display_caps;
        return wire::CapabilitySet{};
    };
    wire::LinkServer link(std::move(config));
    const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    std::uint8_t buf[4096];
    while (!stop_ && ms_left(deadline) > 0) {
        const auto out = link.take_output();
        if (!out.empty() && ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) return;
        if (link.state() == wire::LinkServer::State::AwaitingDecision) {
            const auto& peer = link.peer();
            if (peer.channel_type != wire::ChannelType::Main && peer.connection_id != options_.session_id) {
                link.reject(wire::LinkError::BadConnectionId);
            } else {
                link.accept();
            }
            continue;
        }
        if (link.state() == wire::LinkServer::State::Failed || link.state() == wire::LinkServer::State::Linked) {
            std::lock_guard lock(mutex_);
            link_results_.emplace_back(static_cast<int>(link.peer().channel_type),
                                       link.state() == wire::LinkServer::State::Linked ? wire::LinkError::Ok
                                                                                        : link.failure());
            break;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        link.feed(wire::ByteView(buf, static_cast<std::size_t>(n)));
    }
    if (link.state() != wire::LinkServer::State::Linked) return;
    FakePeer peer(fd, link.mini_header(), stop_);
    peer.feed(link.take_leftover());
    switch (link.peer().channel_type) {
        case wire::ChannelType::Main:
            if (options_.main) {
                options_.main(peer);
            } else {
                run_main(peer);
            }
            break;
        case wire::ChannelType::Display:
            if (options_.display) options_.display(peer);
            break;
        case wire::ChannelType::Cursor:
            if (options_.cursor) options_.cursor(peer);
            break;
        case wire::ChannelType::Inputs:
            if (options_.inputs) options_.inputs(peer);
            break;
        default:
            break;
    }
    ::shutdown(fd, SHUT_RDWR);
}

void FakeServer::run_main(FakePeer& peer) {
    wire::MsgMainInit init;
    init.session_id = options_.session_id;
    init.display_channels_hint = 1;
    init.supported_mouse_modes = 1;
    init.current_mouse_mode = 1;
    init.agent_tokens = 10;
    peer.send(init);
    std::vector<std::uint16_t> seen;
    if (peer.receive_type(wire::MsgcMainAttachChannels::kType, 5000, &seen)) {
        wire::MsgMainChannelsList list;
        list.channels = options_.channels;
        peer.send(list);
    }
    peer.drain_until_closed(20000, &seen);
    std::lock_guard lock(mutex_);
    main_received_ = seen;
}

}  // namespace qxlbox::client::test
