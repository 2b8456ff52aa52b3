// The real SPICE peers against both machines (issues 7, 8 and 9, "done when"):
//  - QEMU (qemu-system-i386 -vga qxl, libspice-server) runs each scenario it can run up to
//    DONE and holds its display (guest word `hold`); `qxlbox view --headless` and
//    spicy-screenshot must then save the same pixels, and those must equal qxlbox's own
//    rendering of the same scenario at DONE (done.server.png and done.client.png of
//    `qxlbox run --headless --snapshot-dir`).
//  - qxlbox (`run --spice --no-client --snapshot-dir --linger`) runs each scenario it can
//    run; spicy-screenshot and `qxlbox view --headless` connected to it must save exactly
//    done.server.png.
//  - remote-viewer under Xvfb shows the live demo: a screenshot of its window holds the
//    server's still desktop pixel for pixel and the animated window changes between shots.
//  - tshark's SPICE dissector decodes a whole recorded session (our client, then
//    remote-viewer with mouse and keyboard input) with no malformed packet and with SPICE
//    messages on every channel.
// Every peer runs as a child process killed by its PID; every wait has a limit; the per
// scenario jobs run on a small worker pool.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <set>
#include <sstream>
#include <thread>

#include "client/png_io.h"
#include "machine/scenario/scenario_compiler.h"
#include "tests/interop/guest_runner.h"
#include "tests/interop/pcap_relay.h"
#include "tests/support/process_util.h"

