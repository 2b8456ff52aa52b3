#include "hw/pic/pic.h"

namespace qxlbox::hw {

namespace {
// Priority rank of `line` given the chip's current highest-priority line; 0 is best.
unsigned rank(const PicPair::Chip& c, unsigned line) { return (line - c.highest_priority_line) & 7u; }

int best_line(const PicPair::Chip& c, std::uint8_t bits) {
    for (unsigned r = 0; r < 8; ++r) {
        const unsigned line = (c.highest_priority_line + r) & 7u;
        if ((bits >> line) & 1) return static_cast<int>(line);
    }
    return -1;
}
}  // namespace

int PicPair::Chip::pending_line() const {
    const int req = best_line(*this, static_cast<std::uint8_t>(irr & ~imr));
    if (req < 0) return -1;
    // In special mask mode a masked in-service line does not block lower priorities.
    const std::uint8_t in_service = special_mask ? static_cast<std::uint8_t>(isr & ~imr) : isr;
    const int cur = best_line(*this, in_service);
    if (cur >= 0 && rank(*this, static_cast<unsigned>(cur)) <= rank(*this, static_cast<unsigned>(req))) return -1;
    return req;
}

bool PicPair::attach(machine::PortSpace& ports) {
    for (unsigned i = 0; i < 2; ++i) {
        machine::PortOps ops;
        ops.allowed_sizes = machine::kAccess8;
        ops.read = [this, i](std::uint16_t off, unsigned) { return std::uint32_t{read_port(i, off)}; };
        ops.write = [this, i](std::uint16_t off, unsigned, std::uint32_t v) {
            write_port(i, off, static_cast<std::uint8_t>(v));
        };
        (i == 0 ? master_ports_ : slave_ports_) =
            ports.register_ports(i == 0 ? "pic-master" : "pic-slave", i == 0 ? kPicMasterPort : kPicSlavePort, 2, ops);
    }
    machine::PortOps elcr;
    elcr.allowed_sizes = machine::kAccess8;
    elcr.read = [this](std::uint16_t off, unsigned) { return std::uint32_t{read_elcr(off)}; };
    elcr.write = [this](std::uint16_t off, unsigned, std::uint32_t v) { write_elcr(off, static_cast<std::uint8_t>(v)); };
    elcr_ports_ = ports.register_ports("elcr", kPicElcrPort, 2, elcr);
    return master_ports_.active() && slave_ports_.active() && elcr_ports_.active();
}

void PicPair::set_irq_level(unsigned line, bool level) {
    if (line >= 16 || line == kPicCascadeLine) return;
    set_chip_line(line >> 3, line & 7u, level);
    update_cascade();
}

void PicPair::set_chip_line(unsigned chip_index, unsigned line, bool level) {
    Chip& c = chips_[chip_index];
    const auto bit = static_cast<std::uint8_t>(1u << line);
    const bool was = c.line_levels & bit;
    if (level) {
        c.line_levels |= bit;
    } else {
        c.line_levels &= static_cast<std::uint8_t>(~bit);
    }
    if (c.level_triggered(line)) {
        if (level) {
            c.irr |= bit;
        } else {
            c.irr &= static_cast<std::uint8_t>(~bit);
        }
    } else if (level && !was) {
        c.irr |= bit;
    }
}

void PicPair::update_cascade() {
    // The slave's INT output is the master's input 2, an edge-triggered line.
    set_chip_line(0, kPicCascadeLine, chips_[1].pending_line() >= 0);
}

void PicPair::drop_and_update_cascade() {
    // The slave's INT output falls during the acknowledge cycle; if it still has a request it
    // rises again, which is a fresh edge for the master's edge-triggered input 2 (needed when
    // the slave uses automatic EOI and has several requests queued).
    set_chip_line(0, kPicCascadeLine, false);
    update_cascade();
}

bool PicPair::intr_pending() const { return chips_[0].pending_line() >= 0; }

int PicPair::ack_chip(Chip& c) {
    const int line = c.pending_line();
    if (line < 0) return -1;
    const auto bit = static_cast<std::uint8_t>(1u << line);
    if (!c.level_triggered(static_cast<unsigned>(line))) c.irr &= static_cast<std::uint8_t>(~bit);
    if (c.auto_eoi) {
        if (c.rotate_on_auto_eoi) c.highest_priority_line = static_cast<std::uint8_t>((line + 1) & 7);
    } else {
        c.isr |= bit;
    }
    return line;
}

std::uint8_t PicPair::acknowledge() {
    Chip& m = chips_[0];
    const int line = ack_chip(m);
    std::uint8_t vector = 0;
    if (line < 0) {
        ++spurious_count_;
        vector = static_cast<std::uint8_t>(m.vector_base | 7);
    } else if (static_cast<unsigned>(line) == kPicCascadeLine) {
        const int sl = ack_chip(chips_[1]);
        if (sl < 0) {
            ++spurious_count_;
            vector = static_cast<std::uint8_t>(chips_[1].vector_base | 7);
        } else {
            vector = static_cast<std::uint8_t>(chips_[1].vector_base | sl);
        }
    } else {
        vector = static_cast<std::uint8_t>(m.vector_base | line);
    }
    drop_and_update_cascade();
    return vector;
}

std::uint8_t PicPair::poll_chip(unsigned chip_index) {
    Chip& c = chips_[chip_index];
    c.poll = false;
    const int line = ack_chip(c);
    if (line < 0) return 0;
    if (chip_index == 0 && static_cast<unsigned>(line) == kPicCascadeLine) {
        // A poll of the master that finds the cascade also takes the slave's request into
        // service, as an INTA sequence would; the guest then polls the slave for the line.
        ack_chip(chips_[1]);
    }
    drop_and_update_cascade();
    return static_cast<std::uint8_t>(0x80 | line);
}

std::uint8_t PicPair::read_port(unsigned chip_index, unsigned a0) {
    Chip& c = chips_[chip_index & 1];
    if (c.poll) return poll_chip(chip_index & 1);
    if (a0 & 1) return c.imr;
    return c.read_isr ? c.isr : c.irr;
}

void PicPair::write_port(unsigned chip_index, unsigned a0, std::uint8_t value) {
    Chip& c = chips_[chip_index & 1];
    if (a0 & 1) {
        write_data(c, value);
    } else {
        write_command(c, value);
    }
    update_cascade();
}

void PicPair::write_command(Chip& c, std::uint8_t value) {
    if (value & 0x10) {
        // ICW1: restart initialisation; masks, in-service bits and edge memory are cleared.
        c.irr = 0;
        c.isr = 0;
        c.imr = 0;
        c.highest_priority_line = 0;
        c.special_mask = false;
        c.read_isr = false;
        c.poll = false;
        c.auto_eoi = false;
        c.rotate_on_auto_eoi = false;
        c.level_all = value & 0x08;
        c.single = value & 0x02;
        c.icw4_needed = value & 0x01;
        c.init_step = 2;
        if (c.level_all) c.irr = c.line_levels;
        return;
    }
    if (value & 0x08) {
        // OCW3.
        if (value & 0x04) c.poll = true;
        if (value & 0x02) c.read_isr = value & 0x01;
        if (value & 0x40) c.special_mask = value & 0x20;
        return;
    }
    // OCW2: R, SL, EOI in bits 7..5, level in bits 2..0.
    const unsigned level = value & 7u;
    switch (value >> 5) {
        case 0: c.rotate_on_auto_eoi = false; break;
        case 4: c.rotate_on_auto_eoi = true; break;
        case 1: eoi(c, -1, false); break;
        case 5: eoi(c, -1, true); break;
        case 3: eoi(c, static_cast<int>(level), false); break;
        case 7: eoi(c, static_cast<int>(level), true); break;
        case 6: c.highest_priority_line = static_cast<std::uint8_t>((level + 1) & 7); break;
        default: break;  // 2: no operation
    }
}

void PicPair::eoi(Chip& c, int line, bool rotate) {
    if (line < 0) line = best_line(c, c.isr);
    if (line < 0) return;  // EOI with nothing in service: ignored, as on hardware
    c.isr &= static_cast<std::uint8_t>(~(1u << line));
    if (rotate) c.highest_priority_line = static_cast<std::uint8_t>((line + 1) & 7);
}

void PicPair::write_data(Chip& c, std::uint8_t value) {
    switch (c.init_step) {
        case 2:
            c.vector_base = value & 0xf8;
            c.init_step = c.single ? (c.icw4_needed ? 4 : 0) : 3;
            return;
        case 3:
            c.init_step = c.icw4_needed ? 4 : 0;
            return;
        case 4:
            c.auto_eoi = value & 0x02;
            c.init_step = 0;
            return;
        default:
            c.imr = value;  // OCW1
            return;
    }
}

void PicPair::write_elcr(unsigned chip_index, std::uint8_t value) {
    Chip& c = chips_[chip_index & 1];
    c.elcr = value & c.elcr_mask;
    // A line switched to level mode takes its current pin level.
    for (unsigned line = 0; line < 8; ++line) {
        const auto bit = static_cast<std::uint8_t>(1u << line);
        if (c.level_triggered(line)) {
            c.irr = static_cast<std::uint8_t>((c.irr & ~bit) | (c.line_levels & bit));
        }
    }
    update_cascade();
}

}  // namespace qxlbox::hw
