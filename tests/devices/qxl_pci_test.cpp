#include <gtest/gtest.h>
#include <zlib.h>

#include "hw/qxl/qxl_config.h"
#include "hw/qxl/qxl_rom.h"
#include "qxl_harness.h"

using namespace qxl_test;

TEST(QxlPci, IdentityMatchesQemu) {
    QxlHarness h;
    EXPECT_EQ(h.dev->config_read(0x00, 2), 0x1b36u);
    EXPECT_EQ(h.dev->config_read(0x02, 2), 0x0100u);
    EXPECT_EQ(h.dev->config_read(0x08, 1), 5u);
    EXPECT_EQ(h.dev->config_read(0x08, 4) >> 8, 0x030000u);
    EXPECT_EQ(h.dev->config_read(0x2c, 2), 0x1af4u);
    EXPECT_EQ(h.dev->config_read(0x2e, 2), 0x1100u);
    EXPECT_EQ(h.dev->config_read(0x3d, 1), 1u);
}

TEST(QxlPci, BarsReportTheirSizesThroughConfigSpace) {
    QxlHarness h;
    auto size_of = [&](unsigned bar) {
        const std::uint32_t old = h.dev->config_read(0x10 + 4 * bar, 4);
        h.dev->config_write(0x10 + 4 * bar, 4, 0xffffffffu);
        const std::uint32_t v = h.dev->config_read(0x10 + 4 * bar, 4);
        h.dev->config_write(0x10 + 4 * bar, 4, old);
        return v;
    };
    EXPECT_EQ(size_of(0) & ~0xfu, ~(16u * 1024 * 1024 - 1));
    EXPECT_EQ(size_of(1) & ~0xfu, ~(1024u * 1024 - 1));
    EXPECT_EQ(size_of(2) & ~0xfu, ~(8192u - 1));
    EXPECT_EQ(size_of(3), ~(32u - 1) | 1u);
    EXPECT_TRUE(h.dev->bar_mapped(0));
    EXPECT_TRUE(h.dev->bar_mapped(3));
}

TEST(QxlPci, IoBarSizeFollowsRevision) {
    for (auto [rev, size] : {std::pair{1, 8u}, {2, 16u}, {3, 32u}, {4, 32u}}) {
        QxlConfig c = QxlHarness::small_config();
        c.revision = static_cast<std::uint8_t>(rev);
        QxlHarness h(c);
        EXPECT_EQ(h.dev->bar_size(3), size) << "revision " << rev;
        EXPECT_EQ(h.dev->config_read(0x08, 1), static_cast<std::uint32_t>(rev));
    }
}

TEST(QxlPci, Vram64BarOnlyWhenLargerThanVram) {
    QxlConfig c = QxlHarness::small_config();
    EXPECT_EQ(QxlHarness(c).dev->bar_size(4), 0u);
    c.vram64_size_bytes = 4 * kMiB;
    QxlHarness h(c);
    EXPECT_EQ(h.dev->bar_size(4), 4 * kMiB);
    EXPECT_TRUE(h.dev->bar_mapped(4));
    EXPECT_EQ(h.dev->config_read(0x20, 4) & 0xf, 0xcu);  // 64-bit, prefetchable
}

TEST(QxlPci, RamRomAndVramAreHostBacked) {
    QxlHarness h;
    EXPECT_NE(h.mem.host_page(kBar0), nullptr);
    EXPECT_NE(h.mem.writable_page(kBar1), nullptr);
    EXPECT_NE(h.mem.host_page(kBar2), nullptr);
    EXPECT_EQ(h.mem.writable_page(kBar2), nullptr);
    h.mem.write32(kBar2, 0);
    EXPECT_EQ(h.rom32(0), QXL_ROM_MAGIC);
}

TEST(QxlConfigParse, ParsesSizesAndRevision) {
    auto r = parse_qxl_options("ram=32M,vram=8,revision=4,surfaces=64,xres=800,yres=600");
    ASSERT_TRUE(r.config) << r.error;
    EXPECT_EQ(r.config->ram_size_bytes, 32 * kMiB);
    EXPECT_EQ(r.config->vram_size_bytes, 8 * kMiB);
    EXPECT_EQ(r.config->revision, 4);
    EXPECT_EQ(r.config->n_surfaces, 64u);
    EXPECT_EQ(r.config->xres, 800u);
}

TEST(QxlConfigParse, AppliesQemuSizeRules) {
    auto r = parse_qxl_options("ram=20M,vram=3K,vgamem=12M");
    ASSERT_TRUE(r.config) << r.error;
    EXPECT_EQ(r.config->vgamem_size_bytes, 16 * kMiB);  // power of two
    EXPECT_EQ(r.config->ram_size_bytes, 32 * kMiB);     // >= 2 * vgamem, power of two
    EXPECT_EQ(r.config->vram_size_bytes, 4096u);        // at least 4 KiB
    auto r1 = parse_qxl_options("revision=1");
    ASSERT_TRUE(r1.config);
    EXPECT_EQ(r1.config->vram_size_bytes, 4096u);
    EXPECT_EQ(r1.config->io_bar_size(), 8u);
}

