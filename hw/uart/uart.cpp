#include "hw/uart/uart.h"

#include <algorithm>

namespace qxlbox::hw {

namespace {
__extension__ typedef unsigned __int128 Wide;
constexpr std::uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr std::uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;
constexpr std::uint8_t kLcrDlab = 0x80;
constexpr std::uint64_t kUartClockHz = 115200;  // 1.8432 MHz / 16
}  // namespace

bool SerialInput::push(std::string_view bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t room = kLimitBytes - std::min(kLimitBytes, bytes_.size());
    const std::size_t n = std::min(room, bytes.size());
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    return n == bytes.size();
}

std::size_t SerialInput::pop(std::uint8_t* out, std::size_t max) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t n = std::min(max, bytes_.size());
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = bytes_.front();
        bytes_.pop_front();
    }
    return n;
}

std::size_t SerialInput::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_.size();
}

Uart16550::Uart16550(machine::Scheduler& clock, machine::IrqLine irq, Sink sink)
    : clock_(clock), irq_(irq), sink_(std::move(sink)) {
    // With nothing in loopback the host side looks like a connected modem.
    msr_ = kMsrCts | kMsrDsr | kMsrDcd;
}

Uart16550::~Uart16550() {
    if (timeout_event_ != machine::Scheduler::kNoEvent) clock_.cancel(timeout_event_);
}

bool Uart16550::attach(machine::PortSpace& ports, std::uint16_t base) {
    machine::PortOps ops;
    ops.allowed_sizes = machine::kAccess8;
    ops.read = [this](std::uint16_t off, unsigned) { return std::uint32_t{read_reg(off)}; };
    ops.write = [this](std::uint16_t off, unsigned, std::uint32_t v) { write_reg(off, static_cast<std::uint8_t>(v)); };
    ports_ = ports.register_ports("uart", base, 8, ops);
    return ports_.active();
}

machine::Cycles Uart16550::char_time_cycles() const {
    const std::uint64_t div = divisor() == 0 ? 65536u : divisor();
    const Wide c = static_cast<Wide>(10u * div) * clock_.cpu_hz() / kUartClockHz;
    return std::max<machine::Cycles>(1, static_cast<machine::Cycles>(c));
}

std::uint8_t Uart16550::rx_trigger() const {
    static constexpr std::uint8_t kLevels[4] = {1, 4, 8, 14};
    return fifo_enabled() ? kLevels[fcr_ >> 6] : 1;
}

std::uint8_t Uart16550::compute_iir() const {
    if ((ier_ & kIerRlsi) && (lsr_ & kLsrOe)) return kIirRlsi;
    if (ier_ & kIerRdi) {
        if (rx_.size() >= rx_trigger()) return kIirRdi;
        if (timeout_interrupt_ && !rx_.empty()) return kIirTimeout;
    }
    if ((ier_ & kIerThri) && thr_interrupt_) return kIirThri;
    if ((ier_ & kIerMsi) && (msr_ & 0x0f)) return kIirMsi;
    return kIirNoInt;
}

void Uart16550::update_irq() {
    const bool out = compute_iir() != kIirNoInt && (mcr_ & kMcrOut2);
    if (out != irq_.level()) irq_.set(out);
}

std::size_t Uart16550::receive_room() const {
    const std::size_t cap = fifo_enabled() ? kFifoBytes : 1;
    return rx_.size() >= cap ? 0 : cap - rx_.size();
}

bool Uart16550::receive_byte(std::uint8_t byte) {
    if (receive_room() == 0) {
        lsr_ |= kLsrOe;
        update_irq();
        return false;
    }
    rx_.push_back(byte);
    lsr_ |= kLsrDr;
    arm_timeout();
    update_irq();
    return true;
}

void Uart16550::drain(SerialInput& input) {
    std::uint8_t buf[kFifoBytes];
    const std::size_t n = input.pop(buf, receive_room());
    for (std::size_t i = 0; i < n; ++i) receive_byte(buf[i]);
}

void Uart16550::arm_timeout() {
    if (timeout_event_ != machine::Scheduler::kNoEvent) clock_.cancel(timeout_event_);
    timeout_event_ = machine::Scheduler::kNoEvent;
    timeout_interrupt_ = false;
    if (!fifo_enabled() || rx_.empty()) return;
    timeout_event_ = clock_.schedule_in(4 * char_time_cycles(), [this] {
        timeout_event_ = machine::Scheduler::kNoEvent;
        timeout_interrupt_ = !rx_.empty();
        update_irq();
    });
}

