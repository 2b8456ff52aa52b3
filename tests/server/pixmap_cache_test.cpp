#include <gtest/gtest.h>

#include "server/display_marshal.h"
#include "server/pixmap_cache.h"

namespace qxlbox::server {
namespace {

TEST(PixmapCache, EvictsLeastRecentlyUsedWhenFull) {
    PixmapCache cache(300);
    std::vector<std::uint64_t> evicted;
    ASSERT_TRUE(cache.insert(1, 100, evicted));
    ASSERT_TRUE(cache.insert(2, 100, evicted));
    ASSERT_TRUE(cache.insert(3, 100, evicted));
    cache.unpin_all();
    EXPECT_TRUE(cache.lookup(1));  // 1 becomes most recent; 2 is now the oldest
    cache.unpin_all();
    ASSERT_TRUE(cache.insert(4, 100, evicted));
    ASSERT_EQ(evicted, std::vector<std::uint64_t>{2});
    EXPECT_FALSE(cache.lookup(2));
    EXPECT_TRUE(cache.lookup(1));
    EXPECT_EQ(cache.used_pixels(), 300);
}

TEST(PixmapCache, RefusesImageLargerThanTheClientCache) {
    PixmapCache cache(100);
    std::vector<std::uint64_t> evicted;
    EXPECT_FALSE(cache.insert(1, 101, evicted));
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_TRUE(evicted.empty());
}

TEST(PixmapCache, NeverEvictsAnEntryTheCurrentMessageUses) {
    PixmapCache cache(200);
    std::vector<std::uint64_t> evicted;
    ASSERT_TRUE(cache.insert(1, 100, evicted));
    ASSERT_TRUE(cache.insert(2, 100, evicted));
    cache.unpin_all();
    ASSERT_TRUE(cache.lookup(1));
    ASSERT_TRUE(cache.lookup(2));  // both pinned by the message being built
    EXPECT_FALSE(cache.insert(3, 100, evicted));
    EXPECT_TRUE(evicted.empty());
    EXPECT_TRUE(cache.lookup(1));
}

TEST(PixmapCache, ZeroSizedClientCacheCachesNothing) {
    PixmapCache cache(0);
    std::vector<std::uint64_t> evicted;
    EXPECT_FALSE(cache.insert(1, 1, evicted));
}

TEST(PixmapCache, InvalListMessageCarriesEvictedIds) {
    auto msg = marshal_inval_list({5, 0x100000002ull});
    EXPECT_EQ(msg.type, 105);
    ASSERT_EQ(msg.body.size(), 2u + 2 * 9);
    EXPECT_EQ(msg.body[0], 2);
    EXPECT_EQ(msg.body[2], 1);  // resource type PIXMAP
    EXPECT_EQ(msg.body[3], 5);
    EXPECT_EQ(msg.body[2 + 9 + 1 + 4], 1);  // high word of the second id
}

}  // namespace
}  // namespace qxlbox::server
