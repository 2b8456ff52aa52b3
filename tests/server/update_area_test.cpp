#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "protocol/canvas/canvas.h"
#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

using test::FakeDevice;
using test::rect_ltrb;
using test::solid_fill;

std::uint32_t pixel_at(const proto::SurfacePixels& p, int x, int y) {
    std::uint32_t v = 0;
    std::memcpy(&v, p.data.data() + static_cast<std::size_t>(y) * p.stride + static_cast<std::size_t>(x) * 4, 4);
    return v & 0xffffff;
}

struct Rig {
    FakeDevice dev;  // outlives the server, as a device outlives its consumer
    test::LoggedServer s = test::start_server();
    Rig() {
        if (s.server) s.server->attach(dev, proto::DeviceInfo{4, 1 << 20, "test"});
    }
};

TEST(UpdateArea, RendersPendingDrawablesOverGuestPixels) {
    Rig r;
    ASSERT_TRUE(r.s.server);
    r.dev.create_surface(*r.s.server, 0, 64, 32, true);
    r.dev.poke(0, 50, 5, 0x00abcdef);  // a direct framebuffer write outside every drawable
    ASSERT_TRUE(r.dev.push(*r.s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 16, 16), 0xff0000))));
    ASSERT_TRUE(r.dev.push(*r.s.server, test::draw_cmd(solid_fill(0, rect_ltrb(8, 8, 24, 24), 0x0000ff))));
    auto px = r.s.server->update_area(0, rect_ltrb(0, 0, 64, 32));
    ASSERT_TRUE(px);
    EXPECT_EQ(px->area, rect_ltrb(0, 0, 64, 32));
    EXPECT_EQ(pixel_at(*px, 1, 1), 0xff0000u);
    EXPECT_EQ(pixel_at(*px, 10, 10), 0x0000ffu);  // later drawable on top
    EXPECT_EQ(pixel_at(*px, 50, 5), 0xabcdefu);   // guest pixels kept
    EXPECT_EQ(pixel_at(*px, 40, 20), 0u);
}

TEST(UpdateArea, ReturnsOnlyTheRequestedAreaAndWritesBackTheRest) {
    Rig r;
    ASSERT_TRUE(r.s.server);
    r.dev.create_surface(*r.s.server, 0, 64, 32, true);
    ASSERT_TRUE(r.dev.push(*r.s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 40, 10), 0x00ff00))));
    auto px = r.s.server->update_area(0, rect_ltrb(0, 0, 8, 8));
    ASSERT_TRUE(px);
    EXPECT_EQ(px->area, rect_ltrb(0, 0, 8, 8));
    EXPECT_EQ(pixel_at(*px, 7, 7), 0x00ff00u);
    // The drawable reached beyond the area: that part is in guest memory now.
    EXPECT_EQ(r.dev.peek(0, 30, 5) & 0xffffff, 0x00ff00u);
    // And it is not rendered twice: a second update sees the guest's own change.
    r.dev.poke(0, 30, 5, 0x000001);
    auto again = r.s.server->update_area(0, rect_ltrb(0, 0, 64, 32));
    ASSERT_TRUE(again);
    EXPECT_EQ(pixel_at(*again, 30, 5), 1u);
}

TEST(UpdateArea, UnknownSurfaceGivesNothing) {
    Rig r;
    ASSERT_TRUE(r.s.server);
    EXPECT_FALSE(r.s.server->update_area(3, rect_ltrb(0, 0, 4, 4)));
}

TEST(UpdateArea, MatchesTheCanvasRenderingOfTheSameCommands) {
    Rig r;
    ASSERT_TRUE(r.s.server);
    r.dev.create_surface(*r.s.server, 0, 48, 48, true);
    std::vector<proto::DrawCommand> cmds;
    cmds.push_back(solid_fill(0, rect_ltrb(0, 0, 48, 48), 0x202020));
    auto x = solid_fill(0, rect_ltrb(4, 4, 40, 30), 0x00ffff);
    std::get<proto::Fill>(x.op).rop_descriptor = proto::rop::kOpXor;
    cmds.push_back(x);
    std::vector<std::uint32_t> img(16 * 16);
    for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint32_t>(i * 0x010203);
    cmds.push_back(test::image_copy(0, rect_ltrb(20, 20, 36, 36), test::bitmap32_image(5, 16, 16, img)));
    auto ref = proto::Surface::create(proto::SurfaceFormat::XRGB32, 48, 48);
    for (auto& c : cmds) {
        ASSERT_TRUE(proto::draw(*ref, c, nullptr).ok);
        ASSERT_TRUE(r.dev.push(*r.s.server, test::draw_cmd(c)));
    }
    auto px = r.s.server->update_area(0, rect_ltrb(0, 0, 48, 48));
    ASSERT_TRUE(px);
    for (int y = 0; y < 48; ++y)
        for (int xx = 0; xx < 48; ++xx) {
            std::uint32_t want = 0;
            std::memcpy(&want, ref->data() + y * ref->stride() + xx * 4, 4);
            ASSERT_EQ(pixel_at(*px, xx, y), want & 0xffffff) << xx << "," << y;
        }
}

