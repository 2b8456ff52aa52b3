#include <gtest/gtest.h>

#include <random>

#include "protocol/codec/lz.h"

namespace qxlbox::proto::codec {
namespace {

using wire::ErrorCode;

Bytes header(std::uint32_t type, std::uint32_t w, std::uint32_t h, std::uint32_t stride, std::uint32_t top_down = 1) {
    Bytes b;
    for (std::uint32_t v : {kLzMagic, kLzVersion, type, w, h, stride, top_down}) wire::put_be32(b, v);
    return b;
}

Bytes with_stream(Bytes head, std::initializer_list<std::uint8_t> stream) {
    head.insert(head.end(), stream.begin(), stream.end());
    return head;
}

struct TestImage {
    LzImageType type;
    std::uint32_t width;
    std::uint32_t height;
    std::uint32_t stride;
    Bytes pixels;
};

// Deterministic test pictures: noise, flat areas, gradients and repeated tiles.
TestImage make_image(LzImageType type, std::uint32_t w, std::uint32_t h, int pattern, std::uint32_t seed) {
    const std::uint64_t row = lz_row_bytes(type, w);
    TestImage img{type, w, h, static_cast<std::uint32_t>(row + (seed % 3)), {}};
    img.pixels.assign(static_cast<std::size_t>(img.stride) * h, 0xEE);  // padding must be ignored
    std::mt19937 rng(seed);
    for (std::uint32_t y = 0; y < h; ++y) {
        for (std::uint64_t x = 0; x < row; ++x) {
            std::uint8_t v = 0;
            switch (pattern) {
            case 0: v = static_cast<std::uint8_t>(rng()); break;                     // noise
            case 1: v = 0x42; break;                                                   // flat
            case 2: v = static_cast<std::uint8_t>(x * 3 + y); break;                   // gradient
            case 3: v = static_cast<std::uint8_t>(((x / 8) ^ (y / 8)) & 1 ? 0xff : 0x10); break;  // checker
            default: v = static_cast<std::uint8_t>((rng() % 4) * 60); break;           // few colours
            }
            img.pixels[static_cast<std::size_t>(y) * img.stride + x] = v;
        }
    }
    return img;
}

// What the decoder should return: the rows without source padding (RGB32 pad byte zeroed,
// XXXA colour bytes zeroed).
Bytes expected_pixels(const TestImage& img) {
    const std::uint64_t row = lz_row_bytes(img.type, img.width);
    Bytes out;
    for (std::uint32_t y = 0; y < img.height; ++y) {
        auto first = img.pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(y) * img.stride);
        out.insert(out.end(), first, first + static_cast<std::ptrdiff_t>(row));
    }
    if (img.type == LzImageType::Rgb32)
        for (std::size_t i = 3; i < out.size(); i += 4) out[i] = 0;
    if (img.type == LzImageType::Xxxa)
        for (std::size_t i = 0; i < out.size(); ++i)
            if (i % 4 != 3) out[i] = 0;
    return out;
}

const LzImageType kAllTypes[] = {LzImageType::Plt1Le, LzImageType::Plt1Be, LzImageType::Plt4Le, LzImageType::Plt4Be,
                                 LzImageType::Plt8,   LzImageType::Rgb16,  LzImageType::Rgb24,  LzImageType::Rgb32,
                                 LzImageType::Rgba,   LzImageType::Xxxa,   LzImageType::A8};

TEST(CodecLz, RoundTripsEveryTypeSizeAndPattern) {
    const std::pair<std::uint32_t, std::uint32_t> sizes[] = {{1, 1}, {2, 1}, {3, 5}, {7, 3}, {17, 9}, {64, 64}, {131, 7}};
    int cases = 0;
    for (auto type : kAllTypes) {
        for (auto [w, h] : sizes) {
            for (int pattern = 0; pattern < 5; ++pattern) {
                auto img = make_image(type, w, h, pattern, static_cast<std::uint32_t>(w * 31 + h + pattern));
                auto enc = lz_encode(type, w, h, pattern % 2 == 0, img.pixels, img.stride);
                ASSERT_TRUE(enc.ok()) << enc.error().to_string();
                auto dec = lz_decode(*enc);
                ASSERT_TRUE(dec.ok()) << dec.error().to_string() << " type " << static_cast<int>(type) << " " << w
                                      << "x" << h << " pattern " << pattern;
                EXPECT_EQ(dec->header.width, w);
                EXPECT_EQ(dec->header.height, h);
                EXPECT_EQ(dec->header.top_down, pattern % 2 == 0);
                EXPECT_EQ(dec->pixels, expected_pixels(img))
                    << "type " << static_cast<int>(type) << " " << w << "x" << h << " pattern " << pattern;
                ++cases;
            }
        }
    }
    EXPECT_EQ(cases, 11 * 7 * 5);
}

TEST(CodecLz, LargeScreenRoundTripsAndCompresses) {
    // A desktop-like 640x480 RGB32 picture: flat background, a gradient bar, a noisy icon.
    const std::uint32_t w = 640, h = 480;
    Bytes px(static_cast<std::size_t>(w) * h * 4);
    std::mt19937 rng(7);
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t x = 0; x < w; ++x) {
            std::uint8_t* p = &px[(static_cast<std::size_t>(y) * w + x) * 4];
            p[0] = 0x80, p[1] = 0x40, p[2] = 0x20, p[3] = 0xff;
            if (y < 24) p[0] = static_cast<std::uint8_t>(x / 3), p[1] = static_cast<std::uint8_t>(x / 3);
            if (x >= 100 && x < 132 && y >= 100 && y < 132) p[0] = static_cast<std::uint8_t>(rng());
        }
    auto enc = lz_encode(LzImageType::Rgb32, w, h, true, px, w * 4);
    ASSERT_TRUE(enc.ok());
    // Literal-only coding of 3 bytes per pixel would need > 900 KB.
    EXPECT_LT(enc->size(), px.size() / 50) << "compressed " << enc->size() << " of " << px.size();
    auto dec = lz_decode(*enc);
    ASSERT_TRUE(dec.ok()) << dec.error().to_string();
    for (std::size_t i = 3; i < px.size(); i += 4) px[i] = 0;
    EXPECT_EQ(dec->pixels, px);
}

