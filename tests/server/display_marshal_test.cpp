// The server's marshalling checked against protocol/wire's demarshaller: both sides must agree
// on every byte of the shared message definitions.
#include <gtest/gtest.h>

#include "protocol/wire/messages.h"
#include "server/display_marshal.h"
#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

namespace wire = proto::wire;
using test::rect_ltrb;

wire::DisplayServerMessage decode(const OutMessage& msg) {
    auto r = wire::DisplayServerMessages::demarshal(msg.type, msg.body);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
    if (!r.ok()) return wire::MsgDisplayMark{};
    return std::move(r).value();
}

TEST(DisplayMarshal, SolidFillDecodesWithClipAndColor) {
    auto cmd = test::solid_fill(0, rect_ltrb(1, 2, 30, 40), 0x123456);
    cmd.clip.type = proto::ClipType::Rects;
    cmd.clip.rects = {rect_ltrb(1, 2, 10, 10), rect_ltrb(20, 20, 30, 40)};
    ImageContext ctx;
    auto res = marshal_draw(cmd, ctx);
    ASSERT_TRUE(res.message);
    EXPECT_EQ(res.message->type, 302);
    auto v = decode(*res.message);
    auto* fill = std::get_if<wire::MsgDisplayDrawFill>(&v);
    ASSERT_NE(fill, nullptr);
    EXPECT_EQ(fill->cmd.bbox, cmd.bbox);
    EXPECT_EQ(fill->cmd.clip.rects, cmd.clip.rects);
    EXPECT_EQ(std::get<proto::Fill>(fill->cmd.op).brush.color, 0x123456u);
}

TEST(DisplayMarshal, LargeFlatImageGoesAsLzAndSmallOneAsBitmap) {
    ImageContext ctx;
    std::vector<std::uint32_t> flat(64 * 64, 0xabcdef);
    auto big = marshal_draw(test::image_copy(0, rect_ltrb(0, 0, 64, 64), test::bitmap32_image(1, 64, 64, flat)), ctx);
    ASSERT_TRUE(big.message);
    auto v = decode(*big.message);
    auto* copy = std::get_if<wire::MsgDisplayDrawCopy>(&v);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(std::get<proto::Copy>(copy->cmd.op).src_bitmap->type, proto::ImageType::LzRgb);
    EXPECT_EQ(ctx.stats.lz, 1u);

    std::vector<std::uint32_t> tiny(4 * 4, 0x1);
    auto small = marshal_draw(test::image_copy(0, rect_ltrb(0, 0, 4, 4), test::bitmap32_image(2, 4, 4, tiny)), ctx);
    ASSERT_TRUE(small.message);
    auto v2 = decode(*small.message);
    auto& img = *std::get<proto::Copy>(std::get<wire::MsgDisplayDrawCopy>(v2).cmd.op).src_bitmap;
    EXPECT_EQ(img.type, proto::ImageType::Bitmap);
    EXPECT_EQ(std::get<proto::Bitmap>(img.content).data.size(), 64u);
}

TEST(DisplayMarshal, CacheableImageIsSentOnceThenFromCache) {
    PixmapCache cache(1 << 20);
    ImageContext ctx;
    ctx.cache = &cache;
    std::vector<std::uint32_t> px(16 * 16, 0x00ff00);
    auto img = test::bitmap32_image(42, 16, 16, px, true);
    auto first = marshal_draw(test::image_copy(0, rect_ltrb(0, 0, 16, 16), img), ctx);
    auto second = marshal_draw(test::image_copy(0, rect_ltrb(16, 0, 32, 16), img), ctx);
    ASSERT_TRUE(first.message && second.message);
    auto v1 = decode(*first.message);
    auto v2 = decode(*second.message);
    auto& i1 = *std::get<proto::Copy>(std::get<wire::MsgDisplayDrawCopy>(v1).cmd.op).src_bitmap;
    auto& i2 = *std::get<proto::Copy>(std::get<wire::MsgDisplayDrawCopy>(v2).cmd.op).src_bitmap;
    EXPECT_TRUE(i1.flags & proto::kImageCacheMe);
    EXPECT_EQ(i2.type, proto::ImageType::FromCache);
    EXPECT_EQ(i2.id, 42u);
    EXPECT_LT(second.message->body.size(), 100u);
}

