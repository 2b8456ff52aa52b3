// PCI host bridge: configuration mechanism #1, bus 0, INTx routing, firmware-style resource
// assignment.
//
// Theory of operation (PCI Local Bus 3.0 §3.2.2.3.2; Intel 82441FX/82371SB data sheets; what
// SeaBIOS does for QEMU's "pc" machine): CONFIG_ADDRESS at 0xcf8 (dword only) holds the enable
// bit, bus, device, function and dword register; CONFIG_DATA at 0xcfc-0xcff reads or writes
// bytes, words or dwords of that register. Only bus 0 exists; an absent function, a disabled
// address or an access that would cross the dword reads all ones and drops writes.
// 00:00.0 is the i440FX host bridge (8086:1237) and 00:01.0 the PIIX3 ISA bridge (8086:7000),
// whose PIRQ route registers (0x60-0x63) hold the routing below; the display goes at 00:02.0
// as on QEMU.
//
// INTx: the host is the IrqSink for every plugged function. As on the PIIX3, pin P (1 = INTA)
// of slot S drives PIRQ[(P - 1 + S - 1) mod 4], and each PIRQ is wired-OR of its sources onto
// the PIC line SeaBIOS programs for it: PIRQA..D = 10, 10, 11, 11, all level-triggered in the
// ELCR. So 00:02.0 INTA is PIRQB = IRQ 10 and 00:03.0 INTA is PIRQC = IRQ 11.
//
// assign_resources() plays the firmware before a -kernel boot: it sizes every BAR the way
// firmware does (write all ones, read back, restore), places memory BARs top-down below
// 0xfec00000 in decreasing size order (so QXL's two 64 MiB BARs land at 0xf4000000 and
// 0xf8000000 as on QEMU with SeaBIOS), places I/O BARs upward from 0xc000, writes interrupt
// line registers and enables I/O and memory decoding.
//
// Not modelled: PCI-to-PCI bridges and other buses, configuration mechanism #2, the 0xcf9
// reset control register, expansion ROM BARs, 64-bit BARs above 4 GiB.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw/pci/pci_device.h"
#include "machine/bus.h"

namespace qxlbox::hw {

inline constexpr std::uint16_t kPciConfigAddressPort = 0xcf8;
inline constexpr std::uint16_t kPciConfigDataPort = 0xcfc;
inline constexpr unsigned kPciSlots = 32;
inline constexpr unsigned kPciFunctions = 8;
// PIC lines for PIRQA..D, as SeaBIOS programs the PIIX3 for QEMU.
inline constexpr std::array<std::uint8_t, 4> kPirqIrqs = {10, 10, 11, 11};

class I440fxHostBridge final : public PciDevice {
public:
    I440fxHostBridge();
};

class Piix3IsaBridge final : public PciDevice {
public:
    Piix3IsaBridge();
};

struct PciWindowConfig {
    std::uint64_t mem_start = 0x80000000;  // lowest address a memory BAR may take
    std::uint64_t mem_end = 0xfec00000;    // exclusive; the I/O APIC and BIOS live above
    std::uint32_t io_start = 0xc000;
    std::uint32_t io_end = 0x10000;
};

struct PciAssignment {
    unsigned slot = 0;
    unsigned function = 0;
    unsigned bar = 0;
    bool is_io = false;
    std::uint64_t address = 0;
    std::uint64_t size_bytes = 0;
};

struct PciAssignReport {
    std::vector<PciAssignment> assigned;
    std::vector<std::string> errors;  // BARs that did not fit (left unassigned, not decoded)
};

class PciHost final : public machine::IrqSink {
public:
    using TraceHook = std::function<void(const std::string&)>;

    PciHost(machine::AddressSpace& memory, machine::PortSpace& ports);
    PciHost(const PciHost&) = delete;
    PciHost& operator=(const PciHost&) = delete;

    // Registers the configuration ports and plugs the two built-in bridges.
    bool attach();
    // PIC (or any sink) that receives the routed PIRQ lines.
    void set_irq_target(machine::IrqSink* sink) { irq_target_ = sink; }

    // Plugs `dev` at 00:slot.function (not owned). Fails when the position is taken or
    // invalid, or when function 0 of the slot is missing for function > 0.
    bool plug(unsigned slot, unsigned function, PciDevice& dev);
    PciDevice* device(unsigned slot, unsigned function) const;

    PciAssignReport assign_resources(const PciWindowConfig& window = {});

    // PIC line for pin (1..4) of `slot`, per the PIIX3 routing above.
    static unsigned irq_for(unsigned slot, unsigned pin);

    // Configuration mechanism #1 (the port handlers; also used by tests).
    std::uint32_t config_address() const { return address_; }
    void write_config_address(std::uint32_t value);
    std::uint32_t read_config_data(unsigned port_offset, unsigned size_bytes);
    void write_config_data(unsigned port_offset, unsigned size_bytes, std::uint32_t value);

    // IrqSink: source = (slot * 8 + function) * 4 + (pin - 1).
    void set_irq_level(unsigned source, bool level) override;
    bool pirq_level(unsigned pirq) const;

    void set_trace_hook(TraceHook hook) { trace_ = std::move(hook); }

private:
    PciDevice* selected(unsigned port_offset, unsigned size_bytes, unsigned& reg) const;

    machine::AddressSpace& memory_;
    machine::PortSpace& ports_;
    std::array<PciDevice*, kPciSlots * kPciFunctions> functions_{};
    std::array<bool, kPciSlots * kPciFunctions * 4> source_levels_{};
    machine::IrqSink* irq_target_ = nullptr;
    std::uint32_t address_ = 0;
    I440fxHostBridge host_bridge_;
    Piix3IsaBridge isa_bridge_;
    machine::PortHandle address_port_;
    machine::PortHandle data_ports_;
    TraceHook trace_;
};

}  // namespace qxlbox::hw
