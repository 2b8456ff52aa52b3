#include <gtest/gtest.h>

#include <thread>

#include "qxl_harness.h"

using namespace qxl_test;

TEST(QxlIo, ReadsReturnAllOnesAndWideWritesAreDropped) {
    QxlHarness h;
    EXPECT_EQ(h.ports.in(kIoBase + QXL_IO_RESET, 1), 0xffu);
    h.boot();
    ASSERT_EQ(h.dev->mode(), QxlMode::Native);
    h.ports.out(kIoBase + QXL_IO_RESET, 4, 0);  // not a byte access: ignored
    EXPECT_EQ(h.dev->mode(), QxlMode::Native);
    h.ports.out(kIoBase + QXL_IO_RESET, 1, 0);
    EXPECT_EQ(h.dev->mode(), QxlMode::Vga);
}

TEST(QxlIo, VgaModeIgnoresPortsButCompletesAsyncOnes) {
    QxlHarness h;
    h.set_int_mask(0xff);
    h.out(QXL_IO_DESTROY_ALL_SURFACES);
    EXPECT_EQ(h.dev->mode(), QxlMode::Vga);
    EXPECT_EQ(h.int_pending(), 0u);
    h.out(QXL_IO_FLUSH_SURFACES_ASYNC);
    EXPECT_EQ(h.int_pending(), QXL_INTERRUPT_IO_CMD);
    EXPECT_FALSE(h.dev->guest_bug());
}

TEST(QxlIo, MemslotAddRegistersRangeInsideBar) {
    QxlHarness h;
    h.add_slot(1, kBar0 + 0x1000, kBar0 + 0x3000);
    const MemSlot& s = h.dev->memslots().slot(1);
    EXPECT_TRUE(s.active);
    EXPECT_EQ(s.backing_offset, 0x1000u);
    EXPECT_EQ(s.size, 0x2000u);
    h.add_slot(2, kBar1, kBar1 + 0x1000);
    EXPECT_EQ(h.dev->memslots().slot(2).backing, Backing::Vram);
    EXPECT_FALSE(h.dev->guest_bug());
}

TEST(QxlIo, MemslotDelDeactivatesSlot) {
    QxlHarness h;
    h.add_slot(3, kBar0, kBar0 + 0x1000);
    h.out(QXL_IO_MEMSLOT_DEL, 3);
    EXPECT_FALSE(h.dev->memslots().slot(3).active);
    h.add_slot(3, kBar0, kBar0 + 0x1000);  // may be added again
    EXPECT_FALSE(h.dev->guest_bug());
}

TEST(QxlIo, MemslotAddAsyncCompletesWithIoCmdAfterLatency) {
    QxlHarness h;
    h.set_int_mask(QXL_INTERRUPT_IO_CMD);
    h.set_ram64(ram::mem_slot, kBar0);
    h.set_ram64(ram::mem_slot + 8, kBar0 + 0x1000);
    h.out(QXL_IO_MEMSLOT_ADD_ASYNC, 1);
    EXPECT_EQ(h.dev->current_async(), QXL_IO_MEMSLOT_ADD_ASYNC);
    EXPECT_EQ(h.int_pending(), 0u);
    EXPECT_FALSE(h.irq.level);
    h.run_ns(19000);
    EXPECT_EQ(h.int_pending(), 0u);
    h.run_ns(2000);
    EXPECT_EQ(h.int_pending(), QXL_INTERRUPT_IO_CMD);
    EXPECT_TRUE(h.irq.level);
    EXPECT_EQ(h.dev->current_async(), kNoAsyncIo);
    EXPECT_TRUE(h.dev->memslots().slot(1).active);
}

TEST(QxlIo, SecondAsyncWhileOneIsPendingIsAGuestBug) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_FLUSH_SURFACES_ASYNC);
    h.out(QXL_IO_FLUSH_SURFACES_ASYNC);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("async started before last"), std::string::npos);
}

TEST(QxlIo, CreatePrimaryEntersNativeModeAndOffersSurface) {
    QxlHarness h;
    h.boot(64, 32);
    EXPECT_EQ(h.dev->mode(), QxlMode::Native);
    ASSERT_FALSE(h.consumer.commands.empty());
    auto* c = std::get_if<proto::SurfaceCreate>(&h.consumer.commands.back().body);
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->primary);
    EXPECT_EQ(c->width, 64u);
    EXPECT_EQ(c->height, 32u);
    EXPECT_EQ(c->stride, 256);
}

