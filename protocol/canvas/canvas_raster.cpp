// Raw raster operations of the canvas: the SPICE ROPs, the ternary ROP3 table, fills, tiles,
// blits, colour-keyed blits and overlap-safe moves on raw pixel values (what spice-common's
// pixman_utils.c and rop3.c do). Plain copies and solid fills go to pixman_blt / pixman_fill.
#include <algorithm>
#include <cstring>

#include "protocol/canvas/canvas_internal.h"

namespace qxlbox::proto::canvas_detail {

Rop rop_from_descriptor(std::uint16_t descriptor, RopInput src_input, RopInput dest_input) {
    auto invert_bit = [](RopInput input) -> std::uint16_t {
        switch (input) {
        case RopInput::Src: return rop::kInversSrc;
        case RopInput::Brush: return rop::kInversBrush;
        case RopInput::Dest: return rop::kInversDest;
        }
        return 0;
    };
    const bool inv_src = (descriptor & invert_bit(src_input)) != 0;
    const bool inv_dst = (descriptor & invert_bit(dest_input)) != 0;
    const bool inv_res = (descriptor & rop::kInversRes) != 0;

    // Priority order and the three constant operations (which ignore INVERS_RES) as in
    // spice-common's ropd_descriptor_to_rop().
    int op = -1;  // 0 put, 1 or, 2 and, 3 xor
    if (descriptor & rop::kOpPut) {
        op = 0;
    } else if (descriptor & rop::kOpOr) {
        op = 1;
    } else if (descriptor & rop::kOpAnd) {
        op = 2;
    } else if (descriptor & rop::kOpXor) {
        op = 3;
    } else if (descriptor & rop::kOpBlackness) {
        return Rop::Clear;
    } else if (descriptor & rop::kOpWhiteness) {
        return Rop::Set;
    } else if (descriptor & rop::kOpInvers) {
        return Rop::Invert;
    } else {
        return Rop::Copy;
    }
    // The GX code of a two-input function has bit ((1 - s) << 1 | (1 - d)) set when f(s, d) = 1.
    unsigned code = 0;
    for (int s = 0; s <= 1; ++s) {
        for (int d = 0; d <= 1; ++d) {
            const int s2 = s ^ (inv_src ? 1 : 0);
            const int d2 = d ^ (inv_dst ? 1 : 0);
            int r = 0;
            switch (op) {
            case 0: r = s2; break;
            case 1: r = s2 | d2; break;
            case 2: r = s2 & d2; break;
            default: r = s2 ^ d2; break;
            }
            r ^= inv_res ? 1 : 0;
            if (r) code |= 1u << (((1 - s) << 1) | (1 - d));
        }
    }
    return static_cast<Rop>(code);
}

std::uint32_t apply_rop3(std::uint8_t code, std::uint32_t pat, std::uint32_t src, std::uint32_t dst) {
    // Sum of the minterms selected by the code, evaluated on all bits at once.
    std::uint32_t result = 0;
    for (unsigned term = 0; term < 8; ++term) {
        if (!((code >> term) & 1)) continue;
        const std::uint32_t p = (term & 4) ? pat : ~pat;
        const std::uint32_t s = (term & 2) ? src : ~src;
        const std::uint32_t d = (term & 1) ? dst : ~dst;
        result |= p & s & d;
    }
    return result;
}

static pixman_box32_t clamp_box(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h) {
    constexpr std::int64_t lo = INT32_MIN / 2, hi = INT32_MAX / 2;
    std::int64_t x2 = x + std::max<std::int64_t>(w, 0), y2 = y + std::max<std::int64_t>(h, 0);
    pixman_box32_t b{};
    b.x1 = static_cast<std::int32_t>(std::clamp(x, lo, hi));
    b.y1 = static_cast<std::int32_t>(std::clamp(y, lo, hi));
    b.x2 = static_cast<std::int32_t>(std::clamp(x2, lo, hi));
    b.y2 = static_cast<std::int32_t>(std::clamp(y2, lo, hi));
    return b;
}

Region::Region(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h) {
    pixman_box32_t b = clamp_box(x, y, w, h);
    if (b.x2 <= b.x1 || b.y2 <= b.y1) {
        pixman_region32_init(&r_);
    } else {
        pixman_region32_init_with_extents(&r_, &b);
    }
}

void Region::intersect_rect(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h) {
    Region other(x, y, w, h);
    intersect(other);
}

pixman_format_code_t pixman_format_of(SurfaceFormat format) {
    switch (format) {
    case SurfaceFormat::A1: return PIXMAN_a1;
    case SurfaceFormat::A8: return PIXMAN_a8;
    case SurfaceFormat::RGB555: return PIXMAN_x1r5g5b5;
    case SurfaceFormat::RGB565: return PIXMAN_r5g6b5;
    case SurfaceFormat::XRGB32: return PIXMAN_x8r8g8b8;
    case SurfaceFormat::ARGB32: return PIXMAN_a8r8g8b8;
    case SurfaceFormat::Invalid: break;
    }
    return static_cast<pixman_format_code_t>(0);
}

int image_bpp(pixman_image_t* image) {
    return PIXMAN_FORMAT_BPP(pixman_image_get_format(image));
}

std::uint32_t load_pixel(const std::uint8_t* row, int bpp, int x) {
    switch (bpp) {
    case 1: return (row[x >> 3] >> (x & 7)) & 1u;
    case 8: return row[x];
    case 16: {
        std::uint16_t v = 0;
        std::memcpy(&v, row + 2 * static_cast<std::ptrdiff_t>(x), 2);
        return v;
    }
    default: {
        std::uint32_t v = 0;
        std::memcpy(&v, row + 4 * static_cast<std::ptrdiff_t>(x), 4);
        return v;
    }
    }
}

void store_pixel(std::uint8_t* row, int bpp, int x, std::uint32_t value) {
    switch (bpp) {
    case 1: {
        const std::uint8_t bit = static_cast<std::uint8_t>(1u << (x & 7));
        if (value & 1) {
            row[x >> 3] = static_cast<std::uint8_t>(row[x >> 3] | bit);
        } else {
            row[x >> 3] = static_cast<std::uint8_t>(row[x >> 3] & ~bit);
        }
        break;
    }
    case 8: row[x] = static_cast<std::uint8_t>(value); break;
    case 16: {
        const auto v = static_cast<std::uint16_t>(value);
        std::memcpy(row + 2 * static_cast<std::ptrdiff_t>(x), &v, 2);
        break;
    }
    default: std::memcpy(row + 4 * static_cast<std::ptrdiff_t>(x), &value, 4); break;
    }
}

void fill_box_rop(pixman_image_t* dest, const pixman_box32_t& box, std::uint32_t value, Rop rop) {
    const int bpp = image_bpp(dest);
    for (int y = box.y1; y < box.y2; ++y) {
        std::uint8_t* row = row_of(dest, y);
        for (int x = box.x1; x < box.x2; ++x) {
            store_pixel(row, bpp, x, apply_rop(rop, value, load_pixel(row, bpp, x)));
        }
    }
}

void fill_rects(pixman_image_t* dest, const Region& region, std::uint32_t value) {
    const int bpp = image_bpp(dest);
    int n = 0;
    const pixman_box32_t* boxes = region.rects(n);
    for (int i = 0; i < n; ++i) {
        const pixman_box32_t& b = boxes[i];
        if (bpp >= 8 && pixman_fill(pixman_image_get_data(dest), pixman_image_get_stride(dest) / 4, bpp, b.x1, b.y1,
                                    b.x2 - b.x1, b.y2 - b.y1, value)) {
            continue;
        }
        fill_box_rop(dest, b, value, Rop::Copy);
    }
}

void fill_rects_rop(pixman_image_t* dest, const Region& region, std::uint32_t value, Rop rop) {
    int n = 0;
    const pixman_box32_t* boxes = region.rects(n);
    for (int i = 0; i < n; ++i) fill_box_rop(dest, boxes[i], value, rop);
}

static int positive_mod(std::int64_t a, int m) {
    std::int64_t r = a % m;
    if (r < 0) r += m;
    return static_cast<int>(r);
}

void tile_box_rop(pixman_image_t* dest, const pixman_box32_t& box, pixman_image_t* tile, int offset_x, int offset_y,
                  Rop rop) {
    const int bpp = image_bpp(dest);
    const int tw = pixman_image_get_width(tile), th = pixman_image_get_height(tile);
    if (tw <= 0 || th <= 0 || image_bpp(tile) != bpp) return;
    int ty = positive_mod(static_cast<std::int64_t>(box.y1) - offset_y, th);
    const int tx0 = positive_mod(static_cast<std::int64_t>(box.x1) - offset_x, tw);
    for (int y = box.y1; y < box.y2; ++y) {
        std::uint8_t* row = row_of(dest, y);
        const std::uint8_t* trow = row_of(tile, ty);
        int tx = tx0;
        for (int x = box.x1; x < box.x2; ++x) {
            const std::uint32_t s = load_pixel(trow, bpp, tx);
            store_pixel(row, bpp, x, rop == Rop::Copy ? s : apply_rop(rop, s, load_pixel(row, bpp, x)));
            if (++tx == tw) tx = 0;
        }
        if (++ty == th) ty = 0;
    }
}

void tile_rects_rop(pixman_image_t* dest, const Region& region, pixman_image_t* tile, int offset_x, int offset_y,
                    Rop rop) {
    int n = 0;
    const pixman_box32_t* boxes = region.rects(n);
    for (int i = 0; i < n; ++i) tile_box_rop(dest, boxes[i], tile, offset_x, offset_y, rop);
}

namespace {
// spice_pixman_blit()'s source clipping: the part of the (dest_x, dest_y, w, h) rectangle whose
// source (src_x, src_y) lies inside the source image.
struct BlitBox {
    int src_x, src_y, dest_x, dest_y, width, height;
};
bool clip_blit(pixman_image_t* src, BlitBox& b) {
    const int sw = pixman_image_get_width(src), sh = pixman_image_get_height(src);
    if (b.src_x < 0) {
        b.width += b.src_x;
        b.dest_x -= b.src_x;
        b.src_x = 0;
    }
    if (b.src_y < 0) {
        b.height += b.src_y;
        b.dest_y -= b.src_y;
        b.src_y = 0;
    }
    if (b.src_x + b.width > sw) b.width = sw - b.src_x;
    if (b.src_y + b.height > sh) b.height = sh - b.src_y;
    return b.width > 0 && b.height > 0;
}
}  // namespace

void blit_rects_rop(pixman_image_t* dest, const Region& region, pixman_image_t* src, int offset_x, int offset_y,
                    Rop rop) {
    const int bpp = image_bpp(dest);
    if (image_bpp(src) != bpp) return;
    int n = 0;
    const pixman_box32_t* boxes = region.rects(n);
    for (int i = 0; i < n; ++i) {
        BlitBox b{boxes[i].x1 - offset_x, boxes[i].y1 - offset_y, boxes[i].x1, boxes[i].y1,
                  boxes[i].x2 - boxes[i].x1, boxes[i].y2 - boxes[i].y1};
        if (!clip_blit(src, b)) continue;
        if (rop == Rop::Copy && bpp >= 8) {
            if (pixman_blt(pixman_image_get_data(src), pixman_image_get_data(dest), pixman_image_get_stride(src) / 4,
                           pixman_image_get_stride(dest) / 4, bpp, bpp, b.src_x, b.src_y, b.dest_x, b.dest_y, b.width,
                           b.height)) {
                continue;
            }
            const std::size_t bytes = static_cast<std::size_t>(b.width) * static_cast<std::size_t>(bpp / 8);
            for (int y = 0; y < b.height; ++y) {
                std::memmove(row_of(dest, b.dest_y + y) + static_cast<std::size_t>(b.dest_x) * (bpp / 8),
                             row_of(src, b.src_y + y) + static_cast<std::size_t>(b.src_x) * (bpp / 8), bytes);
            }
            continue;
        }
        for (int y = 0; y < b.height; ++y) {
            std::uint8_t* drow = row_of(dest, b.dest_y + y);
            const std::uint8_t* srow = row_of(src, b.src_y + y);
            for (int x = 0; x < b.width; ++x) {
                const std::uint32_t s = load_pixel(srow, bpp, b.src_x + x);
                store_pixel(drow, bpp, b.dest_x + x,
                            rop == Rop::Copy ? s : apply_rop(rop, s, load_pixel(drow, bpp, b.dest_x + x)));
            }
        }
    }
}

void blit_rects_colorkey(pixman_image_t* dest, const Region& region, pixman_image_t* src, int offset_x, int offset_y,
                         std::uint32_t key) {
    const int bpp = image_bpp(dest);
    if (image_bpp(src) != bpp) return;
    std::uint32_t compare_mask = 0xffffffffu;
    switch (bpp) {
    case 1: compare_mask = 1; break;
    case 8: compare_mask = 0xff; break;
    case 16: compare_mask = 0xffff; break;
    default: compare_mask = 0xffffff; break;
    }
    key &= compare_mask;
    int n = 0;
    const pixman_box32_t* boxes = region.rects(n);
    for (int i = 0; i < n; ++i) {
        BlitBox b{boxes[i].x1 - offset_x, boxes[i].y1 - offset_y, boxes[i].x1, boxes[i].y1,
                  boxes[i].x2 - boxes[i].x1, boxes[i].y2 - boxes[i].y1};
        if (!clip_blit(src, b)) continue;
        for (int y = 0; y < b.height; ++y) {
            std::uint8_t* drow = row_of(dest, b.dest_y + y);
            const std::uint8_t* srow = row_of(src, b.src_y + y);
            for (int x = 0; x < b.width; ++x) {
                const std::uint32_t s = load_pixel(srow, bpp, b.src_x + x);
                if ((s & compare_mask) != key) store_pixel(drow, bpp, b.dest_x + x, s);
            }
        }
    }
}

namespace {
// Moves one rectangle inside an image; rows and pixels are visited in an order that never reads
// a pixel after it was overwritten.
void move_box(pixman_image_t* image, const pixman_box32_t& box, int dx, int dy) {
    const int bpp = image_bpp(image);
    const int w = box.x2 - box.x1, h = box.y2 - box.y1;
    const int sx = box.x1 - dx, sy = box.y1 - dy;
    const bool overlaps = sx < box.x2 && box.x1 < sx + w && sy < box.y2 && box.y1 < sy + h;
    std::uint32_t* bits = pixman_image_get_data(image);
    const int stride_words = pixman_image_get_stride(image) / 4;
    if (bpp >= 8) {
        const std::size_t bytes = static_cast<std::size_t>(w) * static_cast<std::size_t>(bpp / 8);
        auto memmove_row = [&](int y) {
            std::memmove(row_of(image, box.y1 + y) + static_cast<std::size_t>(box.x1) * (bpp / 8),
                         row_of(image, sy + y) + static_cast<std::size_t>(sx) * (bpp / 8), bytes);
        };
        if (!overlaps || dy < 0) {
            // Rows go top to bottom and never share memory, so pixman's blt is safe here.
            if (pixman_blt(bits, bits, stride_words, stride_words, bpp, bpp, sx, sy, box.x1, box.y1, w, h)) return;
            for (int y = 0; y < h; ++y) memmove_row(y);
        } else if (dy > 0) {
            for (int y = h - 1; y >= 0; --y) {
                if (!pixman_blt(bits, bits, stride_words, stride_words, bpp, bpp, sx, sy + y, box.x1, box.y1 + y, w,
                                1)) {
                    memmove_row(y);
                }
            }
        } else {
            for (int y = 0; y < h; ++y) memmove_row(y);
        }
        return;
    }
    // 1 bpp: per pixel, in a safe order.
    for (int yi = 0; yi < h; ++yi) {
        const int y = dy > 0 ? h - 1 - yi : yi;
        std::uint8_t* drow = row_of(image, box.y1 + y);
        const std::uint8_t* srow = row_of(image, sy + y);
        for (int xi = 0; xi < w; ++xi) {
            const int x = dx > 0 ? w - 1 - xi : xi;
            store_pixel(drow, bpp, box.x1 + x, load_pixel(srow, bpp, sx + x));
        }
    }
}
}  // namespace

void copy_region_within(pixman_image_t* image, const Region& region, int dx, int dy) {
    int n = 0;
    const pixman_box32_t* r = region.rects(n);
    // Rectangle order as spice-common's copy_region(): bands are sorted top to bottom, left to
    // right; moving down visits bands bottom-up, moving right visits a band right to left.
    auto band_end = [&](int i) {
        int j = i;
        while (j < n && r[j].y1 == r[i].y1) ++j;
        return j;
    };
    if (dy > 0) {
        if (dx >= 0) {
            for (int i = n - 1; i >= 0; --i) move_box(image, r[i], dx, dy);
        } else {
            int i = n - 1;
            while (i >= 0) {
                int start = i;
                while (start - 1 >= 0 && r[start - 1].y1 == r[i].y1) --start;
                for (int j = start; j <= i; ++j) move_box(image, r[j], dx, dy);
                i = start - 1;
            }
        }
    } else {
        if (dx > 0) {
            int i = 0;
            while (i < n) {
                const int end = band_end(i);
                for (int j = end - 1; j >= i; --j) move_box(image, r[j], dx, dy);
                i = end;
            }
        } else {
            for (int i = 0; i < n; ++i) move_box(image, r[i], dx, dy);
        }
    }
}

void clear_dest_alpha(pixman_image_t* dest, std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h) {
    const int iw = pixman_image_get_width(dest), ih = pixman_image_get_height(dest);
    if (x + w <= 0 || x >= iw || y + h <= 0 || y >= ih || w == 0 || h == 0) return;
    if (x < 0) {
        w += x;
        x = 0;
    }
    if (x + w > iw) w = iw - x;
    if (y < 0) {
        h += y;
        y = 0;
    }
    if (y + h > ih) h = ih - y;
    if ((load_pixel(row_of(dest, static_cast<int>(y)), 32, static_cast<int>(x)) & 0xff000000u) != 0xff000000u) return;
    pixman_box32_t box{static_cast<std::int32_t>(x), static_cast<std::int32_t>(y), static_cast<std::int32_t>(x + w),
                       static_cast<std::int32_t>(y + h)};
    fill_box_rop(dest, box, 0x00ffffffu, Rop::And);
}

ImageRef convert_image(pixman_image_t* src, pixman_format_code_t format) {
    const int w = pixman_image_get_width(src), h = pixman_image_get_height(src);
    ImageRef out(pixman_image_create_bits(format, w, h, nullptr, 0));
    if (!out) return out;
    pixman_image_composite32(PIXMAN_OP_SRC, src, nullptr, out.get(), 0, 0, 0, 0, 0, 0, w, h);
    return out;
}

ImageRef copy_area(pixman_image_t* src, pixman_format_code_t format, int x, int y, int w, int h) {
    ImageRef out(pixman_image_create_bits(format, w, h, nullptr, 0));
    if (!out) return out;
    Region all(0, 0, w, h);
    blit_rects_rop(out.get(), all, src, -x, -y, Rop::Copy);
    return out;
}

}  // namespace qxlbox::proto::canvas_detail
