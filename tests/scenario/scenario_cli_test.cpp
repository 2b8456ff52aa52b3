// `qxlbox scenario compile`: writes the module on success; on errors prints
// file:line:col: message lines on stderr, writes nothing and exits with status 2.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "machine/scenario/scenario_compiler.h"

extern char** environ;

namespace qxlbox::scenario {
namespace {

class ScenarioCli : public ::testing::Test {
protected:
    void SetUp() override {
        std::string templ = (std::filesystem::temp_directory_path() / "qxlbox-scn-XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    std::filesystem::path write(const std::string& name, const std::string& text) {
        const auto p = dir_ / name;
        std::ofstream(p) << text;
        return p;
    }

    // Runs qxlbox with `args`; returns the exit status and fills `err` with stderr.
    int run(std::vector<std::string> args, std::string& err) {
        args.insert(args.begin(), QXLBOX_EXE);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const auto err_path = dir_ / "stderr.txt";
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        pid_t pid = 0;
        const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) return -1;
        int status = 0;
        ::waitpid(pid, &status, 0);
        std::ifstream in(err_path);
        std::ostringstream ss;
        ss << in.rdbuf();
        err = ss.str();
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    std::filesystem::path dir_;
};

TEST_F(ScenarioCli, CompileWritesTheSameModuleAsTheLibrary) {
    const std::string source = "primary 64 64\nfill 0,0,8,8 color=#ff0000\n";
    const auto in = write("ok.scn", source);
    const auto out = dir_ / "ok.bin";
    std::string err;
    ASSERT_EQ(run({"scenario", "compile", in.string(), "-o", out.string()}, err), 0) << err;
    std::ifstream f(out, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, compile(source, in.string()).module);
}

TEST_F(ScenarioCli, ErrorsGoToStderrWithPositionsAndExitStatusTwo) {
    const auto in = write("bad.scn", "primary 64 64\nfill 0,0,8,8 color=#ff00\nwobble\n");
    const auto out = dir_ / "bad.bin";
    std::string err;
    EXPECT_EQ(run({"scenario", "compile", in.string(), "-o", out.string()}, err), 2);
    EXPECT_EQ(err, in.string() + ":2:20: bad colour '#ff00' (use #rrggbb or #aarrggbb)\n" + in.string() +
                       ":3:1: unknown command 'wobble'\n");
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(ScenarioCli, MissingInputIsExitStatusTwo) {
    std::string err;
    EXPECT_EQ(run({"scenario", "compile", (dir_ / "none.scn").string(), "-o", (dir_ / "x.bin").string()}, err), 2);
    EXPECT_NE(err.find("none.scn:0:0: cannot open file"), std::string::npos) << err;
}

TEST_F(ScenarioCli, UnwritableOutputIsExitStatusTwo) {
    const auto in = write("ok.scn", "primary 8 8\n");
    std::string err;
    EXPECT_EQ(run({"scenario", "compile", in.string(), "-o", (dir_ / "no" / "such" / "x.bin").string()}, err), 2);
    EXPECT_NE(err.find("cannot write"), std::string::npos) << err;
}

}  // namespace
}  // namespace qxlbox::scenario
