// Hostile servers: malformed messages, bad image headers, absurd sizes, cache misses, a server
// that stops reading. The client must end the session with a reason, promptly, without
// crashing, hanging or growing without bound.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/client/test_util.h"

namespace qxlbox::client::test {
namespace {

namespace wire = qxlbox::proto::wire;
using proto::ImageType;
using SteadyClock = std::chrono::steady_clock;

constexpr int kWaitMs = 5000;

// Runs a client against a display script; returns the result and the seconds it took.
std::pair<HeadlessResult, double> run_display(std::function<void(FakePeer&)> script, double timeout_s = 10,
                                              std::vector<std::string>* log = nullptr) {
    FakeServerOptions opts;
    opts.display = [script](FakePeer& p) {
        p.receive(kWaitMs);
        script(p);
        p.drain_until_closed(kWaitMs);
    };
    const auto start = SteadyClock::now();
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server, timeout_s, 1, "", log);
    }
    return {r, std::chrono::duration<double>(SteadyClock::now() - start).count()};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(ClientHostileServer, DrawWithImagePointerPastTheEndEndsTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(16, 16));
        auto body = wire::marshal(draw_copy(bitmap_image(16, 16, 1, 0), 0, 0)).value();
        wire::store_le<std::uint32_t>(body.data() + 21, 0x7fffffff);  // src_bitmap (spec §5 worked layout)
        p.send(wire::MsgDisplayDrawCopy::kType, body);
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "malformed")) << r.error;
    EXPECT_LT(secs, 5.0);
}

TEST(ClientHostileServer, TruncatedSurfaceCreateEndsTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        const std::uint8_t body[6] = {0, 0, 0, 0, 16, 0};
        p.send(wire::MsgDisplaySurfaceCreate::kType, body);
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "malformed")) << r.error;
}

TEST(ClientHostileServer, LzImageWithBadMagicEndsTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(16, 16));
        auto img = lz_image(16, 16, 1);
        auto copy = std::make_shared<proto::Image>(*img);
        std::get<proto::EncodedImage>(copy->content).data[0] ^= 0xff;
        p.send(draw_copy(copy, 0, 0));
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "bad LZ_RGB image")) << r.error;
}

TEST(ClientHostileServer, LzHeaderSizeDifferentFromDescriptorEndsTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(16, 16));
        auto img = std::make_shared<proto::Image>(*lz_image(8, 16, 1));
        img->width = 16;  // the LZ stream says 8
        p.send(draw_copy(img, 0, 0));
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "differs")) << r.error;
}

TEST(ClientHostileServer, TruncatedLzStreamEndsTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(16, 16));
        auto img = std::make_shared<proto::Image>(*lz_image(16, 16, 1));
        auto& data = std::get<proto::EncodedImage>(img->content).data;
        data.resize(data.size() / 2);
        p.send(draw_copy(img, 0, 0));
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "bad LZ_RGB image")) << r.error;
}

TEST(ClientHostileServer, AbsurdSurfaceDimensionsEndTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(100000, 100000));
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "absurd")) << r.error;
    EXPECT_LT(secs, 5.0);
}

TEST(ClientHostileServer, AbsurdImageDimensionsEndTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(16, 16));
        auto img = std::make_shared<proto::Image>(*lz_image(16, 16, 1));
        img->width = 0x7fffffff;
        img->height = 0x7fffffff;
        p.send(draw_copy(img, 0, 0));
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "absurd")) << r.error;
}

TEST(ClientHostileServer, FromCacheMissEndsTheSessionInsteadOfWaiting) {
    auto [r, secs] = run_display(
        [](FakePeer& p) {
            p.send(primary_surface(16, 16));
            p.send(draw_copy(from_cache_image(16, 16, 42), 0, 0));
            p.send(wire::MsgDisplayMark{});
        },
        20);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "FROM_CACHE miss")) << r.error;
    EXPECT_LT(secs, 5.0) << "a missing cache entry must not block";
}

TEST(ClientHostileServer, InvalidatedPixmapIsNoLongerInTheCache) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(16, 16));
        p.send(draw_copy(bitmap_image(16, 16, 77, proto::kImageCacheMe), 0, 0));
        wire::MsgDisplayInvalList inval;
        inval.resources.push_back({1, 77});
        p.send(inval);
        p.send(draw_copy(from_cache_image(16, 16, 77), 0, 0));
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "FROM_CACHE miss")) << r.error;
}

