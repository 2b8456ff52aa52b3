#include "protocol/draw.h"

namespace qxlbox::proto {

unsigned surface_format_bpp(SurfaceFormat f) {
    switch (f) {
    case SurfaceFormat::A1: return 1;
    case SurfaceFormat::A8: return 8;
    case SurfaceFormat::RGB555:
    case SurfaceFormat::RGB565: return 16;
    case SurfaceFormat::XRGB32:
    case SurfaceFormat::ARGB32: return 32;
    case SurfaceFormat::Invalid: break;
    }
    return 0;
}

bool surface_format_valid(std::uint32_t raw) {
    return raw != 0 && surface_format_bpp(static_cast<SurfaceFormat>(raw)) != 0;
}

unsigned bitmap_format_bpp(BitmapFormat f) {
    switch (f) {
    case BitmapFormat::Bit1LE:
    case BitmapFormat::Bit1BE: return 1;
    case BitmapFormat::Bit4LE:
    case BitmapFormat::Bit4BE: return 4;
    case BitmapFormat::Bit8:
    case BitmapFormat::Bit8A: return 8;
    case BitmapFormat::Bit16: return 16;
    case BitmapFormat::Bit24: return 24;
    case BitmapFormat::Bit32:
    case BitmapFormat::RGBA: return 32;
    case BitmapFormat::Invalid: break;
    }
    return 0;
}

bool bitmap_format_needs_palette(BitmapFormat f) {
    switch (f) {
    case BitmapFormat::Bit1LE:
    case BitmapFormat::Bit1BE:
    case BitmapFormat::Bit4LE:
    case BitmapFormat::Bit4BE:
    case BitmapFormat::Bit8: return true;
    default: return false;
    }
}

}  // namespace qxlbox::proto
