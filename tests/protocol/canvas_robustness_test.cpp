// Hostile-input sweep: random commands with out-of-range fields on every surface format must
// either draw or return an error, never crash, hang or touch memory outside the surface (the
// sanitizer build checks the last part).
#include <random>

#include "canvas_test_util.h"

namespace qxlbox::proto::test {
namespace {

class Random {
public:
    explicit Random(std::uint32_t seed) : rng_(seed) {}
    int range(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(rng_()); }
    bool chance(int percent) { return range(0, 99) < percent; }
    int coord() {
        switch (range(0, 9)) {
        case 0: return INT32_MIN + range(0, 3);
        case 1: return INT32_MAX - range(0, 3);
        case 2: return range(-(1 << 27), 1 << 27);
        default: return range(-6, 30);
        }
    }
    Rect any_rect() { return rect(coord(), coord(), coord(), coord()); }
    Rect small_rect() {
        const int l = range(-4, 20), t = range(-4, 20);
        return rect(l, t, l + range(-2, 12), t + range(-2, 12));
    }

    ImagePtr image(const Surface& target) {
        switch (range(0, 9)) {
        case 0: return nullptr;
        case 1: return surface_image(static_cast<std::uint32_t>(range(0, 3)));
        case 2: {
            auto img = std::make_shared<Image>();
            img->type = ImageType::Jpeg;
            img->content = EncodedImage{};
            return img;
        }
        default: break;
        }
        (void)target;
        Bitmap bm;
        bm.format = static_cast<BitmapFormat>(range(0, 11));
        bm.top_down = chance(50);
        bm.width = static_cast<std::uint32_t>(chance(5) ? range(0, 1 << 20) : range(0, 9));
        bm.height = static_cast<std::uint32_t>(chance(5) ? range(0, 1 << 20) : range(0, 9));
        const unsigned bpp = bitmap_format_bpp(bm.format);
        const std::uint32_t row = (bm.width * (bpp ? bpp : 8) + 7) / 8;
        bm.stride = chance(10) ? static_cast<std::uint32_t>(range(0, 40)) : row + static_cast<std::uint32_t>(range(0, 4));
        // Absurd sizes come with little data (they must be rejected without reading it).
        const bool absurd = bm.width > 64 || bm.height > 64;
        const std::size_t want = (!absurd && chance(90)) ? static_cast<std::size_t>(bm.stride) * bm.height
                                                         : static_cast<std::size_t>(range(0, 64));
        bm.data.resize(want);
        for (auto& b : bm.data) b = static_cast<std::uint8_t>(u32());
        if (chance(80)) {
            std::vector<std::uint32_t> ents(static_cast<std::size_t>(range(0, 20)));
            for (auto& e : ents) e = u32();
            bm.palette = palette(ents);
        }
        auto img = std::make_shared<Image>();
        img->flags = static_cast<std::uint8_t>(range(0, 7));
        img->content = std::move(bm);
        return img;
    }

    Brush brush(const Surface& target) {
        Brush b;
        b.type = static_cast<BrushType>(range(0, 3));
        b.color = u32();
        b.pos = {coord(), coord()};
        if (b.type == BrushType::Pattern) b.pattern = image(target);
        return b;
    }
    QMask mask(const Surface& target) {
        QMask m;
        m.flags = static_cast<std::uint8_t>(range(0, 3));
        m.pos = {coord(), coord()};
        if (chance(40)) m.bitmap = image(target);
        return m;
    }
    ScaleMode scale() { return static_cast<ScaleMode>(range(0, 2)); }
    std::uint16_t ropd() { return static_cast<std::uint16_t>(u32() & 0x7ff); }

