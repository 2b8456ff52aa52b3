#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

AlphaBlend blend_of(ImagePtr img, Rect src_area, std::uint8_t alpha = 255, std::uint8_t flags = 0) {
    AlphaBlend a;
    a.src_bitmap = std::move(img);
    a.src_area = src_area;
    a.alpha = alpha;
    a.alpha_flags = flags;
    return a;
}

TEST(CanvasAlphaBlend, PremultipliedSourceOverDestination) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    fill_surface(*s, 0x0000ff);
    ASSERT_TRUE(draw(*s,
                     command(rect(0, 0, 2, 1), blend_of(bitmap32(2, 1, {0x80800000, 0x00000000}, BitmapFormat::RGBA),
                                                        rect(0, 0, 2, 1))),
                     nullptr)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0x80007fu);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0x0000ffu);
}

TEST(CanvasAlphaBlend, OpaqueResultOnXrgbHasItsAlphaByteCleared) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    ASSERT_TRUE(draw(*s,
                     command(rect(0, 0, 2, 1), blend_of(bitmap32(2, 1, {0xff102030, 0xff405060}, BitmapFormat::RGBA),
                                                        rect(0, 0, 2, 1))),
                     nullptr)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x00102030u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x00405060u);
}

TEST(CanvasAlphaBlend, GlobalAlphaScalesAnOpaqueSource) {
    auto s = make_surface(SurfaceFormat::XRGB32, 1, 1);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 1), blend_of(bitmap32(1, 1, {0xffffff}), rect(0, 0, 1, 1), 0x80)),
                     nullptr)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0x808080u);
}

TEST(CanvasAlphaBlend, ZeroAlphaDrawsNothing) {
    auto s = make_surface(SurfaceFormat::XRGB32, 1, 1);
    fill_surface(*s, 0x123456);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 1), blend_of(bitmap32(1, 1, {0xffffff}), rect(0, 0, 1, 1), 0)),
                     nullptr)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x123456u);
}

TEST(CanvasAlphaBlend, DestHasAlphaKeepsTheAlphaChannel) {
    auto s = make_surface(SurfaceFormat::XRGB32, 1, 1);
    ASSERT_TRUE(draw(*s,
                     command(rect(0, 0, 1, 1), blend_of(bitmap32(1, 1, {0x80400000}, BitmapFormat::RGBA),
                                                        rect(0, 0, 1, 1), 255, kAlphaDestHasAlpha)),
                     nullptr)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x80400000u);
}

TEST(CanvasAlphaBlend, ScaledBlendSamplesNearest) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    ASSERT_TRUE(
        draw(*s, command(rect(0, 0, 4, 1), blend_of(bitmap32(2, 1, {0x000000, 0xffffff}), rect(0, 0, 2, 1))), nullptr)
            .ok);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0u);
    EXPECT_EQ(pixel(*s, 2, 0) & 0xffffff, 0xffffffu);
}

TEST(CanvasAlphaBlend, SurfaceSourceWithAlphaFlag) {
    auto s = make_surface(SurfaceFormat::XRGB32, 1, 1);
    auto src = make_surface(SurfaceFormat::XRGB32, 1, 1);
    fill_surface(*s, 0x0000ff);
    set_pixel(*src, 0, 0, 0x00ff0000);  // alpha 0: invisible when its alpha counts
    MapResolver res;
    res.surfaces[2] = src.get();
    ASSERT_TRUE(draw(*s,
                     command(rect(0, 0, 1, 1),
                             blend_of(surface_image(2), rect(0, 0, 1, 1), 255, kAlphaSrcSurfaceHasAlpha)),
                     &res)
                    .ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0xff00ffu) << "premultiplied OVER adds the colour";
    fill_surface(*s, 0x0000ff);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 1), blend_of(surface_image(2), rect(0, 0, 1, 1))), &res).ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0xff0000u) << "without the flag the source is opaque";
}

