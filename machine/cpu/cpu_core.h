// i386 CPU core: internal state and inline helpers shared by the implementation files.
//
// Theory of operation: a plain interpreter that decodes straight from guest memory (no decoded
// instruction cache, so self-modifying code needs no invalidation). Arithmetic flags are lazy:
// the last flag-setting ALU operation records its operands and result, and CF/PF/AF/ZF/SF/OF
// are derived only when something reads them. Memory goes through AddressSpace::host_page()
// for RAM and through the slow read()/write() for MMIO. A fault inside an instruction is
// thrown as CpuException to the instruction boundary, where the register state is rolled
// back to the start of the instruction and the exception is delivered through the IDT.
//
// Files: cpu_core.h (state, memory, flags), cpu_exec.cpp (decoder and instruction set),
// cpu_system.cpp (segments, interrupts, run loop, save/load, trace), cpu.cpp (public facade).
//
// Architecturally undefined flags (our choice, documented here once):
//  - AND/OR/XOR/TEST, shifts: AF cleared.
//  - MUL/IMUL: SF/ZF/PF from the low half of the result, AF cleared.
//  - Shifts and rotates with a count other than 1: OF computed with the count-1 formula.
//  - DIV/IDIV: flags unchanged. BSF/BSR and BT*: flags other than the defined ones unchanged;
//    BSF/BSR with a zero source leave the destination unchanged (as Intel and AMD do).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include "machine/bus.h"
#include "machine/clock.h"

namespace qxlbox::machine {

// The one exception type of the core: a fault raised inside an instruction, caught at the
// instruction boundary and delivered through the IDT.
struct CpuException {
    std::uint8_t vector = 0;
    bool has_error = false;
    std::uint32_t error = 0;
};

enum : std::uint8_t {
    kVecDE = 0, kVecDB = 1, kVecBP = 3, kVecOF = 4, kVecBR = 5, kVecUD = 6, kVecNM = 7,
    kVecDF = 8, kVecTS = 10, kVecNP = 11, kVecSS = 12, kVecGP = 13, kVecPF = 14,
};

enum SegIndex : unsigned { kES = 0, kCS = 1, kSS = 2, kDS = 3, kFS = 4, kGS = 5, kNoSeg = 7 };
enum RegIndex : unsigned { kEAX = 0, kECX, kEDX, kEBX, kESP, kEBP, kESI, kEDI };

enum Eflags : std::uint32_t {
    kCF = 1u << 0, kPF = 1u << 2, kAF = 1u << 4, kZF = 1u << 6, kSF = 1u << 7, kTF = 1u << 8,
    kIF = 1u << 9, kDF = 1u << 10, kOF = 1u << 11, kIOPL = 3u << 12, kNT = 1u << 14,
    kRF = 1u << 16, kVM = 1u << 17, kAC = 1u << 18, kID = 1u << 21,
};
inline constexpr std::uint32_t kArithFlags = kCF | kPF | kAF | kZF | kSF | kOF;

// A segment register with its hidden descriptor cache.
struct SegReg {
    std::uint16_t selector = 0;
    std::uint32_t base = 0;
    std::uint32_t limit = 0;
    std::uint8_t access = 0;  // descriptor byte 5: P, DPL, S, type
    std::uint8_t flags = 0;   // descriptor bits 52..55: AVL, L, D/B, G
    bool usable = false;
    // True when any read (write) at any offset is allowed without a check: base 0, 4 GiB
    // expand-up, usable, readable (writable).
    bool fast_read = false;
    bool fast_write = false;
    bool big() const { return (flags & 4) != 0; }
    void refresh_fast() {
        const bool code = (access & 0x08) != 0;
        const bool flat = usable && base == 0 && limit == 0xffffffffu && (code || (access & 0x04) == 0);
        fast_read = flat && (!code || (access & 0x02) != 0);
        fast_write = flat && !code && (access & 0x02) != 0;
    }
};

struct TableReg {
    std::uint32_t base = 0;
    std::uint16_t limit = 0;
};

// Res: CF and OF given explicitly (bits 0 and 1 of lf_cin), AF clear, SF/ZF/PF from lf_r
// (shifts, multiplies).
enum class FlagOp : std::uint8_t { None, Add, Adc, Sub, Sbb, Logic, Inc, Dec, Res };

template <class T> inline constexpr std::uint32_t kSign = 1u << (sizeof(T) * 8 - 1);

inline bool parity8(std::uint32_t v) { return !__builtin_parity(v & 0xff); }

class CpuCore {
public:
    CpuCore(AddressSpace& memory, PortSpace& ports, Scheduler& clock) : mem(memory), io(ports), sched(clock) {}

