#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

// Copies a w x h image 1:1 to (0, 0) of a fresh surface.
std::unique_ptr<Surface> render(SurfaceFormat target, const ImagePtr& img, std::uint32_t w, std::uint32_t h,
                                 DrawResult* result = nullptr) {
    auto s = make_surface(target, w, h);
    Copy c;
    c.src_bitmap = img;
    c.src_area = rect(0, 0, static_cast<std::int32_t>(w), static_cast<std::int32_t>(h));
    auto r = draw(*s, command(c.src_area, c), nullptr);
    if (result) {
        *result = r;
    } else {
        EXPECT_TRUE(r.ok) << r.error;
    }
    return s;
}

const std::vector<std::uint32_t> kPal16 = {0x000000, 0x800000, 0x008000, 0x808000, 0x000080, 0x800080,
                                           0x008080, 0xc0c0c0, 0x808080, 0xff0000, 0x00ff00, 0xffff00,
                                           0x0000ff, 0xff00ff, 0x00ffff, 0xffffff};

TEST(CanvasBitmap, OneBitBigEndianIsMsbFirst) {
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit1BE, 10, 1, {{0xa0, 0x40}}, true, palette({0x111111, 0x222222})),
                    10, 1);
    const std::uint32_t want[10] = {2, 1, 2, 1, 1, 1, 1, 1, 1, 2};
    for (int x = 0; x < 10; ++x) EXPECT_EQ(pixel(*s, x, 0), want[x] == 2 ? 0x222222u : 0x111111u) << x;
}

TEST(CanvasBitmap, OneBitLittleEndianIsLsbFirst) {
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit1LE, 10, 1, {{0x05, 0x02}}, true, palette({0x111111, 0x222222})),
                    10, 1);
    const std::uint32_t want[10] = {2, 1, 2, 1, 1, 1, 1, 1, 1, 2};
    for (int x = 0; x < 10; ++x) EXPECT_EQ(pixel(*s, x, 0), want[x] == 2 ? 0x222222u : 0x111111u) << x;
}

TEST(CanvasBitmap, FourBitBigEndianIsHighNibbleFirst) {
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit4BE, 3, 1, {{0x9c, 0xf0}}, true, palette(kPal16)), 3, 1);
    EXPECT_EQ(pixel(*s, 0, 0), kPal16[9]);
    EXPECT_EQ(pixel(*s, 1, 0), kPal16[12]);
    EXPECT_EQ(pixel(*s, 2, 0), kPal16[15]);
}

TEST(CanvasBitmap, FourBitLittleEndianIsLowNibbleFirst) {
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit4LE, 3, 1, {{0x9c, 0x0f}}, true, palette(kPal16)), 3, 1);
    EXPECT_EQ(pixel(*s, 0, 0), kPal16[12]);
    EXPECT_EQ(pixel(*s, 1, 0), kPal16[9]);
    EXPECT_EQ(pixel(*s, 2, 0), kPal16[15]);
}

TEST(CanvasBitmap, EightBitLooksUpThePalette) {
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit8, 3, 1, {{2, 0, 1}}, true, palette({0xaa0000, 0x00bb00, 0x0000cc})),
                    3, 1);
    EXPECT_EQ(pixel(*s, 0, 0), 0x0000ccu);
    EXPECT_EQ(pixel(*s, 1, 0), 0xaa0000u);
    EXPECT_EQ(pixel(*s, 2, 0), 0x00bb00u);
}

TEST(CanvasBitmap, PaletteIndexBeyondTheEntriesDrawsZero) {
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit8, 3, 1, {{1, 200, 255}}, true, palette({0x123456, 0x654321})), 3, 1);
    EXPECT_EQ(pixel(*s, 0, 0), 0x654321u);
    EXPECT_EQ(pixel(*s, 1, 0), 0u);
    EXPECT_EQ(pixel(*s, 2, 0), 0u);
    auto one = render(SurfaceFormat::XRGB32,
                      bitmap_image(BitmapFormat::Bit1BE, 2, 1, {{0x80}}, true, palette({0x777777})), 2, 1);
    EXPECT_EQ(pixel(*one, 0, 0), 0u) << "index 1 of a one-entry palette";
    EXPECT_EQ(pixel(*one, 1, 0), 0x777777u);
    auto empty = render(SurfaceFormat::XRGB32, bitmap_image(BitmapFormat::Bit8, 1, 1, {{0}}, true, palette({})), 1, 1);
    EXPECT_EQ(pixel(*empty, 0, 0), 0u);
}

