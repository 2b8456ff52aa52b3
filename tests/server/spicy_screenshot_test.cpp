// Real peer: spice-gtk's spicy-screenshot connects to our server and must save exactly the
// pixels the server itself renders for the primary surface.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

using test::FakeDevice;
using test::rect_ltrb;
using test::solid_fill;

struct Ppm {
    std::uint32_t width = 0, height = 0;
    std::vector<std::uint8_t> rgb;
};

std::optional<Ppm> read_ppm(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    std::string magic;
    Ppm p;
    int maxval = 0;
    f >> magic >> p.width >> p.height >> maxval;
    if (magic != "P6" || maxval != 255 || p.width == 0 || p.height == 0 || p.width > 8192 || p.height > 8192)
        return std::nullopt;
    f.get();
    p.rgb.resize(std::size_t{p.width} * p.height * 3);
    f.read(reinterpret_cast<char*>(p.rgb.data()), static_cast<std::streamsize>(p.rgb.size()));
    if (!f) return std::nullopt;
    return p;
}

bool have_spicy_screenshot() { return std::system("command -v spicy-screenshot >/dev/null 2>&1") == 0; }

// Runs spicy-screenshot against the server; the PPM path on success.
std::optional<std::string> screenshot(std::uint16_t port, const std::string& password, const std::string& tag) {
    std::string out = ::testing::TempDir() + "qxlbox_server_" + tag + "_" + std::to_string(port) + ".ppm";
    std::remove(out.c_str());
    std::ostringstream cmd;
    cmd << "timeout 30 spicy-screenshot -h 127.0.0.1 -p " << port << " -o " << out;
    if (!password.empty()) cmd << " -w " << password;
    cmd << " >/dev/null 2>&1";
    if (std::system(cmd.str().c_str()) != 0) return std::nullopt;
    return out;
}

// Compares the screenshot with the server's own rendering of surface 0, pixel for pixel.
void expect_same_pixels(const Ppm& shot, const proto::SurfacePixels& mine) {
    ASSERT_EQ(shot.width, static_cast<std::uint32_t>(mine.area.width()));
    ASSERT_EQ(shot.height, static_cast<std::uint32_t>(mine.area.height()));
    std::size_t mismatches = 0;
    for (std::uint32_t y = 0; y < shot.height; ++y) {
        for (std::uint32_t x = 0; x < shot.width; ++x) {
            const std::uint8_t* s = &shot.rgb[(std::size_t{y} * shot.width + x) * 3];
            const std::uint8_t* m = &mine.data[std::size_t{y} * mine.stride + std::size_t{x} * 4];
            if (s[0] != m[2] || s[1] != m[1] || s[2] != m[0]) {
                if (mismatches++ < 5) ADD_FAILURE() << "pixel " << x << "," << y << " differs";
            }
        }
    }
    EXPECT_EQ(mismatches, 0u);
}

void build_scene(FakeDevice& dev, SpiceServer& server, bool noisy) {
    const std::uint32_t w = 320, h = 200;
    dev.create_surface(server, 0, w, h, true);
    // Guest pixels written directly, then drawables still pending in the display tree.
    if (noisy) {
        dev.fill_noise(0, 11);
    } else {
        for (std::uint32_t y = 0; y < h; ++y)
            for (std::uint32_t x = 0; x < w; ++x) dev.poke(0, x, y, (y / 20) * 0x101010 + (x / 40) * 0x000020);
    }
    dev.push(server, test::draw_cmd(solid_fill(0, rect_ltrb(10, 10, 110, 60), 0xcc3300)));
    auto x = solid_fill(0, rect_ltrb(50, 40, 200, 120), 0x00ffff);
    std::get<proto::Fill>(x.op).rop_descriptor = proto::rop::kOpXor;
    dev.push(server, test::draw_cmd(x));
    std::vector<std::uint32_t> img(40 * 30);
    for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint32_t>((i % 40) * 6) << 8 | 0x40;
    dev.push(server, test::draw_cmd(test::image_copy(0, rect_ltrb(250, 150, 290, 180), test::bitmap32_image(1, 40, 30, img))));
}

TEST(SpicyScreenshot, SeesExactlyTheServerRenderingWithLz) {
    ASSERT_TRUE(have_spicy_screenshot()) << "spicy-screenshot (spice-client-gtk) is required";
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{1, 16u << 20, "t"});
    build_scene(dev, *s.server, false);
    auto path = screenshot(s.server->port(), "", "lz");
    ASSERT_TRUE(path) << "spicy-screenshot failed";
    auto shot = read_ppm(*path);
    ASSERT_TRUE(shot);
    EXPECT_GE(s.server->stats().images_lz, 1u);
    EXPECT_GE(s.server->stats().marks_sent, 1u);
    auto mine = s.server->update_area(0, rect_ltrb(0, 0, 320, 200));
    ASSERT_TRUE(mine);
    expect_same_pixels(*shot, *mine);
    std::remove(path->c_str());
}

TEST(SpicyScreenshot, SeesExactlyTheServerRenderingWithBitmapAndPassword) {
    ASSERT_TRUE(have_spicy_screenshot()) << "spicy-screenshot (spice-client-gtk) is required";
    ServerConfig cfg;
    cfg.password = "pw123";
    cfg.lz_images = false;
    FakeDevice dev;
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{1, 16u << 20, "t"});
    build_scene(dev, *s.server, true);
    EXPECT_FALSE(screenshot(s.server->port(), "nope", "badpw"));
    auto path = screenshot(s.server->port(), "pw123", "bitmap");
    ASSERT_TRUE(path) << "spicy-screenshot failed";
    auto shot = read_ppm(*path);
    ASSERT_TRUE(shot);
    EXPECT_GE(s.server->stats().images_bitmap, 1u);
    auto mine = s.server->update_area(0, rect_ltrb(0, 0, 320, 200));
    ASSERT_TRUE(mine);
    expect_same_pixels(*shot, *mine);
    std::remove(path->c_str());
}

// A client connecting right after an UPDATE_AREA, before the device has written the answer
// into guest memory (here: never), must still see what the update consumed.
TEST(SpicyScreenshot, ConnectAfterUpdateAreaSeesTheConsumedDrawable) {
    ASSERT_TRUE(have_spicy_screenshot()) << "spicy-screenshot (spice-client-gtk) is required";
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{1, 16u << 20, "t"});
    dev.create_surface(*s.server, 0, 160, 120, true);
    dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 160, 120), 0x000000)));
    dev.push(*s.server, test::draw_cmd(solid_fill(0, rect_ltrb(100, 100, 110, 110), 0xff0000)));
    auto mine = s.server->update_area(0, rect_ltrb(0, 0, 160, 120));
    ASSERT_TRUE(mine);
    ASSERT_EQ(mine->data[std::size_t{105} * mine->stride + 105 * 4 + 2], 0xff);
    auto path = screenshot(s.server->port(), "", "after_update");
    ASSERT_TRUE(path) << "spicy-screenshot failed";
    auto shot = read_ppm(*path);
    ASSERT_TRUE(shot);
    expect_same_pixels(*shot, *mine);
    std::remove(path->c_str());
}

}  // namespace
}  // namespace qxlbox::server
