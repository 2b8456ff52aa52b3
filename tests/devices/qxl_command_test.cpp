#include <gtest/gtest.h>

#include "qxl_harness.h"

using namespace qxl_test;

namespace {

// Fills a QXLBrush at `off`.
void solid_brush(QxlHarness& h, std::uint64_t off, std::uint32_t color) {
    h.put32(off, 1);
    h.put32(off + 4, color);
}

const proto::DrawCommand* last_cmd(QxlHarness& h) {
    if (h.consumer.commands.empty()) return nullptr;
    return std::get_if<proto::DrawCommand>(&h.consumer.commands.back().body);
}

void submit(QxlHarness& h, std::uint64_t cmd, std::uint32_t type = QXL_CMD_DRAW) {
    h.push_cmd(h.phys(cmd), type);
    h.run_ns(5000);
    ASSERT_FALSE(h.dev->guest_bug()) << h.dev->last_guest_bug();
}

}  // namespace

TEST(QxlCommand, CopyWithBitmapAndClipRects) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.copy_drawable(9);
    const std::uint64_t clip = h.alloc(4 + 20 + 32);
    h.put32(clip, 2);
    h.put32(clip + 4, 32);
    h.put64(clip + 4 + 12, 0);
    h.put_rect(clip + 24, 0, 0, 4, 4);
    h.put_rect(clip + 40, 4, 4, 8, 8);
    h.put32(d + 47, 1);
    h.put64(d + 51, h.phys(clip));
    submit(h, d);
    const auto* c = last_cmd(h);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->bbox, (proto::Rect{0, 0, 8, 16}));
    ASSERT_EQ(c->clip.rects.size(), 2u);
    EXPECT_EQ(c->clip.rects[1], (proto::Rect{4, 4, 8, 8}));
    const auto* copy = std::get_if<proto::Copy>(&c->op);
    ASSERT_NE(copy, nullptr);
    const auto* bmp = std::get_if<proto::Bitmap>(&copy->src_bitmap->content);
    ASSERT_NE(bmp, nullptr);
    EXPECT_EQ(bmp->format, proto::BitmapFormat::Bit32);
    EXPECT_EQ(bmp->data.size(), 16u * 8 * 4);
    EXPECT_EQ(bmp->data[3], 21u);  // patterned data copied
    EXPECT_EQ(copy->rop_descriptor, proto::rop::kOpPut);
}

TEST(QxlCommand, FillWithSolidBrushAndMask) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.drawable(1);
    solid_brush(h, d + 123, 0xff0000);
    h.put16(d + 123 + 20, proto::rop::kOpXor);
    const std::uint64_t mask = h.bitmap_image(16, 8, 1);  // 1-bit mask needs no palette
    h.put8(d + 123 + 22, 1);
    h.put64(d + 123 + 22 + 9, h.phys(mask));
    submit(h, d);
    const auto* f = h.last_draw<proto::Fill>();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->brush.color, 0xff0000u);
    EXPECT_EQ(f->rop_descriptor, proto::rop::kOpXor);
    ASSERT_TRUE(f->mask.bitmap);
    EXPECT_EQ(f->mask.flags, 1u);
}

TEST(QxlCommand, OpaqueWithPatternBrush) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.drawable(2);
    h.put64(d + 123, h.phys(h.bitmap_image(16, 8)));
    h.put_rect(d + 123 + 8, 0, 0, 16, 8);
    h.put32(d + 123 + 24, 2);
    h.put64(d + 123 + 28, h.phys(h.bitmap_image(8, 8)));
    h.put32(d + 123 + 36, 3);
    submit(h, d);
    const auto* o = h.last_draw<proto::Opaque>();
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->brush.type, proto::BrushType::Pattern);
    EXPECT_EQ(o->brush.pos.x, 3);
    ASSERT_TRUE(o->brush.pattern);
}