TEST(CodecLz, HeaderMatchesBytesObservedFromQemu) {
    // QEMU's 720x400 primary as LZ_RGB: 20205a4c 00010001 00000008 000002d0 00000190 00000b40 00000001.
    const std::uint8_t observed[] = {0x20, 0x20, 0x5a, 0x4c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
                                     0x02, 0xd0, 0x00, 0x00, 0x01, 0x90, 0x00, 0x00, 0x0b, 0x40, 0x00, 0x00, 0x00, 0x01};
    Bytes px(720 * 400 * 4, 0);
    auto enc = lz_encode(LzImageType::Rgb32, 720, 400, true, px, 720 * 4);
    ASSERT_TRUE(enc.ok());
    ASSERT_GE(enc->size(), sizeof observed);
    EXPECT_TRUE(std::equal(std::begin(observed), std::end(observed), enc->begin()));
    auto h = lz_parse_header(ByteView(observed, sizeof observed));
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->type, LzImageType::Rgb32);
    EXPECT_EQ(h->width, 720u);
    EXPECT_EQ(h->height, 400u);
    EXPECT_EQ(h->stride, 2880u);
    EXPECT_TRUE(h->top_down);
}

TEST(CodecLz, DecodesHandWrittenRgb32RunAndLiteral) {
    // One literal pixel (B=1,G=2,R=3), then a 3-pixel run: length 3 = bias 1 + 2, so ctrl
    // = (2+1)<<5 | 0 = 0x60, distance byte 0 (one pixel back).
    auto data = with_stream(header(8, 4, 1, 16), {0x00, 1, 2, 3, 0x60, 0x00});
    auto dec = lz_decode(data);
    ASSERT_TRUE(dec.ok()) << dec.error().to_string();
    EXPECT_EQ(dec->pixels, (Bytes{1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0}));
}

