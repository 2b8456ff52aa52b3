#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

std::vector<std::uint32_t> numbered(std::uint32_t n, std::uint32_t base = 0x100) {
    std::vector<std::uint32_t> v(n);
    for (std::uint32_t i = 0; i < n; ++i) v[i] = base + i * 0x010203;
    return v;
}

Copy copy_of(ImagePtr img, Rect src_area, std::uint16_t rop_desc = rop::kOpPut, ScaleMode mode = ScaleMode::Nearest) {
    Copy c;
    c.src_bitmap = std::move(img);
    c.src_area = src_area;
    c.rop_descriptor = rop_desc;
    c.scale_mode = mode;
    return c;
}

TEST(CanvasCopy, UnscaledCopyTakesTheSourceArea) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 8);
    const auto px = numbered(16);
    ASSERT_TRUE(draw(*s, command(rect(3, 2, 5, 5), copy_of(bitmap32(4, 4, px), rect(1, 0, 3, 3))), nullptr).ok);
    for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 8; ++x) {
            const bool in = x >= 3 && x < 5 && y >= 2 && y < 5;
            const std::uint32_t want = in ? px[static_cast<std::size_t>((y - 2) * 4 + (x - 3 + 1))] : 0u;
            EXPECT_EQ(pixel(*s, x, y), want) << x << "," << y;
        }
    }
}

TEST(CanvasCopy, ReadsOutsideTheSourceImageLeaveTheDestination) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 6);
    fill_surface(*s, 0xeeeeee);
    const auto px = numbered(4);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 4), copy_of(bitmap32(2, 2, px), rect(-1, -1, 3, 3))), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0xeeeeeeu);
    EXPECT_EQ(pixel(*s, 1, 1), px[0]);
    EXPECT_EQ(pixel(*s, 2, 2), px[3]);
    EXPECT_EQ(pixel(*s, 3, 3), 0xeeeeeeu);
}

TEST(CanvasCopy, RopDescriptorCombinesSourceAndDestination) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    fill_surface(*s, 0x00ff00ff);
    ASSERT_TRUE(
        draw(*s, command(rect(0, 0, 2, 1), copy_of(bitmap32(2, 1, {0x0f0f0f0f, 0}), rect(0, 0, 2, 1), rop::kOpXor)),
             nullptr)
            .ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x0ff00ff0u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x00ff00ffu);
    ASSERT_TRUE(draw(*s,
                     command(rect(0, 0, 2, 1), copy_of(bitmap32(2, 1, {0x0f0f0f0f, 0}), rect(0, 0, 2, 1),
                                                       rop::kOpAnd | rop::kInversSrc)),
                     nullptr)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x00f000f0u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x00ff00ffu);
}

TEST(CanvasCopy, BlendDrawsLikeCopy) {
    auto a = make_surface(SurfaceFormat::XRGB32, 4, 4);
    auto b = make_surface(SurfaceFormat::XRGB32, 4, 4);
    fill_gradient(*a);
    fill_gradient(*b);
    Copy c = copy_of(bitmap32(2, 2, numbered(4)), rect(0, 0, 2, 2), rop::kOpOr);
    Blend bl;
    static_cast<CopyParams&>(bl) = c;
    ASSERT_TRUE(draw(*a, command(rect(1, 1, 3, 3), c), nullptr).ok);
    ASSERT_TRUE(draw(*b, command(rect(1, 1, 3, 3), bl), nullptr).ok);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) EXPECT_EQ(pixel(*a, x, y), pixel(*b, x, y));
}

TEST(CanvasCopy, NearestScalingRepeatsPixels) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 8);
    const auto px = numbered(4);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 4), copy_of(bitmap32(2, 2, px), rect(0, 0, 2, 2))), nullptr).ok);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x)
            EXPECT_EQ(pixel(*s, x, y) & 0xffffff, px[static_cast<std::size_t>((y / 2) * 2 + x / 2)] & 0xffffff);
    EXPECT_EQ(pixel(*s, 4, 0), 0u);
}

TEST(CanvasCopy, NearestScalingWithRopGoesThroughTheScaledSource) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 2);
    fill_surface(*s, 0xffffff);
    ASSERT_TRUE(draw(*s,
                     command(rect(0, 0, 4, 2), copy_of(bitmap32(2, 1, {0x0000ff, 0x00ff00}), rect(0, 0, 2, 1),
                                                       rop::kOpAnd)),
                     nullptr)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 1), 0x0000ffu);
    EXPECT_EQ(pixel(*s, 1, 0), 0x0000ffu);
    EXPECT_EQ(pixel(*s, 2, 0), 0x00ff00u);
    EXPECT_EQ(pixel(*s, 3, 1), 0x00ff00u);
}