    AddressSpace& mem;
    PortSpace& io;
    Scheduler& sched;
    InterruptController* pic = nullptr;

    // ---- architectural state
    std::uint32_t r[8] = {};
    std::uint32_t eip = 0;
    std::uint32_t flags = 2;  // arithmetic bits valid only while lf_op == None
    SegReg seg[6] = {};
    TableReg gdtr = {}, idtr = {};
    std::uint32_t cr0 = 0x11, cr2 = 0, cr3 = 0, cr4 = 0;

    // ---- lazy flags
    FlagOp lf_op = FlagOp::None;
    std::uint32_t lf_a = 0, lf_b = 0, lf_r = 0, lf_sign = 0;
    std::uint32_t lf_cin = 0;  // carry in (ADC/SBB) or preserved CF (INC/DEC)

    // ---- execution bookkeeping
    std::uint64_t cycles = 0;       // virtual cycles consumed by this CPU (clock = base + cycles)
    std::uint64_t retired = 0;      // instructions retired
    // Cycles that retired no instruction (faults, REP iterations beyond the first), so that
    // retired == cycles - stall_cycles: exec_loop counts cycles only.
    std::uint64_t stall_cycles = 0;
    bool prefixed = false;          // the current instruction changed o32/a32/seg_ovr/rep
    // history[] is a ring indexed by the cycle count at each instruction start: slot
    // cycles & 31. Entries end at slot history_pos; history_count of them are valid.
    std::uint64_t history_pos = 0;
    std::uint64_t history_count = 0;
    std::uint64_t budget_end = 0;   // inner loop runs while cycles < budget_end
    std::uint64_t clock_base = 0;   // sched.now() == clock_base + cycles while running
    std::uint64_t inhibit_end = 0;  // interrupts blocked while cycles < inhibit_end
    bool halted = false;
    bool dead = false;  // stopped with Stop::Fault until reset or load
    std::atomic<bool> stop_requested{false};
    std::string abort_message;      // set when the CPU stops with Stop::Fault
    std::uint64_t map_gen = 0;

    // per-instruction decode state
    std::uint32_t insn_eip = 0;
    std::uint32_t insn_esp = 0;
    unsigned seg_ovr = kNoSeg;
    bool o32 = true, a32 = true;
    std::uint8_t rep = 0;
    std::uint8_t fetch_buf[32] = {};

    // Fetch state. The decode pointer `ip` of exec_loop points either into the host page of
    // the code page (code_page_lin, code_page_ptr) or into fetch_buf; EIP of the byte at ip
    // is ip + code_delta (mod 2^32), so EIP is never tracked separately. An instruction may
    // start at ip without further checks while ip <= code_fast_end: that bound keeps a full
    // fetch_buf worth of bytes inside the page and the start inside the CS limit. Anything
    // that moves CS or changes the memory map sets code_fast_end to 0 (see invalidate_code).
    std::uint32_t code_page_lin = 1;  // never page aligned => invalid
    const std::uint8_t* code_page_ptr = nullptr;
    std::uintptr_t code_delta = 0;
    std::uintptr_t code_fast_end = 0;
    std::uintptr_t code_page_delta = 0;     // code_delta for code_page_ptr
    std::uintptr_t code_page_fast_end = 0;  // code_fast_end for code_page_ptr
    // Near branches stay on the page without any check when target - code_page_eip0 <
    // code_page_span: the EIPs of code_page_ptr[0] .. code_page_fast_end, or 0 when none.
    std::uint32_t code_page_eip0 = 0;
    std::uint32_t code_page_span = 0;
    void invalidate_code() {
        code_page_lin = 1;
        code_fast_end = 0;
        code_page_span = 0;
    }
    [[gnu::always_inline]] std::uint32_t ip_eip(const std::uint8_t* ip) const {
        return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(ip) + code_delta);
    }
    // Points the decoder at `target` without checks: the next instruction start re-validates.
    const std::uint8_t* defer_code(std::uint32_t target) {
        code_delta = target - reinterpret_cast<std::uintptr_t>(fetch_buf);
        code_fast_end = 0;
        return fetch_buf;
    }
    // The checked path: CS limit (#GP) and a fresh fetch of `target`.
    const std::uint8_t* enter_code(std::uint32_t target);

