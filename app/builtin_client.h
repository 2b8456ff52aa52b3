// The in-process SPICE client as the demo, `qxlbox run` and `qxlbox scenario check` start it:
// one client::Session to the emulator's own server, shown in an SDL window or run headless.
//
// Theory of operation: BuiltinClient::run() drives the session on the calling thread until
// stop() (any thread), the window closes or the session ends. FrameMirror sits between the
// session and its front end as the SessionObserver: it forwards every event and keeps a copy
// of the client's primary surface under a mutex, updated from the areas the display channel
// reports, so the emulation thread can compare the client's frame with the server's rendering
// at a checkpoint without touching the session (which belongs to the client thread).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "client/png_io.h"
#include "client/session.h"
#include "protocol/canvas/canvas.h"
#include "server/spice_server.h"

namespace qxlbox::app {

class FrameMirror final : public client::SessionObserver {
public:
    FrameMirror() = default;
    // Events also go to `next` (the SDL view); set before the session starts.
    void set_next(client::SessionObserver* next) { next_ = next; }

    // SessionObserver (client thread).
    void on_primary_created(const proto::Surface& surface) override;
    void on_primary_updated(const proto::Rect& area) override;
    void on_mark(unsigned mark_count) override;
    void on_cursor_changed() override;
    void on_mouse_mode(client::MouseMode mode) override;
    void on_server_name(const std::string& name) override;
    void set_session(const client::Session* session) { session_ = session; }

    // Any thread. The client's frame as RGB once it equals `expected`, or the last frame once
    // nothing has changed for `quiet` (nullopt: the client never had a primary surface).
    std::optional<client::RgbImage> wait_for(const client::RgbImage& expected, std::chrono::milliseconds quiet);
    // Any thread: the current frame.
    std::optional<client::RgbImage> frame() const;

private:
    void copy_area(const proto::Surface& from, const proto::Rect& area);

    client::SessionObserver* next_ = nullptr;
    const client::Session* session_ = nullptr;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::unique_ptr<proto::Surface> copy_;
    std::uint64_t generation_ = 0;
};

enum class ClientFrontEnd {
    Auto,      // SDL window when $DISPLAY is set and SDL starts, headless otherwise
    Headless,  // no window
};

struct BuiltinClientOptions {
    std::uint16_t port = 0;  // the emulator's server on 127.0.0.1
    ClientFrontEnd front_end = ClientFrontEnd::Auto;
    // Headless only: called about every 50 ms while the session runs; false ends the run.
    std::function<bool(client::Session&)> on_tick;
    std::string name = "qxlbox";  // prefixes messages
};

class BuiltinClient {
public:
    explicit BuiltinClient(BuiltinClientOptions options) : options_(std::move(options)) {}

    FrameMirror& mirror() { return mirror_; }
    // Runs the session until stop(), the window closes, on_tick says stop or the session
    // ends. Returns false with `error` when the client could not run or the session failed.
    bool run(std::string& error);
    // Any thread.
    void stop();
    bool window_closed() const { return window_closed_.load(); }
    bool used_window() const { return used_window_.load(); }
    // The run is over (stopped, closed or failed).
    bool finished() const { return finished_.load(); }

private:
    bool run_headless(client::Session& session, std::string& error);

    BuiltinClientOptions options_;
    FrameMirror mirror_;
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> sdl_running_{false};
    std::atomic<bool> window_closed_{false};
    std::atomic<bool> used_window_{false};
    std::atomic<bool> finished_{false};
};

// Waits (host time, at most `timeout`) until a client's display channel has completed
// DISPLAY_INIT on `server`. Starting the guest only then gives the client every drawable
// through the display channel instead of whatever image it gets at connect time, so its
// frames do not depend on when the connect happened. False on timeout or when `client`
// gave up first.
bool wait_for_display_client(server::SpiceServer& server, const BuiltinClient& client, std::chrono::milliseconds timeout);

// SIGINT/SIGTERM set a flag instead of killing the process (for --linger and the demo).
void catch_stop_signals();
bool stop_signalled();

}  // namespace qxlbox::app