TEST(QxlIo, CreatePrimaryAsyncCompletes) {
    QxlHarness h;
    h.out(QXL_IO_RESET);
    h.setup_slots();
    h.fill_create_surface(32, 16, 128, h.phys(0));
    h.out(QXL_IO_CREATE_PRIMARY_ASYNC, 0);
    h.run_ns(50000);
    EXPECT_EQ(h.dev->mode(), QxlMode::Native);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlIo, CreatePrimaryTwiceIsAGuestBugThatStillProceeds) {
    QxlHarness h;
    h.boot();
    h.fill_create_surface(32, 16, 128, h.phys(0));
    h.out(QXL_IO_CREATE_PRIMARY, 0);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_EQ(h.dev->mode(), QxlMode::Native);
    auto* c = std::get_if<proto::SurfaceCreate>(&h.consumer.commands.back().body);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->width, 32u);
}

TEST(QxlIo, DestroyPrimaryGoesUndefinedAndAsyncCancelsWhenNothingToDestroy) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_DESTROY_PRIMARY, 0);
    EXPECT_EQ(h.dev->mode(), QxlMode::Undefined);
    EXPECT_FALSE(h.dev->surface_exists(0));
    EXPECT_TRUE(std::holds_alternative<proto::SurfaceDestroy>(h.consumer.commands.back().body));
    h.out(QXL_IO_DESTROY_PRIMARY_ASYNC, 0);  // nothing left: immediate IO_CMD
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
    EXPECT_EQ(h.dev->current_async(), kNoAsyncIo);
    EXPECT_FALSE(h.dev->guest_bug());
}

TEST(QxlIo, DestroyPrimaryWithNonZeroValIsAGuestBug) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_DESTROY_PRIMARY_ASYNC, 1);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);  // cancelled
}

TEST(QxlIo, DestroyAllSurfacesDestroysEverySurface) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_DESTROY_ALL_SURFACES_ASYNC);
    EXPECT_EQ(h.dev->mode(), QxlMode::Undefined);
    EXPECT_FALSE(h.dev->surface_exists(0));
    h.run_ns(30000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlIo, DestroySurfaceWaitChecksIdAgainstSurfaceCount) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_DESTROY_SURFACE_WAIT, 0);
    EXPECT_FALSE(h.dev->surface_exists(0));
    EXPECT_FALSE(h.dev->guest_bug());
    QxlConfig c = QxlHarness::small_config();
    c.n_surfaces = 16;
    QxlHarness h2(c);
    h2.boot();
    h2.out(QXL_IO_DESTROY_SURFACE_ASYNC, 16);
    EXPECT_TRUE(h2.dev->guest_bug());
    EXPECT_EQ(h2.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlIo, UpdateAreaWritesConsumerPixelsIntoGuestMemory) {
    QxlHarness h;
    h.boot(64, 32);
    h.consumer.pattern_pixel = 0x11223344;
    h.set_ram32(ram::update_surface, 0);
    h.set_ram32(ram::update_area, 2);        // top
    h.set_ram32(ram::update_area + 4, 4);    // left
    h.set_ram32(ram::update_area + 8, 6);    // bottom
    h.set_ram32(ram::update_area + 12, 10);  // right
    h.out(QXL_IO_UPDATE_AREA);
    ASSERT_EQ(h.consumer.update_requests.size(), 1u);
    EXPECT_EQ(h.consumer.update_requests[0].area, (proto::Rect{2, 4, 6, 10}));
    EXPECT_EQ(ld32(h.ram_ptr(2 * 256 + 4 * 4)), 0x11223344u);
    EXPECT_EQ(ld32(h.ram_ptr(5 * 256 + 9 * 4)), 0x11223344u);
    EXPECT_EQ(ld32(h.ram_ptr(5 * 256 + 10 * 4)), 0u);
    EXPECT_EQ(ld32(h.ram_ptr(6 * 256 + 9 * 4)), 0u);
}

TEST(QxlIo, UpdateAreaAsyncCompletes) {
    QxlHarness h;
    h.boot();
    h.set_ram32(ram::update_area + 8, 4);
    h.set_ram32(ram::update_area + 12, 4);
    h.out(QXL_IO_UPDATE_AREA_ASYNC);
    EXPECT_EQ(h.dev->current_async(), QXL_IO_UPDATE_AREA_ASYNC);
    h.run_ns(30000);
    EXPECT_EQ(h.dev->current_async(), kNoAsyncIo);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlIo, UpdateAreaEmptyRectIsForgivenAndCancelsAsync) {
    QxlHarness h;
    h.boot();
    h.set_ram32(ram::update_area + 8, 4);   // bottom 4
    h.set_ram32(ram::update_area + 12, 0);  // right == left: empty
    h.out(QXL_IO_UPDATE_AREA_ASYNC);
    EXPECT_FALSE(h.dev->guest_bug());
    EXPECT_EQ(h.dev->current_async(), kNoAsyncIo);
    EXPECT_EQ(h.int_pending() & (QXL_INTERRUPT_IO_CMD | QXL_INTERRUPT_ERROR),
              QXL_INTERRUPT_IO_CMD | QXL_INTERRUPT_ERROR);
}