    DrawOp op(const Surface& t) {
        switch (range(0, 13)) {
        case 0: return Fill{brush(t), ropd(), mask(t)};
        case 1: return Opaque{image(t), small_rect(), brush(t), ropd(), scale(), mask(t)};
        case 2: {
            Copy c;
            c.src_bitmap = image(t);
            c.src_area = chance(10) ? any_rect() : small_rect();
            c.rop_descriptor = ropd();
            c.scale_mode = scale();
            c.mask = mask(t);
            return c;
        }
        case 3: {
            Blend b;
            b.src_bitmap = image(t);
            b.src_area = small_rect();
            b.rop_descriptor = ropd();
            b.mask = mask(t);
            return b;
        }
        case 4: return Blackness{mask(t)};
        case 5: return Whiteness{mask(t)};
        case 6: return Invers{mask(t)};
        case 7: return Rop3{image(t), small_rect(), brush(t), static_cast<std::uint8_t>(u32()), scale(), mask(t)};
        case 8: {
            Stroke s;
            const int nseg = range(0, 4);
            for (int i = 0; i < nseg; ++i) {
                PathSeg seg;
                seg.flags = static_cast<std::uint32_t>(range(0, 31));
                const int n = range(0, 7);
                auto fixed = [](int v, std::uint32_t scale) {
                    return static_cast<std::int32_t>(static_cast<std::uint32_t>(v) * scale);
                };
                for (int k = 0; k < n; ++k) {
                    seg.points.push_back({fixed(coord(), chance(50) ? 16u : 1u), fixed(coord(), 16u)});
                }
                s.path.segments.push_back(seg);
            }
            s.attr.flags = static_cast<std::uint8_t>(range(0, 15));
            const int nstyle = range(0, 4);
            for (int i = 0; i < nstyle; ++i) s.attr.style.push_back(range(-40, 400));
            s.brush = brush(t);
            s.fore_mode = ropd();
            return s;
        }
        case 9: {
            Text tx;
            tx.str.flags = static_cast<std::uint16_t>(range(0, 15));
            const int n = range(0, 4);
            for (int i = 0; i < n; ++i) {
                Glyph g;
                g.render_pos = {coord(), coord()};
                g.glyph_origin = {range(-5, 5), range(-5, 5)};
                g.width = static_cast<std::uint16_t>(range(0, 12));
                g.height = static_cast<std::uint16_t>(range(0, 12));
                g.data.resize(static_cast<std::size_t>(range(0, 150)));
                for (auto& b : g.data) b = static_cast<std::uint8_t>(u32());
                tx.str.glyphs.push_back(g);
            }
            tx.back_area = small_rect();
            tx.fore_brush = brush(t);
            tx.back_brush = brush(t);
            tx.fore_mode = chance(50) ? rop::kOpPut : ropd();
            return tx;
        }
        case 10: return Transparent{image(t), small_rect(), u32(), u32()};
        case 11: return AlphaBlend{static_cast<std::uint8_t>(range(0, 3)), static_cast<std::uint8_t>(u32()), image(t),
                                   small_rect()};
        case 12: {
            Composite c;
            c.flags = u32() & 0x1ffffff;
            c.src_bitmap = image(t);
            if (chance(50)) c.mask_bitmap = image(t);
            if (chance(30)) c.src_transform = Transform{{u32(), u32(), u32(), u32(), u32(), u32()}};
            if (chance(30)) c.mask_transform = Transform{{0x10000, 0, u32() & 0xfffff, 0, 0x10000, 0}};
            c.src_origin = {static_cast<std::int16_t>(range(-40, 40)), static_cast<std::int16_t>(range(-40, 40))};
            return c;
        }
        default: return CopyBits{{coord(), coord()}};
        }
    }

private:
    std::mt19937 rng_;
};

TEST(CanvasRobustness, RandomHostileCommandsNeverCrash) {
    const SurfaceFormat formats[] = {SurfaceFormat::XRGB32, SurfaceFormat::ARGB32, SurfaceFormat::RGB555,
                                     SurfaceFormat::RGB565, SurfaceFormat::A8,     SurfaceFormat::A1};
    Random rnd(20261121);
    int ok = 0, failed = 0;
    for (SurfaceFormat f : formats) {
        auto target = make_surface(f, 19, 13);
        auto other32 = make_surface(SurfaceFormat::XRGB32, 7, 5);
        auto other1 = make_surface(SurfaceFormat::A1, 9, 9);
        fill_gradient(*target);
        fill_gradient(*other32);
        fill_gradient(*other1);
        MapResolver res;
        res.surfaces[0] = target.get();
        res.surfaces[1] = other32.get();
        res.surfaces[2] = other1.get();
        for (int i = 0; i < 3000; ++i) {
            DrawCommand cmd;
            cmd.bbox = rnd.chance(15) ? rnd.any_rect() : rnd.small_rect();
            if (rnd.chance(30)) {
                cmd.clip.type = static_cast<ClipType>(rnd.range(0, 2));
                const int n = rnd.range(0, 4);
                for (int k = 0; k < n; ++k) cmd.clip.rects.push_back(rnd.chance(10) ? rnd.any_rect() : rnd.small_rect());
            }
            cmd.op = rnd.op(*target);
            const DrawResult r = draw(*target, cmd, rnd.chance(90) ? &res : nullptr);
            if (r.ok) {
                ++ok;
            } else {
                ++failed;
                EXPECT_FALSE(r.error.empty());
            }
        }
    }
    // The sweep must exercise both outcomes to mean anything.
    EXPECT_GT(ok, 2000);
    EXPECT_GT(failed, 2000);
}

}  // namespace
}  // namespace qxlbox::proto::test
