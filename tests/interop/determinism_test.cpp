// Determinism of `qxlbox run --clock virtual` (issue 9): every finite scenario in
// tests/scenario/ runs twice, on a small pool of concurrent runs so the two see different host
// load, and both runs must print the same serial output and the same --trace-hash (the QXL
// device-boundary events with their virtual times). The forever demo is compared up to a
// virtual-time limit, and once more with a SPICE client connected, which must not change the
// trace either (a client that keeps up never reaches the guest). Every run also writes the
// server's rendering at each checkpoint and at DONE (--snapshot-dir); those frames must be
// byte-identical too. Negative checks: a scenario that differs in one colour gives a
// different hash, and so does a different scenario.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process_util.h"

namespace {

using qxlbox::test::ChildOutput;
using qxlbox::test::ChildProcess;
using qxlbox::test::TempDir;
using qxlbox::test::free_port;
using qxlbox::test::read_text_file;

namespace fs = std::filesystem;

constexpr unsigned kPoolSize = 3;
constexpr auto kRunTimeout = std::chrono::seconds(60);

constexpr const char* kTempPrefix = "qxlbox-determinism";

struct RunResult {
    bool started = false;
    bool timed_out = false;
    int exit_status = -1;
    std::string serial;
    std::string hash;
    std::map<std::string, std::string> frames;  // --snapshot-dir file name -> PNG bytes
    std::string diagnostics;
};

struct Job {
    fs::path scenario;
    double max_seconds = 60;  // virtual-time bound (a finite scenario ends long before)
    RunResult result;
};

std::vector<std::string> run_args(const fs::path& scenario, double max_seconds, const fs::path& hash,
                                  const fs::path& serial) {
    return {QXLBOX_EXE,      "run",         "--kernel",      QXLBOX_GUEST_ELF, "--scenario",
            scenario.string(), "--no-client", "--clock",       "virtual",        "--trace-hash",
            hash.string(),   "--serial",    serial.string(), "--debugcon",     "none",
            "--max-seconds", std::to_string(max_seconds)};
}

// One `qxlbox run` with the serial output and the trace hash going to files in a fresh
// directory; killed at the deadline. With `spice_port` it also listens there and a headless
// `qxlbox view` client is connected for as long as the guest runs.
RunResult run_qxlbox(const fs::path& scenario, double max_seconds, int spice_port = 0) {
    RunResult run;
    TempDir dir(kTempPrefix);
    if (dir.path().empty()) {
        run.diagnostics = "cannot create a temporary directory";
        return run;
    }
    const fs::path serial = dir.path() / "serial.txt", hash = dir.path() / "hash.txt",
                   err = dir.path() / "stderr.txt", client_err = dir.path() / "client.txt";
    const fs::path snapshots = dir.path() / "snapshots";
    auto args = run_args(scenario, max_seconds, hash, serial);
    args.push_back("--snapshot-dir");
    args.push_back(snapshots.string());
    if (spice_port != 0) {
        args.push_back("--spice");
        args.push_back("port=" + std::to_string(spice_port));
    }
    const auto deadline = std::chrono::steady_clock::now() + kRunTimeout;
    ChildProcess qxlbox(args, ChildOutput{{}, err});
    if (!qxlbox.started()) {
        run.diagnostics = std::string("cannot start ") + QXLBOX_EXE;
        return run;
    }
    run.started = true;
    std::unique_ptr<ChildProcess> client;
    if (spice_port != 0) {
        while (read_text_file(err).find("listening on") == std::string::npos &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        client = std::make_unique<ChildProcess>(
            std::vector<std::string>{QXLBOX_EXE, "view", "--headless", "spice://127.0.0.1:" + std::to_string(spice_port),
                                     "--settle-ms", "600000", "--timeout", "120"},
            ChildOutput{{}, client_err});
    }
    const auto exit = qxlbox.wait_exit(deadline);
    run.timed_out = exit.timed_out;
    run.exit_status = exit.exit_code;
    if (client && client->started()) client->stop(SIGKILL, std::chrono::seconds(10));
    run.serial = read_text_file(serial);
    run.hash = read_text_file(hash);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(snapshots, ec))
        run.frames[entry.path().filename().string()] = read_text_file(entry.path());
    run.diagnostics += read_text_file(err);
    return run;
}

// Runs the jobs on kPoolSize threads, in the given order.
void run_pool(std::vector<Job>& jobs) {
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < kPoolSize; ++t) {
        pool.emplace_back([&] {
            for (std::size_t i = next++; i < jobs.size(); i = next++) {
                jobs[i].result = run_qxlbox(jobs[i].scenario, jobs[i].max_seconds);
            }
        });
    }
    for (auto& t : pool) t.join();
}