namespace qxlbox::interop {
namespace {

using client::RgbImage;
using qxlbox::test::ChildProcess;
using qxlbox::test::free_port;
using qxlbox::test::port_open;
using qxlbox::test::read_text_file;
using qxlbox::test::TempDir;
using qxlbox::test::wait_until;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kScenarioDir = QXLBOX_SCENARIO_DIR;
const std::string kGuestElf = QXLBOX_GUEST_ELF;
const std::string kQxlboxExe = QXLBOX_EXE;

// ---- Images ----

// "" when equal; otherwise what differs (size, or how many pixels and the first one).
std::string image_difference(const RgbImage& a, const RgbImage& b) {
    if (a.width != b.width || a.height != b.height)
        return "size " + std::to_string(a.width) + "x" + std::to_string(a.height) + " vs " + std::to_string(b.width) +
               "x" + std::to_string(b.height);
    if (a.rgb.size() != b.rgb.size()) return "pixel buffers of different lengths";
    std::size_t count = 0, first = 0;
    for (std::size_t i = 0; i < a.rgb.size(); i += 3) {
        if (a.rgb[i] != b.rgb[i] || a.rgb[i + 1] != b.rgb[i + 1] || a.rgb[i + 2] != b.rgb[i + 2]) {
            if (count++ == 0) first = i / 3;
        }
    }
    if (count == 0) return "";
    char buf[160];
    const std::size_t x = first % a.width, y = first / a.width;
    std::snprintf(buf, sizeof buf, "%zu pixels differ, first at (%zu,%zu): #%02x%02x%02x vs #%02x%02x%02x", count, x,
                  y, a.rgb[3 * first], a.rgb[3 * first + 1], a.rgb[3 * first + 2], b.rgb[3 * first],
                  b.rgb[3 * first + 1], b.rgb[3 * first + 2]);
    return buf;
}

// A picture a peer saved, or why there is none.
struct Shot {
    std::optional<RgbImage> image;
    std::string problem;
};

Shot load_png(const fs::path& path) {
    Shot s;
    RgbImage image;
    std::string error;
    if (!fs::exists(path))
        s.problem = path.filename().string() + " was not written";
    else if (!client::read_png(path.string(), image, error))
        s.problem = path.filename().string() + ": " + error;
    else
        s.image = std::move(image);
    return s;
}

std::string tail_of(const fs::path& log) {
    const auto text = read_text_file(log);
    return text.size() > 600 ? "..." + text.substr(text.size() - 600) : text;
}

// spicy-screenshot (spice-gtk) against 127.0.0.1:port; it saves a PPM.
Shot spicy_screenshot(const fs::path& dir, std::uint16_t port, const std::string& tag) {
    const auto out = dir / (tag + ".ppm");
    const auto log = dir / (tag + ".log");
    ChildProcess p({"spicy-screenshot", "-h", "127.0.0.1", "-p", std::to_string(port), "-o", out.string()}, log);
    const auto rc = p.wait(15s);
    Shot s;
    if (!rc) {
        s.problem = "spicy-screenshot did not finish within 15 s (killed): " + tail_of(log);
        return s;
    }
    if (*rc != 0) {
        s.problem = "spicy-screenshot exited with " + std::to_string(*rc) + ": " + tail_of(log);
        return s;
    }
    RgbImage image;
    std::string error;
    if (!client::read_ppm(out.string(), image, error))
        s.problem = "spicy-screenshot's PPM: " + error;
    else
        s.image = std::move(image);
    return s;
}

// Our client: `qxlbox view --headless --screenshot`, waiting for the screen to settle.
Shot qxlbox_view(const fs::path& dir, std::uint16_t port, const std::string& tag, int settle_ms = 300) {
    const auto out = dir / (tag + ".png");
    const auto log = dir / (tag + ".log");
    ChildProcess p({kQxlboxExe, "view", "spice://127.0.0.1:" + std::to_string(port), "--headless", "--screenshot",
                    out.string(), "--settle-ms", std::to_string(settle_ms), "--timeout", "20"},
                   log);
    const auto rc = p.wait(30s);
    Shot s;
    if (!rc || *rc != 0) {
        s.problem = std::string("qxlbox view ") + (rc ? "exited with " + std::to_string(*rc) : "timed out") + ": " +
                    tail_of(log);
        return s;
    }
    return load_png(out);
}

// Equality of two shots as a gtest assertion with the reason.
::testing::AssertionResult same_pixels(const Shot& a, const char* a_name, const Shot& b, const char* b_name) {
    if (!a.image) return ::testing::AssertionFailure() << a_name << ": " << a.problem;
    if (!b.image) return ::testing::AssertionFailure() << b_name << ": " << b.problem;
    const auto diff = image_difference(*a.image, *b.image);
    if (!diff.empty()) return ::testing::AssertionFailure() << a_name << " vs " << b_name << ": " << diff;
    return ::testing::AssertionSuccess();
}

std::optional<fs::path> write_module(const fs::path& dir, const std::string& scenario_path, std::string& problem) {
    const auto compiled = scenario::compile_file(scenario_path);
    if (!compiled.ok()) {
        problem = compiled.errors.empty() ? "scenario does not compile" : compiled.errors[0].to_string();
        return std::nullopt;
    }
    const auto path = dir / "scenario.bin";
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(compiled.module.data()), static_cast<std::streamsize>(compiled.module.size()));
    if (!out) {
        problem = "cannot write " + path.string();
        return std::nullopt;
    }
    return path;
}

bool has_line(const fs::path& file, const std::string& line) {
    const auto text = read_text_file(file);
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

// ---- Per-scenario jobs ----

// QEMU holding its display at DONE, photographed by both clients.
struct QemuShots {
    std::string problem;  // why the shots could not be taken
    Shot spicy;
    Shot ours;
    std::string qemu_log;
};

QemuShots qemu_job(const ScenarioEntry& scenario) {
    QemuShots r;
    TempDir dir("qxlbox-peers");
    const auto module = write_module(dir.path(), scenario.path, r.problem);
    if (!module) return r;
    const auto serial = dir.path() / "serial.txt";
    const std::uint16_t port = free_port();
    ChildProcess qemu(qemu_arguments(kGuestElf, module->string(), serial.string(), port, "hold"), dir.path() / "qemu.log");
    const bool held = wait_until([&] { return has_line(serial, "HOLD") || !qemu.running(); }, 30s);
    if (!held || !has_line(serial, "HOLD")) {
        r.problem = std::string("QEMU ") + (held ? "exited" : "did not print HOLD within 30 s") +
                    "; serial:\n" + read_text_file(serial) + tail_of(dir.path() / "qemu.log");
        return r;
    }
    if (!wait_until([&] { return port_open(port); }, 5s)) {
        r.problem = "QEMU's SPICE port " + std::to_string(port) + " is not open";
        return r;
    }
    // Connections are sequential: a new main channel makes libspice-server drop the previous client.
    r.spicy = spicy_screenshot(dir.path(), port, "spicy");
    r.ours = qxlbox_view(dir.path(), port, "ours");
    qemu.kill();
    r.qemu_log = read_text_file(dir.path() / "qemu.log");
    return r;
}

// qxlbox's own rendering at DONE: server surface and built-in headless client frame.
struct GoldenShots {
    std::string problem;
    Shot server;
    Shot client;
    std::string log;  // the end of qxlbox's stderr
};

GoldenShots golden_job(const ScenarioEntry& scenario) {
    GoldenShots r;
    TempDir dir("qxlbox-peers");
    const auto snapshots = dir.path() / "snap";
    ChildProcess run({kQxlboxExe, "run", "--kernel", kGuestElf, "--scenario", scenario.path, "--headless",
                      "--snapshot-dir", snapshots.string(), "--serial", (dir.path() / "serial.txt").string(),
                      "--max-seconds", "60"},
                     dir.path() / "qxlbox.log");
    const auto rc = run.wait(60s);
    if (!rc) r.problem = "qxlbox run --headless did not finish within 60 s (killed): " + tail_of(dir.path() / "qxlbox.log");
    r.server = load_png(snapshots / "done.server.png");
    r.client = load_png(snapshots / "done.client.png");
    r.log = tail_of(dir.path() / "qxlbox.log");
    if (!r.server.image || !r.client.image)
        r.problem += "\nqxlbox log: " + r.log + "\nserial: " + read_text_file(dir.path() / "serial.txt");
    return r;
}

// qxlbox serving its display at DONE (--linger) to spicy-screenshot and to our client.
struct QxlboxShots {
    std::string problem;
    Shot server;  // done.server.png
    Shot spicy;
    Shot ours;
    std::optional<int> exit_status;  // after SIGTERM
};

QxlboxShots qxlbox_job(const ScenarioEntry& scenario) {
    QxlboxShots r;
    TempDir dir("qxlbox-peers");
    const auto snapshots = dir.path() / "snap";
    const std::uint16_t port = free_port();
    const auto log = dir.path() / "qxlbox.log";
    ChildProcess run({kQxlboxExe, "run", "--kernel", kGuestElf, "--scenario", scenario.path, "--spice",
                      "port=" + std::to_string(port) + ",addr=127.0.0.1,disable-ticketing=on", "--no-client",
                      "--snapshot-dir", snapshots.string(), "--linger", "--serial",
                      (dir.path() / "serial.txt").string(), "--max-seconds", "60"},
                     log);
    const auto done = snapshots / "done.server.png";
    if (!wait_until([&] { return fs::exists(done) || !run.running(); }, 60s) || !fs::exists(done)) {
        r.problem = "no done.server.png (" + std::string(run.running() ? "timed out" : "qxlbox exited") +
                    "): " + tail_of(log) + "\nserial: " + read_text_file(dir.path() / "serial.txt");
        return r;
    }
    r.server = load_png(done);
    r.spicy = spicy_screenshot(dir.path(), port, "spicy");
    r.ours = qxlbox_view(dir.path(), port, "ours");
    r.exit_status = run.stop(SIGTERM, 10s);
    if (!r.exit_status) r.problem = "qxlbox --linger did not exit within 10 s of SIGTERM (killed)";
    return r;
}

// Jobs run on a few workers; a test waits for its own. When the whole suite runs, every job
// starts up front so the suite's wall time is bounded by the pool, not by the test order.
template <typename Result>
class JobPool {
public:
    using Job = std::function<Result(const ScenarioEntry&)>;
    JobPool(Job job, std::counting_semaphore<>& slots) : job_(std::move(job)), slots_(slots) {}

    std::shared_future<Result> start(const ScenarioEntry& scenario) {
        std::lock_guard lock(mutex_);
        auto it = futures_.find(scenario.name);
        if (it != futures_.end()) return it->second;
        auto future = std::async(std::launch::async, [this, scenario] {
                          slots_.acquire();
                          Result r = job_(scenario);
                          slots_.release();
                          return r;
                      }).share();
        futures_.emplace(scenario.name, future);
        return future;
    }
    const Result& get(const ScenarioEntry& scenario) {
        auto future = start(scenario);
        future.wait();
        std::lock_guard lock(mutex_);
        return futures_.at(scenario.name).get();
    }

private:
    Job job_;
    std::counting_semaphore<>& slots_;
    std::mutex mutex_;
    std::map<std::string, std::shared_future<Result>> futures_;
};

std::counting_semaphore<>& worker_slots() {
    static std::counting_semaphore<> slots(3);
    return slots;
}
JobPool<QemuShots>& qemu_jobs() {
    static JobPool<QemuShots> pool(qemu_job, worker_slots());
    return pool;
}
JobPool<GoldenShots>& golden_jobs() {
    static JobPool<GoldenShots> pool(golden_job, worker_slots());
    return pool;
}
JobPool<QxlboxShots>& qxlbox_jobs() {
    static JobPool<QxlboxShots> pool(qxlbox_job, worker_slots());
    return pool;
}

// Scenarios QEMU runs but cannot show to any SPICE client: libspice-server 0.15 aborts when a
// client connects to a 16-bit (565) primary surface ("spice_bitmap_from_surface_type:
// Unsupported surface format"). QemuLimits checks that this is still so.
const std::set<std::string> kQemuCannotServe = {"draws_16bpp"};

void prefetch_everything_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (::testing::GTEST_FLAG(filter) != "*") return;
        for (const auto& s : qemu_capable_scenarios(kScenarioDir)) {
            qemu_jobs().start(s);
            if (kQemuCannotServe.count(s.name) == 0) golden_jobs().start(s);
        }
        for (const auto& s : qxlbox_capable_scenarios(kScenarioDir)) qxlbox_jobs().start(s);
    });
}

