// PNG output of the headless front end (libpng): a surface as 8-bit RGB, the same pixels
// spicy-screenshot writes as PPM. Also a reader, used by tests to compare files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/canvas/canvas.h"

namespace qxlbox::client {

struct RgbImage {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::vector<std::uint8_t> rgb;  // width * height * 3, top row first
    friend bool operator==(const RgbImage&, const RgbImage&) = default;
};

// The surface's pixels as RGB (alpha and padding dropped; 16-bit formats expanded).
RgbImage surface_to_rgb(const proto::Surface& surface);

bool write_png(const RgbImage& image, const std::string& path, std::string& error);
bool read_png(const std::string& path, RgbImage& image, std::string& error);
// Binary PPM (P6, maxval 255), the format spicy-screenshot writes.
bool read_ppm(const std::string& path, RgbImage& image, std::string& error);

}  // namespace qxlbox::client
