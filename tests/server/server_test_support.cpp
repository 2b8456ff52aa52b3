#include "tests/server/server_test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>


namespace qxlbox::server::test {

void FakeDevice::create_surface(proto::DisplayConsumer& consumer, std::uint32_t id, std::uint32_t w, std::uint32_t h,
                                bool primary, proto::SurfaceFormat format) {
    const std::uint32_t stride = (w * proto::surface_format_bpp(format) / 8 + 3) & ~3u;
    proto::SurfaceCreate c;
    c.surface_id = id;
    c.width = w;
    c.height = h;
    c.stride = static_cast<std::int32_t>(stride);
    c.format = format;
    c.primary = primary;
    {
        std::lock_guard lock(m_);
        auto& s = surfaces_[id];
        s.info = c;
        s.stride = stride;
        s.pixels.assign(std::size_t{stride} * h, 0);
    }
    proto::DisplayCommand cmd;
    cmd.body = c;
    push(consumer, std::move(cmd));
}

void FakeDevice::poke(std::uint32_t id, std::uint32_t x, std::uint32_t y, std::uint32_t xrgb) {
    std::lock_guard lock(m_);
    auto& s = surfaces_.at(id);
    std::memcpy(s.pixels.data() + y * s.stride + x * 4, &xrgb, 4);
}

std::uint32_t FakeDevice::peek(std::uint32_t id, std::uint32_t x, std::uint32_t y) {
    std::lock_guard lock(m_);
    auto& s = surfaces_.at(id);
    std::uint32_t v = 0;
    std::memcpy(&v, s.pixels.data() + y * s.stride + x * 4, 4);
    return v;
}

void FakeDevice::fill_noise(std::uint32_t id, std::uint32_t seed) {
    std::lock_guard lock(m_);
    auto& s = surfaces_.at(id);
    std::uint32_t x = seed * 2654435761u + 1;
    for (std::size_t i = 0; i + 4 <= s.pixels.size(); i += 4) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        std::memcpy(s.pixels.data() + i, &x, 4);
    }
}

