// The SDL2 window under Xvfb: `qxlbox view` (no --headless) shows the primary surface. The
// fake server fills it with one colour; a screenshot of the X root window must contain
// exactly that many pixels of it (the window's position is the window system's choice).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "tests/client/test_util.h"
#include "tests/support/process_util.h"

namespace qxlbox::client::test {
namespace {

using qxlbox::test::ChildProcess;
using qxlbox::test::TempDir;

namespace wire = qxlbox::proto::wire;
using namespace std::chrono_literals;

TEST(ClientSdl, WindowShowsThePrimarySurfaceUnderXvfb) {
    const char* exe = std::getenv("QXLBOX");
    ASSERT_NE(exe, nullptr) << "QXLBOX must name the qxlbox binary (set by meson test)";
    TempDir dir;
    int display = 0;
    for (int n = 150; n < 250 && display == 0; ++n) {
        if (!std::filesystem::exists("/tmp/.X" + std::to_string(n) + "-lock") &&
            !std::filesystem::exists("/tmp/.X11-unix/X" + std::to_string(n))) {
            display = n;
        }
    }
    ASSERT_NE(display, 0);
    const std::string name = ":" + std::to_string(display);
    ChildProcess xvfb({"Xvfb", name, "-screen", "0", "800x600x24", "-nolisten", "tcp"}, dir.path() / "xvfb.log");
    for (int i = 0; i < 100 && !std::filesystem::exists("/tmp/.X11-unix/X" + std::to_string(display)); ++i) {
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(xvfb.running());

    FakeServerOptions opts;
    opts.display = [](FakePeer& p) {
        p.receive(5000);
        p.send(primary_surface(64, 48));
        p.send(solid_fill({0, 0, 48, 64}, 0x00123456));
        p.send(wire::MsgDisplayMark{});
        p.drain_until_closed(8000);
    };
    FakeServer server(opts);
    ::setenv("DISPLAY", name.c_str(), 1);
    // X and GL libraries keep allocations for the process lifetime; they are not ours to track.
    ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    ChildProcess view({exe, "view", "spice://127.0.0.1:" + std::to_string(server.port()), "--timeout", "4"},
                      dir.path() / "view.log");
    std::this_thread::sleep_for(2s);
    const auto shot = dir.path() / "root.png";
    ChildProcess grab({"import", "-display", name, "-window", "root", shot.string()}, dir.path() / "import.log");
    const auto grab_rc = grab.wait(20s);
    const auto view_rc = view.wait(20s);
    std::ifstream log(dir.path() / "view.log");
    const std::string view_log((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(grab_rc && *grab_rc == 0) << "import could not capture the X screen";
    EXPECT_TRUE(view_rc && *view_rc == 0) << view_log;
    RgbImage root;
    std::string error;
    ASSERT_TRUE(read_png(shot.string(), root, error)) << error;
    std::size_t hits = 0;
    for (std::size_t i = 0; i + 2 < root.rgb.size(); i += 3) {
        if (root.rgb[i] == 0x12 && root.rgb[i + 1] == 0x34 && root.rgb[i + 2] == 0x56) ++hits;
    }
    EXPECT_EQ(hits, 64u * 48u) << view_log;
}

}  // namespace
}  // namespace qxlbox::client::test
