// The client session against a scripted server: link, channel order, PING/PONG, ACK windows,
// display drawing with BITMAP, LZ, the pixmap and palette caches.
#include <gtest/gtest.h>

#include "tests/client/test_util.h"

namespace qxlbox::client::test {
namespace {

namespace wire = qxlbox::proto::wire;
using proto::ImageType;

constexpr int kWaitMs = 5000;

TEST(ClientSession, ShowsBitmapDrawnOnPrimarySurface) {
    FakeServerOptions opts;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(64, 48));
        p.send(draw_copy(bitmap_image(64, 48, 1, 0), 0, 0));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image, pattern_rgb(64, 48));
    EXPECT_EQ(r.marks, 1u);
}

TEST(ClientSession, DisplayResetClearsThePrimaryAsSpiceGtkDoes) {
    // After a device reset the server sends DISPLAY_RESET and creates an identical primary
    // again; spice-gtk clears the primary canvas on RESET, so the old picture must not stay.
    FakeServerOptions opts;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(64, 48));
        p.send(draw_copy(bitmap_image(64, 48, 1, 0), 0, 0));
        p.send(wire::MsgDisplayReset{});
        p.send(primary_surface(64, 48));
        p.send(solid_fill({0, 0, 8, 8}, 0x00ff0000));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    RgbImage want{64, 48, std::vector<std::uint8_t>(64 * 48 * 3, 0)};
    for (std::uint32_t y = 0; y < 8; ++y)
        for (std::uint32_t x = 0; x < 8; ++x) want.rgb[(y * 64 + x) * 3] = 0xff;
    EXPECT_EQ(r.image, want);
}

TEST(ClientSession, SendsDisplayInitAsFirstDisplayMessage) {
    std::vector<std::uint16_t> display_first;
    std::vector<std::uint8_t> init_body;
    FakeServerOptions opts;
    opts.display = [&](FakePeer& p) {
        if (auto f = p.receive(kWaitMs)) {
            display_first.push_back(f->type);
            init_body = f->body;
        }
        p.send(primary_surface(8, 8));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(display_first.size(), 1u);
    EXPECT_EQ(display_first[0], wire::MsgcDisplayInit::kType);
    auto init = wire::demarshal_as<wire::MsgcDisplayInit>(init_body);
    ASSERT_TRUE(init);
    EXPECT_EQ(init->pixmap_cache_id, 1);
    EXPECT_GT(init->pixmap_cache_size, 0);
}

TEST(ClientSession, MainChannelSendsOnlyAttachChannels) {
    FakeServerOptions opts;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(8, 8));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    std::vector<std::uint16_t> main_types;
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
        // The main script records once the client has closed.
        for (int i = 0; i < 100 && server.main_received().empty(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        main_types = server.main_received();
    }
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_FALSE(main_types.empty());
    for (auto t : main_types) {
        EXPECT_NE(t, wire::MsgcMainClientInfo::kType) << "CLIENT_INFO makes libspice-server drop the client";
    }
    EXPECT_EQ(main_types.front(), wire::MsgcMainAttachChannels::kType);
}

TEST(ClientSession, AnswersPingWithPongEchoingIdAndTimestampWithoutPadding) {
    std::optional<wire::Frame> pong;
    FakeServerOptions opts;
    opts.display = [&](FakePeer& p) {
        p.receive(kWaitMs);
        wire::MsgPing ping;
        ping.id = 77;
        ping.timestamp = 0x1122334455667788ull;
        ping.padding.assign(4096, 0);
        p.send(ping);
        pong = p.receive_type(wire::MsgcPong::kType, kWaitMs, nullptr);
        p.send(primary_surface(8, 8));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_TRUE(pong.has_value());
    EXPECT_EQ(pong->body.size(), 12u);
    auto m = wire::demarshal_as<wire::MsgcPong>(pong->body);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, 77u);
    EXPECT_EQ(m->timestamp, 0x1122334455667788ull);
}

TEST(ClientSession, AcknowledgesEveryWindowAfterAckSync) {
    std::vector<std::uint16_t> seen;
    std::uint32_t sync_generation = 0;
    FakeServerOptions opts;
    opts.display = [&](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(wire::MsgSetAck{7, 3});
        if (auto f = p.receive_type(wire::MsgcAckSync::kType, kWaitMs, nullptr)) {
            if (auto m = wire::demarshal_as<wire::MsgcAckSync>(f->body)) sync_generation = m->generation;
        }
        // Ten messages after SET_ACK with window 3: three ACKs (spec §3 [obs]).
        for (int i = 0; i < 8; ++i) p.send(wire::MsgDisplayInvalAllPalettes{});
        p.send(primary_surface(8, 8));
        p.send(wire::MsgDisplayMark{});
        for (int i = 0; i < 3; ++i) p.receive_type(wire::MsgcAck::kType, kWaitMs, &seen);
        p.drain_until_closed(kWaitMs, &seen);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(sync_generation, 7u);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), wire::MsgcAck::kType), 3);
}

TEST(ClientSession, DecodesLzRgbImages) {
    FakeServerOptions opts;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(40, 30));
        p.send(draw_copy(lz_image(40, 30, 9, 5), 0, 0));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image, pattern_rgb(40, 30, 5));
}