    // history for fault_report
    std::uint32_t history[32] = {};
    // The cycle count moved from `at` to at + k within one instruction (REP iterations):
    // moves the last 32 entries along so that the ring stays contiguous.
    void history_skip(std::uint64_t at, std::uint64_t k) {
        std::uint32_t tmp[32];
        for (unsigned j = 0; j < 32; ++j) tmp[j] = history[(at - j) & 31];
        for (unsigned j = 0; j < 32; ++j) history[(at + k - j) & 31] = tmp[j];
    }
    std::FILE* trace = nullptr;
    std::uint64_t capstone_handle = 0;
    bool capstone_ok = false;

    // ---- registers
    [[gnu::always_inline]] std::uint8_t get8(unsigned i) const { return i < 4 ? static_cast<std::uint8_t>(r[i]) : static_cast<std::uint8_t>(r[i - 4] >> 8); }
    [[gnu::always_inline]] void set8(unsigned i, std::uint8_t v) {
        if (i < 4) r[i] = (r[i] & ~0xffu) | v;
        else r[i - 4] = (r[i - 4] & ~0xff00u) | (static_cast<std::uint32_t>(v) << 8);
    }
    template <class T> [[gnu::always_inline]] T getr(unsigned i) const {
        if constexpr (sizeof(T) == 1) return get8(i);
        else return static_cast<T>(r[i]);
    }
    template <class T> [[gnu::always_inline]] void setr(unsigned i, T v) {
        if constexpr (sizeof(T) == 1) set8(i, v);
        else if constexpr (sizeof(T) == 2) r[i] = (r[i] & 0xffff0000u) | v;
        else r[i] = v;
    }

    // ---- flags
    template <class T> [[gnu::always_inline]] void set_lazy(FlagOp op, std::uint32_t a, std::uint32_t b, std::uint32_t res) {
        lf_op = op; lf_a = a; lf_b = b; lf_r = res; lf_sign = kSign<T>;
    }
    [[gnu::always_inline]] bool get_cf() const {
        switch (lf_op) {
            case FlagOp::None: return flags & kCF;
            case FlagOp::Add: return lf_r < lf_a;
            case FlagOp::Adc: return lf_cin ? lf_r <= lf_a : lf_r < lf_a;
            case FlagOp::Sub: return lf_a < lf_b;
            case FlagOp::Sbb: return lf_cin ? lf_a <= lf_b : lf_a < lf_b;
            case FlagOp::Logic: return false;
            case FlagOp::Inc: case FlagOp::Dec: return lf_cin != 0;
            case FlagOp::Res: return (lf_cin & 1) != 0;
        }
        return false;
    }
    [[gnu::always_inline]] bool get_zf() const { return lf_op == FlagOp::None ? (flags & kZF) != 0 : lf_r == 0; }
    [[gnu::always_inline]] bool get_sf() const { return lf_op == FlagOp::None ? (flags & kSF) != 0 : (lf_r & lf_sign) != 0; }
    bool get_pf() const { return lf_op == FlagOp::None ? (flags & kPF) != 0 : parity8(lf_r); }
    [[gnu::always_inline]] bool get_of() const {
        switch (lf_op) {
            case FlagOp::None: return flags & kOF;
            case FlagOp::Add: case FlagOp::Adc: case FlagOp::Inc: return ((lf_a ^ lf_r) & (lf_b ^ lf_r) & lf_sign) != 0;
            case FlagOp::Sub: case FlagOp::Sbb: case FlagOp::Dec: return ((lf_a ^ lf_b) & (lf_a ^ lf_r) & lf_sign) != 0;
            case FlagOp::Logic: return false;
            case FlagOp::Res: return (lf_cin & 2) != 0;
        }
        return false;
    }
    bool get_af() const {
        if (lf_op == FlagOp::None) return flags & kAF;
        if (lf_op == FlagOp::Logic || lf_op == FlagOp::Res) return false;
        return ((lf_a ^ lf_b ^ lf_r) & 0x10) != 0;
    }
    void materialize() {
        if (lf_op == FlagOp::None) return;
        std::uint32_t f = flags & ~kArithFlags;
        if (get_cf()) f |= kCF;
        if (get_pf()) f |= kPF;
        if (get_af()) f |= kAF;
        if (get_zf()) f |= kZF;
        if (get_sf()) f |= kSF;
        if (get_of()) f |= kOF;
        flags = f;
        lf_op = FlagOp::None;
    }
    std::uint32_t get_eflags() { materialize(); return flags; }
    void set_flag(std::uint32_t bit, bool on) { flags = on ? (flags | bit) : (flags & ~bit); }
    // Replaces all six arithmetic flags (no need to materialize first): CF and OF as given,
    // AF clear, SF/ZF/PF from `res`, evaluated lazily.
    template <class T> [[gnu::always_inline]] void set_arith(bool cf, bool of, T res) {
        lf_op = FlagOp::Res;
        lf_r = res;
        lf_sign = kSign<T>;
        lf_cin = static_cast<std::uint32_t>(cf) | static_cast<std::uint32_t>(of) << 1;
    }
    // Sets ZF/SF/PF from a result of type T (flags must be materialized).
    template <class T> void set_szp(T v) {
        set_flag(kZF, v == 0);
        set_flag(kSF, (v & kSign<T>) != 0);
        set_flag(kPF, parity8(v));
    }
    [[gnu::always_inline]] bool cond(unsigned cc) const {
        bool v;
        if (lf_op == FlagOp::Sub) {
            // Fast path after CMP/SUB: compare the operands directly.
            const auto sx = [this](std::uint32_t x) { return static_cast<std::int32_t>((x ^ lf_sign) - lf_sign); };
            switch (cc >> 1) {
                case 1: return (lf_a < lf_b) != (cc & 1);
                case 2: return (lf_r == 0) != (cc & 1);
                case 3: return (lf_a <= lf_b) != (cc & 1);
                case 6: return (sx(lf_a) < sx(lf_b)) != (cc & 1);
                case 7: return (sx(lf_a) <= sx(lf_b)) != (cc & 1);
                default: break;
            }
        } else if (lf_op == FlagOp::Logic) {
            switch (cc >> 1) {
                case 0: case 1: return cc & 1;
                case 2: case 3: return (lf_r == 0) != (cc & 1);
                case 4: case 6: return ((lf_r & lf_sign) != 0) != (cc & 1);
                case 7: return (lf_r == 0 || (lf_r & lf_sign) != 0) != (cc & 1);
                default: break;
            }
        }
        switch (cc >> 1) {
            case 0: v = get_of(); break;
            case 1: v = get_cf(); break;
            case 2: v = get_zf(); break;
            case 3: v = get_cf() || get_zf(); break;
            case 4: v = get_sf(); break;
            case 5: v = get_pf(); break;
            case 6: v = get_sf() != get_of(); break;
            default: v = get_zf() || (get_sf() != get_of()); break;
        }
        return v != (cc & 1);
    }