TEST(CanvasBitmap, IndexedBitmapWithoutPaletteIsRejected) {
    for (BitmapFormat f : {BitmapFormat::Bit1BE, BitmapFormat::Bit1LE, BitmapFormat::Bit4BE, BitmapFormat::Bit4LE,
                           BitmapFormat::Bit8}) {
        DrawResult r;
        auto s = render(SurfaceFormat::XRGB32, bitmap_image(f, 1, 1, {{0xff}}), 1, 1, &r);
        EXPECT_FALSE(r.ok) << static_cast<int>(f);
    }
}

TEST(CanvasBitmap, PaletteEntriesAreRawPixelsOf555Surfaces) {
    auto s = render(SurfaceFormat::RGB555,
                    bitmap_image(BitmapFormat::Bit8, 2, 1, {{1, 0}}, true, palette({0x7c00, 0x12345})), 2, 1);
    EXPECT_EQ(pixel(*s, 0, 0), 0x2345u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x7c00u);
}

TEST(CanvasBitmap, IndexedBitmapsAreRejectedOnSurfacesSpiceCannotPaletteConvert) {
    for (SurfaceFormat f : {SurfaceFormat::RGB565, SurfaceFormat::A8, SurfaceFormat::A1}) {
        DrawResult r;
        auto s = render(f, bitmap_image(BitmapFormat::Bit8, 1, 1, {{0}}, true, palette({0xffffff})), 1, 1, &r);
        EXPECT_FALSE(r.ok) << static_cast<int>(f);
        EXPECT_EQ(pixel(*s, 0, 0), 0u);
    }
}

TEST(CanvasBitmap, SixteenBitIsX1r5g5b5ExpandedByReplication) {
    const std::uint16_t v = (0x1f << 10) | (0x10 << 5) | 0x01;
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit16, 1, 1,
                                 {{static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8)}}),
                    1, 1);
    EXPECT_EQ(pixel(*s, 0, 0) & 0xffffff, 0xff8408u);
    auto s16 = render(SurfaceFormat::RGB555,
                      bitmap_image(BitmapFormat::Bit16, 1, 1,
                                   {{static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8)}}),
                      1, 1);
    EXPECT_EQ(pixel(*s16, 0, 0), v);
}

TEST(CanvasBitmap, TwentyFourBitIsBlueGreenRed) {
    auto s = render(SurfaceFormat::XRGB32, bitmap_image(BitmapFormat::Bit24, 2, 1, {{1, 2, 3, 4, 5, 6}}), 2, 1);
    EXPECT_EQ(pixel(*s, 0, 0), 0x030201u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x060504u);
}

TEST(CanvasBitmap, ThirtyTwoBitAndRgbaKeepTheirBytes) {
    auto s = render(SurfaceFormat::XRGB32, bitmap32(1, 1, {0x7f102030}), 1, 1);
    EXPECT_EQ(pixel(*s, 0, 0), 0x7f102030u);
    auto a = render(SurfaceFormat::ARGB32, bitmap32(1, 1, {0x80402010}, BitmapFormat::RGBA), 1, 1);
    EXPECT_EQ(pixel(*a, 0, 0), 0x80402010u);
}

TEST(CanvasBitmap, AlphaOnlyBitmapOnAnA8Surface) {
    auto s = render(SurfaceFormat::A8, bitmap_image(BitmapFormat::Bit8A, 3, 1, {{0, 0x80, 0xff}}), 3, 1);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x80u);
    EXPECT_EQ(pixel(*s, 2, 0), 0xffu);
    auto x = render(SurfaceFormat::XRGB32, bitmap_image(BitmapFormat::Bit8A, 1, 1, {{0x80}}), 1, 1);
    EXPECT_EQ(pixel(*x, 0, 0) & 0xffffff, 0u) << "alpha-only converts to black";
}

TEST(CanvasBitmap, BottomUpBitmapsAreFlipped) {
    const std::vector<std::vector<std::uint8_t>> rows = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    auto td = render(SurfaceFormat::XRGB32, bitmap_image(BitmapFormat::Bit24, 1, 3, rows, true), 1, 3);
    auto bu = render(SurfaceFormat::XRGB32, bitmap_image(BitmapFormat::Bit24, 1, 3, rows, false), 1, 3);
    for (int y = 0; y < 3; ++y) EXPECT_EQ(pixel(*td, 0, y), pixel(*bu, 0, y)) << "the helper stores rows flipped";
    EXPECT_EQ(pixel(*td, 0, 0), 0x030201u);
    // The same storage bytes read as bottom-up give the rows in reverse.
    auto img = bitmap_image(BitmapFormat::Bit24, 1, 3, rows, true);
    auto flipped = std::make_shared<Image>(*img);
    std::get<Bitmap>(flipped->content).top_down = false;
    auto f = render(SurfaceFormat::XRGB32, flipped, 1, 3);
    EXPECT_EQ(pixel(*f, 0, 0), 0x090807u);
    EXPECT_EQ(pixel(*f, 0, 2), 0x030201u);
}

