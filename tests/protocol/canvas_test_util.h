// Helpers shared by the canvas tests: surfaces with raw pixel access, command and image
// builders, and a surface resolver over a map.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "protocol/canvas/canvas.h"

namespace qxlbox::proto::test {

std::unique_ptr<Surface> make_surface(SurfaceFormat format, std::uint32_t w, std::uint32_t h);
// Raw pixel value at (x, y) (1/8/16/32 bits wide, like the surface format).
std::uint32_t pixel(const Surface& s, int x, int y);
void set_pixel(Surface& s, int x, int y, std::uint32_t v);
void fill_surface(Surface& s, std::uint32_t v);
// Fills every pixel with a value derived from its position (distinct neighbours).
void fill_gradient(Surface& s, std::uint32_t seed = 0);

DrawCommand command(Rect bbox, DrawOp op);
Rect rect(std::int32_t left, std::int32_t top, std::int32_t right, std::int32_t bottom);

// A BITMAP image; rows are given top to bottom and stored in the order `top_down` asks for.
ImagePtr bitmap_image(BitmapFormat f, std::uint32_t w, std::uint32_t h, const std::vector<std::vector<std::uint8_t>>& rows,
                      bool top_down = true, std::shared_ptr<const Palette> palette = nullptr,
                      std::uint32_t stride = 0);
// A top-down 32BIT bitmap whose pixel (x, y) is pixels[y * w + x].
ImagePtr bitmap32(std::uint32_t w, std::uint32_t h, const std::vector<std::uint32_t>& pixels,
                  BitmapFormat f = BitmapFormat::Bit32);
ImagePtr surface_image(std::uint32_t surface_id);
std::shared_ptr<const Palette> palette(std::vector<std::uint32_t> ents);

class MapResolver : public SurfaceResolver {
public:
    Surface* find_surface(std::uint32_t id) override;
    std::map<std::uint32_t, Surface*> surfaces;
};

Brush solid(std::uint32_t color);

}  // namespace qxlbox::proto::test
