// Golden images end to end, through the qxlbox executable: `qxlbox run --snapshot-dir`,
// `--headless`, `--linger` (RUN_CONTRACT.md) and `qxlbox scenario check` over the library
// (every tests/scenario/NAME folder against its baselines) plus its failure paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/png_io.h"
#include "tests/support/process_util.h"

namespace qxlbox {
namespace {

namespace fs = std::filesystem;

using test::ChildOutput;
using test::ChildProcess;
using test::TempDir;
using test::read_text_file;

class Qxlbox : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_FALSE(tmp_.path().empty()) << "cannot create a temporary directory";
        dir_ = tmp_.path();
    }

    fs::path write(const std::string& name, const std::string& text) {
        const auto p = dir_ / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p;
    }

    // Starts qxlbox with `args`, stdout and stderr to files in the temp folder and no
    // DISPLAY: the built-in client runs headless whatever the environment.
    std::unique_ptr<ChildProcess> start(std::vector<std::string> args) {
        args.insert(args.begin(), QXLBOX_EXE);
        return std::make_unique<ChildProcess>(args, ChildOutput{out_path(), err_path()},
                                              std::vector<std::string>{"DISPLAY"});
    }

    // Waits for `child` at most `timeout`; kills it after that. The exit status, or -1.
    static int wait(ChildProcess& child, std::chrono::seconds timeout = std::chrono::seconds(120)) {
        if (!child.started()) return -1;
        return child.wait_exit(timeout).exit_code;
    }

    int run(std::vector<std::string> args) { return wait(*start(std::move(args))); }

    std::vector<std::string> run_scenario_args(const fs::path& scn) {
        return {"run", "--kernel", QXLBOX_GUEST_ELF, "--scenario", scn.string(), "--serial", (dir_ / "serial.txt").string(),
                "--max-seconds", "60"};
    }

    fs::path out_path() const { return dir_ / "stdout.txt"; }
    fs::path err_path() const { return dir_ / "stderr.txt"; }
    std::string out() const { return read_text_file(out_path()); }
    std::string err() const { return read_text_file(err_path()); }

    static client::RgbImage png(const fs::path& path) {
        client::RgbImage image;
        std::string error;
        EXPECT_TRUE(client::read_png(path.string(), image, error)) << path << ": " << error;
        return image;
    }
    static std::uint32_t pixel(const client::RgbImage& image, std::uint32_t x, std::uint32_t y) {
        if (x >= image.width || y >= image.height) return 0xffffffffu;
        const std::size_t i = (std::size_t{y} * image.width + x) * 3;
        return (std::uint32_t{image.rgb[i]} << 16) | (std::uint32_t{image.rgb[i + 1]} << 8) | image.rgb[i + 2];
    }

    TempDir tmp_{"qxlbox-golden"};
    fs::path dir_;
};

const std::string kLibrary = QXLBOX_SCENARIO_DIR;

// ---- qxlbox run --snapshot-dir / --headless / --linger ----

using RunSnapshots = Qxlbox;

TEST_F(RunSnapshots, NoClientWritesTheServerRenderingAtDone) {
    const fs::path snaps = dir_ / "snaps";
    auto args = run_scenario_args(kLibrary + "/fill_basic/fill_basic.scn");
    args.insert(args.end(), {"--no-client", "--snapshot-dir", snaps.string()});
    ASSERT_EQ(run(args), 1) << err();  // isa-debug-exit 0: every check passed
    const client::RgbImage done = png(snaps / "done.server.png");
    ASSERT_EQ(done.width, 640u);
    ASSERT_EQ(done.height, 480u);
    EXPECT_EQ(pixel(done, 10, 10), 0xff0000u);
    EXPECT_EQ(pixel(done, 109, 59), 0xff0000u);
    EXPECT_EQ(pixel(done, 110, 60), 0x202020u);
    EXPECT_EQ(pixel(done, 200, 100), 0x00ff00u);
    EXPECT_EQ(pixel(done, 319, 319), 0x0000ffu);
    EXPECT_EQ(pixel(done, 639, 479), 0x202020u);
    EXPECT_FALSE(fs::exists(snaps / "done.client.png")) << "no client ran";
}

