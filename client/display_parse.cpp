#include "client/display_parse.h"

#include "client/reader.h"

namespace qxlbox::client {

namespace {

using namespace qxlbox::proto;

class Parser {
public:
    Parser(std::span<const std::uint8_t> body, PaletteCache& palettes) : body_(body), palettes_(palettes) {}

    std::string error;
    bool failed() const { return !error.empty(); }
    bool fail(const std::string& why) {
        if (error.empty()) error = why;
        return false;
    }

    Rect rect(Reader& r) {
        Rect out;
        out.top = r.i32();
        out.left = r.i32();
        out.bottom = r.i32();
        out.right = r.i32();
        return out;
    }
    Point point(Reader& r) {
        Point p;
        p.x = r.i32();
        p.y = r.i32();
        return p;
    }

    void base(Reader& r, DrawCommand& cmd) {
        cmd.surface_id = r.u32();
        cmd.bbox = rect(r);
        cmd.clip.type = static_cast<ClipType>(r.u8());
        if (cmd.clip.type == ClipType::Rects) {
            const std::uint32_t n = r.u32();
            if (n > r.remaining() / 16) {
                fail("clip rectangle count " + std::to_string(n) + " exceeds the message");
                return;
            }
            cmd.clip.rects.reserve(n);
            for (std::uint32_t i = 0; i < n; ++i) cmd.clip.rects.push_back(rect(r));
        } else if (cmd.clip.type != ClipType::None) {
            fail("unknown clip type " + std::to_string(static_cast<unsigned>(cmd.clip.type)));
        }
    }

    std::shared_ptr<const Palette> palette(std::uint32_t offset) {
        if (offset == 0) return nullptr;
        Reader r(body_, offset);
        auto pal = std::make_shared<Palette>();
        pal->unique = r.u64();
        const std::uint16_t n = r.u16();
        if (!r.ok() || n > r.remaining() / 4) {
            fail("palette outside the message");
            return nullptr;
        }
        pal->ents.resize(n);
        for (auto& e : pal->ents) e = r.u32();
        return pal;
    }

    std::span<const std::uint8_t> sized_data(Reader& r, std::uint32_t size, const char* what) {
        auto data = r.bytes(size);
        if (!r.ok()) fail(std::string(what) + " data runs past the message");
        return data;
    }

    ImagePtr image(std::uint32_t offset, bool required, const char* what) {
        if (offset == 0) {
            if (required) fail(std::string(what) + " image pointer is null");
            return nullptr;
        }
        Reader r(body_, offset);
        auto img = std::make_shared<Image>();
        img->id = r.u64();
        img->type = static_cast<ImageType>(r.u8());
        img->flags = r.u8();
        img->width = r.u32();
        img->height = r.u32();
        if (!r.ok()) {
            fail(std::string(what) + " image descriptor outside the message");
            return nullptr;
        }
        const bool needs_size = img->type != ImageType::FromCache && img->type != ImageType::FromCacheLossless &&
                                img->type != ImageType::Surface;
        if (needs_size && (img->width == 0 || img->height == 0 ||
                           std::uint64_t{img->width} * img->height > kMaxImagePixels)) {
            fail(std::string(what) + " image has absurd dimensions " + std::to_string(img->width) + "x" +
                 std::to_string(img->height));
            return nullptr;
        }
        switch (img->type) {
            case ImageType::Bitmap: {
                Bitmap bmp;
                bmp.format = static_cast<BitmapFormat>(r.u8());
                const std::uint8_t flags = r.u8();
                bmp.top_down = (flags & kBitmapTopDown) != 0;
                bmp.width = r.u32();
                bmp.height = r.u32();
                bmp.stride = r.u32();
                const unsigned bpp = bitmap_format_bpp(bmp.format);
                if (bpp == 0) return fail_null("bitmap has unknown format " + std::to_string(unsigned(bmp.format)));
                if (bmp.width != img->width || bmp.height != img->height)
                    return fail_null("bitmap size differs from its image descriptor");
                if (std::uint64_t{bmp.stride} < (std::uint64_t{bmp.width} * bpp + 7) / 8)
                    return fail_null("bitmap stride " + std::to_string(bmp.stride) + " is smaller than a row");
                if (flags & kBitmapPalFromCache) {
                    bmp.palette = cached_palette(r.u64());
                } else {
                    bmp.palette = palette(r.u32());
                    if (bmp.palette && (flags & kBitmapPalCacheMe)) palettes_.store_palette(bmp.palette);
                }
                if (failed()) return nullptr;
                if (bitmap_format_needs_palette(bmp.format) && !bmp.palette)
                    return fail_null("palette bitmap without a palette");
                const std::uint64_t size = std::uint64_t{bmp.stride} * bmp.height;
                if (size > r.remaining()) return fail_null("bitmap pixels run past the message");
                const auto data = r.bytes(static_cast<std::size_t>(size));
                bmp.data.assign(data.begin(), data.end());
                img->content = std::move(bmp);
                break;
            }
            case ImageType::LzPlt: {
                EncodedImage enc;
                enc.bitmap_flags = r.u8();
                const std::uint32_t size = r.u32();
                if (enc.bitmap_flags & kBitmapPalFromCache) {
                    enc.palette_id = r.u64();
                    enc.palette = cached_palette(enc.palette_id);
                } else {
                    const std::uint32_t pal = r.u32();
                    if (pal == 0) return fail_null("LZ_PLT image without a palette");
                    enc.palette = palette(pal);
                    if (enc.palette && (enc.bitmap_flags & kBitmapPalCacheMe)) palettes_.store_palette(enc.palette);
                }
                if (failed()) return nullptr;
                const auto data = sized_data(r, size, "LZ_PLT");
                enc.data.assign(data.begin(), data.end());
                img->content = std::move(enc);
                break;
            }
            case ImageType::Quic:
            case ImageType::LzRgb:
            case ImageType::GlzRgb:
            case ImageType::Jpeg:
            case ImageType::Lz4: {
                EncodedImage enc;
                const auto data = sized_data(r, r.u32(), "image");
                enc.data.assign(data.begin(), data.end());
                img->content = std::move(enc);
                break;
            }
            case ImageType::ZlibGlzRgb: {
                EncodedImage enc;
                r.u32();  // inflated size
                const auto data = sized_data(r, r.u32(), "ZLIB_GLZ");
                enc.data.assign(data.begin(), data.end());
                img->content = std::move(enc);
                break;
            }
            case ImageType::JpegAlpha: {
                EncodedImage enc;
                enc.bitmap_flags = r.u8();
                r.u32();  // jpeg_size
                const auto data = sized_data(r, r.u32(), "JPEG_ALPHA");
                enc.data.assign(data.begin(), data.end());
                img->content = std::move(enc);
                break;
            }
            case ImageType::FromCache:
            case ImageType::FromCacheLossless:
                img->content = std::monostate{};
                break;
            case ImageType::Surface:
                img->content = SurfaceRef{r.u32()};
                break;
            default:
                // Kept so the receiver can report the unsupported type and skip the draw.
                img->content = std::monostate{};
                break;
        }
        if (!r.ok()) return fail_null(std::string(what) + " image body outside the message");
        if (failed()) return nullptr;
        return img;
    }

