// Main, cursor and inputs channels (spice-protocol.md §4, §6, §7). The display channel has its
// own header (display_channel.h).
#pragma once

#include <unordered_map>

#include "client/channel.h"
#include "client/session.h"

namespace qxlbox::client {

// Main: INIT -> ATTACH_CHANNELS, CHANNELS_LIST -> the session links the listed channels,
// NAME for the window title, MOUSE_MODE. It never sends CLIENT_INFO (libspice-server drops the
// client for it, §10c).
class MainChannel final : public Channel {
public:
    MainChannel(std::unique_ptr<Socket> socket, bool mini_header, Session& session);
    void request_mouse_mode(MouseMode mode);

private:
    bool handle_message(std::uint16_t type, wire::ByteView body) override;
    Session& session_;
};

// Cursor: shapes (alpha, mono, color 4/16/32 bpp), move, hide, and the cursor cache.
class CursorChannel final : public Channel {
public:
    CursorChannel(std::uint8_t id, std::unique_ptr<Socket> socket, bool mini_header, Session& session);
    const CursorState& state() const { return state_; }

private:
    bool handle_message(std::uint16_t type, wire::ByteView body) override;
    // Takes the cursor of an INIT or SET. False after fail() on bad input.
    bool set_shape(std::uint16_t flags, const proto::CursorShapePtr& shape);
    Session& session_;
    CursorState state_;
    std::unordered_map<std::uint64_t, std::pair<proto::CursorShapePtr, std::shared_ptr<const std::vector<std::uint32_t>>>>
        cache_;
};

// Converts a cursor shape to ARGB32 (transparent where the shape's mask says so). False for
// types spice-gtk does not draw either (COLOR8, COLOR24) or data shorter than the shape needs.
bool cursor_to_argb(const proto::CursorShape& shape, std::vector<std::uint32_t>& argb, std::string& error);

// Inputs: keys as PC scancodes, mouse in either mode with MOTION_ACK flow control: at most
// 2 * SPICE_INPUT_MOTION_ACK_BUNCH unacknowledged motion messages; further motion is merged.
class InputsChannel final : public Channel {
public:
    InputsChannel(std::unique_ptr<Socket> socket, bool mini_header, Session& session);
    void key(std::uint32_t scancode, bool down);
    void motion(std::int32_t dx, std::int32_t dy);
    void position(std::int32_t x, std::int32_t y, std::uint8_t display_id);
    void button(std::uint8_t button, bool pressed);
    std::uint64_t motion_acks() const { return motion_acks_; }
    std::uint32_t unacked_motion() const { return unacked_motion_; }

private:
    bool handle_message(std::uint16_t type, wire::ByteView body) override;
    void flush_motion();
    Session& session_;
    std::uint16_t buttons_state_ = 0;
    std::uint32_t unacked_motion_ = 0;
    std::uint64_t motion_acks_ = 0;
    bool pending_motion_ = false;
    bool pending_is_position_ = false;
    std::int32_t pending_dx_ = 0, pending_dy_ = 0;
    std::int32_t pending_x_ = 0, pending_y_ = 0;
    std::uint8_t pending_display_ = 0;
};

inline constexpr std::uint32_t kMotionAckBunch = wire::kInputMotionAckBunch;

}  // namespace qxlbox::client
