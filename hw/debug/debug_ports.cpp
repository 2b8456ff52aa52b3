#include "hw/debug/debug_ports.h"

namespace qxlbox::hw {

bool DebugConsole::attach(machine::PortSpace& ports) {
    machine::PortOps ops;
    ops.allowed_sizes = machine::kAccess8;
    ops.read = [](std::uint16_t, unsigned) { return std::uint32_t{kDebugConsolePort}; };
    ops.write = [this](std::uint16_t, unsigned, std::uint32_t v) {
        if (sink_) sink_(static_cast<std::uint8_t>(v));
    };
    port_ = ports.register_ports("debugcon", kDebugConsolePort, 1, ops);
    return port_.active();
}

bool DebugExit::attach(machine::PortSpace& ports) {
    machine::PortOps ops;
    ops.allowed_sizes = machine::kAccess8 | machine::kAccess16 | machine::kAccess32;
    ops.read = [](std::uint16_t, unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; };
    ops.write = [this](std::uint16_t, unsigned, std::uint32_t v) { write(v); };
    ports_ = ports.register_ports("isa-debug-exit", kDebugExitPort, kDebugExitPortCount, ops);
    return ports_.active();
}

void DebugExit::write(std::uint32_t value) {
    const int status = status_for(value);
    if (!status_) status_ = status;
    if (on_exit_) on_exit_(status);
}

}  // namespace qxlbox::hw