TEST(ClientSession, DrawsCachedImageFromCache) {
    FakeServerOptions opts;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(32, 16));
        p.send(wire::MsgDisplayInvalAllPalettes{});
        // Cache a 16x16 image on the left half, then reuse it on the right half.
        p.send(draw_copy(bitmap_image(16, 16, 0x100000001ull, proto::kImageCacheMe, 3), 0, 0));
        p.send(draw_copy(from_cache_image(16, 16, 0x100000001ull), 16, 0));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    const RgbImage half = pattern_rgb(16, 16, 3);
    for (std::uint32_t y = 0; y < 16; ++y) {
        for (std::uint32_t x = 0; x < 32; ++x) {
            for (int c = 0; c < 3; ++c) {
                ASSERT_EQ(r.image.rgb[(y * 32 + x) * 3 + c], half.rgb[(y * 16 + x % 16) * 3 + c]) << x << "," << y;
            }
        }
    }
}

TEST(ClientSession, ResolvesPalettesFromThePaletteCache) {
    auto make = [](bool from_cache) {
        auto img = std::make_shared<proto::Image>();
        img->id = 5;
        img->type = ImageType::Bitmap;
        img->width = 4;
        img->height = 1;
        proto::Bitmap b;
        b.format = proto::BitmapFormat::Bit8;
        b.top_down = true;
        b.width = 4;
        b.height = 1;
        b.stride = 4;
        b.data = {0, 1, 2, 1};
        auto pal = std::make_shared<proto::Palette>();
        pal->unique = 0xabc;
        if (!from_cache) pal->ents = {0x000000ff, 0x0000ff00, 0x00ff0000};
        b.palette = pal;
        img->content = std::move(b);
        return img;
    };
    FakeServerOptions opts;
    opts.display = [&](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(4, 2));
        p.send(draw_copy(make(false), 0, 0));
        auto second = draw_copy(make(true), 0, 1);
        p.send(second);
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    const std::vector<std::uint8_t> row = {0, 0, 255, 0, 255, 0, 255, 0, 0, 0, 255, 0};
    EXPECT_EQ(std::vector<std::uint8_t>(r.image.rgb.begin(), r.image.rgb.begin() + 12), row);
    EXPECT_EQ(std::vector<std::uint8_t>(r.image.rgb.begin() + 12, r.image.rgb.end()), row);
}

TEST(ClientSession, WorksWithFullHeadersAndSubMessageLists) {
    FakeServerOptions opts;
    opts.mini_header = false;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        // The fill carries SURFACE_CREATE as a sub-message, which must be handled first.
        auto fill = wire::marshal(solid_fill({0, 0, 16, 16}, 0x00ff8000)).value();
        const auto surface = wire::marshal(primary_surface(16, 16)).value();
        const auto list_at = static_cast<std::uint32_t>(fill.size());
        wire::put_le<std::uint16_t>(fill, 1);
        wire::put_le<std::uint32_t>(fill, list_at + 6);
        wire::put_le<std::uint16_t>(fill, wire::MsgDisplaySurfaceCreate::kType);
        wire::put_le<std::uint32_t>(fill, static_cast<std::uint32_t>(surface.size()));
        fill.insert(fill.end(), surface.begin(), surface.end());
        p.send_raw(wire::frame_message(false, 1, wire::MsgDisplayDrawFill::kType, fill, list_at));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.image.rgb.size(), 16u * 16u * 3u);
    EXPECT_EQ(r.image.rgb[0], 0xff);
    EXPECT_EQ(r.image.rgb[1], 0x80);
    EXPECT_EQ(r.image.rgb[2], 0x00);
}

TEST(ClientSession, ProcessesMessageListsInMiniHeaderMode) {
    FakeServerOptions opts;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        wire::MsgList list;
        auto add = [&](auto msg) {
            wire::SubMessage s;
            s.type = decltype(msg)::kType;
            s.data = wire::marshal(msg).value();
            list.items.push_back(std::move(s));
        };
        add(primary_surface(8, 8));
        add(solid_fill({0, 0, 8, 8}, 0x00102030));
        add(wire::MsgDisplayMark{});
        p.send(list);
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
    }
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.rgb[0], 0x10);
    EXPECT_EQ(r.image.rgb[1], 0x20);
    EXPECT_EQ(r.image.rgb[2], 0x30);
}

TEST(ClientSession, SendsThePasswordInTheTicket) {
    FakeServerOptions opts;
    opts.ticketing = true;
    opts.password = "s3cret";
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(8, 8));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    HeadlessResult good, bad;
    {
        FakeServer server(opts);
        good = run_client(server, 5, 1, "s3cret");
        bad = run_client(server, 5, 1, "wrong");
    }
    EXPECT_TRUE(good.ok) << good.error;
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("PERMISSION_DENIED"), std::string::npos) << bad.error;
}

TEST(ClientSession, LinksDisplayWithTheSessionId) {
    FakeServerOptions opts;
    opts.session_id = 0xdeadbeef;
    opts.display = [](FakePeer& p) {
        p.receive(kWaitMs);
        p.send(primary_surface(8, 8));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(kWaitMs);
    };
    std::vector<std::pair<int, wire::LinkError>> results;
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server);
        results = server.link_results();
    }
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_GE(results.size(), 2u);
    EXPECT_EQ(results[1].first, static_cast<int>(wire::ChannelType::Display));
    EXPECT_EQ(results[1].second, wire::LinkError::Ok);
}

}  // namespace
}  // namespace qxlbox::client::test
