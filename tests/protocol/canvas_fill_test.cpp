#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

Fill fill_of(Brush b, std::uint16_t rop_desc = rop::kOpPut) {
    Fill f;
    f.brush = std::move(b);
    f.rop_descriptor = rop_desc;
    return f;
}

TEST(CanvasFill, SolidFillCoversExactlyTheBox) {
    auto s = make_surface(SurfaceFormat::XRGB32, 10, 8);
    ASSERT_TRUE(draw(*s, command(rect(2, 3, 7, 5), fill_of(solid(0x123456))), nullptr).ok);
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 10; ++x)
            EXPECT_EQ(pixel(*s, x, y), (x >= 2 && x < 7 && y >= 3 && y < 5) ? 0x123456u : 0u) << x << "," << y;
}

TEST(CanvasFill, BoxPartlyOutsideTheSurfaceIsClipped) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 6);
    ASSERT_TRUE(draw(*s, command(rect(-100, 4, 3, 1000), fill_of(solid(0xff))), nullptr).ok);
    for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 6; ++x) EXPECT_EQ(pixel(*s, x, y), (x < 3 && y >= 4) ? 0xffu : 0u);
}

TEST(CanvasFill, BoxEntirelyOutsideOrEmptyDrawsNothing) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 6);
    fill_surface(*s, 0x11);
    for (Rect r : {rect(6, 0, 10, 6), rect(-5, -5, 0, 0), rect(3, 3, 3, 5), rect(4, 4, 2, 2), rect(0, 6, 6, 9)}) {
        ASSERT_TRUE(draw(*s, command(r, fill_of(solid(0xff))), nullptr).ok);
    }
    for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 6; ++x) EXPECT_EQ(pixel(*s, x, y), 0x11u);
}

TEST(CanvasFill, ClipRectanglesLimitTheFillWithExclusiveEdges) {
    auto s = make_surface(SurfaceFormat::XRGB32, 10, 10);
    auto cmd = command(rect(0, 0, 10, 10), fill_of(solid(0xabcdef)));
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(1, 1, 3, 2), rect(5, 5, 10, 12), rect(2, 1, 4, 2)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    for (int y = 0; y < 10; ++y) {
        for (int x = 0; x < 10; ++x) {
            const bool in = (y == 1 && x >= 1 && x < 4) || (x >= 5 && y >= 5);
            EXPECT_EQ(pixel(*s, x, y), in ? 0xabcdefu : 0u) << x << "," << y;
        }
    }
}

TEST(CanvasFill, EmptyClipListDrawsNothing) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    auto cmd = command(rect(0, 0, 4, 4), fill_of(solid(0xff)));
    cmd.clip.type = ClipType::Rects;
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 1, 1), 0u);
}

TEST(CanvasFill, UnknownClipTypeIsRejected) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    auto cmd = command(rect(0, 0, 4, 4), fill_of(solid(0xff)));
    cmd.clip.type = static_cast<ClipType>(7);
    EXPECT_FALSE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 1, 1), 0u);
}

// Straightforward model of a ROP descriptor applied to brush b over destination d.
std::uint32_t descriptor_model(std::uint16_t desc, std::uint32_t b, std::uint32_t d) {
    const std::uint32_t bi = (desc & rop::kInversBrush) ? ~b : b;
    const std::uint32_t di = (desc & rop::kInversDest) ? ~d : d;
    std::uint32_t r = 0;
    if (desc & rop::kOpPut) {
        r = bi;
    } else if (desc & rop::kOpOr) {
        r = bi | di;
    } else if (desc & rop::kOpAnd) {
        r = bi & di;
    } else if (desc & rop::kOpXor) {
        r = bi ^ di;
    } else if (desc & rop::kOpBlackness) {
        return 0;
    } else if (desc & rop::kOpWhiteness) {
        return 0xffffffffu;
    } else if (desc & rop::kOpInvers) {
        return ~d;
    } else {
        return b;
    }
    return (desc & rop::kInversRes) ? ~r : r;
}

TEST(CanvasFill, EveryRopDescriptorCombinationMatchesTheModel) {
    const std::uint16_t ops[] = {rop::kOpPut,       rop::kOpOr,        rop::kOpAnd,    rop::kOpXor,
                                 rop::kOpBlackness, rop::kOpWhiteness, rop::kOpInvers, 0};
    for (std::uint16_t op : ops) {
        for (unsigned inv = 0; inv < 16; ++inv) {
            std::uint16_t desc = op;
            if (inv & 1) desc |= rop::kInversSrc;
            if (inv & 2) desc |= rop::kInversBrush;
            if (inv & 4) desc |= rop::kInversDest;
            if (inv & 8) desc |= rop::kInversRes;
            auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
            fill_gradient(*s, 0x5a5a5a5a);
            auto before = make_surface(SurfaceFormat::XRGB32, 4, 4);
            fill_gradient(*before, 0x5a5a5a5a);
            ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 4), fill_of(solid(0x0ff0f00f), desc)), nullptr).ok);
            for (int y = 0; y < 4; ++y)
                for (int x = 0; x < 4; ++x)
                    ASSERT_EQ(pixel(*s, x, y), descriptor_model(desc, 0x0ff0f00f, pixel(*before, x, y)))
                        << "descriptor " << desc << " at " << x << "," << y;
        }
    }
}

