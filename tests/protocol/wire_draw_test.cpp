#include <gtest/gtest.h>

#include <random>

#include "protocol/wire/header.h"
#include "protocol/wire/messages.h"

namespace qxlbox::proto::wire {
namespace {

ImagePtr bitmap_image(std::uint64_t id, BitmapFormat fmt, std::uint32_t w, std::uint32_t h,
                      std::shared_ptr<const Palette> pal = nullptr) {
    Bitmap b;
    b.format = fmt;
    b.width = w;
    b.height = h;
    b.stride = static_cast<std::uint32_t>((w * bitmap_format_bpp(fmt) + 7) / 8 + 1);
    b.top_down = true;
    b.palette = std::move(pal);
    b.data.resize(static_cast<std::size_t>(b.stride) * h);
    for (std::size_t i = 0; i < b.data.size(); ++i) b.data[i] = static_cast<std::uint8_t>(i * 7 + id);
    auto img = std::make_shared<Image>();
    img->id = id;
    img->type = ImageType::Bitmap;
    img->flags = kImageCacheMe;
    img->width = w;
    img->height = h;
    img->content = std::move(b);
    return img;
}

std::shared_ptr<const Palette> palette(std::size_t n) {
    auto p = std::make_shared<Palette>();
    p->unique = 0xabcdef;
    for (std::size_t i = 0; i < n; ++i) p->ents.push_back(static_cast<std::uint32_t>(i * 0x010203));
    return p;
}

DrawCommand base_cmd() {
    DrawCommand c;
    c.surface_id = 3;
    c.bbox = Rect{10, 20, 30, 40};
    c.clip.type = ClipType::Rects;
    c.clip.rects = {Rect{10, 20, 15, 25}, Rect{16, 26, 30, 40}};
    return c;
}

QMask some_mask() {
    QMask m;
    m.flags = kMaskInvers;
    m.pos = Point{1, 2};
    m.bitmap = bitmap_image(77, BitmapFormat::Bit1BE, 9, 4, palette(2));
    return m;
}

Brush pattern_brush() {
    Brush b;
    b.type = BrushType::Pattern;
    b.pattern = bitmap_image(55, BitmapFormat::Bit32, 8, 8);
    b.pos = Point{-3, 4};
    return b;
}

// Marshals, demarshals through the display dispatch table, and checks the bytes are stable.
DrawCommand draw_round_trip(const DrawCommand& cmd, std::uint16_t expected_type) {
    std::uint16_t type = 0;
    auto bytes = marshal_draw(cmd, type);
    EXPECT_TRUE(bytes.ok()) << (bytes.ok() ? "" : bytes.error().to_string());
    if (!bytes.ok()) return {};
    EXPECT_EQ(type, expected_type);
    auto msg = DisplayServerMessages::demarshal(type, *bytes);
    EXPECT_TRUE(msg.ok()) << (msg.ok() ? "" : msg.error().to_string());
    if (!msg.ok()) return {};
    DrawCommand back;
    std::visit(
        [&](auto& m) {
            if constexpr (requires { m.cmd; }) back = m.cmd;
        },
        *msg);
    std::uint16_t type2 = 0;
    auto again = marshal_draw(back, type2);
    EXPECT_TRUE(again.ok());
    if (again.ok()) {
        EXPECT_EQ(*again, *bytes);
    }
    EXPECT_EQ(back.surface_id, cmd.surface_id);
    EXPECT_EQ(back.bbox, cmd.bbox);
    EXPECT_EQ(back.clip.rects, cmd.clip.rects);
    return back;
}

TEST(WireDraw, CopyWithoutClipHasTheObservedFixedLayout) {
    DrawCommand cmd;
    cmd.surface_id = 0;
    cmd.bbox = Rect{0, 0, 2, 3};  // top, left, bottom, right
    Copy copy;
    copy.src_bitmap = bitmap_image(0x100000002ull, BitmapFormat::Bit32, 3, 2);
    copy.src_area = cmd.bbox;
    cmd.op = copy;
    std::uint16_t type = 0;
    auto bytes = marshal_draw(cmd, type);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(type, 304);
    const auto& b = *bytes;
    EXPECT_EQ(load_le<std::int32_t>(&b[4 + 8]), 2) << "rect bottom is the third field";
    EXPECT_EQ(load_le<std::int32_t>(&b[4 + 12]), 3) << "rect right is the fourth field";
    EXPECT_EQ(b[20], 0) << "CLIP_NONE";
    EXPECT_EQ(load_le<std::uint32_t>(&b[21]), 57u) << "image follows the 57-byte fixed part";
    EXPECT_EQ(load_le<std::uint16_t>(&b[41]), rop::kOpPut);
    EXPECT_EQ(load_le<std::uint32_t>(&b[53]), 0u) << "no mask";
    EXPECT_EQ(load_le<std::uint64_t>(&b[57]), 0x100000002ull);
    EXPECT_EQ(b[65], 0) << "BITMAP";
    EXPECT_EQ(b[75], static_cast<std::uint8_t>(BitmapFormat::Bit32));
    EXPECT_EQ(b[76], kBitmapTopDown);
    EXPECT_EQ(load_le<std::uint32_t>(&b[89]), 0u) << "no palette";
    EXPECT_EQ(b.size(), 93u + 2 * (3 * 4 + 1));
}

TEST(WireDraw, EveryDrawOperationRoundTrips) {
    {
        auto c = base_cmd();
        Fill f;
        f.brush = pattern_brush();
        f.rop_descriptor = rop::kOpXor | rop::kInversDest;
        f.mask = some_mask();
        c.op = f;
        auto back = draw_round_trip(c, 302);
        const auto& bf = std::get<Fill>(back.op);
        EXPECT_EQ(bf.brush.pos, (Point{-3, 4}));
        ASSERT_TRUE(bf.mask.bitmap);
        EXPECT_EQ(bf.mask.bitmap->id, 77u);
        const auto& mb = std::get<Bitmap>(bf.mask.bitmap->content);
        ASSERT_TRUE(mb.palette);
        EXPECT_EQ(mb.palette->ents.size(), 2u);
    }
    {
        auto c = base_cmd();
        Opaque o;
        o.src_bitmap = bitmap_image(1, BitmapFormat::Bit8, 5, 3, palette(256));
        o.src_area = Rect{0, 0, 3, 5};
        o.brush.type = BrushType::Solid;
        o.brush.color = 0x123456;
        o.scale_mode = ScaleMode::Nearest;
        c.op = o;
        auto back = draw_round_trip(c, 303);
        EXPECT_EQ(std::get<Opaque>(back.op).brush.color, 0x123456u);
        EXPECT_EQ(std::get<Opaque>(back.op).scale_mode, ScaleMode::Nearest);
    }
    {
        auto c = base_cmd();
        Blend bl;
        bl.src_bitmap = bitmap_image(2, BitmapFormat::Bit4LE, 7, 2, palette(16));
        bl.src_area = Rect{0, 0, 2, 7};
        c.op = bl;
        draw_round_trip(c, 305);
    }
    {
        auto c = base_cmd();
        c.op = Blackness{some_mask()};
        draw_round_trip(c, 306);
        c.op = Whiteness{};
        draw_round_trip(c, 307);
        c.op = Invers{};
        draw_round_trip(c, 308);
    }
    {
        auto c = base_cmd();
        Rop3 r;
        r.src_bitmap = bitmap_image(3, BitmapFormat::Bit24, 4, 4);
        r.brush = pattern_brush();
        r.rop3 = 0xCA;
        c.op = r;
        auto back = draw_round_trip(c, 309);
        EXPECT_EQ(std::get<Rop3>(back.op).rop3, 0xCA);
    }
    {
        auto c = base_cmd();
        Stroke s;
        s.path.segments = {PathSeg{kPathBegin, {{16, 16}, {32, 48}}},
                           PathSeg{kPathEnd | kPathBezier, {{1, 2}, {3, 4}, {5, 6}}}};
        s.attr.flags = kLineStyled | kLineStartWithGap;
        s.attr.style = {16, 32, 48};
        s.brush.type = BrushType::Solid;
        s.brush.color = 0xff;
        s.fore_mode = rop::kOpOr;
        c.op = s;
        auto back = draw_round_trip(c, 310);
        const auto& bs = std::get<Stroke>(back.op);
        ASSERT_EQ(bs.path.segments.size(), 2u);
        EXPECT_EQ(bs.path.segments[1].flags, kPathEnd | kPathBezier);
        EXPECT_EQ(bs.path.segments[1].points[2], (PointFix{5, 6}));
        EXPECT_EQ(bs.attr.style, (std::vector<std::int32_t>{16, 32, 48}));
        EXPECT_EQ(bs.attr.width, 0) << "width is not on the wire";
    }
    {
        auto c = base_cmd();
        Text t;
        t.str.flags = kStringRasterA4 | kStringRasterTopDown;
        Glyph g;
        g.render_pos = Point{5, 6};
        g.glyph_origin = Point{-1, -2};
        g.width = 5;
        g.height = 3;
        g.data = Bytes(3 * 3, 0x5a);
        t.str.glyphs = {g, g};
        t.back_area = Rect{1, 2, 3, 4};
        t.fore_brush.type = BrushType::Solid;
        c.op = t;
        auto back = draw_round_trip(c, 311);
        const auto& bt = std::get<Text>(back.op);
        ASSERT_EQ(bt.str.glyphs.size(), 2u);
        EXPECT_EQ(bt.str.glyphs[1].data.size(), 9u);
        EXPECT_EQ(bt.back_area, (Rect{1, 2, 3, 4}));
    }
    {
        auto c = base_cmd();
        Transparent t;
        t.src_bitmap = bitmap_image(4, BitmapFormat::Bit16, 3, 3);
        t.src_color = 0x7c00;
        t.true_color = 0xff0000;
        c.op = t;
        draw_round_trip(c, 312);
    }
    {
        auto c = base_cmd();
        AlphaBlend a;
        a.alpha_flags = kAlphaSrcSurfaceHasAlpha;
        a.alpha = 128;
        a.src_bitmap = bitmap_image(5, BitmapFormat::RGBA, 3, 3);
        c.op = a;
        auto back = draw_round_trip(c, 313);
        EXPECT_EQ(std::get<AlphaBlend>(back.op).alpha, 128);
    }
    {
        auto c = base_cmd();
        Composite comp;
        comp.flags = 3 | (1u << composite::kSrcRepeatShift) | composite::kHasMask;  // HAS_MASK is derived
        comp.src_bitmap = bitmap_image(6, BitmapFormat::Bit32, 2, 2);
        comp.src_transform = Transform{{1, 2, 3, 4, 5, 6}};
        comp.src_origin = Point16{-1, 1};
        c.op = comp;
        auto back = draw_round_trip(c, 318);
        const auto& bc = std::get<Composite>(back.op);
        EXPECT_EQ(bc.flags & composite::kHasMask, 0u) << "no mask image, so no HAS_MASK";
        EXPECT_NE(bc.flags & composite::kHasSrcTransform, 0u);
        ASSERT_TRUE(bc.src_transform.has_value());
        EXPECT_EQ(*bc.src_transform, (Transform{{1, 2, 3, 4, 5, 6}}));
        EXPECT_FALSE(bc.mask_transform.has_value());
    }
    {
        auto c = base_cmd();
        c.op = CopyBits{Point{7, 8}};
        auto back = draw_round_trip(c, 104);
        EXPECT_EQ(std::get<CopyBits>(back.op).src_pos, (Point{7, 8}));
    }
}

TEST(WireDraw, EveryImageKindRoundTrips) {
    auto with_image = [](ImagePtr img) {
        DrawCommand c = base_cmd();
        Copy copy;
        copy.src_bitmap = std::move(img);
        c.op = copy;
        return draw_round_trip(c, 304);
    };
    for (auto type : {ImageType::LzRgb, ImageType::GlzRgb, ImageType::Quic, ImageType::Jpeg, ImageType::Lz4}) {
        auto img = std::make_shared<Image>();
        img->type = type;
        img->width = img->height = 4;
        img->content = EncodedImage{Bytes{1, 2, 3, 4, 5}, nullptr, 0, 0};
        auto back = with_image(img);
        const auto& e = std::get<EncodedImage>(std::get<Copy>(back.op).src_bitmap->content);
        EXPECT_EQ(e.data, (Bytes{1, 2, 3, 4, 5}));
    }
    {
        auto img = std::make_shared<Image>();
        img->type = ImageType::LzPlt;
        img->content = EncodedImage{Bytes{9, 9}, palette(4), 0, kBitmapPalCacheMe};
        auto back = with_image(img);
        const auto& e = std::get<EncodedImage>(std::get<Copy>(back.op).src_bitmap->content);
        ASSERT_TRUE(e.palette);
        EXPECT_EQ(e.palette->ents.size(), 4u);
    }
    {
        auto img = std::make_shared<Image>();
        img->type = ImageType::LzPlt;
        img->content = EncodedImage{Bytes{9}, nullptr, 0x55, kBitmapPalFromCache};
        auto back = with_image(img);
        EXPECT_EQ(std::get<EncodedImage>(std::get<Copy>(back.op).src_bitmap->content).palette_id, 0x55u);
    }
    {
        auto img = std::make_shared<Image>();
        img->type = ImageType::Surface;
        img->content = SurfaceRef{42};
        auto back = with_image(img);
        EXPECT_EQ(std::get<SurfaceRef>(std::get<Copy>(back.op).src_bitmap->content).surface_id, 42u);
    }
    for (auto type : {ImageType::FromCache, ImageType::FromCacheLossless}) {
        auto img = std::make_shared<Image>();
        img->id = 99;
        img->type = type;
        auto back = with_image(img);
        EXPECT_EQ(std::get<Copy>(back.op).src_bitmap->id, 99u);
    }
    {
        // A bitmap whose palette the client has cached travels as PAL_FROM_CACHE + id.
        auto cached = std::make_shared<Palette>();
        cached->unique = 0x1234;
        auto back = with_image(bitmap_image(8, BitmapFormat::Bit8, 2, 2, cached));
        const auto& bm = std::get<Bitmap>(std::get<Copy>(back.op).src_bitmap->content);
        ASSERT_TRUE(bm.palette);
        EXPECT_EQ(bm.palette->unique, 0x1234u);
        EXPECT_TRUE(bm.palette->ents.empty());
    }
}

TEST(WireDraw, MarshalRefusesCommandsThatCannotBeRepresented) {
    DrawCommand c = base_cmd();
    c.op = Copy{};  // no source image
    std::uint16_t type = 0;
    EXPECT_FALSE(marshal_draw(c, type).ok());
    MsgDisplayDrawFill wrong;
    wrong.cmd.op = Copy{};
    EXPECT_FALSE(marshal(wrong).ok()) << "FILL message holding a COPY op";
    auto c2 = base_cmd();
    Stroke s;
    s.attr.flags = kLineStyled;
    s.attr.style.assign(256, 1);
    c2.op = s;
    EXPECT_FALSE(marshal_draw(c2, type).ok()) << "style count exceeds u8";
}

// ------------------------------------------------------------- hostile input

Bytes valid_copy_bytes() {
    DrawCommand cmd = base_cmd();
    Copy copy;
    copy.src_bitmap = bitmap_image(1, BitmapFormat::Bit8, 6, 5, palette(3));
    copy.mask = some_mask();
    cmd.op = copy;
    std::uint16_t type = 0;
    return marshal_draw(cmd, type).value();
}

TEST(WireDrawHostile, EveryTruncationOfADrawMessageIsAnError) {
    const Bytes full = valid_copy_bytes();
    ASSERT_TRUE(DisplayServerMessages::demarshal(304, full).ok());
    for (std::size_t n = 0; n < full.size(); ++n) {
        auto r = DisplayServerMessages::demarshal(304, ByteView(full.data(), n));
        EXPECT_FALSE(r.ok()) << "accepted a body cut to " << n << " of " << full.size() << " bytes";
    }
}

TEST(WireDrawHostile, RandomCorruptionNeverCrashes) {
    const Bytes full = valid_copy_bytes();
    std::mt19937 rng(5);
    int rejected = 0;
    for (int i = 0; i < 5000; ++i) {
        Bytes m = full;
        for (int k = 0; k < 3; ++k) m[rng() % m.size()] = static_cast<std::uint8_t>(rng());
        const std::uint16_t type = static_cast<std::uint16_t>(302 + rng() % 17);
        if (!DisplayServerMessages::demarshal(type, m).ok()) ++rejected;
    }
    EXPECT_GT(rejected, 1000);
}

TEST(WireDrawHostile, RejectsPointerPastTheBody) {
    Bytes b = valid_copy_bytes();
    store_le<std::uint32_t>(&b[21 + 4 + 16 * 2], static_cast<std::uint32_t>(b.size() + 1));  // src_bitmap after 2 clip rects
    auto r = DisplayServerMessages::demarshal(304, b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::BadPointer);
}

TEST(WireDrawHostile, RejectsNullRequiredPointer) {
    Bytes b = valid_copy_bytes();
    store_le<std::uint32_t>(&b[21 + 4 + 32], 0);
    auto r = DisplayServerMessages::demarshal(304, b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::BadPointer);
}

TEST(WireDrawHostile, RejectsClipCountLargerThanTheBody) {
    Bytes b = valid_copy_bytes();
    store_le<std::uint32_t>(&b[21], 0x10000000);
    auto r = DisplayServerMessages::demarshal(304, b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::Truncated);
}

TEST(WireDrawHostile, RejectsUnknownSwitchValues) {
    Bytes b = valid_copy_bytes();
    b[20] = 2;  // clip type
    EXPECT_FALSE(DisplayServerMessages::demarshal(304, b).ok());
    Bytes c = valid_copy_bytes();
    const auto image_at = load_le<std::uint32_t>(&c[21 + 4 + 32]);
    c[image_at + 8] = 50;  // image type
    EXPECT_FALSE(DisplayServerMessages::demarshal(304, c).ok());
    Bytes d = valid_copy_bytes();
    d[image_at + 18] = 11;  // bitmap format
    EXPECT_FALSE(DisplayServerMessages::demarshal(304, d).ok());
    Bytes e = valid_copy_bytes();
    store_le<std::uint32_t>(&e[image_at + 18 + 10], 1);  // stride below 6 bytes of 8-bit row
    EXPECT_FALSE(DisplayServerMessages::demarshal(304, e).ok());
}

TEST(WireDrawHostile, RejectsBitmapLargerThanTheBody) {
    Bytes b = valid_copy_bytes();
    const auto image_at = load_le<std::uint32_t>(&b[21 + 4 + 32]);
    store_le<std::uint32_t>(&b[image_at + 18 + 6], 0x7fffffff);  // height
    auto r = DisplayServerMessages::demarshal(304, b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::Truncated);
}

TEST(WireDrawHostile, AliasedPointersCannotAmplifyAllocation) {
    // A LIST of 10,000 sub-messages that all point at one 60 KB sub-message: parsing would copy
    // 600 MB; the reader's budget refuses it.
    Bytes body;
    const std::uint16_t n = 10000;
    put_le(body, n);
    const std::uint32_t target = 2 + 4u * n;
    for (int i = 0; i < n; ++i) put_le(body, target);
    put_le<std::uint16_t>(body, 102);
    put_le<std::uint32_t>(body, 60000);
    body.resize(body.size() + 60000, 0);
    auto r = demarshal_as<MsgList>(body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::TooLarge);
}

TEST(WireDrawHostile, StringWithoutRasterKindIsRejected) {
    DrawCommand c = base_cmd();
    Text t;
    t.str.flags = kStringRasterA1 | kStringRasterA8;
    t.str.glyphs.resize(1);
    c.op = t;
    std::uint16_t type = 0;
    EXPECT_FALSE(marshal_draw(c, type).ok());
}

// ------------------------------------------------------------- other display and cursor messages

TEST(WireDisplay, SurfaceCreateAndMonitorsConfigHaveTheSpecLayout) {
    MsgDisplaySurfaceCreate sc;
    sc.width = 720;
    sc.height = 400;
    sc.flags = MsgDisplaySurfaceCreate::kFlagPrimary;
    auto b = marshal(sc).value();
    EXPECT_EQ(b, (Bytes{0, 0, 0, 0, 0xd0, 2, 0, 0, 0x90, 1, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0}));
    b[12] = 33;
    EXPECT_FALSE(demarshal_as<MsgDisplaySurfaceCreate>(b).ok()) << "invalid surface format";

    MsgDisplayMonitorsConfig mc;
    mc.config.max_allowed = 1;
    mc.config.heads = {MonitorHead{0, 0, 720, 400, 0, 0, 0}};
    auto m = marshal(mc).value();
    ASSERT_EQ(m.size(), 4u + 28u);
    EXPECT_EQ(load_le<std::uint16_t>(&m[0]), 1);
    EXPECT_EQ(load_le<std::uint16_t>(&m[2]), 1);
    EXPECT_EQ(load_le<std::uint32_t>(&m[4 + 8]), 720u);
    auto back = demarshal_as<MsgDisplayMonitorsConfig>(m);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->config.heads, mc.config.heads);
}

TEST(WireDisplay, ClientInitMatchesObservedBytes) {
    const Bytes observed = {0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xfc, 0x5f, 0x00};
    auto init = DisplayClientMessages::demarshal(101, observed);
    ASSERT_TRUE(init.ok());
    const auto& m = std::get<MsgcDisplayInit>(*init);
    EXPECT_EQ(m.pixmap_cache_id, 1);
    EXPECT_EQ(m.pixmap_cache_size, 20971520);
    EXPECT_EQ(m.glz_dictionary_id, 1);
    EXPECT_EQ(m.glz_dictionary_window_size, 0x5ffc00);
    EXPECT_EQ(marshal(m).value(), observed);
    EXPECT_FALSE(DisplayClientMessages::demarshal(101, ByteView(observed.data(), 13)).ok());
}

TEST(WireCursor, SetCarriesShapeAndInitMatchesObservedBytes) {
    auto shape = std::make_shared<CursorShape>();
    shape->unique = 5;
    shape->type = CursorType::Alpha;
    shape->width = 2;
    shape->height = 2;
    shape->hot_spot_x = 1;
    shape->data.assign(16, 0x80);
    MsgCursorSet set;
    set.position = Point16{3, 4};
    set.cursor_flags = wirecodec::kCursorCacheMe;
    set.shape = shape;
    auto b = marshal(set).value();
    EXPECT_EQ(b.size(), 4u + 1 + 2 + 17 + 16);
    auto back = CursorServerMessages::demarshal(103, b);
    ASSERT_TRUE(back.ok());
    const auto& s = std::get<MsgCursorSet>(*back);
    ASSERT_TRUE(s.shape);
    EXPECT_EQ(s.shape->data, shape->data);
    EXPECT_EQ(s.shape->hot_spot_x, 1);
    // Shape data shorter than 2x2 ALPHA needs is malformed.
    b.resize(b.size() - 1);
    EXPECT_FALSE(CursorServerMessages::demarshal(103, b).ok());

    // QEMU's cursor INIT: position (0,0), trail 0/0, visible 1, flags NONE.
    const Bytes observed = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0};
    auto init = CursorServerMessages::demarshal(101, observed);
    ASSERT_TRUE(init.ok());
    const auto& i = std::get<MsgCursorInit>(*init);
    EXPECT_EQ(i.visible, 1);
    EXPECT_FALSE(i.shape);
    EXPECT_EQ(marshal(i).value(), observed);
}