TEST_F(RunSnapshots, HeadlessClientFrameEqualsTheServerRendering) {
    const fs::path snaps = dir_ / "snaps";
    auto args = run_scenario_args(kLibrary + "/fill_basic/fill_basic.scn");
    args.insert(args.end(), {"--headless", "--snapshot-dir", snaps.string()});
    ASSERT_EQ(run(args), 1) << err();
    const client::RgbImage server = png(snaps / "done.server.png");
    const client::RgbImage client = png(snaps / "done.client.png");
    EXPECT_EQ(pixel(client, 10, 10), 0xff0000u);
    EXPECT_TRUE(server == client);
}

TEST_F(RunSnapshots, CheckpointsAreNumberedInSerialOrderAndIncludeUnrenderedDraws) {
    // The third checkpoint follows a fill the guest never asked to render: the capture hands
    // the device's rings to the server first, so the fill is in the picture.
    const fs::path scn = write("three.scn",
                               "primary 64 48\n"
                               "fill 0,0,64,48 color=#ff0000\n"
                               "update 0,0,64,48\n"
                               "checkpoint red\n"
                               "fill 0,0,32,48 color=#0000ff\n"
                               "update 0,0,64,48\n"
                               "checkpoint half_blue\n"
                               "fill 32,0,32,48 color=#00ff00\n"
                               "checkpoint green_pending\n");
    const fs::path snaps = dir_ / "snaps";
    auto args = run_scenario_args(scn);
    args.insert(args.end(), {"--headless", "--snapshot-dir", snaps.string()});
    ASSERT_EQ(run(args), 1) << err();
    EXPECT_EQ(read_text_file(dir_ / "serial.txt").find("CHECKPOINT red\n") != std::string::npos, true);
    const client::RgbImage first = png(snaps / "checkpoint_0001.server.png");
    const client::RgbImage second = png(snaps / "checkpoint_0002.server.png");
    const client::RgbImage third = png(snaps / "checkpoint_0003.server.png");
    EXPECT_EQ(pixel(first, 40, 10), 0xff0000u);
    EXPECT_EQ(pixel(second, 10, 10), 0x0000ffu);
    EXPECT_EQ(pixel(second, 40, 10), 0xff0000u);
    EXPECT_EQ(pixel(third, 10, 10), 0x0000ffu);
    EXPECT_EQ(pixel(third, 40, 10), 0x00ff00u);
    for (const char* n : {"0001", "0002", "0003"}) {
        const std::string stem = std::string("checkpoint_") + n;
        EXPECT_TRUE(png(snaps / (stem + ".server.png")) == png(snaps / (stem + ".client.png"))) << stem;
    }
    EXPECT_FALSE(fs::exists(snaps / "checkpoint_0004.server.png"));
    // No temporary file is left behind.
    for (const auto& e : fs::directory_iterator(snaps)) EXPECT_EQ(e.path().extension(), ".png") << e.path();
}

TEST_F(RunSnapshots, SnapshotDirThatCannotBeCreatedIsBadInput) {
    const fs::path file = write("plain-file", "x");
    auto args = run_scenario_args(kLibrary + "/fill_basic/fill_basic.scn");
    args.insert(args.end(), {"--no-client", "--snapshot-dir", (file / "sub").string()});
    EXPECT_EQ(run(args), 2);
    EXPECT_NE(err().find("--snapshot-dir"), std::string::npos) << err();
}

TEST_F(RunSnapshots, NoClientAndHeadlessExcludeEachOther) {
    auto args = run_scenario_args(kLibrary + "/fill_basic/fill_basic.scn");
    args.insert(args.end(), {"--no-client", "--headless"});
    EXPECT_EQ(run(args), 2);
    EXPECT_NE(err().find("exclude"), std::string::npos) << err();
}

