#include "client/channels.h"

namespace qxlbox::client {

namespace {
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
    if (down) {
        send_message(wire::MsgcInputsKeyDown{code});
    } else {
        send_message(wire::MsgcInputsKeyUp{code});
    }
}

void InputsChannel::flush_motion() {
    if (!pending_motion_ || unacked_motion_ >= 2 * kMotionAckBunch) return;
    if (pending_is_position_) {
        send_message(wire::MsgcInputsMousePosition{static_cast<std::uint32_t>(pending_x_),
                                                   static_cast<std::uint32_t>(pending_y_), buttons_state_,
                                                   pending_display_});
    } else {
        send_message(wire::MsgcInputsMouseMotion{pending_dx_, pending_dy_, buttons_state_});
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
    if (pressed) {
        send_message(wire::MsgcInputsMousePress{button, buttons_state_});
    } else {
        send_message(wire::MsgcInputsMouseRelease{button, buttons_state_});
    }
}

bool InputsChannel::handle_message(std::uint16_t type, wire::ByteView body) {
    auto parsed = wire::InputsServerMessages::demarshal(type, body);
    if (!parsed) {
        if (parsed.error().code == wire::ErrorCode::UnknownMessage) {
            report_unknown(type);
            return true;
        }
        fail("malformed message " + std::to_string(type) + ": " + parsed.error().to_string());
        return false;
    }
    if (std::holds_alternative<wire::MsgInputsMouseMotionAck>(parsed.value())) {
        ++motion_acks_;
        unacked_motion_ = unacked_motion_ > kMotionAckBunch ? unacked_motion_ - kMotionAckBunch : 0;
        flush_motion();
    }
    // INIT and KEY_MODIFIERS carry the guest's LED state; the window does not mirror it.
    return true;
}

}  // namespace qxlbox::client