TEST(CodecLz, EncoderProducesTheExpectedRunForAFlatRow) {
    Bytes px(4 * 4, 0);
    for (int i = 0; i < 4; ++i) px[4 * i] = 1, px[4 * i + 1] = 2, px[4 * i + 2] = 3;
    auto enc = lz_encode(LzImageType::Rgb32, 4, 1, true, px, 16);
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(*enc, with_stream(header(8, 4, 1, 16), {0x00, 1, 2, 3, 0x60, 0x00}));
}

TEST(CodecLz, DecodesLongLengthExtensionAndFarDistance) {
    // PLT8 (bias 3), 9000 + 300 bytes wide. Literal 'A', then 9000-1 bytes of noise would be
    // long, so instead: literal run of 1 'A', run of 8999 more 'A' (length extension), literal
    // 'B', then a 3-byte copy from 9001 back (far form: d = 9000 = 8191 + 809).
    const std::uint32_t w = 9004;
    Bytes stream = {0x00, 'A'};
    // length 8999 = bias 3 + 6 + ext: ext total 8990 = 35*255 + 65
    stream.push_back(0xE0);
    for (int i = 0; i < 35; ++i) stream.push_back(255);
    stream.push_back(65);
    stream.push_back(0x00);  // distance 1
    stream.push_back(0x00);
    stream.push_back('B');
    // Copy 3 bytes starting 9001 back (offset 9001 -> d = 9000): far form.
    stream.push_back((1u << 5) | 31);
    stream.push_back(255);
    stream.push_back(static_cast<std::uint8_t>((9000 - 8191) >> 8));
    stream.push_back(static_cast<std::uint8_t>((9000 - 8191) & 0xff));
    Bytes data = header(5, w, 1, w);
    data.insert(data.end(), stream.begin(), stream.end());
    auto dec = lz_decode(data);
    ASSERT_TRUE(dec.ok()) << dec.error().to_string();
    ASSERT_EQ(dec->pixels.size(), w);
    EXPECT_EQ(dec->pixels[0], 'A');
    EXPECT_EQ(dec->pixels[8999], 'A');
    EXPECT_EQ(dec->pixels[9000], 'B');
    EXPECT_EQ(dec->pixels[9001], 'A');
    EXPECT_EQ(dec->pixels[9003], 'A');
}

TEST(CodecLz, EncoderUsesFarDistancesForDistantRepeats) {
    // Two identical noise rows 20000 pixels apart: the second must be coded as a far copy.
    const std::uint32_t w = 20000;
    Bytes px(static_cast<std::size_t>(w) * 2);
    std::mt19937 rng(3);
    for (std::uint32_t x = 0; x < w; ++x) px[x] = px[w + x] = static_cast<std::uint8_t>(rng());
    auto enc = lz_encode(LzImageType::A8, w, 2, true, px, w);
    ASSERT_TRUE(enc.ok());
    EXPECT_LT(enc->size(), kLzHeaderBytes + w + w / 32 + 200);
    auto dec = lz_decode(*enc);
    ASSERT_TRUE(dec.ok()) << dec.error().to_string();
    EXPECT_EQ(dec->pixels, px);
}

TEST(CodecLz, RejectsMalformedHeaders) {
    struct Case {
        const char* what;
        Bytes data;
        ErrorCode code;
    };
    auto bad_magic = header(8, 1, 1, 4);
    bad_magic[0] = 0x21;
    auto bad_version = header(8, 1, 1, 4);
    bad_version[7] = 2;
    const Case cases[] = {
        {"short", Bytes(27, 0), ErrorCode::Truncated},
        {"magic", bad_magic, ErrorCode::BadMagic},
        {"version", bad_version, ErrorCode::VersionMismatch},
        {"type 0", header(0, 1, 1, 4), ErrorCode::BadValue},
        {"type 12", header(12, 1, 1, 4), ErrorCode::BadValue},
        {"zero width", header(8, 0, 1, 0), ErrorCode::BadValue},
        {"rgb stride", header(8, 2, 1, 9), ErrorCode::BadValue},
        {"plt stride small", header(5, 8, 1, 7), ErrorCode::BadValue},
        {"plt stride huge", header(5, 8, 1, 4000), ErrorCode::BadValue},
        {"top_down 2", header(8, 1, 1, 4, 2), ErrorCode::BadValue},
        {"too many pixels", header(11, 65536, 65536, 65536), ErrorCode::TooLarge},
    };
    for (const auto& c : cases) {
        auto r = lz_decode(c.data);
        ASSERT_FALSE(r.ok()) << c.what;
        EXPECT_EQ(r.error().code, c.code) << c.what << ": " << r.error().to_string();
    }
}

