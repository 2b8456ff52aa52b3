#include "tests/cpu/cpu_diff.h"

#include <capstone/capstone.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tests/cpu/cpu_harness.h"

namespace qxlbox::cputest {

using machine::AddressSpace;
using machine::Cpu;

namespace {
void put32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
}  // namespace

EmuEnv::EmuEnv()
    : data_(4096), stack_(4096), code_(4096), tables_(4096), handlers_(4096, 0xf4) {
    cpu_ = std::make_unique<Cpu>(mem_, ports_, clock_);
    mem_.map_host("data", NATIVE_DATA_ADDR, 4096, data_.data(), true);
    mem_.map_host("stack", NATIVE_STACK_ADDR, 4096, stack_.data(), true);
    mem_.map_host("code", NATIVE_CODE_ADDR, 4096, code_.data(), true);
    mem_.map_host("tables", kTables, 4096, tables_.data(), true);
    mem_.map_host("handlers", kHandlers, 4096, handlers_.data(), true);
    // GDT: null, flat code 0x08, flat data 0x10, 16-bit data 0x18 (limit 0xfff), not-present data 0x20,
    // read-only data 0x28, code (execute-only) 0x30.
    const std::uint64_t gdt[] = {0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull, 0x0000920000000fffull,
                                 0x00cf12000000ffffull, 0x00cf90000000ffffull, 0x00cf98000000ffffull};
    std::memcpy(tables_.data(), gdt, sizeof gdt);
    // pseudo-descriptors at +0x100 (GDTR) and +0x108 (IDTR)
    tables_[0x100] = sizeof gdt - 1; tables_[0x101] = 0;
    put32(&tables_[0x102], kTables);
    tables_[0x108] = 0xff; tables_[0x109] = 0x01;  // 64 gates
    put32(&tables_[0x10a], kIdt);
    for (unsigned v = 0; v < 64; ++v) set_gate(v, kHandlers + v, 0x08, 0x8e);
    // lgdt [kTables+0x100]; lidt [kTables+0x108]; hlt
    const std::uint8_t setup[] = {0x0f, 0x01, 0x15, 0, 0, 0, 0, 0x0f, 0x01, 0x1d, 0, 0, 0, 0, 0xf4};
    std::memcpy(code_.data(), setup, sizeof setup);
    put32(&code_[3], kTables + 0x100);
    put32(&code_[10], kTables + 0x108);
    cpu_->reset_to_multiboot(NATIVE_CODE_ADDR, 0, 0);
    cpu_->set_reg32(4, NATIVE_STACK_ADDR + 0x800);
    cpu_->run();
}

void EmuEnv::set_gate(unsigned vector, std::uint32_t target, std::uint16_t selector, std::uint8_t type_attr) {
    std::uint8_t* g = &tables_[0x200 + vector * 8];
    g[0] = static_cast<std::uint8_t>(target);
    g[1] = static_cast<std::uint8_t>(target >> 8);
    g[2] = static_cast<std::uint8_t>(selector);
    g[3] = static_cast<std::uint8_t>(selector >> 8);
    g[4] = 0;
    g[5] = type_attr;
    g[6] = static_cast<std::uint8_t>(target >> 16);
    g[7] = static_cast<std::uint8_t>(target >> 24);
}

int EmuEnv::run(const NativeCase& c, NativeResult& out) {
    std::memcpy(data_.data(), c.data, NATIVE_AREA_BYTES);
    std::memcpy(stack_.data(), c.stack, NATIVE_AREA_BYTES);
    std::memset(code_.data(), 0xcc, 64);
    std::memcpy(code_.data(), c.code, c.code_len);
    code_[c.code_len] = 0xf4;  // hlt
    for (unsigned i = 0; i < 8; ++i) cpu_->set_reg32(i, c.regs[i]);
    cpu_->set_eflags(c.eflags);
    cpu_->set_eip(NATIVE_CODE_ADDR);
    // A guard event, so that a snippet that never reaches its HLT still returns.
    const auto guard = clock_.schedule_in(10'000, [] {});
    const Cpu::Stop stop = cpu_->run();
    clock_.cancel(guard);
    for (unsigned i = 0; i < 8; ++i) out.regs[i] = cpu_->reg32(i);
    out.eflags = cpu_->eflags();
    out.signal = 0;
    std::memcpy(out.data, data_.data(), NATIVE_AREA_BYTES);
    std::memcpy(out.stack, stack_.data(), NATIVE_AREA_BYTES);
    if (stop != Cpu::Stop::Halted) return 1000;
    const std::uint32_t eip = cpu_->eip();
    if (eip > kHandlers && eip <= kHandlers + 64) return static_cast<int>(eip - kHandlers - 1);
    if (eip != NATIVE_CODE_ADDR + c.code_len + 1) return 1001;
    return -1;
}

std::uint32_t random_value(std::mt19937& rng) {
    switch (rng() % 10) {
        case 0: return 0;
        case 1: return 1;
        case 2: return 0xffffffffu;
        case 3: return 0x80000000u + (rng() % 3) - 1;
        case 4: return rng() % 256;
        case 5: return 0x7f + (rng() % 3) + ((rng() % 2) ? 0x7f00 : 0);
        case 6: return static_cast<std::uint32_t>(-static_cast<std::int32_t>(rng() % 300));
        default: return static_cast<std::uint32_t>(rng());
    }
}

std::string describe_code(const std::uint8_t* code, std::size_t len) {
    std::ostringstream os;
    for (std::size_t i = 0; i < len; ++i) {
        char b[4];
        std::snprintf(b, sizeof b, "%02x ", code[i]);
        os << b;
    }
    csh h = 0;
    if (cs_open(CS_ARCH_X86, CS_MODE_32, &h) == CS_ERR_OK) {
        cs_insn* insn = nullptr;
        const std::size_t n = cs_disasm(h, code, len, NATIVE_CODE_ADDR, 0, &insn);
        os << " |";
        for (std::size_t i = 0; i < n; ++i) os << " " << insn[i].mnemonic << " " << insn[i].op_str << ";";
        if (n) cs_free(insn, n);
        cs_close(&h);
    }
    return os.str();
}

namespace {

const char* kRegNames[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};

std::string hex(std::uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "%08x", v);
    return b;
}

bool signal_matches(std::uint32_t sig, int vector) {
    switch (vector) {
        case 0: return sig == SIGFPE;
        case 1: case 3: return sig == SIGTRAP;
        case 6: return sig == SIGILL;
        case 4: case 5: case 11: case 12: case 13: return sig == SIGSEGV || sig == SIGBUS;
        default: return false;
    }
}

bool run_native(const std::vector<NativeCase>& cases, std::vector<NativeResult>& results, std::string& error) {
    char dir_template[] = "/tmp/qxlbox-cpu-diff-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (!dir) { error = "mkdtemp failed"; return false; }
    const std::string in = std::string(dir) + "/cases.bin", out = std::string(dir) + "/results.bin";
    {
        std::ofstream f(in, std::ios::binary);
        f.write(reinterpret_cast<const char*>(cases.data()), static_cast<std::streamsize>(cases.size() * sizeof(NativeCase)));
    }
    const std::string cmd = std::string(CPU_NATIVE_RUNNER) + " " + in + " " + out;
    const int rc = std::system(cmd.c_str());
    std::ifstream f(out, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::remove(in.c_str());
    std::remove(out.c_str());
    rmdir(dir);
    if (rc != 0) { error = "native runner failed: " + cmd; return false; }
    if (bytes.size() != cases.size() * sizeof(NativeResult)) { error = "native runner returned a short result file"; return false; }
    results.resize(cases.size());
    std::memcpy(results.data(), bytes.data(), bytes.size());
    return true;
}

}  // namespace

std::string run_differential(const std::vector<Form>& forms, unsigned per_form, std::uint32_t seed) {
    std::vector<NativeCase> cases;
    std::vector<std::size_t> form_of;
    for (std::size_t fi = 0; fi < forms.size(); ++fi) {
        std::mt19937 rng(seed ^ static_cast<std::uint32_t>(std::hash<std::string>{}(forms[fi].name)));
        for (unsigned k = 0; k < per_form; ++k) {
            NativeCase c{};
            for (std::uint32_t& r : c.regs) r = random_value(rng);
            c.regs[4] = NATIVE_STACK_ADDR + 128;
            c.eflags = 0x202 | (static_cast<std::uint32_t>(rng()) & kFlagsAll);
            for (auto& b : c.data) b = static_cast<std::uint8_t>(rng());
            for (auto& b : c.stack) b = static_cast<std::uint8_t>(rng());
            forms[fi].make(rng, c);
            cases.push_back(c);
            form_of.push_back(fi);
        }
    }
    std::vector<NativeResult> native;
    std::string error;
    if (!run_native(cases, native, error)) return error;

    EmuEnv env;
    std::ostringstream report;
    std::vector<unsigned> failures(forms.size(), 0);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const NativeCase& c = cases[i];
        const Form& form = forms[form_of[i]];
        NativeResult ours{};
        const int vector = env.run(c, ours);
        const NativeResult& host = native[i];
        std::ostringstream diff;
        if (host.signal != 0 || vector >= 0) {
            if (!signal_matches(host.signal, vector)) diff << "  host signal " << host.signal << ", our exception vector " << vector << "\n";
        } else {
            for (unsigned r = 0; r < 8; ++r)
                if (host.regs[r] != ours.regs[r]) diff << "  " << kRegNames[r] << ": host " << hex(host.regs[r]) << " ours " << hex(ours.regs[r]) << "\n";
            const std::uint32_t mask = (form.flags_mask ? form.flags_mask(c) : kFlagsAll) | kDF;
            if ((host.eflags & mask) != (ours.eflags & mask))
                diff << "  eflags (mask " << hex(mask) << "): host " << hex(host.eflags) << " ours " << hex(ours.eflags) << "\n";
            for (unsigned b = 0; b < NATIVE_AREA_BYTES; ++b) {
                if (host.data[b] != ours.data[b]) { diff << "  data[" << b << "]: host " << int(host.data[b]) << " ours " << int(ours.data[b]) << "\n"; break; }
            }
            for (unsigned b = 0; b < NATIVE_AREA_BYTES; ++b) {
                if (host.stack[b] != ours.stack[b]) { diff << "  stack[" << b << "]: host " << int(host.stack[b]) << " ours " << int(ours.stack[b]) << "\n"; break; }
            }
        }
        if (!diff.str().empty() && failures[form_of[i]]++ < 3) {
            report << form.name << ": " << describe_code(c.code, c.code_len) << "\n  inputs:";
            for (unsigned r = 0; r < 8; ++r) report << " " << kRegNames[r] << "=" << hex(c.regs[r]);
            report << " eflags=" << hex(c.eflags) << "\n" << diff.str();
        }
    }
    for (std::size_t fi = 0; fi < forms.size(); ++fi)
        if (failures[fi]) report << forms[fi].name << ": " << failures[fi] << " of " << per_form << " cases differ\n";
    return report.str();
}

}  // namespace qxlbox::cputest
