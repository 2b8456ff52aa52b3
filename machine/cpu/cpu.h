// i386 CPU core: public interface used by the board.
//
// Theory of operation: an interpreter for 32-bit protected mode at ring 0 (the flat model a
// multiboot loader leaves, plus what a small kernel sets up). It sees memory only through
// AddressSpace (host-backed pages on the fast path), ports through PortSpace, and interrupts
// through InterruptController. Each instruction costs one cycle of the virtual clock; run()
// stops at the scheduler's next deadline (re-read after every port or MMIO access, since a
// device may schedule an earlier event), at HLT with no interrupt to take, on a triple fault
// or unhandled condition, or when request_stop() was called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "machine/bus.h"
#include "machine/clock.h"

namespace qxlbox::machine {

class CpuCore;  // implementation (machine/cpu/*.cpp)

// The GDT that reset_to_multiboot leaves loaded. The multiboot spec calls GDTR undefined on
// entry, but QEMU's multiboot option ROM leaves a real 3-entry table (null, 0x08 flat 4 GiB
// ring-0 code, 0x10 flat 4 GiB ring-0 data; GDTR limit 0x17), so kernels that reload
// segment registers before their own LGDT work. Ours lies in the BIOS area that the
// multiboot memory map reports reserved; the loader writes it (write_multiboot_gdt), with
// the accessed bits set as the loader's own segment loads would have left them.
inline constexpr std::uint32_t kMultibootGdtAddress = 0xf0000;
inline constexpr std::uint16_t kMultibootGdtLimit = 3 * 8 - 1;
// Writes that table at kMultibootGdtAddress; false when the memory there is not RAM.
bool write_multiboot_gdt(AddressSpace& memory);

class Cpu {
public:
    enum class Stop {
        Deadline,       // scheduler deadline reached; run due events and call run() again
        Halted,         // HLT with IF=0 or no interrupt pending; skip to the next deadline
        Fault,          // triple fault or unrecoverable state; see fault_report()
        StopRequested,  // request_stop()
    };

    Cpu(AddressSpace& memory, PortSpace& ports, Scheduler& clock);
    ~Cpu();
    Cpu(const Cpu&) = delete;
    Cpu& operator=(const Cpu&) = delete;

    void set_interrupt_controller(InterruptController* pic);

    // Multiboot v1 entry state: CR0.PE=1, paging off, flat 4 GiB code (0x08) and data (0x10)
    // segments, GDTR = kMultibootGdtAddress/kMultibootGdtLimit, IDTR limit 0, EFLAGS = 0x2
    // (IF clear), EAX/EBX as given, EIP = entry.
    void reset_to_multiboot(std::uint32_t entry, std::uint32_t eax, std::uint32_t ebx);

    Stop run();
    bool halted() const;
    // Thread-safe; makes the current or next run() return StopRequested.
    void request_stop();

    // The last 32 instructions and the register state, for fault and triple-fault messages.
    std::string fault_report() const;
    // --trace cpu: one line per executed instruction (capstone disassembly + registers).
    void set_trace(std::FILE* out);

    std::uint64_t instructions_retired() const;

    // Register access for tests and the monitor.
    std::uint32_t reg32(unsigned index) const;  // EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI
    void set_reg32(unsigned index, std::uint32_t value);
    std::uint32_t eip() const;
    std::uint32_t eflags() const;
    // For tests and the monitor: set EIP (clears the halted state) and EFLAGS (arithmetic,
    // control and system bits; reserved bits are forced to their fixed values).
    void set_eip(std::uint32_t value);
    void set_eflags(std::uint32_t value);
    // Segment selector by index (ES, CS, SS, DS, FS, GS) and CR0/CR2/CR3/CR4.
    std::uint16_t selector(unsigned seg_index) const;
    std::uint32_t control_register(unsigned n) const;

    // Serialization for snapshots (two-way: save appends, load reads and validates).
    void save(std::vector<std::uint8_t>& out) const;
    bool load(const std::uint8_t* data, std::size_t size, std::size_t& consumed);

private:
    std::unique_ptr<CpuCore> core_;
};

}  // namespace qxlbox::machine