TEST(DisplayMarshal, EvictionIsReportedForInvalList) {
    PixmapCache cache(16 * 16);
    ImageContext ctx;
    ctx.cache = &cache;
    std::vector<std::uint32_t> px(16 * 16, 0x00ff00);
    ASSERT_TRUE(marshal_draw(test::image_copy(0, rect_ltrb(0, 0, 16, 16), test::bitmap32_image(1, 16, 16, px, true)),
                             ctx).message);
    EXPECT_TRUE(ctx.evicted.empty());
    ASSERT_TRUE(marshal_draw(test::image_copy(0, rect_ltrb(0, 0, 16, 16), test::bitmap32_image(2, 16, 16, px, true)),
                             ctx).message);
    EXPECT_EQ(ctx.evicted, std::vector<std::uint64_t>{1});
}

TEST(DisplayMarshal, PaletteBitmapCarriesItsPalette) {
    auto img = std::make_shared<proto::Image>();
    img->id = 9;
    img->width = 4;
    img->height = 1;
    proto::Bitmap bm;
    bm.format = proto::BitmapFormat::Bit8;
    bm.top_down = true;
    bm.width = 4;
    bm.height = 1;
    bm.stride = 4;
    bm.data = {0, 1, 1, 0};
    auto pal = std::make_shared<proto::Palette>();
    pal->unique = 5;
    pal->ents = {0x000000, 0xffffff};
    bm.palette = pal;
    img->content = bm;
    ImageContext ctx;
    auto res = marshal_draw(test::image_copy(0, rect_ltrb(0, 0, 4, 1), img), ctx);
    ASSERT_TRUE(res.message);
    auto v = decode(*res.message);
    auto& out = *std::get<proto::Copy>(std::get<wire::MsgDisplayDrawCopy>(v).cmd.op).src_bitmap;
    auto& obm = std::get<proto::Bitmap>(out.content);
    ASSERT_TRUE(obm.palette);
    EXPECT_EQ(obm.palette->ents, pal->ents);
}

TEST(DisplayMarshal, CopyBitsTextAndStrokeDecode) {
    ImageContext ctx;
    proto::DrawCommand cb;
    cb.bbox = rect_ltrb(0, 0, 8, 8);
    cb.op = proto::CopyBits{proto::Point{3, 4}};
    auto m1 = marshal_draw(cb, ctx);
    ASSERT_TRUE(m1.message);
    auto v1 = decode(*m1.message);
    ASSERT_TRUE(std::holds_alternative<wire::MsgDisplayCopyBits>(v1));
    EXPECT_EQ(std::get<proto::CopyBits>(std::get<wire::MsgDisplayCopyBits>(v1).cmd.op).src_pos, (proto::Point{3, 4}));

    proto::DrawCommand text;
    text.bbox = rect_ltrb(0, 0, 8, 8);
    proto::Text t;
    t.str.flags = proto::kStringRasterA1;
    proto::Glyph g;
    g.width = 9;
    g.height = 2;
    g.data = {0xff, 0x80, 0x01, 0x00};
    t.str.glyphs.push_back(g);
    t.fore_brush.type = proto::BrushType::Solid;
    text.op = t;
    auto m2 = marshal_draw(text, ctx);
    ASSERT_TRUE(m2.message);
    auto v2 = decode(*m2.message);
    auto& tt = std::get<proto::Text>(std::get<wire::MsgDisplayDrawText>(v2).cmd.op);
    ASSERT_EQ(tt.str.glyphs.size(), 1u);
    EXPECT_EQ(tt.str.glyphs[0].data, g.data);

    proto::DrawCommand stroke;
    stroke.bbox = rect_ltrb(0, 0, 8, 8);
    proto::Stroke s;
    s.path.segments.push_back(proto::PathSeg{proto::kPathBegin | proto::kPathEnd, {{0, 0}, {64, 64}}});
    s.attr.flags = proto::kLineStyled;
    s.attr.style = {16, 32};
    s.brush.type = proto::BrushType::Solid;
    stroke.op = s;
    auto m3 = marshal_draw(stroke, ctx);
    ASSERT_TRUE(m3.message);
    auto v3 = decode(*m3.message);
    auto& ss = std::get<proto::Stroke>(std::get<wire::MsgDisplayDrawStroke>(v3).cmd.op);
    EXPECT_EQ(ss.attr.style, s.attr.style);
    ASSERT_EQ(ss.path.segments.size(), 1u);
    EXPECT_EQ(ss.path.segments[0].points.size(), 2u);
}

TEST(DisplayMarshal, ImageWithoutContentIsAnErrorNotACrash) {
    auto img = std::make_shared<proto::Image>();
    img->width = 4;
    img->height = 4;  // monostate content: nothing to send
    ImageContext ctx;
    auto res = marshal_draw(test::image_copy(0, rect_ltrb(0, 0, 4, 4), img), ctx);
    EXPECT_FALSE(res.message);
    EXPECT_FALSE(res.error.empty());
}

