// i386 CPU core: segmentation, interrupt and exception delivery, control registers, port and
// MMIO access, and the disassembly used by the trace and fault reports (see cpu_core.h).
#include <capstone/capstone.h>

#include <cinttypes>
#include <cstdio>

#include "machine/cpu/cpu_core.h"

namespace qxlbox::machine {

namespace {
[[noreturn]] void fault_err(std::uint8_t vector, std::uint32_t error) { throw CpuException{vector, true, error}; }
}  // namespace

std::uint64_t CpuCore::mmio_read(std::uint32_t lin, unsigned n) {
    io_touched = true;
    request_recheck();
    const std::uint64_t v = mem.read(lin, n);
    check_map();
    return v;
}

void CpuCore::mmio_write(std::uint32_t lin, unsigned n, std::uint64_t v) {
    io_touched = true;
    request_recheck();
    mem.write(lin, n, v);
    check_map();
}

std::uint64_t CpuCore::read_slow(std::uint32_t lin, unsigned n) {
    check_map();
    const std::uint32_t off = lin & (kPageSize - 1);
    if (off + n <= kPageSize) {
        if (std::uint8_t* p = mem.host_page(lin)) {
            rtlb[(lin >> kPageShift) & (kTlbSize - 1)] = TlbEntry{lin >> kPageShift, p};
            std::uint64_t v = 0;
            std::memcpy(&v, p + off, n);
            return v;
        }
        return mmio_read(lin, n);
    }
    // Crosses a page boundary: byte by byte, each byte through its own page.
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= read_slow(lin + i, 1) << (8 * i);
    return v;
}

void CpuCore::write_slow(std::uint32_t lin, unsigned n, std::uint64_t v) {
    check_map();
    const std::uint32_t off = lin & (kPageSize - 1);
    if (off + n <= kPageSize) {
        if (std::uint8_t* p = mem.writable_page(lin)) {
            wtlb[(lin >> kPageShift) & (kTlbSize - 1)] = TlbEntry{lin >> kPageShift, p};
            std::memcpy(p + off, &v, n);
            return;
        }
        mmio_write(lin, n, v);
        return;
    }
    for (unsigned i = 0; i < n; ++i) write_slow(lin + i, 1, (v >> (8 * i)) & 0xff);
}

void CpuCore::check_access(unsigned s, std::uint32_t off, unsigned n, bool write) {
    const SegReg& sr = seg[s];
    const std::uint8_t vec = s == kSS ? kVecSS : kVecGP;
    if (!sr.usable) fault_err(vec, 0);
    const bool code = (sr.access & 0x08) != 0;
    if (write && (code || (sr.access & 0x02) == 0)) fault_err(vec, 0);
    if (!write && code && (sr.access & 0x02) == 0) fault_err(vec, 0);
    const std::uint64_t last = static_cast<std::uint64_t>(off) + n - 1;
    if (!code && (sr.access & 0x04) != 0) {  // expand-down
        const std::uint64_t upper = sr.big() ? 0xffffffffu : 0xffffu;
        if (off <= sr.limit || last > upper) fault_err(vec, 0);
    } else if (last > sr.limit) {
        fault_err(vec, 0);
    }
}

void CpuCore::reset_flat(std::uint32_t entry) {
    for (auto& x : r) x = 0;
    eip = entry;
    flags = 2;
    lf_op = FlagOp::None;
    for (unsigned i = 0; i < 6; ++i) {
        SegReg& s = seg[i];
        s.selector = i == kCS ? 0x08 : 0x10;
        s.base = 0;
        s.limit = 0xffffffffu;
        s.access = i == kCS ? 0x9b : 0x93;
        s.flags = 0xc;
        s.usable = true;
        s.refresh_fast();
    }
    gdtr = {};
    idtr = {};
    cr0 = 0x11;
    cr2 = cr3 = cr4 = 0;
    halted = false;
    inhibit_end = 0;
    abort_message.clear();
    flush_tlb();
}

CpuCore::Descriptor CpuCore::fetch_descriptor(std::uint16_t sel, std::uint32_t ext) {
    if (sel & 4) fault_err(kVecGP, (sel & 0xfffcu) | ext);  // LDT: not modelled, no LDTR is ever loaded
    const std::uint32_t index = sel & 0xfff8u;
    if (index + 7u > gdtr.limit) fault_err(kVecGP, (sel & 0xfffcu) | ext);
    Descriptor d;
    d.lo = read_lin<std::uint32_t>(gdtr.base + index);
    d.hi = read_lin<std::uint32_t>(gdtr.base + index + 4);
    d.base = (d.lo >> 16) | ((d.hi & 0xff) << 16) | (d.hi & 0xff000000u);
    d.limit = (d.lo & 0xffff) | (d.hi & 0xf0000u);
    if (d.hi & 0x800000u) d.limit = (d.limit << 12) | 0xfff;
    d.access = static_cast<std::uint8_t>(d.hi >> 8);
    d.flags = static_cast<std::uint8_t>((d.hi >> 20) & 0xf);
    return d;
}

namespace {
void set_accessed(CpuCore& c, std::uint16_t sel, CpuCore::Descriptor& d) {
    if (d.access & 1) return;
    d.access |= 1;
    d.hi |= 0x100;
    c.write_lin<std::uint32_t>(c.gdtr.base + (sel & 0xfff8u) + 4, d.hi);
}
void apply(SegReg& s, std::uint16_t sel, const CpuCore::Descriptor& d) {
    s.selector = sel;
    s.base = d.base;
    s.limit = d.limit;
    s.access = d.access;
    s.flags = d.flags;
    s.usable = true;
    s.refresh_fast();
}
}  // namespace

void CpuCore::load_data_seg(unsigned s, std::uint16_t sel) {
    if ((sel & 0xfffcu) == 0) {
        if (s == kSS) fault_err(kVecGP, 0);
        SegReg& sr = seg[s];
        sr.selector = sel;
        sr.usable = false;
        sr.refresh_fast();
        return;
    }
    Descriptor d = fetch_descriptor(sel, 0);
    const std::uint32_t err = sel & 0xfffcu;
    const unsigned dpl = (d.access >> 5) & 3, rpl = sel & 3;
    const bool system = (d.access & 0x10) == 0, code = (d.access & 0x08) != 0;
    if (s == kSS) {
        if (system || code || (d.access & 0x02) == 0 || rpl != 0 || dpl != 0) fault_err(kVecGP, err);
        if (!(d.access & 0x80)) fault_err(kVecSS, err);
    } else {
        if (system || (code && (d.access & 0x02) == 0)) fault_err(kVecGP, err);
        const bool conforming_code = code && (d.access & 0x04) != 0;
        if (!conforming_code && dpl < rpl) fault_err(kVecGP, err);
        if (!(d.access & 0x80)) fault_err(kVecNP, err);
    }
    set_accessed(*this, sel, d);
    apply(seg[s], sel, d);
}

void CpuCore::check_cs_target(std::uint16_t sel, Descriptor& d, std::uint32_t ext) {
    if ((sel & 0xfffcu) == 0) fault_err(kVecGP, ext);
    d = fetch_descriptor(sel, ext);
    const std::uint32_t err = (sel & 0xfffcu) | ext;
    const unsigned dpl = (d.access >> 5) & 3, rpl = sel & 3;
    if ((d.access & 0x18) != 0x18) fault_err(kVecGP, err);  // not a code segment (gates: not modelled)
    const bool conforming = (d.access & 0x04) != 0;
    if (conforming ? dpl != 0 : (dpl != 0 || rpl != 0)) fault_err(kVecGP, err);
    if (!(d.access & 0x80)) fault_err(kVecNP, err);
}

void CpuCore::commit_cs(std::uint16_t sel, const Descriptor& desc) {
    Descriptor d = desc;
    set_accessed(*this, sel, d);
    apply(seg[kCS], static_cast<std::uint16_t>(sel & 0xfffcu), d);
    invalidate_code();
    o32 = a32 = seg[kCS].big();  // the default sizes follow the new code segment
}

void CpuCore::load_cs(std::uint16_t sel, std::uint32_t new_eip, std::uint32_t ext) {
    Descriptor d;
    check_cs_target(sel, d, ext);
    if (!(d.flags & 4)) new_eip &= 0xffff;
    if (new_eip > d.limit) fault_err(kVecGP, ext);
    commit_cs(sel, d);
    eip = new_eip;
}

void CpuCore::set_eflags_checked(std::uint32_t v, std::uint32_t mask) {
    materialize();
    const bool if_was = flags & kIF;
    flags = (flags & ~mask) | (v & mask) | 2;
    if ((flags & kIF) && !if_was) request_recheck();
}

void CpuCore::deliver(std::uint8_t vector, bool has_error, std::uint32_t error, std::uint32_t ext, std::uint32_t return_eip) {
    const std::uint32_t idt_err = vector * 8u + 2u + ext;
    if (vector * 8u + 7u > idtr.limit) fault_err(kVecGP, idt_err);
    const std::uint32_t lo = read_lin<std::uint32_t>(idtr.base + vector * 8u);
    const std::uint32_t hi = read_lin<std::uint32_t>(idtr.base + vector * 8u + 4);
    const unsigned type = (hi >> 8) & 0x1f;
    const bool gate32 = type == 0x0e || type == 0x0f;
    const bool trap = type == 0x0f || type == 0x07;
    if (type != 0x0e && type != 0x0f && type != 0x06 && type != 0x07) fault_err(kVecGP, idt_err);  // task gates: not modelled
    if (!(hi & 0x8000)) fault_err(kVecNP, idt_err);
    const std::uint16_t sel = static_cast<std::uint16_t>(lo >> 16);
    std::uint32_t target = (lo & 0xffff) | (gate32 ? (hi & 0xffff0000u) : 0);
    Descriptor d;
    check_cs_target(sel, d, ext);
    if (target > d.limit) fault_err(kVecGP, ext);
    const std::uint32_t fl = get_eflags();
    if (gate32) {
        push<std::uint32_t>(fl);
        push<std::uint32_t>(seg[kCS].selector);
        push<std::uint32_t>(return_eip);
        if (has_error) push<std::uint32_t>(error);
    } else {
        push<std::uint16_t>(static_cast<std::uint16_t>(fl));
        push<std::uint16_t>(seg[kCS].selector);
        push<std::uint16_t>(static_cast<std::uint16_t>(return_eip));
        if (has_error) push<std::uint16_t>(static_cast<std::uint16_t>(error));
    }
    commit_cs(sel, d);
    eip = target;
    flags &= ~(kTF | kNT | kRF | kVM);
    if (!trap) flags &= ~kIF;
}

namespace {
bool contributory(std::uint8_t v) { return v == kVecDE || (v >= kVecTS && v <= kVecGP); }
}  // namespace

// Delivers an exception; escalates to #DF and to a triple fault as the 386 does. Returns false
// on a triple fault (the CPU then stops with Stop::Fault).
bool CpuCore::raise(const CpuException& first, std::uint32_t return_eip, std::uint32_t ext) {
    // Whatever goes wrong while delivering an exception or an external interrupt carries EXT=1
    // in its error code (software INT n is delivered directly, not through here).
    (void)ext;
    CpuException cur = first;
    const std::uint32_t cur_ext = 1;
    const std::uint32_t esp0 = r[kESP];
    for (;;) {
        try {
            deliver(cur.vector, cur.has_error, cur.error, cur_ext, return_eip);
            return true;
        } catch (const CpuException& e) {
            r[kESP] = esp0;
            if (cur.vector == kVecDF) {
                char buf[160];
                std::snprintf(buf, sizeof buf, "triple fault: exception %u (error %#x) while delivering a double fault", e.vector, e.error);
                abort_message = buf;
                return false;
            }
            const bool df = (contributory(cur.vector) && contributory(e.vector)) ||
                            (cur.vector == kVecPF && (contributory(e.vector) || e.vector == kVecPF));
            cur = df ? CpuException{kVecDF, true, 0} : e;
        }
    }
}

void CpuCore::do_iret() {
    if (flags & kNT) fault_err(kVecGP, 0);  // task return: tasks are not modelled
    std::uint32_t new_eip, new_flags;
    std::uint16_t sel;
    if (o32) {
        new_eip = peek<std::uint32_t>(0);
        sel = static_cast<std::uint16_t>(peek<std::uint32_t>(4));
        new_flags = peek<std::uint32_t>(8);
    } else {
        new_eip = peek<std::uint16_t>(0);
        sel = peek<std::uint16_t>(2);
        new_flags = peek<std::uint16_t>(4);
    }
    if ((sel & 3) != 0) fault_err(kVecGP, sel & 0xfffcu);  // return to an outer ring: ring 0 only
    if (o32 && (new_flags & kVM)) fault_err(kVecGP, 0);    // virtual-8086 mode: not modelled
    load_cs(sel, new_eip);
    sp_add(o32 ? 12 : 6);
    set_eflags_checked(new_flags, o32 ? 0x257fd5u : 0x7fd5u);
}

void CpuCore::write_cr(unsigned n, std::uint32_t v) {
    switch (n) {
        case 0:
            if (v & 0x80000000u) {
                abort_message = "the guest enabled paging (CR0.PG); paging is not modelled by this CPU";
                throw CpuException{0xff, false, 0};
            }
            if (!(v & 1)) {
                abort_message = "the guest left protected mode (CR0.PE=0); real mode is not modelled by this CPU";
                throw CpuException{0xff, false, 0};
            }
            cr0 = v | 0x10;
            break;
        case 2: cr2 = v; break;
        case 3: cr3 = v; break;
        default: cr4 = v; break;
    }
}

void CpuCore::after_io() {
    io_touched = true;
    request_recheck();
    check_map();  // a port write may have moved a BAR
}

std::uint32_t CpuCore::port_in(std::uint16_t port, unsigned n) {
    sync_clock();
    const std::uint32_t v = io.in(port, n);
    after_io();
    return v;
}

void CpuCore::port_out(std::uint16_t port, unsigned n, std::uint32_t v) {
    sync_clock();
    io.out(port, n, v);
    after_io();
}

std::string CpuCore::disassemble(std::uint32_t lin) {
    std::uint8_t bytes[16];
    unsigned n = 0;
    for (; n < sizeof bytes; ++n) {
        const std::uint8_t* p = mem.host_page(lin + n);
        if (!p) break;
        bytes[n] = p[(lin + n) & (kPageSize - 1)];
    }
    std::string out;
    if (n == 0) return "(code not in RAM)";
    if (!capstone_ok) {
        csh h = 0;
        if (cs_open(CS_ARCH_X86, CS_MODE_32, &h) != CS_ERR_OK) return "(no disassembler)";
        capstone_handle = h;
        capstone_ok = true;
    }
    cs_insn* insn = nullptr;
    const std::size_t count = cs_disasm(static_cast<csh>(capstone_handle), bytes, n, lin, 1, &insn);
    if (count == 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "(bad) %02x %02x %02x", bytes[0], n > 1 ? bytes[1] : 0, n > 2 ? bytes[2] : 0);
        return buf;
    }
    out = std::string(insn[0].mnemonic) + (insn[0].op_str[0] ? " " : "") + insn[0].op_str;
    cs_free(insn, count);
    return out;
}

std::string CpuCore::regs_line() {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x ESP=%08x EFL=%08x",
                  r[kEAX], r[kEBX], r[kECX], r[kEDX], r[kESI], r[kEDI], r[kEBP], r[kESP], get_eflags());
    return buf;
}

void CpuCore::trace_insn() {
    const std::uint32_t lin = seg[kCS].base + eip;
    std::fprintf(trace, "%08x: %-40s %s\n", lin, disassemble(lin).c_str(), regs_line().c_str());
}

}  // namespace qxlbox::machine
