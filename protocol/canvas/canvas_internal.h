// Private plumbing of the canvas (protocol/canvas/*.cpp only).
//
// Theory of operation: every draw operation follows spice-common's software canvas. It first
// builds a destination region (bbox, clipped to the surface, to the clip rectangles and, for
// the operations that take one, to the QMask), then draws into the rectangles of that region.
// Raster operations (the 16 SPICE ROPs and the 256 ternary ROP3 codes) work on raw pixel values
// of the destination format, alpha byte included, exactly as spice-common's pixman_utils.c and
// rop3.c do. Sources are converted to the destination's pixel format first ("target format"),
// except for ALPHA_BLEND which keeps the source's own format so that its alpha survives.
#pragma once

#include <pixman.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "protocol/canvas/canvas.h"

namespace qxlbox::proto::canvas_detail {

// The SPICE ROP (SpiceROP) a ROP descriptor reduces to.
enum class Rop : std::uint8_t {
    Clear = 0,
    And = 1,
    AndReverse = 2,
    Copy = 3,
    AndInverted = 4,
    Noop = 5,
    Xor = 6,
    Or = 7,
    Nor = 8,
    Equiv = 9,
    Invert = 10,
    OrReverse = 11,
    CopyInverted = 12,
    OrInverted = 13,
    Nand = 14,
    Set = 15,
};

enum class RopInput : std::uint8_t { Src, Brush, Dest };

// ropd_descriptor_to_rop(): which SPICE ROP a descriptor means when `src_input` plays the role
// of the source and `dest_input` the role of the destination.
Rop rop_from_descriptor(std::uint16_t descriptor, RopInput src_input, RopInput dest_input);

// Applies `rop` to one raw pixel value.
inline std::uint32_t apply_rop(Rop rop, std::uint32_t src, std::uint32_t dst) {
    switch (rop) {
    case Rop::Clear: return 0;
    case Rop::And: return src & dst;
    case Rop::AndReverse: return src & ~dst;
    case Rop::Copy: return src;
    case Rop::AndInverted: return ~src & dst;
    case Rop::Noop: return dst;
    case Rop::Xor: return src ^ dst;
    case Rop::Or: return src | dst;
    case Rop::Nor: return ~src & ~dst;
    case Rop::Equiv: return ~src ^ dst;
    case Rop::Invert: return ~dst;
    case Rop::OrReverse: return src | ~dst;
    case Rop::CopyInverted: return ~src;
    case Rop::OrInverted: return ~src | dst;
    case Rop::Nand: return ~src | ~dst;
    case Rop::Set: return 0xffffffffu;
    }
    return dst;
}

// Ternary ROP: bit i of the result is bit (P<<2 | S<<1 | D) of `code`, for every bit i.
std::uint32_t apply_rop3(std::uint8_t code, std::uint32_t pat, std::uint32_t src, std::uint32_t dst);

struct ImageDeleter {
    void operator()(pixman_image_t* image) const {
        if (image) pixman_image_unref(image);
    }
};
using ImageRef = std::unique_ptr<pixman_image_t, ImageDeleter>;

// RAII pixman_region32_t.
class Region {
public:
    Region() { pixman_region32_init(&r_); }
    Region(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h);
    ~Region() { pixman_region32_fini(&r_); }
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;
    pixman_region32_t* get() { return &r_; }
    const pixman_region32_t* get() const { return &r_; }
    bool empty() const { return !pixman_region32_not_empty(const_cast<pixman_region32_t*>(&r_)); }
    void intersect(const Region& other) { pixman_region32_intersect(&r_, &r_, const_cast<pixman_region32_t*>(&other.r_)); }
    void intersect_rect(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h);
    const pixman_box32_t* rects(int& count) const {
        return pixman_region32_rectangles(const_cast<pixman_region32_t*>(&r_), &count);
    }
    pixman_box32_t extents() const { return *pixman_region32_extents(const_cast<pixman_region32_t*>(&r_)); }

private:
    pixman_region32_t r_{};
};

template <typename T>
using Result = std::variant<T, std::string>;

// Pixman format of a surface format.
pixman_format_code_t pixman_format_of(SurfaceFormat format);

// Bits per pixel of a pixman image as the raster code sees it (x1r5g5b5 -> 16, x8r8g8b8 -> 32).
int image_bpp(pixman_image_t* image);

// Where sources come from.
struct SourceContext {
    Surface& target;
    SurfaceResolver* resolver = nullptr;
};

// A source image (bitmap or surface) converted for drawing onto ctx.target. With
// `want_original` the source keeps its own format (ALPHA_BLEND); otherwise it is in the target
// format (alpha kept as a8r8g8b8 on xRGB targets when the source has alpha, as spice does).
// A surface source has `from_surface` set; `surface_has_alpha` applies the SRC_SURFACE_HAS_ALPHA
// view for ALPHA_BLEND.
Result<ImageRef> acquire_source(const SourceContext& ctx, const ImagePtr& image, bool want_original,
                                bool surface_has_alpha = false);

// The QMask as a region in destination coordinates (mask pixel (0,0) lands on `origin` - pos).
// Returns an error string for masks that are not 1-bit bitmaps or A1 surfaces.
Result<bool> intersect_mask(const SourceContext& ctx, Region& region, const QMask& mask, std::int32_t x, std::int32_t y);

// --- raw raster operations on the destination (pixman_utils.c equivalents) ---

// Fill rectangles with a raw pixel value (pixman_fill fast path for 8/16/32 bpp).
void fill_rects(pixman_image_t* dest, const Region& region, std::uint32_t value);
void fill_rects_rop(pixman_image_t* dest, const Region& region, std::uint32_t value, Rop rop);
void fill_box_rop(pixman_image_t* dest, const pixman_box32_t& box, std::uint32_t value, Rop rop);
// Tile `tile` (same bpp as dest) with its origin at (offset_x, offset_y).
void tile_box_rop(pixman_image_t* dest, const pixman_box32_t& box, pixman_image_t* tile, int offset_x, int offset_y,
                  Rop rop);
void tile_rects_rop(pixman_image_t* dest, const Region& region, pixman_image_t* tile, int offset_x, int offset_y,
                    Rop rop);
// Copy src pixel (x - offset_x, y - offset_y) to dest (x, y) over the region, clipping reads to
// the source (spice_pixman_blit). Rop::Copy on 8/16/32 bpp goes through pixman_blt.
void blit_rects_rop(pixman_image_t* dest, const Region& region, pixman_image_t* src, int offset_x, int offset_y,
                    Rop rop);
// Same as blit, but pixels whose colour equals `key` (low 24 bits on 32 bpp) are skipped.
void blit_rects_colorkey(pixman_image_t* dest, const Region& region, pixman_image_t* src, int offset_x, int offset_y,
                         std::uint32_t key);
// Moves pixels within one image: dest (x, y) <- (x - dx, y - dy), overlap-safe.
void copy_region_within(pixman_image_t* image, const Region& region, int dx, int dy);
// spice's clear_dest_alpha(): on an xRGB destination, if the first pixel of the rectangle has
// alpha 0xff, AND every pixel of the rectangle with 0x00ffffff.
void clear_dest_alpha(pixman_image_t* dest, std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h);

// A new image of `format` holding a copy of `src` (pixman SRC conversion).
ImageRef convert_image(pixman_image_t* src, pixman_format_code_t format);
// A new image holding a copy of the (x, y, w, h) area of `src`; outside `src` stays zero.
ImageRef copy_area(pixman_image_t* src, pixman_format_code_t format, int x, int y, int w, int h);

// Raw pixel access for bpp 1/8/16/32 rows (x in pixels).
std::uint32_t load_pixel(const std::uint8_t* row, int bpp, int x);
void store_pixel(std::uint8_t* row, int bpp, int x, std::uint32_t value);
inline std::uint8_t* row_of(pixman_image_t* image, int y) {
    return reinterpret_cast<std::uint8_t*>(pixman_image_get_data(image)) +
           static_cast<std::ptrdiff_t>(y) * pixman_image_get_stride(image);
}

// Draw ops living in their own files.
DrawResult draw_stroke(Surface& target, const DrawCommand& cmd, const Stroke& stroke, SurfaceResolver* resolver);
DrawResult draw_text(Surface& target, const DrawCommand& cmd, const Text& text, SurfaceResolver* resolver);

// Region of bbox ∩ surface ∩ clip (canvas_clip_pixman). Error for malformed clips.
Result<bool> base_region(const Surface& target, const DrawCommand& cmd, Region& out);

}  // namespace qxlbox::proto::canvas_detail
