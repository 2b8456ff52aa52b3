#include "hw/pci/pci_device.h"

#include <utility>

namespace qxlbox::hw {

PciDevice::PciDevice(std::string name, const PciIdentity& id) : name_(std::move(name)) {
    set_config16(pci_cfg::kVendorId, id.vendor_id);
    set_config16(pci_cfg::kDeviceId, id.device_id);
    config_[pci_cfg::kRevision] = id.revision;
    config_[pci_cfg::kClassProg] = static_cast<std::uint8_t>(id.class_code);
    config_[pci_cfg::kClassDevice] = static_cast<std::uint8_t>(id.class_code >> 8);
    config_[pci_cfg::kClassDevice + 1] = static_cast<std::uint8_t>(id.class_code >> 16);
    config_[pci_cfg::kHeaderType] = 0;
    set_config16(pci_cfg::kSubsystemVendorId, id.subsystem_vendor_id);
    set_config16(pci_cfg::kSubsystemId, id.subsystem_id);
    config_[pci_cfg::kInterruptPin] = id.interrupt_pin;
    // Writable: command (I/O, memory, bus master, INTx disable), interrupt line.
    wmask_[pci_cfg::kCommand] = kPciCommandIo | kPciCommandMemory | kPciCommandMaster;
    wmask_[pci_cfg::kCommand + 1] = kPciCommandIntxDisable >> 8;
    wmask_[pci_cfg::kInterruptLine] = 0xff;
}

PciDevice::~PciDevice() {
    if (memory_) {
        for (auto& b : bars_) {
            if (b.mapped && b.spec.kind != BarKind::Io) memory_->unmap(b.region);
        }
    }
}

void PciDevice::set_config16(unsigned offset, std::uint16_t v) {
    config_[offset] = static_cast<std::uint8_t>(v);
    config_[offset + 1] = static_cast<std::uint8_t>(v >> 8);
}

void PciDevice::set_config32(unsigned offset, std::uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) config_[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void PciDevice::declare_bar(unsigned index, BarSpec spec) {
    if (index >= 6) return;
    if (spec.kind == BarKind::Memory64 && index >= 5) return;
    const unsigned off = pci_cfg::kBar0 + 4 * index;
    std::uint32_t low_bits = 0;
    if (spec.kind == BarKind::Io) {
        low_bits = 0x1;
    } else {
        if (spec.kind == BarKind::Memory64) low_bits |= 0x4;
        if (spec.prefetchable) low_bits |= 0x8;
    }
    set_config32(off, low_bits);
    // The size mask lives in the write mask: address bits below the size stay zero.
    const std::uint64_t mask = ~(spec.size - 1);
    const std::uint32_t low_mask = static_cast<std::uint32_t>(mask) & (spec.kind == BarKind::Io ? ~0x3u : ~0xfu);
    for (unsigned i = 0; i < 4; ++i) wmask_[off + i] = static_cast<std::uint8_t>(low_mask >> (8 * i));
    if (spec.kind == BarKind::Memory64) {
        const auto high_mask = static_cast<std::uint32_t>(mask >> 32);
        for (unsigned i = 0; i < 4; ++i) wmask_[off + 4 + i] = static_cast<std::uint8_t>(high_mask >> (8 * i));
        bars_[index + 1].declared = true;
        bars_[index + 1].is_upper_half = true;
    }
    bars_[index].spec = std::move(spec);
    bars_[index].declared = true;
}

std::uint64_t PciDevice::bar_value(unsigned index) const {
    const unsigned off = pci_cfg::kBar0 + 4 * index;
    std::uint64_t v = 0;
    for (unsigned i = 0; i < 4; ++i) v |= std::uint64_t{config_[off + i]} << (8 * i);
    if (bars_[index].spec.kind == BarKind::Memory64) {
        for (unsigned i = 0; i < 4; ++i) v |= std::uint64_t{config_[off + 4 + i]} << (32 + 8 * i);
    }
    return v;
}

std::uint64_t PciDevice::bar_address(unsigned index) const {
    if (index >= 6 || !bars_[index].declared || bars_[index].is_upper_half) return 0;
    const std::uint64_t v = bar_value(index);
    return bars_[index].spec.kind == BarKind::Io ? (v & ~std::uint64_t{0x3}) : (v & ~std::uint64_t{0xf});
}

std::uint64_t PciDevice::bar_size(unsigned index) const {
    if (index >= 6 || !bars_[index].declared || bars_[index].is_upper_half) return 0;
    return bars_[index].spec.size;
}

bool PciDevice::bar_mapped(unsigned index) const { return index < 6 && bars_[index].mapped; }

std::uint16_t PciDevice::command() const {
    return static_cast<std::uint16_t>(config_[pci_cfg::kCommand] | (config_[pci_cfg::kCommand + 1] << 8));
}

void PciDevice::attach(machine::AddressSpace* memory, machine::PortSpace* ports) {
    memory_ = memory;
    ports_ = ports;
    update_mappings();
}

std::uint32_t PciDevice::config_read(unsigned offset, unsigned size_bytes) const {
    if (offset >= 256 || offset + size_bytes > 256) return 0xffffffffu;
    std::uint32_t v = 0;
    for (unsigned i = 0; i < size_bytes; ++i) v |= std::uint32_t{config_[offset + i]} << (8 * i);
    return v;
}

void PciDevice::config_write(unsigned offset, unsigned size_bytes, std::uint32_t value) {
    if (offset >= 256 || offset + size_bytes > 256) return;
    for (unsigned i = 0; i < size_bytes; ++i) {
        const unsigned o = offset + i;
        const auto b = static_cast<std::uint8_t>(value >> (8 * i));
        config_[o] = static_cast<std::uint8_t>((config_[o] & ~wmask_[o]) | (b & wmask_[o]));
    }
    const bool touches_command = offset < pci_cfg::kCommand + 2 && offset + size_bytes > pci_cfg::kCommand;
    const bool touches_bars = offset < pci_cfg::kBar0 + 24 && offset + size_bytes > pci_cfg::kBar0;
    if (touches_command || touches_bars) update_mappings();
    if (touches_command) update_irq();
    on_config_write(offset, size_bytes, value);
}

void PciDevice::on_config_write(unsigned, unsigned, std::uint32_t) {}

void PciDevice::program_bar(unsigned index, std::uint64_t address) {
    if (index >= 6 || !bars_[index].declared || bars_[index].is_upper_half) return;
    const unsigned off = pci_cfg::kBar0 + 4 * index;
    config_write(off, 4, static_cast<std::uint32_t>(address));
    if (bars_[index].spec.kind == BarKind::Memory64) config_write(off + 4, 4, static_cast<std::uint32_t>(address >> 32));
}

void PciDevice::set_interrupt_line(std::uint8_t line) { config_[pci_cfg::kInterruptLine] = line; }

void PciDevice::update_mappings() {
    if (!memory_ || !ports_) return;
    const std::uint16_t cmd = command();
    for (unsigned i = 0; i < 6; ++i) {
        Bar& b = bars_[i];
        if (!b.declared || b.is_upper_half) continue;
        const bool is_io = b.spec.kind == BarKind::Io;
        const std::uint64_t addr = bar_address(i);
        // An all-zero address, or one that does not fit the space, does not decode.
        const bool enabled = (is_io ? (cmd & kPciCommandIo) : (cmd & kPciCommandMemory)) && addr != 0 &&
                             (is_io ? addr + b.spec.size <= 0x10000 : addr + b.spec.size <= machine::kAddressSpaceSize);
        if (b.mapped && (!enabled || b.mapped_at != addr)) {
            if (is_io) {
                b.io_handle.reset();
            } else {
                memory_->unmap(b.region);
            }
            b.mapped = false;
        }
        if (enabled && !b.mapped) {
            if (is_io) {
                b.io_handle = ports_->register_ports(name_ + " " + b.spec.name, static_cast<std::uint16_t>(addr),
                                                     static_cast<std::uint32_t>(b.spec.size), b.spec.io);
                if (!b.io_handle.active()) continue;  // conflicts with another device: no decode
            } else if (b.spec.host) {
                b.region = memory_->map_host(name_ + " " + b.spec.name, addr, b.spec.size, b.spec.host,
                                             b.spec.host_writable);
            } else {
                b.region = memory_->map_mmio(name_ + " " + b.spec.name, addr, b.spec.size, b.spec.mmio);
            }
            b.mapped = true;
            b.mapped_at = addr;
        }
    }
}

void PciDevice::set_irq_level(bool level) {
    irq_level_ = level;
    update_irq();
}

void PciDevice::update_irq() {
    const bool disabled = command() & kPciCommandIntxDisable;
    const bool out = irq_level_ && !disabled;
    if (out) {
        config_[pci_cfg::kStatus] |= kPciStatusInterrupt;
    } else {
        config_[pci_cfg::kStatus] &= static_cast<std::uint8_t>(~kPciStatusInterrupt);
    }
    if (irq_.connected() && irq_.level() != out) irq_.set(out);
}

}  // namespace qxlbox::hw
