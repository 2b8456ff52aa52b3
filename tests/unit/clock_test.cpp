#include "machine/clock.h"

#include <gtest/gtest.h>

#include <vector>

using qxlbox::machine::Scheduler;

TEST(Scheduler, RunsEventsInCycleOrder) {
    Scheduler s;
    std::vector<int> order;
    s.schedule_at(30, [&] { order.push_back(3); });
    s.schedule_at(10, [&] { order.push_back(1); });
    s.schedule_at(20, [&] { order.push_back(2); });
    s.advance_to(25);
    EXPECT_EQ(s.run_due(), 2u);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_EQ(s.next_deadline(), 30u);
}

TEST(Scheduler, TiesRunInSchedulingOrder) {
    Scheduler s;
    std::vector<int> order;
    for (int i = 0; i < 5; ++i) s.schedule_at(100, [&, i] { order.push_back(i); });
    s.advance_to(100);
    s.run_due();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Scheduler, CancelledEventDoesNotRun) {
    Scheduler s;
    bool ran = false;
    auto id = s.schedule_at(5, [&] { ran = true; });
    EXPECT_TRUE(s.cancel(id));
    EXPECT_FALSE(s.cancel(id));
    s.advance_to(10);
    s.run_due();
    EXPECT_FALSE(ran);
    EXPECT_EQ(s.next_deadline(), Scheduler::kNever);
}

TEST(Scheduler, EventScheduledForNowByCallbackRunsInSamePass) {
    Scheduler s;
    int count = 0;
    s.schedule_at(1, [&] {
        ++count;
        s.schedule_in(0, [&] { ++count; });
    });
    s.advance_to(1);
    EXPECT_EQ(s.run_due(), 2u);
    EXPECT_EQ(count, 2);
}

TEST(Scheduler, ClockNeverMovesBackward) {
    Scheduler s;
    s.advance_to(50);
    s.advance_to(10);
    EXPECT_EQ(s.now(), 50u);
}

TEST(Scheduler, NanosecondConversionRoundsUp) {
    Scheduler s(100'000'000);
    EXPECT_EQ(s.ns_to_cycles(10), 1u);
    EXPECT_EQ(s.ns_to_cycles(11), 2u);
    EXPECT_EQ(s.ns_to_cycles(0), 0u);
    EXPECT_EQ(s.cycles_to_ns(100), 1000u);
}
