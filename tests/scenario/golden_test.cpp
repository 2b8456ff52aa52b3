// Golden images end to end, through the qxlbox executable: `qxlbox run --snapshot-dir`,
// `--headless`, `--linger` (RUN_CONTRACT.md) and `qxlbox scenario check` over the library
// (every tests/scenario/NAME folder against its baselines) plus its failure paths.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/png_io.h"

extern char** environ;

namespace qxlbox {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class Qxlbox : public ::testing::Test {
protected:
    void SetUp() override {
        std::string templ = (fs::temp_directory_path() / "qxlbox-golden-XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    fs::path write(const std::string& name, const std::string& text) {
        const auto p = dir_ / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p;
    }

    // Starts qxlbox with `args`, stdout and stderr to files in the temp folder.
    pid_t start(std::vector<std::string> args) {
        args.insert(args.begin(), QXLBOX_EXE);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
        // No window: the built-in client runs headless whatever the environment.
        std::vector<char*> env;
        for (char** e = environ; *e; ++e) {
            if (std::string_view(*e).rfind("DISPLAY=", 0) != 0) env.push_back(*e);
        }
        env.push_back(nullptr);
        pid_t pid = 0;
        const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), env.data());
        posix_spawn_file_actions_destroy(&actions);
        return rc == 0 ? pid : -1;
    }

    // Waits for `pid` at most `timeout`; kills it after that. The exit status, or -1.
    static int wait(pid_t pid, std::chrono::seconds timeout = std::chrono::seconds(120)) {
        if (pid <= 0) return -1;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (::waitpid(pid, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, &status, 0);
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    int run(std::vector<std::string> args) { return wait(start(std::move(args))); }

    std::vector<std::string> run_scenario_args(const fs::path& scn) {
        return {"run", "--kernel", QXLBOX_GUEST_ELF, "--scenario", scn.string(), "--serial", (dir_ / "serial.txt").string(),
                "--max-seconds", "60"};
    }

    fs::path out_path() const { return dir_ / "stdout.txt"; }
    fs::path err_path() const { return dir_ / "stderr.txt"; }
    std::string out() const { return read_text(out_path()); }
    std::string err() const { return read_text(err_path()); }

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
    EXPECT_EQ(read_text(dir_ / "serial.txt").find("CHECKPOINT red\n") != std::string::npos, true);
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
    const pid_t pid = start(args);
    ASSERT_GT(pid, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (err().find("serving until interrupted") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(err().find("qxlbox: guest stopped (debug exit); serving until interrupted"), std::string::npos) << err();
    // Still serving: it has not exited on its own.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0);
    ::kill(pid, SIGTERM);
    EXPECT_EQ(wait(pid, std::chrono::seconds(30)), 1);
}

}  // namespace
}  // namespace qxlbox