    Brush brush(Reader& r) {
        Brush b;
        b.type = static_cast<BrushType>(r.u8());
        switch (b.type) {
            case BrushType::None: break;
            case BrushType::Solid: b.color = r.u32(); break;
            case BrushType::Pattern:
                b.pattern = image(r.u32(), true, "pattern");
                b.pos = point(r);
                break;
            default: fail("unknown brush type " + std::to_string(unsigned(b.type)));
        }
        return b;
    }

    QMask mask(Reader& r) {
        QMask m;
        m.flags = r.u8();
        m.pos = point(r);
        m.bitmap = image(r.u32(), false, "mask");
        return m;
    }

    Path path(std::uint32_t offset) {
        Path p;
        if (offset == 0) {
            fail("stroke path pointer is null");
            return p;
        }
        Reader r(body_, offset);
        const std::uint32_t n = r.u32();
        if (n > r.remaining() / 5) {
            fail("path segment count exceeds the message");
            return p;
        }
        for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
            PathSeg seg;
            seg.flags = r.u8();
            const std::uint32_t count = r.u32();
            if (count > r.remaining() / 8) {
                fail("path point count exceeds the message");
                return p;
            }
            seg.points.resize(count);
            for (auto& pt : seg.points) {
                pt.x = r.i32();
                pt.y = r.i32();
            }
            p.segments.push_back(std::move(seg));
        }
        if (!r.ok()) fail("path outside the message");
        return p;
    }

    LineAttr line_attr(Reader& r) {
        LineAttr a;
        a.flags = r.u8();
        if (a.flags & kLineStyled) {
            const std::uint8_t nseg = r.u8();
            Reader s(body_, r.u32());
            for (unsigned i = 0; i < nseg; ++i) a.style.push_back(s.i32());
            if (!s.ok()) fail("line style outside the message");
        }
        return a;
    }

    GlyphString glyph_string(std::uint32_t offset) {
        GlyphString str;
        if (offset == 0) {
            fail("text string pointer is null");
            return str;
        }
        Reader r(body_, offset);
        const std::uint16_t n = r.u16();
        str.flags = r.u8();
        unsigned bpp = 0;
        switch (str.flags & 7) {
            case kStringRasterA1: bpp = 1; break;
            case kStringRasterA4: bpp = 4; break;
            case kStringRasterA8: bpp = 8; break;
            default: fail("glyph string has no single raster depth"); return str;
        }
        for (unsigned i = 0; i < n && r.ok(); ++i) {
            Glyph g;
            g.render_pos = point(r);
            g.glyph_origin = point(r);
            g.width = r.u16();
            g.height = r.u16();
            const std::uint64_t size = (std::uint64_t{g.width} * bpp + 7) / 8 * g.height;
            if (size > r.remaining()) {
                fail("glyph data runs past the message");
                return str;
            }
            const auto data = r.bytes(static_cast<std::size_t>(size));
            g.data.assign(data.begin(), data.end());
            str.glyphs.push_back(std::move(g));
        }
        if (!r.ok()) fail("glyph string outside the message");
        return str;
    }

private:
    ImagePtr fail_null(const std::string& why) {
        fail(why);
        return nullptr;
    }
    std::shared_ptr<const Palette> cached_palette(std::uint64_t id) {
        auto pal = palettes_.find_palette(id);
        if (!pal) fail("palette " + std::to_string(id) + " is not in the palette cache");
        return pal;
    }

