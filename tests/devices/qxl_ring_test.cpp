#include <gtest/gtest.h>

#include <thread>

#include "qxl_harness.h"

using namespace qxl_test;

TEST(QxlRing, EmptyRingOffersNothingAndArmsNotifyOnProd) {
    QxlHarness h;
    h.boot();
    const std::size_t before = h.consumer.commands.size();
    h.out(QXL_IO_NOTIFY_CMD);
    h.run_ns(10000);
    EXPECT_EQ(h.consumer.commands.size(), before);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::notify_on_prod), h.ram32(ram::cmd_ring + ring::prod) + 1);
}

TEST(QxlRing, CommandIsConsumedAfterNotifyLatency) {
    QxlHarness h;
    h.boot();
    h.push_cmd(h.phys(h.copy_drawable()));
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::cons), 0u);
    EXPECT_EQ(h.draw_count(), 0u);
    h.run_ns(1000);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::cons), 1u);
    EXPECT_EQ(h.draw_count(), 1u);
}

TEST(QxlRing, WrapsPastItsSizeWithFreeRunningCounters) {
    QxlHarness h;
    h.boot();
    for (int i = 0; i < 45; ++i) {
        h.push_cmd(h.phys(h.copy_drawable()));
        h.run_ns(2000);
    }
    EXPECT_EQ(h.draw_count(), 45u);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::cons), 45u);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::prod), 45u);
}

TEST(QxlRing, FullRingConsumedInOrderOnePerInterval) {
    QxlHarness h;
    h.boot();
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 32; ++i) {
        ids.push_back(500 + i);
        h.push(ram::cmd_ring, h.phys(h.copy_drawable(500 + i)), QXL_CMD_DRAW, i == 0);
    }
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::prod) - h.ram32(ram::cmd_ring + ring::cons), 32u);  // full
    h.run_ns(1000 + 10 * 500);
    EXPECT_EQ(h.draw_count(), 11u);
    h.run_ns(100000);
    EXPECT_EQ(h.draw_count(), 32u);
}

TEST(QxlRing, NotifyOnConsRaisesDisplayInterruptWhenGuestWaits) {
    QxlHarness h;
    h.boot();
    h.set_int_mask(QXL_INTERRUPT_DISPLAY);
    for (int i = 0; i < 32; ++i) h.push(ram::cmd_ring, h.phys(h.copy_drawable()), QXL_CMD_DRAW, false);
    // Full: the guest asks to be woken when one slot frees up.
    h.set_ram32(ram::cmd_ring + ring::notify_on_cons, h.ram32(ram::cmd_ring + ring::cons) + 1);
    h.out(QXL_IO_NOTIFY_CMD);
    h.run_ns(1000);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::cons), 1u);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_DISPLAY, QXL_INTERRUPT_DISPLAY);
    EXPECT_TRUE(h.irq.level);
}

TEST(QxlRing, NoKickWithoutReachingNotifyOnProd) {
    QxlTiming t;
    t.service_period_ns = 1000000000;  // no background polling in this test
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Immediate, t);
    h.boot();
    h.run_ns(10000);
    // Device idle: notify_on_prod = prod + 1; a push reaching it kicks, one not reaching it
    // would not (the harness follows the driver rule).
    const std::uint32_t nop = h.ram32(ram::cmd_ring + ring::notify_on_prod);
    EXPECT_EQ(nop, h.ram32(ram::cmd_ring + ring::prod) + 1);
    h.set_ram32(ram::cmd_ring + ring::notify_on_prod, nop + 5);
    h.push_cmd(h.phys(h.copy_drawable()));  // prod != notify_on_prod: no kick
    h.run_ns(5000);
    EXPECT_EQ(h.draw_count(), 0u);
    h.out(QXL_IO_NOTIFY_CMD);
    h.run_ns(5000);
    EXPECT_EQ(h.draw_count(), 1u);
}

TEST(QxlRing, CorruptedNumItemsIsAGuestBugNotAnOverflow) {
    QxlHarness h;
    h.boot();
    h.set_ram32(ram::cmd_ring + ring::num_items, 1024);
    h.set_ram32(ram::cmd_ring + ring::prod, 100);
    h.set_ram32(ram::cmd_ring + ring::cons, 40);
    h.out(QXL_IO_NOTIFY_CMD);
    h.run_ns(5000);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("num_items"), std::string::npos);
}

