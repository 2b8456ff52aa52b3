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
#pragma once

#include <cstdint>
#include <memory>
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

}  // namespace qxlbox::proto
