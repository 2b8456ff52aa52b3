#include <gtest/gtest.h>

#include "qxl_harness.h"

using namespace qxl_test;

TEST(QxlState, SaveAndLoadRoundTrip) {
    QxlHarness a;
    a.boot(64, 32);
    a.push_cmd(a.phys(a.copy_drawable(12)));
    a.run_ns(5000);
    st32(a.ram_ptr(0), 0xfeedface);
    const auto state = a.save_state_for_test();
    QxlHarness b;
    ASSERT_FALSE(b.dev->load_state(state).has_value());
    EXPECT_EQ(b.dev->mode(), QxlMode::Native);
    EXPECT_TRUE(b.dev->surface_exists(0));
    EXPECT_TRUE(b.dev->memslots().slot(1).active);
    EXPECT_EQ(b.dev->num_free_res(), 1u);
    EXPECT_EQ(ld32(b.ram_ptr(0)), 0xfeedfaceu);
    // The consumer is shown the primary again, keeping its data.
    auto* c = std::get_if<proto::SurfaceCreate>(&b.consumer.commands.back().body);
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->primary);
    EXPECT_EQ(c->flags & proto::kSurfaceKeepData, proto::kSurfaceKeepData);
    // And it keeps working: the next command is consumed and chained after the restored one.
    b.push_cmd(b.phys(b.copy_drawable(13)));
    b.run_ns(5000);
    EXPECT_EQ(b.dev->num_free_res(), 2u);
    EXPECT_EQ(b.draw_count(), 1u);
}

TEST(QxlState, TruncatedOrForeignStateIsRejected) {
    QxlHarness a;
    a.boot();
    auto state = a.save_state_for_test();
    QxlHarness b;
    auto cut = state;
    cut.resize(cut.size() / 2);
    EXPECT_TRUE(b.dev->load_state(cut).has_value());
    EXPECT_TRUE(b.dev->load_state({}).has_value());
    QxlConfig other = QxlHarness::small_config();
    other.n_surfaces = 16;
    QxlHarness c(other);
    auto err = c.dev->load_state(state);
    ASSERT_TRUE(err.has_value());
    EXPECT_NE(err->find("different device configuration"), std::string::npos);
    EXPECT_EQ(b.dev->mode(), QxlMode::Vga);  // untouched
}

TEST(QxlState, HostileMemslotInStateIsRejected) {
    QxlHarness a;
    a.boot();
    auto state = a.save_state_for_test();
    // Locate slot 1's size field: header fields, then 8 slots of 43 bytes.
    const std::size_t slots_at = 4 + 4 + 8 * 4 + 1 + 4 + 2 + 24 + 1 + 1 + 4 + 1 + 4;
    const std::size_t slot1_size = slots_at + 43 + 1 + 1 + 8;
    for (int i = 0; i < 8; ++i) state[slot1_size + i] = 0xff;
    QxlHarness b;
    auto err = b.dev->load_state(state);
    ASSERT_TRUE(err.has_value());
    EXPECT_NE(err->find("memslot outside its BAR"), std::string::npos);
}

TEST(QxlState, HostileSurfaceInStateIsRejected) {
    QxlHarness a;
    a.boot(64, 32);
    auto state = a.save_state_for_test();
    const std::size_t surfaces_at = 4 + 4 + 8 * 4 + 1 + 4 + 2 + 24 + 1 + 1 + 4 + 1 + 4 + 8 * 43 + 4;
    // Surface 0 height := 0xffffffff.
    for (int i = 0; i < 4; ++i) state[surfaces_at + 12 + i] = 0xff;
    QxlHarness b;
    auto err = b.dev->load_state(state);
    ASSERT_TRUE(err.has_value());
    EXPECT_NE(err->find("surface 0"), std::string::npos);
}

TEST(QxlState, CorruptedHeaderBytesNeverBreakTheDevice) {
    QxlHarness a;
    a.boot(64, 32);
    a.push_cmd(a.phys(a.copy_drawable(12)));
    a.run_ns(5000);
    const auto good = a.save_state_for_test();
    QxlHarness b;
    int rejected = 0;
    // Every 13th byte of the non-buffer part, set to 0xff: each load either fails cleanly or
    // yields a device that still works.
    const std::size_t header_bytes =
        4 + 4 + 8 * 4 + 1 + 4 + 2 + 24 + 1 + 1 + 4 + 1 + 4 + 8 * 43 + 4 + 25 + 4 + 1 + 1 + 8;
    for (std::size_t pos = 0; pos < header_bytes; pos += 13) {
        auto state = good;
        state[pos] = 0xff;
        if (b.dev->load_state(state).has_value()) {
            ++rejected;
            continue;
        }
        b.push_cmd(b.phys(b.copy_drawable()));
        b.out(QXL_IO_UPDATE_IRQ);
        b.run_ns(5000);
        b.out(QXL_IO_RESET);
    }
    EXPECT_GT(rejected, 3);
}