    // ---- memory (linear == physical: paging is never enabled)
    bool io_touched = false;  // set by MMIO and port accesses: the deadline must be re-read
    std::uint64_t mmio_read(std::uint32_t lin, unsigned n);
    void mmio_write(std::uint32_t lin, unsigned n, std::uint64_t v);
    // A small direct-mapped cache of AddressSpace's page table: one dependent load less on
    // every RAM access. Flushed whenever the map generation changes.
    struct TlbEntry {
        std::uint32_t tag = 0xffffffffu;  // page number, or all ones when empty
        std::uint8_t* host = nullptr;
    };
    static constexpr unsigned kTlbSize = 256;
    TlbEntry rtlb[kTlbSize] = {};
    TlbEntry wtlb[kTlbSize] = {};
    void flush_tlb() {
        for (auto& e : rtlb) e = TlbEntry{};
        for (auto& e : wtlb) e = TlbEntry{};
        invalidate_code();
        map_gen = mem.map_generation();
    }
    void check_map() {
        if (mem.map_generation() != map_gen) flush_tlb();
    }
    std::uint64_t read_slow(std::uint32_t lin, unsigned n);
    void write_slow(std::uint32_t lin, unsigned n, std::uint64_t v);
    template <class T> [[gnu::always_inline]] T read_lin(std::uint32_t lin) {
        const std::uint32_t off = lin & (kPageSize - 1);
        const TlbEntry& e = rtlb[(lin >> kPageShift) & (kTlbSize - 1)];
        if (e.tag == (lin >> kPageShift) && off <= kPageSize - sizeof(T)) [[likely]] {
            T v;
            std::memcpy(&v, e.host + off, sizeof(T));
            return v;
        }
        return static_cast<T>(read_slow(lin, sizeof(T)));
    }
    template <class T> [[gnu::always_inline]] void write_lin(std::uint32_t lin, T v) {
        const std::uint32_t off = lin & (kPageSize - 1);
        const TlbEntry& e = wtlb[(lin >> kPageShift) & (kTlbSize - 1)];
        if (e.tag == (lin >> kPageShift) && off <= kPageSize - sizeof(T)) [[likely]] {
            std::memcpy(e.host + off, &v, sizeof(T));
            return;
        }
        write_slow(lin, sizeof(T), v);
    }
    void check_access(unsigned s, std::uint32_t off, unsigned n, bool write);
    template <class T> [[gnu::always_inline]] T read(unsigned s, std::uint32_t off) {
        const SegReg& sr = seg[s];
        if (!sr.fast_read) [[unlikely]] check_access(s, off, sizeof(T), false);
        return read_lin<T>(sr.base + off);
    }
    template <class T> [[gnu::always_inline]] void write(unsigned s, std::uint32_t off, T v) {
        const SegReg& sr = seg[s];
        if (!sr.fast_write) [[unlikely]] check_access(s, off, sizeof(T), true);
        write_lin<T>(sr.base + off, v);
    }

