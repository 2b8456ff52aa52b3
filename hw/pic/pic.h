// Intel 8259A programmable interrupt controller pair (master at 0x20, slave at 0xa0) with the
// PIIX edge/level control registers (ELCR) at 0x4d0/0x4d1.
//
// Theory of operation (Intel 8259A data sheet; PIIX3 data sheet for the ELCR): each chip has
// an interrupt request register (IRR), an in-service register (ISR) and a mask register
// (IMR). A device line latches into IRR on a rising edge (edge mode) or mirrors the line
// (level mode: ICW1.LTIM or the line's ELCR bit). The chip asserts INT when the best request
// in IRR & ~IMR has a higher priority than the best bit in ISR. The slave's INT drives master
// input 2 (cascade). INTA picks that request, sets its ISR bit (unless automatic EOI) and
// returns ICW2 base + line; if the request vanished in between, the chip answers with the
// spurious vector of line 7 without setting ISR (for the slave, IRQ15; the master still
// marks IRQ2 in service, as hardware does). Priority is fully nested with optional rotation
// (OCW2), special mask mode (OCW3.ESMM/SMM) and poll mode (OCW3.P).
//
// Not modelled: 8080/8085 mode, buffered mode, special fully nested mode (accepted, ignored),
// more than one slave (ICW3 is accepted but the cascade is fixed at master input 2).
#pragma once

#include <array>
#include <cstdint>

#include "machine/bus.h"

namespace qxlbox::hw {

inline constexpr std::uint16_t kPicMasterPort = 0x20;
inline constexpr std::uint16_t kPicSlavePort = 0xa0;
inline constexpr std::uint16_t kPicElcrPort = 0x4d0;
inline constexpr unsigned kPicCascadeLine = 2;

class PicPair final : public machine::IrqSink, public machine::InterruptController {
public:
    // One 8259A. Public so tests can check register state; the pair drives it.
    struct Chip {
        std::uint8_t irr = 0;
        std::uint8_t isr = 0;
        std::uint8_t imr = 0;
        std::uint8_t line_levels = 0;   // current input pin levels, for edge detection
        std::uint8_t elcr = 0;          // per-line level-trigger bits (PIIX ELCR)
        std::uint8_t elcr_mask = 0;     // ELCR bits that may be set on this chip
        std::uint8_t vector_base = 0;   // ICW2 & 0xf8
        std::uint8_t highest_priority_line = 0;  // rotates with OCW2
        std::uint8_t init_step = 0;     // 0 = ready; 2..4 = expecting ICW2..ICW4
        bool icw4_needed = false;
        bool single = false;
        bool level_all = false;         // ICW1.LTIM
        bool auto_eoi = false;          // ICW4.AEOI
        bool rotate_on_auto_eoi = false;
        bool special_mask = false;      // OCW3 special mask mode
        bool read_isr = false;          // OCW3 RR/RIS: a read of the command port gives ISR
        bool poll = false;              // OCW3.P: next read of the command port is a poll

        bool level_triggered(unsigned line) const { return level_all || ((elcr >> line) & 1); }
        // Line (0..7) this chip would deliver now, or -1.
        int pending_line() const;
    };

    PicPair() = default;
    PicPair(const PicPair&) = delete;
    PicPair& operator=(const PicPair&) = delete;

    // Registers 0x20-0x21, 0xa0-0xa1 and 0x4d0-0x4d1. Returns false if any range is taken.
    bool attach(machine::PortSpace& ports);

    // IrqSink: line 0..15 (8..15 are the slave's inputs; line 2 is the cascade and ignored).
    void set_irq_level(unsigned line, bool level) override;

    // InterruptController.
    bool intr_pending() const override;
    std::uint8_t acknowledge() override;

    // Port handlers (also used directly by tests).
    std::uint8_t read_port(unsigned chip_index, unsigned a0);
    void write_port(unsigned chip_index, unsigned a0, std::uint8_t value);
    std::uint8_t read_elcr(unsigned chip_index) const { return chips_[chip_index & 1].elcr; }
    void write_elcr(unsigned chip_index, std::uint8_t value);

    const Chip& chip(unsigned index) const { return chips_[index & 1]; }
    std::uint64_t spurious_count() const { return spurious_count_; }

private:
    void set_chip_line(unsigned chip_index, unsigned line, bool level);
    void update_cascade();
    void drop_and_update_cascade();
    void write_command(Chip& c, std::uint8_t value);
    void write_data(Chip& c, std::uint8_t value);
    void eoi(Chip& c, int line, bool rotate);
    // Acknowledge on one chip: returns the line taken into service or -1 (spurious).
    int ack_chip(Chip& c);
    std::uint8_t poll_chip(unsigned chip_index);

    std::array<Chip, 2> chips_{Chip{.elcr_mask = 0xf8}, Chip{.elcr_mask = 0xde}};
    std::uint64_t spurious_count_ = 0;
    machine::PortHandle master_ports_;
    machine::PortHandle slave_ports_;
    machine::PortHandle elcr_ports_;
};

}  // namespace qxlbox::hw