    std::span<const std::uint8_t> body_;
    PaletteCache& palettes_;
};

}  // namespace

bool is_draw_message(std::uint16_t type) {
    return type == display_msg::kCopyBits || (type >= display_msg::kDrawFill && type <= display_msg::kDrawAlphaBlend) ||
           type == display_msg::kDrawComposite;
}

bool parse_draw_message(std::uint16_t type, std::span<const std::uint8_t> body, PaletteCache& palettes,
                        proto::DrawCommand& out, std::string& error) {
    using namespace display_msg;
    Parser p(body, palettes);
    Reader r(body);
    out = DrawCommand{};
    p.base(r, out);
    auto copy_params = [&](CopyParams& c) {
        c.src_bitmap = p.image(r.u32(), true, "source");
        c.src_area = p.rect(r);
        c.rop_descriptor = r.u16();
        c.scale_mode = static_cast<ScaleMode>(r.u8());
        c.mask = p.mask(r);
    };
    switch (type) {
        case kDrawFill: {
            Fill f;
            f.brush = p.brush(r);
            f.rop_descriptor = r.u16();
            f.mask = p.mask(r);
            out.op = std::move(f);
            break;
        }
        case kDrawOpaque: {
            Opaque o;
            o.src_bitmap = p.image(r.u32(), true, "source");
            o.src_area = p.rect(r);
            o.brush = p.brush(r);
            o.rop_descriptor = r.u16();
            o.scale_mode = static_cast<ScaleMode>(r.u8());
            o.mask = p.mask(r);
            out.op = std::move(o);
            break;
        }
        case kDrawCopy: {
            Copy c;
            copy_params(c);
            out.op = std::move(c);
            break;
        }
        case kDrawBlend: {
            Blend b;
            copy_params(b);
            out.op = std::move(b);
            break;
        }
        case kDrawBlackness: out.op = Blackness{p.mask(r)}; break;
        case kDrawWhiteness: out.op = Whiteness{p.mask(r)}; break;
        case kDrawInvers: out.op = Invers{p.mask(r)}; break;
        case kDrawRop3: {
            Rop3 o;
            o.src_bitmap = p.image(r.u32(), true, "source");
            o.src_area = p.rect(r);
            o.brush = p.brush(r);
            o.rop3 = r.u8();
            o.scale_mode = static_cast<ScaleMode>(r.u8());
            o.mask = p.mask(r);
            out.op = std::move(o);
            break;
        }
        case kDrawStroke: {
            Stroke s;
            s.path = p.path(r.u32());
            s.attr = p.line_attr(r);
            s.brush = p.brush(r);
            s.fore_mode = r.u16();
            s.back_mode = r.u16();
            out.op = std::move(s);
            break;
        }
        case kDrawText: {
            Text t;
            t.str = p.glyph_string(r.u32());
            t.back_area = p.rect(r);
            t.fore_brush = p.brush(r);
            t.back_brush = p.brush(r);
            t.fore_mode = r.u16();
            t.back_mode = r.u16();
            out.op = std::move(t);
            break;
        }
        case kDrawTransparent: {
            Transparent t;
            t.src_bitmap = p.image(r.u32(), true, "source");
            t.src_area = p.rect(r);
            t.src_color = r.u32();
            t.true_color = r.u32();
            out.op = std::move(t);
            break;
        }
        case kDrawAlphaBlend: {
            AlphaBlend a;
            a.alpha_flags = r.u8();
            a.alpha = r.u8();
            a.src_bitmap = p.image(r.u32(), true, "source");
            a.src_area = p.rect(r);
            out.op = std::move(a);
            break;
        }
        case kDrawComposite: {
            Composite c;
            c.flags = r.u32();
            c.src_bitmap = p.image(r.u32(), true, "source");
            if (c.flags & composite::kHasMask) c.mask_bitmap = p.image(r.u32(), true, "mask");
            auto transform = [&] {
                Transform t;
                for (auto& v : t.t) v = r.u32();
                return t;
            };
            if (c.flags & composite::kHasSrcTransform) c.src_transform = transform();
            if (c.flags & composite::kHasMaskTransform) c.mask_transform = transform();
            c.src_origin.x = r.i16();
            c.src_origin.y = r.i16();
            c.mask_origin.x = r.i16();
            c.mask_origin.y = r.i16();
            out.op = std::move(c);
            break;
        }
        case kCopyBits: out.op = CopyBits{p.point(r)}; break;
        default: error = "not a draw message: " + std::to_string(type); return false;
    }
    if (p.failed()) {
        error = p.error;
        return false;
    }
    if (!r.ok()) {
        error = "draw message " + std::to_string(type) + " is truncated";
        return false;
    }
    return true;
}

}  // namespace qxlbox::client