bool FakeDevice::push(proto::DisplayConsumer& consumer, proto::DisplayCommand cmd) {
    {
        std::lock_guard lock(m_);
        cmd.sequence = ++sequence_;
    }
    for (int i = 0; i < 2000; ++i) {
        if (consumer.push_command(cmd)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

std::optional<proto::SurfacePixels> FakeDevice::read_surface(std::uint32_t surface_id) {
    std::lock_guard lock(m_);
    auto it = surfaces_.find(surface_id);
    if (it == surfaces_.end()) return std::nullopt;
    proto::SurfacePixels p;
    p.format = it->second.info.format;
    p.area = proto::Rect{0, 0, static_cast<std::int32_t>(it->second.info.height),
                         static_cast<std::int32_t>(it->second.info.width)};
    p.stride = it->second.stride;
    p.data = it->second.pixels;
    return p;
}

void FakeDevice::write_surface_area(std::uint32_t surface_id, const proto::SurfacePixels& pixels) {
    std::lock_guard lock(m_);
    ++writes_;
    auto it = surfaces_.find(surface_id);
    if (it == surfaces_.end()) return;
    auto& s = it->second;
    const std::size_t bytes_pp = proto::surface_format_bpp(s.info.format) / 8;
    for (std::int32_t y = 0; y < pixels.area.height(); ++y) {
        std::memcpy(s.pixels.data() + static_cast<std::size_t>(pixels.area.top + y) * s.stride +
                        static_cast<std::size_t>(pixels.area.left) * bytes_pp,
                    pixels.data.data() + static_cast<std::size_t>(y) * pixels.stride,
                    static_cast<std::size_t>(pixels.area.width()) * bytes_pp);
    }
}

void FakeDevice::wakeup() {
    std::lock_guard lock(m_);
    ++wakeups_;
}

std::vector<std::uint64_t> FakeDevice::released() const {
    std::lock_guard lock(m_);
    return released_;
}

proto::ReleaseRef FakeDevice::release_ref(std::uint64_t id) {
    return std::make_shared<proto::Release>(id, [this](std::uint64_t rid) {
        std::lock_guard lock(m_);
        released_.push_back(rid);
    });
}

int FakeDevice::wakeups() const {
    std::lock_guard lock(m_);
    return wakeups_;
}

int FakeDevice::writes() const {
    std::lock_guard lock(m_);
    return writes_;
}

proto::DisplayCommand draw_cmd(proto::DrawCommand draw, proto::ReleaseRef release) {
    proto::DisplayCommand cmd;
    cmd.body = std::move(draw);
    cmd.release = std::move(release);
    return cmd;
}

proto::Rect rect_ltrb(std::int32_t left, std::int32_t top, std::int32_t right, std::int32_t bottom) {
    return proto::Rect{top, left, bottom, right};
}

proto::DrawCommand solid_fill(std::uint32_t surface_id, proto::Rect box, std::uint32_t color) {
    proto::DrawCommand d;
    d.surface_id = surface_id;
    d.bbox = box;
    proto::Fill f;
    f.brush.type = proto::BrushType::Solid;
    f.brush.color = color;
    f.rop_descriptor = proto::rop::kOpPut;
    d.op = f;
    return d;
}

proto::DrawCommand image_copy(std::uint32_t surface_id, proto::Rect box, proto::ImagePtr image) {
    proto::DrawCommand d;
    d.surface_id = surface_id;
    d.bbox = box;
    proto::Copy c;
    c.src_area = proto::Rect{0, 0, static_cast<std::int32_t>(image->height), static_cast<std::int32_t>(image->width)};
    c.src_bitmap = std::move(image);
    c.rop_descriptor = proto::rop::kOpPut;
    d.op = c;
    return d;
}

proto::ImagePtr bitmap32_image(std::uint64_t id, std::uint32_t w, std::uint32_t h, const std::vector<std::uint32_t>& px,
                               bool cache_me) {
    auto img = std::make_shared<proto::Image>();
    img->id = id;
    img->type = proto::ImageType::Bitmap;
    img->flags = cache_me ? proto::kImageCacheMe : 0;
    img->width = w;
    img->height = h;
    proto::Bitmap bm;
    bm.format = proto::BitmapFormat::Bit32;
    bm.top_down = true;
    bm.width = w;
    bm.height = h;
    bm.stride = w * 4;
    bm.data.resize(std::size_t{w} * h * 4);
    std::memcpy(bm.data.data(), px.data(), bm.data.size());
    img->content = std::move(bm);
    return img;
}

bool LoggedServer::log_contains(const std::string& needle) const {
    std::lock_guard lock(*log_m);
    for (const auto& l : *lines)
        if (l.find(needle) != std::string::npos) return true;
    return false;
}

bool LoggedServer::wait_log(const std::string& needle, std::chrono::milliseconds timeout) const {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (log_contains(needle)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return log_contains(needle);
}

LoggedServer start_server(ServerConfig cfg) {
    LoggedServer s;
    cfg.port = 0;
    auto m = s.log_m;
    auto lines = s.lines;
    cfg.log = [m, lines](const std::string& line) {
        std::lock_guard lock(*m);
        lines->push_back(line);
    };
    std::string error;
    s.server = SpiceServer::start(std::move(cfg), &error);
    return s;
}

RawClient::~RawClient() {
    if (fd_ >= 0) ::close(fd_);
}

void RawClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool RawClient::connect(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

bool RawClient::send_bytes(const std::vector<std::uint8_t>& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

std::optional<std::vector<std::uint8_t>> RawClient::read_exact(std::size_t n, std::chrono::milliseconds timeout) {
    std::vector<std::uint8_t> out(n);
    std::size_t got = std::min(n, pending_.size());
    std::copy_n(pending_.begin(), got, out.begin());
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(got));
    auto end = std::chrono::steady_clock::now() + timeout;
    while (got < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
        ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
        if (r <= 0) return std::nullopt;
        got += static_cast<std::size_t>(r);
    }
    return out;
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    std::vector<std::uint8_t> buf(65536);
    while (std::chrono::steady_clock::now() < end) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        ssize_t r = ::recv(fd_, buf.data(), buf.size(), 0);
        if (r <= 0) return true;
    }
    return false;
}

std::optional<std::uint32_t> RawClient::link(proto::wire::ChannelType type, std::uint32_t connection_id,
                                             const std::string& password, proto::wire::CapabilitySet channel_caps) {
    namespace wire = proto::wire;
    wire::LinkClientConfig cfg;
    cfg.connection_id = connection_id;
    cfg.channel_type = type;
    cfg.channel_caps = std::move(channel_caps);
    cfg.password = password;
    wire::LinkClient link(std::move(cfg));
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::vector<std::uint8_t> buf(4096);
    for (;;) {
        auto out = link.take_output();
        if (!out.empty() && !send_bytes(out)) return std::nullopt;
        if (link.state() == wire::LinkClient::State::Linked) {
            pending_ = link.take_leftover();
            return 0u;
        }
        if (link.state() == wire::LinkClient::State::Failed) {
            if (link.failure() == wire::LinkError::Ok) return std::nullopt;  // our side failed
            return static_cast<std::uint32_t>(link.failure());
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
        ssize_t r = ::recv(fd_, buf.data(), buf.size(), 0);
        if (r <= 0) return std::nullopt;
        link.feed(wire::ByteView(buf.data(), static_cast<std::size_t>(r)));
    }
}

bool RawClient::send_msg(std::uint16_t type, const std::vector<std::uint8_t>& body) {
    return send_bytes(proto::wire::frame_message(true, 0, type, body));
}

std::optional<RawClient::Msg> RawClient::read_msg(std::chrono::milliseconds timeout) {
    auto hdr = read_exact(proto::wire::kMiniHeaderBytes, timeout);
    if (!hdr) return std::nullopt;
    Msg m;
    m.type = proto::wire::load_le<std::uint16_t>(hdr->data());
    auto size = proto::wire::load_le<std::uint32_t>(hdr->data() + 2);
    if (size > proto::wire::kMaxServerMessageBytes) return std::nullopt;
    auto body = read_exact(size, timeout);
    if (!body) return std::nullopt;
    m.body = std::move(*body);
    return m;
}

std::optional<RawClient::Msg> RawClient::wait_msg(std::uint16_t type, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        auto m = read_msg(left);
        if (!m) return std::nullopt;
        if (m->type == type) return m;
    }
    return std::nullopt;
}

std::uint32_t open_session(RawClient& main, std::uint16_t port, const std::string& password) {
    if (!main.connect(port)) return 0;
    auto result = main.link(proto::wire::ChannelType::Main, 0, password);
    if (!result || *result != 0) return 0;
    auto init = main.wait<proto::wire::MsgMainInit>(std::chrono::seconds(5));
    return init ? init->session_id : 0;
}

}  // namespace qxlbox::server::test