bool runs_forever(const fs::path& scn) {
    std::istringstream in(read_text_file(scn));
    for (std::string line; std::getline(in, line);) {
        line.erase(0, line.find_first_not_of(" \t"));
        if (line.rfind("repeat 0", 0) == 0 && line.find_first_not_of(" \t", 8) == std::string::npos) return true;
    }
    return false;
}

std::vector<fs::path> finite_scenarios() {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(QXLBOX_SCENARIO_DIR)) {
        if (!entry.is_directory()) continue;
        const fs::path scn = entry.path() / (entry.path().filename().string() + ".scn");
        if (fs::exists(scn) && !runs_forever(scn)) out.push_back(scn);
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool is_hash(const std::string& h) {
    return h.size() == 17 && h.back() == '\n' &&
           std::all_of(h.begin(), h.end() - 1, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

void expect_identical(const std::string& name, const RunResult& a, const RunResult& b) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(a.started && b.started) << a.diagnostics << b.diagnostics;
    ASSERT_FALSE(a.timed_out || b.timed_out) << a.diagnostics << b.diagnostics;
    ASSERT_TRUE(is_hash(a.hash)) << "'" << a.hash << "' " << a.diagnostics;
    EXPECT_EQ(a.exit_status, b.exit_status);
    EXPECT_EQ(a.serial, b.serial);
    EXPECT_EQ(a.hash, b.hash);
    // Frames: the server's rendering at every checkpoint (and at DONE), byte for byte.
    EXPECT_FALSE(a.frames.empty()) << "no --snapshot-dir frames written";
    EXPECT_EQ(a.frames.size(), b.frames.size());
    for (const auto& [file, bytes] : a.frames) {
        const auto other = b.frames.find(file);
        if (other == b.frames.end()) {
            ADD_FAILURE() << file << " only in the first run";
        } else {
            EXPECT_TRUE(bytes == other->second) << file << " differs between the two runs";
        }
    }
}

// All finite scenarios, twice: the first pass in order, the second in reverse, so the two
// runs of one scenario overlap with different neighbours.
class DeterminismAll : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        scenarios_ = finite_scenarios();
        for (const auto& s : scenarios_) jobs_.push_back(Job{s, 60, {}});
        for (auto it = scenarios_.rbegin(); it != scenarios_.rend(); ++it) jobs_.push_back(Job{*it, 60, {}});
        run_pool(jobs_);
    }
    static const RunResult& first(std::size_t i) { return jobs_[i].result; }
    static const RunResult& second(std::size_t i) { return jobs_[2 * scenarios_.size() - 1 - i].result; }
    static std::vector<fs::path> scenarios_;
    static std::vector<Job> jobs_;
};
std::vector<fs::path> DeterminismAll::scenarios_;
std::vector<Job> DeterminismAll::jobs_;

