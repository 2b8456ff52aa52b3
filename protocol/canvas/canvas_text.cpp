// TEXT: raster glyph strings, as spice-common's sw_canvas canvas_draw_text() draws them.
//
// The back area (when not empty) is filled with the back brush using a plain copy; back_mode is
// ignored and spice-common refuses the whole command unless fore_mode is OP_PUT. The glyphs are
// merged into one coverage mask over the union of their boxes (1 bpp glyphs OR-ed into an A1
// mask, 4 and 8 bpp glyphs combined with max into an A8 mask, a 4-bit coverage v becoming v<<4),
// and the fore brush is composited OVER through that mask; fore_mode is not used. Glyph rows are
// stored bottom-up (spice-common ignores the RASTER_TOP_DOWN flag, so do we); 1 bpp rows are
// MSB-first and 4 bpp rows high-nibble-first. A solid colour becomes a pixman colour through
// spice-common's 5- or 8-bit channel scaling.
#include <algorithm>

#include "protocol/canvas/canvas_internal.h"

namespace qxlbox::proto::canvas_detail {

namespace {

struct Box {
    std::int64_t left = 0, top = 0, right = 0, bottom = 0;
};

Box glyph_box(const Glyph& g) {
    Box b;
    b.top = std::int64_t{g.render_pos.y} + g.glyph_origin.y;
    b.bottom = b.top + g.height;
    b.left = std::int64_t{g.render_pos.x} + g.glyph_origin.x;
    b.right = b.left + g.width;
    return b;
}

std::size_t glyph_stride(const Glyph& g, int bpp) { return (static_cast<std::size_t>(g.width) * bpp + 7) / 8; }

ImageRef solid_brush_image(SurfaceFormat format, std::uint32_t color) {
    const bool sixteen = format == SurfaceFormat::RGB555 || format == SurfaceFormat::RGB565;
    const std::uint32_t shift = sixteen ? 5 : 8, mask = sixteen ? 0x1f : 0xff;
    pixman_color_t c{};
    c.blue = static_cast<std::uint16_t>(((color & mask) * 0xffff) / mask);
    color >>= shift;
    c.green = static_cast<std::uint16_t>(((color & mask) * 0xffff) / mask);
    color >>= shift;
    c.red = static_cast<std::uint16_t>(((color & mask) * 0xffff) / mask);
    c.alpha = 0xffff;
    return ImageRef(pixman_image_create_solid_fill(&c));
}

}  // namespace

DrawResult draw_text(Surface& target, const DrawCommand& cmd, const Text& text, SurfaceResolver* resolver) {
    int depth = 0;
    if (text.str.flags & kStringRasterA1) {
        depth = 1;
    } else if (text.str.flags & kStringRasterA4) {
        depth = 4;
    } else if (text.str.flags & kStringRasterA8) {
        depth = 8;
    } else {
        return DrawResult::failure("vector glyph strings are not supported");
    }
    const bool has_back = !text.back_area.empty();
    if (has_back && text.fore_mode != rop::kOpPut) {
        return DrawResult::failure("text with a back area needs fore_mode OP_PUT");
    }
    constexpr std::int64_t kLimit = std::int64_t{1} << 27;
    Box bounds;
    for (std::size_t i = 0; i < text.str.glyphs.size(); ++i) {
        const Glyph& g = text.str.glyphs[i];
        const Box b = glyph_box(g);
        if (b.left < -kLimit || b.top < -kLimit || b.right > kLimit || b.bottom > kLimit) {
            return DrawResult::failure("absurd glyph position");
        }
        if (g.data.size() < glyph_stride(g, depth) * g.height) return DrawResult::failure("glyph data is too short");
        if (i == 0) {
            bounds = b;
        } else {
            bounds.left = std::min(bounds.left, b.left);
            bounds.top = std::min(bounds.top, b.top);
            bounds.right = std::max(bounds.right, b.right);
            bounds.bottom = std::max(bounds.bottom, b.bottom);
        }
    }

    SourceContext ctx{target, resolver};
    ImageRef fore;
    switch (text.fore_brush.type) {
    case BrushType::None: break;
    case BrushType::Solid: fore = solid_brush_image(target.format(), text.fore_brush.color); break;
    case BrushType::Pattern: {
        auto t = acquire_source(ctx, text.fore_brush.pattern, false);
        if (auto* e = std::get_if<std::string>(&t)) return DrawResult::failure("fore brush: " + *e);
        fore = std::move(std::get<ImageRef>(t));
        // The pattern repeats, so its origin only matters modulo its size (which also keeps the
        // 16.16 translation in range).
        const std::int64_t pw = pixman_image_get_width(fore.get()), ph = pixman_image_get_height(fore.get());
        const std::int64_t ox = ((text.fore_brush.pos.x % pw) + pw) % pw;
        const std::int64_t oy = ((text.fore_brush.pos.y % ph) + ph) % ph;
        pixman_transform_t tr;
        pixman_transform_init_translate(&tr, pixman_int_to_fixed(static_cast<int>(-ox)),
                                        pixman_int_to_fixed(static_cast<int>(-oy)));
        pixman_image_set_transform(fore.get(), &tr);
        pixman_image_set_repeat(fore.get(), PIXMAN_REPEAT_NORMAL);
        break;
    }
    default: return DrawResult::failure("unknown fore brush type");
    }
    ImageRef back_tile;
    if (has_back && text.back_brush.type == BrushType::Pattern) {
        auto t = acquire_source(ctx, text.back_brush.pattern, false);
        if (auto* e = std::get_if<std::string>(&t)) return DrawResult::failure("back brush: " + *e);
        back_tile = std::move(std::get<ImageRef>(t));
    }

    Region region;
    if (auto r = base_region(target, cmd, region); std::holds_alternative<std::string>(r)) {
        return DrawResult::failure(std::get<std::string>(r));
    }
    if (region.empty()) return {};
    pixman_image_t* dest = target.pixman();

    if (has_back) {
        const Rect& a = text.back_area;
        Region back(a.left, a.top, std::int64_t{a.right} - a.left, std::int64_t{a.bottom} - a.top);
        back.intersect(region);
        if (!back.empty()) {
            switch (text.back_brush.type) {
            case BrushType::Solid: fill_rects(dest, back, text.back_brush.color); break;
            case BrushType::Pattern:
                tile_rects_rop(dest, back, back_tile.get(), text.back_brush.pos.x, text.back_brush.pos.y, Rop::Copy);
                break;
            default: fill_rects_rop(dest, back, 0, Rop::Copy); break;
            }
        }
    }
    if (!fore || text.str.glyphs.empty()) return {};

    // Only the part of the string mask inside the region can show.
    const pixman_box32_t e = region.extents();
    const std::int64_t cx1 = std::max<std::int64_t>(bounds.left, e.x1), cy1 = std::max<std::int64_t>(bounds.top, e.y1);
    const std::int64_t cx2 = std::min<std::int64_t>(bounds.right, e.x2), cy2 = std::min<std::int64_t>(bounds.bottom, e.y2);
    if (cx2 > cx1 && cy2 > cy1) {
        const int mw = static_cast<int>(cx2 - cx1), mh = static_cast<int>(cy2 - cy1);
        ImageRef mask(pixman_image_create_bits(depth == 1 ? PIXMAN_a1 : PIXMAN_a8, mw, mh, nullptr, 0));
        if (!mask) return DrawResult::failure("out of memory building the glyph mask");
        for (const Glyph& g : text.str.glyphs) {
            const Box b = glyph_box(g);
            const std::size_t stride = glyph_stride(g, depth);
            const std::int64_t y0 = std::max(b.top, cy1), y1 = std::min(b.bottom, cy2);
            const std::int64_t x0 = std::max(b.left, cx1), x1 = std::min(b.right, cx2);
            for (std::int64_t y = y0; y < y1; ++y) {
                const std::size_t src_row = static_cast<std::size_t>(b.bottom - 1 - y);
                const std::uint8_t* src = g.data.data() + src_row * stride;
                std::uint8_t* dst = row_of(mask.get(), static_cast<int>(y - cy1));
                for (std::int64_t x = x0; x < x1; ++x) {
                    const auto col = static_cast<std::size_t>(x - b.left);
                    const int mx = static_cast<int>(x - cx1);
                    if (depth == 1) {
                        if ((src[col >> 3] >> (7 - (col & 7))) & 1u) store_pixel(dst, 1, mx, 1);
                    } else {
                        std::uint8_t v = 0;
                        if (depth == 4) {
                            const std::uint8_t byte = src[col >> 1];
                            v = (col & 1) ? static_cast<std::uint8_t>(byte << 4) : static_cast<std::uint8_t>(byte & 0xf0);
                        } else {
                            v = src[col];
                        }
                        dst[mx] = std::max(dst[mx], v);
                    }
                }
            }
        }
        pixman_image_set_clip_region32(dest, const_cast<pixman_region32_t*>(region.get()));
        pixman_image_composite32(PIXMAN_OP_OVER, fore.get(), mask.get(), dest, static_cast<int>(cx1 - bounds.left),
                                 static_cast<int>(cy1 - bounds.top), 0, 0, static_cast<int>(cx1), static_cast<int>(cy1),
                                 mw, mh);
        pixman_image_set_clip_region32(dest, nullptr);
    }
    if (target.format() == SurfaceFormat::XRGB32) {
        clear_dest_alpha(dest, bounds.left, bounds.top, bounds.right - bounds.left, bounds.bottom - bounds.top);
    }
    return {};
}

}  // namespace qxlbox::proto::canvas_detail