TEST(QxlConfigParse, RejectsBadValuesWithAReason) {
    for (const char* bad : {"revision=6", "revision=0", "ram=abc", "ram=", "bogus=1", "ram", "ram=4G", "surfaces=0",
                            "vram=-1", "xres=99999999999999999999"}) {
        auto r = parse_qxl_options(bad);
        EXPECT_FALSE(r.config) << bad;
        EXPECT_FALSE(r.error.empty()) << bad;
    }
}

TEST(QxlRom, FilledAsQemuDoesWithDefaults) {
    QxlConfig c;  // 64 MiB RAM, 16 MiB vgamem
    QxlHarness h(c);
    EXPECT_EQ(h.rom32(rom::magic), QXL_ROM_MAGIC);
    EXPECT_EQ(h.rom32(rom::modes_offset), 1160u);
    EXPECT_EQ(h.rom32(rom::num_pages), 12286u);
    EXPECT_EQ(h.rom32(rom::ram_header_offset), 0x3ffe000u);
    EXPECT_EQ(h.rom32(rom::surface0_area_size), 16 * kMiB);
    EXPECT_EQ(h.rom32(rom::pages_offset), 16 * kMiB);
    EXPECT_EQ(h.rom32(rom::n_surfaces), 1024u);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::slots_start), 1u);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::slots_end), 7u);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::slot_gen_bits), 8u);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::slot_id_bits), 8u);
}

TEST(QxlRom, ModeListIsFilteredByVgamem) {
    QxlConfig c;
    QxlHarness h(c);
    EXPECT_EQ(h.rom32(1160), 128u);
    auto m0 = rom_mode(h.dev->rom(), 0);
    ASSERT_TRUE(m0);
    EXPECT_EQ(m0->id, 0u);
    EXPECT_EQ(m0->x_res, 640u);
    EXPECT_EQ(m0->bits, 16u);
    EXPECT_EQ(m0->stride, 1280u);
    EXPECT_EQ(m0->x_mili, 187u);
    auto m1 = rom_mode(h.dev->rom(), 1);
    EXPECT_EQ(m1->bits, 32u);
    auto m2 = rom_mode(h.dev->rom(), 2);
    EXPECT_EQ(m2->orientation, 1u);
    // Filtered: ids skip the modes that do not fit, so the last id is not 127.
    auto last = rom_mode(h.dev->rom(), 127);
    ASSERT_TRUE(last);
    EXPECT_GT(last->id, 127u);
    EXPECT_LE(std::uint64_t{last->y_res} * last->stride, 16 * kMiB);
    EXPECT_FALSE(rom_mode(h.dev->rom(), 128));
}

TEST(QxlRom, ClientMonitorsCrcMatchesZlibCrc32Convention) {
    std::uint8_t block[1028];
    for (std::size_t i = 0; i < sizeof block; ++i) block[i] = static_cast<std::uint8_t>(i * 13);
    const auto zlib = static_cast<std::uint32_t>(crc32(0xffffffffUL, block, sizeof block) ^ 0xffffffffUL);
    EXPECT_EQ(client_monitors_crc(block, sizeof block), zlib);
}

TEST(QxlRom, XresYresPreloadClientMonitorsConfig) {
    QxlConfig c = QxlHarness::small_config();
    c.xres = 800;
    c.yres = 600;
    QxlHarness h(c);
    EXPECT_EQ(h.mem.read16(kBar2 + rom::client_monitors_config), 1u);
    EXPECT_EQ(h.rom32(rom::client_monitors_config + 4 + 8), 600u);   // bottom
    EXPECT_EQ(h.rom32(rom::client_monitors_config + 4 + 12), 800u);  // right
    EXPECT_EQ(h.rom32(rom::client_monitors_config_crc),
              client_monitors_crc(h.dev->rom() + rom::client_monitors_config, rom::client_monitors_config_size));
}

TEST(QxlRam, ResetInitialisesHeaderAndRings) {
    QxlHarness h;
    h.set_ram32(ram::cmd_ring + ring::prod, 7);
    h.set_ram32(ram::int_mask, 5);
    h.out(QXL_IO_RESET);
    EXPECT_EQ(h.ram32(ram::magic), QXL_RAM_MAGIC);
    EXPECT_EQ(h.ram32(ram::int_mask), 0u);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::num_items), 32u);
    EXPECT_EQ(h.ram32(ram::cursor_ring + ring::num_items), 32u);
    EXPECT_EQ(h.ram32(ram::release_ring + ring::num_items), 8u);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::prod), 0u);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::notify_on_prod), 1u);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::notify_on_cons), 0u);
    EXPECT_EQ(h.dev->mode(), QxlMode::Vga);
}
