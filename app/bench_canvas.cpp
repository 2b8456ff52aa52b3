// `qxlbox bench canvas [seconds-per-case]`: fill, copy and copy-bits throughput of the canvas
// at 1920x1080 against plain pixman doing the same operation on the same buffers.
#include <pixman.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "protocol/canvas/canvas.h"

namespace qxlbox::app {

namespace {

constexpr std::uint32_t kWidth = 1920;
constexpr std::uint32_t kHeight = 1080;

// Runs `op` (which touches `pixels_per_op` pixels) for at least `seconds` and 10 rounds;
// returns megapixels per second.
double measure(const std::function<void()>& op, double pixels_per_op, double seconds) {
    using Clock = std::chrono::steady_clock;
    op();  // warm caches and page in the buffers
    const auto start = Clock::now();
    long rounds = 0;
    double elapsed = 0;
    do {
        op();
        ++rounds;
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < seconds || rounds < 10);
    return pixels_per_op * static_cast<double>(rounds) / elapsed / 1e6;
}

class OneSurface : public proto::SurfaceResolver {
public:
    explicit OneSurface(proto::Surface* s) : s_(s) {}
    proto::Surface* find_surface(std::uint32_t) override { return s_; }

private:
    proto::Surface* s_ = nullptr;
};

proto::Rect full_rect() {
    proto::Rect r;
    r.right = static_cast<std::int32_t>(kWidth);
    r.bottom = static_cast<std::int32_t>(kHeight);
    return r;
}

}  // namespace

int bench_canvas(const std::vector<std::string>& args) {
    double seconds = 0.5;
    if (!args.empty()) {
        char* end = nullptr;
        seconds = std::strtod(args[0].c_str(), &end);
        if (end == args[0].c_str() || *end != '\0' || seconds <= 0 || seconds > 60) {
            std::fprintf(stderr, "usage: qxlbox bench canvas [seconds-per-case (0 < s <= 60)]\n");
            return 2;
        }
    }
    auto dest = proto::Surface::create(proto::SurfaceFormat::XRGB32, kWidth, kHeight);
    auto other = proto::Surface::create(proto::SurfaceFormat::XRGB32, kWidth, kHeight);
    if (!dest || !other) {
        std::fprintf(stderr, "qxlbox bench canvas: cannot allocate surfaces\n");
        return 1;
    }
    for (std::uint32_t y = 0; y < kHeight; ++y)
        for (std::uint32_t x = 0; x < kWidth; ++x)
            reinterpret_cast<std::uint32_t*>(other->data() + static_cast<std::size_t>(y) * other->stride())[x] =
                x * 0x010101u ^ y * 0x0a0b0cu;

    // A 32BIT top-down bitmap with the same pixels.
    auto bitmap_image = std::make_shared<proto::Image>();
    {
        proto::Bitmap bm;
        bm.format = proto::BitmapFormat::Bit32;
        bm.top_down = true;
        bm.width = kWidth;
        bm.height = kHeight;
        bm.stride = kWidth * 4;
        bm.data.assign(other->data(), other->data() + static_cast<std::size_t>(other->stride()) * kHeight);
        bitmap_image->width = kWidth;
        bitmap_image->height = kHeight;
        bitmap_image->content = std::move(bm);
    }
    auto surface_image = std::make_shared<proto::Image>();
    surface_image->type = proto::ImageType::Surface;
    surface_image->content = proto::SurfaceRef{1};
    OneSurface resolver(other.get());

    const double full = static_cast<double>(kWidth) * kHeight;
    std::uint32_t* dbits = reinterpret_cast<std::uint32_t*>(dest->data());
    const int stride_words = static_cast<int>(dest->stride() / 4);
    bool ok = true;
    auto check = [&ok](const proto::DrawResult& r) {
        if (!r.ok) ok = false;
    };

    struct Row {
        const char* name;
        double ours;
        double pixman;
    };
    std::vector<Row> rows;

    // Solid fill of the whole surface.
    {
        proto::Fill f;
        f.brush.type = proto::BrushType::Solid;
        f.brush.color = 0x336699;
        proto::DrawCommand cmd;
        cmd.bbox = full_rect();
        cmd.op = f;
        const double ours = measure([&] { check(proto::draw(*dest, cmd, nullptr)); }, full, seconds);
        const double base = measure(
            [&] { pixman_fill(dbits, stride_words, 32, 0, 0, static_cast<int>(kWidth), static_cast<int>(kHeight), 0x336699); },
            full, seconds);
        rows.push_back({"fill (solid, OP_PUT)", ours, base});
    }
    // Unscaled copy from another surface.
    {
        proto::Copy c;
        c.src_bitmap = surface_image;
        c.src_area = full_rect();
        proto::DrawCommand cmd;
        cmd.bbox = full_rect();
        cmd.op = c;
        const double ours = measure([&] { check(proto::draw(*dest, cmd, &resolver)); }, full, seconds);
        const double base = measure(
            [&] {
                pixman_image_composite32(PIXMAN_OP_SRC, other->pixman(), nullptr, dest->pixman(), 0, 0, 0, 0, 0, 0,
                                         static_cast<int>(kWidth), static_cast<int>(kHeight));
            },
            full, seconds);
        rows.push_back({"copy (SURFACE source)", ours, base});
    }
    // Unscaled copy of a BITMAP (includes turning the bitmap into a pixman image, as spice does).
    {
        proto::Copy c;
        c.src_bitmap = bitmap_image;
        c.src_area = full_rect();
        proto::DrawCommand cmd;
        cmd.bbox = full_rect();
        cmd.op = c;
        const auto& bm = std::get<proto::Bitmap>(bitmap_image->content);
        const double ours = measure([&] { check(proto::draw(*dest, cmd, nullptr)); }, full, seconds);
        const double base = measure(
            [&] {
                pixman_image_t* src = pixman_image_create_bits(
                    PIXMAN_x8r8g8b8, static_cast<int>(kWidth), static_cast<int>(kHeight),
                    reinterpret_cast<std::uint32_t*>(const_cast<std::uint8_t*>(bm.data.data())),
                    static_cast<int>(bm.stride));
                pixman_image_composite32(PIXMAN_OP_SRC, src, nullptr, dest->pixman(), 0, 0, 0, 0, 0, 0,
                                         static_cast<int>(kWidth), static_cast<int>(kHeight));
                pixman_image_unref(src);
            },
            full, seconds);
        rows.push_back({"copy (32BIT BITMAP source)", ours, base});
    }
    // Copy-bits: scroll the whole screen up by one row.
    {
        proto::CopyBits cb;
        cb.src_pos = {0, 1};
        proto::DrawCommand cmd;
        cmd.bbox = full_rect();
        cmd.bbox.bottom -= 1;
        cmd.op = cb;
        const double px = static_cast<double>(kWidth) * (kHeight - 1);
        const double ours = measure([&] { check(proto::draw(*dest, cmd, nullptr)); }, px, seconds);
        const double base = measure(
            [&] {
                pixman_blt(dbits, dbits, stride_words, stride_words, 32, 32, 0, 1, 0, 0, static_cast<int>(kWidth),
                           static_cast<int>(kHeight - 1));
            },
            px, seconds);
        rows.push_back({"copy-bits (scroll up 1 row)", ours, base});
    }

    if (!ok) {
        std::fprintf(stderr, "qxlbox bench canvas: a draw command failed\n");
        return 1;
    }
    std::printf("canvas at %ux%u, xRGB32, megapixels per second\n", kWidth, kHeight);
    std::printf("%-30s %12s %12s %8s\n", "operation", "qxlbox", "pixman", "ratio");
    for (const Row& r : rows) {
        std::printf("%-30s %12.0f %12.0f %8.2f\n", r.name, r.ours, r.pixman, r.ours / r.pixman);
    }
    return 0;
}

}  // namespace qxlbox::app