TEST(QxlRing, CursorRingRaisesCursorInterruptAtNotifyOnCons) {
    QxlHarness h;
    h.boot();
    h.set_int_mask(QXL_INTERRUPT_CURSOR);
    const std::uint64_t c = h.alloc(150);
    std::memset(h.ram_ptr(c), 0, 150);
    h.put8(c + 8, 2);  // HIDE
    h.set_ram32(ram::cursor_ring + ring::notify_on_cons, 1);
    h.push_cursor(h.phys(c));
    h.run_ns(2000);
    EXPECT_EQ(h.consumer.cursor_commands.size(), 1u);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_CURSOR, QXL_INTERRUPT_CURSOR);
}

TEST(QxlRing, GuestBugStopsCommandRingButNotCursorRing) {
    QxlHarness h;
    h.boot();
    h.out(QXL_IO_ATTACH_PRIMARY);
    ASSERT_TRUE(h.dev->guest_bug());
    h.push(ram::cmd_ring, h.phys(h.copy_drawable()), QXL_CMD_DRAW, false);
    const std::uint64_t c = h.alloc(150);
    std::memset(h.ram_ptr(c), 0, 150);
    h.put8(c + 8, 2);
    h.push(ram::cursor_ring, h.phys(c), QXL_CMD_CURSOR, false);
    h.run_ns(200000);  // service ticks poll
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::cons), 0u);
    EXPECT_EQ(h.consumer.cursor_commands.size(), 1u);
}

TEST(QxlBackPressure, RefusingConsumerStopsPoppingUntilWakeup) {
    QxlHarness h;
    h.boot();
    h.consumer.refuse_commands = true;
    for (int i = 0; i < 5; ++i) h.push_cmd(h.phys(h.copy_drawable()));
    h.run_ns(50000);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::cons), 1u);  // one popped and held, then stopped
    EXPECT_EQ(h.draw_count(), 0u);
    h.consumer.refuse_commands = false;
    h.dev->wakeup();
    h.run_ns(50000);
    EXPECT_EQ(h.draw_count(), 5u);
    EXPECT_EQ(h.ram32(ram::cmd_ring + ring::cons), 5u);
}

TEST(QxlRelease, ImmediatePolicyChainsIdsThroughNext) {
    QxlHarness h;
    h.boot();
    std::vector<std::uint64_t> cmds;
    for (int i = 0; i < 3; ++i) {
        cmds.push_back(h.copy_drawable(7 + i));
        h.push_cmd(h.phys(cmds.back()));
        h.run_ns(2000);
    }
    EXPECT_EQ(h.dev->num_free_res(), 3u);
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 0u);  // not yet pushed: bunch of 32
    // Head in the ring, then next links: 7 -> 8 -> 9 -> 0.
    EXPECT_EQ(ld64(h.dev->ram() + h.hdr() + ram::release_ring + ring::items), 7u);
    EXPECT_EQ(ld64(h.ram_ptr(cmds[0])), 8u);
    EXPECT_EQ(ld64(h.ram_ptr(cmds[1])), 9u);
    EXPECT_EQ(ld64(h.ram_ptr(cmds[2])), 0u);
    h.out(QXL_IO_FLUSH_RELEASE);
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 1u);
    EXPECT_EQ(h.dev->num_free_res(), 0u);
    EXPECT_EQ(ld64(h.dev->ram() + h.hdr() + ram::release_ring + ring::items + 8), 0u);  // new head zeroed
}

TEST(QxlRelease, PushesAfterBunchOf32AndRaisesDisplayAtNotifyOnProd) {
    QxlHarness h;
    h.boot();
    h.set_int_mask(QXL_INTERRUPT_DISPLAY);
    for (int i = 0; i < 32; ++i) {
        h.push_cmd(h.phys(h.copy_drawable()));
        h.run_ns(2000);
    }
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 1u);  // notify_on_prod = 1 after reset
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_DISPLAY, QXL_INTERRUPT_DISPLAY);
}