TEST(QxlCommand, CopyBitsBlendAndQMaskOps) {
    QxlHarness h;
    h.boot();
    std::uint64_t d = h.drawable(4);
    h.put32(d + 123, 8);
    h.put32(d + 127, 4);
    submit(h, d);
    ASSERT_NE(h.last_draw<proto::CopyBits>(), nullptr);
    EXPECT_EQ(h.last_draw<proto::CopyBits>()->src_pos.x, 8);

    d = h.drawable(5);
    h.put64(d + 123, h.phys(h.bitmap_image(16, 8)));
    h.put_rect(d + 123 + 8, 0, 0, 16, 8);
    submit(h, d);
    EXPECT_NE(h.last_draw<proto::Blend>(), nullptr);

    for (std::uint8_t t : {6, 7, 8}) {
        submit(h, h.drawable(t));
    }
    EXPECT_NE(h.last_draw<proto::Invers>(), nullptr);
    EXPECT_EQ(h.draw_count(), 5u);
}

TEST(QxlCommand, Rop3) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.drawable(9);
    h.put64(d + 123, h.phys(h.bitmap_image(16, 8)));
    h.put_rect(d + 123 + 8, 0, 0, 16, 8);
    solid_brush(h, d + 123 + 24, 0x123456);
    h.put8(d + 123 + 44, 0xca);
    submit(h, d);
    const auto* r = h.last_draw<proto::Rop3>();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->rop3, 0xcau);
    EXPECT_EQ(r->brush.color, 0x123456u);
}

TEST(QxlCommand, StrokeWithPathAndStyle) {
    QxlHarness h;
    h.boot();
    const std::uint64_t path = h.alloc(4 + 20 + 8 + 16);
    h.put32(path, 24);
    h.put32(path + 4, 24);
    h.put64(path + 4 + 12, 0);
    h.put32(path + 24, 1 | 2);  // BEGIN | END
    h.put32(path + 28, 2);
    h.put32(path + 32, 16), h.put32(path + 36, 16), h.put32(path + 40, 160), h.put32(path + 44, 96);
    const std::uint64_t style = h.alloc(8);
    h.put32(style, 16);
    h.put32(style + 4, 32);
    const std::uint64_t d = h.drawable(10);
    h.put64(d + 123, h.phys(path));
    h.put8(d + 123 + 8, proto::kLineStyled);
    h.put8(d + 123 + 11, 2);
    h.put64(d + 123 + 8 + 12, h.phys(style));
    solid_brush(h, d + 123 + 28, 1);
    submit(h, d);
    const auto* s = h.last_draw<proto::Stroke>();
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(s->path.segments.size(), 1u);
    EXPECT_EQ(s->path.segments[0].points.size(), 2u);
    EXPECT_EQ(s->path.segments[0].points[1].x, 160);
    EXPECT_EQ(s->attr.style, (std::vector<std::int32_t>{16, 32}));
}

TEST(QxlCommand, TextWithA1Glyphs) {
    QxlHarness h;
    h.boot();
    // Two 8x2 A1 glyphs: 20-byte header + 2 bytes each.
    const std::uint64_t str = h.alloc(8 + 20 + 44);
    h.put32(str, 44);
    h.put16(str + 4, 2);
    h.put16(str + 6, proto::kStringRasterA1);
    h.put32(str + 8, 44);
    h.put64(str + 8 + 12, 0);
    for (int g = 0; g < 2; ++g) {
        const std::uint64_t gl = str + 28 + 22 * g;
        h.put16(gl + 16, 8);
        h.put16(gl + 18, 2);
        h.put8(gl + 20, 0xaa);
        h.put8(gl + 21, 0x55);
    }
    const std::uint64_t d = h.drawable(11);
    h.put64(d + 123, h.phys(str));
    solid_brush(h, d + 123 + 24, 0xffffff);
    submit(h, d);
    const auto* t = h.last_draw<proto::Text>();
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->str.glyphs.size(), 2u);
    EXPECT_EQ(t->str.glyphs[1].data, (std::vector<std::uint8_t>{0xaa, 0x55}));
}

