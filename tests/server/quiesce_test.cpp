// The server side of the virtual-clock handshake: SpiceServer::quiesce() returns once the
// worker has processed everything pushed, and only the worker's processing (never a client's
// progress) decides when a command is released.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "server/dispatcher.h"
#include "tests/server/server_test_support.h"
#include "protocol/wire/link.h"

namespace qxlbox::server {
namespace {

using test::FakeDevice;
using test::rect_ltrb;
using test::solid_fill;

std::vector<std::uint64_t> sorted(std::vector<std::uint64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Ids 1..last-1: every full-surface fill hides (and so releases) the one before it; the
// last stays in the display tree until something renders it.
std::vector<std::uint64_t> all_but_last(std::uint64_t last) {
    std::vector<std::uint64_t> ids;
    for (std::uint64_t i = 1; i < last; ++i) ids.push_back(i);
    return ids;
}

bool push_hiding_fills(FakeDevice& dev, SpiceServer& server, std::uint64_t first, std::uint64_t last) {
    for (std::uint64_t i = first; i <= last; ++i) {
        auto cmd = test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 16, 16), static_cast<std::uint32_t>(i)),
                                  dev.release_ref(i));
        cmd.sequence = 100 + i;  // after the surface's creation, in ring order
        if (!server.push_command(cmd)) return false;
    }
    return true;
}

// A display client that links and completes DISPLAY_INIT, then never reads nor acks.
struct StalledDisplayClient {
    test::RawClient main;
    test::RawClient display;
    bool open(SpiceServer& server) {
        const auto sid = test::open_session(main, server.port());
        if (sid == 0 || !display.connect(server.port())) return false;
        if (display.link(proto::wire::ChannelType::Display, sid, "") != 0u) return false;
        if (!display.send_msg(101, std::vector<std::uint8_t>(14, 0))) return false;  // DISPLAY_INIT
        for (int i = 0; i < 500 && !server.stats().display_client; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return server.stats().display_client;
    }
};

TEST(ServerQuiesce, ReturnsOnlyOnceTheWorkerHasReleasedWhatItsProcessingReleases) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 16, 16, true);
    // Many rounds, so a quiesce() that returned early would be caught mid-way at least once.
    std::uint64_t next = 1;
    for (int round = 0; round < 40; ++round) {
        ASSERT_TRUE(push_hiding_fills(dev, *s.server, next, next + 9));
        next += 10;
        s.server->quiesce();
        EXPECT_EQ(sorted(dev.released()), all_but_last(next - 1)) << "round " << round;
    }
}

TEST(ServerQuiesce, IsImmediateWhenNothingIsInFlight) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) s.server->quiesce();
    // One lock each; a round trip through the worker's 100 ms idle wait would take far longer.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(ServerQuiesce, AClientThatDoesNotReadKeepsNoCommandAlive) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 16, 16, true);
    StalledDisplayClient client;
    ASSERT_TRUE(client.open(*s.server));
    ASSERT_TRUE(push_hiding_fills(dev, *s.server, 1, 30));
    s.server->quiesce();
    // The hidden fills are released; the last is held by the display tree alone.
    EXPECT_EQ(sorted(dev.released()), all_but_last(30));
    EXPECT_GE(s.server->stats().draws_sent, 30u);
    // Rendered into guest memory, it is released too, although the client has read nothing:
    // its message was marshalled when the worker took the command.
    s.server->flush_surfaces();
    EXPECT_EQ(sorted(dev.released()), all_but_last(31));
    // Same for drawables that nothing hides.
    for (std::uint64_t i = 40; i < 50; ++i) {
        auto cmd = test::draw_cmd(solid_fill(0, rect_ltrb(static_cast<std::int32_t>(i - 40), 0,
                                                          static_cast<std::int32_t>(i - 39), 1), 7),
                                  dev.release_ref(i));
        cmd.sequence = 100 + i;
        ASSERT_TRUE(s.server->push_command(cmd));
    }
    s.server->quiesce();
    EXPECT_EQ(dev.released().size(), 30u);
    s.server->flush_surfaces();
    EXPECT_EQ(dev.released().size(), 40u);
}