TEST(WireMain, ChannelsListAndUnknownTypes) {
    MsgMainChannelsList list;
    list.channels = {{2, 0}, {4, 0}, {3, 0}};
    auto b = marshal(list).value();
    EXPECT_EQ(b, (Bytes{3, 0, 0, 0, 2, 0, 4, 0, 3, 0}));
    store_le<std::uint32_t>(b.data(), 0xffffffff);
    EXPECT_FALSE(MainServerMessages::demarshal(104, b).ok());
    auto unknown = MainServerMessages::demarshal(199, Bytes{});
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code, ErrorCode::UnknownMessage);
    EXPECT_EQ(message_name(ChannelType::Main, Direction::ServerToClient, 103), "MAIN_INIT");
    EXPECT_EQ(message_name(ChannelType::Display, Direction::ClientToServer, 101), "DISPLAY_INIT");
    EXPECT_TRUE(message_known(ChannelType::Inputs, Direction::ClientToServer, 3)) << "PONG is common";
    EXPECT_FALSE(message_known(ChannelType::Cursor, Direction::ClientToServer, 101));
}

TEST(WireMain, MigrationDestinationStringsFollowPointers) {
    MsgMainMigrateBegin mb;
    mb.dst_info.port = 5900;
    mb.dst_info.host = Bytes{'h', 'o', 's', 't', 0};
    auto b = marshal(mb).value();
    auto back = demarshal_as<MsgMainMigrateBegin>(b);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->dst_info.host, mb.dst_info.host);
    store_le<std::uint32_t>(&b[8], 0);  // host_data is non-null in the protocol
    EXPECT_FALSE(demarshal_as<MsgMainMigrateBegin>(b).ok());
}

}  // namespace
}  // namespace qxlbox::proto::wire