TEST(CanvasCopy, InterpolatedScalingBlendsNeighbours) {
    auto near = make_surface(SurfaceFormat::XRGB32, 8, 1);
    auto interp = make_surface(SurfaceFormat::XRGB32, 8, 1);
    const auto src = bitmap32(2, 1, {0x000000, 0xffffff});
    ASSERT_TRUE(draw(*near, command(rect(0, 0, 8, 1), copy_of(src, rect(0, 0, 2, 1))), nullptr).ok);
    ASSERT_TRUE(draw(*interp, command(rect(0, 0, 8, 1),
                                      copy_of(src, rect(0, 0, 2, 1), rop::kOpPut, ScaleMode::Interpolate)),
                     nullptr)
                    .ok);
    bool intermediate = false;
    for (int x = 0; x < 8; ++x) {
        const std::uint32_t n = pixel(*near, x, 0) & 0xffffff;
        EXPECT_TRUE(n == 0 || n == 0xffffff);
        const std::uint32_t i = pixel(*interp, x, 0) & 0xffffff;
        if (i != 0 && i != 0xffffff) intermediate = true;
    }
    EXPECT_TRUE(intermediate);
}

TEST(CanvasCopy, ScalingIsClippedToTheRegion) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    auto cmd = command(rect(0, 0, 4, 4), copy_of(bitmap32(1, 1, {0x123456}), rect(0, 0, 1, 1)));
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(1, 1, 2, 3)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x)
            EXPECT_EQ(pixel(*s, x, y) & 0xffffff, (x == 1 && (y == 1 || y == 2)) ? 0x123456u : 0u) << x << "," << y;
}

TEST(CanvasCopy, RejectsEmptySourceAreaForANonEmptyBox) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), copy_of(bitmap32(1, 1, {1}), rect(0, 0, 0, 1))), nullptr).ok);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), copy_of(bitmap32(1, 1, {1}), rect(0, 0, 1, -3))), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

TEST(CanvasCopy, RejectsAbsurdScaleFactors) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    EXPECT_FALSE(
        draw(*s, command(rect(0, 0, 1, 1), copy_of(bitmap32(1, 1, {1}), rect(0, 0, 1 << 26, 1))), nullptr).ok);
}

TEST(CanvasCopy, SurfaceSourcesComeThroughTheResolver) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    auto other = make_surface(SurfaceFormat::XRGB32, 4, 4);
    fill_gradient(*other);
    MapResolver res;
    res.surfaces[7] = other.get();
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 2), copy_of(surface_image(7), rect(2, 2, 4, 4))), &res).ok);
    EXPECT_EQ(pixel(*s, 0, 0), pixel(*other, 2, 2));
    EXPECT_EQ(pixel(*s, 1, 1), pixel(*other, 3, 3));
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 2), copy_of(surface_image(8), rect(0, 0, 2, 2))), &res).ok);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 2), copy_of(surface_image(7), rect(0, 0, 2, 2))), nullptr).ok);
}

TEST(CanvasCopy, SurfaceSourceOfAnotherDepthIsConverted) {
    auto s = make_surface(SurfaceFormat::RGB565, 2, 1);
    auto other = make_surface(SurfaceFormat::XRGB32, 2, 1);
    set_pixel(*other, 0, 0, 0xff0000);
    set_pixel(*other, 1, 0, 0x00ff00);
    MapResolver res;
    res.surfaces[1] = other.get();
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), copy_of(surface_image(1), rect(0, 0, 2, 1))), &res).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0xf800u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x07e0u);
}

TEST(CanvasCopy, CopyFromItselfReadsTheOldPixels) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 1);
    for (int x = 0; x < 6; ++x) set_pixel(*s, x, 0, static_cast<std::uint32_t>(x + 1));
    MapResolver res;
    res.surfaces[0] = s.get();
    ASSERT_TRUE(draw(*s, command(rect(1, 0, 6, 1), copy_of(surface_image(0), rect(0, 0, 5, 1))), &res).ok);
    for (int x = 1; x < 6; ++x) EXPECT_EQ(pixel(*s, x, 0), static_cast<std::uint32_t>(x));
}

TEST(CanvasCopy, UndecodedOrMissingSourcesAreRejected) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    auto img = std::make_shared<Image>();
    img->type = ImageType::LzRgb;
    img->content = EncodedImage{};
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 2), copy_of(img, rect(0, 0, 2, 2))), nullptr).ok);
    auto cached = std::make_shared<Image>();
    cached->type = ImageType::FromCache;
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 2), copy_of(cached, rect(0, 0, 2, 2))), nullptr).ok);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 2), copy_of(nullptr, rect(0, 0, 2, 2))), nullptr).ok);
}

