// qxlbox's in-process SPICE server (spice-protocol.md; issue 7): what QEMU gets from
// libspice-server, reduced to one client session at a time.
//
// Theory of operation:
// - Threads, as in spice-server's reds + red worker design. The network I/O thread runs one
//   poll() loop over the listening socket and every client socket: link stage, ticket check,
//   main/inputs channels, ACK windows, pings, and moving display/cursor messages from the
//   worker to the sockets. The display worker thread owns surfaces, the display tree, the
//   client pipe and the caches; it renders with the canvas for UPDATE_AREA and for the image
//   a client gets on connect. The device (emulation thread) reaches the worker only through
//   the dispatcher (server/dispatcher.h); synchronous requests (update_area, flush_surfaces,
//   reset) wait for the worker's answer.
// - One session: a main channel link with connection id 0 starts a session and replaces any
//   previous one (its sockets are closed after a NOTIFY); display, cursor and inputs links
//   must carry that session's id. Channels announced: display 0, cursor 0, inputs 0.
// - Hostile peers: every link field, message size and message type is checked; a violation
//   closes that connection with a log line and the server carries on. A peer that stops
//   reading is dropped once its output makes no progress for `stall_timeout`.
// - Agent: the VDIPort device is the AgentPort; both directions are flow controlled (a
//   bounded backlog each way, tokens towards the client, read_ready/agent_writable towards
//   the device), so neither side can make the other grow without bound.
// Not modelled: TLS, SASL, migration, video streams, audio channels, GLZ/QUIC encoding,
// server-port agent messages (they are logged and skipped).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/display_interface.h"
#include "protocol/agent_interface.h"
#include "server/input_sink.h"

namespace qxlbox::server {

struct ServerConfig {
    std::string addr = "127.0.0.1";
    // false: no socket at all, no client can connect; the server only renders for the
    // device (UPDATE_AREA) and port() is 0.
    bool listen = true;
    std::uint16_t port = 5900;            // 0 = pick a free port (see SpiceServer::port)
    std::optional<std::string> password;  // nullopt = ticketing disabled
    std::string name = "qxlbox";
    std::array<std::uint8_t, 16> uuid{};
    std::size_t command_queue_limit = 128;    // device commands waiting for the worker
    std::size_t pipe_limit = 256;             // unsent display messages before pushes are refused
    std::size_t channel_out_limit = 32;       // worker messages queued per channel for the I/O thread
    std::size_t max_pending_drawables = 1024; // unrendered drawables before the worker renders some
    std::uint32_t ack_window = 20;
    bool lz_images = true;                    // false: every image as BITMAP (image-compression=off)
    std::chrono::milliseconds stall_timeout{10000};
    std::chrono::milliseconds display_init_timeout{30000};
    std::chrono::milliseconds link_timeout{10000};
    std::chrono::milliseconds ping_interval{10000};
    std::size_t max_out_bytes = 256u << 20;   // a connection's unsent bytes before it is dropped
    std::function<void(const std::string&)> log;  // default: stderr
};

struct ServerStats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_rejected = 0;  // link, ticket or protocol violations
    std::uint64_t sessions = 0;
    std::uint64_t draws_sent = 0;
    std::uint64_t draws_dropped = 0;         // removed by the display tree
    std::uint64_t images_bitmap = 0;
    std::uint64_t images_lz = 0;
    std::uint64_t images_from_cache = 0;
    std::uint64_t cache_evictions = 0;
    std::uint64_t pushes_refused = 0;
    std::uint64_t pongs = 0;
    std::uint64_t motion_acks = 0;
    bool display_client = false;             // a display channel has completed DISPLAY_INIT
    std::uint64_t marks_sent = 0;
};

class SpiceServer final : public proto::DisplayConsumer, public proto::AgentPeer {
public:
    // Binds, generates the ticket key and starts both threads (only the worker without
    // `listen`). nullptr + `error` on failure.
    static std::unique_ptr<SpiceServer> start(ServerConfig config, std::string* error);
    ~SpiceServer() override;
    SpiceServer(const SpiceServer&) = delete;
    SpiceServer& operator=(const SpiceServer&) = delete;

    std::uint16_t port() const;
    ServerStats stats() const;
    void set_input_sink(InputSink* sink);
    // Stops both threads, closes every socket and releases every command. Idempotent.
    void stop();

    // proto::DisplayConsumer (emulation thread).
    void attach(proto::DisplayDevice& device, const proto::DeviceInfo& info) override;
    void detach() override;
    bool push_command(proto::DisplayCommand& cmd) override;
    bool push_cursor_command(proto::CursorCommand& cmd) override;
    std::optional<proto::SurfacePixels> update_area(std::uint32_t surface_id, const proto::Rect& area) override;
    void flush_surfaces() override;
    void quiesce() override;  // display_worker.cpp
    void reset() override;
    void oom() override;
    void monitors_config(const proto::MonitorsConfig& config) override;

    // proto::AgentPeer (emulation thread): the agent char device. Guest chunks for the client
    // port become AGENT_DATA messages; client AGENT_DATA goes back as client-port chunks.
    void agent_connected(proto::AgentPort& port) override;
    void agent_disconnected() override;
    std::size_t agent_data(const std::uint8_t* data, std::size_t size) override;
    void agent_writable() override;

    struct Impl;

private:
    explicit SpiceServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace qxlbox::server