TEST(QxlIo, UpdateAreaInvertedRectIsAGuestBug) {
    QxlHarness h;
    h.boot();
    h.set_ram32(ram::update_area, 5);
    h.set_ram32(ram::update_area + 8, 2);
    h.set_ram32(ram::update_area + 12, 4);
    h.out(QXL_IO_UPDATE_AREA);
    EXPECT_TRUE(h.dev->guest_bug());
}

TEST(QxlIo, UpdateAreaSurfaceIdIsBoundedByNSurfaces) {
    QxlHarness h;
    h.boot();
    h.set_ram32(ram::update_surface, 1024);  // QEMU's `>` lets this one through
    h.set_ram32(ram::update_area + 8, 4);
    h.set_ram32(ram::update_area + 12, 4);
    h.out(QXL_IO_UPDATE_AREA);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_TRUE(h.consumer.update_requests.empty());
}

TEST(QxlIo, UpdateAreaBeyondSurfaceIsClipped) {
    QxlHarness h;
    h.boot(64, 32);
    h.set_ram32(ram::update_area + 8, 1000);
    h.set_ram32(ram::update_area + 12, 1000);
    h.out(QXL_IO_UPDATE_AREA);
    ASSERT_EQ(h.consumer.update_requests.size(), 1u);
    EXPECT_EQ(h.consumer.update_requests[0].area, (proto::Rect{0, 0, 32, 64}));
}

TEST(QxlIo, NotifyOomAsksConsumerOnlyWhenReleaseRingIsEmpty) {
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Deferred);
    h.boot();
    h.push_cmd(h.phys(h.copy_drawable()));
    h.run_ns(10000);
    h.out(QXL_IO_NOTIFY_OOM);
    EXPECT_EQ(h.consumer.oom_count, 1);
    // The OOM pass released the held command and flushed it to the ring.
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 1u);
    h.out(QXL_IO_NOTIFY_OOM);  // ring not empty now: nothing to do
    EXPECT_EQ(h.consumer.oom_count, 1);
}

TEST(QxlIo, LogIsBoundedAndTraced) {
    QxlHarness h;
    std::vector<std::string> lines;
    h.dev->set_trace([&](const std::string& l) { lines.push_back(l); });
    std::memset(h.dev->ram() + h.hdr() + ram::log_buf, 'A', ram::log_buf_size);  // no NUL at all
    h.out(QXL_IO_LOG);
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines.back().find("guest log: AAAA"), std::string::npos);
    EXPECT_EQ(lines.back().size(), std::string("qxl-0: guest log: ").size() + ram::log_buf_size);
}

TEST(QxlIo, SetModeEntersCompatModeWithBottomUpPrimary) {
    QxlHarness h;
    h.out(QXL_IO_SET_MODE, 1);  // 640x480x32
    EXPECT_EQ(h.dev->mode(), QxlMode::Compat);
    EXPECT_EQ(h.dev->cmdflags(), QXL_COMMAND_FLAG_COMPAT);
    EXPECT_EQ(h.rom32(rom::mode), 1u);
    EXPECT_TRUE(h.dev->memslots().slot(0).active);
    EXPECT_EQ(h.dev->memslots().slot(0).delta, kBar0);
    auto* c = std::get_if<proto::SurfaceCreate>(&h.consumer.commands.back().body);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->width, 640u);
    EXPECT_EQ(c->stride, -640 * 4);
    h.out(QXL_IO_SET_MODE, 0);  // 16 bpp mode adds COMPAT_16BPP
    EXPECT_EQ(h.dev->cmdflags(), QXL_COMMAND_FLAG_COMPAT | QXL_COMMAND_FLAG_COMPAT_16BPP);
}

TEST(QxlIo, SetModeIndexBeyondModeListIsAGuestBug) {
    QxlHarness h;
    h.out(QXL_IO_SET_MODE, 200);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_EQ(h.dev->mode(), QxlMode::Vga);
}

