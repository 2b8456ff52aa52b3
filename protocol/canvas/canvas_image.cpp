// Source images and masks for the canvas: decoded bitmaps (every SPICE bitmap format, palettes,
// top-down and bottom-up) and other surfaces, converted the way spice-common's canvas_get_image()
// and spice_bitmap_convert_to_pixman() do.
//
// Palette rules (spice-common's behaviour where it has one, our choice where it has none):
// - Indexed bitmaps need a palette; without one spice-common aborts, we return an error.
// - Palette entries are raw pixel values of the destination: 32-bit on xRGB/ARGB surfaces, the
//   low 16 bits on 555 surfaces. spice-common rejects indexed sources on 565, A8 and A1
//   surfaces; so do we.
// - An index at or beyond the number of entries reads uninitialised memory in spice-common; we
//   draw pixel value 0 (black) for it, deterministically.
// - spice-common only converts the big-endian 1- and 4-bit formats (the little-endian ones hit
//   "Unsupported bitmap format"); we decode 1BIT_LE (LSB first) and 4BIT_LE (low nibble first)
//   as the protocol defines them.
#include <cstdint>
#include <cstring>

#include "protocol/canvas/canvas_internal.h"

namespace qxlbox::proto::canvas_detail {

namespace {

Result<bool> validate_bitmap(const Bitmap& bm) {
    const unsigned bpp = bitmap_format_bpp(bm.format);
    if (bpp == 0) return std::string("bitmap has an invalid format");
    if (bm.width == 0 || bm.height == 0) return std::string("bitmap has zero size");
    if (bm.width > kMaxSurfaceSide || bm.height > kMaxSurfaceSide) return std::string("bitmap is absurdly large");
    const std::uint64_t min_stride = (static_cast<std::uint64_t>(bm.width) * bpp + 7) / 8;
    if (bm.stride < min_stride) return std::string("bitmap stride is smaller than its row");
    if (static_cast<std::uint64_t>(bm.stride) * bm.height > bm.data.size()) {
        return std::string("bitmap data is shorter than stride * height");
    }
    return true;
}

pixman_format_code_t native_format(BitmapFormat f, SurfaceFormat target) {
    switch (f) {
    case BitmapFormat::Bit1LE:
    case BitmapFormat::Bit1BE:
    case BitmapFormat::Bit4LE:
    case BitmapFormat::Bit4BE:
    case BitmapFormat::Bit8: return pixman_format_of(target);
    case BitmapFormat::Bit16: return PIXMAN_x1r5g5b5;
    case BitmapFormat::Bit24:
    case BitmapFormat::Bit32: return PIXMAN_x8r8g8b8;
    case BitmapFormat::RGBA: return PIXMAN_a8r8g8b8;
    case BitmapFormat::Bit8A: return PIXMAN_a8;
    case BitmapFormat::Invalid: break;
    }
    return static_cast<pixman_format_code_t>(0);
}

// canvas_get_target_format(): the destination's format, remembering source alpha on xRGB and
// dropping it on ARGB.
pixman_format_code_t target_format(SurfaceFormat target, bool source_has_alpha) {
    pixman_format_code_t f = pixman_format_of(target);
    if (source_has_alpha && f == PIXMAN_x8r8g8b8) return PIXMAN_a8r8g8b8;
    if (!source_has_alpha && f == PIXMAN_a8r8g8b8) return PIXMAN_x8r8g8b8;
    return f;
}

std::uint32_t palette_entry(const Palette& pal, unsigned index) {
    return index < pal.ents.size() ? pal.ents[index] : 0u;
}

// Writes the bitmap's pixels into `image` (whose bpp matches the native format).
void decode_into(const Bitmap& bm, pixman_image_t* image) {
    const int bpp = image_bpp(image);
    for (std::uint32_t r = 0; r < bm.height; ++r) {
        const std::uint8_t* src = bm.data.data() + static_cast<std::size_t>(r) * bm.stride;
        const int y = bm.top_down ? static_cast<int>(r) : static_cast<int>(bm.height - 1 - r);
        std::uint8_t* dst = row_of(image, y);
        const int w = static_cast<int>(bm.width);
        switch (bm.format) {
        case BitmapFormat::Bit32:
        case BitmapFormat::RGBA: std::memcpy(dst, src, static_cast<std::size_t>(w) * 4); break;
        case BitmapFormat::Bit16: std::memcpy(dst, src, static_cast<std::size_t>(w) * 2); break;
        case BitmapFormat::Bit8A: std::memcpy(dst, src, static_cast<std::size_t>(w)); break;
        case BitmapFormat::Bit24:
            for (int x = 0; x < w; ++x) {
                const std::uint8_t* p = src + 3 * static_cast<std::size_t>(x);
                store_pixel(dst, 32, x,
                            (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[1]) << 8) | p[0]);
            }
            break;
        case BitmapFormat::Bit8:
            for (int x = 0; x < w; ++x) store_pixel(dst, bpp, x, palette_entry(*bm.palette, src[x]));
            break;
        case BitmapFormat::Bit4BE:
        case BitmapFormat::Bit4LE:
            for (int x = 0; x < w; ++x) {
                const std::uint8_t byte = src[x >> 1];
                const bool high = ((x & 1) == 0) == (bm.format == BitmapFormat::Bit4BE);
                store_pixel(dst, bpp, x, palette_entry(*bm.palette, high ? byte >> 4 : byte & 0x0f));
            }
            break;
        case BitmapFormat::Bit1BE:
        case BitmapFormat::Bit1LE:
            for (int x = 0; x < w; ++x) {
                const std::uint8_t byte = src[x >> 3];
                const int bit = bm.format == BitmapFormat::Bit1BE ? 7 - (x & 7) : (x & 7);
                store_pixel(dst, bpp, x, palette_entry(*bm.palette, (byte >> bit) & 1u));
            }
            break;
        case BitmapFormat::Invalid: break;
        }
    }
}

Result<ImageRef> bitmap_to_image(const SourceContext& ctx, const Image& image, const Bitmap& bm, bool want_original) {
    if (auto v = validate_bitmap(bm); std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
    const SurfaceFormat tf = ctx.target.format();
    if (bitmap_format_needs_palette(bm.format)) {
        if (!bm.palette) return std::string("indexed bitmap without a palette");
        if (tf != SurfaceFormat::XRGB32 && tf != SurfaceFormat::ARGB32 && tf != SurfaceFormat::RGB555) {
            return std::string("indexed bitmaps need a 32-bit or 555 destination surface");
        }
    }
    const pixman_format_code_t native = native_format(bm.format, tf);
    pixman_format_code_t wanted = want_original ? native : target_format(tf, bm.format == BitmapFormat::RGBA);
    // Decoding straight into the wanted format works when it reads the same bits.
    const bool direct = wanted == native || (native == PIXMAN_a8r8g8b8 && wanted == PIXMAN_x8r8g8b8);
    // Bitmaps already laid out as pixman wants them are drawn from in place (read only), the way
    // spice_bitmap_try_as_pixman() avoids a copy.
    const bool raw_layout = bm.format == BitmapFormat::Bit32 || bm.format == BitmapFormat::RGBA ||
                            bm.format == BitmapFormat::Bit16 || bm.format == BitmapFormat::Bit8A;
    if (direct && raw_layout && bm.stride % 4 == 0 && !(image.flags & kImageHighBitsSet) &&
        reinterpret_cast<std::uintptr_t>(bm.data.data()) % 4 == 0 && bm.stride <= static_cast<std::uint32_t>(INT32_MAX)) {
        auto* first = const_cast<std::uint8_t*>(bm.data.data());
        int stride = static_cast<int>(bm.stride);
        if (!bm.top_down) {
            first += static_cast<std::size_t>(bm.stride) * (bm.height - 1);
            stride = -stride;
        }
        ImageRef view(pixman_image_create_bits(wanted, static_cast<int>(bm.width), static_cast<int>(bm.height),
                                               reinterpret_cast<std::uint32_t*>(first), stride));
        if (view) return view;
    }
    ImageRef decoded(pixman_image_create_bits(direct ? wanted : native, static_cast<int>(bm.width),
                                              static_cast<int>(bm.height), nullptr, 0));
    if (!decoded) return std::string("out of memory decoding bitmap");
    decode_into(bm, decoded.get());
    if ((image.flags & kImageHighBitsSet) && pixman_image_get_format(decoded.get()) == PIXMAN_x8r8g8b8) {
        pixman_box32_t all{0, 0, static_cast<std::int32_t>(bm.width), static_cast<std::int32_t>(bm.height)};
        fill_box_rop(decoded.get(), all, 0xff000000u, Rop::Or);
    }
    if (direct) return decoded;
    ImageRef converted = convert_image(decoded.get(), wanted);
    if (!converted) return std::string("out of memory converting bitmap");
    return converted;
}

// A pixman image over another surface's pixels, optionally with a different format of the same
// depth (xRGB seen as ARGB, or ARGB with its alpha ignored).
ImageRef view_of(Surface& s, pixman_format_code_t format) {
    return ImageRef(pixman_image_create_bits(format, static_cast<int>(s.width()), static_cast<int>(s.height()),
                                             reinterpret_cast<std::uint32_t*>(s.data()),
                                             static_cast<int>(s.stride())));
}

}  // namespace

Result<ImageRef> acquire_source(const SourceContext& ctx, const ImagePtr& image, bool want_original,
                                bool surface_has_alpha) {
    if (!image) return std::string("missing source image");
    if (const auto* bm = std::get_if<Bitmap>(&image->content)) {
        return bitmap_to_image(ctx, *image, *bm, want_original);
    }
    if (const auto* ref = std::get_if<SurfaceRef>(&image->content)) {
        if (!ctx.resolver) return std::string("SURFACE image without a surface resolver");
        Surface* s = ctx.resolver->find_surface(ref->surface_id);
        if (!s) return std::string("SURFACE image names an unknown surface");
        pixman_format_code_t f = pixman_format_of(s->format());
        if (want_original && surface_has_alpha && f == PIXMAN_x8r8g8b8) f = PIXMAN_a8r8g8b8;
        const auto source_bpp = static_cast<unsigned>(PIXMAN_FORMAT_BPP(f));
        if (!want_original && source_bpp != surface_format_bpp(ctx.target.format())) {
            // spice-common asserts on mixed depths; converting is the nearest sane behaviour.
            ImageRef conv = convert_image(s->pixman(), pixman_format_of(ctx.target.format()));
            if (!conv) return std::string("out of memory converting surface");
            return conv;
        }
        if (s == &ctx.target) {
            // Reading and writing the same pixels: work from a snapshot.
            ImageRef snap = copy_area(s->pixman(), f, 0, 0, static_cast<int>(s->width()), static_cast<int>(s->height()));
            if (!snap) return std::string("out of memory copying surface");
            return snap;
        }
        ImageRef v = view_of(*s, f);
        if (!v) return std::string("cannot view surface");
        return v;
    }
    return std::string("source image is not decoded (only BITMAP and SURFACE images can be drawn)");
}

Result<bool> intersect_mask(const SourceContext& ctx, Region& region, const QMask& mask, std::int32_t x,
                            std::int32_t y) {
    if (!mask.bitmap) return true;
    const bool invert = (mask.flags & kMaskInvers) != 0;
    ImageRef a1;
    if (const auto* ref = std::get_if<SurfaceRef>(&mask.bitmap->content)) {
        if (!ctx.resolver) return std::string("mask SURFACE without a surface resolver");
        Surface* s = ctx.resolver->find_surface(ref->surface_id);
        if (!s) return std::string("mask names an unknown surface");
        if (s->format() != SurfaceFormat::A1) return std::string("mask surface is not 1-bit");
        a1 = copy_area(s->pixman(), PIXMAN_a1, 0, 0, static_cast<int>(s->width()), static_cast<int>(s->height()));
    } else if (const auto* bm = std::get_if<Bitmap>(&mask.bitmap->content)) {
        if (auto v = validate_bitmap(*bm); std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
        if (bm->format != BitmapFormat::Bit1LE && bm->format != BitmapFormat::Bit1BE) {
            return std::string("mask bitmap is not 1-bit");
        }
        a1.reset(pixman_image_create_bits(PIXMAN_a1, static_cast<int>(bm->width), static_cast<int>(bm->height),
                                          nullptr, 0));
        if (a1) {
            for (std::uint32_t r = 0; r < bm->height; ++r) {
                const std::uint8_t* src = bm->data.data() + static_cast<std::size_t>(r) * bm->stride;
                const int yy = bm->top_down ? static_cast<int>(r) : static_cast<int>(bm->height - 1 - r);
                std::uint8_t* dst = row_of(a1.get(), yy);
                for (std::uint32_t xx = 0; xx < bm->width; ++xx) {
                    const int bit = bm->format == BitmapFormat::Bit1BE ? 7 - static_cast<int>(xx & 7)
                                                                       : static_cast<int>(xx & 7);
                    store_pixel(dst, 1, static_cast<int>(xx), (src[xx >> 3] >> bit) & 1u);
                }
            }
        }
    } else {
        return std::string("mask image is not decoded");
    }
    if (!a1) return std::string("out of memory building mask");
    Region mask_region;
    pixman_region32_fini(mask_region.get());
    pixman_region32_init_from_image(mask_region.get(), a1.get());
    if (invert) {
        pixman_box32_t bounds{0, 0, pixman_image_get_width(a1.get()), pixman_image_get_height(a1.get())};
        pixman_region32_inverse(mask_region.get(), mask_region.get(), &bounds);
    }
    pixman_region32_translate(mask_region.get(), x - mask.pos.x, y - mask.pos.y);
    region.intersect(mask_region);
    return true;
}

}  // namespace qxlbox::proto::canvas_detail
