// Determinism of `qxlbox run --clock virtual` (issue 9): every finite scenario in
// tests/scenario/ runs twice, on a small pool of concurrent runs so the two see different host
// load, and both runs must print the same serial output and the same --trace-hash (the QXL
// device-boundary events with their virtual times). The forever demo is compared up to a
// virtual-time limit, and once more with a SPICE client connected, which must not change the
// trace either (a client that keeps up never reaches the guest). Every run also writes the
// server's rendering at each checkpoint and at DONE (--snapshot-dir); those frames must be
// byte-identical too. Negative checks: a scenario that differs in one colour gives a
// different hash, and so does a different scenario.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;

constexpr unsigned kPoolSize = 3;
constexpr auto kRunTimeout = std::chrono::seconds(60);

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class TempDir {
public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "qxlbox-determinism-XXXXXX").string();
        if (::mkdtemp(templ.data())) path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

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

// Starts `args` with stdin and stdout on /dev/null and stderr into `err`; 0 on failure.
pid_t spawn(std::vector<std::string> args, const fs::path& err) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : 0;
}

// Waits for `pid` until `deadline`, then kills it. The exit status, or -1 when it was
// killed or died of a signal.
int wait_exit(pid_t pid, std::chrono::steady_clock::time_point deadline, bool& timed_out) {
    int status = 0;
    timed_out = false;
    for (;;) {
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0) return -1;
        if (std::chrono::steady_clock::now() >= deadline) {
            timed_out = true;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

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
    TempDir dir;
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
    const pid_t pid = spawn(args, err);
    if (pid == 0) {
        run.diagnostics = std::string("cannot start ") + QXLBOX_EXE;
        return run;
    }
    run.started = true;
    pid_t client = 0;
    if (spice_port != 0) {
        while (read_text(err).find("listening on") == std::string::npos &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        client = spawn({QXLBOX_EXE, "view", "--headless", "spice://127.0.0.1:" + std::to_string(spice_port),
                        "--settle-ms", "600000", "--timeout", "120"},
                       client_err);
    }
    run.exit_status = wait_exit(pid, deadline, run.timed_out);
    if (client != 0) {
        ::kill(client, SIGKILL);
        ::waitpid(client, nullptr, 0);
    }
    run.serial = read_text(serial);
    run.hash = read_text(hash);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(snapshots, ec))
        run.frames[entry.path().filename().string()] = read_text(entry.path());
    run.diagnostics += read_text(err);
    return run;
}

// A loopback TCP port that was free a moment ago (the kernel picks it).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
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
    std::istringstream in(read_text(scn));
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
    std::string text = read_text(original);
    ASSERT_NE(text.find("#00ff00"), std::string::npos);
    for (std::size_t at = text.find("#00ff00"); at != std::string::npos; at = text.find("#00ff00", at))
        text.replace(at, 7, "#00fe00");
    TempDir dir;
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
