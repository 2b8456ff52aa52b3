// Intel 8254 programmable interval timer, channel 0 wired to IRQ0 (ports 0x40-0x43).
//
// Theory of operation (Intel 8254 data sheet): the counter runs at 1.193182 MHz. Rather than
// ticking, a channel remembers the virtual cycle at which its count was loaded and derives
// the current count from the scheduler's clock on every read; the output edges that matter
// (terminal count in mode 0, the start of each period in modes 2 and 3) are scheduler events
// placed at exact cycles, so the timer never reads host time and a run is reproducible.
// Supported: modes 0 (interrupt on terminal count), 2 (rate generator) and 3 (square wave;
// modes 6/7 alias 2/3), access modes lobyte, hibyte and lobyte/hibyte, the counter latch
// command and the read-back command (count and status latch). A count of 0 means 65536.
//
// Not modelled: modes 1, 4 and 5 (they need a gate or give a single strobe; programming one
// stops the counter output and is reported by mode()), BCD counting (the BCD bit is kept and
// reported in status, counting stays binary), channel 1 (DRAM refresh) and channel 2 (speaker,
// gated by port 0x61); their registers accept writes and read back latched values.
#pragma once

#include <array>
#include <cstdint>

#include "machine/bus.h"
#include "machine/clock.h"

namespace qxlbox::hw {

inline constexpr std::uint16_t kPitPort = 0x40;

class Pit8254 {
public:
    Pit8254(machine::Scheduler& clock, machine::IrqLine irq0);
    ~Pit8254();
    Pit8254(const Pit8254&) = delete;
    Pit8254& operator=(const Pit8254&) = delete;

    bool attach(machine::PortSpace& ports);

    std::uint8_t read_port(unsigned offset);
    void write_port(unsigned offset, std::uint8_t value);

    // State for tests.
    unsigned mode(unsigned channel) const { return channels_[channel % 3].mode; }
    bool output(unsigned channel) const { return channels_[channel % 3].out; }
    std::uint32_t current_count(unsigned channel) const;  // 1..65536 (0 while unprogrammed)
    std::uint64_t irq_edges() const { return irq_edges_; }

private:
    enum class Access : std::uint8_t { Latch = 0, Low = 1, High = 2, LowHigh = 3 };
    struct Channel {
        std::uint8_t mode = 0;
        Access access = Access::LowHigh;
        bool bcd = false;
        std::uint32_t reload = 0;        // programmed count, 1..65536
        bool counting = false;
        bool out = false;
        machine::Cycles load_cycle = 0;  // cycle the count took effect
        std::uint64_t period_index = 0;  // periods completed (modes 2/3)
        bool write_high_next = false;    // lobyte/hibyte write toggle
        std::uint8_t pending_low = 0;
        bool read_high_next = false;     // lobyte/hibyte read toggle
        bool latched = false;
        std::uint16_t latch_value = 0;
        bool latched_high_next = false;
        bool status_latched = false;
        std::uint8_t status = 0;
        bool null_count = true;
        machine::Scheduler::EventId event = machine::Scheduler::kNoEvent;
    };

    std::uint64_t ticks_since_load(const Channel& ch) const;
    machine::Cycles cycle_of_tick(const Channel& ch, std::uint64_t tick) const;
    void load_count(unsigned index, std::uint32_t count);
    void schedule(unsigned index);
    void on_event(unsigned index);
    void set_out(unsigned index, bool level);
    void latch_count(unsigned index);
    std::uint8_t read_counter(unsigned index);
    void write_counter(unsigned index, std::uint8_t value);
    void write_control(std::uint8_t value);

    machine::Scheduler& clock_;
    machine::IrqLine irq0_;
    std::array<Channel, 3> channels_{};
    std::uint64_t irq_edges_ = 0;
    machine::PortHandle ports_;
};

}  // namespace qxlbox::hw
