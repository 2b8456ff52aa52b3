#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

// Straightforward model: every result bit looks up the ROP3 code at index P<<2 | S<<1 | D.
std::uint32_t rop3_model(std::uint8_t code, std::uint32_t p, std::uint32_t s, std::uint32_t d, int bits) {
    std::uint32_t out = 0;
    for (int bit = 0; bit < bits; ++bit) {
        const unsigned pb = (p >> bit) & 1u, sb = (s >> bit) & 1u, db = (d >> bit) & 1u;
        const unsigned idx = (pb << 2) | (sb << 1) | db;
        out |= static_cast<std::uint32_t>((code >> idx) & 1u) << bit;
    }
    return out;
}

std::vector<std::uint32_t> source_pixels() {
    std::vector<std::uint32_t> v(16);
    for (std::uint32_t i = 0; i < 16; ++i) v[i] = 0x9e3779b9u * (i + 1);
    return v;
}

TEST(CanvasRop3, EveryCodeWithSolidBrushMatchesThePerPixelModel) {
    const auto src = source_pixels();
    const auto img = bitmap32(4, 4, src);
    for (int code = 0; code < 256; ++code) {
        auto s = make_surface(SurfaceFormat::XRGB32, 5, 5);
        fill_gradient(*s, 0x3c3c3c3cu);
        auto before = make_surface(SurfaceFormat::XRGB32, 5, 5);
        fill_gradient(*before, 0x3c3c3c3cu);
        Rop3 r;
        r.src_bitmap = img;
        r.src_area = rect(0, 0, 4, 4);
        r.brush = solid(0xc0ffee11u);
        r.rop3 = static_cast<std::uint8_t>(code);
        ASSERT_TRUE(draw(*s, command(rect(1, 1, 5, 5), r), nullptr).ok);
        for (int y = 0; y < 5; ++y) {
            for (int x = 0; x < 5; ++x) {
                const std::uint32_t d = pixel(*before, x, y);
                const std::uint32_t want =
                    (x == 0 || y == 0) ? d
                                       : rop3_model(static_cast<std::uint8_t>(code), 0xc0ffee11u,
                                                    src[static_cast<std::size_t>((y - 1) * 4 + (x - 1))], d, 32);
                ASSERT_EQ(pixel(*s, x, y), want) << "code " << code << " at " << x << "," << y;
            }
        }
    }
}

TEST(CanvasRop3, EveryCodeWithPatternBrushOnSixteenBitsMatchesTheModel) {
    std::vector<std::vector<std::uint8_t>> src_rows(4), pat_rows(3);
    std::vector<std::uint32_t> src(16), pat(6);
    for (std::uint32_t i = 0; i < 16; ++i) {
        src[i] = (0x9e37u * (i + 3)) & 0x7fff;
        src_rows[i / 4].push_back(static_cast<std::uint8_t>(src[i]));
        src_rows[i / 4].push_back(static_cast<std::uint8_t>(src[i] >> 8));
    }
    for (std::uint32_t i = 0; i < 6; ++i) {
        pat[i] = (0x5bd1u * (i + 7)) & 0x7fff;
        pat_rows[i / 2].push_back(static_cast<std::uint8_t>(pat[i]));
        pat_rows[i / 2].push_back(static_cast<std::uint8_t>(pat[i] >> 8));
    }
    const auto src_img = bitmap_image(BitmapFormat::Bit16, 4, 4, src_rows);
    const auto pat_img = bitmap_image(BitmapFormat::Bit16, 2, 3, pat_rows);
    for (int code = 0; code < 256; ++code) {
        auto s = make_surface(SurfaceFormat::RGB555, 4, 4);
        fill_gradient(*s, 0x1234);
        auto before = make_surface(SurfaceFormat::RGB555, 4, 4);
        fill_gradient(*before, 0x1234);
        Rop3 r;
        r.src_bitmap = src_img;
        r.src_area = rect(0, 0, 4, 4);
        r.brush.type = BrushType::Pattern;
        r.brush.pattern = pat_img;
        r.brush.pos = {1, 2};
        r.rop3 = static_cast<std::uint8_t>(code);
        ASSERT_TRUE(draw(*s, command(rect(0, 0, 4, 4), r), nullptr).ok);
        for (int y = 0; y < 4; ++y) {
            for (int x = 0; x < 4; ++x) {
                const int px = ((x - 1) % 2 + 2) % 2, py = ((y - 2) % 3 + 3) % 3;
                const std::uint32_t want =
                    rop3_model(static_cast<std::uint8_t>(code), pat[static_cast<std::size_t>(py * 2 + px)],
                               src[static_cast<std::size_t>(y * 4 + x)], pixel(*before, x, y), 16);
                ASSERT_EQ(pixel(*s, x, y), want) << "code " << code << " at " << x << "," << y;
            }
        }
    }
}