ScenarioEntry entry_named(const std::string& name) {
    for (const auto& s : scenario_library(kScenarioDir))
        if (s.name == name) return s;
    return {};
}

std::vector<std::string> names_of(const std::vector<ScenarioEntry>& entries) {
    std::vector<std::string> names;
    for (const auto& e : entries) names.push_back(e.name);
    return names;
}

// ---- Issue 8 and 9 against QEMU ----


std::vector<std::string> qemu_served() {
    auto names = names_of(qemu_capable_scenarios(kScenarioDir));
    std::erase_if(names, [](const std::string& n) { return kQemuCannotServe.count(n) != 0; });
    return names;
}

// Differences traced to qxlbox's server (outside this suite); the comparison still fails for
// them, this only says where to look.
std::string known_cause(const std::string& name) {
    if (name == "faults_parse" || name == "faults_bbox")
        return "\nseen before golden commit 8ee4cd6 (intermittent, under load): the built-in client's frame "
               "at DONE lacked the last fill that the server's rendering had, when the client connected "
               "mid-run; qxlbox run then took about 11 s (two 5 s client waits, see RUN_CONTRACT).";
    return "";
}

// Scenarios whose primary surface at DONE is 16-bit (565).
bool ends_on_16bit_primary(const std::string& name) { return name == "draws_16bpp"; }

class QemuPeers : public ::testing::TestWithParam<std::string> {};

TEST_P(QemuPeers, OurScreenshotEqualsSpicyScreenshot) {
    prefetch_everything_once();
    const auto scenario = entry_named(GetParam());
    ASSERT_TRUE(scenario.compiles) << GetParam();
    const auto& r = qemu_jobs().get(scenario);
    ASSERT_TRUE(r.problem.empty()) << r.problem;
    EXPECT_TRUE(same_pixels(r.spicy, "spicy-screenshot of QEMU", r.ours, "qxlbox view of QEMU"));
}

