#include "hw/pci/pci_host.h"

#include <algorithm>
#include <cstdio>

namespace qxlbox::hw {

namespace {
constexpr std::uint32_t kConfigEnable = 0x80000000u;
// Writable bits of CONFIG_ADDRESS: enable, bus, device, function, dword register.
constexpr std::uint32_t kConfigAddressMask = 0x80fffffcu;

PciIdentity host_bridge_identity() {
    PciIdentity id;
    id.vendor_id = 0x8086;
    id.device_id = 0x1237;
    id.revision = 0x02;
    id.class_code = 0x060000;
    return id;
}

PciIdentity isa_bridge_identity() {
    PciIdentity id;
    id.vendor_id = 0x8086;
    id.device_id = 0x7000;
    id.class_code = 0x060100;
    return id;
}

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}
}  // namespace

I440fxHostBridge::I440fxHostBridge() : PciDevice("i440fx", host_bridge_identity()) {}

Piix3IsaBridge::Piix3IsaBridge() : PciDevice("piix3", isa_bridge_identity()) {
    // Multi-function (the PIIX3 carries IDE and USB functions on QEMU; the bit tells a
    // scanner to look at functions 1..7).
    set_config8(pci_cfg::kHeaderType, 0x80);
    for (unsigned i = 0; i < 4; ++i) set_config8(0x60 + i, kPirqIrqs[i]);
}

PciHost::PciHost(machine::AddressSpace& memory, machine::PortSpace& ports) : memory_(memory), ports_(ports) {}

bool PciHost::attach() {
    machine::PortOps addr;
    addr.allowed_sizes = machine::kAccess32;
    addr.read = [this](std::uint16_t off, unsigned) { return off == 0 ? address_ : 0xffffffffu; };
    addr.write = [this](std::uint16_t off, unsigned, std::uint32_t v) {
        if (off == 0) write_config_address(v);
    };
    address_port_ = ports_.register_ports("pci-config-address", kPciConfigAddressPort, 4, addr);
    machine::PortOps data;
    data.allowed_sizes = machine::kAccess8 | machine::kAccess16 | machine::kAccess32;
    data.read = [this](std::uint16_t off, unsigned size) { return read_config_data(off, size); };
    data.write = [this](std::uint16_t off, unsigned size, std::uint32_t v) { write_config_data(off, size, v); };
    data_ports_ = ports_.register_ports("pci-config-data", kPciConfigDataPort, 4, data);
    const bool ok = plug(0, 0, host_bridge_) && plug(1, 0, isa_bridge_);
    return ok && address_port_.active() && data_ports_.active();
}

bool PciHost::plug(unsigned slot, unsigned function, PciDevice& dev) {
    if (slot >= kPciSlots || function >= kPciFunctions) return false;
    const unsigned index = slot * kPciFunctions + function;
    if (functions_[index] != nullptr) return false;
    if (function > 0 && functions_[slot * kPciFunctions] == nullptr) return false;
    functions_[index] = &dev;
    dev.attach(&memory_, &ports_);
    const unsigned pin = dev.config_read(pci_cfg::kInterruptPin, 1);
    if (pin >= 1 && pin <= 4) dev.connect_irq(machine::IrqLine(this, index * 4 + (pin - 1)));
    return true;
}

PciDevice* PciHost::device(unsigned slot, unsigned function) const {
    if (slot >= kPciSlots || function >= kPciFunctions) return nullptr;
    return functions_[slot * kPciFunctions + function];
}

unsigned PciHost::irq_for(unsigned slot, unsigned pin) {
    if (pin < 1 || pin > 4) return 0xff;
    return kPirqIrqs[(pin - 1 + slot + 3) & 3];
}

void PciHost::set_irq_level(unsigned source, bool level) {
    if (source >= source_levels_.size()) return;
    source_levels_[source] = level;
    const unsigned slot = source / (kPciFunctions * 4);
    const unsigned pin = source % 4 + 1;
    const unsigned pirq = (pin - 1 + slot + 3) & 3;
    if (irq_target_) irq_target_->set_irq_level(kPirqIrqs[pirq], pirq_level(pirq));
}

bool PciHost::pirq_level(unsigned pirq) const {
    // Every PIRQ that shares the PIC line is ORed too: PIRQA and B both use IRQ 10 here.
    for (unsigned s = 0; s < source_levels_.size(); ++s) {
        if (!source_levels_[s]) continue;
        const unsigned slot = s / (kPciFunctions * 4);
        const unsigned p = (s % 4 + slot + 3) & 3;
        if (kPirqIrqs[p] == kPirqIrqs[pirq & 3]) return true;
    }
    return false;
}

void PciHost::write_config_address(std::uint32_t value) { address_ = value & kConfigAddressMask; }

PciDevice* PciHost::selected(unsigned port_offset, unsigned size_bytes, unsigned& reg) const {
    if (!(address_ & kConfigEnable)) return nullptr;
    if (port_offset + size_bytes > 4) return nullptr;
    if (((address_ >> 16) & 0xff) != 0) return nullptr;
    const unsigned devfn = (address_ >> 8) & 0xff;
    reg = (address_ & 0xfc) + port_offset;
    return functions_[devfn];
}

