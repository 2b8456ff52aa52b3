// Debug console (Bochs/QEMU "port 0xe9 hack") and QEMU's isa-debug-exit device.
//
// Theory of operation: a byte written to 0xe9 goes to the debug sink unchanged; reading the
// port returns 0xe9 so a guest can probe for it (QEMU's debugcon readback value). The exit
// device decodes 0xf4-0xf7 (QEMU: -device isa-debug-exit,iobase=0xf4,iosize=4): a write of
// value V of any width ends the run with status (V << 1) | 1, so a guest that passes on QEMU
// passes here with the same status. The device only records the request; the board's main
// loop ends the run at the next instruction boundary. Reads of the exit ports return all ones.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "machine/bus.h"

namespace qxlbox::hw {

inline constexpr std::uint16_t kDebugConsolePort = 0xe9;
inline constexpr std::uint16_t kDebugExitPort = 0xf4;
inline constexpr unsigned kDebugExitPortCount = 4;

class DebugConsole {
public:
    using Sink = std::function<void(std::uint8_t)>;
    explicit DebugConsole(Sink sink) : sink_(std::move(sink)) {}
    bool attach(machine::PortSpace& ports);

private:
    Sink sink_;
    machine::PortHandle port_;
};

class DebugExit {
public:
    // `on_exit` runs once per write, on the emulation thread, with the exit status.
    using ExitHook = std::function<void(int status)>;
    explicit DebugExit(ExitHook on_exit = {}) : on_exit_(std::move(on_exit)) {}
    bool attach(machine::PortSpace& ports);

    void write(std::uint32_t value);
    // Status of the first exit request, if any.
    std::optional<int> exit_status() const { return status_; }
    static int status_for(std::uint32_t value) { return static_cast<int>((value << 1) | 1u); }

private:
    ExitHook on_exit_;
    std::optional<int> status_;
    machine::PortHandle ports_;
};

}  // namespace qxlbox::hw
