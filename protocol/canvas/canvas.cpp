// Surfaces and the draw operations of the canvas, following spice-common's canvas_base.c and
// sw_canvas.c operation by operation (see canvas_internal.h for the overall model). STROKE and
// TEXT live in canvas_stroke.cpp and canvas_text.cpp.
#include <cmath>
#include <new>
#include <string>

#include "protocol/canvas/canvas_internal.h"

namespace qxlbox::proto {

using namespace canvas_detail;

std::unique_ptr<Surface> Surface::create(SurfaceFormat format, std::uint32_t width, std::uint32_t height) {
    const unsigned bpp = surface_format_bpp(format);
    if (bpp == 0 || width == 0 || height == 0 || width > kMaxSurfaceSide || height > kMaxSurfaceSide) return nullptr;
    const std::uint64_t stride = ((static_cast<std::uint64_t>(width) * bpp + 31) / 32) * 4;
    const std::uint64_t size = stride * height;
    std::unique_ptr<Surface> s(new (std::nothrow) Surface());
    if (!s) return nullptr;
    s->data_.reset(new (std::nothrow) std::uint8_t[size]());
    if (!s->data_) return nullptr;
    s->format_ = format;
    s->width_ = width;
    s->height_ = height;
    s->stride_ = static_cast<std::uint32_t>(stride);
    s->image_ = pixman_image_create_bits(pixman_format_of(format), static_cast<int>(width), static_cast<int>(height),
                                         reinterpret_cast<std::uint32_t*>(s->data_.get()), static_cast<int>(stride));
    if (!s->image_) return nullptr;
    return s;
}

Surface::~Surface() {
    if (image_) pixman_image_unref(image_);
}

std::uint32_t Surface::pixel(std::int32_t x, std::int32_t y) const {
    if (x < 0 || y < 0 || static_cast<std::uint32_t>(x) >= width_ || static_cast<std::uint32_t>(y) >= height_) return 0;
    return load_pixel(data_.get() + static_cast<std::size_t>(y) * stride_, static_cast<int>(surface_format_bpp(format_)),
                      x);
}

namespace canvas_detail {

Result<bool> base_region(const Surface& target, const DrawCommand& cmd, Region& out) {
    const Rect& b = cmd.bbox;
    Region r(b.left, b.top, static_cast<std::int64_t>(b.right) - b.left, static_cast<std::int64_t>(b.bottom) - b.top);
    r.intersect_rect(0, 0, target.width(), target.height());
    if (cmd.clip.type == ClipType::Rects) {
        Region clip;
        for (const Rect& c : cmd.clip.rects) {
            Region one(c.left, c.top, static_cast<std::int64_t>(c.right) - c.left,
                       static_cast<std::int64_t>(c.bottom) - c.top);
            pixman_region32_union(clip.get(), clip.get(), one.get());
        }
        r.intersect(clip);
    } else if (cmd.clip.type != ClipType::None) {
        return std::string("unknown clip type");
    }
    pixman_region32_copy(out.get(), r.get());
    return true;
}

}  // namespace canvas_detail

namespace {

// Coordinates beyond this are rejected as absurd (SPICE positions are 28.4 fixed point at most).
constexpr std::int64_t kMaxCoord = std::int64_t{1} << 27;

bool sane(std::int64_t v) { return v >= -kMaxCoord && v <= kMaxCoord; }
bool sane_rect(const Rect& r) { return sane(r.left) && sane(r.top) && sane(r.right) && sane(r.bottom); }

template <typename T>
const std::string* error_of(const Result<T>& r) {
    return std::get_if<std::string>(&r);
}

bool same_size(const Rect& a, const Rect& b) { return a.width() == b.width() && a.height() == b.height(); }

struct Ctx {
    Surface& target;
    const DrawCommand& cmd;
    SourceContext src;
    pixman_image_t* dest() const { return target.pixman(); }
};

DrawResult fail(const std::string& why) { return DrawResult::failure(why); }

DrawResult draw_brush(Ctx& c, const Region& region, const Brush& brush, Rop rop) {
    switch (brush.type) {
    case BrushType::Solid:
        if (rop == Rop::Copy) {
            fill_rects(c.dest(), region, brush.color);
        } else {
            fill_rects_rop(c.dest(), region, brush.color, rop);
        }
        return {};
    case BrushType::Pattern: {
        auto tile = acquire_source(c.src, brush.pattern, false);
        if (auto* e = error_of(tile)) return fail("pattern brush: " + *e);
        tile_rects_rop(c.dest(), region, std::get<ImageRef>(tile).get(), brush.pos.x, brush.pos.y, rop);
        return {};
    }
    case BrushType::None:
        // The ROP may still touch the destination (invert, blackness).
        fill_rects_rop(c.dest(), region, 0, rop);
        return {};
    }
    return fail("unknown brush type");
}

Result<bool> check_brush(Ctx& c, const Brush& brush) {
    if (brush.type == BrushType::Pattern) {
        auto tile = acquire_source(c.src, brush.pattern, false);
        if (auto* e = error_of(tile)) return "pattern brush: " + *e;
    } else if (brush.type != BrushType::Solid && brush.type != BrushType::None) {
        return std::string("unknown brush type");
    }
    if (!sane(brush.pos.x) || !sane(brush.pos.y)) return std::string("absurd brush position");
    return true;
}

// 16.16 scale factor src/dest as spice computes it; error when it does not fit.
Result<pixman_fixed_t> scale_factor(std::int64_t src, std::int64_t dest) {
    const std::int64_t f = src * 65536 / dest;
    if (f <= 0 || f > INT32_MAX) return std::string("absurd scale factor");
    return static_cast<pixman_fixed_t>(f);
}

pixman_filter_t filter_of(ScaleMode m) {
    return m == ScaleMode::Nearest ? PIXMAN_FILTER_NEAREST : PIXMAN_FILTER_GOOD;
}

// Sets src's transform so that destination pixel (dest_x + i) samples source
// src_x + i * src_w / dest_w (spice's __scale_image transform).
Result<bool> set_scale_transform(pixman_image_t* src, const Rect& src_area, const Rect& bbox, pixman_filter_t filter) {
    auto fsx = scale_factor(src_area.width(), bbox.width());
    auto fsy = scale_factor(src_area.height(), bbox.height());
    if (auto* e = error_of(fsx)) return *e;
    if (auto* e = error_of(fsy)) return *e;
    pixman_transform_t t;
    pixman_transform_init_scale(&t, std::get<pixman_fixed_t>(fsx), std::get<pixman_fixed_t>(fsy));
    pixman_transform_translate(&t, nullptr, pixman_int_to_fixed(src_area.left), pixman_int_to_fixed(src_area.top));
    pixman_image_set_transform(src, &t);
    pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
    pixman_image_set_filter(src, filter, nullptr, 0);
    return true;
}

// Scaled copy of the source into the region (COPY/OPAQUE/BLEND with different sizes), with an
// optional ROP through a temporary image as spice's __scale_image_rop() does.
DrawResult scale_into(Ctx& c, const Region& region, pixman_image_t* src, const Rect& src_area, ScaleMode mode,
                      Rop rop, bool colorkey = false, std::uint32_t key = 0) {
    const Rect& bbox = c.cmd.bbox;
    if (auto r = set_scale_transform(src, src_area, bbox, colorkey ? PIXMAN_FILTER_NEAREST : filter_of(mode));
        error_of(r)) {
        return fail(*error_of(r));
    }
    const pixman_box32_t e = region.extents();
    const int ew = e.x2 - e.x1, eh = e.y2 - e.y1;
    if (rop == Rop::Copy && !colorkey) {
        pixman_image_set_clip_region32(c.dest(), const_cast<pixman_region32_t*>(region.get()));
        pixman_image_composite32(PIXMAN_OP_SRC, src, nullptr, c.dest(), e.x1 - bbox.left, e.y1 - bbox.top, 0, 0, e.x1,
                                 e.y1, ew, eh);
        pixman_image_set_clip_region32(c.dest(), nullptr);
        return {};
    }
    ImageRef scaled(pixman_image_create_bits(pixman_image_get_format(src), ew, eh, nullptr, 0));
    if (!scaled) return fail("out of memory scaling");
    pixman_image_composite32(PIXMAN_OP_SRC, src, nullptr, scaled.get(), e.x1 - bbox.left, e.y1 - bbox.top, 0, 0, 0, 0,
                             ew, eh);
    if (colorkey) {
        blit_rects_colorkey(c.dest(), region, scaled.get(), e.x1, e.y1, key);
    } else {
        blit_rects_rop(c.dest(), region, scaled.get(), e.x1, e.y1, rop);
    }
    return {};
}

Result<bool> check_src_area(const Rect& src_area, const Rect& bbox) {
    if (!sane_rect(src_area)) return std::string("absurd source area");
    if (!same_size(src_area, bbox) && (src_area.empty() || bbox.empty())) {
        return std::string("empty source area scaled to a non-empty box");
    }
    return true;
}

// Shared body of COPY, BLEND and OPAQUE's source step.
DrawResult put_source(Ctx& c, const Region& region, pixman_image_t* src, const Rect& src_area, ScaleMode mode,
                      Rop rop) {
    const Rect& bbox = c.cmd.bbox;
    if (same_size(bbox, src_area)) {
        blit_rects_rop(c.dest(), region, src, bbox.left - src_area.left, bbox.top - src_area.top, rop);
        return {};
    }
    return scale_into(c, region, src, src_area, mode, rop);
}

DrawResult op_copy(Ctx& c, const CopyParams& p) {
    if (auto r = check_src_area(p.src_area, c.cmd.bbox); error_of(r)) return fail(*error_of(r));
    auto src = acquire_source(c.src, p.src_bitmap, false);
    if (auto* e = error_of(src)) return fail(*e);
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (auto r = intersect_mask(c.src, region, p.mask, c.cmd.bbox.left, c.cmd.bbox.top); error_of(r)) {
        return fail(*error_of(r));
    }
    const Rop rop = rop_from_descriptor(p.rop_descriptor, RopInput::Src, RopInput::Dest);
    if (rop == Rop::Noop || region.empty()) return {};
    return put_source(c, region, std::get<ImageRef>(src).get(), p.src_area, p.scale_mode, rop);
}

DrawResult op_opaque(Ctx& c, const Opaque& p) {
    if (auto r = check_src_area(p.src_area, c.cmd.bbox); error_of(r)) return fail(*error_of(r));
    if (auto r = check_brush(c, p.brush); error_of(r)) return fail(*error_of(r));
    auto src = acquire_source(c.src, p.src_bitmap, false);
    if (auto* e = error_of(src)) return fail(*e);
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (auto r = intersect_mask(c.src, region, p.mask, c.cmd.bbox.left, c.cmd.bbox.top); error_of(r)) {
        return fail(*error_of(r));
    }
    // The brush is combined with the freshly drawn source: brush plays "src", source plays "dest".
    const Rop rop = rop_from_descriptor(p.rop_descriptor, RopInput::Brush, RopInput::Src);
    if (rop == Rop::Noop || region.empty()) return {};
    if (auto r = put_source(c, region, std::get<ImageRef>(src).get(), p.src_area, p.scale_mode, Rop::Copy); !r.ok) {
        return r;
    }
    return draw_brush(c, region, p.brush, rop);
}

DrawResult op_fill(Ctx& c, const Fill& p) {
    if (auto r = check_brush(c, p.brush); error_of(r)) return fail(*error_of(r));
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (auto r = intersect_mask(c.src, region, p.mask, c.cmd.bbox.left, c.cmd.bbox.top); error_of(r)) {
        return fail(*error_of(r));
    }
    const Rop rop = rop_from_descriptor(p.rop_descriptor, RopInput::Brush, RopInput::Dest);
    if (rop == Rop::Noop || region.empty()) return {};
    return draw_brush(c, region, p.brush, rop);
}

DrawResult op_constant(Ctx& c, const QMask& mask, Rop rop) {
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (auto r = intersect_mask(c.src, region, mask, c.cmd.bbox.left, c.cmd.bbox.top); error_of(r)) {
        return fail(*error_of(r));
    }
    if (region.empty()) return {};
    switch (rop) {
    case Rop::Clear: fill_rects(c.dest(), region, 0x000000u); break;
    case Rop::Set: fill_rects(c.dest(), region, 0xffffffffu); break;
    default: fill_rects_rop(c.dest(), region, 0, rop); break;
    }
    return {};
}

DrawResult op_rop3(Ctx& c, const Rop3& p) {
    const Rect& bbox = c.cmd.bbox;
    if (auto r = check_src_area(p.src_area, bbox); error_of(r)) return fail(*error_of(r));
    if (auto r = check_brush(c, p.brush); error_of(r)) return fail(*error_of(r));
    auto src_r = acquire_source(c.src, p.src_bitmap, false);
    if (auto* e = error_of(src_r)) return fail(*e);
    pixman_image_t* src = std::get<ImageRef>(src_r).get();
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (auto r = intersect_mask(c.src, region, p.mask, bbox.left, bbox.top); error_of(r)) return fail(*error_of(r));

    const int width = bbox.width(), height = bbox.height();
    ImageRef pattern;
    if (p.brush.type == BrushType::Pattern) {
        auto pr = acquire_source(c.src, p.brush.pattern, false);
        if (auto* e = error_of(pr)) return fail("pattern brush: " + *e);
        pattern = std::move(std::get<ImageRef>(pr));
    }
    if (region.empty()) return {};
    const pixman_box32_t e = region.extents();
    // s_origin: where destination pixel (x, y) finds its source pixel: s(x - s_dx, y - s_dy).
    ImageRef scaled;
    int s_dx = 0, s_dy = 0;
    if (!same_size(bbox, p.src_area)) {
        // canvas_scale_surface(): a bbox-sized scaled copy whose origin is rounded from src_area.
        const double sx = static_cast<double>(p.src_area.width()) / width;
        const double sy = static_cast<double>(p.src_area.height()) / height;
        pixman_transform_t t;
        pixman_transform_init_scale(&t, pixman_double_to_fixed(sx), pixman_double_to_fixed(sy));
        pixman_image_set_transform(src, &t);
        pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
        pixman_image_set_filter(src, filter_of(p.scale_mode), nullptr, 0);
        const auto ox = static_cast<std::int64_t>(std::floor(p.src_area.left / sx + 0.5));
        const auto oy = static_cast<std::int64_t>(std::floor(p.src_area.top / sy + 0.5));
        const int ew = e.x2 - e.x1, eh = e.y2 - e.y1;
        scaled.reset(pixman_image_create_bits(pixman_image_get_format(src), ew, eh, nullptr, 0));
        if (!scaled) return fail("out of memory scaling");
        const std::int64_t src_x = ox + (e.x1 - bbox.left), src_y = oy + (e.y1 - bbox.top);
        if (!sane(src_x) || !sane(src_y)) return fail("absurd source area");
        pixman_image_composite32(PIXMAN_OP_SRC, src, nullptr, scaled.get(), static_cast<int>(src_x),
                                 static_cast<int>(src_y), 0, 0, 0, 0, ew, eh);
        src = scaled.get();
        s_dx = e.x1;
        s_dy = e.y1;
    } else {
        if (p.src_area.left < 0 || p.src_area.top < 0 ||
            pixman_image_get_width(src) - static_cast<std::int64_t>(p.src_area.left) < width ||
            pixman_image_get_height(src) - static_cast<std::int64_t>(p.src_area.top) < height) {
            return fail("ROP3 source is smaller than the box");
        }
        s_dx = bbox.left - p.src_area.left;
        s_dy = bbox.top - p.src_area.top;
    }
    const int bpp = image_bpp(c.dest());
    if (image_bpp(src) != bpp || (pattern && image_bpp(pattern.get()) != bpp)) return fail("ROP3 depth mismatch");
    const int pw = pattern ? pixman_image_get_width(pattern.get()) : 1;
    const int ph = pattern ? pixman_image_get_height(pattern.get()) : 1;
    int n = 0;
    const pixman_box32_t* boxes = region.rects(n);
    for (int i = 0; i < n; ++i) {
        const pixman_box32_t& b = boxes[i];
        for (int y = b.y1; y < b.y2; ++y) {
            std::uint8_t* drow = row_of(c.dest(), y);
            const std::uint8_t* srow = row_of(src, y - s_dy);
            const std::uint8_t* prow = nullptr;
            if (pattern) {
                int py = static_cast<int>((static_cast<std::int64_t>(y) - p.brush.pos.y) % ph);
                if (py < 0) py += ph;
                prow = row_of(pattern.get(), py);
            }
            for (int x = b.x1; x < b.x2; ++x) {
                std::uint32_t pat = p.brush.color;
                if (prow) {
                    int px = static_cast<int>((static_cast<std::int64_t>(x) - p.brush.pos.x) % pw);
                    if (px < 0) px += pw;
                    pat = load_pixel(prow, bpp, px);
                }
                const std::uint32_t s = load_pixel(srow, bpp, x - s_dx);
                store_pixel(drow, bpp, x, apply_rop3(p.rop3, pat, s, load_pixel(drow, bpp, x)));
            }
        }
    }
    return {};
}

std::uint32_t transparent_key(SurfaceFormat f, std::uint32_t true_color) {
    switch (f) {
    case SurfaceFormat::XRGB32:
    case SurfaceFormat::ARGB32: return true_color;
    case SurfaceFormat::RGB555:
        return ((true_color >> 3) & 0x001f) | ((true_color >> 6) & 0x03e0) | ((true_color >> 9) & 0x7c00);
    case SurfaceFormat::RGB565:
        return ((true_color >> 3) & 0x001f) | ((true_color >> 5) & 0x07e0) | ((true_color >> 8) & 0xf800);
    default: return 0;
    }
}

DrawResult op_transparent(Ctx& c, const Transparent& p) {
    if (auto r = check_src_area(p.src_area, c.cmd.bbox); error_of(r)) return fail(*error_of(r));
    auto src = acquire_source(c.src, p.src_bitmap, false);
    if (auto* e = error_of(src)) return fail(*e);
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (region.empty()) return {};
    const std::uint32_t key = transparent_key(c.target.format(), p.true_color);
    const Rect& bbox = c.cmd.bbox;
    if (same_size(bbox, p.src_area)) {
        blit_rects_colorkey(c.dest(), region, std::get<ImageRef>(src).get(), bbox.left - p.src_area.left,
                            bbox.top - p.src_area.top, key);
        return {};
    }
    return scale_into(c, region, std::get<ImageRef>(src).get(), p.src_area, ScaleMode::Nearest, Rop::Copy, true, key);
}

DrawResult op_alpha_blend(Ctx& c, const AlphaBlend& p) {
    const Rect& bbox = c.cmd.bbox;
    if (auto r = check_src_area(p.src_area, bbox); error_of(r)) return fail(*error_of(r));
    auto src_r = acquire_source(c.src, p.src_bitmap, true, (p.alpha_flags & kAlphaSrcSurfaceHasAlpha) != 0);
    if (auto* e = error_of(src_r)) return fail(*e);
    pixman_image_t* src = std::get<ImageRef>(src_r).get();
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (p.alpha == 0 || region.empty()) return {};

    const bool dest_has_alpha = (p.alpha_flags & kAlphaDestHasAlpha) != 0;
    ImageRef dest_view;
    pixman_image_t* dest = c.dest();
    if (dest_has_alpha && c.target.format() == SurfaceFormat::XRGB32) {
        dest_view.reset(pixman_image_create_bits(PIXMAN_a8r8g8b8, static_cast<int>(c.target.width()),
                                                 static_cast<int>(c.target.height()),
                                                 reinterpret_cast<std::uint32_t*>(c.target.data()),
                                                 static_cast<int>(c.target.stride())));
        if (!dest_view) return fail("cannot view destination");
        dest = dest_view.get();
    }
    ImageRef mask;
    if (p.alpha != 0xff) {
        pixman_color_t color{0, 0, 0, static_cast<std::uint16_t>(p.alpha * 0x101)};
        mask.reset(pixman_image_create_solid_fill(&color));
    }
    const pixman_box32_t e = region.extents();
    pixman_image_set_clip_region32(dest, const_cast<pixman_region32_t*>(region.get()));
    pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
    if (same_size(bbox, p.src_area)) {
        pixman_image_composite32(PIXMAN_OP_OVER, src, mask.get(), dest, p.src_area.left + (e.x1 - bbox.left),
                                 p.src_area.top + (e.y1 - bbox.top), 0, 0, e.x1, e.y1, e.x2 - e.x1, e.y2 - e.y1);
    } else {
        // spice-common always blends scaled sources with nearest sampling.
        if (auto r = set_scale_transform(src, p.src_area, bbox, PIXMAN_FILTER_NEAREST); error_of(r)) {
            pixman_image_set_clip_region32(dest, nullptr);
            return fail(*error_of(r));
        }
        pixman_image_composite32(PIXMAN_OP_OVER, src, mask.get(), dest, e.x1 - bbox.left, e.y1 - bbox.top, 0, 0, e.x1,
                                 e.y1, e.x2 - e.x1, e.y2 - e.y1);
    }
    pixman_image_set_clip_region32(dest, nullptr);
    if (c.target.format() == SurfaceFormat::XRGB32 && !dest_has_alpha) {
        clear_dest_alpha(c.dest(), bbox.left, bbox.top, bbox.width(), bbox.height());
    }
    return {};
}

bool valid_pixman_op(std::uint32_t op) {
    return op <= PIXMAN_OP_SATURATE || (op >= PIXMAN_OP_DISJOINT_CLEAR && op <= PIXMAN_OP_DISJOINT_XOR) ||
           (op >= PIXMAN_OP_CONJOINT_CLEAR && op <= PIXMAN_OP_CONJOINT_XOR) ||
           (op >= PIXMAN_OP_MULTIPLY && op <= PIXMAN_OP_HSL_LUMINOSITY);
}

void set_transform(pixman_image_t* image, const Transform& tr) {
    pixman_transform_t t{};
    t.matrix[0][0] = static_cast<pixman_fixed_t>(tr.t[0]);
    t.matrix[0][1] = static_cast<pixman_fixed_t>(tr.t[1]);
    t.matrix[0][2] = static_cast<pixman_fixed_t>(tr.t[2]);
    t.matrix[1][0] = static_cast<pixman_fixed_t>(tr.t[3]);
    t.matrix[1][1] = static_cast<pixman_fixed_t>(tr.t[4]);
    t.matrix[1][2] = static_cast<pixman_fixed_t>(tr.t[5]);
    t.matrix[2][2] = pixman_fixed_1;
    pixman_image_set_transform(image, &t);
}

// Composite sources: bitmaps in the target format, surfaces as they are (SOURCE_OPAQUE drops
// the alpha channel of an ARGB surface).
Result<ImageRef> composite_source(Ctx& c, const ImagePtr& image, bool force_opaque) {
    if (image && std::holds_alternative<SurfaceRef>(image->content)) {
        auto r = acquire_source(c.src, image, true, false);
        if (error_of(r) || !force_opaque) return r;
        pixman_image_t* v = std::get<ImageRef>(r).get();
        if (pixman_image_get_format(v) != PIXMAN_a8r8g8b8) return r;
        ImageRef opaque(pixman_image_create_bits(PIXMAN_x8r8g8b8, pixman_image_get_width(v), pixman_image_get_height(v),
                                                 pixman_image_get_data(v), pixman_image_get_stride(v)));
        if (!opaque) return std::string("cannot view surface");
        // The view borrows the pixels of `v`, which stays alive through its destroy hook.
        pixman_image_t* keep = std::get<ImageRef>(r).release();
        pixman_image_set_destroy_function(
            opaque.get(), [](pixman_image_t*, void* data) { pixman_image_unref(static_cast<pixman_image_t*>(data)); },
            keep);
        return opaque;
    }
    return acquire_source(c.src, image, false);
}

DrawResult op_composite(Ctx& c, const Composite& p) {
    using namespace composite;
    const Rect& bbox = c.cmd.bbox;
    const std::uint32_t op = p.flags & kOpMask;
    const std::uint32_t src_filter = (p.flags >> kSrcFilterShift) & 7;
    const std::uint32_t mask_filter = (p.flags >> kMaskFilterShift) & 7;
    const std::uint32_t src_repeat = (p.flags >> kSrcRepeatShift) & 3;
    const std::uint32_t mask_repeat = (p.flags >> kMaskRepeatShift) & 3;
    if (!valid_pixman_op(op)) return fail("invalid composite operator");
    if (src_filter > PIXMAN_FILTER_BILINEAR || mask_filter > PIXMAN_FILTER_BILINEAR) {
        return fail("unsupported composite filter");
    }
    auto src_r = composite_source(c, p.src_bitmap, (p.flags & kSourceOpaque) != 0);
    if (auto* e = error_of(src_r)) return fail(*e);
    pixman_image_t* src = std::get<ImageRef>(src_r).get();
    ImageRef mask;
    if (p.mask_bitmap) {
        auto m = composite_source(c, p.mask_bitmap, false);
        if (auto* e = error_of(m)) return fail("composite mask: " + *e);
        mask = std::move(std::get<ImageRef>(m));
    }
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    if (region.empty()) return {};

    if (p.src_transform) set_transform(src, *p.src_transform);
    pixman_image_set_filter(src, static_cast<pixman_filter_t>(src_filter), nullptr, 0);
    pixman_image_set_repeat(src, static_cast<pixman_repeat_t>(src_repeat));
    if (mask) {
        if (p.mask_transform) set_transform(mask.get(), *p.mask_transform);
        pixman_image_set_filter(mask.get(), static_cast<pixman_filter_t>(mask_filter), nullptr, 0);
        pixman_image_set_repeat(mask.get(), static_cast<pixman_repeat_t>(mask_repeat));
        pixman_image_set_component_alpha(mask.get(), (p.flags & kComponentAlpha) != 0);
    }
    // The destination is composited in a copy (DEST_OPAQUE: seen without alpha), then blitted
    // back through the region, as spice does; only the region's extents are needed.
    pixman_format_code_t dformat = pixman_format_of(c.target.format());
    if ((p.flags & kDestOpaque) && dformat == PIXMAN_a8r8g8b8) dformat = PIXMAN_x8r8g8b8;
    const pixman_box32_t e = region.extents();
    const int ew = e.x2 - e.x1, eh = e.y2 - e.y1;
    ImageRef d = copy_area(c.dest(), dformat, e.x1, e.y1, ew, eh);
    if (!d) return fail("out of memory compositing");
    const int dx = e.x1 - bbox.left, dy = e.y1 - bbox.top;
    pixman_image_composite32(static_cast<pixman_op_t>(op), src, mask.get(), d.get(), p.src_origin.x + dx,
                             p.src_origin.y + dy, p.mask_origin.x + dx, p.mask_origin.y + dy, 0, 0, ew, eh);
    blit_rects_rop(c.dest(), region, d.get(), e.x1, e.y1, Rop::Copy);
    return {};
}

DrawResult op_copy_bits(Ctx& c, const CopyBits& p) {
    if (!sane(p.src_pos.x) || !sane(p.src_pos.y)) return fail("absurd copy-bits source");
    Region region;
    if (auto r = base_region(c.target, c.cmd, region); error_of(r)) return fail(*error_of(r));
    const int dx = c.cmd.bbox.left - p.src_pos.x, dy = c.cmd.bbox.top - p.src_pos.y;
    if (dx == 0 && dy == 0) return {};
    region.intersect_rect(dx, dy, c.target.width(), c.target.height());
    if (region.empty()) return {};
    copy_region_within(c.dest(), region, dx, dy);
    return {};
}

bool sane_mask(const QMask& m) { return sane(m.pos.x) && sane(m.pos.y); }

}  // namespace

DrawResult draw(Surface& target, const DrawCommand& cmd, SurfaceResolver* resolver) {
    if (!sane_rect(cmd.bbox)) return fail("absurd bounding box");
    for (const Rect& r : cmd.clip.rects) {
        if (!sane_rect(r)) return fail("absurd clip rectangle");
    }
    Ctx c{target, cmd, SourceContext{target, resolver}};
    return std::visit(
        [&](const auto& op) -> DrawResult {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, Fill>) {
                if (!sane_mask(op.mask)) return fail("absurd mask position");
                return op_fill(c, op);
            } else if constexpr (std::is_same_v<T, Opaque>) {
                if (!sane_mask(op.mask)) return fail("absurd mask position");
                return op_opaque(c, op);
            } else if constexpr (std::is_same_v<T, Copy> || std::is_same_v<T, Blend>) {
                // spice-common draws BLEND exactly like COPY.
                if (!sane_mask(op.mask)) return fail("absurd mask position");
                return op_copy(c, op);
            } else if constexpr (std::is_same_v<T, Blackness>) {
                if (!sane_mask(op.mask)) return fail("absurd mask position");
                return op_constant(c, op.mask, Rop::Clear);
            } else if constexpr (std::is_same_v<T, Whiteness>) {
                if (!sane_mask(op.mask)) return fail("absurd mask position");
                return op_constant(c, op.mask, Rop::Set);
            } else if constexpr (std::is_same_v<T, Invers>) {
                if (!sane_mask(op.mask)) return fail("absurd mask position");
                return op_constant(c, op.mask, Rop::Invert);
            } else if constexpr (std::is_same_v<T, Rop3>) {
                if (!sane_mask(op.mask)) return fail("absurd mask position");
                return op_rop3(c, op);
            } else if constexpr (std::is_same_v<T, Stroke>) {
                return draw_stroke(target, cmd, op, resolver);
            } else if constexpr (std::is_same_v<T, Text>) {
                return draw_text(target, cmd, op, resolver);
            } else if constexpr (std::is_same_v<T, Transparent>) {
                return op_transparent(c, op);
            } else if constexpr (std::is_same_v<T, AlphaBlend>) {
                return op_alpha_blend(c, op);
            } else if constexpr (std::is_same_v<T, Composite>) {
                return op_composite(c, op);
            } else {
                return op_copy_bits(c, op);
            }
        },
        cmd.op);
}

DrawResult draw_all(Surface& target, std::span<const DrawCommand> cmds, SurfaceResolver* resolver) {
    DrawResult first;
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        DrawResult r = draw(target, cmds[i], resolver);
        if (!r.ok && first.ok) first = DrawResult::failure("command " + std::to_string(i) + ": " + r.error);
    }
    return first;
}

}  // namespace qxlbox::proto