TEST(QxlIo, DetachAndAttachPrimaryAreGuestBugs) {
    for (std::uint8_t port : {QXL_IO_DETACH_PRIMARY, QXL_IO_ATTACH_PRIMARY}) {
        QxlHarness h;
        h.boot();
        h.out(port);
        EXPECT_TRUE(h.dev->guest_bug()) << int(port);
    }
}

TEST(QxlIo, UnknownPortsInsideTheBarAreGuestBugs) {
    QxlHarness h;
    h.boot();
    h.out(25);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("unexpected io port"), std::string::npos);
}

TEST(QxlIo, Revision3RejectsMonitorsConfigPort) {
    QxlConfig c = QxlHarness::small_config();
    c.revision = 3;
    QxlHarness h(c);
    h.boot();
    h.out(QXL_IO_MONITORS_CONFIG_ASYNC);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("revision 3"), std::string::npos);
}

TEST(QxlIo, GuestBugLatchDropsEveryPortButReset) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_DETACH_PRIMARY);
    ASSERT_TRUE(h.dev->guest_bug());
    h.out(QXL_IO_DESTROY_PRIMARY, 0);
    EXPECT_EQ(h.dev->mode(), QxlMode::Native);  // dropped
    h.out(QXL_IO_RESET);
    EXPECT_FALSE(h.dev->guest_bug());
    EXPECT_EQ(h.dev->mode(), QxlMode::Vga);
}

TEST(QxlIo, MonitorsConfigAsyncForwardsHeadsAndCompletes) {
    QxlHarness h;
    h.boot();
    const std::uint64_t mc = h.alloc(4 + 4 * 28);
    h.put16(mc, 2);
    h.put16(mc + 2, 4);
    h.put32(mc + 4 + 8, 1024);
    h.put32(mc + 4 + 12, 768);
    h.put32(mc + 4 + 28, 1);
    h.put32(mc + 4 + 28 + 8, 800);
    h.set_ram64(ram::monitors_config, h.phys(mc));
    h.out(QXL_IO_MONITORS_CONFIG_ASYNC);
    ASSERT_EQ(h.consumer.monitors_configs.size(), 1u);
    ASSERT_EQ(h.consumer.monitors_configs[0].heads.size(), 2u);
    EXPECT_EQ(h.consumer.monitors_configs[0].heads[0].width, 1024u);
    EXPECT_EQ(h.consumer.monitors_configs[0].heads[1].id, 1u);
    h.run_ns(30000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlInterrupt, LineIsPendingAndMask) {
    QxlHarness h;
    h.boot();
    h.set_int_mask(0);
    h.out(QXL_IO_FLUSH_SURFACES_ASYNC);
    h.run_ns(30000);
    EXPECT_EQ(h.int_pending(), QXL_INTERRUPT_IO_CMD);
    EXPECT_FALSE(h.irq.level);  // masked
    h.set_int_mask(QXL_INTERRUPT_IO_CMD);
    EXPECT_FALSE(h.irq.level);  // the device only looks again on UPDATE_IRQ
    h.out(QXL_IO_UPDATE_IRQ);
    EXPECT_TRUE(h.irq.level);
    h.set_ram32(ram::int_pending, 0);  // the guest acknowledges
    h.out(QXL_IO_UPDATE_IRQ);
    EXPECT_FALSE(h.irq.level);
}

TEST(QxlInterrupt, GuestBugRaisesErrorInterrupt) {
    QxlHarness h;
    h.boot();
    h.set_int_mask(QXL_INTERRUPT_ERROR);
    h.out(QXL_IO_ATTACH_PRIMARY);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_ERROR, QXL_INTERRUPT_ERROR);
    EXPECT_TRUE(h.irq.level);
    EXPECT_FALSE(h.log.empty());
    EXPECT_NE(h.log.back().find("guest bug"), std::string::npos);
}

TEST(QxlInterrupt, LevelFollowsAfterConfiguredLatency) {
    QxlTiming t;
    t.irq_latency_ns = 5000;
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Immediate, t);
    h.boot();
    h.set_int_mask(QXL_INTERRUPT_ERROR);
    h.out(QXL_IO_ATTACH_PRIMARY);
    EXPECT_FALSE(h.irq.level);
    h.run_ns(6000);
    EXPECT_TRUE(h.irq.level);
}

TEST(QxlInterrupt, ClientCapabilitiesRaiseClientInterruptOnRevision4) {
    QxlHarness h;
    h.boot();
    h.dev->set_client_capabilities(true, {0x5a, 0x01});
    EXPECT_EQ(h.mem.read8(kBar2 + rom::client_present), 1u);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::client_capabilities), 0x5au);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_CLIENT, QXL_INTERRUPT_CLIENT);
    // Survives a reset (the shadow ROM has it too).
    h.out(QXL_IO_RESET);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::client_present), 1u);
}

