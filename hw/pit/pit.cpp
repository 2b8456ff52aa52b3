#include "hw/pit/pit.h"

namespace qxlbox::hw {

namespace {
__extension__ typedef unsigned __int128 Wide;
}

Pit8254::Pit8254(machine::Scheduler& clock, machine::IrqLine irq0) : clock_(clock), irq0_(irq0) {}

Pit8254::~Pit8254() {
    for (auto& ch : channels_) {
        if (ch.event != machine::Scheduler::kNoEvent) clock_.cancel(ch.event);
    }
}

bool Pit8254::attach(machine::PortSpace& ports) {
    machine::PortOps ops;
    ops.allowed_sizes = machine::kAccess8;
    ops.read = [this](std::uint16_t off, unsigned) { return std::uint32_t{read_port(off)}; };
    ops.write = [this](std::uint16_t off, unsigned, std::uint32_t v) { write_port(off, static_cast<std::uint8_t>(v)); };
    ports_ = ports.register_ports("pit", kPitPort, 4, ops);
    return ports_.active();
}

std::uint64_t Pit8254::ticks_since_load(const Channel& ch) const {
    const machine::Cycles now = clock_.now();
    if (now <= ch.load_cycle) return 0;
    const Wide prod = static_cast<Wide>(now - ch.load_cycle) * machine::kPitHz;
    return static_cast<std::uint64_t>(prod / clock_.cpu_hz());
}

machine::Cycles Pit8254::cycle_of_tick(const Channel& ch, std::uint64_t tick) const {
    const Wide prod = static_cast<Wide>(tick) * clock_.cpu_hz();
    return ch.load_cycle + static_cast<machine::Cycles>((prod + machine::kPitHz - 1) / machine::kPitHz);
}

std::uint32_t Pit8254::current_count(unsigned channel) const {
    const Channel& ch = channels_[channel % 3];
    if (!ch.counting) return ch.reload;
    const std::uint64_t t = ticks_since_load(ch);
    const std::uint64_t n = ch.reload;
    switch (ch.mode) {
        case 2: return static_cast<std::uint32_t>(n - t % n);
        case 3: return static_cast<std::uint32_t>(n - (2 * t) % n);
        default: {
            // Mode 0 keeps counting past terminal count, wrapping through 0xffff.
            const std::uint64_t v = (n - t % 65536u + 65536u) % 65536u;
            return v == 0 ? 65536u : static_cast<std::uint32_t>(v);
        }
    }
}

void Pit8254::set_out(unsigned index, bool level) {
    Channel& ch = channels_[index];
    if (index == 0 && level && !ch.out) ++irq_edges_;
    ch.out = level;
    if (index == 0) irq0_.set(level);
}

void Pit8254::load_count(unsigned index, std::uint32_t count) {
    Channel& ch = channels_[index];
    ch.reload = count == 0 ? 65536u : count;
    ch.load_cycle = clock_.now();
    ch.period_index = 0;
    ch.counting = true;
    ch.null_count = false;
    if (ch.mode == 0) set_out(index, false);
    if (ch.mode == 2 || ch.mode == 3) set_out(index, true);
    schedule(index);
}

void Pit8254::schedule(unsigned index) {
    Channel& ch = channels_[index];
    if (ch.event != machine::Scheduler::kNoEvent) {
        clock_.cancel(ch.event);
        ch.event = machine::Scheduler::kNoEvent;
    }
    // Only channel 0 has a visible output; the others need no events.
    if (index != 0 || !ch.counting) return;
    std::uint64_t tick = 0;
    switch (ch.mode) {
        case 0:
            if (ch.out) return;
            tick = ch.reload;
            break;
        case 2: tick = (ch.period_index + 1) * ch.reload; break;
        case 3:
            tick = ch.out ? ch.period_index * ch.reload + (ch.reload + 1) / 2 : (ch.period_index + 1) * ch.reload;
            break;
        default: return;
    }
    ch.event = clock_.schedule_at(cycle_of_tick(ch, tick), [this, index] { on_event(index); });
}

void Pit8254::on_event(unsigned index) {
    Channel& ch = channels_[index];
    ch.event = machine::Scheduler::kNoEvent;
    switch (ch.mode) {
        case 0: set_out(index, true); break;
        case 2:
            // The output dips for one input clock at the end of each period; the rising
            // edge at the reload is what the PIC latches.
            set_out(index, false);
            set_out(index, true);
            ++ch.period_index;
            break;
        case 3:
            if (ch.out) {
                set_out(index, false);
            } else {
                set_out(index, true);
                ++ch.period_index;
            }
            break;
        default: return;
    }
    schedule(index);
}

void Pit8254::latch_count(unsigned index) {
    Channel& ch = channels_[index];
    if (ch.latched) return;  // a second latch before the read is ignored
    ch.latched = true;
    ch.latch_value = static_cast<std::uint16_t>(current_count(index));
    ch.latched_high_next = false;
}

void Pit8254::write_control(std::uint8_t value) {
    const unsigned sc = value >> 6;
    if (sc == 3) {
        // Read-back: bit 5 clear latches counts, bit 4 clear latches status.
        for (unsigned i = 0; i < 3; ++i) {
            if (!((value >> (1 + i)) & 1)) continue;
            Channel& ch = channels_[i];
            if (!(value & 0x20)) latch_count(i);
            if (!(value & 0x10) && !ch.status_latched) {
                ch.status_latched = true;
                ch.status = static_cast<std::uint8_t>((ch.out ? 0x80 : 0) | (ch.null_count ? 0x40 : 0) |
                                                      (static_cast<unsigned>(ch.access) << 4) | (ch.mode << 1) |
                                                      (ch.bcd ? 1 : 0));
            }
        }
        return;
    }
    const auto access = static_cast<Access>((value >> 4) & 3);
    if (access == Access::Latch) {
        latch_count(sc);
        return;
    }
    Channel& ch = channels_[sc];
    ch.access = access;
    ch.mode = (value >> 1) & 7;
    if (ch.mode >= 6) ch.mode -= 4;
    ch.bcd = value & 1;
    ch.write_high_next = false;
    ch.read_high_next = false;
    ch.latched = false;
    ch.status_latched = false;
    ch.counting = false;
    ch.null_count = true;
    // A control word sets the output to its mode's initial level and stops the counter
    // until a count is written.
    set_out(sc, ch.mode != 0);
    schedule(sc);
}

void Pit8254::write_counter(unsigned index, std::uint8_t value) {
    Channel& ch = channels_[index];
    switch (ch.access) {
        case Access::Low: load_count(index, value); break;
        case Access::High: load_count(index, static_cast<std::uint32_t>(value) << 8); break;
        case Access::LowHigh:
            if (!ch.write_high_next) {
                ch.pending_low = value;
                ch.write_high_next = true;
                // Mode 0 stops counting when the first byte of a new count is written.
                if (ch.mode == 0) {
                    ch.counting = false;
                    schedule(index);
                }
            } else {
                ch.write_high_next = false;
                load_count(index, ch.pending_low | (static_cast<std::uint32_t>(value) << 8));
            }
            break;
        case Access::Latch: break;
    }
}

std::uint8_t Pit8254::read_counter(unsigned index) {
    Channel& ch = channels_[index];
    if (ch.status_latched) {
        ch.status_latched = false;
        return ch.status;
    }
    const bool from_latch = ch.latched;
    const std::uint16_t value = from_latch ? ch.latch_value : static_cast<std::uint16_t>(current_count(index));
    bool high = false;
    switch (ch.access) {
        case Access::High: high = true; break;
        case Access::LowHigh:
            if (from_latch) {
                high = ch.latched_high_next;
                ch.latched_high_next = !high;
            } else {
                high = ch.read_high_next;
                ch.read_high_next = !high;
            }
            break;
        default: break;
    }
    if (from_latch && (ch.access != Access::LowHigh || high)) ch.latched = false;
    return static_cast<std::uint8_t>(high ? value >> 8 : value);
}

std::uint8_t Pit8254::read_port(unsigned offset) {
    if (offset >= 3) return 0xff;  // the control register is write-only
    return read_counter(offset);
}

void Pit8254::write_port(unsigned offset, std::uint8_t value) {
    if (offset == 3) {
        write_control(value);
    } else if (offset < 3) {
        write_counter(offset, value);
    }
}

}  // namespace qxlbox::hw