TEST(CanvasRop3, EightBitSurfacesUseAllCodesToo) {
    const auto img = bitmap_image(BitmapFormat::Bit8A, 2, 1, {{0x5a, 0xc3}});
    for (int code : {0x00, 0x1e, 0x66, 0x96, 0xb8, 0xcc, 0xe2, 0xff}) {
        auto s = make_surface(SurfaceFormat::A8, 2, 1);
        set_pixel(*s, 0, 0, 0x0f);
        set_pixel(*s, 1, 0, 0xf0);
        Rop3 r;
        r.src_bitmap = img;
        r.src_area = rect(0, 0, 2, 1);
        r.brush = solid(0x33);
        r.rop3 = static_cast<std::uint8_t>(code);
        ASSERT_TRUE(draw(*s, command(rect(0, 0, 2, 1), r), nullptr).ok);
        EXPECT_EQ(pixel(*s, 0, 0), rop3_model(static_cast<std::uint8_t>(code), 0x33, 0x5a, 0x0f, 8)) << code;
        EXPECT_EQ(pixel(*s, 1, 0), rop3_model(static_cast<std::uint8_t>(code), 0x33, 0xc3, 0xf0, 8)) << code;
    }
}

TEST(CanvasRop3, ScaledSourceMatchesAScaledCopyForSrcCopy) {
    auto a = make_surface(SurfaceFormat::XRGB32, 6, 6);
    auto b = make_surface(SurfaceFormat::XRGB32, 6, 6);
    const auto img = bitmap32(2, 2, {0x10, 0x20, 0x30, 0x40});
    Rop3 r;
    r.src_bitmap = img;
    r.src_area = rect(0, 0, 2, 2);
    r.scale_mode = ScaleMode::Nearest;
    r.rop3 = 0xcc;  // SRCCOPY
    ASSERT_TRUE(draw(*a, command(rect(1, 1, 5, 5), r), nullptr).ok);
    Copy c;
    c.src_bitmap = img;
    c.src_area = rect(0, 0, 2, 2);
    c.scale_mode = ScaleMode::Nearest;
    ASSERT_TRUE(draw(*b, command(rect(1, 1, 5, 5), c), nullptr).ok);
    for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 6; ++x) EXPECT_EQ(pixel(*a, x, y) & 0xffffff, pixel(*b, x, y) & 0xffffff) << x << "," << y;
    EXPECT_EQ(pixel(*a, 1, 1) & 0xffffff, 0x10u);
    EXPECT_EQ(pixel(*a, 4, 4) & 0xffffff, 0x40u);
}

TEST(CanvasRop3, MaskAndClipLimitTheResult) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 1);
    Rop3 r;
    r.src_bitmap = bitmap32(4, 1, {1, 2, 3, 4});
    r.src_area = rect(0, 0, 4, 1);
    r.rop3 = 0xcc;
    r.mask.bitmap = bitmap_image(BitmapFormat::Bit1BE, 4, 1, {{0xe0}});
    auto cmd = command(rect(0, 0, 4, 1), r);
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(1, 0, 4, 1)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    EXPECT_EQ(pixel(*s, 1, 0), 2u);
    EXPECT_EQ(pixel(*s, 2, 0), 3u);
    EXPECT_EQ(pixel(*s, 3, 0), 0u);
}

TEST(CanvasRop3, RejectsASourceSmallerThanTheBox) {
    auto s = make_surface(SurfaceFormat::XRGB32, 4, 4);
    Rop3 r;
    r.src_bitmap = bitmap32(2, 2, {1, 2, 3, 4});
    r.src_area = rect(1, 1, 3, 3);
    r.rop3 = 0xcc;
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 2), r), nullptr).ok);
    r.src_area = rect(-1, 0, 1, 2);
    EXPECT_FALSE(draw(*s, command(rect(0, 0, 2, 2), r), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0u);
    r.src_area = rect(0, 0, 2, 2);
    EXPECT_TRUE(draw(*s, command(rect(0, 0, 2, 2), r), nullptr).ok);
    EXPECT_EQ(pixel(*s, 1, 1), 4u);
}

TEST(CanvasRop3, OutOfSurfaceBoxIsClipped) {
    auto s = make_surface(SurfaceFormat::XRGB32, 2, 2);
    Rop3 r;
    r.src_bitmap = bitmap32(4, 4, source_pixels());
    r.src_area = rect(0, 0, 4, 4);
    r.rop3 = 0xcc;
    ASSERT_TRUE(draw(*s, command(rect(-2, -2, 2, 2), r), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), source_pixels()[10]);
    EXPECT_EQ(pixel(*s, 1, 1), source_pixels()[15]);
}

}  // namespace
}  // namespace qxlbox::proto::test