TEST(ServerQuiesce, AFullPipeRefusesPushesButQueuedCommandsAreStillProcessed) {
    ServerConfig cfg;
    cfg.pipe_limit = 2;
    cfg.channel_out_limit = 1;
    FakeDevice dev;
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 16, 16, true);
    StalledDisplayClient client;
    ASSERT_TRUE(client.open(*s.server));
    std::uint64_t id = 0;
    proto::DisplayCommand refused_cmd;
    for (int i = 0; i < 5000 && !refused_cmd.release; ++i) {
        auto cmd = test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 16, 16), 1), dev.release_ref(++id));
        cmd.sequence = 100 + id;
        if (!s.server->push_command(cmd)) refused_cmd = std::move(cmd);  // kept, as the device keeps it
        if (i % 20 == 0) s.server->quiesce();
    }
    ASSERT_TRUE(refused_cmd.release);
    ASSERT_EQ(refused_cmd.release->id(), id);
    // quiesce() does not wait for the client: it must come back although the pipe stays full.
    auto settled = std::async(std::launch::async, [&] { s.server->quiesce(); });
    ASSERT_EQ(settled.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    // Everything accepted was processed: all but the last accepted fill are released.
    EXPECT_EQ(sorted(dev.released()), all_but_last(id - 1));
    EXPECT_GE(s.server->stats().pushes_refused, 1u);
    EXPECT_EQ(dev.wakeups(), 0);
}

TEST(DispatcherIdle, WaitIdleReturnsOnlyAfterEveryEarlierItemIsFinished) {
    Dispatcher<int> d(4);
    int item = 1;
    ASSERT_TRUE(d.post_bounded(item));
    d.post_control(2);
    std::atomic<bool> returned{false};
    std::thread waiter([&] {
        d.wait_idle();
        returned = true;
    });
    ASSERT_TRUE(d.pop(std::chrono::milliseconds(0), true));
    d.finish_one();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(returned.load());  // the control item is still unfinished
    ASSERT_TRUE(d.pop(std::chrono::milliseconds(0), true));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(returned.load());  // popped is not finished
    d.finish_one();
    waiter.join();
    EXPECT_TRUE(returned.load());
}

TEST(DispatcherIdle, StopReleasesAWaiter) {
    Dispatcher<int> d(4);
    d.post_control(1);
    std::thread waiter([&] { d.wait_idle(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    d.stop();
    waiter.join();
    EXPECT_TRUE(d.pop(std::chrono::milliseconds(0), true));
}

TEST(DispatcherHeld, HeldQueueRefusesAndReportsAWakeupOnceLetGo) {
    Dispatcher<int> d(4);
    d.set_held(true);
    int item = 1;
    EXPECT_FALSE(d.post_bounded(item));
    EXPECT_FALSE(d.take_wakeup());  // still held
    d.post_control(2);              // control items are never refused
    d.set_held(false);
    EXPECT_TRUE(d.take_wakeup());
    EXPECT_FALSE(d.take_wakeup());
    EXPECT_TRUE(d.post_bounded(item));
}

TEST(DispatcherHeld, APostWaitsTheGraceAndGoesThroughIfLetGoInTime) {
    Dispatcher<int> d(4);
    d.set_hold_grace(std::chrono::milliseconds(5000));
    d.set_held(true);
    std::thread worker([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        d.set_held(false);
    });
    int item = 1;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(d.post_bounded(item));
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
    worker.join();
    EXPECT_FALSE(d.take_wakeup());  // nothing was refused
}

TEST(DispatcherHeld, AfterOneRefusalAHeldQueueRefusesAtOnce) {
    Dispatcher<int> d(4);
    d.set_hold_grace(std::chrono::milliseconds(100));
    d.set_held(true);
    int item = 1;
    auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(d.post_bounded(item));
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
    start = std::chrono::steady_clock::now();
    EXPECT_FALSE(d.post_bounded(item));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
    // Let go and reported: the next episode gets its grace again.
    d.set_held(false);
    EXPECT_TRUE(d.take_wakeup());
    EXPECT_TRUE(d.post_bounded(item));
}

}  // namespace
}  // namespace qxlbox::server
