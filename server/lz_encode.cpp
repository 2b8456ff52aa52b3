#include "server/lz_encode.h"

#include <algorithm>

namespace qxlbox::server {
namespace {

constexpr std::uint32_t kLzMagic = 0x20205A4C;
constexpr std::uint32_t kLzVersion = 0x00010001;
constexpr std::uint32_t kLzTypeRgb24 = 7;
constexpr std::uint32_t kLzTypeRgb32 = 8;
constexpr std::size_t kMaxLiteralRun = 32;
constexpr std::uint32_t kMaxShortDistance = 8190;  // 8191 and above need the far form

void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

struct Encoder {
    std::vector<std::uint32_t> px;  // 0x00RRGGBB, in storage row order
    std::vector<std::uint8_t> out;
    std::size_t literal_start = 0;
    std::size_t literal_count = 0;

    void flush_literals() {
        std::size_t i = literal_start;
        while (literal_count > 0) {
            std::size_t n = std::min(literal_count, kMaxLiteralRun);
            out.push_back(static_cast<std::uint8_t>(n - 1));
            for (std::size_t k = 0; k < n; ++k, ++i) {
                std::uint32_t p = px[i];
                out.push_back(static_cast<std::uint8_t>(p));
                out.push_back(static_cast<std::uint8_t>(p >> 8));
                out.push_back(static_cast<std::uint8_t>(p >> 16));
            }
            literal_count -= n;
        }
    }

    // A match of `len` pixels whose source begins `back` pixels earlier (back >= 1).
    void emit_match(std::size_t len, std::uint32_t back) {
        std::uint32_t d = back - 1;
        // RGB32/RGB24 length bias is 1: lengths 1..6 fit in the control byte, 7+ extend.
        std::size_t l3 = len < 7 ? len : 7;
        out.push_back(static_cast<std::uint8_t>((l3 << 5) | (d >> 8)));
        if (l3 == 7) {
            std::size_t rest = len - 7;
            while (rest >= 255) {
                out.push_back(255);
                rest -= 255;
            }
            out.push_back(static_cast<std::uint8_t>(rest));
        }
        out.push_back(static_cast<std::uint8_t>(d & 0xff));
    }
};

}  // namespace

std::optional<std::vector<std::uint8_t>> lz_encode_rgb(const proto::Bitmap& bitmap) {
    unsigned bytes_pp = 0;
    std::uint32_t lz_type = 0;
    if (bitmap.format == proto::BitmapFormat::Bit32) {
        bytes_pp = 4;
        lz_type = kLzTypeRgb32;
    } else if (bitmap.format == proto::BitmapFormat::Bit24) {
        bytes_pp = 3;
        lz_type = kLzTypeRgb24;
    } else {
        return std::nullopt;
    }
    const std::uint64_t w = bitmap.width, h = bitmap.height;
    if (w == 0 || h == 0 || bitmap.stride < w * bytes_pp) return std::nullopt;
    if (bitmap.data.size() < (h - 1) * bitmap.stride + w * bytes_pp) return std::nullopt;

    Encoder e;
    e.px.resize(static_cast<std::size_t>(w * h));
    for (std::uint64_t y = 0; y < h; ++y) {
        const std::uint8_t* row = bitmap.data.data() + y * bitmap.stride;
        for (std::uint64_t x = 0; x < w; ++x) {
            const std::uint8_t* p = row + x * bytes_pp;
            e.px[static_cast<std::size_t>(y * w + x)] =
                p[0] | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16);
        }
    }
    put_be32(e.out, kLzMagic);
    put_be32(e.out, kLzVersion);
    put_be32(e.out, lz_type);
    put_be32(e.out, static_cast<std::uint32_t>(w));
    put_be32(e.out, static_cast<std::uint32_t>(h));
    put_be32(e.out, static_cast<std::uint32_t>(w * bytes_pp));
    put_be32(e.out, bitmap.top_down ? 1 : 0);

    const std::size_t n = e.px.size();
    const std::size_t row = static_cast<std::size_t>(w);
    std::size_t i = 0;
    while (i < n) {
        std::size_t run_len = 0;
        if (i >= 1) {
            while (i + run_len < n && e.px[i + run_len] == e.px[i - 1]) ++run_len;
        }
        std::size_t up_len = 0;
        if (i >= row && row - 1 <= kMaxShortDistance) {
            while (i + up_len < n && e.px[i + up_len] == e.px[i + up_len - row]) ++up_len;
        }
        std::size_t best = std::max(run_len, up_len);
        if (best >= 2) {
            e.flush_literals();
            e.emit_match(best, run_len >= up_len ? 1 : static_cast<std::uint32_t>(row));
            i += best;
            e.literal_start = i;
            continue;
        }
        if (e.literal_count == 0) e.literal_start = i;
        ++e.literal_count;
        ++i;
    }
    e.flush_literals();
    return std::move(e.out);
}

}  // namespace qxlbox::server
