#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

// Model: every pixel of bbox ∩ clip whose source lies on the surface takes the old value of
// its source pixel; everything else keeps its old value.
void check_copy_bits(SurfaceFormat f, Rect bbox, Point src, const std::vector<Rect>& clip) {
    const int w = 23, h = 17;
    auto s = make_surface(f, w, h);
    auto old = make_surface(f, w, h);
    fill_gradient(*s, 0x55);
    fill_gradient(*old, 0x55);
    CopyBits cb;
    cb.src_pos = src;
    auto cmd = command(bbox, cb);
    if (!clip.empty()) {
        cmd.clip.type = ClipType::Rects;
        cmd.clip.rects = clip;
    }
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    const int dx = bbox.left - src.x, dy = bbox.top - src.y;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            bool in = x >= bbox.left && x < bbox.right && y >= bbox.top && y < bbox.bottom;
            if (!clip.empty()) {
                bool any = false;
                for (const Rect& r : clip) any |= x >= r.left && x < r.right && y >= r.top && y < r.bottom;
                in &= any;
            }
            const int sx = x - dx, sy = y - dy;
            in &= sx >= 0 && sy >= 0 && sx < w && sy < h;
            const std::uint32_t want = in ? pixel(*old, sx, sy) : pixel(*old, x, y);
            ASSERT_EQ(pixel(*s, x, y), want) << "at " << x << "," << y << " dx " << dx << " dy " << dy;
        }
    }
}

TEST(CanvasCopyBits, OverlappingMovesInEveryDirection) {
    for (int dx : {-3, -1, 0, 1, 4}) {
        for (int dy : {-2, -1, 0, 1, 3}) {
            check_copy_bits(SurfaceFormat::XRGB32, rect(5, 4, 15, 12), {5 - dx, 4 - dy}, {});
        }
    }
}

TEST(CanvasCopyBits, MultiRectangleClipsMoveCorrectlyInEveryDirection) {
    const std::vector<Rect> clip = {rect(2, 2, 6, 5), rect(8, 2, 12, 5), rect(3, 6, 14, 9), rect(4, 10, 7, 14),
                                    rect(9, 10, 20, 14)};
    for (int dx : {-2, 0, 3}) {
        for (int dy : {-2, 0, 3}) {
            check_copy_bits(SurfaceFormat::XRGB32, rect(0, 0, 23, 17), {-dx, -dy}, clip);
        }
    }
}

TEST(CanvasCopyBits, SourceOutsideTheSurfaceIsClipped) {
    check_copy_bits(SurfaceFormat::XRGB32, rect(0, 0, 10, 10), {-5, -3}, {});
    check_copy_bits(SurfaceFormat::XRGB32, rect(15, 10, 23, 17), {20, 14}, {});
    check_copy_bits(SurfaceFormat::XRGB32, rect(-4, -4, 30, 30), {0, 0}, {});
}

TEST(CanvasCopyBits, OtherDepths) {
    for (SurfaceFormat f : {SurfaceFormat::RGB565, SurfaceFormat::A8, SurfaceFormat::A1}) {
        check_copy_bits(f, rect(3, 3, 20, 14), {1, 4}, {});
        check_copy_bits(f, rect(3, 3, 20, 14), {5, 2}, {});
    }
}

TEST(CanvasCopyBits, RejectsAbsurdSourcePositions) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    CopyBits cb;
    cb.src_pos = {INT32_MIN, 0};
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), cb), nullptr).ok);
}

}  // namespace
}  // namespace qxlbox::proto::test