TEST(CanvasFill, SixteenAndEightBitSurfacesTakeTheLowBitsOfTheColour) {
    auto s16 = make_surface(SurfaceFormat::RGB565, 4, 1);
    ASSERT_TRUE(draw(*s16, command(rect(0, 0, 3, 1), fill_of(solid(0xdeadbeef))), nullptr).ok);
    EXPECT_EQ(pixel(*s16, 2, 0), 0xbeefu);
    EXPECT_EQ(pixel(*s16, 3, 0), 0u);
    auto s8 = make_surface(SurfaceFormat::A8, 4, 1);
    ASSERT_TRUE(draw(*s8, command(rect(1, 0, 4, 1), fill_of(solid(0x1234))), nullptr).ok);
    EXPECT_EQ(pixel(*s8, 0, 0), 0u);
    EXPECT_EQ(pixel(*s8, 3, 0), 0x34u);
    auto s555 = make_surface(SurfaceFormat::RGB555, 4, 1);
    ASSERT_TRUE(draw(*s555, command(rect(0, 0, 4, 1), fill_of(solid(0x7c00), rop::kOpXor)), nullptr).ok);
    EXPECT_EQ(pixel(*s555, 1, 0), 0x7c00u);
}

TEST(CanvasFill, PatternBrushTilesFromItsPosition) {
    auto s = make_surface(SurfaceFormat::XRGB32, 9, 7);
    Brush b;
    b.type = BrushType::Pattern;
    const std::vector<std::uint32_t> pat = {1, 2, 3, 4, 5, 6};  // 3 wide, 2 high
    b.pattern = bitmap32(3, 2, pat);
    b.pos = {4, -3};
    ASSERT_TRUE(draw(*s, command(rect(1, 1, 9, 7), fill_of(b)), nullptr).ok);
    for (int y = 1; y < 7; ++y) {
        for (int x = 1; x < 9; ++x) {
            const int px = (((x - 4) % 3) + 3) % 3, py = (((y + 3) % 2) + 2) % 2;
            EXPECT_EQ(pixel(*s, x, y), pat[static_cast<std::size_t>(py * 3 + px)]) << x << "," << y;
        }
    }
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

TEST(CanvasFill, PatternBrushWithRopCombinesWithTheDestination) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 2);
    fill_surface(*s, 0xf0);
    Brush b;
    b.type = BrushType::Pattern;
    b.pattern = bitmap32(2, 1, {0x0f, 0xff});
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 2), fill_of(b, rop::kOpXor)), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 1), 0xffu);
    EXPECT_EQ(pixel(*s, 1, 1), 0x0fu);
    EXPECT_EQ(pixel(*s, 2, 0), 0xffu);
}

TEST(CanvasFill, BrushNoneStillAppliesTheRop) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 1);
    fill_surface(*s, 0x00ff00ff);
    Fill f = fill_of(Brush{}, rop::kOpInvers);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 1), f), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0xff00ff00u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x00ff00ffu);
    f = fill_of(Brush{}, rop::kOpPut);
    ASSERT_TRUE(draw(*s, command(rect(1, 0, 2, 1), f), nullptr).ok);
    EXPECT_EQ(pixel(*s, 1, 0), 0u);
}

QMask mask_of(const std::vector<std::vector<std::uint8_t>>& rows, std::uint32_t w, Point pos, bool invert = false,
              BitmapFormat f = BitmapFormat::Bit1BE, bool top_down = true) {
    QMask m;
    m.bitmap = bitmap_image(f, w, static_cast<std::uint32_t>(rows.size()), rows, top_down);
    m.pos = pos;
    m.flags = invert ? kMaskInvers : 0;
    return m;
}

TEST(CanvasMask, OneBitMaskSelectsPixelsFromItsPosition) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 4);
    Fill f = fill_of(solid(0x77));
    // Row 0: pixels 0 and 2 set (MSB first); row 1: pixel 1.
    f.mask = mask_of({{0xa0}, {0x40}}, 3, {1, 0});
    ASSERT_TRUE(draw(*s, command(rect(2, 1, 8, 4), f), nullptr).ok);
    // Mask pixel (mx, my) lands on (2 + mx - 1, 1 + my).
    for (int y = 0; y < 4; ++y) {
        for (int x = 0; x < 8; ++x) {
            const bool in = (y == 1 && (x == 3)) || (y == 2 && x == 2);
            EXPECT_EQ(pixel(*s, x, y), in ? 0x77u : 0u) << x << "," << y;
        }
    }
}