TEST_F(RunSnapshots, LingerServesUntilTerminatedThenExitsWithTheGuestStatus) {
    auto args = run_scenario_args(kLibrary + "/fill_basic/fill_basic.scn");
    args.insert(args.end(), {"--headless", "--linger"});
    const auto qxlbox = start(args);
    ASSERT_TRUE(qxlbox->started());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (err().find("serving until interrupted") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(err().find("qxlbox: guest stopped (debug exit); serving until interrupted"), std::string::npos) << err();
    // Still serving: it has not exited on its own.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(qxlbox->running());  // so pid() is still the child we started
    ::kill(qxlbox->pid(), SIGTERM);
    EXPECT_EQ(wait(*qxlbox, std::chrono::seconds(30)), 1);
}

// ---- qxlbox scenario check ----

std::vector<std::string> library_scenarios() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(kLibrary)) {
        const std::string name = e.path().filename().string();
        if (e.is_directory() && fs::exists(e.path() / (name + ".scn"))) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

class GoldenLibrary : public Qxlbox, public ::testing::WithParamInterface<std::string> {};

TEST_P(GoldenLibrary, EveryCheckpointMatchesItsBaseline) {
    const fs::path folder = fs::path(kLibrary) / GetParam();
    ASSERT_TRUE(fs::exists(folder / "baseline_0001.png")) << "every scenario has at least one checkpoint baseline";
    EXPECT_EQ(run({"scenario", "check", folder.string(), "--out", (dir_ / "out").string()}), 0) << out() << err();
    EXPECT_NE(out().find("checkpoints match their baselines"), std::string::npos) << out();
    EXPECT_FALSE(fs::exists(dir_ / "out")) << "nothing to report, so no result files";
}

INSTANTIATE_TEST_SUITE_P(Library, GoldenLibrary, ::testing::ValuesIn(library_scenarios()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

class GoldenCheck : public Qxlbox {
protected:
    // A copy of a library scenario (source and baselines) to alter.
    fs::path copy_of(const std::string& name) {
        const fs::path to = dir_ / name;
        fs::create_directories(to);
        for (const auto& e : fs::directory_iterator(fs::path(kLibrary) / name)) fs::copy_file(e.path(), to / e.path().filename());
        return to;
    }
    static void save(const client::RgbImage& image, const fs::path& path) {
        std::string error;
        ASSERT_TRUE(client::write_png(image, path.string(), error)) << error;
    }
    static void set_pixel(client::RgbImage& image, std::uint32_t x, std::uint32_t y, std::uint32_t rgb) {
        const std::size_t i = (std::size_t{y} * image.width + x) * 3;
        image.rgb[i] = static_cast<std::uint8_t>(rgb >> 16);
        image.rgb[i + 1] = static_cast<std::uint8_t>(rgb >> 8);
        image.rgb[i + 2] = static_cast<std::uint8_t>(rgb);
    }
    static std::string bytes_of(const fs::path& path) {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
};

TEST_F(GoldenCheck, AlteredBaselineFailsAndWritesResultExpectedAndDiff) {
    const fs::path folder = copy_of("fill_basic");
    const client::RgbImage original = png(folder / "baseline_0001.png");
    client::RgbImage altered = original;
    set_pixel(altered, 5, 5, 0x123456);
    set_pixel(altered, 600, 400, 0xabcdef);
    save(altered, folder / "baseline_0001.png");
    const fs::path results = dir_ / "results";
    ASSERT_EQ(run({"scenario", "check", folder.string(), "--out", results.string()}), 1) << out() << err();
    EXPECT_NE(out().find("fill_basic: checkpoint 1 'filled': server rendering differs from"), std::string::npos) << out();
    EXPECT_NE(out().find("in 2 pixels (first at 5,5)"), std::string::npos) << out();
    EXPECT_NE(out().find(results.string()), std::string::npos) << "the output folder is named";
    EXPECT_TRUE(png(results / "result_0001.png") == original) << "result = the server's rendering";
    EXPECT_TRUE(png(results / "expected_0001.png") == altered);
    const client::RgbImage diff = png(results / "diff_0001.png");
    EXPECT_EQ(pixel(diff, 5, 5), 0xff0000u);
    EXPECT_EQ(pixel(diff, 600, 400), 0xff0000u);
    EXPECT_NE(pixel(diff, 6, 5), 0xff0000u);
    EXPECT_NE(pixel(diff, 10, 10), 0xff0000u) << "matching red pixels are shown dimmed, not marked";
    EXPECT_FALSE(fs::exists(results / "result_0001.client.png")) << "the client agreed with the server";
    EXPECT_TRUE(png(folder / "baseline_0001.png") == altered) << "a check without --rebaseline changes no baseline";
}

TEST_F(GoldenCheck, RebaselineRewritesOnlyTheFailingFrame) {
    const fs::path folder = copy_of("copybits");
    const std::string first_bytes = bytes_of(folder / "baseline_0001.png");
    const auto first_time = fs::last_write_time(folder / "baseline_0001.png");
    const client::RgbImage second = png(folder / "baseline_0002.png");
    client::RgbImage altered = second;
    set_pixel(altered, 1, 1, 0xfefefe);
    save(altered, folder / "baseline_0002.png");
    ASSERT_EQ(run({"scenario", "check", folder.string(), "--out", (dir_ / "r").string(), "--rebaseline"}), 0)
        << out() << err();
    EXPECT_NE(out().find("rewrote " + (folder / "baseline_0002.png").string() + " (1 pixels differed)"), std::string::npos)
        << out();
    EXPECT_EQ(out().find("baseline_0001.png"), std::string::npos) << "the matching frame is not mentioned: " << out();
    EXPECT_EQ(bytes_of(folder / "baseline_0001.png"), first_bytes);
    EXPECT_EQ(fs::last_write_time(folder / "baseline_0001.png"), first_time);
    EXPECT_TRUE(png(folder / "baseline_0002.png") == second);
    EXPECT_EQ(run({"scenario", "check", folder.string(), "--out", (dir_ / "r").string()}), 0) << out();
}

TEST_F(GoldenCheck, MissingBaselineFailsAndSaysHowToCreateIt) {
    const fs::path folder = copy_of("solid_draws");
    fs::remove(folder / "baseline_0001.png");
    const fs::path results = dir_ / "results";
    ASSERT_EQ(run({"scenario", "check", folder.string(), "--out", results.string()}), 1) << out();
    EXPECT_NE(out().find("baseline_0001.png is missing; create it with: qxlbox scenario check " + folder.string() +
                         " --rebaseline"),
              std::string::npos)
        << out();
    EXPECT_TRUE(fs::exists(results / "result_0001.png"));
    EXPECT_FALSE(fs::exists(folder / "baseline_0001.png"));
    ASSERT_EQ(run({"scenario", "check", folder.string(), "--out", results.string(), "--rebaseline"}), 0) << out();
    EXPECT_NE(out().find("created " + (folder / "baseline_0001.png").string()), std::string::npos) << out();
    EXPECT_TRUE(png(folder / "baseline_0001.png") == png(fs::path(kLibrary) / "solid_draws" / "baseline_0001.png"));
}

TEST_F(GoldenCheck, ForeverScenarioStopsAfterItsLastCheckpoint) {
    const fs::path folder = dir_ / "forever";
    write("forever/forever.scn",
          "primary 32 32\nfill 0,0,32,32 color=#336699\nupdate 0,0,32,32\ncheckpoint still\n"
          "repeat 0\n  fill 0,0,8,8 color=#ffffff\n  wait_ticks 10\nend\n");
    ASSERT_EQ(run({"scenario", "check", folder.string(), "--rebaseline"}), 0) << out() << err();
    const client::RgbImage baseline = png(folder / "baseline_0001.png");
    EXPECT_EQ(pixel(baseline, 0, 0), 0x336699u);
    EXPECT_EQ(run({"scenario", "check", folder.string()}), 0) << out() << err();
}

TEST_F(GoldenCheck, NoSuchScenarioIsBadInput) {
    EXPECT_EQ(run({"scenario", "check", (dir_ / "nothing-here").string()}), 2);
    EXPECT_NE(err().find("no scenario at"), std::string::npos) << err();
    fs::create_directories(dir_ / "empty");
    EXPECT_EQ(run({"scenario", "check", (dir_ / "empty").string()}), 2);
    EXPECT_NE(err().find("holds no empty.scn"), std::string::npos) << err();
}

TEST_F(GoldenCheck, CompileErrorsAreBadInputWithPositions) {
    const fs::path scn = write("broken/broken.scn", "primary 64 64\nfill 0,0,8,8 color=#ff00\ncheckpoint c\n");
    EXPECT_EQ(run({"scenario", "check", (dir_ / "broken").string()}), 2);
    EXPECT_NE(err().find(scn.string() + ":2:"), std::string::npos) << err();
    EXPECT_NE(err().find("does not compile"), std::string::npos) << err();
}

TEST_F(GoldenCheck, ScenarioWithoutCheckpointsIsBadInput) {
    write("plain/plain.scn", "primary 64 64\nfill 0,0,8,8 color=#ff0000\n");
    EXPECT_EQ(run({"scenario", "check", (dir_ / "plain").string()}), 2);
    EXPECT_NE(err().find("has no checkpoint step"), std::string::npos) << err();
}

TEST_F(GoldenCheck, UnreadableBaselineIsBadInput) {
    const fs::path folder = copy_of("fill_basic");
    std::ofstream(folder / "baseline_0001.png") << "not a png at all";
    EXPECT_EQ(run({"scenario", "check", folder.string(), "--out", (dir_ / "r").string()}), 2);
    EXPECT_NE(err().find("cannot read " + (folder / "baseline_0001.png").string()), std::string::npos) << err();
}

TEST_F(GoldenCheck, BaselineOfAnotherSizeIsBadInput) {
    const fs::path folder = copy_of("fill_basic");
    client::RgbImage small;
    small.width = 10;
    small.height = 10;
    small.rgb.assign(300, 0x20);
    save(small, folder / "baseline_0001.png");
    EXPECT_EQ(run({"scenario", "check", folder.string(), "--out", (dir_ / "r").string()}), 2);
    EXPECT_NE(err().find("is 10x10 but the primary surface at checkpoint 1 is 640x480"), std::string::npos) << err();
}

TEST_F(GoldenCheck, ClientFrameAfterAResetEqualsTheServersRendering) {
    // A RESET that re-creates a primary of the same size: the client must drop its old (green)
    // picture on DISPLAY_RESET, as spice-gtk does, so that after a partial redraw its frame
    // still equals the server's rendering of guest memory. Our client used to keep the old
    // picture; the runner then reported "client frame differs" at the second checkpoint.
    write("stale/stale.scn",
          "primary 32 32\nfill 0,0,32,32 color=#00ff00\nupdate 0,0,32,32\ncheckpoint green\nreset\n"
          "fill 0,0,8,8 color=#ff0000\nupdate 0,0,32,32\ncheckpoint after_reset\n");
    const fs::path folder = dir_ / "stale";
    const fs::path results = dir_ / "results";
    ASSERT_EQ(run({"scenario", "check", folder.string(), "--out", results.string(), "--rebaseline"}), 0) << out();
    EXPECT_EQ(out().find("client frame differs"), std::string::npos) << out();
    ASSERT_TRUE(fs::exists(folder / "baseline_0002.png")) << out();
    const client::RgbImage after = png(folder / "baseline_0002.png");
    EXPECT_EQ(pixel(after, 2, 2), 0xff0000u);
    EXPECT_FALSE(fs::exists(results / "result_0002.client.png"));
    // The check passes again without --rebaseline.
    EXPECT_EQ(run({"scenario", "check", folder.string(), "--out", results.string()}), 0) << out();
}

}  // namespace
}  // namespace qxlbox
