// i386 CPU core: the public facade, the run loop, fault reports and save/load (see cpu_core.h).
#include "machine/cpu/cpu.h"

#include <capstone/capstone.h>

#include <cstdio>

#include "machine/cpu/cpu_core.h"

namespace qxlbox::machine {

namespace {
// Upper bound of instructions between two checks of request_stop() and the interrupt line.
constexpr std::uint64_t kChunkCycles = 1u << 16;
constexpr std::uint32_t kSaveMagic = 0x36383369;  // "i386"
constexpr std::uint32_t kSaveVersion = 1;
}  // namespace

Cpu::Cpu(AddressSpace& memory, PortSpace& ports, Scheduler& clock)
    : core_(std::make_unique<CpuCore>(memory, ports, clock)) {
    core_->reset_flat(0);
}

Cpu::~Cpu() {
    if (core_->capstone_ok) {
        csh h = static_cast<csh>(core_->capstone_handle);
        cs_close(&h);
    }
}

void Cpu::set_interrupt_controller(InterruptController* pic) { core_->pic = pic; }

bool write_multiboot_gdt(AddressSpace& memory) {
    std::uint8_t table[kMultibootGdtLimit + 1] = {};
    const std::uint64_t descriptors[3] = {0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};
    for (unsigned i = 0; i < 3; ++i)
        for (unsigned b = 0; b < 8; ++b) table[i * 8 + b] = static_cast<std::uint8_t>(descriptors[i] >> (8 * b));
    return memory.write_block(kMultibootGdtAddress, table, sizeof table);
}

void Cpu::reset_to_multiboot(std::uint32_t entry, std::uint32_t eax, std::uint32_t ebx) {
    core_->reset_flat(entry);
    core_->gdtr = {kMultibootGdtAddress, kMultibootGdtLimit};
    core_->r[kEAX] = eax;
    core_->r[kEBX] = ebx;
    core_->dead = false;
}

Cpu::Stop Cpu::run() {
    CpuCore& c = *core_;
    if (c.dead) return Stop::Fault;
    c.clock_base = c.sched.now() - c.cycles;
    for (;;) {
        c.sync_clock();
        if (c.stop_requested.exchange(false)) return Stop::StopRequested;
        const Cycles now = c.sched.now();
        const Cycles deadline = c.sched.next_deadline();
        if (now >= deadline) return Stop::Deadline;
        c.check_map();
        if (c.interrupt_ready()) {
            c.halted = false;
            const std::uint8_t vector = c.pic->acknowledge();
            if (!c.raise(CpuException{vector, false, 0}, c.eip, 1)) {
                c.dead = true;
                return Stop::Fault;
            }
        }
        if (c.halted) return Stop::Halted;
        c.budget_end = c.cycles + std::min<Cycles>(deadline - now, kChunkCycles);
        if (c.trace) [[unlikely]] {
            // One instruction per pass, so that every one is printed.
            c.trace_insn();
            c.budget_end = c.cycles + 1;
        }
        // Come back when an interrupt shadow ends, to take a pending interrupt on time.
        if (c.inhibit_end > c.cycles) c.budget_end = std::min(c.budget_end, c.inhibit_end);
        try {
            c.exec_loop();
        } catch (const CpuException& e) {
            c.eip = c.insn_eip;
            c.r[kESP] = c.insn_esp;
            c.halted = false;
            ++c.cycles;  // a faulting instruction still takes time, so a fault loop reaches deadlines
            ++c.stall_cycles;
            if (e.vector == 0xff) {
                c.dead = true;
                return Stop::Fault;
            }
            if (c.trace) std::fprintf(c.trace, "exception %u error %#x at %08x\n", e.vector, e.error, c.insn_eip);
            if (!c.raise(e, c.eip, 0)) {
                c.dead = true;
                return Stop::Fault;
            }
        }
    }
}

bool Cpu::halted() const { return core_->halted; }
void Cpu::request_stop() { core_->stop_requested.store(true); }

std::string Cpu::fault_report() const {
    CpuCore& c = *core_;
    std::string out;
    if (!c.abort_message.empty()) out += "CPU stopped: " + c.abort_message + "\n";
    out += "last instructions:\n";
    const std::uint64_t n = std::min<std::uint64_t>(c.history_count, 32);
    for (std::uint64_t i = c.history_pos - n; i < c.history_pos; ++i) {
        const std::uint32_t e = c.history[i & 31];
        char buf[32];
        std::snprintf(buf, sizeof buf, "  %08x: ", e);
        out += buf + c.disassemble(c.seg[kCS].base + e) + "\n";
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "EIP=%08x %s\nCS=%04x SS=%04x DS=%04x ES=%04x FS=%04x GS=%04x CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n"
                  "GDT=%08x/%04x IDT=%08x/%04x cycles=%llu retired=%llu\n",
                  c.eip, c.regs_line().c_str(), c.seg[kCS].selector, c.seg[kSS].selector, c.seg[kDS].selector,
                  c.seg[kES].selector, c.seg[kFS].selector, c.seg[kGS].selector, c.cr0, c.cr2, c.cr3, c.cr4, c.gdtr.base,
                  c.gdtr.limit, c.idtr.base, c.idtr.limit, static_cast<unsigned long long>(c.cycles),
                  static_cast<unsigned long long>(c.retired));
    out += buf;
    return out;
}

void Cpu::set_trace(std::FILE* out) { core_->trace = out; }
std::uint64_t Cpu::instructions_retired() const { return core_->retired; }
std::uint32_t Cpu::reg32(unsigned index) const { return index < 8 ? core_->r[index] : 0; }
void Cpu::set_reg32(unsigned index, std::uint32_t value) {
    if (index < 8) core_->r[index] = value;
}
std::uint32_t Cpu::eip() const { return core_->eip; }
std::uint32_t Cpu::eflags() const { return core_->get_eflags(); }
void Cpu::set_eip(std::uint32_t value) {
    core_->eip = value;
    core_->halted = false;
}
void Cpu::set_eflags(std::uint32_t value) {
    core_->lf_op = FlagOp::None;
    core_->flags = (value & 0x257fd5u) | 2;
}
std::uint16_t Cpu::selector(unsigned seg_index) const { return seg_index < 6 ? core_->seg[seg_index].selector : 0; }
std::uint32_t Cpu::control_register(unsigned n) const {
    switch (n) {
        case 0: return core_->cr0;
        case 2: return core_->cr2;
        case 3: return core_->cr3;
        case 4: return core_->cr4;
        default: return 0;
    }
}

// ---- save / load
namespace {
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v));
    put32(out, static_cast<std::uint32_t>(v >> 32));
}
struct Reader {
    const std::uint8_t* p;
    std::size_t left;
    bool ok = true;
    std::uint32_t u32() {
        if (left < 4) { ok = false; return 0; }
        const std::uint32_t v = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                                static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
        p += 4;
        left -= 4;
        return v;
    }
    std::uint64_t u64() {
        const std::uint64_t lo = u32();
        return lo | static_cast<std::uint64_t>(u32()) << 32;
    }
};
}  // namespace