TEST(QxlRelease, FullReleaseRingKeepsAccumulating) {
    QxlHarness h;
    h.boot();
    for (int i = 0; i < 7; ++i) h.out(QXL_IO_FLUSH_RELEASE);
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 7u);  // prod - cons + 1 == 8: full
    h.out(QXL_IO_FLUSH_RELEASE);
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 7u);
    h.push_cmd(h.phys(h.copy_drawable(77)));
    h.run_ns(2000);
    EXPECT_EQ(h.dev->num_free_res(), 1u);
    h.set_ram32(ram::release_ring + ring::cons, 7);  // guest drains
    h.out(QXL_IO_FLUSH_RELEASE);
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 8u);
    EXPECT_EQ(ld64(h.dev->ram() + h.hdr() + ram::release_ring + ring::items + 7 * 8), 77u);
}

TEST(QxlRelease, DeferredPolicyWaitsForConsumerToDropTheRef) {
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Deferred);
    h.boot();
    h.push_cmd(h.phys(h.copy_drawable(42)));
    h.run_ns(5000);
    ASSERT_EQ(h.draw_count(), 1u);
    ASSERT_TRUE(h.consumer.commands.back().release);
    EXPECT_EQ(h.consumer.commands.back().release->id(), 42u);
    EXPECT_EQ(h.dev->num_free_res(), 0u);
    h.consumer.release_all();
    EXPECT_EQ(h.dev->num_free_res(), 0u);  // queued, not yet at a scheduled point
    h.run_ns(200000);
    EXPECT_EQ(h.dev->num_free_res(), 1u);
    EXPECT_EQ(ld64(h.dev->ram() + h.hdr() + ram::release_ring + ring::items), 42u);
}

TEST(QxlRelease, ReleasesFromAnotherThreadArePickedUp) {
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Deferred);
    h.boot();
    for (int i = 0; i < 4; ++i) {
        h.push_cmd(h.phys(h.copy_drawable()));
        h.run_ns(2000);
    }
    std::vector<proto::DisplayCommand> taken = std::move(h.consumer.commands);
    h.consumer.commands.clear();
    std::thread t([&] { taken.clear(); });
    t.join();
    h.run_ns(200000);
    EXPECT_EQ(h.dev->num_free_res(), 4u);
}

TEST(QxlRelease, ReleasesFromBeforeResetAreDropped) {
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Deferred);
    h.boot();
    h.push_cmd(h.phys(h.copy_drawable()));
    h.run_ns(5000);
    auto held = h.consumer.commands.back().release;  // outlives the reset
    h.out(QXL_IO_RESET);
    held.reset();
    h.run_ns(200000);
    EXPECT_EQ(h.dev->num_free_res(), 0u);
    EXPECT_EQ(ld64(h.dev->ram() + h.hdr() + ram::release_ring + ring::items), 0u);
}

TEST(QxlTiming, SameInputsGiveTheSameTimeline) {
    auto run = [] {
        QxlHarness h;
        std::vector<std::string> lines;
        h.dev->set_trace([&](const std::string& l) { lines.push_back(std::to_string(h.sched.now()) + " " + l); });
        h.boot();
        for (int i = 0; i < 10; ++i) h.push_cmd(h.phys(h.copy_drawable()));
        h.out(QXL_IO_FLUSH_SURFACES_ASYNC);
        h.run_ns(100000);
        return lines;
    };
    const auto a = run();
    const auto b = run();
    EXPECT_GT(a.size(), 20u);
    EXPECT_EQ(a, b);
}

TEST(QxlTrace, OneLinePerPortAccessAndCommand) {
    QxlHarness h;
    std::vector<std::string> lines;
    h.dev->set_trace([&](const std::string& l) { lines.push_back(l); });
    h.boot();
    h.push_cmd(h.phys(h.copy_drawable(5)));
    h.run_ns(5000);
    bool saw_port = false, saw_cmd = false;
    for (const auto& l : lines) {
        if (l.find("io CREATE_PRIMARY (12) val=0") != std::string::npos) saw_port = true;
        if (l.find("draw copy surface=0 bbox=(0,0)-(16,8)") != std::string::npos &&
            l.find("release=5") != std::string::npos) {
            saw_cmd = true;
        }
        EXPECT_EQ(l.find('\n'), std::string::npos);
    }
    EXPECT_TRUE(saw_port);
    EXPECT_TRUE(saw_cmd);
}
