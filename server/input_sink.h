// Where the inputs channel delivers keyboard and mouse events (spice-protocol.md §7).
//
// Theory of operation: the server decodes INPUTS messages and calls this interface on its
// network I/O thread; the board connects it to an i8042 PS/2 controller (server mouse mode)
// or to the agent (client mouse mode). Implementations must hand events over to the
// emulation thread themselves (a queue), never touch devices from the calling thread.
// Keyboard input is PC/AT scancode set 1 bytes in order (E0-prefixed keys arrive as two
// bytes); the server has already unpacked KEY_DOWN/KEY_UP codes and KEY_SCANCODE runs.
#pragma once

#include <cstdint>
#include <span>

namespace qxlbox::server {

// SPICE mouse button state mask bits.
inline constexpr std::uint16_t kMouseButtonLeft = 0x1;
inline constexpr std::uint16_t kMouseButtonMiddle = 0x2;
inline constexpr std::uint16_t kMouseButtonRight = 0x4;
inline constexpr std::uint16_t kMouseButtonUp = 0x8;
inline constexpr std::uint16_t kMouseButtonDown = 0x10;

// SPICE keyboard modifier (LED) bits.
inline constexpr std::uint16_t kModifierScrollLock = 1;
inline constexpr std::uint16_t kModifierNumLock = 2;
inline constexpr std::uint16_t kModifierCapsLock = 4;

class InputSink {
public:
    virtual ~InputSink() = default;
    virtual void key_scancodes(std::span<const std::uint8_t> bytes) = 0;
    // The client's lock-key state; the guest should toggle its locks to match.
    virtual void key_modifiers(std::uint16_t modifiers) = 0;
    // Server mouse mode: relative motion.
    virtual void mouse_motion(std::int32_t dx, std::int32_t dy, std::uint16_t buttons) = 0;
    // Client mouse mode: absolute position on display `display_id`.
    virtual void mouse_position(std::uint32_t x, std::uint32_t y, std::uint16_t buttons, std::uint8_t display_id) = 0;
    // A press or release; `button` is SPICE's button number (LEFT 1 .. EXTRA 7).
    virtual void mouse_button(std::uint8_t button, bool pressed, std::uint16_t buttons) = 0;
    // Current guest LED state (kModifier* bits). Polled by the I/O thread, so it must be cheap
    // and thread-safe (an atomic); a change is sent to the client as KEY_MODIFIERS.
    virtual std::uint16_t keyboard_leds() { return 0; }
};

}  // namespace qxlbox::server