TEST(QxlInterrupt, ClientMonitorsConfigOnlyWhenGuestListens) {
    QxlHarness h;
    h.boot();
    h.set_int_mask(0);
    EXPECT_FALSE(h.dev->client_monitors_config({{0, 0, 800, 600, 0, 0, 0}}));
    h.set_int_mask(0xffffffffu);
    EXPECT_FALSE(h.dev->client_monitors_config({{0, 0, 800, 600, 0, 0, 0}}));
    h.set_int_mask(0x27);
    EXPECT_TRUE(h.dev->client_monitors_config({{0, 0, 800, 600, 10, 20, 0}}));
    EXPECT_EQ(h.mem.read16(kBar2 + rom::client_monitors_config), 1u);
    EXPECT_EQ(h.rom32(rom::client_monitors_config + 4), 20u);        // top = y
    EXPECT_EQ(h.rom32(rom::client_monitors_config + 4 + 4), 10u);    // left = x
    EXPECT_EQ(h.rom32(rom::client_monitors_config + 4 + 8), 620u);   // bottom
    EXPECT_EQ(h.rom32(rom::client_monitors_config + 4 + 12), 810u);  // right
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_CLIENT_MONITORS_CONFIG, QXL_INTERRUPT_CLIENT_MONITORS_CONFIG);
    // Same config again: nothing changed, no new interrupt.
    h.set_ram32(ram::int_pending, 0);
    EXPECT_TRUE(h.dev->client_monitors_config({{0, 0, 800, 600, 10, 20, 0}}));
    EXPECT_EQ(h.int_pending(), 0u);
}

TEST(QxlInterrupt, ClientMonitorsConfigRefusedBeforeRevision4) {
    QxlConfig c = QxlHarness::small_config();
    c.revision = 3;
    QxlHarness h(c);
    h.boot();
    EXPECT_FALSE(h.dev->client_monitors_config({{0, 0, 800, 600, 0, 0, 0}}));
}

TEST(QxlIo, FlushSurfacesAsksConsumerToRenderThenCompletes) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_FLUSH_SURFACES_ASYNC);
    EXPECT_EQ(h.consumer.flush_count, 1);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, 0u);
    h.run_ns(30000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlIo, DestroyAllSurfacesSyncNeedsNoCompletion) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_DESTROY_ALL_SURFACES);
    EXPECT_FALSE(h.dev->surface_exists(0));
    h.run_ns(30000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, 0u);
}

TEST(QxlTiming, AsyncLatencyIsConfigurable) {
    QxlTiming t;
    t.async_latency_ns = 50000;
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Immediate, t);
    h.boot();
    h.out(QXL_IO_FLUSH_SURFACES_ASYNC);
    h.run_ns(49000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, 0u);
    h.run_ns(2000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlBackPressure, AsyncCreatePrimaryCompletesOnlyAfterConsumerTakesIt) {
    QxlHarness h;
    h.out(QXL_IO_RESET);
    h.setup_slots();
    h.consumer.refuse_commands = true;
    h.fill_create_surface(32, 16, 128, h.phys(0));
    h.out(QXL_IO_CREATE_PRIMARY_ASYNC, 0);
    h.run_ns(300000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, 0u);
    h.consumer.refuse_commands = false;
    h.dev->wakeup();
    h.run_ns(30000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
    EXPECT_TRUE(std::holds_alternative<proto::SurfaceCreate>(h.consumer.commands.back().body));
}

TEST(QxlInterrupt, RequestsFromAnotherThreadApplyAtTheNextServiceTick) {
    QxlHarness h;
    h.boot();
    std::thread t([&] {
        h.dev->set_client_capabilities(true, {0x42});
        EXPECT_TRUE(h.dev->client_monitors_config({{0, 0, 640, 480, 0, 0, 0}}));
    });
    t.join();
    EXPECT_EQ(h.mem.read8(kBar2 + rom::client_present), 0u);  // not yet: emulation thread only
    h.run_ns(200000);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::client_present), 1u);
    EXPECT_EQ(h.mem.read8(kBar2 + rom::client_capabilities), 0x42u);
    EXPECT_EQ(h.mem.read16(kBar2 + rom::client_monitors_config), 1u);
    EXPECT_EQ(h.int_pending() & (QXL_INTERRUPT_CLIENT | QXL_INTERRUPT_CLIENT_MONITORS_CONFIG),
              QXL_INTERRUPT_CLIENT | QXL_INTERRUPT_CLIENT_MONITORS_CONFIG);
}
