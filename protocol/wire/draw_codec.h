// Wire layouts of the SPICE display and cursor building blocks (spec §5, §6), written once as
// Io templates (body_io.h) over the owned types of protocol/draw.h.
//
// Where the wire and the owned types differ: Rect is sent top, left, bottom, right; LineAttr
// carries only flags and the style on the wire (width, join, end and miter are QXL-only and
// read back as 0); path segment and string flags are u8 on the wire. A BITMAP whose palette
// comes from the client's palette cache (PAL_FROM_CACHE) is represented by a Palette with the
// cached id in `unique` and no entries, since Bitmap has no separate palette-id field.
// Unknown enum values in a switch (clip, brush, image and bitmap types, string raster kind)
// are rejected rather than skipped: a message we cannot interpret fully is malformed.
#pragma once

#include <memory>
#include <string>

#include "protocol/draw.h"
#include "protocol/wire/body_io.h"

namespace qxlbox::proto::wire {

namespace wirecodec {

template <class Io>
void rect(Io& io, Rect& r) {
    io(r.top);
    io(r.left);
    io(r.bottom);
    io(r.right);
}
template <class Io>
void point(Io& io, Point& p) {
    io(p.x);
    io(p.y);
}
template <class Io>
void point16(Io& io, Point16& p) {
    io(p.x);
    io(p.y);
}
template <class Io>
void point_fix(Io& io, PointFix& p) {
    io(p.x);
    io(p.y);
}

template <class Io>
void clip(Io& io, Clip& c) {
    io(c.type);
    io.check(c.type == ClipType::None || c.type == ClipType::Rects, ErrorCode::BadValue, "clip type");
    if (c.type == ClipType::Rects) {
        auto n = io.template count<std::uint32_t>(c.rects.size());
        io.array(c.rects, n, 16, [](auto& s, Rect& r) { rect(s, r); });
    }
}

// A pointer to T held in a shared_ptr<const T>: the reader creates it, the writer follows it.
template <class T, class Io, class F>
void shared_ptr_field(Io& io, std::shared_ptr<const T>& field, bool required, const char* what, F describe) {
    auto* slot = &field;
    io.pointer(field != nullptr, required, what, [slot, describe](auto& sub) {
        if constexpr (std::decay_t<decltype(sub)>::kReading) {
            auto obj = std::make_shared<T>();
            describe(sub, *obj);
            *slot = std::move(obj);
        } else {
            describe(sub, const_cast<T&>(**slot));
        }
    });
}

template <class Io>
void palette(Io& io, Palette& p) {
    io(p.unique);
    auto n = io.template count<std::uint16_t>(p.ents.size());
    io.array(p.ents, n, 4, [](auto& s, std::uint32_t& e) { s(e); });
}

inline std::uint64_t bitmap_row_bytes(BitmapFormat f, std::uint32_t width) {
    return (static_cast<std::uint64_t>(width) * bitmap_format_bpp(f) + 7) / 8;
}

template <class Io>
void palette_or_cache_id(Io& io, std::uint8_t flags, std::shared_ptr<const Palette>& pal, bool required) {
    if (flags & kBitmapPalFromCache) {
        std::uint64_t id = (!Io::kReading && pal) ? pal->unique : 0;
        io.check(Io::kReading || pal != nullptr, ErrorCode::InternalError, "PAL_FROM_CACHE without palette id");
        io(id);
        if constexpr (Io::kReading) {
            auto p = std::make_shared<Palette>();
            p->unique = id;
            pal = std::move(p);
        }
    } else {
        shared_ptr_field<Palette>(io, pal, required, "palette", [](auto& s, Palette& p) { palette(s, p); });
    }
}

template <class Io>
void bitmap_data(Io& io, Bitmap& b) {
    io(b.format);
    io.check(bitmap_format_bpp(b.format) != 0, ErrorCode::BadValue, "bitmap format");
    std::uint8_t flags = 0;
    if constexpr (!Io::kReading) {
        flags = (b.top_down ? kBitmapTopDown : 0) | (b.palette && b.palette->ents.empty() ? kBitmapPalFromCache : 0);
    }
    io(flags);
    if constexpr (Io::kReading) b.top_down = (flags & kBitmapTopDown) != 0;
    io(b.width);
    io(b.height);
    io(b.stride);
    io.check(b.stride >= bitmap_row_bytes(b.format, b.width), ErrorCode::BadValue, "bitmap stride below row size");
    palette_or_cache_id(io, flags, b.palette, false);
    io.bytes(b.data, static_cast<std::uint64_t>(b.stride) * b.height);
}

template <class Io>
void sized_data(Io& io, Bytes& data) {
    auto n = io.template count<std::uint32_t>(data.size());
    io.bytes(data, n);
}

template <class Io>
void image(Io& io, Image& img) {
    io(img.id);
    io(img.type);
    io(img.flags);
    io(img.width);
    io(img.height);
    if (!io.ok()) return;
    switch (img.type) {
    case ImageType::Bitmap:
        if (auto* b = alternative<Bitmap>(io, img.content, "BITMAP image")) bitmap_data(io, *b);
        break;
    case ImageType::Quic:
    case ImageType::LzRgb:
    case ImageType::GlzRgb:
    case ImageType::Jpeg:
    case ImageType::Lz4:
        if (auto* e = alternative<EncodedImage>(io, img.content, "encoded image")) sized_data(io, e->data);
        break;
    case ImageType::LzPlt:
        if (auto* e = alternative<EncodedImage>(io, img.content, "LZ_PLT image")) {
            io(e->bitmap_flags);
            auto n = io.template count<std::uint32_t>(e->data.size());
            if (e->bitmap_flags & kBitmapPalFromCache) {
                io(e->palette_id);
            } else {
                shared_ptr_field<Palette>(io, e->palette, true, "LZ_PLT palette",
                                          [](auto& s, Palette& p) { palette(s, p); });
            }
            io.bytes(e->data, n);
        }
        break;
    case ImageType::Surface:
        if (auto* s = alternative<SurfaceRef>(io, img.content, "SURFACE image")) io(s->surface_id);
        break;
    case ImageType::FromCache:
    case ImageType::FromCacheLossless:
        if constexpr (Io::kReading) img.content = std::monostate{};
        break;
    case ImageType::ZlibGlzRgb:
    case ImageType::JpegAlpha:
        io.fail(ErrorCode::Unsupported, "ZLIB_GLZ_RGB and JPEG_ALPHA images are not supported");
        break;
    default:
        io.fail(ErrorCode::BadValue, "image type");
        break;
    }
}

template <class Io>
void image_ptr(Io& io, ImagePtr& p, bool required, const char* what) {
    shared_ptr_field<Image>(io, p, required, what, [](auto& s, Image& img) { image(s, img); });
}

template <class Io>
void brush(Io& io, Brush& b) {
    io(b.type);
    switch (b.type) {
    case BrushType::None: break;
    case BrushType::Solid: io(b.color); break;
    case BrushType::Pattern:
        image_ptr(io, b.pattern, true, "brush pattern");
        point(io, b.pos);
        break;
    default: io.fail(ErrorCode::BadValue, "brush type"); break;
    }
}

template <class Io>
void qmask(Io& io, QMask& m) {
    io(m.flags);
    point(io, m.pos);
    image_ptr(io, m.bitmap, false, "mask bitmap");
}

template <class Io>
void path(Io& io, Path& p) {
    auto n = io.template count<std::uint32_t>(p.segments.size());
    io.array(p.segments, n, 5, [](auto& s, PathSeg& seg) {
        auto flags = static_cast<std::uint8_t>(seg.flags);
        s.check(seg.flags <= 0xff, ErrorCode::InternalError, "path segment flags exceed u8");
        s(flags);
        seg.flags = flags;
        auto count = s.template count<std::uint32_t>(seg.points.size());
        s.array(seg.points, count, 8, [](auto& t, PointFix& pt) { point_fix(t, pt); });
    });
}

template <class Io>
void line_attr(Io& io, LineAttr& a) {
    io(a.flags);
    if (a.flags & kLineStyled) {
        auto nseg = static_cast<std::uint8_t>(a.style.size());
        io.check(a.style.size() <= 0xff, ErrorCode::InternalError, "more than 255 style segments");
        io(nseg);
        auto* style = &a.style;
        io.pointer(!a.style.empty(), false, "line style", [style, nseg](auto& sub) {
            sub.array(*style, nseg, 4, [](auto& t, std::int32_t& v) { t(v); });
        });
    }
}

inline unsigned glyph_bpp(std::uint16_t flags) {
    if (flags & kStringRasterA1) return 1;
    if (flags & kStringRasterA4) return 4;
    if (flags & kStringRasterA8) return 8;
    return 0;
}

template <class Io>
void glyph_string(Io& io, GlyphString& str) {
    auto n = io.template count<std::uint16_t>(str.glyphs.size());
    auto flags = static_cast<std::uint8_t>(str.flags);
    io.check(str.flags <= 0xff, ErrorCode::InternalError, "string flags exceed u8");
    io(flags);
    str.flags = flags;
    const unsigned raster = flags & (kStringRasterA1 | kStringRasterA4 | kStringRasterA8);
    io.check(n == 0 || raster == kStringRasterA1 || raster == kStringRasterA4 || raster == kStringRasterA8,
             ErrorCode::BadValue, "string raster kind (exactly one of A1/A4/A8)");
    const unsigned bpp = glyph_bpp(flags);
    io.array(str.glyphs, n, 20, [bpp](auto& s, Glyph& g) {
        point(s, g.render_pos);
        point(s, g.glyph_origin);
        s(g.width);
        s(g.height);
        s.bytes(g.data, (static_cast<std::uint64_t>(g.width) * bpp + 7) / 8 * g.height);
    });
}

template <class Io>
void transform(Io& io, Transform& t) {
    for (auto& v : t.t) io(v);
}

template <class Io>
void copy_params(Io& io, CopyParams& c) {
    image_ptr(io, c.src_bitmap, true, "src_bitmap");
    rect(io, c.src_area);
    io(c.rop_descriptor);
    io(c.scale_mode);
    qmask(io, c.mask);
}

template <class Io>
void draw_op(Io& io, Fill& f) {
    brush(io, f.brush);
    io(f.rop_descriptor);
    qmask(io, f.mask);
}
template <class Io>
void draw_op(Io& io, Opaque& o) {
    image_ptr(io, o.src_bitmap, true, "src_bitmap");
    rect(io, o.src_area);
    brush(io, o.brush);
    io(o.rop_descriptor);
    io(o.scale_mode);
    qmask(io, o.mask);
}
template <class Io>
void draw_op(Io& io, Copy& c) {
    copy_params(io, c);
}
template <class Io>
void draw_op(Io& io, Blend& c) {
    copy_params(io, c);
}
template <class Io>
void draw_op(Io& io, Blackness& b) {
    qmask(io, b.mask);
}
template <class Io>
void draw_op(Io& io, Whiteness& w) {
    qmask(io, w.mask);
}
template <class Io>
void draw_op(Io& io, Invers& i) {
    qmask(io, i.mask);
}
template <class Io>
void draw_op(Io& io, Rop3& r) {
    image_ptr(io, r.src_bitmap, true, "src_bitmap");
    rect(io, r.src_area);
    brush(io, r.brush);
    io(r.rop3);
    io(r.scale_mode);
    qmask(io, r.mask);
}
template <class Io>
void draw_op(Io& io, Stroke& s) {
    auto* p = &s.path;
    io.pointer(true, true, "stroke path", [p](auto& sub) { path(sub, *p); });
    line_attr(io, s.attr);
    brush(io, s.brush);
    io(s.fore_mode);
    io(s.back_mode);
}
template <class Io>
void draw_op(Io& io, Text& t) {
    auto* str = &t.str;
    io.pointer(true, true, "text string", [str](auto& sub) { glyph_string(sub, *str); });
    rect(io, t.back_area);
    brush(io, t.fore_brush);
    brush(io, t.back_brush);
    io(t.fore_mode);
    io(t.back_mode);
}
template <class Io>
void draw_op(Io& io, Transparent& t) {
    image_ptr(io, t.src_bitmap, true, "src_bitmap");
    rect(io, t.src_area);
    io(t.src_color);
    io(t.true_color);
}
template <class Io>
void draw_op(Io& io, AlphaBlend& a) {
    io(a.alpha_flags);
    io(a.alpha);
    image_ptr(io, a.src_bitmap, true, "src_bitmap");
    rect(io, a.src_area);
}
template <class Io>
void draw_op(Io& io, Composite& c) {
    using namespace composite;
    std::uint32_t flags = c.flags;
    if constexpr (!Io::kReading) {
        flags &= ~(kHasMask | kHasSrcTransform | kHasMaskTransform);
        if (c.mask_bitmap) flags |= kHasMask;
        if (c.src_transform) flags |= kHasSrcTransform;
        if (c.mask_transform) flags |= kHasMaskTransform;
    }
    io(flags);
    c.flags = flags;
    image_ptr(io, c.src_bitmap, true, "composite src_bitmap");
    if (flags & kHasMask) image_ptr(io, c.mask_bitmap, true, "composite mask_bitmap");
    if (flags & kHasSrcTransform) {
        if constexpr (Io::kReading) c.src_transform.emplace();
        transform(io, *c.src_transform);
    }
    if (flags & kHasMaskTransform) {
        if constexpr (Io::kReading) c.mask_transform.emplace();
        transform(io, *c.mask_transform);
    }
    point16(io, c.src_origin);
    point16(io, c.mask_origin);
}
template <class Io>
void draw_op(Io& io, CopyBits& c) {
    point(io, c.src_pos);
}

// SpiceMsgDisplayBase: surface_id, box, clip.
template <class Io>
void display_base(Io& io, DrawCommand& cmd) {
    io(cmd.surface_id);
    rect(io, cmd.bbox);
    clip(io, cmd.clip);
}

// Cursor flags (SpiceCursorFlags).
inline constexpr std::uint16_t kCursorNone = 1;
inline constexpr std::uint16_t kCursorCacheMe = 2;
inline constexpr std::uint16_t kCursorFromCache = 4;

// Bytes of shape data a cursor type needs (spec §6), 0 if we do not know the type's layout.
std::uint64_t cursor_data_bytes(CursorType type, std::uint16_t width, std::uint16_t height);

// SpiceCursor: flags, then (unless NONE) a 17-byte header and the shape data to the end of the
// message. So it must be the last field of its message.
template <class Io>
void cursor(Io& io, std::uint16_t& flags, CursorShapePtr& shape) {
    io(flags);
    if (flags & kCursorNone) {
        if constexpr (Io::kReading) shape.reset();
        return;
    }
    io.check(Io::kReading || shape != nullptr, ErrorCode::InternalError, "cursor without shape");
    if (!io.ok()) return;
    std::shared_ptr<CursorShape> owned;
    CursorShape* s = nullptr;
    if constexpr (Io::kReading) {
        owned = std::make_shared<CursorShape>();
        s = owned.get();
    } else {
        s = const_cast<CursorShape*>(shape.get());
    }
    io(s->unique);
    io(s->type);
    io(s->width);
    io(s->height);
    io(s->hot_spot_x);
    io(s->hot_spot_y);
    io.check(static_cast<std::uint8_t>(s->type) <= static_cast<std::uint8_t>(CursorType::Color32), ErrorCode::BadValue,
             "cursor type");
    io.rest(s->data);
    if (!(flags & kCursorFromCache)) {
        io.check(s->data.size() >= cursor_data_bytes(s->type, s->width, s->height), ErrorCode::Truncated,
                 "cursor shape data shorter than its size");
    }
    if constexpr (Io::kReading) {
        if (io.ok()) shape = std::move(owned);
    }
}

}  // namespace wirecodec
}  // namespace qxlbox::proto::wire