TEST(ClientHostileServer, PaletteFromCacheMissEndsTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        p.send(primary_surface(4, 1));
        auto img = std::make_shared<proto::Image>();
        img->type = ImageType::Bitmap;
        img->width = 4;
        img->height = 1;
        proto::Bitmap b;
        b.format = proto::BitmapFormat::Bit8;
        b.width = 4;
        b.height = 1;
        b.stride = 4;
        b.data = {0, 0, 0, 0};
        auto pal = std::make_shared<proto::Palette>();
        pal->unique = 999;  // no entries: PAL_FROM_CACHE
        b.palette = pal;
        img->content = std::move(b);
        p.send(draw_copy(img, 0, 0));
        p.send(wire::MsgDisplayMark{});
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "palette cache")) << r.error;
}

TEST(ClientHostileServer, UnsupportedImageTypeIsReportedOnceAndSkipped) {
    std::vector<std::string> log;
    auto [r, secs] = run_display(
        [](FakePeer& p) {
            p.send(primary_surface(8, 8));
            auto img = std::make_shared<proto::Image>();
            img->type = ImageType::Quic;
            img->width = 8;
            img->height = 8;
            proto::EncodedImage enc;
            enc.data.assign(64, 0);
            img->content = std::move(enc);
            p.send(draw_copy(img, 0, 0));
            p.send(draw_copy(img, 0, 0));
            p.send(solid_fill({0, 0, 8, 8}, 0x00405060));
            p.send(wire::MsgDisplayMark{});
        },
        10, &log);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.rgb[0], 0x40) << "later draws still happen";
    EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const std::string& l) { return contains(l, "QUIC"); }), 1);
    EXPECT_EQ(r.stats.draws_rejected, 2u);
}

TEST(ClientHostileServer, UnknownMessageTypeIsIgnored) {
    std::vector<std::string> log;
    auto [r, secs] = run_display(
        [](FakePeer& p) {
            const std::uint8_t junk[3] = {1, 2, 3};
            p.send(999, junk);
            p.send(999, junk);
            p.send(primary_surface(8, 8));
            p.send(wire::MsgDisplayMark{});
        },
        10, &log);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const std::string& l) { return contains(l, "999"); }), 1);
}

TEST(ClientHostileServer, OversizedMessageHeaderEndsTheSession) {
    auto [r, secs] = run_display([](FakePeer& p) {
        std::vector<std::uint8_t> header;
        wire::put_le<std::uint16_t>(header, wire::MsgDisplayDrawCopy::kType);
        wire::put_le<std::uint32_t>(header, 0xf0000000u);
        p.send_raw(header);
    });
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "exceeds")) << r.error;
    EXPECT_LT(secs, 5.0);
}

TEST(ClientHostileServer, SilentServerTimesOutWithAReason) {
    auto [r, secs] = run_display([](FakePeer& p) { p.receive(1500); }, 1.0);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "timed out")) << r.error;
    EXPECT_LT(secs, 5.0);
}

TEST(ClientHostileServer, ServerThatStopsReadingWhileFloodingPingsEndsTheSession) {
    auto [r, secs] = run_display(
        [](FakePeer& p) {
            wire::MsgPing ping;
            const auto one = wire::frame_message(true, 0, wire::MsgPing::kType, wire::marshal(ping).value());
            std::vector<std::uint8_t> batch;
            for (int i = 0; i < 4096; ++i) batch.insert(batch.end(), one.begin(), one.end());
            // Never read: the client's PONGs pile up until it gives up and closes.
            const auto stop_at = SteadyClock::now() + std::chrono::seconds(20);
            while (SteadyClock::now() < stop_at && p.send_raw(batch)) {
            }
        },
        25);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "stopped reading")) << r.error;
}

TEST(ClientHostileServer, MainChannelCloseEndsTheSession) {
    FakeServerOptions opts;
    opts.main = [](FakePeer&) {};  // links, then closes at once
    HeadlessResult r;
    {
        FakeServer server(opts);
        r = run_client(server, 5);
    }
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "closed")) << r.error;
}

// A peer that is not a SPICE server at all.
TEST(ClientHostileServer, NonSpicePeerFailsTheLink) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::thread peer([fd] {
        const int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) return;
        const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        ::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
        ::close(c);
    });
    SessionOptions s;
    s.endpoint = {"127.0.0.1", ntohs(addr.sin_port)};
    s.log = [](const std::string&) {};
    HeadlessOptions h;
    h.timeout_s = 5;
    const auto r = run_headless(s, h);
    peer.join();
    ::close(fd);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "link")) << r.error;
}

TEST(ClientHostileServer, RefusedConnectionIsReported) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);  // bound, then released: nothing listens there
    SessionOptions s;
    s.endpoint = {"127.0.0.1", ntohs(addr.sin_port)};
    s.log = [](const std::string&) {};
    HeadlessOptions h;
    h.timeout_s = 5;
    const auto r = run_headless(s, h);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.error, "cannot connect")) << r.error;
}

}  // namespace
}  // namespace qxlbox::client::test
