#include "app/builtin_client.h"

#include <SDL.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "client/sdl_view.h"

namespace qxlbox::app {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int) { g_stop_signal = 1; }

}  // namespace

void catch_stop_signals() {
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
}

bool stop_signalled() { return g_stop_signal != 0; }

// ---- FrameMirror ----

void FrameMirror::on_primary_created(const proto::Surface& surface) {
    {
        std::lock_guard lock(mutex_);
        copy_ = proto::Surface::create(surface.format(), surface.width(), surface.height());
        if (copy_) {
            std::memcpy(copy_->data(), surface.data(), std::size_t{surface.stride()} * surface.height());
        }
        ++generation_;
    }
    changed_.notify_all();
    if (next_) next_->on_primary_created(surface);
}

void FrameMirror::copy_area(const proto::Surface& from, const proto::Rect& area) {
    if (!copy_ || copy_->format() != from.format() || copy_->width() != from.width() ||
        copy_->height() != from.height()) {
        return;
    }
    const std::int32_t left = std::max<std::int32_t>(area.left, 0);
    const std::int32_t top = std::max<std::int32_t>(area.top, 0);
    const std::int32_t right = std::min<std::int32_t>(area.right, static_cast<std::int32_t>(from.width()));
    const std::int32_t bottom = std::min<std::int32_t>(area.bottom, static_cast<std::int32_t>(from.height()));
    if (left >= right || top >= bottom) return;
    const unsigned bpp = proto::surface_format_bpp(from.format());
    // Whole bytes around the area (1-bit formats share bytes between neighbours).
    const std::size_t first = std::size_t{static_cast<std::uint32_t>(left)} * bpp / 8;
    const std::size_t last = (std::size_t{static_cast<std::uint32_t>(right)} * bpp + 7) / 8;
    for (std::int32_t y = top; y < bottom; ++y) {
        const std::size_t row = static_cast<std::size_t>(y) * from.stride();
        std::memcpy(copy_->data() + row + first, from.data() + row + first, last - first);
    }
}

void FrameMirror::on_primary_updated(const proto::Rect& area) {
    if (session_) {
        if (const proto::Surface* primary = session_->primary_surface()) {
            std::lock_guard lock(mutex_);
            copy_area(*primary, area);
            ++generation_;
        }
        changed_.notify_all();
    }
    if (next_) next_->on_primary_updated(area);
}

void FrameMirror::on_mark(unsigned mark_count) {
    if (next_) next_->on_mark(mark_count);
}
void FrameMirror::on_cursor_changed() {
    if (next_) next_->on_cursor_changed();
}
void FrameMirror::on_mouse_mode(client::MouseMode mode) {
    if (next_) next_->on_mouse_mode(mode);
}
void FrameMirror::on_server_name(const std::string& name) {
    if (next_) next_->on_server_name(name);
}

std::optional<client::RgbImage> FrameMirror::frame() const {
    std::lock_guard lock(mutex_);
    if (!copy_) return std::nullopt;
    return client::surface_to_rgb(*copy_);
}

std::optional<client::RgbImage> FrameMirror::wait_for(const client::RgbImage& expected,
                                                      std::chrono::milliseconds quiet) {
    using Clock = std::chrono::steady_clock;
    std::unique_lock lock(mutex_);
    std::uint64_t seen = generation_;
    auto quiet_since = Clock::now();
    std::optional<client::RgbImage> last;
    for (;;) {
        if (copy_) {
            last = client::surface_to_rgb(*copy_);
            if (*last == expected) return last;
        }
        const auto deadline = quiet_since + quiet;
        changed_.wait_until(lock, deadline, [&] { return generation_ != seen; });
        if (generation_ != seen) {
            seen = generation_;
            quiet_since = Clock::now();
        } else if (Clock::now() >= deadline) {
            if (copy_) last = client::surface_to_rgb(*copy_);
            return last;
        }
    }
}

// ---- BuiltinClient ----

void BuiltinClient::stop() {
    stop_requested_.store(true);
    if (sdl_running_.load()) {
        // SDL's event queue is the one thread-safe way into the window's loop.
        SDL_Event quit{};
        quit.type = SDL_QUIT;
        SDL_PushEvent(&quit);
    }
}

bool BuiltinClient::run_headless(client::Session& session, std::string& error) {
    using Clock = std::chrono::steady_clock;
    auto last_tick = Clock::now();
    while (!stop_requested_.load()) {
        if (!session.poll(20)) {
            error = session.error();
            return false;
        }
        if (options_.on_tick && Clock::now() - last_tick >= std::chrono::milliseconds(50)) {
            last_tick = Clock::now();
            if (!options_.on_tick(session)) return true;
        }
    }
    return true;
}

bool wait_for_display_client(server::SpiceServer& server, const BuiltinClient& client,
                             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!server.stats().display_client) {
        if (client.finished() || std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

bool BuiltinClient::run(std::string& error) {
    struct Finished {
        std::atomic<bool>& flag;
        ~Finished() { flag.store(true); }
    } finished{finished_};
    client::SessionOptions so;
    so.endpoint.host = "127.0.0.1";
    so.endpoint.port = options_.port;
    so.log = [](const std::string&) {};
    const char* display = std::getenv("DISPLAY");
    if (options_.front_end == ClientFrontEnd::Auto && display && *display) {
        client::SdlView view;
        std::string why;
        if (view.init(why)) {
            used_window_.store(true);
            mirror_.set_next(&view);
            client::Session session(so, &mirror_);
            mirror_.set_session(&session);
            sdl_running_.store(true);
            bool ok = false;
            if (stop_requested_.load()) {
                ok = true;
            } else if (!session.connect()) {
                error = session.error();
            } else if (view.run(session, error)) {
                ok = true;
                if (!stop_requested_.load()) window_closed_.store(true);
            }
            sdl_running_.store(false);
            mirror_.set_session(nullptr);
            mirror_.set_next(nullptr);
            return ok;
        }
    }
    client::Session session(so, &mirror_);
    mirror_.set_session(&session);
    bool ok = false;
    if (!session.connect()) {
        error = session.error();
    } else {
        ok = run_headless(session, error);
    }
    mirror_.set_session(nullptr);
    return ok;
}

}  // namespace qxlbox::app
