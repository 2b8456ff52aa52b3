#include "hw/pci/pci_device.h"
#include "hw/pci/pci_host.h"

#include <gtest/gtest.h>

#include <vector>

using namespace qxlbox::hw;
using qxlbox::machine::AddressSpace;
using qxlbox::machine::IrqSink;
using qxlbox::machine::PortSpace;

namespace {

// A QXL-shaped test function: two host-backed memory BARs, an MMIO BAR, an I/O BAR, INTA.
class TestDevice : public PciDevice {
public:
    explicit TestDevice(std::uint64_t big = 1u << 20, std::uint64_t vram_size = 0)
        : PciDevice("testdev", identity()), ram(big, 0x11), vram(vram_size ? vram_size : big / 2, 0x22) {
        BarSpec b0;
        b0.size = big;
        b0.name = "ram";
        b0.host = ram.data();
        declare_bar(0, b0);
        BarSpec b1;
        b1.size = vram.size();
        b1.name = "vram";
        b1.host = vram.data();
        declare_bar(1, b1);
        BarSpec b2;
        b2.size = 0x2000;
        b2.name = "regs";
        b2.mmio.read = [](std::uint64_t off, unsigned) { return 0xab00 + off; };
        declare_bar(2, b2);
        BarSpec b3;
        b3.kind = BarKind::Io;
        b3.size = 32;
        b3.name = "io";
        b3.io.read = [](std::uint16_t off, unsigned) { return 0x40u + off; };
        b3.io.write = [this](std::uint16_t off, unsigned, std::uint32_t v) { io_writes.push_back(off << 8 | v); };
        declare_bar(3, b3);
    }
    static PciIdentity identity() {
        PciIdentity id;
        id.vendor_id = 0x1b36;
        id.device_id = 0x0100;
        id.revision = 5;
        id.class_code = 0x030000;
        id.interrupt_pin = 1;
        return id;
    }
    std::vector<std::uint8_t> ram, vram;
    std::vector<std::uint32_t> io_writes;
};

struct LineSink : IrqSink {
    bool levels[16] = {};
    void set_irq_level(unsigned line, bool level) override {
        if (line < 16) levels[line] = level;
    }
};

std::uint32_t cfg_addr(unsigned slot, unsigned fn, unsigned reg) {
    return 0x80000000u | (slot << 11) | (fn << 8) | reg;
}

struct HostFixture : ::testing::Test {
    AddressSpace memory;
    PortSpace ports;
    LineSink pic;
    PciHost host{memory, ports};
    HostFixture() {
        host.set_irq_target(&pic);
        EXPECT_TRUE(host.attach());
    }
    std::uint32_t read(unsigned slot, unsigned fn, unsigned reg, unsigned size = 4) {
        ports.out(0xcf8, 4, cfg_addr(slot, fn, reg & 0xfc));
        return ports.in(static_cast<std::uint16_t>(0xcfc + (reg & 3)), size);
    }
    void write(unsigned slot, unsigned fn, unsigned reg, unsigned size, std::uint32_t v) {
        ports.out(0xcf8, 4, cfg_addr(slot, fn, reg & 0xfc));
        ports.out(static_cast<std::uint16_t>(0xcfc + (reg & 3)), size, v);
    }
};

}  // namespace

TEST(PciDevice, BarSizingReadsBackSizeMaskAndTypeBits) {
    TestDevice dev;
    dev.config_write(0x10, 4, 0xffffffff);
    EXPECT_EQ(dev.config_read(0x10, 4), 0xfff00000u);  // 1 MiB, 32-bit memory
    dev.config_write(0x1c, 4, 0xffffffff);
    EXPECT_EQ(dev.config_read(0x1c, 4), 0xffffffe1u);  // 32 bytes of I/O, bit 0 set
    dev.config_write(0x24, 4, 0xffffffff);             // undeclared BAR5 stays zero
    EXPECT_EQ(dev.config_read(0x24, 4), 0u);
}

