// The canvas: the one reference rendering of every SPICE/QXL draw operation onto a surface,
// shared by the server (UPDATE_AREA, surface read-back) and the client (its window). The role
// spice-common's software canvas plays for spice-server and spice-gtk.
//
// Theory of operation: a Surface owns its pixels (top-down rows, positive stride) and a pixman
// image over them. draw() renders one owned DrawCommand (protocol/draw.h) onto it, clipped to
// the surface and to the command's clip. Source images must be decoded already: the canvas
// takes Image contents of kind Bitmap (any format, palettes, top-down or bottom-up) and
// SurfaceRef (resolved through the SurfaceResolver). Receivers decode LZ/QUIC/JPEG and resolve
// FROM_CACHE before calling draw(). Bad input (absurd sizes, missing palettes, unknown
// surfaces) yields an error value, never a crash.
//
// Semantics follow spice-common's software canvas (canvas_base.c, sw_canvas.c, pixman_utils.c,
// rop3.c, lines.c) so that our client and spice-gtk show the same pixels; the places where we
// deliberately differ are where spice-common crashes, reads uninitialised memory or has no code:
// - indexed bitmaps: a missing palette is an error; an index beyond the palette draws pixel
//   value 0; 1BIT_LE and 4BIT_LE are decoded (spice-common rejects them);
// - ROP3 implements all 256 ternary codes (spice-common leaves the 38 codes that do not use all
//   three operands unimplemented and draws nothing for them), also on 8- and 1-bit surfaces;
// - SURFACE sources of another depth are converted (spice-common asserts); masks must be 1-bit
//   bitmaps or A1 surfaces (spice-common reads any surface's bits as a 1-bit mask);
// - styled (dashed) strokes decide on/off per thin-line pixel by its distance along the
//   polyline (spice-common fills width-1 dash polygons with the X server's wide-dash code;
//   sloped dashes may differ by a pixel at dash ends);
// - Bézier flattening stops after 16 levels (spice-common recurses forever on a curve whose
//   four points coincide);
// - malformed commands (Bézier point counts, short glyph data, vector glyph strings, TEXT with
//   a back area and fore_mode other than OP_PUT) are rejected before anything is drawn, where
//   spice-common may have drawn part of the command.
// The details live next to the code (protocol/canvas/*.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "protocol/draw.h"

typedef union pixman_image pixman_image_t;

namespace qxlbox::proto {

// Largest surface side the canvas accepts (SPICE itself allows larger; nothing real uses it).
inline constexpr std::uint32_t kMaxSurfaceSide = 16384;

class Surface {
public:
    // nullptr when the format is invalid or the size is zero or too large.
    static std::unique_ptr<Surface> create(SurfaceFormat format, std::uint32_t width, std::uint32_t height);
    ~Surface();
    Surface(const Surface&) = delete;
    Surface& operator=(const Surface&) = delete;

    SurfaceFormat format() const { return format_; }
    std::uint32_t width() const { return width_; }
    std::uint32_t height() const { return height_; }
    std::uint32_t stride() const { return stride_; }
    std::uint8_t* data() { return data_.get(); }
    const std::uint8_t* data() const { return data_.get(); }
    pixman_image_t* pixman() const { return image_; }
    // Raw pixel value at (x, y) in the surface's own format (1, 8, 16 or 32 bits, alpha byte
    // included); 0 outside the surface.
    std::uint32_t pixel(std::int32_t x, std::int32_t y) const;

private:
    Surface() = default;
    SurfaceFormat format_ = SurfaceFormat::Invalid;
    std::uint32_t width_ = 0, height_ = 0, stride_ = 0;
    std::unique_ptr<std::uint8_t[]> data_;
    pixman_image_t* image_ = nullptr;
};

// Finds other surfaces for SURFACE images and COPY_BITS-style dependencies.
class SurfaceResolver {
public:
    virtual ~SurfaceResolver() = default;
    virtual Surface* find_surface(std::uint32_t surface_id) = 0;
};

struct DrawResult {
    bool ok = true;
    std::string error;  // why the command was rejected (nothing was drawn)
    static DrawResult failure(std::string why) { return {false, std::move(why)}; }
};

// Renders `cmd` onto `target` (which is surface cmd.surface_id). `resolver` may be null when
// the command references no other surface.
DrawResult draw(Surface& target, const DrawCommand& cmd, SurfaceResolver* resolver);

// Renders `cmds` in order onto `target` (the comparison testbed's entry point). Every command is
// attempted; the result is the first failure, its error prefixed with the command's index.
DrawResult draw_all(Surface& target, std::span<const DrawCommand> cmds, SurfaceResolver* resolver);

}  // namespace qxlbox::proto