TEST(CodecLz, RejectsMalformedStreams) {
    struct Case {
        const char* what;
        Bytes data;
    };
    const Case cases[] = {
        {"empty stream", header(8, 2, 1, 8)},
        {"literal past input", with_stream(header(8, 2, 1, 8), {0x01, 1, 2, 3, 4})},
        {"literal past image", with_stream(header(8, 1, 1, 4), {0x01, 1, 2, 3, 4, 5, 6})},
        {"reference before start", with_stream(header(8, 4, 1, 16), {0x60, 0x00})},
        {"reference too far back", with_stream(header(8, 4, 1, 16), {0x00, 1, 2, 3, 0x40, 0x05})},
        {"match past image", with_stream(header(8, 3, 1, 12), {0x00, 1, 2, 3, 0x60, 0x00})},
        {"length extension cut", with_stream(header(11, 300, 1, 300), {0x00, 9, 0xE0, 255})},
        {"distance byte cut", with_stream(header(11, 8, 1, 8), {0x00, 9, 0x40})},
        {"far distance cut", with_stream(header(11, 8, 1, 8), {0x00, 9, 0x3f, 255, 0})},
        {"trailing bytes", with_stream(header(8, 1, 1, 4), {0x00, 1, 2, 3, 0x00})},
        {"image bigger than data", with_stream(header(11, 4096, 4096, 4096), {0x00, 1})},
        {"rgba alpha pass missing", with_stream(header(9, 1, 1, 4), {0x00, 1, 2, 3})},
    };
    for (const auto& c : cases) {
        auto r = lz_decode(c.data);
        EXPECT_FALSE(r.ok()) << c.what;
    }
}

TEST(CodecLz, SurvivesRandomMutationsOfValidStreams) {
    auto img = make_image(LzImageType::Rgba, 33, 17, 4, 11);
    auto enc = lz_encode(LzImageType::Rgba, 33, 17, true, img.pixels, img.stride);
    ASSERT_TRUE(enc.ok());
    std::mt19937 rng(99);
    int rejected = 0;
    for (int i = 0; i < 3000; ++i) {
        Bytes m = *enc;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) m[kLzHeaderBytes + rng() % (m.size() - kLzHeaderBytes)] = static_cast<std::uint8_t>(rng());
        if (rng() % 4 == 0) m.resize(kLzHeaderBytes + rng() % (m.size() - kLzHeaderBytes));
        auto r = lz_decode(m);
        if (!r.ok()) {
            ++rejected;
        } else {
            EXPECT_EQ(r->pixels.size(), 33u * 17u * 4u);
        }
    }
    EXPECT_GT(rejected, 100);
}

TEST(CodecLz, BitmapHelpersCarryFormatPaletteAndOrientation) {
    Bitmap b;
    b.format = BitmapFormat::Bit4BE;
    b.width = 5;
    b.height = 2;
    b.stride = 4;
    b.top_down = false;
    b.data = {0x12, 0x34, 0x50, 0xEE, 0x65, 0x43, 0x20, 0xEE};
    auto enc = lz_encode_bitmap(b);
    ASSERT_TRUE(enc.ok());
    auto pal = std::make_shared<Palette>();
    pal->ents.assign(16, 0x00ff00);
    auto dec = lz_decode_bitmap(*enc, pal);
    ASSERT_TRUE(dec.ok()) << dec.error().to_string();
    EXPECT_EQ(dec->format, BitmapFormat::Bit4BE);
    EXPECT_FALSE(dec->top_down);
    EXPECT_EQ(dec->stride, 3u);
    EXPECT_EQ(dec->data, (Bytes{0x12, 0x34, 0x50, 0x65, 0x43, 0x20}));
    EXPECT_EQ(dec->palette, pal);
    EXPECT_FALSE(lz_decode_bitmap(*enc, nullptr).ok()) << "palette images need a palette";
}

}  // namespace
}  // namespace qxlbox::proto::codec
