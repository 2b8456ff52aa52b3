// i8042 PS/2 controller with a keyboard and a mouse (IRQ1 / IRQ12).
//
// Theory of operation: the controller has one output buffer (port 0x60) fed from two device
// queues, the keyboard's and the auxiliary (mouse) port's, one byte at a time; status (0x64)
// bit 0 says a byte is waiting and bit 5 says it came from the mouse. A byte moved into the
// output buffer raises IRQ1 or IRQ12 (edge, as on ISA) when the command byte enables it;
// reading 0x60 drops the line and moves the next byte in. Controller commands go to 0x64,
// their parameters and device commands to 0x60 (0xD4 routes the next one to the mouse).
//
// Host input (the SPICE inputs channel) arrives on another thread: inject_*() queue it under a
// lock and the emulation thread drains the queue at scheduled virtual times, so the guest sees
// input at deterministic points of its own timeline. Keyboard input is PC/AT set 1 (what SPICE
// sends); with translation turned off in the command byte the keyboard emits set 2 instead.
// The mouse is a standard 3-button PS/2 mouse, or an IntelliMouse (wheel, id 3) once the guest
// does the 200-100-80 sample-rate sequence. Reference: IBM PS/2 hardware technical reference
// and the OSDev descriptions of the 8042; behaviour checked against what QEMU's pckbd exposes.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "machine/bus.h"
#include "machine/clock.h"

namespace qxlbox::hw {

class I8042 {
public:
    struct Config {
        std::uint64_t input_poll_ns = 1'000'000;  // how often queued host input is examined (once enabled)
    };

    I8042(machine::PortSpace& ports, machine::Scheduler& clock, machine::IrqLine kbd_irq, machine::IrqLine aux_irq,
          Config config);
    I8042(machine::PortSpace& ports, machine::Scheduler& clock, machine::IrqLine kbd_irq, machine::IrqLine aux_irq)
        : I8042(ports, clock, kbd_irq, aux_irq, Config{}) {}
    ~I8042();

    // Starts the periodic pick-up of host input. Without a host input source (no SPICE
    // server) the board leaves it off, so an idle guest does not wake for nothing.
    void enable_host_input();

    // Thread-safe host input. Scancode bytes are set 1 (0xE0 prefixes included, break = |0x80).
    void inject_scancodes(const std::vector<std::uint8_t>& bytes);
    // Relative motion (dy > 0 = down, as SPICE sends it), wheel dz (> 0 = down), buttons
    // bit 0 left, bit 1 middle, bit 2 right.
    void inject_mouse(std::int32_t dx, std::int32_t dy, std::int32_t dz, std::uint32_t buttons);

    // Called when the guest asks for a system reset (command 0xFE) — the board decides.
    void set_reset_handler(std::function<void()> handler) { reset_handler_ = std::move(handler); }
    // Keyboard LED state as last set by the guest (bit 0 scroll, 1 num, 2 caps).
    std::uint8_t leds() const { return leds_; }
    void set_led_handler(std::function<void(std::uint8_t)> handler) { led_handler_ = std::move(handler); }

    // Direct register access (what the port handlers call); public for tests.
    std::uint8_t read_data();
    std::uint8_t read_status() const;
    void write_data(std::uint8_t v);
    void write_command(std::uint8_t v);

    // Drains injected host input now (the scheduled poll calls this too).
    void poll_input();

    static std::uint8_t set1_to_set2(std::uint8_t code, bool extended);

private:
    enum class Pending : std::uint8_t {
        None,
        WriteCommandByte,   // 0x60
        WriteOutputPort,    // 0xD1
        WriteKbdOutput,     // 0xD2
        WriteAuxOutput,     // 0xD3
        WriteAux,           // 0xD4
    };
    enum class KbdPending : std::uint8_t { None, Leds, ScancodeSet, Typematic };
    enum class AuxPending : std::uint8_t { None, SampleRate, Resolution };

    void keyboard_command(std::uint8_t v);
    void aux_command(std::uint8_t v);
    void controller_reply(std::uint8_t v);
    void kbd_reply(std::uint8_t v);
    void aux_reply(std::uint8_t v);
    void refill_output();
    void update_irqs();
    void send_key(std::uint8_t code);
    void send_mouse_packet(std::int32_t dx, std::int32_t dy, std::int32_t dz);
    void schedule_poll();

    machine::Scheduler& clock_;
    machine::PortHandle data_port_;
    machine::PortHandle cmd_port_;
    machine::IrqLine kbd_irq_;
    machine::IrqLine aux_irq_;
    Config config_;

    // Controller state.
    std::uint8_t command_byte_ = 0x47;  // kbd IRQ, aux IRQ, system flag, translation
    std::uint8_t output_port_ = 0x03;   // A20 enabled, no reset
    std::uint8_t out_byte_ = 0;
    bool out_full_ = false;
    bool out_from_aux_ = false;
    Pending pending_ = Pending::None;
    std::deque<std::uint8_t> ctrl_queue_;
    std::deque<std::uint8_t> kbd_queue_;
    std::deque<std::uint8_t> aux_queue_;
    static constexpr std::size_t kQueueLimit = 256;

    // Keyboard state.
    bool kbd_enabled_ = true;
    KbdPending kbd_pending_ = KbdPending::None;
    std::uint8_t scancode_set_ = 2;
    std::uint8_t leds_ = 0;
    bool e0_prefix_ = false;

    // Mouse state.
    bool aux_reporting_ = false;
    bool aux_remote_ = false;
    bool aux_wrap_ = false;
    AuxPending aux_pending_ = AuxPending::None;
    std::uint8_t sample_rate_ = 100;
    std::uint8_t resolution_ = 2;
    bool scaling_2to1_ = false;
    std::uint8_t mouse_id_ = 0;
    std::uint8_t rate_history_[3] = {0, 0, 0};
    std::uint32_t buttons_ = 0;
    std::int32_t acc_dx_ = 0, acc_dy_ = 0, acc_dz_ = 0;

    // Host input queue (other threads).
    struct HostEvent {
        bool is_key = true;
        std::uint8_t code = 0;
        std::int32_t dx = 0, dy = 0, dz = 0;
        std::uint32_t buttons = 0;
    };
    std::mutex input_mutex_;
    std::deque<HostEvent> host_events_;
    static constexpr std::size_t kHostQueueLimit = 4096;
    machine::Scheduler::EventId poll_event_ = machine::Scheduler::kNoEvent;

    std::function<void()> reset_handler_;
    std::function<void(std::uint8_t)> led_handler_;
};

}  // namespace qxlbox::hw