TEST(QxlCommand, TransparentAlphaBlendAndComposite) {
    QxlHarness h;
    h.boot();
    std::uint64_t d = h.drawable(12);
    h.put64(d + 123, h.phys(h.bitmap_image(16, 8)));
    h.put_rect(d + 123 + 8, 0, 0, 16, 8);
    h.put32(d + 123 + 24, 0xff00ff);
    submit(h, d);
    EXPECT_EQ(h.last_draw<proto::Transparent>()->src_color, 0xff00ffu);

    d = h.drawable(13);
    h.put16(d + 123, 1);
    h.put8(d + 123 + 2, 128);
    h.put64(d + 123 + 3, h.phys(h.bitmap_image(16, 8, 9)));
    h.put_rect(d + 123 + 11, 0, 0, 8, 8);
    submit(h, d);
    EXPECT_EQ(h.last_draw<proto::AlphaBlend>()->alpha, 128u);
    EXPECT_EQ(h.last_draw<proto::AlphaBlend>()->alpha_flags, 1u);

    d = h.drawable(14);
    h.put32(d + 123, 3);
    h.put64(d + 123 + 4, h.phys(h.bitmap_image(4, 4)));
    const std::uint64_t tr = h.alloc(24);
    for (int i = 0; i < 6; ++i) h.put32(tr + 4 * i, 0x10000u * (i % 4 == 0));
    h.put64(d + 123 + 12, h.phys(tr));
    h.put16(d + 123 + 36, 2);
    submit(h, d);
    const auto* c = h.last_draw<proto::Composite>();
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->src_transform.has_value());
    EXPECT_FALSE(c->mask_bitmap);
    EXPECT_EQ(c->flags & proto::composite::kOpMask, 3u);
    EXPECT_TRUE(c->flags & proto::composite::kHasSrcTransform);
    EXPECT_EQ(c->src_origin.x, 2);
}

TEST(QxlCommand, EveryBitmapFormatIncludingPalettes) {
    QxlHarness h;
    h.boot();
    for (std::uint8_t fmt = 1; fmt <= 10; ++fmt) {
        const bool pal = fmt <= 5;
        const std::uint64_t p = pal ? h.phys(h.palette(fmt <= 2 ? 2 : fmt <= 4 ? 16 : 256)) : 0;
        const std::uint64_t img = h.bitmap_image(16, 8, fmt, 0, fmt % 2 == 0, p);
        const std::uint64_t d = h.copy_drawable();
        h.put64(d + 123, h.phys(img));
        submit(h, d);
        const auto* c = h.last_draw<proto::Copy>();
        ASSERT_NE(c, nullptr) << int(fmt);
        const auto* b = std::get_if<proto::Bitmap>(&c->src_bitmap->content);
        ASSERT_NE(b, nullptr);
        EXPECT_EQ(static_cast<int>(b->format), fmt);
        EXPECT_EQ(b->palette != nullptr, pal);
        EXPECT_EQ(b->data.size(), std::size_t{b->stride} * 8);
    }
}

TEST(QxlCommand, QuicImageKeptAsBytes) {
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.alloc(18 + 4 + 20 + 10);
    h.put8(img + 8, 1);
    h.put32(img + 10, 16);
    h.put32(img + 14, 8);
    h.put32(img + 18, 10);
    h.put32(img + 22, 6);                        // first chunk in place: 6 bytes
    h.put64(img + 22 + 12, h.phys(h.chunk(4)));  // then 4 more
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    submit(h, d);
    const auto* c = h.last_draw<proto::Copy>();
    ASSERT_NE(c, nullptr);
    const auto* e = std::get_if<proto::EncodedImage>(&c->src_bitmap->content);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(c->src_bitmap->type, proto::ImageType::Quic);
    EXPECT_EQ(e->data.size(), 10u);
}