TEST(FlushSurfaces, WritesEveryPendingDrawableToGuestMemory) {
    Rig r;
    ASSERT_TRUE(r.s.server);
    r.dev.create_surface(*r.s.server, 0, 16, 16, true);
    r.dev.create_surface(*r.s.server, 1, 8, 8, false);
    ASSERT_TRUE(r.dev.push(*r.s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 4, 4), 0x112233))));
    ASSERT_TRUE(r.dev.push(*r.s.server, test::draw_cmd(solid_fill(1, rect_ltrb(2, 2, 8, 8), 0x445566))));
    r.s.server->flush_surfaces();
    EXPECT_EQ(r.dev.peek(0, 3, 3) & 0xffffff, 0x112233u);
    EXPECT_EQ(r.dev.peek(1, 7, 7) & 0xffffff, 0x445566u);
    EXPECT_EQ(r.dev.peek(1, 0, 0) & 0xffffff, 0u);
}

TEST(Backpressure, FullPipeRefusesPushesAndWakesTheDeviceLater) {
    ServerConfig cfg;
    cfg.command_queue_limit = 4;
    cfg.pipe_limit = 2;
    cfg.channel_out_limit = 1;
    FakeDevice dev;
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 16, 16, true);
    // A display client that links and inits but never reads or acks keeps the pipe full.
    test::RawClient main;
    auto sid = test::open_session(main, s.server->port());
    ASSERT_NE(sid, 0u);
    test::RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    ASSERT_EQ(display.link(proto::wire::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display.send(proto::wire::MsgcDisplayInit{}));
    int accepted = 0, refused = 0;
    for (int i = 0; i < 2000 && refused == 0; ++i) {
        // Non-overlapping fills so the display tree cannot drop any of them.
        auto cmd = test::draw_cmd(solid_fill(0, rect_ltrb(i % 16, 0, i % 16 + 1, 1), static_cast<std::uint32_t>(i)));
        if (s.server->push_command(cmd)) {
            ++accepted;
        } else {
            ++refused;
        }
        if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(refused, 1);
    EXPECT_LT(accepted, 2000);  // bounded: the window (2x20) plus pipe plus queue, not everything
    EXPECT_EQ(dev.wakeups(), 0);
    // Client goes away: the pipe is dropped and the device is told there is room again.
    display.close();
    EXPECT_TRUE(s.wait_log("display connection", std::chrono::seconds(5)));
    for (int i = 0; i < 200 && dev.wakeups() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GE(dev.wakeups(), 1);
    EXPECT_GE(s.server->stats().pushes_refused, 1u);
}

TEST(Release, EveryCommandIsReleasedWhenTheServerStops) {
    FakeDevice dev;
    {
        auto s = test::start_server();
        ASSERT_TRUE(s.server);
        s.server->attach(dev, proto::DeviceInfo{});
        dev.create_surface(*s.server, 0, 16, 16, true);
        for (std::uint64_t i = 1; i <= 5; ++i) {
            ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(static_cast<int>(i), 0,
                                                                                  static_cast<int>(i) + 1, 1), 1),
                                                           dev.release_ref(i))));
        }
        s.server->stop();
    }
    auto rel = dev.released();
    std::sort(rel.begin(), rel.end());
    EXPECT_EQ(rel, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

TEST(Release, HiddenDrawableIsReleasedBeforeItIsRendered) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 16, 16, true);
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(2, 2, 4, 4), 1), dev.release_ref(10))));
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 16, 16), 2), dev.release_ref(11))));
    // update_area is a synchronous round trip: the worker has seen both commands after it.
    ASSERT_TRUE(s.server->update_area(0, rect_ltrb(0, 0, 1, 1)));
    auto rel = dev.released();
    ASSERT_FALSE(rel.empty());
    EXPECT_EQ(rel.front(), 10u);
    EXPECT_GE(s.server->stats().draws_dropped, 1u);
}