TEST(PciDevice, ReadOnlyFieldsIgnoreWrites) {
    TestDevice dev;
    dev.config_write(0x00, 4, 0x12345678);
    EXPECT_EQ(dev.config_read(0x00, 4), 0x01001b36u);
    dev.config_write(0x3d, 1, 4);  // interrupt pin is read-only
    EXPECT_EQ(dev.config_read(0x3d, 1), 1u);
    dev.config_write(0x3c, 1, 10);  // interrupt line is writable
    EXPECT_EQ(dev.config_read(0x3c, 1), 10u);
    EXPECT_EQ(dev.config_read(0xff, 4), 0xffffffffu);  // crosses the end of config space
}

TEST(PciDevice, CommandRegisterGatesDecoding) {
    AddressSpace memory;
    PortSpace ports;
    TestDevice dev;
    dev.attach(&memory, &ports);
    dev.program_bar(0, 0xe0000000);
    dev.program_bar(3, 0xc000);
    EXPECT_FALSE(dev.bar_mapped(0));
    EXPECT_EQ(memory.read8(0xe0000000), 0xff);
    EXPECT_EQ(ports.in(0xc000, 1), 0xffu);
    dev.config_write(0x04, 2, kPciCommandMemory);
    EXPECT_TRUE(dev.bar_mapped(0));
    EXPECT_EQ(memory.read8(0xe0000000), 0x11);
    EXPECT_EQ(ports.in(0xc000, 1), 0xffu);  // I/O still off
    dev.config_write(0x04, 2, kPciCommandMemory | kPciCommandIo);
    EXPECT_EQ(ports.in(0xc002, 1), 0x42u);
    dev.config_write(0x04, 2, 0);
    EXPECT_FALSE(dev.bar_mapped(0));
    EXPECT_EQ(memory.read8(0xe0000000), 0xff);
    EXPECT_EQ(ports.in(0xc002, 1), 0xffu);
}

TEST(PciDevice, MovingBarRemapsRegion) {
    AddressSpace memory;
    PortSpace ports;
    TestDevice dev;
    dev.attach(&memory, &ports);
    dev.program_bar(2, 0xfe000000);
    dev.config_write(0x04, 2, kPciCommandMemory);
    EXPECT_EQ(memory.read32(0xfe000010), 0xab10u);
    dev.program_bar(2, 0xfd000000);
    EXPECT_EQ(memory.read32(0xfe000010), 0xffffffffu);
    EXPECT_EQ(memory.read32(0xfd000010), 0xab10u);
    EXPECT_EQ(dev.bar_address(2), 0xfd000000u);
}

TEST(PciDevice, IntxDisableMasksInterrupt) {
    LineSink sink;
    TestDevice dev;
    dev.connect_irq(qxlbox::machine::IrqLine(&sink, 10));
    dev.set_irq_level(true);
    EXPECT_TRUE(sink.levels[10]);
    EXPECT_NE(dev.config_read(0x06, 2) & kPciStatusInterrupt, 0u);
    dev.config_write(0x04, 2, kPciCommandIntxDisable);
    EXPECT_FALSE(sink.levels[10]);
    dev.config_write(0x04, 2, 0);
    EXPECT_TRUE(sink.levels[10]);
}

TEST_F(HostFixture, HostBridgeAndIsaBridgeIdentify) {
    EXPECT_EQ(read(0, 0, 0x00), 0x12378086u);
    EXPECT_EQ(read(0, 0, 0x08) >> 8, 0x060000u);
    EXPECT_EQ(read(1, 0, 0x00), 0x70008086u);
    EXPECT_EQ(read(1, 0, 0x0e, 1), 0x80u);
    EXPECT_EQ(read(1, 0, 0x60), 0x0b0b0a0au);  // PIRQA..D -> 10, 10, 11, 11
}

TEST_F(HostFixture, AbsentFunctionsAndOtherBusesReadAllOnes) {
    EXPECT_EQ(read(5, 0, 0x00), 0xffffffffu);
    EXPECT_EQ(read(0, 3, 0x00), 0xffffffffu);
    ports.out(0xcf8, 4, 0x80010000u);  // bus 1
    EXPECT_EQ(ports.in(0xcfc, 4), 0xffffffffu);
    ports.out(0xcf8, 4, 0x00000000u);  // enable bit clear
    EXPECT_EQ(ports.in(0xcfc, 4), 0xffffffffu);
}

