// Placeholder until the CPU core lands: every run() reports a fault.
#include "machine/cpu/cpu.h"

namespace qxlbox::machine {

class CpuCore {
public:
    std::atomic<bool> stop{false};
};

Cpu::Cpu(AddressSpace&, PortSpace&, Scheduler&) : core_(std::make_unique<CpuCore>()) {}
Cpu::~Cpu() = default;
void Cpu::set_interrupt_controller(InterruptController*) {}
void Cpu::reset_to_multiboot(std::uint32_t, std::uint32_t, std::uint32_t) {}
Cpu::Stop Cpu::run() { return Stop::Fault; }
bool Cpu::halted() const { return false; }
void Cpu::request_stop() { core_->stop = true; }
std::string Cpu::fault_report() const { return "CPU core not implemented"; }
void Cpu::set_trace(std::FILE*) {}
std::uint64_t Cpu::instructions_retired() const { return 0; }
std::uint32_t Cpu::reg32(unsigned) const { return 0; }
void Cpu::set_reg32(unsigned, std::uint32_t) {}
std::uint32_t Cpu::eip() const { return 0; }
std::uint32_t Cpu::eflags() const { return 0; }
void Cpu::save(std::vector<std::uint8_t>&) const {}
bool Cpu::load(const std::uint8_t*, std::size_t, std::size_t& consumed) { consumed = 0; return false; }

}  // namespace qxlbox::machine