TEST(CanvasBitmap, BottomUpDirectFormatsAreFlippedToo) {
    // 32-bit, 16-bit and alpha-only bitmaps are read in place; bottom-up must still flip.
    const std::vector<std::vector<std::uint8_t>> rows32 = {{1, 0, 0, 0}, {2, 0, 0, 0}, {3, 0, 0, 0}};
    for (bool top_down : {true, false}) {
        auto img = bitmap_image(BitmapFormat::Bit32, 1, 3, rows32, true);
        auto copy = std::make_shared<Image>(*img);
        std::get<Bitmap>(copy->content).top_down = top_down;
        auto s = render(SurfaceFormat::XRGB32, copy, 1, 3);
        EXPECT_EQ(pixel(*s, 0, 0), top_down ? 1u : 3u);
        EXPECT_EQ(pixel(*s, 0, 2), top_down ? 3u : 1u);
    }
    auto a8 = render(SurfaceFormat::A8, bitmap_image(BitmapFormat::Bit8A, 4, 2, {{1, 2, 3, 4}, {5, 6, 7, 8}}, false),
                     4, 2);
    EXPECT_EQ(pixel(*a8, 0, 0), 1u);
    EXPECT_EQ(pixel(*a8, 3, 1), 8u);
    auto s16 = render(SurfaceFormat::RGB555, bitmap_image(BitmapFormat::Bit16, 2, 2, {{1, 0, 2, 0}, {3, 0, 4, 0}}, false),
                      2, 2);
    EXPECT_EQ(pixel(*s16, 0, 0), 1u);
    EXPECT_EQ(pixel(*s16, 1, 1), 4u);
    Rop3 r;
    r.src_bitmap = bitmap_image(BitmapFormat::Bit32, 1, 2, {{9, 0, 0, 0}, {7, 0, 0, 0}}, false);
    r.src_area = rect(0, 0, 1, 2);
    r.rop3 = 0xcc;
    auto s = make_surface(SurfaceFormat::XRGB32, 1, 2);
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 1, 2), r), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 9u);
    EXPECT_EQ(pixel(*s, 0, 1), 7u);
}

TEST(CanvasBitmap, StridePaddingIsSkipped) {
    auto s = render(SurfaceFormat::XRGB32,
                    bitmap_image(BitmapFormat::Bit8, 2, 2, {{0, 1, 9, 9}, {1, 0, 9, 9}}, true, palette({0x10, 0x20}), 4),
                    2, 2);
    EXPECT_EQ(pixel(*s, 0, 0), 0x10u);
    EXPECT_EQ(pixel(*s, 1, 0), 0x20u);
    EXPECT_EQ(pixel(*s, 0, 1), 0x20u);
    EXPECT_EQ(pixel(*s, 1, 1), 0x10u);
}

TEST(CanvasBitmap, HighBitsSetFlagMakesXrgbOpaque) {
    auto img = std::make_shared<Image>(*bitmap32(1, 1, {0x00123456}));
    img->flags = kImageHighBitsSet;
    auto s = render(SurfaceFormat::XRGB32, img, 1, 1);
    EXPECT_EQ(pixel(*s, 0, 0), 0xff123456u);
}

TEST(CanvasBitmap, RejectsMalformedBitmaps) {
    auto base = bitmap32(2, 2, {1, 2, 3, 4});
    auto variant = [&](auto mutate) {
        auto img = std::make_shared<Image>(*base);
        mutate(std::get<Bitmap>(img->content));
        DrawResult r;
        auto s = render(SurfaceFormat::XRGB32, img, 2, 2, &r);
        if (!r.ok) {
            EXPECT_EQ(pixel(*s, 0, 0), 0u) << "a rejected command draws nothing";
        }
        return r.ok;
    };
    EXPECT_TRUE(variant([](Bitmap&) {}));
    EXPECT_FALSE(variant([](Bitmap& b) { b.stride = 7; }));
    EXPECT_FALSE(variant([](Bitmap& b) { b.data.resize(15); }));
    EXPECT_FALSE(variant([](Bitmap& b) { b.width = 0; }));
    EXPECT_FALSE(variant([](Bitmap& b) { b.height = 0; }));
    EXPECT_FALSE(variant([](Bitmap& b) { b.format = BitmapFormat::Invalid; }));
    EXPECT_FALSE(variant([](Bitmap& b) { b.format = static_cast<BitmapFormat>(42); }));
    EXPECT_FALSE(variant([](Bitmap& b) {
        b.width = kMaxSurfaceSide + 1;
        b.stride = 4 * b.width;
    }));
    EXPECT_FALSE(variant([](Bitmap& b) {
        b.height = 0x40000000u;
        b.stride = 0x40000000u;
    }));
}

}  // namespace
}  // namespace qxlbox::proto::test