TEST_F(HostFixture, ByteWordDwordAccessesSelectBytesOfTheRegister) {
    EXPECT_EQ(read(0, 0, 0x00, 1), 0x86u);
    EXPECT_EQ(read(0, 0, 0x01, 1), 0x80u);
    EXPECT_EQ(read(0, 0, 0x02, 2), 0x1237u);
    EXPECT_EQ(read(0, 0, 0x03, 1), 0x12u);
    // A word at 0xcff would cross the dword: all ones.
    ports.out(0xcf8, 4, cfg_addr(0, 0, 0));
    EXPECT_EQ(ports.in(0xcff, 2), 0xffffu);
    // CONFIG_ADDRESS only takes dword writes and keeps its low bits clear.
    ports.out(0xcf8, 4, 0x80000013u);
    EXPECT_EQ(ports.in(0xcf8, 4), 0x80000010u);
    ports.out(0xcf8, 1, 0x00);
    EXPECT_EQ(host.config_address(), 0x80000010u);
}

TEST_F(HostFixture, ConfigWritesThroughPortsSizeBars) {
    TestDevice dev;
    ASSERT_TRUE(host.plug(2, 0, dev));
    write(2, 0, 0x14, 4, 0xffffffff);
    EXPECT_EQ(read(2, 0, 0x14), 0xfff80000u);  // 512 KiB
    write(2, 0, 0x3c, 1, 0x0b);
    EXPECT_EQ(read(2, 0, 0x3c, 1), 0x0bu);
    EXPECT_EQ(read(2, 0, 0x3d, 1), 0x01u);
}

TEST_F(HostFixture, PlugRejectsTakenAndInvalidPositions) {
    TestDevice a, b, c;
    EXPECT_TRUE(host.plug(2, 0, a));
    EXPECT_FALSE(host.plug(2, 0, b));
    EXPECT_FALSE(host.plug(32, 0, b));
    EXPECT_FALSE(host.plug(3, 8, b));
    EXPECT_FALSE(host.plug(4, 1, b));  // function 1 without function 0
    EXPECT_FALSE(host.plug(0, 0, c));  // the host bridge's slot
    EXPECT_EQ(host.device(2, 0), &a);
    EXPECT_EQ(host.device(40, 0), nullptr);
}

TEST_F(HostFixture, FirmwareAssignsBarsLikeSeabiosAndEnablesDecoding) {
    TestDevice qxl(64u << 20, 64u << 20);  // QXL's default RAM and VRAM BAR sizes
    ASSERT_TRUE(host.plug(2, 0, qxl));
    const PciAssignReport report = host.assign_resources();
    EXPECT_TRUE(report.errors.empty());
    // Top-down below 0xfec00000, largest first: where SeaBIOS puts QXL on QEMU's pc machine.
    EXPECT_EQ(qxl.bar_address(0), 0xf4000000u);
    EXPECT_EQ(qxl.bar_address(1), 0xf8000000u);
    EXPECT_EQ(qxl.bar_address(2), 0xfc000000u);
    EXPECT_EQ(qxl.bar_address(3), 0xc000u);
    EXPECT_EQ(qxl.command() & 3, 3);
    EXPECT_EQ(qxl.config_read(0x3c, 1), 10u);
    EXPECT_EQ(memory.read8(0xf4000000), 0x11);
    EXPECT_EQ(memory.read8(0xf8000000), 0x22);
    EXPECT_EQ(ports.in(0xc001, 1), 0x41u);
    for (const PciAssignment& a : report.assigned) {
        EXPECT_EQ(a.address % a.size_bytes, 0u) << "BAR" << a.bar;
    }
}

TEST_F(HostFixture, FirmwareKeepsMixedSizesNaturallyAligned) {
    TestDevice a(64u << 20, 32u << 20);
    TestDevice b(1u << 20);
    ASSERT_TRUE(host.plug(2, 0, a));
    ASSERT_TRUE(host.plug(3, 0, b));
    const PciAssignReport report = host.assign_resources();
    EXPECT_TRUE(report.errors.empty());
    EXPECT_EQ(report.assigned.size(), 8u);
    EXPECT_EQ(a.bar_address(0), 0xf8000000u);
    EXPECT_EQ(a.bar_address(1), 0xfc000000u);
    EXPECT_EQ(b.config_read(0x3c, 1), 11u);
    EXPECT_EQ(a.bar_address(3), 0xc000u);
    EXPECT_EQ(b.bar_address(3), 0xc020u);
}