    // ---- stack
    // Operand/address size and prefix state as an instruction without prefixes sees it.
    void restore_defaults() {
        o32 = a32 = seg[kCS].big();
        seg_ovr = kNoSeg;
        rep = 0;
    }
    [[gnu::always_inline]] bool stack32() const { return seg[kSS].big(); }
    template <class T> [[gnu::always_inline]] void push(T v) {
        std::uint32_t sp = r[kESP] - sizeof(T);
        if (!stack32()) sp &= 0xffff;
        write<T>(kSS, sp, v);
        if (stack32()) r[kESP] = sp; else r[kESP] = (r[kESP] & 0xffff0000u) | sp;
    }
    template <class T> [[gnu::always_inline]] T pop() {
        const std::uint32_t sp = stack32() ? r[kESP] : (r[kESP] & 0xffff);
        T v = read<T>(kSS, sp);
        if (stack32()) r[kESP] = sp + sizeof(T); else r[kESP] = (r[kESP] & 0xffff0000u) | ((sp + sizeof(T)) & 0xffff);
        return v;
    }
    // Reads at ESP+offset without popping.
    template <class T> T peek(std::uint32_t offset) {
        const std::uint32_t sp = stack32() ? r[kESP] + offset : ((r[kESP] + offset) & 0xffff);
        return read<T>(kSS, sp);
    }
    void sp_add(std::uint32_t n) {
        if (stack32()) r[kESP] += n; else r[kESP] = (r[kESP] & 0xffff0000u) | ((r[kESP] + n) & 0xffff);
    }

    // ---- implemented in cpu_exec.cpp
    // Runs instructions while cycles < budget_end; faults propagate as CpuException.
    void exec_loop();
    [[noreturn]] void undefined(const char* why);

    // ---- implemented in cpu_system.cpp
    void reset_flat(std::uint32_t entry);
    struct Descriptor { std::uint32_t lo = 0, hi = 0; std::uint32_t base = 0, limit = 0; std::uint8_t access = 0, flags = 0; };
    Descriptor fetch_descriptor(std::uint16_t sel, std::uint32_t ext);
    void load_data_seg(unsigned s, std::uint16_t sel);
    void load_cs(std::uint16_t sel, std::uint32_t new_eip, std::uint32_t ext = 0);
    void check_cs_target(std::uint16_t sel, Descriptor& d, std::uint32_t ext);
    void commit_cs(std::uint16_t sel, const Descriptor& d);
    void deliver(std::uint8_t vector, bool has_error, std::uint32_t error, std::uint32_t ext, std::uint32_t return_eip);
    bool raise(const CpuException& e, std::uint32_t return_eip, std::uint32_t ext);
    void do_iret();
    void write_cr(unsigned n, std::uint32_t v);
    std::uint32_t port_in(std::uint16_t port, unsigned n);
    void port_out(std::uint16_t port, unsigned n, std::uint32_t v);
    void sync_clock() { sched.advance_to(clock_base + cycles); }
    void after_io();
    void request_recheck() { if (budget_end > cycles + 1) budget_end = cycles + 1; }
    bool interrupt_ready() const {
        return (flags & kIF) && cycles >= inhibit_end && pic != nullptr && pic->intr_pending();
    }
    void set_eflags_checked(std::uint32_t v, std::uint32_t mask);
    const std::uint8_t* fetch_slow(std::uint32_t lin);
    std::string disassemble(std::uint32_t lin);
    std::string regs_line();
    void trace_insn();
};

}  // namespace qxlbox::machine