TEST_P(QemuPeers, SpicyScreenshotEqualsQxlboxServerAndClientAtDone) {
    prefetch_everything_once();
    const auto scenario = entry_named(GetParam());
    ASSERT_TRUE(scenario.compiles) << GetParam();
    const auto& q = qemu_jobs().get(scenario);
    ASSERT_TRUE(q.problem.empty()) << q.problem;
    const auto& g = golden_jobs().get(scenario);
    ASSERT_TRUE(g.problem.empty()) << g.problem;
    EXPECT_TRUE(same_pixels(q.spicy, "spicy-screenshot of QEMU", g.server, "qxlbox done.server.png"));
    EXPECT_TRUE(same_pixels(q.spicy, "spicy-screenshot of QEMU", g.client, "qxlbox done.client.png"))
        << known_cause(GetParam()) << "\nqxlbox log: " << g.log;
}

INSTANTIATE_TEST_SUITE_P(Library, QemuPeers, ::testing::ValuesIn(qemu_served()),
                         [](const auto& test_info) { return test_info.param; });

TEST(QemuLimits, SixteenBitPrimaryAbortsQemusSpiceServerOnConnect) {
    prefetch_everything_once();
    for (const auto& name : kQemuCannotServe) {
        const auto scenario = entry_named(name);
        ASSERT_TRUE(scenario.compiles) << name;
        const auto& r = qemu_jobs().get(scenario);
        ASSERT_TRUE(r.problem.empty()) << r.problem;
        EXPECT_FALSE(r.spicy.image) << name << ": QEMU now serves this display; move it back into QemuPeers";
        EXPECT_NE(r.qemu_log.find("Unsupported surface format"), std::string::npos) << r.qemu_log;
    }
}

// ---- Issue 7 and 8 against qxlbox's server ----

class QxlboxPeers : public ::testing::TestWithParam<std::string> {};

