// Against real QEMU (-vga qxl with libspice-server, SeaBIOS screen): our screenshot equals
// spicy-screenshot's pixel for pixel, the session survives the network test and pings, and the
// ticket is accepted or refused as the password says.
//
// Timing: SeaBIOS blinks a text cursor, so two clients connecting at different moments may
// see different frames. Each attempt takes ours (CLI), spicy-screenshot's and ours again
// (in-process) back to back; spicy's frame must equal one of the two around it. Connections
// are sequential because a new main channel makes QEMU drop the previous client.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/client/test_util.h"
#include "tests/support/process_util.h"

namespace qxlbox::client::test {
namespace {

using qxlbox::test::ChildProcess;
using qxlbox::test::TempDir;
using qxlbox::test::free_port;
using qxlbox::test::port_open;

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// One QEMU with the QXL VGA and SPICE on a free loopback port.
struct Qemu {
    explicit Qemu(const TempDir& dir, const std::string& password = "") : port(free_port()) {
        std::vector<std::string> argv = {"qemu-system-x86_64", "-vga", "qxl", "-display", "none", "-nic", "none",
                                         "-m", "64", "-no-user-config"};
        if (password.empty()) {
            argv.insert(argv.end(), {"-spice", "port=" + std::to_string(port) + ",addr=127.0.0.1,disable-ticketing=on"});
        } else {
            argv.insert(argv.end(), {"-object", "secret,id=spicepw,data=" + password, "-spice",
                                     "port=" + std::to_string(port) + ",addr=127.0.0.1,password-secret=spicepw"});
        }
        process = std::make_unique<ChildProcess>(argv, dir.path() / "qemu.log");
        const auto deadline = SteadyClock::now() + 20s;
        while (SteadyClock::now() < deadline && process->running() && !port_open(port)) {
            std::this_thread::sleep_for(50ms);
        }
        ready = process->running() && port_open(port);
    }
    std::uint16_t port = 0;
    std::unique_ptr<ChildProcess> process;
    bool ready = false;
};

SessionOptions options_for(std::uint16_t port, const std::string& password = "") {
    SessionOptions s;
    s.endpoint = {"127.0.0.1", port};
    s.password = password;
    s.log = [](const std::string&) {};
    return s;
}

HeadlessResult ours(std::uint16_t port, const std::string& password = "") {
    HeadlessOptions h;
    h.timeout_s = 20;
    SessionOptions s = options_for(port, password);
    s.connect_inputs = false;
    return run_headless(s, h);
}

std::optional<RgbImage> spicy(const TempDir& dir, std::uint16_t port) {
    const auto out = dir.path() / "spicy.ppm";
    std::filesystem::remove(out);
    ChildProcess p({"spicy-screenshot", "-h", "127.0.0.1", "-p", std::to_string(port), "-o", out.string()},
                   dir.path() / "spicy.log");
    const auto rc = p.wait(30s);
    if (!rc || *rc != 0) return std::nullopt;
    RgbImage image;
    std::string error;
    if (!read_ppm(out.string(), image, error)) return std::nullopt;
    return image;
}

std::optional<RgbImage> ours_cli(const TempDir& dir, std::uint16_t port) {
    const char* exe = std::getenv("QXLBOX");
    if (!exe) return std::nullopt;
    const auto out = dir.path() / "ours.png";
    std::filesystem::remove(out);
    ChildProcess p({exe, "view", "spice://127.0.0.1:" + std::to_string(port), "--headless", "--screenshot",
                    out.string(), "--timeout", "20"},
                   dir.path() / "qxlbox.log");
    const auto rc = p.wait(30s);
    if (!rc || *rc != 0) return std::nullopt;
    RgbImage image;
    std::string error;
    if (!read_png(out.string(), image, error)) return std::nullopt;
    return image;
}

class ClientQemu : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<TempDir>();
        qemu_ = std::make_unique<Qemu>(*dir_);
    }
    static void TearDownTestSuite() {
        qemu_.reset();  // QEMU stops before its folder goes
        dir_.reset();
    }
    static inline std::unique_ptr<TempDir> dir_;
    static inline std::unique_ptr<Qemu> qemu_;
};

