// SpiceServer: start/stop, and the DisplayConsumer face the device talks to.
#include "server/spice_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "protocol/wire/bytes.h"
#include "server/server_impl.h"

namespace qxlbox::server {

void SpiceServer::Impl::log(const std::string& line) const {
    if (cfg.log) {
        cfg.log(line);
    } else {
        std::cerr << "spice-server: " << line << "\n";
    }
}

void SpiceServer::Impl::wake_io() const {
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd, &one, sizeof one);
}

SpiceServer::SpiceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<SpiceServer> SpiceServer::start(ServerConfig config, std::string* error) {
    auto fail = [&](const std::string& why) -> std::unique_ptr<SpiceServer> {
        if (error) *error = why;
        return nullptr;
    };
    auto impl = std::make_unique<Impl>(std::move(config));
    impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (impl->wake_fd < 0) return fail(std::string("eventfd: ") + std::strerror(errno));
    if (!impl->cfg.listen) {
        // No clients can ever come: only the worker runs (UPDATE_AREA rendering).
        Impl* raw = impl.get();
        raw->log("not listening (no SPICE clients)");
        std::unique_ptr<SpiceServer> server(new SpiceServer(std::move(impl)));
        raw->worker_thread = std::thread([raw] { raw->worker_main(); });
        return server;
    }
    auto key = proto::wire::RsaKeyPair::generate();
    if (!key) {
        ::close(impl->wake_fd);
        return fail("cannot generate the RSA ticket key: " + key.error().to_string());
    }
    impl->key = std::make_shared<const proto::wire::RsaKeyPair>(std::move(key).value());

    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(impl->cfg.port);
    if (::inet_pton(AF_INET, impl->cfg.addr.c_str(), &addr.sin_addr) != 1) {
        ::close(impl->wake_fd);
        return fail("bad listen address '" + impl->cfg.addr + "' (IPv4 dotted quad expected)");
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ::close(impl->wake_fd);
        return fail(std::string("socket: ") + std::strerror(errno));
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
        std::string why = std::string("bind/listen on ") + impl->cfg.addr + ":" + std::to_string(impl->cfg.port) +
                          ": " + std::strerror(errno);
        ::close(fd);
        ::close(impl->wake_fd);
        return fail(why);
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    impl->listen_fd = fd;
    impl->bound_port = ntohs(addr.sin_port);
    Impl* raw = impl.get();
    raw->log("listening on " + raw->cfg.addr + ":" + std::to_string(raw->bound_port) +
             (raw->cfg.password ? " (password required)" : " (ticketing disabled)"));
    std::unique_ptr<SpiceServer> server(new SpiceServer(std::move(impl)));
    raw->io_thread = std::thread([raw] { raw->io_main(); });
    raw->worker_thread = std::thread([raw] { raw->worker_main(); });
    return server;
}

SpiceServer::~SpiceServer() { stop(); }

void SpiceServer::stop() {
    if (!impl_ || impl_->stopping.exchange(true)) return;
    impl_->dispatcher.stop();
    impl_->wake_io();
    if (impl_->io_thread.joinable()) impl_->io_thread.join();
    if (impl_->worker_thread.joinable()) impl_->worker_thread.join();
    // Release everything the worker still holds, and whatever waits in the dispatcher.
    impl_->worker_drop_all();
    while (auto item = impl_->dispatcher.pop(std::chrono::milliseconds(0), true)) {
        if (auto* req = std::get_if<std::shared_ptr<UpdateAreaRequest>>(&*item)) (*req)->done.set_value(std::nullopt);
        if (auto* req = std::get_if<std::shared_ptr<SyncRequest>>(&*item)) (*req)->done.set_value();
    }
    if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
    ::close(impl_->wake_fd);
}

std::uint16_t SpiceServer::port() const { return impl_->bound_port; }

ServerStats SpiceServer::stats() const {
    std::lock_guard lock(impl_->stats_m);
    return impl_->stats;
}

void SpiceServer::set_input_sink(InputSink* sink) { impl_->input_sink.store(sink); }
void SpiceServer::agent_connected(proto::AgentPort& port) {
    {
        std::lock_guard lock(impl_->agent_m);
        impl_->agent_port = &port;
        impl_->agent_attached = true;
        impl_->agent_state_changed = true;
        impl_->agent_chunk_header.clear();
        impl_->agent_chunk_left = 0;
        impl_->agent_to_guest.clear();
    }
    impl_->wake_io();
}

void SpiceServer::agent_disconnected() {
    {
        std::lock_guard lock(impl_->agent_m);
        impl_->agent_port = nullptr;
        impl_->agent_attached = false;
        impl_->agent_state_changed = true;
        impl_->agent_to_client.clear();
        impl_->agent_to_client_bytes = 0;
        impl_->agent_read_blocked = false;
        impl_->agent_to_guest.clear();
    }
    impl_->wake_io();
}

std::size_t SpiceServer::agent_data(const std::uint8_t* data, std::size_t size) {
    std::size_t taken = 0;
    {
        std::lock_guard lock(impl_->agent_m);
        auto& im = *impl_;
        std::size_t room =
            im.agent_to_client_bytes < Impl::kAgentBacklogBytes ? Impl::kAgentBacklogBytes - im.agent_to_client_bytes : 0;
        std::size_t n = std::min(size, room);
        if (n < size) im.agent_read_blocked = true;
        // The device has validated the chunk stream; here it is only split back into chunks.
        while (taken < n) {
            if (im.agent_chunk_left == 0) {
                while (taken < n && im.agent_chunk_header.size() < proto::kVdiChunkHeaderBytes)
                    im.agent_chunk_header.push_back(data[taken++]);
                if (im.agent_chunk_header.size() < proto::kVdiChunkHeaderBytes) break;
                const auto& h = im.agent_chunk_header;
                // VDIChunkHeader: port, size (u32 each, little-endian).
                im.agent_chunk_port = proto::wire::load_le<std::uint32_t>(h.data());
                im.agent_chunk_left = proto::wire::load_le<std::uint32_t>(h.data() + 4);
                im.agent_chunk_header.clear();
                if (im.agent_chunk_port == proto::VDP_CLIENT_PORT) im.agent_to_client.emplace_back();
                continue;
            }
            std::size_t part = std::min<std::size_t>(im.agent_chunk_left, n - taken);
            if (im.agent_chunk_port == proto::VDP_CLIENT_PORT) {
                for (std::size_t i = 0; i < part; ++i) {
                    if (im.agent_to_client.back().size() >= proto::VD_AGENT_MAX_DATA_SIZE)
                        im.agent_to_client.emplace_back();
                    im.agent_to_client.back().push_back(data[taken + i]);
                }
                im.agent_to_client_bytes += part;
            } else {
                im.log("agent: " + std::to_string(part) + " bytes for port " + std::to_string(im.agent_chunk_port) +
                       " skipped (server-port messages are not handled)");
            }
            taken += part;
            im.agent_chunk_left -= static_cast<std::uint32_t>(part);
        }
    }
    impl_->wake_io();
    return taken;
}

void SpiceServer::agent_writable() { impl_->wake_io(); }

void SpiceServer::Impl::agent_flush_to_guest_locked() {
    if (!agent_port || agent_to_guest.empty()) return;
    std::size_t n = agent_port->write(agent_to_guest.data(), agent_to_guest.size());
    n = std::min(n, agent_to_guest.size());
    agent_to_guest.erase(agent_to_guest.begin(), agent_to_guest.begin() + static_cast<std::ptrdiff_t>(n));
}

void SpiceServer::attach(proto::DisplayDevice& device, const proto::DeviceInfo& info) {
    std::lock_guard lock(impl_->device_m);
    impl_->device = &device;
    impl_->device_info = info;
}

void SpiceServer::detach() {
    if (impl_->stopping.load()) return;
    auto req = std::make_shared<SyncRequest>();
    req->kind = SyncRequest::Kind::Detach;
    auto done = req->done.get_future();
    impl_->dispatcher.post_control(req);
    done.wait();
    std::lock_guard lock(impl_->device_m);
    impl_->device = nullptr;
}

bool SpiceServer::push_command(proto::DisplayCommand& cmd) {
    if (impl_->stopping.load()) return false;
    WorkerItem item = std::move(cmd);
    if (impl_->dispatcher.post_bounded(item)) return true;
    cmd = std::move(std::get<proto::DisplayCommand>(item));
    impl_->with_stats([](ServerStats& s) { ++s.pushes_refused; });
    return false;
}

bool SpiceServer::push_cursor_command(proto::CursorCommand& cmd) {
    if (impl_->stopping.load()) return false;
    WorkerItem item = std::move(cmd);
    if (impl_->dispatcher.post_bounded(item)) return true;
    cmd = std::move(std::get<proto::CursorCommand>(item));
    impl_->with_stats([](ServerStats& s) { ++s.pushes_refused; });
    return false;
}

std::optional<proto::SurfacePixels> SpiceServer::update_area(std::uint32_t surface_id, const proto::Rect& area) {
    if (impl_->stopping.load()) return std::nullopt;
    auto req = std::make_shared<UpdateAreaRequest>();
    req->surface_id = surface_id;
    req->area = area;
    auto done = req->done.get_future();
    impl_->dispatcher.post_control(req);
    return done.get();
}

namespace {
void sync(SpiceServer::Impl& impl, SyncRequest::Kind kind) {
    if (impl.stopping.load()) return;
    auto req = std::make_shared<SyncRequest>();
    req->kind = kind;
    auto done = req->done.get_future();
    impl.dispatcher.post_control(req);
    done.wait();
}
}  // namespace

void SpiceServer::flush_surfaces() { sync(*impl_, SyncRequest::Kind::Flush); }
void SpiceServer::reset() { sync(*impl_, SyncRequest::Kind::Reset); }
void SpiceServer::oom() { sync(*impl_, SyncRequest::Kind::Oom); }

void SpiceServer::monitors_config(const proto::MonitorsConfig& config) {
    if (impl_->stopping.load()) return;
    impl_->dispatcher.post_control(MonitorsUpdate{config});
}

}  // namespace qxlbox::server
