#include "client/png_io.h"

#include <png.h>

#include <cstdio>
#include <fstream>
#include <memory>

namespace qxlbox::client {

namespace {

struct FileClose {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

std::uint8_t expand5(unsigned v) { return static_cast<std::uint8_t>(v << 3 | v >> 2); }
std::uint8_t expand6(unsigned v) { return static_cast<std::uint8_t>(v << 2 | v >> 4); }

// libpng reports through these; the message is replaced by ours, so stay quiet.
[[noreturn]] void png_quiet_error(png_structp png, png_const_charp) { png_longjmp(png, 1); }
void png_quiet_warning(png_structp, png_const_charp) {}

// Kept outside the functions that call setjmp so no local with a destructor is live across it.
bool png_write_rows(std::FILE* f, const RgbImage& image, std::string& error) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_quiet_error, png_quiet_warning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        error = "libpng: out of memory";
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        error = "libpng failed while writing";
        return false;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, image.width, image.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (std::uint32_t y = 0; y < image.height; ++y) {
        png_write_row(png, const_cast<png_bytep>(image.rgb.data() + std::size_t{y} * image.width * 3));
    }
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

bool png_read_rows(std::FILE* f, RgbImage& image, std::string& error) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, png_quiet_error, png_quiet_warning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        error = "libpng: out of memory";
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        error = "not a readable PNG";
        return false;
    }
    png_init_io(png, f);
    png_set_user_limits(png, 16384, 16384);
    png_read_info(png, info);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_palette_to_rgb(png);
    png_set_gray_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    png_read_update_info(png, info);
    image.width = png_get_image_width(png, info);
    image.height = png_get_image_height(png, info);
    image.rgb.assign(std::size_t{image.width} * image.height * 3, 0);
    for (std::uint32_t y = 0; y < image.height; ++y) {
        png_read_row(png, image.rgb.data() + std::size_t{y} * image.width * 3, nullptr);
    }
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
}

}  // namespace

RgbImage surface_to_rgb(const proto::Surface& surface) {
    RgbImage out;
    out.width = surface.width();
    out.height = surface.height();
    out.rgb.resize(std::size_t{out.width} * out.height * 3);
    std::uint8_t* dst = out.rgb.data();
    for (std::uint32_t y = 0; y < out.height; ++y) {
        const std::uint8_t* row = surface.data() + std::size_t{y} * surface.stride();
        for (std::uint32_t x = 0; x < out.width; ++x, dst += 3) {
            switch (surface.format()) {
                case proto::SurfaceFormat::XRGB32:
                case proto::SurfaceFormat::ARGB32:
                    dst[0] = row[4 * x + 2];
                    dst[1] = row[4 * x + 1];
                    dst[2] = row[4 * x];
                    break;
                case proto::SurfaceFormat::RGB555: {
                    const unsigned v = row[2 * x] | row[2 * x + 1] << 8;
                    dst[0] = expand5((v >> 10) & 31);
                    dst[1] = expand5((v >> 5) & 31);
                    dst[2] = expand5(v & 31);
                    break;
                }
                case proto::SurfaceFormat::RGB565: {
                    const unsigned v = row[2 * x] | row[2 * x + 1] << 8;
                    dst[0] = expand5((v >> 11) & 31);
                    dst[1] = expand6((v >> 5) & 63);
                    dst[2] = expand5(v & 31);
                    break;
                }
                case proto::SurfaceFormat::A8:
                    dst[0] = dst[1] = dst[2] = row[x];
                    break;
                case proto::SurfaceFormat::A1:
                    dst[0] = dst[1] = dst[2] = (row[x / 8] >> (x % 8)) & 1 ? 255 : 0;
                    break;
                default:
                    break;
            }
        }
    }
    return out;
}

bool write_png(const RgbImage& image, const std::string& path, std::string& error) {
    if (image.width == 0 || image.height == 0 || image.rgb.size() != std::size_t{image.width} * image.height * 3) {
        error = "no image to write";
        return false;
    }
    std::unique_ptr<std::FILE, FileClose> f(std::fopen(path.c_str(), "wb"));
    if (!f) {
        error = "cannot create " + path;
        return false;
    }
    if (!png_write_rows(f.get(), image, error)) return false;
    if (std::fflush(f.get()) != 0) {
        error = "cannot write " + path;
        return false;
    }
    return true;
}

bool read_png(const std::string& path, RgbImage& image, std::string& error) {
    std::unique_ptr<std::FILE, FileClose> f(std::fopen(path.c_str(), "rb"));
    if (!f) {
        error = "cannot open " + path;
        return false;
    }
    return png_read_rows(f.get(), image, error);
}

bool read_ppm(const std::string& path, RgbImage& image, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    std::uint32_t w = 0, h = 0, maxval = 0;
    if (!(in >> magic >> w >> h >> maxval) || magic != "P6" || maxval != 255 || w == 0 || h == 0 || w > 16384 ||
        h > 16384) {
        error = path + " is not a binary 8-bit PPM";
        return false;
    }
    in.get();
    image.width = w;
    image.height = h;
    image.rgb.assign(std::size_t{w} * h * 3, 0);
    if (!in.read(reinterpret_cast<char*>(image.rgb.data()), static_cast<std::streamsize>(image.rgb.size()))) {
        error = path + " is truncated";
        return false;
    }
    return true;
}

}  // namespace qxlbox::client