std::uint32_t PciHost::read_config_data(unsigned port_offset, unsigned size_bytes) {
    unsigned reg = 0;
    PciDevice* dev = selected(port_offset, size_bytes, reg);
    const std::uint32_t ones = size_bytes >= 4 ? 0xffffffffu : (1u << (8 * size_bytes)) - 1;
    if (!dev) return ones;
    const std::uint32_t v = dev->config_read(reg, size_bytes);
    if (trace_) {
        trace_("pci: read " + dev->name() + " [" + hex(reg) + "]/" + std::to_string(size_bytes) + " = " + hex(v));
    }
    return v;
}

void PciHost::write_config_data(unsigned port_offset, unsigned size_bytes, std::uint32_t value) {
    unsigned reg = 0;
    PciDevice* dev = selected(port_offset, size_bytes, reg);
    if (!dev) {
        if (trace_) trace_("pci: write " + hex(value) + " to absent function, address " + hex(address_) + " dropped");
        return;
    }
    if (trace_) {
        trace_("pci: write " + dev->name() + " [" + hex(reg) + "]/" + std::to_string(size_bytes) + " = " + hex(value));
    }
    dev->config_write(reg, size_bytes, value);
}

PciAssignReport PciHost::assign_resources(const PciWindowConfig& window) {
    struct Want {
        unsigned slot, function, bar;
        bool is_io, is64;
        std::uint64_t size;
    };
    std::vector<Want> wants;
    PciAssignReport report;
    for (unsigned index = 0; index < functions_.size(); ++index) {
        PciDevice* dev = functions_[index];
        if (!dev) continue;
        const unsigned slot = index / kPciFunctions;
        const unsigned function = index % kPciFunctions;
        for (unsigned bar = 0; bar < 6; ++bar) {
            // Size the BAR as firmware does: all ones, read back, restore.
            const unsigned off = pci_cfg::kBar0 + 4 * bar;
            const std::uint32_t old = dev->config_read(off, 4);
            dev->config_write(off, 4, 0xffffffffu);
            const std::uint32_t probe = dev->config_read(off, 4);
            dev->config_write(off, 4, old);
            if (probe == 0) continue;
            const bool is_io = old & 1;
            const bool is64 = !is_io && ((old >> 1) & 3) == 2;
            std::uint64_t mask = is_io ? (probe & ~0x3u) : (probe & ~0xfu);
            if (is64 && bar < 5) {
                const std::uint32_t old_hi = dev->config_read(off + 4, 4);
                dev->config_write(off + 4, 4, 0xffffffffu);
                mask |= std::uint64_t{dev->config_read(off + 4, 4)} << 32;
                dev->config_write(off + 4, 4, old_hi);
            } else {
                mask |= 0xffffffff00000000ull;
            }
            if (is_io) mask |= 0xffff0000ull;
            const std::uint64_t size = ~mask + 1;
            if (size != 0) wants.push_back({slot, function, bar, is_io, is64, size});
            if (is64) ++bar;
        }
    }
    // Largest first keeps every BAR naturally aligned when packed back to back.
    std::stable_sort(wants.begin(), wants.end(), [](const Want& a, const Want& b) { return a.size > b.size; });

    std::uint64_t mem_total = 0;
    std::uint64_t mem_align = 1;
    for (const Want& w : wants) {
        if (w.is_io) continue;
        mem_total += w.size;
        mem_align = std::max(mem_align, w.size);
    }
    std::uint64_t mem_next = 0;
    bool mem_ok = mem_total <= window.mem_end - window.mem_start;
    if (mem_ok) {
        mem_next = (window.mem_end - mem_total) & ~(mem_align - 1);
        mem_ok = mem_next >= window.mem_start;
    }
    std::uint64_t io_next = window.io_start;
    for (const Want& w : wants) {
        PciDevice* dev = functions_[w.slot * kPciFunctions + w.function];
        const std::string where = "00:" + std::to_string(w.slot) + "." + std::to_string(w.function) + " BAR" +
                                  std::to_string(w.bar) + " (" + hex(w.size) + " bytes)";
        std::uint64_t addr = 0;
        if (w.is_io) {
            addr = (io_next + w.size - 1) & ~(w.size - 1);
            if (addr + w.size > window.io_end) {
                report.errors.push_back(where + ": no room in the I/O window");
                continue;
            }
            io_next = addr + w.size;
        } else {
            if (!mem_ok) {
                report.errors.push_back(where + ": memory BARs need " + hex(mem_total) + " bytes, more than the window");
                continue;
            }
            addr = mem_next;
            mem_next += w.size;
        }
        dev->program_bar(w.bar, addr);
        report.assigned.push_back({w.slot, w.function, w.bar, w.is_io, addr, w.size});
        if (trace_) trace_("pci: firmware assigned " + where + " at " + hex(addr));
    }
    for (unsigned index = 0; index < functions_.size(); ++index) {
        PciDevice* dev = functions_[index];
        if (!dev) continue;
        const unsigned pin = dev->config_read(pci_cfg::kInterruptPin, 1);
        if (pin >= 1 && pin <= 4) {
            dev->config_write(pci_cfg::kInterruptLine, 1, irq_for(index / kPciFunctions, pin));
        }
        const std::uint32_t cmd = dev->config_read(pci_cfg::kCommand, 2);
        dev->config_write(pci_cfg::kCommand, 2, cmd | kPciCommandIo | kPciCommandMemory);
    }
    return report;
}

}  // namespace qxlbox::hw