TEST(QxlCommand, SurfaceCommandsAndSurfaceImage) {
    QxlHarness h;
    h.boot();
    const std::uint64_t s = h.alloc(41);
    h.put64(s, 1);
    h.put32(s + 8, 3);
    h.put8(s + 12, 0);
    h.put32(s + 17, 32);
    h.put32(s + 21, 16);
    h.put32(s + 25, 8);
    h.put32(s + 29, static_cast<std::uint32_t>(-64));
    h.put64(s + 33, make_phys(2, 0));  // VRAM slot
    submit(h, s, QXL_CMD_SURFACE);
    const auto* c = std::get_if<proto::SurfaceCreate>(&h.consumer.commands.back().body);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->surface_id, 3u);
    EXPECT_EQ(c->stride, -64);
    EXPECT_TRUE(h.dev->surface_exists(3));

    // Draw onto surface 3, then read surface 3 into the primary through a SURFACE image.
    std::uint64_t d = h.drawable(6, 3);
    submit(h, d);
    const std::uint64_t img = h.alloc(22);
    h.put8(img + 8, 104);
    h.put32(img + 10, 16);
    h.put32(img + 14, 8);
    h.put32(img + 18, 3);
    d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    submit(h, d);
    EXPECT_NE(std::get_if<proto::SurfaceRef>(&h.last_draw<proto::Copy>()->src_bitmap->content), nullptr);

    // Bottom-up surface pixels are returned top-down.
    st32(h.dev->vram() + 7 * 64, 0xabcdef);  // lowest address = last row
    auto px = h.dev->read_surface(3);
    ASSERT_TRUE(px);
    EXPECT_EQ(ld32(px->data.data()), 0xabcdefu);

    const std::uint64_t del = h.alloc(41);
    h.put64(del, 2);
    h.put32(del + 8, 3);
    h.put8(del + 12, 1);
    submit(h, del, QXL_CMD_SURFACE);
    EXPECT_TRUE(std::holds_alternative<proto::SurfaceDestroy>(h.consumer.commands.back().body));
    EXPECT_FALSE(h.dev->surface_exists(3));
}

TEST(QxlCommand, CursorSetMoveHideTrail) {
    QxlHarness h;
    h.boot();
    const std::uint64_t shape = h.alloc(42 + 8 * 8 * 4);
    h.put64(shape, 77);
    h.put16(shape + 8, 0);  // ALPHA
    h.put16(shape + 10, 8);
    h.put16(shape + 12, 8);
    h.put16(shape + 14, 3);
    h.put32(shape + 18, 256);
    h.put32(shape + 22, 256);
    h.put64(shape + 22 + 12, 0);
    const std::uint64_t set = h.alloc(150);
    std::memset(h.ram_ptr(set), 0, 150);
    h.put16(set + 9, 10);
    h.put16(set + 11, 20);
    h.put8(set + 13, 1);
    h.put64(set + 14, h.phys(shape));
    h.push_cursor(h.phys(set));
    h.run_ns(5000);
    ASSERT_EQ(h.consumer.cursor_commands.size(), 1u);
    const auto* s = std::get_if<proto::CursorSet>(&h.consumer.cursor_commands[0].op);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->position.y, 20);
    EXPECT_EQ(s->shape->width, 8u);
    EXPECT_EQ(s->shape->hot_spot_x, 3u);
    EXPECT_EQ(s->shape->data.size(), 256u);

    // Mono: AND + XOR masks.
    const std::uint64_t mono = h.alloc(42 + 16);
    std::memset(h.ram_ptr(mono), 0, 42);
    h.put16(mono + 8, 1);
    h.put16(mono + 10, 8);
    h.put16(mono + 12, 8);
    h.put32(mono + 18, 16);
    h.put32(mono + 22, 16);
    const std::uint64_t set2 = h.alloc(150);
    std::memset(h.ram_ptr(set2), 0, 150);
    h.put64(set2 + 14, h.phys(mono));
    h.push_cursor(h.phys(set2));

    for (std::uint8_t type : {1, 2, 3}) {
        const std::uint64_t c = h.alloc(150);
        std::memset(h.ram_ptr(c), 0, 150);
        h.put8(c + 8, type);
        h.put16(c + 9, 5);
        h.push_cursor(h.phys(c));
        h.run_ns(5000);
    }
    ASSERT_EQ(h.consumer.cursor_commands.size(), 5u);
    EXPECT_EQ(std::get<proto::CursorSet>(h.consumer.cursor_commands[1].op).shape->type, proto::CursorType::Mono);
    EXPECT_EQ(std::get<proto::CursorMove>(h.consumer.cursor_commands[2].op).position.x, 5);
    EXPECT_TRUE(std::holds_alternative<proto::CursorHide>(h.consumer.cursor_commands[3].op));
    EXPECT_EQ(std::get<proto::CursorTrail>(h.consumer.cursor_commands[4].op).length, 5u);
    EXPECT_FALSE(h.dev->guest_bug());
}