void Uart16550::transmit(std::uint8_t byte) {
    if (mcr_ & kMcrLoop) {
        receive_byte(byte);
    } else if (sink_) {
        sink_(byte);
    }
    // The byte left at once, so THR is empty again and the THRE interrupt is due.
    lsr_ |= kLsrThre | kLsrTemt;
    thr_interrupt_ = true;
}

std::uint8_t Uart16550::read_reg(unsigned offset) {
    std::uint8_t v = 0xff;
    switch (offset & 7u) {
        case kRbrThr:
            if (lcr_ & kLcrDlab) return dll_;
            v = 0;
            if (!rx_.empty()) {
                v = rx_.front();
                rx_.pop_front();
            }
            if (rx_.empty()) lsr_ &= static_cast<std::uint8_t>(~kLsrDr);
            arm_timeout();
            break;
        case kIer:
            return (lcr_ & kLcrDlab) ? dlm_ : ier_;
        case kIirFcr:
            v = static_cast<std::uint8_t>(compute_iir() | (fifo_enabled() ? 0xc0 : 0));
            // Reading IIR while it reports THRE acknowledges that interrupt.
            if ((v & 0x0f) == kIirThri) thr_interrupt_ = false;
            break;
        case kLcr: return lcr_;
        case kMcr: return mcr_;
        case kLsr:
            v = lsr_;
            lsr_ &= static_cast<std::uint8_t>(~kLsrOe);
            break;
        case kMsr:
            v = msr_;
            msr_ &= 0xf0;
            break;
        case kScr: return scr_;
        default: break;
    }
    update_irq();
    return v;
}

void Uart16550::write_reg(unsigned offset, std::uint8_t value) {
    switch (offset & 7u) {
        case kRbrThr:
            if (lcr_ & kLcrDlab) {
                dll_ = value;
                return;
            }
            transmit(value);
            break;
        case kIer:
            if (lcr_ & kLcrDlab) {
                dlm_ = value;
                return;
            }
            // Enabling the THRE interrupt while THR is empty raises it at once.
            if ((value & kIerThri) && !(ier_ & kIerThri) && (lsr_ & kLsrThre)) thr_interrupt_ = true;
            ier_ = value & 0x0f;
            break;
        case kIirFcr: {
            const bool was = fifo_enabled();
            const bool now_enabled = value & 0x01;
            if (was != now_enabled || (value & 0x02)) {
                rx_.clear();
                lsr_ &= static_cast<std::uint8_t>(~kLsrDr);
            }
            // Bits 1 and 2 (clear FIFOs) are self-clearing; the transmit FIFO is always empty.
            fcr_ = static_cast<std::uint8_t>(value & 0xc9);
            arm_timeout();
            break;
        }
        case kLcr: lcr_ = value; return;
        case kMcr: {
            mcr_ = value & 0x1f;
            std::uint8_t status = kMsrCts | kMsrDsr | kMsrDcd;
            if (mcr_ & kMcrLoop) {
                status = static_cast<std::uint8_t>(((mcr_ & kMcrRts) ? kMsrCts : 0) | ((mcr_ & kMcrDtr) ? kMsrDsr : 0) |
                                                   ((mcr_ & kMcrOut1) ? kMsrRi : 0) | ((mcr_ & kMcrOut2) ? kMsrDcd : 0));
            }
            const std::uint8_t old = msr_ & 0xf0;
            std::uint8_t delta = 0;
            if ((old ^ status) & kMsrCts) delta |= 0x01;
            if ((old ^ status) & kMsrDsr) delta |= 0x02;
            if ((old & kMsrRi) && !(status & kMsrRi)) delta |= 0x04;  // trailing edge of RI
            if ((old ^ status) & kMsrDcd) delta |= 0x08;
            msr_ = static_cast<std::uint8_t>(status | (msr_ & 0x0f) | delta);
            break;
        }
        case kScr: scr_ = value; return;
        default: return;  // LSR and MSR are read-only
    }
    update_irq();
}

}  // namespace qxlbox::hw
