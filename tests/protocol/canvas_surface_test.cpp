#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

TEST(CanvasSurface, CreatesEveryFormatWithRowsAlignedToFourBytes) {
    struct Case {
        SurfaceFormat format;
        std::uint32_t stride_for_width_13;
    };
    for (const Case& c : {Case{SurfaceFormat::A1, 4}, Case{SurfaceFormat::A8, 16}, Case{SurfaceFormat::RGB555, 28},
                          Case{SurfaceFormat::RGB565, 28}, Case{SurfaceFormat::XRGB32, 52},
                          Case{SurfaceFormat::ARGB32, 52}}) {
        auto s = Surface::create(c.format, 13, 5);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(s->format(), c.format);
        EXPECT_EQ(s->width(), 13u);
        EXPECT_EQ(s->height(), 5u);
        EXPECT_EQ(s->stride(), c.stride_for_width_13);
        EXPECT_NE(s->pixman(), nullptr);
        for (std::uint32_t i = 0; i < s->stride() * 5; ++i) ASSERT_EQ(s->data()[i], 0) << "surface starts cleared";
    }
}

TEST(CanvasSurface, RejectsZeroDimensions) {
    EXPECT_EQ(Surface::create(SurfaceFormat::XRGB32, 0, 10), nullptr);
    EXPECT_EQ(Surface::create(SurfaceFormat::XRGB32, 10, 0), nullptr);
}

TEST(CanvasSurface, RejectsSidesBeyondTheLimit) {
    EXPECT_EQ(Surface::create(SurfaceFormat::XRGB32, kMaxSurfaceSide + 1, 1), nullptr);
    EXPECT_EQ(Surface::create(SurfaceFormat::A8, 1, kMaxSurfaceSide + 1), nullptr);
    EXPECT_EQ(Surface::create(SurfaceFormat::A8, 0xffffffffu, 0xffffffffu), nullptr);
    EXPECT_NE(Surface::create(SurfaceFormat::A8, kMaxSurfaceSide, 1), nullptr);
}

TEST(CanvasSurface, RejectsInvalidFormats) {
    EXPECT_EQ(Surface::create(SurfaceFormat::Invalid, 4, 4), nullptr);
    EXPECT_EQ(Surface::create(static_cast<SurfaceFormat>(24), 4, 4), nullptr);
    EXPECT_EQ(Surface::create(static_cast<SurfaceFormat>(7), 4, 4), nullptr);
}

TEST(CanvasSurface, RejectsAbsurdBoundingBoxes) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    Whiteness w;
    auto r = draw(*s, command(rect(INT32_MIN, 0, INT32_MAX, 4), w), nullptr);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

TEST(CanvasSurface, RejectsAbsurdClipRectangles) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    auto cmd = command(rect(0, 0, 4, 4), Whiteness{});
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(0, 0, INT32_MAX, 2)};
    EXPECT_FALSE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

TEST(CanvasSurface, DrawsOnOneBitSurfaces) {
    auto s = make_surface(SurfaceFormat::A1, 20, 3);
    ASSERT_TRUE(draw(*s, command(rect(3, 1, 17, 2), Whiteness{}), nullptr).ok);
    for (int x = 0; x < 20; ++x) {
        EXPECT_EQ(pixel(*s, x, 1), (x >= 3 && x < 17) ? 1u : 0u) << x;
        EXPECT_EQ(pixel(*s, x, 0), 0u);
    }
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 20, 3), Invers{}), nullptr).ok);
    EXPECT_EQ(pixel(*s, 5, 1), 0u);
    EXPECT_EQ(pixel(*s, 1, 1), 1u);
    EXPECT_EQ(pixel(*s, 5, 0), 1u);
}

TEST(CanvasSurface, PixelReadsRawValuesAndZeroOutside) {
    auto s = make_surface(SurfaceFormat::RGB565, 3, 2);
    set_pixel(*s, 2, 1, 0xf81f);
    EXPECT_EQ(s->pixel(2, 1), 0xf81fu);
    EXPECT_EQ(s->pixel(1, 1), 0u);
    EXPECT_EQ(s->pixel(3, 1), 0u);
    EXPECT_EQ(s->pixel(-1, 0), 0u);
    EXPECT_EQ(s->pixel(0, 2), 0u);
    auto a1 = make_surface(SurfaceFormat::A1, 9, 1);
    set_pixel(*a1, 8, 0, 1);
    EXPECT_EQ(a1->pixel(8, 0), 1u);
    EXPECT_EQ(a1->pixel(7, 0), 0u);
}

TEST(CanvasSurface, DrawAllRendersEveryCommandAndReportsTheFirstFailure) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    Fill red;
    red.brush = solid(0xff0000);
    Copy broken;  // no source image
    broken.src_area = rect(0, 0, 1, 1);
    std::vector<DrawCommand> cmds = {command(rect(0, 0, 2, 1), red), command(rect(0, 0, 1, 1), broken),
                                     command(rect(3, 0, 4, 1), Whiteness{})};
    const DrawResult r = draw_all(*s, cmds, nullptr);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.rfind("command 1: ", 0), 0u) << r.error;
    EXPECT_EQ(s->pixel(1, 0), 0xff0000u);
    EXPECT_EQ(s->pixel(3, 0), 0xffffffffu) << "later commands still run";
    EXPECT_TRUE(draw_all(*s, std::span<const DrawCommand>(cmds.data(), 1), nullptr).ok);
}

}  // namespace
}  // namespace qxlbox::proto::test
