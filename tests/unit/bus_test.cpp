#include "machine/bus.h"

#include <gtest/gtest.h>

#include <vector>

using namespace qxlbox::machine;

TEST(AddressSpace, UnmappedReadsAllOnesAndIsTraced) {
    AddressSpace as;
    int traced = 0;
    as.set_trace_hook([&](const BusTraceEvent& e) {
        if (e.kind == BusTraceEvent::Kind::UnmappedRead) ++traced;
    });
    EXPECT_EQ(as.read32(0x1000), 0xffffffffu);
    EXPECT_EQ(as.read8(0x2000), 0xffu);
    EXPECT_EQ(traced, 2);
}

TEST(AddressSpace, HostRamIsDirectlyAccessible) {
    AddressSpace as;
    std::vector<std::uint8_t> ram(2 * kPageSize);
    as.map_host("ram", 0, ram.size(), ram.data(), true);
    as.write32(0x10, 0xdeadbeef);
    EXPECT_EQ(ram[0x10], 0xef);
    EXPECT_EQ(as.read32(0x10), 0xdeadbeefu);
    // Straddling the page boundary takes the slow path and still works.
    as.write32(kPageSize - 2, 0x11223344);
    EXPECT_EQ(as.read32(kPageSize - 2), 0x11223344u);
    EXPECT_NE(as.host_page(0), nullptr);
}

TEST(AddressSpace, ReadOnlyRegionIgnoresWrites) {
    AddressSpace as;
    std::vector<std::uint8_t> rom(kPageSize, 0xaa);
    as.map_host("rom", 0x10000, rom.size(), rom.data(), false);
    as.write8(0x10000, 0x55);
    EXPECT_EQ(as.read8(0x10000), 0xaa);
    EXPECT_EQ(as.writable_page(0x10000), nullptr);
}

TEST(AddressSpace, MmioHonoursAllowedSizes) {
    AddressSpace as;
    std::uint64_t last = 0;
    unsigned last_size = 0;
    MmioOps ops;
    ops.read = [](std::uint64_t off, unsigned) { return off + 0x100; };
    ops.write = [&](std::uint64_t, unsigned size, std::uint64_t v) { last = v; last_size = size; };
    ops.allowed_sizes = kAccess32;
    as.map_mmio("dev", 0x20000, kPageSize, ops);
    EXPECT_EQ(as.read32(0x20004), 0x104u);
    EXPECT_EQ(as.read16(0x20004), 0xffffu);  // width not allowed
    as.write32(0x20000, 7);
    EXPECT_EQ(last, 7u);
    EXPECT_EQ(last_size, 4u);
    as.write8(0x20000, 9);
    EXPECT_EQ(last, 7u);
}

TEST(AddressSpace, UnmapRestoresRegionBelow) {
    AddressSpace as;
    std::vector<std::uint8_t> ram(4 * kPageSize, 1), bar(kPageSize, 2);
    as.map_host("ram", 0, ram.size(), ram.data(), true);
    auto id = as.map_host("bar", kPageSize, bar.size(), bar.data(), true);
    EXPECT_EQ(as.read8(kPageSize), 2);
    as.remap(id, 2 * kPageSize);
    EXPECT_EQ(as.read8(kPageSize), 1);
    EXPECT_EQ(as.read8(2 * kPageSize), 2);
    as.unmap(id);
    EXPECT_EQ(as.read8(2 * kPageSize), 1);
}

TEST(PortSpace, HandleUnregistersOnDestruction) {
    PortSpace ps;
    {
        PortOps ops;
        ops.read = [](std::uint16_t off, unsigned) { return 0x40u + off; };
        auto h = ps.register_ports("dev", 0x60, 4, ops);
        ASSERT_TRUE(h.active());
        EXPECT_EQ(ps.in(0x62, 1), 0x42u);
        auto dup = ps.register_ports("dup", 0x63, 2, ops);
        EXPECT_FALSE(dup.active());
    }
    EXPECT_FALSE(ps.is_registered(0x60));
    EXPECT_EQ(ps.in(0x62, 1), 0xffu);
    EXPECT_EQ(ps.in(0x62, 4), 0xffffffffu);
}

TEST(PortSpace, RejectsUndeclaredWidth) {
    PortSpace ps;
    int writes = 0;
    PortOps ops;
    ops.write = [&](std::uint16_t, unsigned, std::uint32_t) { ++writes; };
    ops.allowed_sizes = kAccess8;
    auto h = ps.register_ports("dev", 0x80, 1, ops);
    ps.out(0x80, 2, 1);
    EXPECT_EQ(writes, 0);
    ps.out(0x80, 1, 1);
    EXPECT_EQ(writes, 1);
}