TEST_P(QxlboxPeers, SpicyScreenshotAndOurViewEqualTheServerRendering) {
    prefetch_everything_once();
    const auto scenario = entry_named(GetParam());
    ASSERT_TRUE(scenario.compiles) << GetParam();
    const auto& r = qxlbox_jobs().get(scenario);
    ASSERT_TRUE(r.problem.empty()) << r.problem;
    if (ends_on_16bit_primary(GetParam())) {
        // spice-gtk's spicy-screenshot saves 32-bit primaries only: for a 16-bit one it says so
        // and exits 1, whatever the server sends. Our own client must still see every pixel.
        EXPECT_NE(r.spicy.problem.find("unsupported spice surface format"), std::string::npos)
            << "spicy-screenshot: " << (r.spicy.image ? "saved an image" : r.spicy.problem);
    } else {
        EXPECT_TRUE(same_pixels(r.spicy, "spicy-screenshot of qxlbox", r.server, "done.server.png"))
            << known_cause(GetParam());
    }
    EXPECT_TRUE(same_pixels(r.ours, "qxlbox view of qxlbox", r.server, "done.server.png")) << known_cause(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Library, QxlboxPeers, ::testing::ValuesIn(names_of(qxlbox_capable_scenarios(kScenarioDir))),
                         [](const auto& test_info) { return test_info.param; });

TEST(PeersLibrary, SelectionsCoverTheInteropSuite) {
    // The same selections as the interop suite: the demo (runs forever) is in neither; the
    // qxlbox-only scenarios are not sent to QEMU and the QEMU-only one not to qxlbox.
    const auto qemu = names_of(qemu_capable_scenarios(kScenarioDir));
    const auto ours = names_of(qxlbox_capable_scenarios(kScenarioDir));
    EXPECT_GE(qemu.size(), 15u);
    EXPECT_GE(ours.size(), 15u);
    for (const auto* list : {&qemu, &ours}) EXPECT_EQ(std::count(list->begin(), list->end(), "demo"), 0);
    EXPECT_EQ(std::count(qemu.begin(), qemu.end(), "agent_vdiport"), 0);
    EXPECT_EQ(std::count(ours.begin(), ours.end(), "agent_absent"), 0);
    EXPECT_EQ(std::count(qemu.begin(), qemu.end(), "fill_basic"), 1);
    EXPECT_EQ(std::count(ours.begin(), ours.end(), "fill_basic"), 1);
}

TEST(PeersImages, DifferenceNamesTheFirstDifferingPixel) {
    RgbImage a{4, 2, std::vector<std::uint8_t>(24, 0x10)};
    RgbImage b = a;
    EXPECT_EQ(image_difference(a, b), "");
    b.rgb[3 * 5 + 1] = 0x20;
    EXPECT_EQ(image_difference(a, b), "1 pixels differ, first at (1,1): #101010 vs #102010");
    RgbImage c{2, 4, a.rgb};
    EXPECT_EQ(image_difference(a, c), "size 4x2 vs 2x4");
    Shot missing;
    missing.problem = "not written";
    EXPECT_FALSE(same_pixels(missing, "x", Shot{a, ""}, "y"));
}

TEST(PeersGuest, HoldKeepsQemuServingAfterDoneAndWithoutItQemuExits) {
    // The `hold` word is what lets the QEMU tests photograph the display at DONE; without
    // it the guest exits through isa-debug-exit as before.
    TempDir dir("qxlbox-peers");
    std::string problem;
    const auto module = write_module(dir.path(), kScenarioDir + "/fill_basic/fill_basic.scn", problem);
    ASSERT_TRUE(module) << problem;
    const auto held_serial = dir.path() / "held.txt";
    ChildProcess held(qemu_arguments(kGuestElf, module->string(), held_serial.string(), 0, "hold"),
                      dir.path() / "held.log");
    const auto plain_serial = dir.path() / "plain.txt";
    ChildProcess plain(qemu_arguments(kGuestElf, module->string(), plain_serial.string(), 0),
                       dir.path() / "plain.log");
    EXPECT_EQ(plain.wait(30s), std::optional<int>((0 << 1) | 1)) << read_text_file(plain_serial);
    EXPECT_FALSE(has_line(plain_serial, "HOLD"));
    ASSERT_TRUE(wait_until([&] { return has_line(held_serial, "HOLD"); }, 30s)) << read_text_file(held_serial);
    EXPECT_TRUE(has_line(held_serial, "DONE"));
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(held.running()) << "QEMU exited although the guest was told to hold";
}

// ---- Issue 7: remote-viewer under Xvfb, and a tshark-decoded session ----

// The live demo on qxlbox behind a recording relay, photographed by our client and then
// shown by remote-viewer under Xvfb (which also gets mouse and keyboard input). Built once,
// shared by the remote-viewer and tshark tests.
struct LiveSession {
    std::string problem;
    Shot reference;           // qxlbox view --headless of the live demo
    Shot screen1, screen2;    // the X screen with remote-viewer, 1.5 s apart
    fs::path capture;         // pcap of everything the relay forwarded
    std::uint16_t relay_port = 0;
    int relayed_connections = 0;
    std::string input_problem;  // xdotool could not send the input events
};

constexpr int kDemoW = 512, kDemoH = 384;
// The demo's animation window (inner white area); everything else on the desktop is still.
constexpr int kAnimX = 124, kAnimY = 224, kAnimW = 260, kAnimH = 114;

Shot grab_screen(const fs::path& dir, const std::string& display, const std::string& tag) {
    const auto out = dir / (tag + ".png");
    ChildProcess grab({"import", "-display", display, "-window", "root", out.string()}, dir / (tag + ".log"));
    const auto rc = grab.wait(20s);
    if (!rc || *rc != 0) return Shot{std::nullopt, "import could not capture the X screen: " + tail_of(dir / (tag + ".log"))};
    return load_png(out);
}

bool in_animation(int x, int y) { return x >= kAnimX && x < kAnimX + kAnimW && y >= kAnimY && y < kAnimY + kAnimH; }

// Where the reference's still pixels appear in the screen, or nullopt. Without a window
// manager remote-viewer's window sits at the top left; its menu and tool bars push the
// display down, so offsets up to 200 x 250 are tried.
std::optional<std::pair<int, int>> find_display(const RgbImage& screen, const RgbImage& reference) {
    auto same = [&](int sx, int sy, int rx, int ry) {
        const std::size_t s = (static_cast<std::size_t>(sy) * screen.width + static_cast<std::size_t>(sx)) * 3;
        const std::size_t r = (static_cast<std::size_t>(ry) * reference.width + static_cast<std::size_t>(rx)) * 3;
        return std::equal(&screen.rgb[s], &screen.rgb[s] + 3, &reference.rgb[r]);
    };
    const int max_x = std::min<int>(200, static_cast<int>(screen.width) - kDemoW);
    const int max_y = std::min<int>(250, static_cast<int>(screen.height) - kDemoH);
    for (int oy = 0; oy <= max_y; ++oy) {
        for (int ox = 0; ox <= max_x; ++ox) {
            bool match = true;
            for (int y = 0; y < kDemoH && match; y += 7)
                for (int x = 0; x < kDemoW && match; x += 5)
                    if (!in_animation(x, y)) match = same(ox + x, oy + y, x, y);
            if (match) return std::make_pair(ox, oy);
        }
    }
    return std::nullopt;
}

std::uint32_t pixel_at(const RgbImage& img, int x, int y) {
    const std::size_t i = (static_cast<std::size_t>(y) * img.width + static_cast<std::size_t>(x)) * 3;
    return static_cast<std::uint32_t>(img.rgb[i] << 16 | img.rgb[i + 1] << 8 | img.rgb[i + 2]);
}

// Known demo colours (demo.scn) with the display at (ox, oy): terminal title bar, taskbar,
// pictures title bar, terminal text area. "" when all are there.
std::string demo_colours_at(const RgbImage& img, int ox, int oy) {
    struct Expect {
        int x, y;
        std::uint32_t rgb;
    };
    static constexpr Expect kExpected[] = {{100, 22, 0x2850a0}, {300, 370, 0x202020}, {300, 32, 0x6a3a90}, {200, 150, 0}};
    std::string missing;
    for (const auto& e : kExpected) {
        if (ox + e.x >= static_cast<int>(img.width) || oy + e.y >= static_cast<int>(img.height)) return "image too small";
        const auto got = pixel_at(img, ox + e.x, oy + e.y);
        if (got != e.rgb) {
            char buf[80];
            std::snprintf(buf, sizeof buf, "(%d,%d) is #%06x, want #%06x; ", e.x, e.y, got, e.rgb);
            missing += buf;
        }
    }
    return missing;
}

std::optional<std::string> start_xvfb(const fs::path& dir, std::unique_ptr<ChildProcess>& xvfb) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
    xvfb = std::make_unique<ChildProcess>(
        std::vector<std::string>{"Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp"},
        dir / "xvfb.log", std::vector<std::string>{}, fds[1]);
    ::close(fds[1]);
    std::string number;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline && number.find('\n') == std::string::npos) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char c = 0;
        if (::read(fds[0], &c, 1) != 1) break;
        number += c;
    }
    ::close(fds[0]);
    if (number.find('\n') == std::string::npos) return std::nullopt;
    number.pop_back();
    return ":" + number;
}

