#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

Glyph glyph(Point render_pos, Point origin, std::uint16_t w, std::uint16_t h, std::vector<std::uint8_t> data) {
    Glyph g;
    g.render_pos = render_pos;
    g.glyph_origin = origin;
    g.width = w;
    g.height = h;
    g.data = std::move(data);
    return g;
}

Text text_of(std::uint16_t flags, std::vector<Glyph> glyphs, std::uint32_t fore = 0xffffff) {
    Text t;
    t.str.flags = flags;
    t.str.glyphs = std::move(glyphs);
    t.fore_brush = solid(fore);
    return t;
}

TEST(CanvasText, OneBitGlyphRowsAreBottomUpAndMsbFirst) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 4);
    // Box: left 2, top 1, 4 x 2. Stored rows: bottom (0xa0: pixels 0, 2) then top (0x50: 1, 3).
    Text t = text_of(kStringRasterA1, {glyph({2, 3}, {0, -2}, 4, 2, {0xa0, 0x50})});
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 8, 4), t), nullptr).ok);
    for (int y = 0; y < 4; ++y) {
        for (int x = 0; x < 8; ++x) {
            const bool on = (y == 1 && (x == 3 || x == 5)) || (y == 2 && (x == 2 || x == 4));
            EXPECT_EQ(pixel(*s, x, y) & 0xffffff, on ? 0xffffffu : 0u) << x << "," << y;
        }
    }
}

TEST(CanvasText, FourBitGlyphCoverageIsTheNibbleShiftedUp) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    Text t = text_of(kStringRasterA4, {glyph({0, 0}, {0, 0}, 2, 1, {0xf8})});
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0xf0f0f0u);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0x808080u);
}

TEST(CanvasText, EightBitGlyphCoverageBlendsTheForeBrush) {
    auto s = make_surface(SurfaceFormat::XRGB32, 3, 1);
    Text t = text_of(kStringRasterA8, {glyph({0, 0}, {0, 0}, 3, 1, {0x00, 0x80, 0xff})}, 0x00ff00);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 3, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0u);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0x008000u);
    EXPECT_EQ(pixel(*s, 2, 0) & 0xffffff, 0x00ff00u);
}

TEST(CanvasText, OverlappingGlyphsCombine) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    Text t = text_of(kStringRasterA1, {glyph({0, 0}, {0, 0}, 4, 1, {0x80}), glyph({1, 0}, {0, 0}, 3, 1, {0x20})});
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 1), t), nullptr).ok);
    EXPECT_NE(pixel(*s, 0, 0) & 0xffffff, 0u);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0u);
    EXPECT_NE(pixel(*s, 3, 0) & 0xffffff, 0u);
    auto s4 = make_surface(SurfaceFormat::XRGB32, 1, 1);
    Text t4 = text_of(kStringRasterA4, {glyph({0, 0}, {0, 0}, 1, 1, {0x40}), glyph({0, 0}, {0, 0}, 1, 1, {0x80})});
    ASSERT_TRUE(draw(*s4, command(rect(0, 0, 1, 1), t4), nullptr).ok);
    EXPECT_EQ(pixel(*s4, 0, 0) & 0xffffff, 0x808080u) << "coverage is the maximum, not the sum";
}

TEST(CanvasText, BackAreaIsFilledWithTheBackBrush) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 2);
    Text t = text_of(kStringRasterA1, {glyph({1, 0}, {0, 0}, 1, 1, {0x80})});
    t.back_area = rect(0, 0, 4, 1);
    t.back_brush = solid(0x0000ff);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 6, 2), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x0000ffu);
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0xffffffu);
    EXPECT_EQ(pixel(*s, 3, 0), 0x0000ffu);
    EXPECT_EQ(pixel(*s, 4, 0), 0u);
    EXPECT_EQ(pixel(*s, 0, 1), 0u);
}

TEST(CanvasText, BackAreaNeedsForeModePut) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    Text t = text_of(kStringRasterA1, {glyph({1, 0}, {0, 0}, 1, 1, {0x80})});
    t.back_area = rect(0, 0, 4, 1);
    t.back_brush = solid(0x0000ff);
    t.fore_mode = rop::kOpXor;
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    t.back_area = Rect{};
    EXPECT_TRUE(draw(*s, command(rect(0, 0, 4, 1), t), nullptr).ok) << "without a back area the mode is unused";
    EXPECT_EQ(pixel(*s, 1, 0) & 0xffffff, 0xffffffu);
}

TEST(CanvasText, ClipAndBoxLimitTheGlyphs) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 1);
    Text t = text_of(kStringRasterA8, {glyph({0, 0}, {0, 0}, 8, 1, std::vector<std::uint8_t>(8, 0xff))});
    auto cmd = command(rect(1, 0, 7, 1), t);
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(0, 0, 3, 1), rect(5, 0, 8, 1)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    const bool want[8] = {false, true, true, false, false, true, true, false};
    for (int x = 0; x < 8; ++x) EXPECT_EQ((pixel(*s, x, 0) & 0xffffff) != 0, want[x]) << x;
}

TEST(CanvasText, PatternForeBrushIsAnchoredToTheString) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 1);
    Text t = text_of(kStringRasterA8, {glyph({2, 0}, {0, 0}, 4, 1, {0xff, 0xff, 0xff, 0xff})});
    t.fore_brush.type = BrushType::Pattern;
    t.fore_brush.pattern = bitmap32(3, 1, {0x10, 0x20, 0x30});
    t.fore_brush.pos = {1, 0};
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 6, 1), t), nullptr).ok);
    // Pattern column = (x - string left - pos.x) mod 3 = (x - 3) mod 3.
    EXPECT_EQ(pixel(*s, 2, 0) & 0xffffff, 0x30u);
    EXPECT_EQ(pixel(*s, 3, 0) & 0xffffff, 0x10u);
    EXPECT_EQ(pixel(*s, 4, 0) & 0xffffff, 0x20u);
    EXPECT_EQ(pixel(*s, 5, 0) & 0xffffff, 0x30u);
}

TEST(CanvasText, SixteenBitSolidColourUsesFiveBitChannels) {
    auto s = make_surface(SurfaceFormat::RGB555, 1, 1);
    Text t = text_of(kStringRasterA1, {glyph({0, 0}, {0, 0}, 1, 1, {0x80})}, 0x7c00);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x7c00u);
}

TEST(CanvasText, RejectsBadStrings) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    Text vec = text_of(0, {glyph({0, 0}, {0, 0}, 1, 1, {0x80})});
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), vec), nullptr).ok);
    Text shortdata = text_of(kStringRasterA4, {glyph({0, 0}, {0, 0}, 3, 2, {0xff, 0xff, 0xff})});
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), shortdata), nullptr).ok);
    Text far = text_of(kStringRasterA1, {glyph({INT32_MAX, 0}, {INT32_MAX, 0}, 1, 1, {0x80})});
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), far), nullptr).ok);
    Text badbrush = text_of(kStringRasterA1, {glyph({0, 0}, {0, 0}, 1, 1, {0x80})});
    badbrush.fore_brush.type = BrushType::Pattern;
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), badbrush), nullptr).ok);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) EXPECT_EQ(pixel(*s, x, y), 0u);
}

TEST(CanvasText, EmptyStringDrawsOnlyTheBackground) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    Text t = text_of(kStringRasterA1, {});
    t.back_area = rect(0, 0, 1, 1);
    t.back_brush = solid(0x42);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), t), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0x42u);
    EXPECT_EQ(pixel(*s, 1, 0), 0u);
}

}  // namespace
}  // namespace qxlbox::proto::test