void Cpu::save(std::vector<std::uint8_t>& out) const {
    CpuCore& c = *core_;
    put32(out, kSaveMagic);
    put32(out, kSaveVersion);
    for (std::uint32_t v : c.r) put32(out, v);
    put32(out, c.eip);
    put32(out, c.get_eflags());
    for (const SegReg& s : c.seg) {
        put32(out, s.selector);
        put32(out, s.base);
        put32(out, s.limit);
        put32(out, static_cast<std::uint32_t>(s.access) | static_cast<std::uint32_t>(s.flags) << 8 |
                       static_cast<std::uint32_t>(s.usable) << 16);
    }
    put32(out, c.gdtr.base);
    put32(out, c.gdtr.limit);
    put32(out, c.idtr.base);
    put32(out, c.idtr.limit);
    put32(out, c.cr0);
    put32(out, c.cr2);
    put32(out, c.cr3);
    put32(out, c.cr4);
    put64(out, c.cycles);
    put64(out, c.retired);
    put64(out, c.inhibit_end > c.cycles ? c.inhibit_end - c.cycles : 0);
    put32(out, c.halted ? 1 : 0);
}

bool Cpu::load(const std::uint8_t* data, std::size_t size, std::size_t& consumed) {
    consumed = 0;
    if (data == nullptr) return false;
    Reader rd{data, size};
    if (rd.u32() != kSaveMagic || rd.u32() != kSaveVersion || !rd.ok) return false;
    CpuCore tmp_regs(core_->mem, core_->io, core_->sched);
    for (auto& v : tmp_regs.r) v = rd.u32();
    tmp_regs.eip = rd.u32();
    const std::uint32_t fl = rd.u32();
    for (SegReg& s : tmp_regs.seg) {
        s.selector = static_cast<std::uint16_t>(rd.u32());
        s.base = rd.u32();
        s.limit = rd.u32();
        const std::uint32_t a = rd.u32();
        s.access = static_cast<std::uint8_t>(a);
        s.flags = static_cast<std::uint8_t>((a >> 8) & 0xf);
        s.usable = ((a >> 16) & 1) != 0;
        if ((a >> 17) != 0 || ((a >> 12) & 0xf) != 0) return false;
        s.refresh_fast();
    }
    tmp_regs.gdtr.base = rd.u32();
    const std::uint32_t gl = rd.u32();
    tmp_regs.idtr.base = rd.u32();
    const std::uint32_t il = rd.u32();
    const std::uint32_t cr0 = rd.u32(), cr2 = rd.u32(), cr3 = rd.u32(), cr4 = rd.u32();
    const std::uint64_t cycles = rd.u64(), retired = rd.u64(), shadow = rd.u64();
    const std::uint32_t halted = rd.u32();
    if (!rd.ok) return false;
    // Reject states this CPU can never be in: it would otherwise misbehave later.
    if (gl > 0xffff || il > 0xffff || halted > 1 || shadow > 2) return false;
    if (!(cr0 & 1) || (cr0 & 0x80000000u)) return false;
    if ((fl & 2) == 0 || (fl & ~0x257fd5u & ~2u) != 0) return false;
    const SegReg& cs = tmp_regs.seg[kCS];
    const SegReg& ss = tmp_regs.seg[kSS];
    if (!cs.usable || (cs.access & 0x98) != 0x98) return false;
    if (!ss.usable || (ss.access & 0x9a) != 0x92) return false;

    CpuCore& c = *core_;
    std::memcpy(c.r, tmp_regs.r, sizeof c.r);
    c.eip = tmp_regs.eip;
    c.lf_op = FlagOp::None;
    c.flags = fl;
    for (unsigned i = 0; i < 6; ++i) c.seg[i] = tmp_regs.seg[i];
    c.gdtr = {tmp_regs.gdtr.base, static_cast<std::uint16_t>(gl)};
    c.idtr = {tmp_regs.idtr.base, static_cast<std::uint16_t>(il)};
    c.cr0 = cr0;
    c.cr2 = cr2;
    c.cr3 = cr3;
    c.cr4 = cr4;
    c.cycles = cycles;
    c.retired = retired;
    c.stall_cycles = cycles - retired;
    c.history_count = 0;
    c.history_pos = cycles;
    c.inhibit_end = cycles + shadow;
    c.halted = halted != 0;
    c.dead = false;
    c.abort_message.clear();
    c.flush_tlb();
    consumed = size - rd.left;
    return true;
}

}  // namespace qxlbox::machine