LiveSession make_live_session(const fs::path& dir) {
    LiveSession s;
    std::unique_ptr<ChildProcess> xvfb;
    const auto display = start_xvfb(dir, xvfb);
    if (!display) {
        s.problem = "Xvfb did not report a display within 15 s: " + tail_of(dir / "xvfb.log");
        return s;
    }
    const std::uint16_t port = free_port();
    ChildProcess demo({kQxlboxExe, "run", "--kernel", kGuestElf, "--scenario", kScenarioDir + "/demo/demo.scn",
                       "--clock", "realtime", "--spice", "port=" + std::to_string(port) + ",addr=127.0.0.1,disable-ticketing=on",
                       "--no-client", "--serial", (dir / "serial.txt").string()},
                      dir / "qxlbox.log");
    if (!wait_until([&] { return port_open(port) || !demo.running(); }, 15s) || !demo.running()) {
        s.problem = "qxlbox's SPICE port did not open: " + tail_of(dir / "qxlbox.log");
        return s;
    }
    PcapWriter writer;
    s.capture = dir / "session.pcap";
    std::string error;
    if (!writer.open(s.capture.string(), error)) {
        s.problem = error;
        return s;
    }
    TcpRelay relay(port, writer);
    if (!relay.start(error)) {
        s.problem = error;
        return s;
    }
    s.relay_port = relay.port();
    // Our client through the relay. Its first frames may predate the desktop (the guest is
    // still drawing it), so it connects again until the still desktop is complete; the
    // animation never settles for long, hence the short settle time.
    for (int attempt = 0; attempt < 8; ++attempt) {
        s.reference = qxlbox_view(dir, relay.port(), "reference", 25);
        if (s.reference.image && s.reference.image->width == kDemoW && s.reference.image->height == kDemoH &&
            demo_colours_at(*s.reference.image, 0, 0).empty())
            break;
        std::this_thread::sleep_for(200ms);
    }
    ChildProcess viewer({"remote-viewer", "spice://127.0.0.1:" + std::to_string(relay.port())}, dir / "remote-viewer.log",
                        {"DISPLAY=" + *display});
    // The window is up once the title bar colour of the demo's terminal shows on the screen.
    Shot first;
    const bool shown = wait_until(
        [&] {
            first = grab_screen(dir, *display, "screen1");
            if (!first.image || !s.reference.image) return !viewer.running();
            return find_display(*first.image, *s.reference.image).has_value() || !viewer.running();
        },
        20s);
    s.screen1 = first;
    if (!shown || !viewer.running()) {
        s.problem = std::string("remote-viewer ") + (viewer.running() ? "never showed the display" : "exited") +
                    ": " + tail_of(dir / "remote-viewer.log");
    } else {
        std::this_thread::sleep_for(1500ms);
        s.screen2 = grab_screen(dir, *display, "screen2");
        // Input through the inputs channel: motion over the display, a click (which grabs the
        // pointer: spice-gtk then draws the guest's cursor into the display, so this comes
        // after the shots) and a key.
        ChildProcess input({"xdotool", "mousemove", "300", "200", "click", "1", "mousemove", "320", "220", "key", "a",
                            "mousemove", "340", "240"},
                           dir / "xdotool.log", {"DISPLAY=" + *display});
        const auto input_rc = input.wait(10s);
        if (!input_rc || *input_rc != 0) s.input_problem = "xdotool failed: " + tail_of(dir / "xdotool.log");
        std::this_thread::sleep_for(500ms);
    }
    viewer.stop(SIGTERM, 5s);
    relay.stop();
    writer.close();
    s.relayed_connections = relay.connections();
    demo.stop(SIGTERM, 5s);
    xvfb->stop(SIGTERM, 5s);
    return s;
}

// What tshark's SPICE dissector made of a capture whose server side is `server_port`.
struct CaptureReport {
    std::string error;                       // tshark could not run or read the file
    std::vector<std::string> malformed;      // frame numbers flagged malformed
    std::map<int, int> channel_of_stream;    // TCP stream -> SPICE channel type (link message)
    std::map<int, std::set<std::pair<bool, int>>> messages;  // stream -> (from server, type)

    bool has(int channel, bool from_server, int type) const {
        for (const auto& [stream, ch] : channel_of_stream)
            if (ch == channel && messages.count(stream) && messages.at(stream).count({from_server, type})) return true;
        return false;
    }
    std::size_t decoded(int channel) const {
        std::size_t n = 0;
        for (const auto& [stream, ch] : channel_of_stream)
            if (ch == channel && messages.count(stream)) n += messages.at(stream).size();
        return n;
    }
};

