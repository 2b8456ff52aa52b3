// Helpers for the server tests: a fake display device that owns its surfaces' "guest memory",
// command builders, and a raw SPICE client for driving the server over real sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/display_interface.h"
#include "protocol/wire/header.h"
#include "protocol/wire/link.h"
#include "protocol/wire/messages.h"
#include "server/spice_server.h"

namespace qxlbox::server::test {

// A DisplayDevice whose surfaces live in plain vectors (top-down rows; xRGB32 unless a
// format is given; poke/peek/fill_noise are for xRGB32 surfaces only).
class FakeDevice final : public proto::DisplayDevice {
public:
    struct SurfaceMem {
        proto::SurfaceCreate info;
        std::vector<std::uint8_t> pixels;
        std::uint32_t stride = 0;
    };

    // Creates the surface in "guest memory" and pushes SURFACE_CREATE to `consumer`.
    void create_surface(proto::DisplayConsumer& consumer, std::uint32_t id, std::uint32_t w, std::uint32_t h,
                        bool primary, proto::SurfaceFormat format = proto::SurfaceFormat::XRGB32);
    // Direct framebuffer write, as a guest may do without a command.
    void poke(std::uint32_t id, std::uint32_t x, std::uint32_t y, std::uint32_t xrgb);
    std::uint32_t peek(std::uint32_t id, std::uint32_t x, std::uint32_t y);
    // Fills the whole surface with pseudo-random pixels (one lock, fast under sanitizers).
    void fill_noise(std::uint32_t id, std::uint32_t seed);
    // Pushes a command, retrying while the consumer is full (bounded wait).
    bool push(proto::DisplayConsumer& consumer, proto::DisplayCommand cmd);

    std::optional<proto::SurfacePixels> read_surface(std::uint32_t surface_id) override;
    void write_surface_area(std::uint32_t surface_id, const proto::SurfacePixels& pixels) override;
    void set_client_capabilities(bool, const std::vector<std::uint8_t>&) override {}
    bool client_monitors_config(const std::vector<proto::MonitorHead>&) override { return false; }
    void wakeup() override;

    std::vector<std::uint64_t> released() const;
    proto::ReleaseRef release_ref(std::uint64_t id);
    int wakeups() const;
    int writes() const;

private:
    mutable std::mutex m_;
    std::map<std::uint32_t, SurfaceMem> surfaces_;
    std::vector<std::uint64_t> released_;
    int wakeups_ = 0;
    int writes_ = 0;
    std::uint64_t sequence_ = 0;
};

proto::DisplayCommand draw_cmd(proto::DrawCommand draw, proto::ReleaseRef release = nullptr);
proto::DrawCommand solid_fill(std::uint32_t surface_id, proto::Rect box, std::uint32_t color);
proto::DrawCommand image_copy(std::uint32_t surface_id, proto::Rect box, proto::ImagePtr image);
proto::ImagePtr bitmap32_image(std::uint64_t id, std::uint32_t w, std::uint32_t h, const std::vector<std::uint32_t>& px,
                               bool cache_me = false);
proto::Rect rect_ltrb(std::int32_t left, std::int32_t top, std::int32_t right, std::int32_t bottom);

// A server with quiet logging (lines collected) and short timeouts, on a free port.
struct LoggedServer {
    std::unique_ptr<SpiceServer> server;
    std::shared_ptr<std::mutex> log_m = std::make_shared<std::mutex>();
    std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
    bool log_contains(const std::string& needle) const;
    // Waits until a log line contains `needle` (bounded).
    bool wait_log(const std::string& needle, std::chrono::milliseconds timeout) const;
};
LoggedServer start_server(ServerConfig cfg = {});

// A blocking SPICE client over a raw socket with receive timeouts. It links with
// protocol/wire's LinkClient and speaks mini headers; messages are marshalled from the same
// definitions the server uses, but raw bytes can be sent too.
class RawClient {
public:
    ~RawClient();
    bool connect(std::uint16_t port);
    bool send_bytes(const std::vector<std::uint8_t>& bytes);
    // Reads exactly n bytes; empty on timeout or close.
    std::optional<std::vector<std::uint8_t>> read_exact(std::size_t n, std::chrono::milliseconds timeout);
    // True once the server has closed the connection (within `timeout`), draining input.
    bool wait_closed(std::chrono::milliseconds timeout);

    // Full link for `type`; returns the link result (nullopt on a protocol failure).
    std::optional<std::uint32_t> link(proto::wire::ChannelType type, std::uint32_t connection_id,
                                      const std::string& password, proto::wire::CapabilitySet channel_caps = {});
    bool send_msg(std::uint16_t type, const std::vector<std::uint8_t>& body);
    template <proto::wire::MessageDef M>
    bool send(const M& msg) {
        auto body = proto::wire::marshal(msg);
        return body && send_msg(M::kType, *body);
    }
    struct Msg {
        std::uint16_t type = 0;
        std::vector<std::uint8_t> body;
    };
    std::optional<Msg> read_msg(std::chrono::milliseconds timeout);
    // Reads messages until one of `type` arrives (answering nothing); nullopt on timeout.
    std::optional<Msg> wait_msg(std::uint16_t type, std::chrono::milliseconds timeout);
    // wait_msg for M's type, demarshalled; nullopt on timeout or a malformed body.
    template <proto::wire::MessageDef M>
    std::optional<M> wait(std::chrono::milliseconds timeout) {
        auto m = wait_msg(M::kType, timeout);
        if (!m) return std::nullopt;
        auto parsed = proto::wire::demarshal_as<M>(m->body);
        if (!parsed) return std::nullopt;
        return std::move(parsed).value();
    }
    int fd() const { return fd_; }
    void close();
    RawClient() = default;
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

private:
    int fd_ = -1;
    std::vector<std::uint8_t> pending_;  // read past the link stage, not yet consumed
};

// Main link + MAIN_INIT; returns the session id (0 on failure).
std::uint32_t open_session(RawClient& main, std::uint16_t port, const std::string& password = "");

}  // namespace qxlbox::server::test
