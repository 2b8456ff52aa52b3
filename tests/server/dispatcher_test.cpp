#include <gtest/gtest.h>

#include "server/dispatcher.h"

namespace qxlbox::server {
namespace {

TEST(Dispatcher, RefusesBoundedItemsBeyondTheLimit) {
    Dispatcher<int> d(2);
    int a = 1, b = 2, c = 3;
    EXPECT_TRUE(d.post_bounded(a));
    EXPECT_TRUE(d.post_bounded(b));
    EXPECT_FALSE(d.post_bounded(c));
    EXPECT_EQ(c, 3);  // a refused item is left with the caller
    EXPECT_EQ(d.bounded_size(), 2u);
}

TEST(Dispatcher, ControlItemsAreNeverRefused) {
    Dispatcher<int> d(1);
    int a = 1;
    ASSERT_TRUE(d.post_bounded(a));
    for (int i = 0; i < 10; ++i) d.post_control(100 + i);
    auto first = d.pop(std::chrono::milliseconds(0), true);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, 1);
}

TEST(Dispatcher, ReportsWakeupOnceRoomReturnsAfterARefusal) {
    Dispatcher<int> d(1);
    int a = 1, b = 2;
    ASSERT_TRUE(d.post_bounded(a));
    EXPECT_FALSE(d.take_wakeup());  // nothing refused yet
    ASSERT_FALSE(d.post_bounded(b));
    EXPECT_FALSE(d.take_wakeup());  // still full
    ASSERT_TRUE(d.pop(std::chrono::milliseconds(0), true));
    EXPECT_TRUE(d.take_wakeup());
    EXPECT_FALSE(d.take_wakeup());
}

TEST(Dispatcher, HoldingBackBoundedItemsStillDeliversControlItems) {
    Dispatcher<int> d(4);
    d.post_control(7);
    auto got = d.pop(std::chrono::milliseconds(0), false);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, 7);
    int a = 1;
    ASSERT_TRUE(d.post_bounded(a));
    EXPECT_FALSE(d.pop(std::chrono::milliseconds(0), false));
    EXPECT_TRUE(d.pop(std::chrono::milliseconds(0), true));
}

}  // namespace
}  // namespace qxlbox::server
