#include "protocol/codec/lz.h"

#include <algorithm>
#include <string>
#include <vector>

namespace qxlbox::proto::codec {

using wire::ErrorCode;
using wire::make_error;

namespace {

constexpr unsigned kMaxLiteralRun = 32;         // control bytes 0..31
constexpr std::uint32_t kMaxNearDistance = 8191;  // d < 8191 fits 13 bits; 8191 marks the far form
constexpr std::uint32_t kMaxOffset = kMaxNearDistance + 65535 + 1;  // units back, far form
constexpr unsigned kHashBits = 16;
constexpr int kChainDepth = 24;

enum class UnitKind { Bgr, Word16, Byte };

// One LZ stream: a sequence of units and how they are written.
struct Pass {
    UnitKind kind = UnitKind::Byte;
    unsigned bias = 3;  // shortest encodable match, added back by the decoder
};

bool is_palette(LzImageType t) {
    switch (t) {
    case LzImageType::Plt1Le:
    case LzImageType::Plt1Be:
    case LzImageType::Plt4Le:
    case LzImageType::Plt4Be:
    case LzImageType::Plt8: return true;
    default: return false;
    }
}

unsigned palette_bpp(LzImageType t) {
    switch (t) {
    case LzImageType::Plt1Le:
    case LzImageType::Plt1Be: return 1;
    case LzImageType::Plt4Le:
    case LzImageType::Plt4Be: return 4;
    case LzImageType::Plt8: return 8;
    default: return 0;
    }
}

bool valid_type(std::uint32_t t) { return t >= 1 && t <= 11; }

// The passes of a type, in stream order.
std::vector<Pass> passes_of(LzImageType t) {
    switch (t) {
    case LzImageType::Rgb16: return {{UnitKind::Word16, 2}};
    case LzImageType::Rgb24:
    case LzImageType::Rgb32: return {{UnitKind::Bgr, 1}};
    case LzImageType::Rgba: return {{UnitKind::Bgr, 1}, {UnitKind::Byte, 3}};
    default: return {{UnitKind::Byte, 3}};
    }
}

// Gathers the units of pass `pass_index` from the rows.
std::vector<std::uint32_t> units_of(LzImageType t, std::size_t pass_index, std::uint32_t width, std::uint32_t height,
                                    const std::uint8_t* pixels, std::uint32_t src_stride, std::uint64_t row_bytes) {
    std::vector<std::uint32_t> u;
    const bool palette = is_palette(t) || t == LzImageType::A8;
    u.reserve(static_cast<std::size_t>(palette ? row_bytes * height : std::uint64_t{width} * height));
    for (std::uint32_t y = 0; y < height; ++y) {
        const std::uint8_t* row = pixels + static_cast<std::size_t>(y) * src_stride;
        if (palette) {
            for (std::uint64_t i = 0; i < row_bytes; ++i) u.push_back(row[i]);
            continue;
        }
        for (std::uint32_t x = 0; x < width; ++x) {
            switch (t) {
            case LzImageType::Rgb16: u.push_back(static_cast<std::uint32_t>(row[2 * x] | (row[2 * x + 1] << 8))); break;
            case LzImageType::Rgb24:
                u.push_back(static_cast<std::uint32_t>(row[3 * x] | (row[3 * x + 1] << 8) | (row[3 * x + 2] << 16)));
                break;
            case LzImageType::Xxxa: u.push_back(row[4 * x + 3]); break;
            default:  // Rgb32, Rgba
                if (pass_index == 0)
                    u.push_back(static_cast<std::uint32_t>(row[4 * x] | (row[4 * x + 1] << 8) | (row[4 * x + 2] << 16)));
                else
                    u.push_back(row[4 * x + 3]);
                break;
            }
        }
    }
    return u;
}

class StreamWriter {
public:
    explicit StreamWriter(Bytes& out) : out_(out) {}

    void literals(const std::vector<std::uint32_t>& u, std::size_t from, std::size_t to, UnitKind kind) {
        while (from < to) {
            const std::size_t n = std::min<std::size_t>(kMaxLiteralRun, to - from);
            out_.push_back(static_cast<std::uint8_t>(n - 1));
            for (std::size_t i = from; i < from + n; ++i) unit(u[i], kind);
            from += n;
        }
    }