TEST_F(ClientQemu, HeadlessScreenshotEqualsSpicyScreenshot) {
    ASSERT_TRUE(qemu_->ready) << "qemu-system-x86_64 did not open its SPICE port (see " << dir_->path() << ")";
    bool matched = false;
    bool cli_seen = false;
    std::string last_problem;
    for (int attempt = 0; attempt < 8 && !(matched && cli_seen); ++attempt) {
        const auto a = ours_cli(*dir_, qemu_->port);
        const auto s = spicy(*dir_, qemu_->port);
        const auto b = ours(qemu_->port);
        if (!a) last_problem = "qxlbox view --headless failed (see " + dir_->path().string() + "/qxlbox.log)";
        if (!s) last_problem = "spicy-screenshot failed";
        if (!b.ok) last_problem = "in-process client: " + b.error;
        // Right after QEMU starts, the display can still be in its 640x480 start-up mode
        // before SeaBIOS switches to the 720x400 text screen: only that screen counts.
        const bool text_screen = s && s->width == 720u && s->height == 400u;
        if (s && !text_screen) {
            last_problem = "spicy-screenshot saw " + std::to_string(s->width) + "x" + std::to_string(s->height) +
                           ", not the 720x400 SeaBIOS text screen";
        }
        if (text_screen && ((b.ok && *s == b.image) || (a && *s == *a))) matched = true;
        if (a && ((s && *a == *s) || (b.ok && *a == b.image))) cli_seen = true;
        if (text_screen && b.ok && !matched) last_problem = "frames differ (the screen may still be changing)";
        std::this_thread::sleep_for(300ms);
    }
    EXPECT_TRUE(matched) << last_problem;
    EXPECT_TRUE(cli_seen) << "the CLI screenshot never equalled another client's frame: " << last_problem;
}

TEST_F(ClientQemu, ScreenshotShowsTheSeaBiosText) {
    ASSERT_TRUE(qemu_->ready);
    const auto r = ours(qemu_->port);
    ASSERT_TRUE(r.ok) << r.error;
    const auto lit = std::count_if(r.image.rgb.begin(), r.image.rgb.end(), [](std::uint8_t v) { return v > 0x80; });
    EXPECT_GT(lit, 1000) << "text mode output should light some pixels";
}

TEST_F(ClientQemu, StaysConnectedAnsweringPingsAndAcks) {
    ASSERT_TRUE(qemu_->ready);
    Session session(options_for(qemu_->port));
    ASSERT_TRUE(session.connect()) << session.error();
    const auto until = SteadyClock::now() + 3s;
    while (SteadyClock::now() < until && session.poll(50)) {
    }
    ASSERT_FALSE(session.ended()) << session.error();
    EXPECT_TRUE(session.display_linked());
    EXPECT_TRUE(session.cursor_linked());
    EXPECT_TRUE(session.inputs_linked());
    EXPECT_GE(session.stats().pongs_sent, 3u) << "QEMU's network test sends three pings";
    EXPECT_GE(session.marks(), 1u);
    EXPECT_EQ(session.server_name().rfind("QEMU", 0), 0u) << session.server_name();
    session.close("done");
}

TEST(ClientQemuPassword, AcceptsTheRightPasswordAndReportsAWrongOne) {
    TempDir dir;
    Qemu qemu(dir, "hunter2");
    ASSERT_TRUE(qemu.ready);
    const auto wrong = ours(qemu.port, "nope");
    EXPECT_FALSE(wrong.ok);
    EXPECT_NE(wrong.error.find("PERMISSION_DENIED"), std::string::npos) << wrong.error;
    const auto right = ours(qemu.port, "hunter2");
    EXPECT_TRUE(right.ok) << right.error;
}

}  // namespace
}  // namespace qxlbox::client::test
