#include "hw/i8042/i8042.h"

#include <algorithm>

namespace qxlbox::hw {

namespace {

constexpr std::uint16_t kDataPort = 0x60;
constexpr std::uint16_t kCommandPort = 0x64;

// Status register bits.
constexpr std::uint8_t kStatusOutputFull = 0x01;
constexpr std::uint8_t kStatusSystemFlag = 0x04;
constexpr std::uint8_t kStatusCommand = 0x08;  // last write went to 0x64
constexpr std::uint8_t kStatusUnlocked = 0x10;
constexpr std::uint8_t kStatusAuxData = 0x20;

// Command byte bits.
constexpr std::uint8_t kCmdKbdIrq = 0x01;
constexpr std::uint8_t kCmdAuxIrq = 0x02;
constexpr std::uint8_t kCmdSystemFlag = 0x04;
constexpr std::uint8_t kCmdKbdDisable = 0x10;
constexpr std::uint8_t kCmdAuxDisable = 0x20;
constexpr std::uint8_t kCmdTranslate = 0x40;

constexpr std::uint8_t kAck = 0xfa;
constexpr std::uint8_t kResend = 0xfe;
constexpr std::uint8_t kSelfTestPassed = 0xaa;

// Set 1 make code -> set 2 make code, index = set 1 code (0x00..0x5d; 0 = none).
constexpr std::uint8_t kSet1ToSet2[0x5e] = {
    0x00, 0x76, 0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, 0x3d, 0x3e, 0x46, 0x45, 0x4e, 0x55, 0x66, 0x0d,  // 00
    0x15, 0x1d, 0x24, 0x2d, 0x2c, 0x35, 0x3c, 0x43, 0x44, 0x4d, 0x54, 0x5b, 0x5a, 0x14, 0x1c, 0x1b,  // 10
    0x23, 0x2b, 0x34, 0x33, 0x3b, 0x42, 0x4b, 0x4c, 0x52, 0x0e, 0x12, 0x5d, 0x1a, 0x22, 0x21, 0x2a,  // 20
    0x32, 0x31, 0x3a, 0x41, 0x49, 0x4a, 0x59, 0x7c, 0x11, 0x29, 0x58, 0x05, 0x06, 0x04, 0x0c, 0x03,  // 30
    0x0b, 0x83, 0x0a, 0x01, 0x09, 0x77, 0x7e, 0x6c, 0x75, 0x7d, 0x7b, 0x6b, 0x73, 0x74, 0x79, 0x69,  // 40
    0x72, 0x7a, 0x70, 0x71, 0x84, 0x00, 0x61, 0x78, 0x07, 0x00, 0x00, 0x1f, 0x27, 0x2f,              // 50
};

}  // namespace

std::uint8_t I8042::set1_to_set2(std::uint8_t code, bool extended) {
    const std::uint8_t make = code & 0x7f;
    if (make >= sizeof(kSet1ToSet2)) return 0;
    if (!extended && make >= 0x5b) return 0;  // Windows/menu keys exist only with E0
    return kSet1ToSet2[make];
}

I8042::I8042(machine::PortSpace& ports, machine::Scheduler& clock, machine::IrqLine kbd_irq, machine::IrqLine aux_irq,
             Config config)
    : clock_(clock), kbd_irq_(kbd_irq), aux_irq_(aux_irq), config_(config) {
    machine::PortOps data;
    data.allowed_sizes = machine::kAccess8;
    data.read = [this](std::uint16_t, unsigned) -> std::uint32_t { return read_data(); };
    data.write = [this](std::uint16_t, unsigned, std::uint32_t v) { write_data(static_cast<std::uint8_t>(v)); };
    data_port_ = ports.register_ports("i8042 data", kDataPort, 1, data);
    machine::PortOps cmd;
    cmd.allowed_sizes = machine::kAccess8;
    cmd.read = [this](std::uint16_t, unsigned) -> std::uint32_t { return read_status(); };
    cmd.write = [this](std::uint16_t, unsigned, std::uint32_t v) { write_command(static_cast<std::uint8_t>(v)); };
    cmd_port_ = ports.register_ports("i8042 command", kCommandPort, 1, cmd);
}

void I8042::enable_host_input() { schedule_poll(); }

I8042::~I8042() {
    if (poll_event_ != machine::Scheduler::kNoEvent) clock_.cancel(poll_event_);
}

std::uint8_t I8042::read_status() const {
    std::uint8_t s = kStatusUnlocked;
    if (out_full_) s |= kStatusOutputFull;
    if (out_full_ && out_from_aux_) s |= kStatusAuxData;
    if (command_byte_ & kCmdSystemFlag) s |= kStatusSystemFlag;
    if (pending_ != Pending::None) s |= kStatusCommand;
    return s;
}

std::uint8_t I8042::read_data() {
    const std::uint8_t v = out_byte_;
    if (out_full_) {
        out_full_ = false;
        update_irqs();
        refill_output();
    }
    return v;
}

void I8042::controller_reply(std::uint8_t v) {
    if (ctrl_queue_.size() < kQueueLimit) ctrl_queue_.push_back(v);
    refill_output();
}

void I8042::refill_output() {
    if (out_full_) return;
    // Controller results are not subject to the port disable bits.
    if (!ctrl_queue_.empty()) {
        out_byte_ = ctrl_queue_.front();
        ctrl_queue_.pop_front();
        out_from_aux_ = false;
        out_full_ = true;
        update_irqs();
        return;
    }
    // Keyboard bytes first, as the real controller services port 1 before port 2.
    if (!kbd_queue_.empty() && !(command_byte_ & kCmdKbdDisable)) {
        out_byte_ = kbd_queue_.front();
        kbd_queue_.pop_front();
        out_from_aux_ = false;
        out_full_ = true;
    } else if (!aux_queue_.empty() && !(command_byte_ & kCmdAuxDisable)) {
        out_byte_ = aux_queue_.front();
        aux_queue_.pop_front();
        out_from_aux_ = true;
        out_full_ = true;
    }
    update_irqs();
}

void I8042::update_irqs() {
    const bool kbd = out_full_ && !out_from_aux_ && (command_byte_ & kCmdKbdIrq);
    const bool aux = out_full_ && out_from_aux_ && (command_byte_ & kCmdAuxIrq);
    if (kbd_irq_.level() != kbd) kbd_irq_.set(kbd);
    if (aux_irq_.level() != aux) aux_irq_.set(aux);
}

void I8042::kbd_reply(std::uint8_t v) {
    if (kbd_queue_.size() < kQueueLimit) kbd_queue_.push_back(v);
    refill_output();
}

void I8042::aux_reply(std::uint8_t v) {
    if (aux_queue_.size() < kQueueLimit) aux_queue_.push_back(v);
    refill_output();
}

// Controller-generated bytes (command results) go out through the keyboard path.
void I8042::write_command(std::uint8_t v) {
    pending_ = Pending::None;
    switch (v) {
    case 0x20: controller_reply(command_byte_); break;
    case 0x60: pending_ = Pending::WriteCommandByte; break;
    case 0xa7: command_byte_ |= kCmdAuxDisable; break;
    case 0xa8: command_byte_ &= static_cast<std::uint8_t>(~kCmdAuxDisable); refill_output(); break;
    case 0xa9: controller_reply(0x00); break;  // aux interface test: passed
    case 0xaa:  // controller self test
        kbd_queue_.clear();
        aux_queue_.clear();
        out_full_ = false;
        controller_reply(0x55);
        break;
    case 0xab: controller_reply(0x00); break;  // keyboard interface test: passed
    case 0xad: command_byte_ |= kCmdKbdDisable; break;
    case 0xae: command_byte_ &= static_cast<std::uint8_t>(~kCmdKbdDisable); refill_output(); break;
    case 0xc0: controller_reply(0x00); break;  // input port
    case 0xd0: controller_reply(output_port_); break;
    case 0xd1: pending_ = Pending::WriteOutputPort; break;
    case 0xd2: pending_ = Pending::WriteKbdOutput; break;
    case 0xd3: pending_ = Pending::WriteAuxOutput; break;
    case 0xd4: pending_ = Pending::WriteAux; break;
    default:
        if (v >= 0xf0) {
            // Pulse output port lines; bit 0 low = CPU reset.
            if (!(v & 0x01) && reset_handler_) reset_handler_();
        }
        break;
    }
}

void I8042::write_data(std::uint8_t v) {
    const Pending p = pending_;
    pending_ = Pending::None;
    switch (p) {
    case Pending::WriteCommandByte:
        command_byte_ = v;
        update_irqs();
        refill_output();
        return;
    case Pending::WriteOutputPort:
        output_port_ = v;
        if (!(v & 0x01) && reset_handler_) reset_handler_();
        return;
    case Pending::WriteKbdOutput: kbd_reply(v); return;
    case Pending::WriteAuxOutput: aux_reply(v); return;
    case Pending::WriteAux:
        command_byte_ &= static_cast<std::uint8_t>(~kCmdAuxDisable);
        aux_command(v);
        return;
    case Pending::None: break;
    }
    command_byte_ &= static_cast<std::uint8_t>(~kCmdKbdDisable);
    keyboard_command(v);
}

void I8042::keyboard_command(std::uint8_t v) {
    const KbdPending kp = kbd_pending_;
    kbd_pending_ = KbdPending::None;
    switch (kp) {
    case KbdPending::Leds:
        leds_ = v & 0x07;
        if (led_handler_) led_handler_(leds_);
        kbd_reply(kAck);
        return;
    case KbdPending::ScancodeSet:
        if (v == 0) {
            kbd_reply(kAck);
            kbd_reply(scancode_set_);
        } else if (v <= 3) {
            scancode_set_ = v;
            kbd_reply(kAck);
        } else {
            kbd_reply(kResend);
        }
        return;
    case KbdPending::Typematic: kbd_reply(kAck); return;
    case KbdPending::None: break;
    }
    switch (v) {
    case 0xed: kbd_pending_ = KbdPending::Leds; kbd_reply(kAck); break;
    case 0xee: kbd_reply(0xee); break;
    case 0xf0: kbd_pending_ = KbdPending::ScancodeSet; kbd_reply(kAck); break;
    case 0xf2: kbd_reply(kAck); kbd_reply(0xab); kbd_reply(0x83); break;
    case 0xf3: kbd_pending_ = KbdPending::Typematic; kbd_reply(kAck); break;
    case 0xf4: kbd_enabled_ = true; kbd_reply(kAck); break;
    case 0xf5: kbd_enabled_ = false; kbd_reply(kAck); break;
    case 0xf6: kbd_enabled_ = true; scancode_set_ = 2; kbd_reply(kAck); break;
    case 0xff:
        kbd_queue_.clear();
        kbd_enabled_ = true;
        scancode_set_ = 2;
        leds_ = 0;
        kbd_reply(kAck);
        kbd_reply(kSelfTestPassed);
        break;
    default: kbd_reply(kResend); break;
    }
}

void I8042::aux_command(std::uint8_t v) {
    const AuxPending ap = aux_pending_;
    aux_pending_ = AuxPending::None;
    if (ap == AuxPending::SampleRate) {
        sample_rate_ = v;
        rate_history_[0] = rate_history_[1];
        rate_history_[1] = rate_history_[2];
        rate_history_[2] = v;
        if (rate_history_[0] == 200 && rate_history_[1] == 100 && rate_history_[2] == 80) mouse_id_ = 3;
        aux_reply(kAck);
        return;
    }
    if (ap == AuxPending::Resolution) {
        resolution_ = v & 3;
        aux_reply(kAck);
        return;
    }
    if (aux_wrap_ && v != 0xec && v != 0xff) {
        aux_reply(v);
        return;
    }
    switch (v) {
    case 0xe6: scaling_2to1_ = false; aux_reply(kAck); break;
    case 0xe7: scaling_2to1_ = true; aux_reply(kAck); break;
    case 0xe8: aux_pending_ = AuxPending::Resolution; aux_reply(kAck); break;
    case 0xe9:
        aux_reply(kAck);
        aux_reply(static_cast<std::uint8_t>((aux_remote_ ? 0x40 : 0) | (aux_reporting_ ? 0x20 : 0) |
                                            (scaling_2to1_ ? 0x10 : 0) | ((buttons_ & 1) << 2) |
                                            ((buttons_ & 2) >> 1) | ((buttons_ & 4) >> 1)));
        aux_reply(resolution_);
        aux_reply(sample_rate_);
        break;
    case 0xea: aux_remote_ = false; aux_reply(kAck); break;
    case 0xeb:
        aux_reply(kAck);
        send_mouse_packet(acc_dx_, acc_dy_, acc_dz_);
        acc_dx_ = acc_dy_ = acc_dz_ = 0;
        break;
    case 0xec: aux_wrap_ = false; aux_reply(kAck); break;
    case 0xee: aux_wrap_ = true; aux_reply(kAck); break;
    case 0xf0: aux_remote_ = true; aux_reply(kAck); break;
    case 0xf2: aux_reply(kAck); aux_reply(mouse_id_); break;
    case 0xf3: aux_pending_ = AuxPending::SampleRate; aux_reply(kAck); break;
    case 0xf4: aux_reporting_ = true; aux_reply(kAck); break;
    case 0xf5: aux_reporting_ = false; aux_reply(kAck); break;
    case 0xf6:
        sample_rate_ = 100;
        resolution_ = 2;
        scaling_2to1_ = false;
        aux_reporting_ = false;
        aux_reply(kAck);
        break;
    case 0xff:
        aux_queue_.clear();
        sample_rate_ = 100;
        resolution_ = 2;
        scaling_2to1_ = false;
        aux_reporting_ = false;
        aux_remote_ = false;
        aux_wrap_ = false;
        mouse_id_ = 0;
        aux_reply(kAck);
        aux_reply(kSelfTestPassed);
        aux_reply(0x00);
        break;
    default: aux_reply(kResend); break;
    }
}

void I8042::send_key(std::uint8_t code) {
    if (!kbd_enabled_) return;
    if (code == 0xe0) {
        e0_prefix_ = true;
        kbd_reply(0xe0);
        return;
    }
    const bool extended = e0_prefix_;
    e0_prefix_ = false;
    if ((command_byte_ & kCmdTranslate) || scancode_set_ == 1) {
        // The guest sees set 1 either through translation or because it chose set 1.
        kbd_reply(code);
        return;
    }
    const std::uint8_t set2 = set1_to_set2(code, extended);
    if (set2 == 0) return;
    if (code & 0x80) kbd_reply(0xf0);
    kbd_reply(set2);
}

void I8042::send_mouse_packet(std::int32_t dx, std::int32_t dy, std::int32_t dz) {
    // PS/2 y grows upward; SPICE's dy grows downward.
    std::int32_t y = -dy;
    const bool x_overflow = dx < -256 || dx > 255;
    const bool y_overflow = y < -256 || y > 255;
    dx = std::clamp(dx, -256, 255);
    y = std::clamp(y, -256, 255);
    std::uint8_t b0 = 0x08;
    if (buttons_ & 1) b0 |= 0x01;  // left
    if (buttons_ & 4) b0 |= 0x02;  // right
    if (buttons_ & 2) b0 |= 0x04;  // middle
    if (dx < 0) b0 |= 0x10;
    if (y < 0) b0 |= 0x20;
    if (x_overflow) b0 |= 0x40;
    if (y_overflow) b0 |= 0x80;
    const std::size_t needed = mouse_id_ == 3 ? 4 : 3;
    if (aux_queue_.size() + needed > kQueueLimit) return;  // guest not reading: drop whole packets only
    aux_queue_.push_back(b0);
    aux_queue_.push_back(static_cast<std::uint8_t>(dx & 0xff));
    aux_queue_.push_back(static_cast<std::uint8_t>(y & 0xff));
    if (mouse_id_ == 3) aux_queue_.push_back(static_cast<std::uint8_t>(std::clamp(dz, -8, 7) & 0xff));
    refill_output();
}

void I8042::inject_scancodes(const std::vector<std::uint8_t>& bytes) {
    std::lock_guard<std::mutex> lock(input_mutex_);
    for (std::uint8_t b : bytes) {
        if (host_events_.size() >= kHostQueueLimit) break;
        HostEvent e;
        e.is_key = true;
        e.code = b;
        host_events_.push_back(e);
    }
}

void I8042::inject_mouse(std::int32_t dx, std::int32_t dy, std::int32_t dz, std::uint32_t buttons) {
    std::lock_guard<std::mutex> lock(input_mutex_);
    if (host_events_.size() >= kHostQueueLimit) return;
    HostEvent e;
    e.is_key = false;
    e.dx = dx;
    e.dy = dy;
    e.dz = dz;
    e.buttons = buttons & 7;
    host_events_.push_back(e);
}

void I8042::poll_input() {
    std::deque<HostEvent> events;
    {
        std::lock_guard<std::mutex> lock(input_mutex_);
        events.swap(host_events_);
    }
    for (const HostEvent& e : events) {
        if (e.is_key) {
            send_key(e.code);
            continue;
        }
        buttons_ = e.buttons;
        if (aux_remote_) {
            acc_dx_ += e.dx;
            acc_dy_ += e.dy;
            acc_dz_ += e.dz;
        } else if (aux_reporting_) {
            send_mouse_packet(e.dx, e.dy, e.dz);
        }
    }
    schedule_poll();
}

void I8042::schedule_poll() {
    if (poll_event_ != machine::Scheduler::kNoEvent && clock_.pending(poll_event_)) return;
    poll_event_ = clock_.schedule_in(clock_.ns_to_cycles(config_.input_poll_ns), [this] {
        poll_event_ = machine::Scheduler::kNoEvent;
        poll_input();
    });
}

}  // namespace qxlbox::hw
