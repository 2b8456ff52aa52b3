#include "client/channels.h"

namespace qxlbox::client {

namespace {
namespace inputs_msg {
constexpr std::uint16_t kInit = 101;
constexpr std::uint16_t kKeyModifiers = 102;
constexpr std::uint16_t kMouseMotionAck = 111;
constexpr std::uint16_t kcKeyDown = 101;
constexpr std::uint16_t kcKeyUp = 102;
constexpr std::uint16_t kcMouseMotion = 111;
constexpr std::uint16_t kcMousePosition = 112;
constexpr std::uint16_t kcMousePress = 113;
constexpr std::uint16_t kcMouseRelease = 114;
}  // namespace inputs_msg

std::uint16_t button_mask(std::uint8_t button) {
    return button >= 1 && button <= 7 ? static_cast<std::uint16_t>(1u << (button - 1)) : 0;
}
}  // namespace

InputsChannel::InputsChannel(std::unique_ptr<Socket> socket, bool mini_header, Session& session)
    : Channel(ChannelType::Inputs, 0, std::move(socket), mini_header, session), session_(session) {}

void InputsChannel::key(std::uint32_t scancode, bool down) {
    if (scancode == 0) return;
    std::uint32_t code = scancode;
    if (!down) {
        // Release sets bit 7 of the last scancode byte (E0-prefixed keys keep the prefix).
        code = (scancode & 0xff) == 0xe0 ? scancode | 0x8000 : scancode | 0x80;
    }
    send(down ? inputs_msg::kcKeyDown : inputs_msg::kcKeyUp, Writer().u32(code));
}

void InputsChannel::flush_motion() {
    if (!pending_motion_ || unacked_motion_ >= 2 * kMotionAckBunch) return;
    if (pending_is_position_) {
        send(inputs_msg::kcMousePosition, Writer()
                                              .u32(static_cast<std::uint32_t>(pending_x_))
                                              .u32(static_cast<std::uint32_t>(pending_y_))
                                              .u16(buttons_state_)
                                              .u8(pending_display_));
    } else {
        send(inputs_msg::kcMouseMotion, Writer().i32(pending_dx_).i32(pending_dy_).u16(buttons_state_));
        pending_dx_ = pending_dy_ = 0;
    }
    ++unacked_motion_;
    pending_motion_ = false;
}

void InputsChannel::motion(std::int32_t dx, std::int32_t dy) {
    if (pending_motion_ && pending_is_position_) pending_dx_ = pending_dy_ = 0;
    pending_is_position_ = false;
    pending_dx_ += dx;
    pending_dy_ += dy;
    pending_motion_ = true;
    flush_motion();
}

void InputsChannel::position(std::int32_t x, std::int32_t y, std::uint8_t display_id) {
    pending_is_position_ = true;
    pending_x_ = std::max(x, 0);
    pending_y_ = std::max(y, 0);
    pending_display_ = display_id;
    pending_motion_ = true;
    flush_motion();
}

void InputsChannel::button(std::uint8_t button, bool pressed) {
    // A press or release carries the state after the change; pending motion goes first so
    // the click lands where the pointer is.
    if (pending_motion_) {
        const auto saved = unacked_motion_;
        unacked_motion_ = 0;
        flush_motion();
        unacked_motion_ = saved + 1;
    }
    if (pressed) {
        buttons_state_ |= button_mask(button);
    } else {
        buttons_state_ &= static_cast<std::uint16_t>(~button_mask(button));
    }
    send(pressed ? inputs_msg::kcMousePress : inputs_msg::kcMouseRelease, Writer().u8(button).u16(buttons_state_));
}

bool InputsChannel::handle_message(std::uint16_t type, Reader body) {
    switch (type) {
        case inputs_msg::kInit:
        case inputs_msg::kKeyModifiers:
            return true;  // guest LED state; the window does not mirror it
        case inputs_msg::kMouseMotionAck:
            ++motion_acks_;
            unacked_motion_ = unacked_motion_ > kMotionAckBunch ? unacked_motion_ - kMotionAckBunch : 0;
            flush_motion();
            return true;
        default:
            (void)body;
            report_unknown(type);
            return true;
    }
}

}  // namespace qxlbox::client