TEST(DisplayMarshal, SurfaceCreateAndMonitorsConfigDecode) {
    proto::SurfaceCreate c;
    c.surface_id = 0;
    c.width = 640;
    c.height = 480;
    c.primary = true;
    auto v = decode(marshal_surface_create(c));
    auto& sc = std::get<wire::MsgDisplaySurfaceCreate>(v);
    EXPECT_EQ(sc.width, 640u);
    EXPECT_EQ(sc.flags, 1u);
    proto::MonitorsConfig mc;
    mc.max_allowed = 1;
    mc.heads.push_back(proto::MonitorHead{0, 0, 640, 480, 0, 0, 0});
    auto v2 = decode(marshal_monitors_config(mc));
    EXPECT_EQ(std::get<wire::MsgDisplayMonitorsConfig>(v2).config.heads.size(), 1u);
}

proto::CursorShapePtr alpha_shape(std::uint64_t unique, std::size_t data_bytes) {
    auto shape = std::make_shared<proto::CursorShape>();
    shape->unique = unique;
    shape->type = proto::CursorType::Alpha;
    shape->width = 2;
    shape->height = 2;
    shape->data.assign(data_bytes, 0x80);
    return shape;
}

TEST(CursorMarshal, SetIsCachedThenSentFromCacheWithoutData) {
    CursorCache cache(4);
    std::vector<std::uint64_t> evicted;
    proto::CursorSet set{proto::Point16{3, 4}, true, alpha_shape(7, 16)};
    auto first = marshal_cursor_set(set, &cache, evicted);
    auto second = marshal_cursor_set(set, &cache, evicted);
    ASSERT_EQ(first.type, wire::MsgCursorSet::kType);
    auto a = wire::demarshal_as<wire::MsgCursorSet>(first.body);
    auto b = wire::demarshal_as<wire::MsgCursorSet>(second.body);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->cursor_flags, wire::wirecodec::kCursorCacheMe);
    EXPECT_EQ(a->position, (proto::Point16{3, 4}));
    ASSERT_TRUE(a->shape);
    EXPECT_EQ(a->shape->data.size(), 16u);
    EXPECT_EQ(b->cursor_flags, wire::wirecodec::kCursorFromCache);
    ASSERT_TRUE(b->shape);
    EXPECT_TRUE(b->shape->data.empty());
    EXPECT_TRUE(evicted.empty());
}

TEST(CursorMarshal, ShapeWithTooLittleDataIsSentAsNone) {
    CursorCache cache(4);
    std::vector<std::uint64_t> evicted;
    proto::CursorSet set{proto::Point16{1, 1}, true, alpha_shape(9, 15)};  // 2x2 alpha needs 16 bytes
    auto msg = marshal_cursor_set(set, &cache, evicted);
    auto parsed = wire::demarshal_as<wire::MsgCursorSet>(msg.body);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->cursor_flags, wire::wirecodec::kCursorNone);
    EXPECT_FALSE(parsed->shape);
    EXPECT_EQ(cache.size(), 0u);  // nothing was cached for it
}

TEST(CursorMarshal, InitCarriesTrailVisibilityAndEvictionsAreReported) {
    CursorCache cache(1);
    std::vector<std::uint64_t> evicted;
    proto::CursorSet first{proto::Point16{}, true, alpha_shape(1, 16)};
    marshal_cursor_set(first, &cache, evicted);
    auto init = marshal_cursor_init(proto::Point16{5, 6}, proto::CursorTrail{2, 3}, false, alpha_shape(2, 16), &cache,
                                    evicted);
    EXPECT_EQ(evicted, (std::vector<std::uint64_t>{1}));
    auto parsed = wire::demarshal_as<wire::MsgCursorInit>(init.body);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->position, (proto::Point16{5, 6}));
    EXPECT_EQ(parsed->trail_length, 2u);
    EXPECT_EQ(parsed->trail_frequency, 3u);
    EXPECT_EQ(parsed->visible, 0u);
    EXPECT_EQ(parsed->cursor_flags, wire::wirecodec::kCursorCacheMe);
    auto inval = wire::demarshal_as<wire::MsgCursorInvalOne>(marshal_cursor_inval_one(1).body);
    ASSERT_TRUE(inval.ok());
    EXPECT_EQ(inval->id, 1u);
}

}  // namespace
}  // namespace qxlbox::server