TEST(CanvasMask, InvertedMaskSelectsClearPixelsInsideTheMaskOnly) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 3);
    Fill f = fill_of(solid(0x55));
    f.mask = mask_of({{0x80, 0x00}}, 3, {0, 0}, true, BitmapFormat::Bit1BE);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 6, 3), f), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x55u);
    EXPECT_EQ(pixel(*s, 2, 0), 0x55u);
    EXPECT_EQ(pixel(*s, 3, 0), 0u) << "outside the mask nothing is drawn";
    EXPECT_EQ(pixel(*s, 1, 1), 0u);
}

TEST(CanvasMask, LittleEndianAndBottomUpMasks) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 2);
    Blackness bl;
    fill_surface(*s, 0xffffff);
    // LSB first: 0x01 is pixel 0. Bottom-up: the first given row is the top row.
    bl.mask = mask_of({{0x01}, {0x04}}, 8, {0, 0}, false, BitmapFormat::Bit1LE, false);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 8, 2), bl), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    EXPECT_EQ(pixel(*s, 2, 1), 0u);
    EXPECT_EQ(pixel(*s, 1, 0), 0xffffffu);
    EXPECT_EQ(pixel(*s, 0, 1), 0xffffffu);
}

TEST(CanvasMask, MaskFromAnA1Surface) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    auto m = make_surface(SurfaceFormat::A1, 4, 1);
    set_pixel(*m, 2, 0, 1);
    MapResolver res;
    res.surfaces[3] = m.get();
    Whiteness w;
    w.mask.bitmap = surface_image(3);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 1), w), &res).ok);
    EXPECT_EQ(pixel(*s, 2, 0), 0xffffffffu);
    EXPECT_EQ(pixel(*s, 1, 0), 0u);
    w.mask.flags = kMaskInvers;
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 1), Invers{w.mask}), &res).ok);
    EXPECT_EQ(pixel(*s, 1, 0), 0xffffffffu);
    EXPECT_EQ(pixel(*s, 2, 0), 0xffffffffu);
}

TEST(CanvasMask, RejectsMasksThatAreNotOneBit) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    Fill f = fill_of(solid(0x55));
    f.mask = mask_of({{1, 2, 3, 4}}, 4, {0, 0}, false, BitmapFormat::Bit8A);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 1), f), nullptr).ok);
    auto m = make_surface(SurfaceFormat::A8, 4, 1);
    MapResolver res;
    res.surfaces[1] = m.get();
    f.mask.bitmap = surface_image(1);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 1), f), &res).ok);
    f.mask.bitmap = surface_image(2);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 1), f), &res).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

TEST(CanvasMask, RejectsShortMaskData) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    Fill f = fill_of(solid(0x55));
    f.mask = mask_of({{0xff}}, 4, {0, 0});
    auto bad = std::make_shared<Image>(*f.mask.bitmap);
    std::get<Bitmap>(bad->content).height = 3;
    f.mask.bitmap = bad;
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 4), f), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

TEST(CanvasConstantOps, BlacknessWhitenessInversRespectClip) {
    auto s = make_surface(SurfaceFormat::ARGB32, 4, 1);
    fill_surface(*s, 0x80123456);
    auto cmd = command(rect(0, 0, 4, 1), Blackness{});
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 3, 0), 0u);
    cmd = command(rect(0, 0, 2, 1), Whiteness{});
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 1, 0), 0xffffffffu);
    EXPECT_EQ(pixel(*s, 2, 0), 0u);
    cmd = command(rect(0, 0, 4, 1), Invers{});
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(1, 0, 3, 1)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0xffffffffu);
    EXPECT_EQ(pixel(*s, 1, 0), 0u);
    EXPECT_EQ(pixel(*s, 2, 0), 0xffffffffu);
    EXPECT_EQ(pixel(*s, 3, 0), 0u);
}

TEST(CanvasFill, PatternFromUndecodedImageIsRejected) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    Brush b;
    b.type = BrushType::Pattern;
    auto img = std::make_shared<Image>();
    img->type = ImageType::Quic;
    img->content = EncodedImage{};
    b.pattern = img;
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 1), fill_of(b)), nullptr).ok);
    b.pattern = nullptr;
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 1), fill_of(b)), nullptr).ok);
    b.type = static_cast<BrushType>(9);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 4, 1), fill_of(b)), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
}

}  // namespace
}  // namespace qxlbox::proto::test