// Lines "a<TAB>b<TAB>c" printed by tshark -T fields (stderr notes are skipped: they do not
// start with a digit).
std::vector<std::vector<std::string>> tshark_fields(const fs::path& capture, std::uint16_t server_port,
                                                    const std::string& filter, const std::vector<std::string>& fields,
                                                    const fs::path& out, std::string& error) {
    std::vector<std::string> argv = {"tshark", "-n", "-r", capture.string(), "-d",
                                     "tcp.port==" + std::to_string(server_port) + ",spice", "-T", "fields"};
    if (!filter.empty()) argv.insert(argv.end(), {"-Y", filter});
    for (const auto& f : fields) argv.insert(argv.end(), {"-e", f});
    ChildProcess tshark(argv, out);
    const auto rc = tshark.wait(60s);
    std::vector<std::vector<std::string>> rows;
    if (!rc || *rc != 0) {
        error = "tshark " + std::string(rc ? "exited with " + std::to_string(*rc) : "timed out") + ": " + tail_of(out);
        return rows;
    }
    std::istringstream in(read_text_file(out));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
        std::vector<std::string> row;
        std::size_t start = 0;
        for (;;) {
            const auto tab = line.find('\t', start);
            row.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
            if (tab == std::string::npos) break;
            start = tab + 1;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

std::vector<int> numbers(const std::string& csv) {
    std::vector<int> out;
    std::istringstream in(csv);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty() && std::isdigit(static_cast<unsigned char>(item[0]))) out.push_back(std::stoi(item));
    return out;
}

CaptureReport analyse_capture(const fs::path& capture, std::uint16_t server_port) {
    CaptureReport r;
    const auto work = capture.parent_path();
    for (const auto& row : tshark_fields(capture, server_port, "_ws.malformed", {"frame.number"},
                                         work / "tshark-malformed.txt", r.error))
        r.malformed.push_back(row[0]);
    if (!r.error.empty()) return r;
    for (const auto& row : tshark_fields(capture, server_port, "spice.link_client", {"tcp.stream", "spice.channel_type"},
                                         work / "tshark-links.txt", r.error)) {
        const auto types = row.size() > 1 ? numbers(row[1]) : std::vector<int>{};
        if (!types.empty()) r.channel_of_stream[std::stoi(row[0])] = types[0];
    }
    if (!r.error.empty()) return r;
    for (const auto& row : tshark_fields(capture, server_port, "spice.message_type",
                                         {"tcp.stream", "tcp.srcport", "spice.message_type"},
                                         work / "tshark-messages.txt", r.error)) {
        if (row.size() < 3) continue;
        const bool from_server = row[1] == std::to_string(server_port);
        for (int type : numbers(row[2])) r.messages[std::stoi(row[0])].insert({from_server, type});
    }
    return r;
}

constexpr int kChannelMain = 1, kChannelDisplay = 2, kChannelInputs = 3, kChannelCursor = 4;

class LivePeers : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<TempDir>("qxlbox-peers-live");
        session_ = std::make_unique<LiveSession>(make_live_session(dir_->path()));
    }
    static void TearDownTestSuite() {
        // QXLBOX_PEERS_KEEP=DIR keeps the capture, screenshots and logs for inspection.
        if (const char* keep = std::getenv("QXLBOX_PEERS_KEEP")) {
            std::error_code ec;
            fs::copy(dir_->path(), keep, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
        }
        session_.reset();
        dir_.reset();
    }
    static inline std::unique_ptr<TempDir> dir_;
    static inline std::unique_ptr<LiveSession> session_;
};

TEST_F(LivePeers, RemoteViewerShowsTheDisplayAndALiveUpdate) {
    const auto& s = *session_;
    ASSERT_TRUE(s.problem.empty()) << s.problem;
    ASSERT_TRUE(s.reference.image) << s.reference.problem;
    ASSERT_EQ(demo_colours_at(*s.reference.image, 0, 0), "") << "qxlbox view never saw the complete desktop";
    ASSERT_TRUE(s.screen1.image) << s.screen1.problem;
    ASSERT_TRUE(s.screen2.image) << s.screen2.problem;
    const auto& ref = *s.reference.image;
    ASSERT_EQ(ref.width, static_cast<std::uint32_t>(kDemoW));
    ASSERT_EQ(ref.height, static_cast<std::uint32_t>(kDemoH));
    const auto at = find_display(*s.screen1.image, ref);
    ASSERT_TRUE(at) << "the demo's still desktop is not on the screen";
    const auto [ox, oy] = *at;
    EXPECT_EQ(demo_colours_at(*s.screen1.image, ox, oy), "");
    EXPECT_EQ(demo_colours_at(*s.screen2.image, ox, oy), "");
    const auto pixel = pixel_at;
    // Every still pixel equals the server's rendering in both shots; the animation changed.
    std::size_t still_mismatch[2] = {0, 0};
    std::size_t animated_changes = 0;
    for (int y = 0; y < kDemoH; ++y) {
        for (int x = 0; x < kDemoW; ++x) {
            const auto a = pixel(*s.screen1.image, ox + x, oy + y);
            const auto b = pixel(*s.screen2.image, ox + x, oy + y);
            if (in_animation(x, y)) {
                animated_changes += a != b;
            } else {
                still_mismatch[0] += a != pixel(ref, x, y);
                still_mismatch[1] += b != pixel(ref, x, y);
            }
        }
    }
    EXPECT_EQ(still_mismatch[0], 0u) << "first shot, display at " << ox << "," << oy;
    EXPECT_EQ(still_mismatch[1], 0u) << "second shot, display at " << ox << "," << oy;
    EXPECT_GT(animated_changes, 500u) << "the animation did not move between the two shots";
}