TEST(CanvasAlphaBlend, ClipAppliesAndBadSourcesAreRejected) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    auto cmd = command(rect(0, 0, 2, 1), blend_of(bitmap32(2, 1, {0xffffff, 0xffffff}), rect(0, 0, 2, 1)));
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(1, 0, 2, 1)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0xffffffu);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 1), blend_of(nullptr, rect(0, 0, 2, 1))), nullptr).ok);
}

// Composite operator and repeat values on the wire (pixman's numbering).
constexpr std::uint32_t kOpSrc = 1;
constexpr std::uint32_t kOpOver = 3;
constexpr std::uint32_t kRepeatNormal = 1;

Composite composite_of(std::uint32_t op, ImagePtr src) {
    Composite c;
    c.flags = op;
    c.src_bitmap = std::move(src);
    return c;
}

TEST(CanvasComposite, SrcOperatorCopiesTheSource) {
    auto s = make_surface(SurfaceFormat::XRGB32, 3, 2);
    Composite c = composite_of(kOpSrc, bitmap32(2, 2, {1, 2, 3, 4}));
    c.src_origin = {1, 0};
    ASSERT_TRUE(draw(*s, command(rect(1, 0, 3, 2), c), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 2u);
    EXPECT_EQ(pixel(*s, 1, 1) & 0xffffff, 4u);
    EXPECT_EQ(pixel(*s, 2, 0) & 0xffffff, 0u) << "outside the source with no repeat";
}

TEST(CanvasComposite, OverWithAnA8SurfaceMask) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    auto mask = make_surface(SurfaceFormat::A8, 2, 1);
    set_pixel(*mask, 0, 0, 0x80);
    set_pixel(*mask, 1, 0, 0xff);
    MapResolver res;
    res.surfaces[5] = mask.get();
    Composite c = composite_of(kOpOver | composite::kHasMask |
                                   (kRepeatNormal << composite::kSrcRepeatShift),
                               bitmap32(1, 1, {0xffffff}));
    c.mask_bitmap = surface_image(5);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), c), &res).ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0x808080u);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0xffffffu);
}

TEST(CanvasComposite, SourceTransformScales) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    Composite c = composite_of(kOpSrc | composite::kHasSrcTransform, bitmap32(2, 1, {0x11, 0x22}));
    Transform t;
    t.t = {0x8000, 0, 0, 0, 0x10000, 0};  // x / 2
    c.src_transform = t;
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 1), c), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0x11u);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0x11u);
    EXPECT_EQ(pixel(*s, 2, 0) & 0xffffff, 0x22u);
    EXPECT_EQ(pixel(*s, 3, 0) & 0xffffff, 0x22u);
}

TEST(CanvasComposite, ClipLimitsTheResult) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    auto cmd = command(rect(0, 0, 2, 1), composite_of(kOpSrc, bitmap32(2, 1, {7, 8})));
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(0, 0, 1, 1)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 7u);
    EXPECT_EQ(pixel(*s, 1, 0), 0u);
}

TEST(CanvasComposite, RejectsUnknownOperatorsAndFilters) {
    auto s = make_surface(SurfaceFormat::XRGB32, 1, 1);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 1, 1), composite_of(0x0e, bitmap32(1, 1, {1}))), nullptr).ok);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 1, 1), composite_of(0xff, bitmap32(1, 1, {1}))), nullptr).ok);
    EXPECT_FALSE(draw(*s,
                      command(rect(0, 0, 1, 1), composite_of(kOpSrc | (5u << composite::kSrcFilterShift),
                                                             bitmap32(1, 1, {1}))),
                      nullptr)
                     .ok);
    Composite bad_mask = composite_of(kOpSrc | composite::kHasMask, bitmap32(1, 1, {1}));
    bad_mask.mask_bitmap = surface_image(99);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 1, 1), bad_mask), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

}  // namespace
}  // namespace qxlbox::proto::test
