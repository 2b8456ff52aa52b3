// National Semiconductor 16550A UART (COM1 at 0x3f8, IRQ4 on this board).
//
// Theory of operation (NS16550A data sheet): eight byte-wide registers selected by the port
// offset and LCR.DLAB: RBR/THR and DLL, IER and DLM, IIR (read) / FCR (write), LCR, MCR, LSR,
// MSR, SCR. Transmission is instantaneous in virtual time: a byte written to THR goes straight
// to the output sink and THR and the shift register are empty again at once, which is what
// QEMU does when its character back end accepts the byte. Reception goes through a 16-byte
// FIFO (or a one-byte holding register with FIFOs disabled) fed by receive_byte() on the
// emulation thread; host input arrives on any thread through SerialInput, and the board drains
// that queue at scheduled points. Interrupt identification follows the data sheet priorities:
// receiver line status, received data available (FIFO at its trigger level) or character
// timeout (data below the trigger, no FIFO activity for four character times), THR empty,
// modem status. MCR.LOOP routes the transmitter back into the receiver and the modem control
// outputs into the modem status inputs; MCR.OUT2 gates the interrupt output onto the IRQ line,
// as on a PC.
//
// Not modelled: parity/framing errors and break (the host side never produces them), baud-rate
// pacing of transmission, DMA mode signals.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

#include "machine/bus.h"
#include "machine/clock.h"

namespace qxlbox::hw {

inline constexpr std::uint16_t kCom1Port = 0x3f8;
inline constexpr unsigned kCom1Irq = 4;

// Bytes from the host (a terminal thread) waiting for the emulation thread. Bounded: input
// beyond the limit is dropped, as a real line would lose it.
class SerialInput {
public:
    static constexpr std::size_t kLimitBytes = 64 * 1024;
    // Any thread. Returns false when the queue was full and bytes were dropped.
    bool push(std::string_view bytes);
    // Emulation thread: takes up to `max` bytes.
    std::size_t pop(std::uint8_t* out, std::size_t max);
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::deque<std::uint8_t> bytes_;
};

class Uart16550 {
public:
    using Sink = std::function<void(std::uint8_t)>;

    // Register offsets (names as in the data sheet).
    enum Reg : unsigned { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };
    static constexpr std::uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
    static constexpr std::uint8_t kIerRdi = 0x01, kIerThri = 0x02, kIerRlsi = 0x04, kIerMsi = 0x08;
    static constexpr std::uint8_t kIirNoInt = 0x01, kIirMsi = 0x00, kIirThri = 0x02, kIirRdi = 0x04,
                                  kIirRlsi = 0x06, kIirTimeout = 0x0c;
    static constexpr std::size_t kFifoBytes = 16;

    Uart16550(machine::Scheduler& clock, machine::IrqLine irq, Sink sink);
    ~Uart16550();
    Uart16550(const Uart16550&) = delete;
    Uart16550& operator=(const Uart16550&) = delete;

    bool attach(machine::PortSpace& ports, std::uint16_t base = kCom1Port);

    std::uint8_t read_reg(unsigned offset);
    void write_reg(unsigned offset, std::uint8_t value);

    // Emulation thread: a byte arrives on the receive line. Returns false when it was lost
    // (overrun).
    bool receive_byte(std::uint8_t byte);
    // Free receive space: how many bytes receive_byte() can take without an overrun.
    std::size_t receive_room() const;
    // Moves what fits from `input` into the receiver (called at the board's poll points).
    void drain(SerialInput& input);

    std::uint16_t divisor() const { return static_cast<std::uint16_t>(dll_ | (dlm_ << 8)); }
    bool irq_asserted() const { return irq_.level(); }
    // Virtual duration of one 10-bit character at the programmed divisor.
    machine::Cycles char_time_cycles() const;

private:
    std::uint8_t compute_iir() const;
    void update_irq();
    void transmit(std::uint8_t byte);
    void arm_timeout();
    std::uint8_t rx_trigger() const;
    bool fifo_enabled() const { return fcr_ & 0x01; }

    machine::Scheduler& clock_;
    machine::IrqLine irq_;
    Sink sink_;
    std::deque<std::uint8_t> rx_;
    std::uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, lsr_ = kLsrThre | kLsrTemt, msr_ = 0, scr_ = 0;
    std::uint8_t fcr_ = 0, dll_ = 0x0c, dlm_ = 0;  // 9600 baud until the guest sets a rate
    bool thr_interrupt_ = false;  // THRE interrupt pending (cleared by an IIR read or a THR write)
    bool timeout_interrupt_ = false;
    machine::Scheduler::EventId timeout_event_ = machine::Scheduler::kNoEvent;
    machine::PortHandle ports_;
};

}  // namespace qxlbox::hw
