#include <gtest/gtest.h>

#include "server/display_tree.h"
#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

using test::rect_ltrb;
using test::solid_fill;

DrawablePtr drawable(std::uint64_t seq, proto::DrawCommand cmd) {
    auto d = std::make_shared<Drawable>();
    d->sequence = seq;
    d->cmd = std::move(cmd);
    return d;
}

TEST(DisplayTree, DropsDrawableFullyCoveredByLaterOpaqueFill) {
    DisplayTree tree;
    auto a = drawable(1, solid_fill(0, rect_ltrb(10, 10, 20, 20), 0xff0000));
    tree.add(a);
    EXPECT_EQ(tree.add(drawable(2, solid_fill(0, rect_ltrb(0, 0, 50, 50), 0x00ff00))), 1u);
    EXPECT_TRUE(a->dropped);
    ASSERT_EQ(tree.pending(0).size(), 1u);
    EXPECT_EQ(tree.pending(0).front()->sequence, 2u);
}

TEST(DisplayTree, KeepsPartiallyCoveredDrawable) {
    DisplayTree tree;
    auto a = drawable(1, solid_fill(0, rect_ltrb(10, 10, 60, 20), 0xff0000));
    tree.add(a);
    EXPECT_EQ(tree.add(drawable(2, solid_fill(0, rect_ltrb(0, 0, 50, 50), 0x00ff00))), 0u);
    EXPECT_FALSE(a->dropped);
    EXPECT_EQ(tree.pending(0).size(), 2u);
}

TEST(DisplayTree, NonOpaqueDrawableHidesNothing) {
    DisplayTree tree;
    tree.add(drawable(1, solid_fill(0, rect_ltrb(10, 10, 20, 20), 0xff0000)));
    auto xor_fill = solid_fill(0, rect_ltrb(0, 0, 50, 50), 0x00ff00);
    std::get<proto::Fill>(xor_fill.op).rop_descriptor = proto::rop::kOpXor;
    EXPECT_EQ(tree.add(drawable(2, xor_fill)), 0u);
    EXPECT_EQ(tree.pending(0).size(), 2u);
}

TEST(DisplayTree, OtherSurfacesAreUntouched) {
    DisplayTree tree;
    tree.add(drawable(1, solid_fill(1, rect_ltrb(10, 10, 20, 20), 0xff0000)));
    EXPECT_EQ(tree.add(drawable(2, solid_fill(0, rect_ltrb(0, 0, 50, 50), 0x00ff00))), 0u);
    EXPECT_EQ(tree.pending(1).size(), 1u);
}

TEST(DisplayTree, ClipLimitsWhatAnOpaqueDrawableCovers) {
    DisplayTree tree;
    auto a = drawable(1, solid_fill(0, rect_ltrb(10, 10, 20, 20), 0xff0000));
    tree.add(a);
    auto clipped = solid_fill(0, rect_ltrb(0, 0, 50, 50), 0x00ff00);
    clipped.clip.type = proto::ClipType::Rects;
    clipped.clip.rects.push_back(rect_ltrb(30, 30, 50, 50));
    EXPECT_EQ(tree.add(drawable(2, clipped)), 0u);
    EXPECT_FALSE(a->dropped);
}

TEST(DisplayTree, SurfaceReadByAnotherDrawableIsNotDropped) {
    DisplayTree tree;
    auto a = drawable(1, solid_fill(1, rect_ltrb(0, 0, 10, 10), 0xff0000));
    tree.add(a);
    // Surface 0 copies from surface 1: surface 1's content up to now is observable.
    auto src = std::make_shared<proto::Image>();
    src->type = proto::ImageType::Surface;
    src->width = 10;
    src->height = 10;
    src->content = proto::SurfaceRef{1};
    tree.add(drawable(2, test::image_copy(0, rect_ltrb(0, 0, 10, 10), src)));
    EXPECT_EQ(tree.add(drawable(3, solid_fill(1, rect_ltrb(0, 0, 10, 10), 0x0000ff))), 0u);
    EXPECT_FALSE(a->dropped);
}

TEST(DisplayTree, CopyBitsNeverHidesItsSource) {
    DisplayTree tree;
    auto a = drawable(1, solid_fill(0, rect_ltrb(0, 0, 10, 10), 0xff0000));
    tree.add(a);
    proto::DrawCommand cb;
    cb.surface_id = 0;
    cb.bbox = rect_ltrb(0, 0, 20, 20);
    cb.op = proto::CopyBits{proto::Point{5, 5}};
    EXPECT_EQ(tree.add(drawable(2, cb)), 0u);
    EXPECT_FALSE(a->dropped);
}

TEST(DisplayTree, DroppingReleasesTheCommandAtOnce) {
    DisplayTree tree;
    std::vector<std::uint64_t> released;
    auto a = drawable(1, solid_fill(0, rect_ltrb(10, 10, 20, 20), 0xff0000));
    a->release = std::make_shared<proto::Release>(77, [&](std::uint64_t id) { released.push_back(id); });
    tree.add(a);
    EXPECT_TRUE(released.empty());
    tree.add(drawable(2, solid_fill(0, rect_ltrb(0, 0, 50, 50), 0x00ff00)));
    ASSERT_EQ(released.size(), 1u);
    EXPECT_EQ(released[0], 77u);
}

}  // namespace
}  // namespace qxlbox::server
