#include "canvas_test_util.h"

#include <cstring>

namespace qxlbox::proto::test {

std::unique_ptr<Surface> make_surface(SurfaceFormat format, std::uint32_t w, std::uint32_t h) {
    auto s = Surface::create(format, w, h);
    EXPECT_NE(s, nullptr);
    return s;
}

std::uint32_t pixel(const Surface& s, int x, int y) {
    const std::uint8_t* row = s.data() + static_cast<std::size_t>(y) * s.stride();
    switch (surface_format_bpp(s.format())) {
    case 1: return (row[x / 8] >> (x % 8)) & 1u;
    case 8: return row[x];
    case 16: return static_cast<std::uint32_t>(row[2 * x] | (row[2 * x + 1] << 8));
    default: {
        std::uint32_t v = 0;
        std::memcpy(&v, row + 4 * x, 4);
        return v;
    }
    }
}

void set_pixel(Surface& s, int x, int y, std::uint32_t v) {
    std::uint8_t* row = s.data() + static_cast<std::size_t>(y) * s.stride();
    switch (surface_format_bpp(s.format())) {
    case 1:
        if (v & 1) {
            row[x / 8] = static_cast<std::uint8_t>(row[x / 8] | (1u << (x % 8)));
        } else {
            row[x / 8] = static_cast<std::uint8_t>(row[x / 8] & ~(1u << (x % 8)));
        }
        break;
    case 8: row[x] = static_cast<std::uint8_t>(v); break;
    case 16:
        row[2 * x] = static_cast<std::uint8_t>(v);
        row[2 * x + 1] = static_cast<std::uint8_t>(v >> 8);
        break;
    default: std::memcpy(row + 4 * x, &v, 4); break;
    }
}

void fill_surface(Surface& s, std::uint32_t v) {
    for (std::uint32_t y = 0; y < s.height(); ++y)
        for (std::uint32_t x = 0; x < s.width(); ++x) set_pixel(s, static_cast<int>(x), static_cast<int>(y), v);
}

void fill_gradient(Surface& s, std::uint32_t seed) {
    for (std::uint32_t y = 0; y < s.height(); ++y)
        for (std::uint32_t x = 0; x < s.width(); ++x)
            set_pixel(s, static_cast<int>(x), static_cast<int>(y), (x * 0x01030507u) ^ (y * 0x0b0d1113u) ^ seed);
}

DrawCommand command(Rect bbox, DrawOp op) {
    DrawCommand c;
    c.bbox = bbox;
    c.op = std::move(op);
    return c;
}

Rect rect(std::int32_t left, std::int32_t top, std::int32_t right, std::int32_t bottom) {
    Rect r;
    r.left = left;
    r.top = top;
    r.right = right;
    r.bottom = bottom;
    return r;
}

ImagePtr bitmap_image(BitmapFormat f, std::uint32_t w, std::uint32_t h, const std::vector<std::vector<std::uint8_t>>& rows,
                      bool top_down, std::shared_ptr<const Palette> pal, std::uint32_t stride) {
    Bitmap bm;
    bm.format = f;
    bm.top_down = top_down;
    bm.width = w;
    bm.height = h;
    std::size_t row_bytes = 0;
    for (const auto& r : rows) row_bytes = std::max(row_bytes, r.size());
    bm.stride = stride ? stride : static_cast<std::uint32_t>(row_bytes);
    bm.palette = std::move(pal);
    bm.data.assign(static_cast<std::size_t>(bm.stride) * rows.size(), 0);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const std::size_t dst_row = top_down ? i : rows.size() - 1 - i;
        std::copy(rows[i].begin(), rows[i].end(), bm.data.begin() + static_cast<std::ptrdiff_t>(dst_row * bm.stride));
    }
    auto img = std::make_shared<Image>();
    img->type = ImageType::Bitmap;
    img->width = w;
    img->height = h;
    img->content = std::move(bm);
    return img;
}

ImagePtr bitmap32(std::uint32_t w, std::uint32_t h, const std::vector<std::uint32_t>& pixels, BitmapFormat f) {
    std::vector<std::vector<std::uint8_t>> rows(h);
    for (std::uint32_t y = 0; y < h; ++y) {
        for (std::uint32_t x = 0; x < w; ++x) {
            const std::uint32_t v = pixels[y * w + x];
            for (int b = 0; b < 4; ++b) rows[y].push_back(static_cast<std::uint8_t>(v >> (8 * b)));
        }
    }
    return bitmap_image(f, w, h, rows);
}

ImagePtr surface_image(std::uint32_t surface_id) {
    auto img = std::make_shared<Image>();
    img->type = ImageType::Surface;
    img->content = SurfaceRef{surface_id};
    return img;
}

std::shared_ptr<const Palette> palette(std::vector<std::uint32_t> ents) {
    auto p = std::make_shared<Palette>();
    p->ents = std::move(ents);
    return p;
}

Surface* MapResolver::find_surface(std::uint32_t id) {
    auto it = surfaces.find(id);
    return it == surfaces.end() ? nullptr : it->second;
}

Brush solid(std::uint32_t color) {
    Brush b;
    b.type = BrushType::Solid;
    b.color = color;
    return b;
}

}  // namespace qxlbox::proto::test
