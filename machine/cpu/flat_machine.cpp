// Minimal machine for CPU tests and benchmarks (see flat_machine.h).
#include "machine/cpu/flat_machine.h"

#include <cstring>

namespace qxlbox::machine {

namespace {
std::uint32_t le32(const std::vector<std::uint8_t>& b, std::size_t off) {
    return static_cast<std::uint32_t>(b[off]) | static_cast<std::uint32_t>(b[off + 1]) << 8 |
           static_cast<std::uint32_t>(b[off + 2]) << 16 | static_cast<std::uint32_t>(b[off + 3]) << 24;
}
std::uint16_t le16(const std::vector<std::uint8_t>& b, std::size_t off) {
    return static_cast<std::uint16_t>(b[off] | b[off + 1] << 8);
}
constexpr std::uint32_t kMultibootMagic = 0x2badb002;
}  // namespace

const char* outcome_name(FlatMachine::Outcome o) {
    switch (o) {
        case FlatMachine::Outcome::Exited: return "exited";
        case FlatMachine::Outcome::Fault: return "fault";
        case FlatMachine::Outcome::Timeout: return "timeout";
        case FlatMachine::Outcome::Halted: return "halted";
    }
    return "?";
}

FlatMachine::FlatMachine(std::uint32_t ram_size_bytes)
    : cpu(memory, ports, clock), ram((ram_size_bytes + kPageSize - 1) & ~(kPageSize - 1)) {
    memory.map_host("ram", 0, ram.size(), ram.data(), true);
    PortOps com;
    com.read = [](std::uint16_t off, unsigned) -> std::uint32_t { return off == 5 ? 0x60 : 0; };
    com.write = [this](std::uint16_t off, unsigned, std::uint32_t v) {
        if (off == 0) serial.push_back(static_cast<char>(v & 0xff));
    };
    com.allowed_sizes = kAccess8;
    com1_ = ports.register_ports("com1", 0x3f8, 8, com);
    PortOps ex;
    ex.read = [](std::uint16_t, unsigned) -> std::uint32_t { return 0; };
    ex.write = [this](std::uint16_t, unsigned, std::uint32_t v) {
        exit_value = v;
        exited = true;
        cpu.request_stop();
    };
    exit_port_ = ports.register_ports("debug-exit", 0xf4, 4, ex);
}

std::string FlatMachine::load_elf(const std::vector<std::uint8_t>& b) {
    if (b.size() < 52 || std::memcmp(b.data(), "\x7f" "ELF", 4) != 0) return "not an ELF file";
    if (b[4] != 1 || b[5] != 1) return "not a 32-bit little-endian ELF file";
    if (le16(b, 18) != 3) return "not an i386 ELF file";
    const std::uint32_t entry = le32(b, 24), phoff = le32(b, 28);
    const std::uint16_t phentsize = le16(b, 42), phnum = le16(b, 44);
    if (phentsize < 32 || phnum == 0 || static_cast<std::uint64_t>(phoff) + static_cast<std::uint64_t>(phentsize) * phnum > b.size())
        return "program headers out of the file";
    // The loader's GDT first, so that a segment loaded over it wins (as the kernel's bytes do).
    if (ram.size() >= kMultibootGdtAddress + kMultibootGdtLimit + 1u) write_multiboot_gdt(memory);
    bool loaded = false;
    for (unsigned i = 0; i < phnum; ++i) {
        const std::size_t ph = phoff + static_cast<std::size_t>(i) * phentsize;
        if (le32(b, ph) != 1) continue;  // PT_LOAD only
        const std::uint32_t off = le32(b, ph + 4), paddr = le32(b, ph + 12), filesz = le32(b, ph + 16), memsz = le32(b, ph + 20);
        if (filesz > memsz) return "segment file size exceeds memory size";
        if (static_cast<std::uint64_t>(off) + filesz > b.size()) return "segment data out of the file";
        if (static_cast<std::uint64_t>(paddr) + memsz > ram.size()) return "segment does not fit in RAM";
        std::memcpy(ram.data() + paddr, b.data() + off, filesz);
        std::memset(ram.data() + paddr + filesz, 0, memsz - filesz);
        loaded = true;
    }
    if (!loaded) return "no loadable segment";
    if (entry >= ram.size()) return "entry point outside RAM";
    cpu.reset_to_multiboot(entry, kMultibootMagic, 0);
    return {};
}

FlatMachine::Outcome FlatMachine::run(std::uint64_t max_cycles) {
    bool timed_out = false;
    const Scheduler::EventId timeout = clock.schedule_at(clock.now() + max_cycles, [&timed_out] { timed_out = true; });
    Outcome result = Outcome::Timeout;
    for (;;) {
        const Cpu::Stop stop = cpu.run();
        if (exited) { result = Outcome::Exited; break; }
        if (stop == Cpu::Stop::Fault) { result = Outcome::Fault; break; }
        if (stop == Cpu::Stop::Halted) {
            // Only our own timeout is pending: nothing can ever wake the CPU.
            if (clock.pending_count() <= 1) { result = Outcome::Halted; break; }
            clock.advance_to(clock.next_deadline());
        }
        clock.run_due();
        if (timed_out) { result = Outcome::Timeout; break; }
    }
    clock.cancel(timeout);
    return result;
}

}  // namespace qxlbox::machine
