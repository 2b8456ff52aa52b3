// A minimal machine around the CPU, for CPU tests and `qxlbox bench cpu`.
//
// Theory of operation: flat RAM from physical address 0, a loader for ELF32 i386 executables
// (PT_LOAD segments at their physical addresses, entered in the multiboot state), COM1
// transmit capture (THR at 0x3f8; LSR at 0x3fd always reports an empty transmitter) and the
// isa-debug-exit port at 0xf4, whose write of V ends the run with V. It is not the board: no
// PIC, PIT or UART model, no multiboot information structure (EBX is 0).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "machine/bus.h"
#include "machine/clock.h"
#include "machine/cpu/cpu.h"

namespace qxlbox::machine {

class FlatMachine {
public:
    enum class Outcome { Exited, Fault, Timeout, Halted };

    explicit FlatMachine(std::uint32_t ram_size_bytes = 16u << 20);

    // Loads an ELF32 i386 executable and resets the CPU to its entry point. Returns an empty
    // string on success, else what is wrong with the image.
    std::string load_elf(const std::vector<std::uint8_t>& image);

    // Runs until the guest writes the exit port, faults, halts for good, or `max_cycles`
    // virtual cycles have passed.
    Outcome run(std::uint64_t max_cycles);

    AddressSpace memory;
    PortSpace ports;
    Scheduler clock;
    Cpu cpu;
    std::vector<std::uint8_t> ram;
    std::string serial;
    std::uint32_t exit_value = 0;
    bool exited = false;

private:
    PortHandle com1_;
    PortHandle exit_port_;
};

const char* outcome_name(FlatMachine::Outcome o);

}  // namespace qxlbox::machine