    // `length` >= bias units copied from `offset` (>= 1) units back.
    void match(std::size_t length, std::size_t offset, unsigned bias) {
        std::size_t v = length - bias;
        const std::uint32_t d = static_cast<std::uint32_t>(offset - 1);
        const bool near = d < kMaxNearDistance;
        const std::uint8_t dist_hi = near ? static_cast<std::uint8_t>(d >> 8) : 31;
        if (v < 6) {
            out_.push_back(static_cast<std::uint8_t>(((v + 1) << 5) | dist_hi));
        } else {
            out_.push_back(static_cast<std::uint8_t>((7u << 5) | dist_hi));
            v -= 6;
            for (; v >= 255; v -= 255) out_.push_back(255);
            out_.push_back(static_cast<std::uint8_t>(v));
        }
        if (near) {
            out_.push_back(static_cast<std::uint8_t>(d & 0xff));
        } else {
            const std::uint32_t far = d - kMaxNearDistance;
            out_.push_back(255);
            out_.push_back(static_cast<std::uint8_t>(far >> 8));
            out_.push_back(static_cast<std::uint8_t>(far & 0xff));
        }
    }

private:
    void unit(std::uint32_t v, UnitKind kind) {
        switch (kind) {
        case UnitKind::Bgr:
            out_.push_back(static_cast<std::uint8_t>(v));
            out_.push_back(static_cast<std::uint8_t>(v >> 8));
            out_.push_back(static_cast<std::uint8_t>(v >> 16));
            break;
        case UnitKind::Word16:  // high byte first
            out_.push_back(static_cast<std::uint8_t>(v >> 8));
            out_.push_back(static_cast<std::uint8_t>(v));
            break;
        case UnitKind::Byte: out_.push_back(static_cast<std::uint8_t>(v)); break;
        }
    }
    Bytes& out_;
};

void encode_pass(const std::vector<std::uint32_t>& u, const Pass& pass, Bytes& out) {
    StreamWriter w(out);
    const std::size_t n = u.size();
    // Matches shorter than this cost more than the literals they replace (or cannot be coded).
    const std::size_t min_match = std::max<std::size_t>(pass.bias, 2);
    std::vector<std::int32_t> head(1u << kHashBits, -1);
    std::vector<std::int32_t> prev(n, -1);
    auto hash_at = [&](std::size_t i) {
        std::uint32_t h = 2166136261u;
        for (std::size_t k = 0; k < min_match; ++k) h = (h ^ u[i + k]) * 16777619u;
        return (h ^ (h >> 16)) & ((1u << kHashBits) - 1);
    };
    auto insert = [&](std::size_t i) {
        if (i + min_match > n) return;
        const auto h = hash_at(i);
        prev[i] = head[h];
        head[h] = static_cast<std::int32_t>(i);
    };

    std::size_t literal_start = 0;
    std::size_t i = 0;
    while (i < n) {
        std::size_t best_len = 0;
        std::size_t best_off = 0;
        if (i + min_match <= n) {
            std::int32_t cand = head[hash_at(i)];
            for (int depth = 0; cand >= 0 && depth < kChainDepth; ++depth, cand = prev[static_cast<std::size_t>(cand)]) {
                const std::size_t c = static_cast<std::size_t>(cand);
                const std::size_t off = i - c;
                if (off > kMaxOffset) break;
                std::size_t len = 0;
                while (i + len < n && u[c + len] == u[i + len]) ++len;
                if (len > best_len) {
                    best_len = len;
                    best_off = off;
                    if (i + len == n) break;
                }
            }
        }
        if (best_len >= min_match) {
            w.literals(u, literal_start, i, pass.kind);
            w.match(best_len, best_off, pass.bias);
            for (std::size_t k = 0; k < best_len; ++k) insert(i + k);
            i += best_len;
            literal_start = i;
        } else {
            insert(i);
            ++i;
        }
    }
    w.literals(u, literal_start, n, pass.kind);
}

// Decodes one pass of `count` units from data[ip..], advancing ip.
wire::Status decode_pass(ByteView data, std::size_t& ip, const Pass& pass, std::vector<std::uint32_t>& u,
                         std::size_t count) {
    u.assign(count, 0);
    std::size_t op = 0;
    auto need = [&](std::size_t n) { return data.size() - ip >= n; };
    const std::size_t unit_bytes = pass.kind == UnitKind::Bgr ? 3 : pass.kind == UnitKind::Word16 ? 2 : 1;
    while (op < count) {
        if (!need(1)) return make_error(ErrorCode::Truncated, "LZ stream ends early");
        const std::uint32_t ctrl = data[ip++];
        if (ctrl < kMaxLiteralRun) {
            const std::size_t run = ctrl + 1;
            if (run > count - op) return make_error(ErrorCode::BadValue, "LZ literal run past the image end");
            if (!need(run * unit_bytes)) return make_error(ErrorCode::Truncated, "LZ literal run past input end");
            for (std::size_t k = 0; k < run; ++k) {
                const std::uint8_t* p = data.data() + ip;
                switch (pass.kind) {
                case UnitKind::Bgr: u[op++] = static_cast<std::uint32_t>(p[0] | (p[1] << 8) | (p[2] << 16)); break;
                case UnitKind::Word16: u[op++] = static_cast<std::uint32_t>((p[0] << 8) | p[1]); break;
                case UnitKind::Byte: u[op++] = p[0]; break;
                }
                ip += unit_bytes;
            }
            continue;
        }
        std::size_t len = (ctrl >> 5) - 1;
        std::size_t dist = (ctrl & 31) << 8;
        if (len == 6) {
            std::uint8_t code = 0;
            do {
                if (!need(1)) return make_error(ErrorCode::Truncated, "LZ length past input end");
                code = data[ip++];
                len += code;
                if (len > count) return make_error(ErrorCode::BadValue, "LZ match longer than the image");
            } while (code == 255);
        }
        if (!need(1)) return make_error(ErrorCode::Truncated, "LZ distance past input end");
        const std::uint8_t low = data[ip++];
        dist += low;
        if (low == 255 && (ctrl & 31) == 31) {
            if (!need(2)) return make_error(ErrorCode::Truncated, "LZ far distance past input end");
            dist = (static_cast<std::size_t>(data[ip]) << 8 | data[ip + 1]) + kMaxNearDistance;
            ip += 2;
        }
        len += pass.bias;
        const std::size_t offset = dist + 1;
        if (offset > op) return make_error(ErrorCode::BadValue, "LZ reference before the image start");
        if (len > count - op) return make_error(ErrorCode::BadValue, "LZ match past the image end");
        for (std::size_t k = 0; k < len; ++k, ++op) u[op] = u[op - offset];
    }
    return wire::Ok{};
}

std::uint64_t units_per_pass(const LzHeader& h) {
    if (is_palette(h.type)) return std::uint64_t{h.stride} * h.height;
    return std::uint64_t{h.width} * h.height;
}

}  // namespace

unsigned lz_pixel_bytes(LzImageType type) {
    switch (type) {
    case LzImageType::Rgb16: return 2;
    case LzImageType::Rgb24: return 3;
    case LzImageType::Rgb32:
    case LzImageType::Rgba:
    case LzImageType::Xxxa: return 4;
    case LzImageType::A8: return 1;
    default: return 0;
    }
}

std::uint64_t lz_row_bytes(LzImageType type, std::uint32_t width) {
    if (is_palette(type)) return (std::uint64_t{width} * palette_bpp(type) + 7) / 8;
    return std::uint64_t{width} * lz_pixel_bytes(type);
}

Result<LzHeader> lz_parse_header(ByteView data) {
    if (data.size() < kLzHeaderBytes) return make_error(ErrorCode::Truncated, "LZ header");
    const std::uint8_t* p = data.data();
    if (wire::load_be32(p) != kLzMagic) return make_error(ErrorCode::BadMagic, "LZ magic");
    if (wire::load_be32(p + 4) != kLzVersion) return make_error(ErrorCode::VersionMismatch, "LZ version");
    const std::uint32_t type = wire::load_be32(p + 8);
    if (!valid_type(type)) return make_error(ErrorCode::BadValue, "LZ image type " + std::to_string(type));
    LzHeader h;
    h.type = static_cast<LzImageType>(type);
    h.width = wire::load_be32(p + 12);
    h.height = wire::load_be32(p + 16);
    h.stride = wire::load_be32(p + 20);
    const std::uint32_t top_down = wire::load_be32(p + 24);
    if (top_down > 1) return make_error(ErrorCode::BadValue, "LZ top_down");
    h.top_down = top_down == 1;
    if (h.width == 0 || h.height == 0) return make_error(ErrorCode::BadValue, "LZ image is empty");
    if (std::uint64_t{h.width} * h.height > kLzMaxPixels) return make_error(ErrorCode::TooLarge, "LZ image too large");
    const std::uint64_t row = lz_row_bytes(h.type, h.width);
    if (is_palette(h.type)) {
        // spice's encoder allows exactly the packed row (plus a partial last byte); tolerate a
        // little padding but nothing that would let the stride inflate the image.
        if (h.stride < row || h.stride > row + 4) return make_error(ErrorCode::BadValue, "LZ palette stride");
    } else if (h.stride != row) {
        return make_error(ErrorCode::BadValue, "LZ stride is not width * bytes per pixel");
    }
    return h;
}

Result<Bytes> lz_encode(LzImageType type, std::uint32_t width, std::uint32_t height, bool top_down, ByteView pixels,
                        std::uint32_t src_stride) {
    if (!valid_type(static_cast<std::uint32_t>(type))) return make_error(ErrorCode::BadValue, "LZ image type");
    if (width == 0 || height == 0) return make_error(ErrorCode::BadValue, "LZ image is empty");
    if (std::uint64_t{width} * height > kLzMaxPixels) return make_error(ErrorCode::TooLarge, "LZ image too large");
    const std::uint64_t row = lz_row_bytes(type, width);
    if (src_stride < row) return make_error(ErrorCode::BadValue, "source stride below row size");
    if (std::uint64_t{src_stride} * (height - 1) + row > pixels.size())
        return make_error(ErrorCode::Truncated, "source pixels shorter than the image");

    Bytes out;
    wire::put_be32(out, kLzMagic);
    wire::put_be32(out, kLzVersion);
    wire::put_be32(out, static_cast<std::uint32_t>(type));
    wire::put_be32(out, width);
    wire::put_be32(out, height);
    wire::put_be32(out, static_cast<std::uint32_t>(row));
    wire::put_be32(out, top_down ? 1 : 0);
    const auto passes = passes_of(type);
    for (std::size_t p = 0; p < passes.size(); ++p) {
        auto u = units_of(type, p, width, height, pixels.data(), src_stride, row);
        encode_pass(u, passes[p], out);
    }
    return out;
}

Result<LzImage> lz_decode(ByteView data) {
    auto h = lz_parse_header(data);
    if (!h) return h.error();
    const auto passes = passes_of(h->type);
    const std::uint64_t units = units_per_pass(*h);
    // No item yields more than 255 units per input byte, so larger claims are lies; checking
    // first keeps a 40-byte message from allocating the maximum image.
    const std::uint64_t input = data.size() - kLzHeaderBytes;
    if (units * passes.size() > 256 * input + 64)
        return make_error(ErrorCode::Truncated, "LZ image larger than its data could encode");

    std::size_t ip = kLzHeaderBytes;
    std::vector<std::vector<std::uint32_t>> decoded(passes.size());
    for (std::size_t p = 0; p < passes.size(); ++p) {
        auto st = decode_pass(data, ip, passes[p], decoded[p], static_cast<std::size_t>(units));
        if (!st) return st.error();
    }
    if (ip != data.size()) return make_error(ErrorCode::BadValue, "LZ stream has trailing bytes");

    LzImage img;
    img.header = *h;
    const bool palette = is_palette(h->type);
    img.stride = palette ? h->stride : static_cast<std::uint32_t>(lz_row_bytes(h->type, h->width));
    img.pixels.resize(static_cast<std::size_t>(std::uint64_t{img.stride} * h->height));
    std::uint8_t* o = img.pixels.data();
    const auto& u0 = decoded[0];
    for (std::size_t i = 0; i < u0.size(); ++i) {
        switch (h->type) {
        case LzImageType::Rgb16:
            o[2 * i] = static_cast<std::uint8_t>(u0[i]);
            o[2 * i + 1] = static_cast<std::uint8_t>(u0[i] >> 8);
            break;
        case LzImageType::Rgb24:
            o[3 * i] = static_cast<std::uint8_t>(u0[i]);
            o[3 * i + 1] = static_cast<std::uint8_t>(u0[i] >> 8);
            o[3 * i + 2] = static_cast<std::uint8_t>(u0[i] >> 16);
            break;
        case LzImageType::Rgb32:
        case LzImageType::Rgba:
            o[4 * i] = static_cast<std::uint8_t>(u0[i]);
            o[4 * i + 1] = static_cast<std::uint8_t>(u0[i] >> 8);
            o[4 * i + 2] = static_cast<std::uint8_t>(u0[i] >> 16);
            o[4 * i + 3] = h->type == LzImageType::Rgba ? static_cast<std::uint8_t>(decoded[1][i]) : 0;
            break;
        case LzImageType::Xxxa: o[4 * i + 3] = static_cast<std::uint8_t>(u0[i]); break;
        default: o[i] = static_cast<std::uint8_t>(u0[i]); break;  // palette bytes, A8
        }
    }
    return img;
}

LzImageType lz_type_for(BitmapFormat format) {
    switch (format) {
    case BitmapFormat::Bit1LE: return LzImageType::Plt1Le;
    case BitmapFormat::Bit1BE: return LzImageType::Plt1Be;
    case BitmapFormat::Bit4LE: return LzImageType::Plt4Le;
    case BitmapFormat::Bit4BE: return LzImageType::Plt4Be;
    case BitmapFormat::Bit8: return LzImageType::Plt8;
    case BitmapFormat::Bit16: return LzImageType::Rgb16;
    case BitmapFormat::Bit24: return LzImageType::Rgb24;
    case BitmapFormat::Bit32: return LzImageType::Rgb32;
    case BitmapFormat::RGBA: return LzImageType::Rgba;
    case BitmapFormat::Bit8A: return LzImageType::A8;
    case BitmapFormat::Invalid: break;
    }
    return LzImageType::Invalid;
}

Result<Bytes> lz_encode_bitmap(const Bitmap& bitmap) {
    const LzImageType type = lz_type_for(bitmap.format);
    if (type == LzImageType::Invalid) return make_error(ErrorCode::BadValue, "bitmap format has no LZ type");
    return lz_encode(type, bitmap.width, bitmap.height, bitmap.top_down, bitmap.data, bitmap.stride);
}

Result<Bitmap> lz_decode_bitmap(ByteView data, std::shared_ptr<const Palette> palette) {
    auto img = lz_decode(data);
    if (!img) return img.error();
    Bitmap b;
    switch (img->header.type) {
    case LzImageType::Plt1Le: b.format = BitmapFormat::Bit1LE; break;
    case LzImageType::Plt1Be: b.format = BitmapFormat::Bit1BE; break;
    case LzImageType::Plt4Le: b.format = BitmapFormat::Bit4LE; break;
    case LzImageType::Plt4Be: b.format = BitmapFormat::Bit4BE; break;
    case LzImageType::Plt8: b.format = BitmapFormat::Bit8; break;
    case LzImageType::Rgb16: b.format = BitmapFormat::Bit16; break;
    case LzImageType::Rgb24: b.format = BitmapFormat::Bit24; break;
    case LzImageType::Rgb32: b.format = BitmapFormat::Bit32; break;
    case LzImageType::Rgba:
    case LzImageType::Xxxa: b.format = BitmapFormat::RGBA; break;
    case LzImageType::A8: b.format = BitmapFormat::Bit8A; break;
    case LzImageType::Invalid: return make_error(ErrorCode::BadValue, "LZ image type");
    }
    if (bitmap_format_needs_palette(b.format)) {
        if (!palette || palette->ents.empty()) return make_error(ErrorCode::BadValue, "LZ_PLT image without a palette");
        b.palette = std::move(palette);
    }
    b.top_down = img->header.top_down;
    b.width = img->header.width;
    b.height = img->header.height;
    b.stride = img->stride;
    b.data = std::move(img->pixels);
    return b;
}

}  // namespace qxlbox::proto::codec