TEST(CanvasCopy, ThirtyTwoBitSourceOnSixteenBitSurfaceTruncatesChannels) {
    auto s = make_surface(SurfaceFormat::RGB555, 2, 1);
    ASSERT_TRUE(
        draw(*s, command(rect(0, 0, 2, 1), copy_of(bitmap32(2, 1, {0xff8040, 0x0708ff}), rect(0, 0, 2, 1))), nullptr)
            .ok);
    EXPECT_EQ(pixel(*s, 0, 0), (0x1fu << 10) | (0x10u << 5) | 0x08u);
    EXPECT_EQ(pixel(*s, 1, 0), (0x00u << 10) | (0x01u << 5) | 0x1fu);
}

TEST(CanvasCopy, ArgbTargetKeepsTheSourceBitsRaw) {
    auto s = make_surface(SurfaceFormat::ARGB32, 2, 1);
    ASSERT_TRUE(
        draw(*s, command(rect(0, 0, 2, 1), copy_of(bitmap32(2, 1, {0x12345678, 0x80ffffff}), rect(0, 0, 2, 1))),
             nullptr)
            .ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x12345678u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x80ffffffu);
}

TEST(CanvasOpaque, BrushIsCombinedWithTheDrawnSource) {
    auto s = make_surface(SurfaceFormat::XRGB32, 3, 1);
    fill_surface(*s, 0xabcdef);
    Opaque o;
    o.src_bitmap = bitmap32(2, 1, {0x00ff00ff, 0x0000ffff});
    o.src_area = rect(0, 0, 2, 1);
    o.brush = solid(0x00f0f000);
    o.rop_descriptor = rop::kOpAnd;
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), o), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x00f00000u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x0000f000u);
    EXPECT_EQ(pixel(*s, 2, 0), 0xabcdefu);
    // INVERS_SRC inverts the drawn source (the ROP's destination), INVERS_BRUSH the brush.
    o.rop_descriptor = rop::kOpOr | rop::kInversSrc;
    o.src_area = rect(0, 0, 1, 1);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 1), o), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x00f0f000u | ~0x00ff00ffu);
    o.rop_descriptor = rop::kOpPut | rop::kInversBrush;
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 1), o), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), ~0x00f0f000u);
}

TEST(CanvasOpaque, MaskLimitsSourceAndBrush) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    Opaque o;
    o.src_bitmap = bitmap32(2, 1, {0x10, 0x20});
    o.src_area = rect(0, 0, 2, 1);
    o.brush = solid(0x01);
    o.rop_descriptor = rop::kOpOr;
    o.mask.bitmap = bitmap_image(BitmapFormat::Bit1BE, 2, 1, {{0x40}});
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), o), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x21u);
}

TEST(CanvasTransparent, SkipsPixelsOfTheKeyColour) {
    auto s = make_surface(SurfaceFormat::XRGB32, 3, 1);
    fill_surface(*s, 0x111111);
    Transparent t;
    t.src_bitmap = bitmap32(3, 1, {0xff00ff, 0x01ff00ff, 0x123456});
    t.src_area = rect(0, 0, 3, 1);
    t.true_color = 0xff00ff;
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 3, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x111111u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x111111u) << "only the colour bits are compared";
    EXPECT_EQ(pixel(*s, 2, 0), 0x123456u);
}

TEST(CanvasTransparent, KeyIsConvertedForSixteenBitSurfaces) {
    auto s = make_surface(SurfaceFormat::RGB565, 2, 1);
    fill_surface(*s, 0x1234);
    Transparent t;
    t.src_bitmap = bitmap32(2, 1, {0xf80000, 0x00fc00});
    t.src_area = rect(0, 0, 2, 1);
    t.true_color = 0xff0000;  // 565: 0xf800
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x1234u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x07e0u);
}

TEST(CanvasTransparent, ScaledSourceUsesNearestSampling) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    fill_surface(*s, 0x111111);
    Transparent t;
    t.src_bitmap = bitmap32(2, 1, {0x000000, 0xffffff});
    t.src_area = rect(0, 0, 2, 1);
    t.true_color = 0x000000;
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x111111u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x111111u);
    EXPECT_EQ(pixel(*s, 2, 0) & 0xffffff, 0xffffffu);
    EXPECT_EQ(pixel(*s, 3, 0) & 0xffffff, 0xffffffu);
}

}  // namespace
}  // namespace qxlbox::proto::test
