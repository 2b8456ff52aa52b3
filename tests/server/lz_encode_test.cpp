#include <gtest/gtest.h>

#include <random>

#include "server/lz_encode.h"

namespace qxlbox::server {
namespace {

std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t off) {
    return (std::uint32_t{b[off]} << 24) | (std::uint32_t{b[off + 1]} << 16) | (std::uint32_t{b[off + 2]} << 8) |
           b[off + 3];
}

// An independent decoder of the RGB32 LZ grammar as spice-protocol.md §9 states it.
std::optional<std::vector<std::uint32_t>> decode_rgb32(const std::vector<std::uint8_t>& in) {
    if (in.size() < 28 || be32(in, 0) != 0x20205A4C || be32(in, 8) != 8) return std::nullopt;
    std::size_t n = std::size_t{be32(in, 12)} * be32(in, 16);
    std::vector<std::uint32_t> out;
    std::size_t p = 28;
    while (out.size() < n) {
        if (p >= in.size()) return std::nullopt;
        std::uint8_t c = in[p++];
        if (c < 32) {
            for (int k = 0; k <= c; ++k) {
                if (p + 3 > in.size()) return std::nullopt;
                out.push_back(in[p] | (std::uint32_t{in[p + 1]} << 8) | (std::uint32_t{in[p + 2]} << 16));
                p += 3;
            }
            continue;
        }
        std::size_t len = c >> 5;
        if (len == 7) {
            std::uint8_t e;
            do {
                if (p >= in.size()) return std::nullopt;
                e = in[p++];
                len += e;
            } while (e == 255);
        }
        len = len - 1 + 1;  // L3 - 1 + extensions + bias(1)
        if (p >= in.size()) return std::nullopt;
        std::size_t d = (std::size_t{c & 31u} << 8) + in[p++];
        if ((c & 31) == 31 && in[p - 1] == 255) {
            if (p + 2 > in.size()) return std::nullopt;
            d = 8191 + (std::size_t{in[p]} << 8) + in[p + 1];
            p += 2;
        }
        if (d + 1 > out.size()) return std::nullopt;
        std::size_t src = out.size() - d - 1;
        for (std::size_t k = 0; k < len; ++k) out.push_back(out[src + k]);
    }
    if (out.size() != n) return std::nullopt;
    return out;
}

proto::Bitmap bitmap(std::uint32_t w, std::uint32_t h, const std::vector<std::uint32_t>& px) {
    proto::Bitmap bm;
    bm.format = proto::BitmapFormat::Bit32;
    bm.top_down = true;
    bm.width = w;
    bm.height = h;
    bm.stride = w * 4;
    bm.data.resize(px.size() * 4);
    for (std::size_t i = 0; i < px.size(); ++i)
        for (int b = 0; b < 4; ++b) bm.data[i * 4 + b] = static_cast<std::uint8_t>(px[i] >> (8 * b));
    return bm;
}

TEST(LzEncode, SolidImageRoundTripsAndCompresses) {
    std::vector<std::uint32_t> px(200 * 100, 0x336699);
    auto bm = bitmap(200, 100, px);
    auto lz = lz_encode_rgb(bm);
    ASSERT_TRUE(lz);
    EXPECT_LT(lz->size(), bm.data.size() / 50);
    auto back = decode_rgb32(*lz);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, px);
}

TEST(LzEncode, NoiseAndStripesRoundTrip) {
    std::mt19937 rng(5);
    std::vector<std::uint32_t> px(97 * 61);
    for (std::size_t i = 0; i < px.size(); ++i) {
        std::size_t y = i / 97;
        px[i] = (y % 3 == 0) ? (rng() & 0xffffff) : (y % 3 == 1 ? px[i - 97] : 0x10u * static_cast<std::uint32_t>(i % 7));
    }
    auto lz = lz_encode_rgb(bitmap(97, 61, px));
    ASSERT_TRUE(lz);
    auto back = decode_rgb32(*lz);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, px);
}

TEST(LzEncode, HeaderCarriesDescriptorSizeAndRgbStride) {
    auto lz = lz_encode_rgb(bitmap(3, 2, std::vector<std::uint32_t>(6, 1)));
    ASSERT_TRUE(lz);
    EXPECT_EQ(be32(*lz, 4), 0x00010001u);
    EXPECT_EQ(be32(*lz, 12), 3u);
    EXPECT_EQ(be32(*lz, 16), 2u);
    EXPECT_EQ(be32(*lz, 20), 12u);
    EXPECT_EQ(be32(*lz, 24), 1u);
}

TEST(LzEncode, RejectsPaletteFormatsAndShortData) {
    auto bm = bitmap(4, 4, std::vector<std::uint32_t>(16, 0));
    bm.format = proto::BitmapFormat::Bit8;
    EXPECT_FALSE(lz_encode_rgb(bm));
    auto shortbm = bitmap(4, 4, std::vector<std::uint32_t>(16, 0));
    shortbm.data.resize(10);
    EXPECT_FALSE(lz_encode_rgb(shortbm));
}

}  // namespace
}  // namespace qxlbox::server