TEST(QxlCommand, UpdateAndMessageCommands) {
    QxlHarness h;
    h.boot();
    const std::uint64_t u = h.alloc(32);
    std::memset(h.ram_ptr(u), 0, 32);
    h.put_rect(u + 8, 1, 2, 3, 4);
    h.put32(u + 24, 9);
    submit(h, u, QXL_CMD_UPDATE);
    EXPECT_EQ(std::get<proto::UpdateCommand>(h.consumer.commands.back().body).update_id, 9u);
    const std::uint64_t m = h.alloc(8 + 6);
    std::memcpy(h.ram_ptr(m + 8), "hello", 6);
    submit(h, m, QXL_CMD_MESSAGE);
    EXPECT_EQ(std::get<proto::MessageCommand>(h.consumer.commands.back().body).text, "hello");
}

TEST(QxlCommand, CompatDrawableInSetModeWithPlainPhysicalAddresses) {
    QxlHarness h;
    h.out(QXL_IO_SET_MODE, 1);
    ASSERT_EQ(h.dev->mode(), QxlMode::Compat);
    const std::uint64_t d = h.alloc(128);
    std::memset(h.ram_ptr(d), 0, 128);
    h.put64(d, 3);
    h.put8(d + 8, 1);
    h.put8(d + 9, 1);  // FILL
    h.put_rect(d + 28, 0, 0, 100, 50);
    h.put32(d + 60, 1);
    h.put32(d + 64, 0x00ff00);
    // Slot 0 has delta = BAR0 base: the pointer is the guest-physical address.
    h.push_cmd(kBar0 + d);
    h.run_ns(5000);
    ASSERT_FALSE(h.dev->guest_bug()) << h.dev->last_guest_bug();
    const auto* f = h.last_draw<proto::Fill>();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->brush.color, 0x00ff00u);
}

TEST(QxlCommand, Compat16BppColorsAreExpanded) {
    QxlHarness h;
    h.out(QXL_IO_SET_MODE, 0);  // 640x480x16
    const std::uint64_t d = h.alloc(128);
    std::memset(h.ram_ptr(d), 0, 128);
    h.put8(d + 9, 1);
    h.put_rect(d + 28, 0, 0, 10, 10);
    h.put32(d + 60, 1);
    h.put32(d + 64, 0x7c00);  // pure red in 555
    h.push_cmd(kBar0 + d);
    h.run_ns(5000);
    ASSERT_NE(h.last_draw<proto::Fill>(), nullptr);
    EXPECT_EQ(h.last_draw<proto::Fill>()->brush.color, 0xff0000u);
}

TEST(QxlCommand, MultiChunkBitmapIsConcatenated) {
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.bitmap_image(16, 8);
    const std::uint64_t second = h.chunk(256);
    const std::uint64_t first = h.chunk(256, h.phys(second));
    h.put64(img + 18 + 22, h.phys(first));
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    submit(h, d);
    const auto& data = std::get<proto::Bitmap>(h.last_draw<proto::Copy>()->src_bitmap->content).data;
    ASSERT_EQ(data.size(), 512u);
    EXPECT_EQ(data[257], 7u);
}

TEST(QxlDisplayDevice, WriteSurfaceAreaLandsInGuestMemory) {
    QxlHarness h;
    h.boot(64, 32);
    proto::SurfacePixels px;
    px.format = proto::SurfaceFormat::XRGB32;
    px.area = proto::Rect{1, 1, 2, 3};
    px.stride = 8;
    px.data = {1, 2, 3, 4, 5, 6, 7, 8};
    h.dev->write_surface_area(0, px);
    EXPECT_EQ(ld32(h.ram_ptr(256 + 4)), 0x04030201u);
    EXPECT_EQ(ld32(h.ram_ptr(256 + 8)), 0x08070605u);
    // Outside the surface: ignored.
    px.area = proto::Rect{31, 63, 33, 65};
    h.dev->write_surface_area(0, px);
    EXPECT_EQ(ld32(h.ram_ptr(31 * 256 + 63 * 4)), 0u);
}