TEST_F(DeterminismAll, EveryFiniteScenarioGivesTheSameSerialOutputAndTraceHashTwice) {
    ASSERT_GE(scenarios_.size(), 10u) << "scenario library not found at " << QXLBOX_SCENARIO_DIR;
    for (std::size_t i = 0; i < scenarios_.size(); ++i) {
        const std::string name = scenarios_[i].filename().string();
        expect_identical(name, first(i), second(i));
        // Every finite scenario runs to its end (a run stopped by the time limit would compare
        // two truncated traces).
        EXPECT_NE(first(i).serial.find("\nDONE\n"), std::string::npos) << name << ": " << first(i).diagnostics;
    }
}

TEST_F(DeterminismAll, DifferentScenariosGiveDifferentHashes) {
    std::map<std::string, std::string> by_hash;
    for (std::size_t i = 0; i < scenarios_.size(); ++i) {
        const std::string name = scenarios_[i].filename().string();
        if (!is_hash(first(i).hash)) continue;  // reported by the test above
        auto [it, inserted] = by_hash.emplace(first(i).hash, name);
        EXPECT_TRUE(inserted) << name << " and " << it->second << " share the hash " << first(i).hash;
    }
    EXPECT_EQ(by_hash.size(), scenarios_.size());
}

TEST(Determinism, OneColourChangedGivesADifferentHashWithTheSameSerialOutput) {
    // fill_basic with its green block one step less green, checks included: the guest prints
    // the same results, but the pixels the device handed on differ and so must the hash.
    const fs::path original = fs::path(QXLBOX_SCENARIO_DIR) / "fill_basic" / "fill_basic.scn";
    std::string text = read_text_file(original);
    ASSERT_NE(text.find("#00ff00"), std::string::npos);
    for (std::size_t at = text.find("#00ff00"); at != std::string::npos; at = text.find("#00ff00", at))
        text.replace(at, 7, "#00fe00");
    TempDir dir(kTempPrefix);
    ASSERT_FALSE(dir.path().empty());
    const fs::path changed = dir.path() / "fill_basic_changed.scn";
    std::ofstream(changed) << text;
    std::vector<Job> jobs = {Job{original, 60, {}}, Job{changed, 60, {}}};
    run_pool(jobs);
    const RunResult& a = jobs[0].result;
    const RunResult& b = jobs[1].result;
    ASSERT_TRUE(is_hash(a.hash) && is_hash(b.hash)) << a.diagnostics << b.diagnostics;
    EXPECT_EQ(a.serial, b.serial);
    EXPECT_NE(a.hash, b.hash);
    ASSERT_FALSE(a.frames.empty());
    EXPECT_NE(a.frames, b.frames) << "the green block must show in the frames";
}

TEST(Determinism, ForeverDemoIsIdenticalUpToAVirtualTimeLimit) {
    const fs::path demo = fs::path(QXLBOX_SCENARIO_DIR) / "demo" / "demo.scn";
    ASSERT_TRUE(runs_forever(demo));
    // Twenty virtual seconds: a few thousand commands, cursor moves and releases.
    std::vector<Job> jobs = {Job{demo, 20, {}}, Job{demo, 20, {}}};
    run_pool(jobs);
    expect_identical("demo", jobs[0].result, jobs[1].result);
    EXPECT_EQ(jobs[0].result.exit_status, 6) << "stopped by --max-seconds";
}

TEST(Determinism, AClientThatKeepsUpDoesNotChangeTheTrace) {
    const fs::path demo = fs::path(QXLBOX_SCENARIO_DIR) / "demo" / "demo.scn";
    const int port = free_port();
    ASSERT_NE(port, 0);
    RunResult with_client;
    std::thread t([&] { with_client = run_qxlbox(demo, 60, port); });
    const RunResult alone = run_qxlbox(demo, 60);
    t.join();
    // Not vacuous: the client got its display channel while the guest still ran.
    ASSERT_NE(with_client.diagnostics.find("display channel linked"), std::string::npos) << with_client.diagnostics;
    expect_identical("demo with a client", alone, with_client);
}

}  // namespace