// The device writes update_area's answer into guest memory only after the call returns; a
// display client connecting in that gap gets its image from guest memory. So the consumed
// drawables must already be there when the answer comes back (here the answer is never
// applied, which is what that gap looks like to the worker).
TEST(UpdateArea, ConsumedDrawablesAreInGuestMemoryBeforeTheAnswerReturns) {
    Rig r;
    ASSERT_TRUE(r.s.server);
    r.dev.create_surface(*r.s.server, 0, 64, 32, true);
    ASSERT_TRUE(r.dev.push(*r.s.server, test::draw_cmd(solid_fill(0, rect_ltrb(4, 4, 20, 12), 0xff0000))));
    auto px = r.s.server->update_area(0, rect_ltrb(0, 0, 64, 32));
    ASSERT_TRUE(px);
    EXPECT_EQ(pixel_at(*px, 10, 8), 0xff0000u);
    EXPECT_EQ(r.dev.peek(0, 10, 8) & 0xffffff, 0xff0000u);
    EXPECT_EQ(r.dev.peek(0, 30, 20) & 0xffffff, 0u);
}

}  // namespace
}  // namespace qxlbox::server

namespace qxlbox::server {
namespace {

TEST(UpdateArea, SurfaceSourceSeesTheOtherSurfacesPendingDrawables) {
    test::FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 16, 16, true);
    dev.create_surface(*s.server, 1, 8, 8, false);
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(test::solid_fill(1, test::rect_ltrb(0, 0, 8, 8), 0x00aa00))));
    auto src = std::make_shared<proto::Image>();
    src->type = proto::ImageType::Surface;
    src->width = 8;
    src->height = 8;
    src->content = proto::SurfaceRef{1};
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(test::image_copy(0, test::rect_ltrb(4, 4, 12, 12), src))));
    auto px = s.server->update_area(0, test::rect_ltrb(0, 0, 16, 16));
    ASSERT_TRUE(px);
    EXPECT_EQ(pixel_at(*px, 5, 5), 0x00aa00u);
    EXPECT_EQ(pixel_at(*px, 1, 1), 0u);
}

TEST(SurfaceDestroy, ReadersOfTheSurfaceAreRenderedBeforeItGoes) {
    test::FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 16, 16, true);
    dev.create_surface(*s.server, 1, 8, 8, false);
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(test::solid_fill(1, test::rect_ltrb(0, 0, 8, 8), 0x00aa00))));
    auto src = std::make_shared<proto::Image>();
    src->type = proto::ImageType::Surface;
    src->width = 8;
    src->height = 8;
    src->content = proto::SurfaceRef{1};
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(test::image_copy(0, test::rect_ltrb(4, 4, 12, 12), src))));
    proto::DisplayCommand destroy;
    destroy.body = proto::SurfaceDestroy{1};
    ASSERT_TRUE(s.server->push_command(destroy));
    auto px = s.server->update_area(0, test::rect_ltrb(0, 0, 16, 16));
    ASSERT_TRUE(px);
    // The copy read surface 1 before it was destroyed, as on libspice-server.
    EXPECT_EQ(pixel_at(*px, 5, 5), 0x00aa00u);
    EXPECT_EQ(pixel_at(*px, 1, 1), 0u);
}

TEST(DisplayTreeBound, TooManyPendingDrawablesAreRenderedIntoGuestMemory) {
    test::FakeDevice dev;
    ServerConfig cfg;
    cfg.max_pending_drawables = 8;
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 32, 1, true);
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(test::solid_fill(0, test::rect_ltrb(i, 0, i + 1, 1), 0x0000ff))));
    }
    // Without any update_area, the guest memory already holds the early drawables.
    for (int i = 0; i < 200 && (dev.peek(0, 0, 0) & 0xffffff) != 0xff; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(dev.peek(0, 0, 0) & 0xffffff, 0xffu);
    EXPECT_GE(dev.writes(), 1);
}
}  // namespace
}  // namespace qxlbox::server