TEST_F(HostFixture, FirmwareReportsBarsThatDoNotFit) {
    TestDevice huge(1u << 30);  // 1 GiB + 512 MiB cannot fit in a 256 MiB window
    ASSERT_TRUE(host.plug(3, 0, huge));
    PciWindowConfig window;
    window.mem_start = 0xe0000000;
    window.mem_end = 0xf0000000;
    const PciAssignReport report = host.assign_resources(window);
    EXPECT_EQ(report.errors.size(), 3u);
    EXPECT_FALSE(huge.bar_mapped(0));
    EXPECT_EQ(huge.bar_address(0), 0u);
    EXPECT_EQ(huge.bar_address(3), 0xc000u);  // I/O still assigned
}

TEST_F(HostFixture, InterruptRoutingFollowsPiixSwizzle) {
    EXPECT_EQ(PciHost::irq_for(2, 1), 10u);  // PIRQB
    EXPECT_EQ(PciHost::irq_for(3, 1), 11u);  // PIRQC
    EXPECT_EQ(PciHost::irq_for(4, 1), 11u);  // PIRQD
    EXPECT_EQ(PciHost::irq_for(5, 1), 10u);  // PIRQA
    EXPECT_EQ(PciHost::irq_for(2, 0), 0xffu);
    EXPECT_EQ(PciHost::irq_for(2, 5), 0xffu);
}

TEST_F(HostFixture, SharedLineStaysHighWhileAnyDeviceAsserts) {
    TestDevice a, b;
    ASSERT_TRUE(host.plug(2, 0, a));  // IRQ10 via PIRQB
    ASSERT_TRUE(host.plug(5, 0, b));  // IRQ10 via PIRQA
    a.set_irq_level(true);
    b.set_irq_level(true);
    EXPECT_TRUE(pic.levels[10]);
    a.set_irq_level(false);
    EXPECT_TRUE(pic.levels[10]);
    b.set_irq_level(false);
    EXPECT_FALSE(pic.levels[10]);
    EXPECT_FALSE(pic.levels[11]);
}

TEST_F(HostFixture, FirmwareSizesAndPlaces64BitBarBelow4GiB) {
    class Bar64Device : public PciDevice {
    public:
        Bar64Device() : PciDevice("bar64", TestDevice::identity()), mem(1u << 20, 0x33) {
            BarSpec b;
            b.kind = BarKind::Memory64;
            b.prefetchable = true;
            b.size = mem.size();
            b.name = "vram64";
            b.host = mem.data();
            declare_bar(4, b);
        }
        std::vector<std::uint8_t> mem;
    } dev;
    ASSERT_TRUE(host.plug(4, 0, dev));
    dev.config_write(0x20, 4, 0xffffffff);
    EXPECT_EQ(dev.config_read(0x20, 4), 0xfff0000cu);  // 64-bit, prefetchable
    dev.config_write(0x24, 4, 0xffffffff);
    EXPECT_EQ(dev.config_read(0x24, 4), 0xffffffffu);  // upper half: all address bits
    dev.config_write(0x20, 4, 0);
    dev.config_write(0x24, 4, 0);
    const PciAssignReport report = host.assign_resources();
    ASSERT_EQ(report.assigned.size(), 1u);
    EXPECT_EQ(report.assigned[0].bar, 4u);
    EXPECT_EQ(report.assigned[0].size_bytes, 1u << 20);
    EXPECT_EQ(dev.bar_address(4), 0xfeb00000u);
    EXPECT_EQ(dev.config_read(0x24, 4), 0u);
    EXPECT_EQ(memory.read8(0xfeb00000), 0x33);
    EXPECT_EQ(dev.config_read(0x3c, 1), 11u);  // slot 4 INTA -> PIRQD -> IRQ 11
}
