// client::Session: one connection to a SPICE server, the public API of the client library.
//
// Theory of operation: connect() links the main channel (spice-protocol.md §10a steps 1-5).
// poll() then runs every channel's I/O on the caller's thread: on MAIN_INIT we send
// ATTACH_CHANNELS, on CHANNELS_LIST we link display 0, cursor 0 and inputs 0 with the
// session id (display sends DISPLAY_INIT at once, §10c), and each channel answers PINGs and
// ACK windows. Display messages update the surfaces through the canvas; the observer hears of
// primary-surface changes, updates and MARKs. Any protocol violation ends the session with a
// reason (error()); nothing blocks longer than the timeouts given. Front ends (SDL window,
// headless PNG, tests) drive the same object.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/channel.h"
#include "client/link.h"
#include "client/net.h"
#include "protocol/canvas/canvas.h"
#include "protocol/draw.h"

namespace qxlbox::client {

class MainChannel;
class DisplayChannel;
class CursorChannel;
class InputsChannel;

enum class MouseMode : std::uint32_t { Server = 1, Client = 2 };

// Mouse buttons as SPICE numbers them (§7).
enum class MouseButton : std::uint8_t { Left = 1, Middle = 2, Right = 3, WheelUp = 4, WheelDown = 5, Side = 6, Extra = 7 };

struct SessionOptions {
    Endpoint endpoint;
    std::string password;
    int link_timeout_ms = 10000;
    bool connect_cursor = true;
    bool connect_inputs = true;
    // Link the channels CHANNELS_LIST announces (off only for the fuzz target).
    bool follow_channels_list = true;
    // Ask for client (absolute) mouse mode when the server offers it, as spice-gtk does.
    bool prefer_client_mouse = true;
    // Defaults to stderr with a "qxlbox view: " prefix.
    std::function<void(const std::string&)> log;
};

// The cursor as the server last described it; `shape` is null for "no cursor" shapes.
struct CursorState {
    bool visible = false;
    proto::Point16 position;
    std::shared_ptr<const proto::CursorShape> shape;
    // ARGB32 pixels (premultiplied not applied) of `shape`, width*height, for front ends.
    std::shared_ptr<const std::vector<std::uint32_t>> argb;
};

class SessionObserver {
public:
    virtual ~SessionObserver() = default;
    virtual void on_primary_created(const proto::Surface& /*surface*/) {}
    virtual void on_primary_updated(const proto::Rect& /*area*/) {}
    virtual void on_mark(unsigned /*mark_count*/) {}
    virtual void on_cursor_changed() {}
    virtual void on_mouse_mode(MouseMode /*mode*/) {}
    virtual void on_server_name(const std::string& /*name*/) {}
};

struct SessionStats {
    std::uint64_t draws = 0;
    std::uint64_t draws_rejected = 0;
    std::uint64_t pongs_sent = 0;
    std::uint64_t acks_sent = 0;
    std::uint64_t motion_acks = 0;
};

class Session final : public ChannelHost {
public:
    explicit Session(SessionOptions options, SessionObserver* observer = nullptr);
    ~Session() override;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Links the main channel. False with error() set on failure.
    bool connect();
    // Test hook: runs the session over already connected sockets. `open_channel` replaces TCP
    // for every channel (main first); it returns a connected socket or null.
    bool connect_with(std::function<std::unique_ptr<Socket>(std::uint8_t type, std::uint8_t id)> open_channel);
    // Runs channel I/O for at most `timeout_ms`. False once the session has ended.
    bool poll(int timeout_ms);
    bool ended() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    // Ends the session (error() becomes `why`); sockets close.
    void close(const std::string& why);

    const proto::Surface* primary_surface() const;
    unsigned marks() const;
    const std::string& server_name() const { return server_name_; }
    MouseMode mouse_mode() const { return mouse_mode_; }
    const CursorState& cursor() const;
    SessionStats stats() const;
    bool display_linked() const { return display_ != nullptr; }
    bool inputs_linked() const { return inputs_ != nullptr; }
    bool cursor_linked() const { return cursor_ != nullptr; }

    // Inputs (ignored until the inputs channel is linked).
    void key_down(std::uint32_t spice_scancode);
    void key_up(std::uint32_t spice_scancode);
    void mouse_motion(std::int32_t dx, std::int32_t dy);
    void mouse_position(std::int32_t x, std::int32_t y);
    void mouse_button(MouseButton button, bool pressed);
    void mouse_wheel(int steps);  // positive = up

    // Called by channels.
    void log(const std::string& line) override;
    std::uint64_t received_serial(std::uint8_t type, std::uint8_t id) override;
    SessionObserver& observer() { return *observer_; }
    void on_main_init(std::uint32_t session_id, std::uint32_t supported_modes, std::uint32_t current_mode);
    void on_mouse_mode(std::uint32_t supported_modes, std::uint32_t current_mode);
    void on_channels_list(const std::vector<std::pair<std::uint8_t, std::uint8_t>>& channels);
    void on_server_name(std::string name);

private:
    std::unique_ptr<Socket> open_socket(ChannelType type, std::uint8_t id, std::string& error);
    std::unique_ptr<Socket> open_linked(ChannelType type, std::uint8_t id, LinkResult& result, std::string& error);
    std::vector<Channel*> channels();

    SessionOptions options_;
    SessionObserver default_observer_;
    SessionObserver* observer_ = nullptr;
    std::function<std::unique_ptr<Socket>(std::uint8_t, std::uint8_t)> open_override_;
    std::string error_;
    std::uint32_t session_id_ = 0;
    MouseMode mouse_mode_ = MouseMode::Server;
    std::uint32_t supported_mouse_modes_ = 1;
    bool mouse_mode_requested_ = false;
    std::string server_name_;

    std::unique_ptr<MainChannel> main_;
    std::unique_ptr<DisplayChannel> display_;
    std::unique_ptr<CursorChannel> cursor_;
    std::unique_ptr<InputsChannel> inputs_;
};

}  // namespace qxlbox::client
