// Internals shared by the server's two threads (spice_server.cpp, reds.cpp, display_worker.cpp).
// Not a public interface: include server/spice_server.h instead.
//
// Ownership: IoState is touched only by the I/O thread, WorkerState only by the worker
// thread; they meet in the dispatcher (I/O -> worker events) and in the two ChannelOut queues
// (worker -> I/O messages for the display and cursor connections), each guarded by its mutex.
// A ChannelOut carries the generation of the connection it feeds, so messages built for a
// client that has since gone are discarded instead of reaching its successor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "protocol/canvas/canvas.h"
#include "protocol/wire/link.h"
#include "server/dispatcher.h"
#include "server/display_marshal.h"
#include "server/display_tree.h"
#include "server/spice_server.h"

namespace qxlbox::server {

using Clock = std::chrono::steady_clock;

struct ChannelOut {
    std::mutex m;
    std::deque<OutMessage> q;
    std::uint64_t generation = 0;  // 0 = no connection
};

struct UpdateAreaRequest {
    std::uint32_t surface_id = 0;
    proto::Rect area;
    std::promise<std::optional<proto::SurfacePixels>> done;
};
struct SyncRequest {
    enum class Kind { Flush, Reset, Oom, Detach } kind = Kind::Flush;
    std::promise<void> done;
};
struct MonitorsUpdate {
    proto::MonitorsConfig config;
};
struct DisplayClientInit {
    std::uint64_t generation = 0;
    std::int64_t cache_pixels = 0;
    bool monitors_config_cap = false;
};
struct CursorClientInit {
    std::uint64_t generation = 0;
};
struct ClientGone {
    bool display = false;  // else cursor
    std::uint64_t generation = 0;
};

using WorkerItem = std::variant<proto::DisplayCommand, proto::CursorCommand, std::shared_ptr<UpdateAreaRequest>,
                                std::shared_ptr<SyncRequest>, MonitorsUpdate, DisplayClientInit, CursorClientInit,
                                ClientGone>;

struct WorkerState {
    std::map<std::uint32_t, proto::SurfaceCreate> surfaces;
    DisplayTree tree;
    // Messages for the display client, marshalled when the worker took their command and
    // not yet handed to the I/O thread. Marshalled, they hold no command alive.
    std::deque<OutMessage> pipe;
    std::uint64_t display_generation = 0;  // 0 = no display client
    bool monitors_cap = false;
    PixmapCache pixmap_cache;
    std::optional<proto::MonitorsConfig> monitors;
    std::uint64_t next_surface_image_id = 1;
    // Cursor.
    std::uint64_t cursor_generation = 0;
    CursorCache cursor_cache;
    proto::CursorSet cursor;
    bool cursor_set = false;
    proto::CursorTrail trail;
};

struct SpiceServer::Impl {
    explicit Impl(ServerConfig c) : cfg(std::move(c)), dispatcher(cfg.command_queue_limit) {
        dispatcher.set_hold_grace(kPipeFullGrace);
    }
    // How long a push waits for a full client pipe to drain before it is refused: longer than
    // a loaded host deschedules a client that otherwise keeps up, far below stall_timeout.
    static constexpr std::chrono::milliseconds kPipeFullGrace{1000};

    ServerConfig cfg;
    std::shared_ptr<const proto::wire::RsaKeyPair> key;  // one RSA-1024 pair per server
    int listen_fd = -1;
    int wake_fd = -1;
    std::uint16_t bound_port = 0;
    std::thread io_thread;
    std::thread worker_thread;
    std::atomic<bool> stopping{false};
    Dispatcher<WorkerItem> dispatcher;

    std::mutex device_m;
    proto::DisplayDevice* device = nullptr;
    proto::DeviceInfo device_info;

    ChannelOut display_out;
    ChannelOut cursor_out;
    static constexpr std::size_t kMaxCursorBacklog = 4096;
    std::atomic<bool> cursor_overflow{false};

    mutable std::mutex stats_m;
    ServerStats stats;

    std::atomic<InputSink*> input_sink{nullptr};
    // Agent char device; everything under agent_m.
    std::mutex agent_m;
    proto::AgentPort* agent_port = nullptr;
    bool agent_attached = false;
    bool agent_state_changed = false;
    std::deque<std::vector<std::uint8_t>> agent_to_client;  // AGENT_DATA bodies, <= 2048 bytes
    std::size_t agent_to_client_bytes = 0;
    bool agent_read_blocked = false;             // we took less than offered; owe read_ready()
    std::vector<std::uint8_t> agent_chunk_header;  // partial VDIChunkHeader from the guest
    std::uint32_t agent_chunk_port = 0;
    std::uint32_t agent_chunk_left = 0;
    std::vector<std::uint8_t> agent_to_guest;    // client data as chunks, not yet taken
    static constexpr std::size_t kAgentBacklogBytes = 256 * 1024;

    // Writes what the device will take of agent_to_guest (agent_m held).
    void agent_flush_to_guest_locked();

    WorkerState ws;

    void log(const std::string& line) const;
    void wake_io() const;
    template <class F>
    void with_stats(F&& f) {
        std::lock_guard lock(stats_m);
        f(stats);
    }
    proto::DisplayDevice* current_device() {
        std::lock_guard lock(device_m);
        return device;
    }

    // Thread bodies.
    void io_main();
    void worker_main();

    // Worker.
    void worker_handle(WorkerItem& item);
    void worker_display_command(proto::DisplayCommand& cmd);
    void worker_cursor_command(proto::CursorCommand& cmd);
    void worker_display_connect(const DisplayClientInit& init);
    void worker_cursor_connect(const CursorClientInit& init);
    void worker_send_pipe();
    void worker_marshal_draw(Drawable& d);
    bool worker_pipe_full() const;
    void worker_push_display(OutMessage msg);
    void worker_push_cursor(OutMessage msg);
    // Renders the surface's pending drawables over its guest pixels. With `consume` the
    // drawables leave the tree (they are now in guest memory once the result is written).
    std::unique_ptr<proto::Surface> worker_render(std::uint32_t surface_id, bool consume, proto::Rect* touched,
                                                  int depth);
    void worker_flush_surface(std::uint32_t surface_id);
    void worker_flush_readers_of(std::uint32_t surface_id);
    void worker_drop_all();
};

}  // namespace qxlbox::server
