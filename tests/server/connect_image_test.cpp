// What a display client receives on connect: the surfaces' content at one point of the
// command stream, then every later drawable. Checked with our own client (client/), whose
// frame must equal the server's update_area rendering. spicy-screenshot cannot be used for
// the 16-bit case: it only saves 32_xRGB primaries ("unsupported spice surface format 80").
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "client/headless.h"
#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

using test::FakeDevice;
using test::rect_ltrb;
using test::solid_fill;

client::HeadlessResult client_frame(std::uint16_t port) {
    client::SessionOptions so;
    so.endpoint = client::Endpoint{"127.0.0.1", port};
    so.connect_cursor = false;
    so.connect_inputs = false;
    so.log = [](const std::string&) {};
    client::HeadlessOptions ho;
    ho.after_marks = 1;
    ho.settle_ms = 200;
    ho.timeout_s = 20;
    return client::run_headless(so, ho);
}

// The server's pixels as 8-bit RGB, 16-bit channels widened by repeating their top bits.
std::array<std::uint8_t, 3> server_rgb(const proto::SurfacePixels& p, std::uint32_t x, std::uint32_t y) {
    const std::uint8_t* b = &p.data[std::size_t{y} * p.stride + std::size_t{x} * (proto::surface_format_bpp(p.format) / 8)];
    if (p.format == proto::SurfaceFormat::RGB565) {
        const unsigned v = b[0] | (static_cast<unsigned>(b[1]) << 8);
        const auto w5 = [](unsigned c) { return static_cast<std::uint8_t>((c << 3) | (c >> 2)); };
        const auto w6 = [](unsigned c) { return static_cast<std::uint8_t>((c << 2) | (c >> 4)); };
        return {w5((v >> 11) & 31), w6((v >> 5) & 63), w5(v & 31)};
    }
    return {b[2], b[1], b[0]};
}

std::size_t count_mismatches(const client::RgbImage& frame, const proto::SurfacePixels& mine) {
    EXPECT_EQ(frame.width, static_cast<std::uint32_t>(mine.area.width()));
    EXPECT_EQ(frame.height, static_cast<std::uint32_t>(mine.area.height()));
    if (frame.width != static_cast<std::uint32_t>(mine.area.width()) ||
        frame.height != static_cast<std::uint32_t>(mine.area.height()))
        return ~std::size_t{0};
    std::size_t mismatches = 0;
    for (std::uint32_t y = 0; y < frame.height; ++y) {
        for (std::uint32_t x = 0; x < frame.width; ++x) {
            const auto want = server_rgb(mine, x, y);
            const std::uint8_t* got = &frame.rgb[(std::size_t{y} * frame.width + x) * 3];
            if (got[0] != want[0] || got[1] != want[1] || got[2] != want[2]) {
                if (mismatches++ < 5)
                    ADD_FAILURE() << "pixel " << x << "," << y << ": " << int(got[0]) << "," << int(got[1]) << ","
                                  << int(got[2]) << " want " << int(want[0]) << "," << int(want[1]) << ","
                                  << int(want[2]);
            }
        }
    }
    return mismatches;
}

// A client connecting after a 16-bit (565) primary was drawn gets its content, both what is
// rendered into guest memory and what is still pending in the display tree.
TEST(ConnectImage, A565PrimaryIsSentWithEveryBitKept) {
    ServerConfig cfg;
    cfg.lz_images = false;
    FakeDevice dev;
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{1, 16u << 20, "t"});
    dev.create_surface(*s.server, 0, 96, 64, true, proto::SurfaceFormat::RGB565);
    // Brush colours are 565 pixels here; each has the low bit of every channel set, so a
    // trip through 555 (SPICE's 16BIT) would show in the green channel.
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 96, 64), 0x0861))));
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(8, 8, 60, 40), 0xf83f))));
    s.server->flush_surfaces();
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(40, 20, 90, 60), 0x07ff))));
    auto frame = client_frame(s.server->port());
    ASSERT_TRUE(frame.ok) << frame.error;
    EXPECT_FALSE(s.log_contains("not sent as an image on connect"));
    auto mine = s.server->update_area(0, rect_ltrb(0, 0, 96, 64));
    ASSERT_TRUE(mine);
    ASSERT_EQ(mine->format, proto::SurfaceFormat::RGB565);
    EXPECT_EQ(count_mismatches(frame.image, *mine), 0u);
}

// The device writes update_area's answer into guest memory only after the call returns. A
// client connecting in that gap (here the answer is never applied, the widest gap) must
// still get what the update consumed: the faults_bbox case (a red fill, then "update").
TEST(ConnectImage, ClientConnectingRightAfterAnUpdateAreaSeesWhatItConsumed) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{1, 16u << 20, "t"});
    dev.create_surface(*s.server, 0, 160, 120, true);
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 160, 120), 0x000000))));
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(100, 100, 110, 110), 0xff0000))));
    auto mine = s.server->update_area(0, rect_ltrb(0, 0, 160, 120));
    ASSERT_TRUE(mine);
    ASSERT_EQ(server_rgb(*mine, 105, 105)[0], 0xff);
    auto frame = client_frame(s.server->port());
    ASSERT_TRUE(frame.ok) << frame.error;
    EXPECT_EQ(count_mismatches(frame.image, *mine), 0u);
    // Later drawables follow the image.
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 20, 20), 0x00ff00))));
    auto after = s.server->update_area(0, rect_ltrb(0, 0, 160, 120));
    ASSERT_TRUE(after);
    auto frame2 = client_frame(s.server->port());
    ASSERT_TRUE(frame2.ok) << frame2.error;
    EXPECT_EQ(count_mismatches(frame2.image, *after), 0u);
}

}  // namespace
}  // namespace qxlbox::server
