// PCI function base: a 256-byte type-0 configuration space with per-bit write masks, BAR
// declaration and sizing, command-register gating of I/O and memory decoding, and INTx.
//
// Theory of operation (PCI Local Bus 3.0, ch. 6, as QEMU's hw/pci/pci.c models it): a device
// declares its identity and BARs; this base owns config space. Guest writes go through the
// write mask (read-only bits keep their value; BAR low bits are hardwired by the mask so that
// writing all ones reads back the size mask). Whenever the command register or a BAR changes,
// the BAR's region is (un)mapped in the board's address or port space: memory BARs decode only
// with COMMAND.MEMORY set, I/O BARs only with COMMAND.IO. A device sees config accesses only
// through the virtual hooks, never raw guest values it has not validated.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "machine/bus.h"

namespace qxlbox::hw {

inline constexpr std::uint16_t kPciCommandIo = 0x1;
inline constexpr std::uint16_t kPciCommandMemory = 0x2;
inline constexpr std::uint16_t kPciCommandMaster = 0x4;
inline constexpr std::uint16_t kPciCommandIntxDisable = 0x400;
inline constexpr std::uint16_t kPciStatusInterrupt = 0x8;

namespace pci_cfg {
inline constexpr unsigned kVendorId = 0x00;
inline constexpr unsigned kDeviceId = 0x02;
inline constexpr unsigned kCommand = 0x04;
inline constexpr unsigned kStatus = 0x06;
inline constexpr unsigned kRevision = 0x08;
inline constexpr unsigned kClassProg = 0x09;
inline constexpr unsigned kClassDevice = 0x0a;  // sub-class at 0x0a, base class at 0x0b
inline constexpr unsigned kHeaderType = 0x0e;
inline constexpr unsigned kBar0 = 0x10;
inline constexpr unsigned kSubsystemVendorId = 0x2c;
inline constexpr unsigned kSubsystemId = 0x2e;
inline constexpr unsigned kRomAddress = 0x30;
inline constexpr unsigned kInterruptLine = 0x3c;
inline constexpr unsigned kInterruptPin = 0x3d;
}  // namespace pci_cfg

struct PciIdentity {
    std::uint16_t vendor_id = 0;
    std::uint16_t device_id = 0;
    std::uint8_t revision = 0;
    std::uint32_t class_code = 0;  // base << 16 | sub << 8 | prog-if
    std::uint16_t subsystem_vendor_id = 0;
    std::uint16_t subsystem_id = 0;
    std::uint8_t interrupt_pin = 0;  // 0 = none, 1 = INTA ...
};

enum class BarKind { Memory32, Memory64, Io };

// A BAR's contents: host-backed memory (RAM-like, direct CPU access), MMIO callbacks, or
// port callbacks for an I/O BAR.
struct BarSpec {
    BarKind kind = BarKind::Memory32;
    std::uint64_t size = 0;  // power of two; memory >= 16, I/O >= 4
    bool prefetchable = false;
    std::string name;
    std::uint8_t* host = nullptr;  // host-backed memory BAR
    bool host_writable = true;
    machine::MmioOps mmio;         // MMIO memory BAR (when host == nullptr)
    machine::PortOps io;           // I/O BAR
};

class PciDevice {
public:
    PciDevice(std::string name, const PciIdentity& id);
    virtual ~PciDevice();
    PciDevice(const PciDevice&) = delete;
    PciDevice& operator=(const PciDevice&) = delete;

    const std::string& name() const { return name_; }

    // Called once by the PCI host when the device is plugged into the board.
    void attach(machine::AddressSpace* memory, machine::PortSpace* ports);

    // Config space access (offset < 256; size 1, 2 or 4; accesses never cross a dword).
    std::uint32_t config_read(unsigned offset, unsigned size_bytes) const;
    void config_write(unsigned offset, unsigned size_bytes, std::uint32_t value);

    // Declares BAR `index` (a 64-bit BAR also takes index + 1). Call before attach().
    void declare_bar(unsigned index, BarSpec spec);
    // Current guest-programmed BAR base, or 0 when unprogrammed. For 64-bit BARs the full value.
    std::uint64_t bar_address(unsigned index) const;
    std::uint64_t bar_size(unsigned index) const;
    bool bar_mapped(unsigned index) const;

    std::uint16_t command() const;
    // INTx: level as the device drives it; gated by COMMAND.INTX_DISABLE.
    void set_irq_level(bool level);
    bool irq_level() const { return irq_level_; }
    void connect_irq(machine::IrqLine line) { irq_ = line; update_irq(); }

    // Firmware-style assignment (what SeaBIOS does before a -kernel boot): program a BAR.
    void program_bar(unsigned index, std::uint64_t address);
    void set_interrupt_line(std::uint8_t line);

    // Raw config bytes for save/restore and tests.
    const std::array<std::uint8_t, 256>& config_bytes() const { return config_; }

protected:
    // Hooks for subclasses: after the base handled a config write.
    virtual void on_config_write(unsigned offset, unsigned size_bytes, std::uint32_t value);
    // Device-specific read-only or writable config bytes (capabilities etc.).
    void set_config8(unsigned offset, std::uint8_t v) { config_[offset] = v; }
    void set_config16(unsigned offset, std::uint16_t v);
    void set_config32(unsigned offset, std::uint32_t v);
    void set_write_mask8(unsigned offset, std::uint8_t mask) { wmask_[offset] = mask; }

private:
    struct Bar {
        BarSpec spec;
        bool declared = false;
        bool is_upper_half = false;  // second dword of a 64-bit BAR
        bool mapped = false;
        std::uint64_t mapped_at = 0;
        machine::AddressSpace::RegionId region = 0;
        machine::PortHandle io_handle;
    };
    void update_mappings();
    void update_irq();
    std::uint64_t bar_value(unsigned index) const;

    std::string name_;
    std::array<std::uint8_t, 256> config_{};
    std::array<std::uint8_t, 256> wmask_{};
    std::array<Bar, 6> bars_{};
    machine::AddressSpace* memory_ = nullptr;
    machine::PortSpace* ports_ = nullptr;
    machine::IrqLine irq_;
    bool irq_level_ = false;
};

}  // namespace qxlbox::hw