TEST_F(LivePeers, TsharkDecodesTheWholeSessionWithoutMalformedPackets) {
    const auto& s = *session_;
    ASSERT_TRUE(s.problem.empty()) << s.problem;
    ASSERT_TRUE(fs::exists(s.capture));
    const auto report = analyse_capture(s.capture, s.relay_port);
    ASSERT_TRUE(report.error.empty()) << report.error;
    std::string frames;
    for (const auto& f : report.malformed) frames += f + " ";
    EXPECT_TRUE(report.malformed.empty()) << "malformed frames: " << frames;
    // Every relayed connection starts with a link message the dissector decoded.
    EXPECT_EQ(report.channel_of_stream.size(), static_cast<std::size_t>(s.relayed_connections));
    std::set<int> linked;
    for (const auto& [stream, channel] : report.channel_of_stream) linked.insert(channel);
    EXPECT_EQ(linked, (std::set<int>{kChannelMain, kChannelDisplay, kChannelInputs, kChannelCursor}));
    for (int channel : {kChannelMain, kChannelDisplay, kChannelInputs, kChannelCursor})
        EXPECT_GT(report.decoded(channel), 0u) << "no decoded SPICE message on channel type " << channel;
    // Main: INIT (103) and a ping (4) answered by a pong (3).
    EXPECT_TRUE(report.has(kChannelMain, true, 103));
    EXPECT_TRUE(report.has(kChannelMain, true, 4));
    EXPECT_TRUE(report.has(kChannelMain, false, 3));
    // Display: surface create (314), MARK (102), fills (302) and image copies (304).
    for (int type : {314, 102, 302, 304}) EXPECT_TRUE(report.has(kChannelDisplay, true, type)) << type;
    // Cursor: INIT (101) and moves (104); inputs: INIT (101) and mouse button release (114).
    EXPECT_TRUE(report.has(kChannelCursor, true, 101));
    EXPECT_TRUE(report.has(kChannelCursor, true, 104));
    EXPECT_TRUE(report.has(kChannelInputs, true, 101));
    EXPECT_TRUE(report.has(kChannelInputs, false, 114)) << s.input_problem;
}

TEST(PeersCapture, TsharkFlagsAMalformedLinkMessage) {
    // The analysis must be able to fail: a link message whose capability count runs past
    // its end is flagged malformed, and a capture with no display link misses that channel.
    TempDir dir("qxlbox-peers");
    const auto path = dir.path() / "bad.pcap";
    PcapWriter writer;
    std::string error;
    ASSERT_TRUE(writer.open(path.string(), error)) << error;
    const std::uint16_t server_port = 5999;
    const int c = writer.begin_connection(40000, server_port);
    std::vector<std::uint8_t> link = {'R', 'E', 'D', 'Q', 2, 0, 0, 0, 2, 0, 0, 0, 22, 0, 0, 0,
                                      0, 0, 0, 0, kChannelMain, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 18, 0, 0, 0,
                                      0, 0, 0, 0};
    writer.data(c, true, link.data(), link.size());
    writer.finish(c, true);
    writer.finish(c, false);
    writer.close();
    const auto report = analyse_capture(path, server_port);
    ASSERT_TRUE(report.error.empty()) << report.error;
    EXPECT_FALSE(report.malformed.empty()) << "tshark accepted a link message with 65535 capabilities in 4 bytes";
    EXPECT_EQ(report.channel_of_stream.count(0), 1u);
    EXPECT_EQ(report.decoded(kChannelDisplay), 0u);
}

TEST(PeersCapture, RelayForwardsBothWaysAndRecordsEveryByteInOrder) {
    // An echo server behind the relay: what the client gets back is what it sent, and the
    // capture holds each direction's bytes with continuous sequence numbers (tshark reads
    // the payload back and finds no missing segment).
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(server, 1), 0);
    ASSERT_EQ(::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    std::thread echo([server] {
        const int c = ::accept(server, nullptr, nullptr);
        std::uint8_t buf[4096];
        for (ssize_t n; c >= 0 && (n = ::recv(c, buf, sizeof buf, 0)) > 0;) ::send(c, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL);
        if (c >= 0) ::close(c);
    });
    TempDir dir("qxlbox-peers");
    PcapWriter writer;
    std::string error;
    ASSERT_TRUE(writer.open((dir.path() / "echo.pcap").string(), error)) << error;
    TcpRelay relay(ntohs(addr.sin_port), writer);
    ASSERT_TRUE(relay.start(error)) << error;
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to = addr;
    to.sin_port = htons(relay.port());
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    std::vector<std::uint8_t> sent(100000), got;
    for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
    ASSERT_EQ(::send(client, sent.data(), sent.size(), MSG_NOSIGNAL), static_cast<ssize_t>(sent.size()));
    ::shutdown(client, SHUT_WR);
    std::uint8_t buf[4096];
    for (ssize_t n; got.size() < sent.size() && (n = ::recv(client, buf, sizeof buf, 0)) > 0;) got.insert(got.end(), buf, buf + n);
    ::close(client);
    echo.join();
    ::close(server);
    relay.stop();
    writer.close();
    EXPECT_EQ(got, sent);
    EXPECT_EQ(relay.connections(), 1);
    // Payload bytes per direction as tshark sees them, and no TCP analysis complaint.
    const auto rows = tshark_fields(dir.path() / "echo.pcap", relay.port(), "tcp.len > 0", {"tcp.srcport", "tcp.len"},
                                    dir.path() / "tshark.txt", error);
    ASSERT_TRUE(error.empty()) << error;
    std::size_t to_server = 0, to_client = 0;
    for (const auto& row : rows)
        (row[0] == std::to_string(relay.port()) ? to_client : to_server) += std::stoul(row.at(1));
    EXPECT_EQ(to_server, sent.size());
    EXPECT_EQ(to_client, sent.size());
    const auto problems = tshark_fields(dir.path() / "echo.pcap", relay.port(),
                                        "tcp.analysis.lost_segment || tcp.analysis.out_of_order || tcp.analysis.retransmission",
                                        {"frame.number"}, dir.path() / "tshark-analysis.txt", error);
    EXPECT_TRUE(problems.empty()) << problems.size() << " frames with TCP sequence problems";
}

}  // namespace
}  // namespace qxlbox::interop
