// SDL2 front end: one window showing the primary surface of a Session.
//
// The window is sized to the primary surface and follows SURFACE_CREATE; the title carries the
// server name and a short status. Keys go to the guest as SPICE scancodes. In client mouse
// mode the pointer sends absolute positions and the guest cursor becomes the SDL cursor; in
// server mode a click grabs the mouse (relative motion, guest cursor composited into the
// picture) and Ctrl+Alt releases it. Closing the window ends the session cleanly.
#pragma once

#include <string>

#include "client/session.h"

struct SDL_Window;
struct SDL_Renderer;
struct SDL_Texture;
struct SDL_Cursor;

namespace qxlbox::client {

class SdlView final : public SessionObserver {
public:
    SdlView() = default;
    ~SdlView() override;
    SdlView(const SdlView&) = delete;
    SdlView& operator=(const SdlView&) = delete;

    // Initialises SDL video. False with a reason (e.g. no display).
    bool init(std::string& error);
    // Runs until the window is closed (true) or the session ends (false, `error` says why).
    // `max_seconds` > 0 bounds the run (then true).
    bool run(Session& session, std::string& error, double max_seconds = 0);

    void on_primary_created(const proto::Surface& surface) override;
    void on_primary_updated(const proto::Rect& area) override;
    void on_mark(unsigned mark_count) override;
    void on_cursor_changed() override;
    void on_mouse_mode(MouseMode mode) override;
    void on_server_name(const std::string& name) override;

    unsigned frames_presented() const { return frames_presented_; }

private:
    void update_title();
    void upload(const proto::Surface& surface);
    void present();
    void set_grab(bool grab);
    void apply_cursor();
    void handle_events(bool& quit);

    Session* session_ = nullptr;
    SDL_Window* window_ = nullptr;
    SDL_Renderer* renderer_ = nullptr;
    SDL_Texture* texture_ = nullptr;
    SDL_Texture* cursor_texture_ = nullptr;
    SDL_Cursor* sdl_cursor_ = nullptr;
    bool sdl_ready_ = false;
    bool need_texture_ = false;
    bool dirty_ = false;
    proto::Rect dirty_rect_;
    std::uint32_t width_ = 0, height_ = 0;
    bool grabbed_ = false;
    bool cursor_dirty_ = false;
    MouseMode mouse_mode_ = MouseMode::Server;
    std::string server_name_;
    std::string status_ = "connecting";
    unsigned frames_presented_ = 0;
};

}  // namespace qxlbox::client
