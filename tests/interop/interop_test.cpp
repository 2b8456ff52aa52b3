// The scenario library on QEMU's QXL device and on qxlbox. Every scenario that needs no
// qxlbox-only device must print only OK results and DONE on QEMU and exit through
// isa-debug-exit with code 0; on qxlbox it must print the very same RESULT/CHECKPOINT lines
// (result_differences). Scenarios marked `requires vdiport`/`requires qxlbox` run on qxlbox
// only and must pass there; `requires qemu` marks a check of a QEMU-only fact (agent_absent:
// QEMU has no VDIPort) and runs on QEMU only. The guest's own input checks (module validation)
// and failure reporting are tested here too, because they only run inside the guest.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <semaphore>
#include <set>
#include <sstream>

#include "machine/scenario/scenario_compiler.h"
#include "machine/scenario/scenario_format.h"
#include "tests/interop/guest_runner.h"

namespace qxlbox::interop {
namespace {

constexpr int kQemuExitPass = (0 << 1) | 1;
constexpr int kQemuExitCheckFailed = (1 << 1) | 1;
constexpr int kQemuExitBadModule = (2 << 1) | 1;
constexpr std::uint32_t kQxlboxSide = QXSC_FLAG_NEEDS_VDIPORT | QXSC_FLAG_QXLBOX_ONLY;

RunOptions qemu_options() {
    RunOptions o;
    o.guest_elf = QXLBOX_GUEST_ELF;
    o.timeout = std::chrono::milliseconds(20000);
    return o;
}

RunOptions qxlbox_options() {
    RunOptions o;
    o.guest_elf = QXLBOX_GUEST_ELF;
    o.qxlbox_exe = QXLBOX_EXE;
    o.timeout = std::chrono::milliseconds(30000);
    o.max_virtual_seconds = 60;
    return o;
}

std::string describe(const GuestRun& run) {
    std::string s = "exit=" + std::to_string(run.exit_status) + (run.timed_out ? " (timed out)" : "") + "\nserial:\n";
    for (const auto& l : run.serial) s += "  " + l + "\n";
    if (!run.diagnostics.empty()) s += "emulator stderr:\n" + run.diagnostics;
    return s;
}

std::vector<std::uint8_t> compile_or_fail(std::string_view source) {
    auto r = scenario::compile(source, "inline.scn");
    EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
    return r.module;
}

std::string scenario_path(const std::string& name) {
    return std::string(QXLBOX_SCENARIO_DIR) + "/" + name + "/" + name + ".scn";
}

struct LibraryScenario {
    std::string name;
    std::uint32_t flags = 0;
    bool runs_forever = false;
};

std::vector<LibraryScenario> library() {
    std::vector<LibraryScenario> out;
    for (const auto& entry : std::filesystem::directory_iterator(QXLBOX_SCENARIO_DIR)) {
        if (!entry.is_directory()) continue;
        const auto name = entry.path().filename().string();
        const auto path = entry.path() / (name + ".scn");
        if (!std::filesystem::exists(path)) continue;
        auto r = scenario::compile_file(path.string());
        out.push_back({name, r.ok() ? r.flags : 0, r.runs_forever});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

// Library scenarios that end: a `repeat 0` scenario (the demo) has its own tests below.
std::vector<LibraryScenario> finite_library() {
    auto all = library();
    std::erase_if(all, [](const LibraryScenario& s) { return s.runs_forever; });
    return all;
}

// Scenarios with a given side: QEMU (no qxlbox-only flag), both machines (no flag at all),
// qxlbox only.
std::vector<std::string> qemu_capable() {
    std::vector<std::string> names;
    for (const auto& s : finite_library())
        if (!(s.flags & kQxlboxSide)) names.push_back(s.name);
    return names;
}
std::vector<std::string> on_both() {
    std::vector<std::string> names;
    for (const auto& s : finite_library())
        if (!(s.flags & (kQxlboxSide | QXSC_FLAG_QEMU_ONLY))) names.push_back(s.name);
    return names;
}
std::vector<std::string> qxlbox_only() {
    std::vector<std::string> names;
    for (const auto& s : finite_library())
        if (s.flags & kQxlboxSide) names.push_back(s.name);
    return names;
}

// Library runs, shared by the tests that need them: QEMU runs once per scenario for both the
// QEMU check and the qxlbox comparison. When the whole suite runs (no --gtest_filter), every
// run starts up front on a few workers, so that the suite's wall time stays bounded (the QEMU
// runs mostly wait on the host clock; the qxlbox runs on virtual time).
enum class Machine { Qemu, Qxlbox };

class LibraryRuns {
public:
    static LibraryRuns& instance() {
        static LibraryRuns runs;
        return runs;
    }

    const GuestRun& get(Machine machine, const std::string& name) {
        std::shared_future<GuestRun> future;
        {
            std::lock_guard lock(mutex_);
            if (!prefetched_ && ::testing::GTEST_FLAG(filter) == "*") {
                prefetched_ = true;
                for (const auto& n : qemu_capable()) start_locked(Machine::Qemu, n);
                for (const auto& n : on_both()) start_locked(Machine::Qxlbox, n);
                for (const auto& n : qxlbox_only()) start_locked(Machine::Qxlbox, n);
            }
            future = start_locked(machine, name);
        }
        return future.get();
    }

private:
    static constexpr std::ptrdiff_t kWorkers = 3;

    std::shared_future<GuestRun> start_locked(Machine machine, const std::string& name) {
        const auto key = std::make_pair(machine, name);
        auto it = runs_.find(key);
        if (it != runs_.end()) return it->second;
        auto future = std::async(std::launch::async, [this, machine, name] {
                          slots_.acquire();
                          GuestRun run;
                          auto compiled = scenario::compile_file(scenario_path(name));
                          if (!compiled.ok())
                              run.diagnostics = compiled.errors[0].to_string();
                          else if (machine == Machine::Qemu)
                              run = run_on_qemu(compiled.module, qemu_options());
                          else
                              run = run_on_qxlbox(compiled.module, qxlbox_options());
                          slots_.release();
                          return run;
                      }).share();
        runs_.emplace(key, future);
        return future;
    }

    std::mutex mutex_;
    bool prefetched_ = false;
    std::map<std::pair<Machine, std::string>, std::shared_future<GuestRun>> runs_;
    std::counting_semaphore<kWorkers> slots_{kWorkers};
};

const GuestRun& qemu_run(const std::string& name) { return LibraryRuns::instance().get(Machine::Qemu, name); }
const GuestRun& qxlbox_run(const std::string& name) { return LibraryRuns::instance().get(Machine::Qxlbox, name); }

// Every check passed: one OK RESULT line per compiled check, DONE, exit code 0.
void expect_all_checks_pass(const scenario::CompileResult& compiled, const GuestRun& run) {
    EXPECT_FALSE(run.timed_out) << describe(run);
    EXPECT_TRUE(run.done()) << describe(run);
    EXPECT_EQ(run.exit_status, kQemuExitPass) << describe(run);
    const auto results = run.results();
    ASSERT_EQ(results.size(), compiled.check_names.size()) << describe(run);
    for (std::size_t i = 0; i < results.size(); i++) {
        const std::string prefix = "RESULT " + compiled.check_names[i] + "=OK";
        EXPECT_EQ(results[i].rfind(prefix, 0), 0u) << results[i];
    }
}

class QemuScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(QemuScenario, EveryCheckPassesAndTheGuestReachesDone) {
    const auto& name = GetParam();
    auto compiled = scenario::compile_file(scenario_path(name));
    ASSERT_TRUE(compiled.ok()) << compiled.errors[0].to_string();
    const auto& run = qemu_run(name);
    ASSERT_TRUE(run.started) << run.diagnostics;
    expect_all_checks_pass(compiled, run);
}

INSTANTIATE_TEST_SUITE_P(Library, QemuScenario, ::testing::ValuesIn(qemu_capable()),
                         [](const auto& test_info) { return test_info.param; });

// Differences found and traced to the qxlbox device or server (outside the guest side); the
// comparison still fails for them, this only says where to look.
std::string known_cause(const std::string& name) {
    if (name == "faults_parse" || name == "faults_bbox")
        return "known qxlbox difference: the QXL model latches a guest bug (ERROR interrupt, later I/O "
               "ignored) for malformed draw/cursor contents that QEMU passes on and spice-server just "
               "drops (qxl-device.md section 0.1, spice-server validation; section 6 translation)";
    if (name == "surface_chain")
        return "known qxlbox difference: the server renders lazily and loses primary drawables whose "
               "source surface was destroyed before UPDATE_AREA (spice-server renders dependants first)";
    return "";
}

class QxlboxMatchesQemu : public ::testing::TestWithParam<std::string> {};

TEST_P(QxlboxMatchesQemu, SameResultLinesAndExitStatus) {
    const auto& name = GetParam();
    auto compiled = scenario::compile_file(scenario_path(name));
    ASSERT_TRUE(compiled.ok()) << compiled.errors[0].to_string();
    const auto& ours = qxlbox_run(name);
    ASSERT_TRUE(ours.started) << ours.diagnostics;
    const auto& reference = qemu_run(name);
    ASSERT_TRUE(reference.started) << reference.diagnostics;
    const auto diffs = result_differences(reference, ours);
    std::string listing;
    for (const auto& d : diffs) listing += "  " + d + "\n";
    EXPECT_TRUE(diffs.empty()) << "QEMU | qxlbox differ:\n"
                               << listing << known_cause(name) << "\nqxlbox run: " << describe(ours);
    EXPECT_EQ(ours.exit_status, reference.exit_status) << describe(ours);
    EXPECT_FALSE(ours.timed_out) << describe(ours);
}

INSTANTIATE_TEST_SUITE_P(Library, QxlboxMatchesQemu, ::testing::ValuesIn(on_both()),
                         [](const auto& test_info) { return test_info.param; });

class QxlboxScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(QxlboxScenario, EveryCheckPassesAndTheGuestReachesDone) {
    const auto& name = GetParam();
    auto compiled = scenario::compile_file(scenario_path(name));
    ASSERT_TRUE(compiled.ok()) << compiled.errors[0].to_string();
    const auto& run = qxlbox_run(name);
    ASSERT_TRUE(run.started) << run.diagnostics;
    expect_all_checks_pass(compiled, run);
}

INSTANTIATE_TEST_SUITE_P(Library, QxlboxScenario, ::testing::ValuesIn(qxlbox_only()),
                         [](const auto& test_info) { return test_info.param; });

TEST(InteropLibrary, OnlyDeclaredScenariosLeaveTheComparison) {
    // A scenario leaves the QEMU comparison only through an explicit `requires` line; these
    // lists make each exclusion visible in review.
    std::set<std::string> qxlbox_side, qemu_side;
    for (const auto& s : library()) {
        if (s.flags & kQxlboxSide) qxlbox_side.insert(s.name);
        if (s.flags & QXSC_FLAG_QEMU_ONLY) qemu_side.insert(s.name);
    }
    EXPECT_EQ(qxlbox_side, (std::set<std::string>{"agent_clipboard", "agent_vdiport", "rop3"}));
    EXPECT_EQ(qemu_side, (std::set<std::string>{"agent_absent"}));
    std::set<std::string> forever;
    for (const auto& s : library())
        if (s.runs_forever) forever.insert(s.name);
    EXPECT_EQ(forever, (std::set<std::string>{"demo"}));
    EXPECT_GE(on_both().size(), 12u);
}

// The demo animates forever (`repeat 0`); with its outer count replaced by a small number it
// must run to DONE on both machines with identical results.
std::string demo_with_count(int count) {
    std::ifstream in(scenario_path("demo"));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const auto pos = text.find("\nrepeat 0\n");
    if (pos == std::string::npos) return {};
    text.replace(pos, 10, "\nrepeat " + std::to_string(count) + "\n");
    return text;
}

TEST(InteropDemo, FiniteDemoRunsToDoneOnBothMachines) {
    const auto source = demo_with_count(1);
    ASSERT_FALSE(source.empty()) << "demo.scn has no top-level 'repeat 0' line";
    auto compiled = scenario::compile(source, "demo.scn");
    ASSERT_TRUE(compiled.ok()) << compiled.errors[0].to_string();
    const auto ours = run_on_qxlbox(compiled.module, qxlbox_options());
    ASSERT_TRUE(ours.started) << ours.diagnostics;
    expect_all_checks_pass(compiled, ours);
    if (compiled.flags & kQxlboxSide) return;
    const auto reference = run_on_qemu(compiled.module, qemu_options());
    expect_all_checks_pass(compiled, reference);
    const auto diffs = result_differences(reference, ours);
    EXPECT_TRUE(diffs.empty()) << diffs[0];
}

TEST(InteropDemo, ForeverDemoKeepsRunningUntilStopped) {
    // The unmodified demo never reaches DONE: qxlbox stops it at --max-seconds (status 6)
    // with the guest still drawing and no failed step.
    auto compiled = scenario::compile_file(scenario_path("demo"));
    ASSERT_TRUE(compiled.ok()) << compiled.errors[0].to_string();
    auto options = qxlbox_options();
    options.max_virtual_seconds = 3;
    const auto run = run_on_qxlbox(compiled.module, options);
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, 6) << describe(run);
    EXPECT_FALSE(run.done()) << describe(run);
    for (const auto& l : run.serial) EXPECT_EQ(l.find("=FAIL"), std::string::npos) << l;
}

TEST(InteropLoops, CountersDriveArgumentsOnBothMachines) {
    // Four fills at x = 4*$i with widths 2+$i%2, then checks on the result: the counters,
    // arithmetic and floored modulo must behave the same in every guest run.
    const char* source =
        "primary 32 8\nfill 0,0,32,8 color=#000000\n"
        "repeat 2\nrepeat 2\nfill ($j*2+$i)*4,0,2+$i%2,8+(-1*$j)+$j color=#00ff00\nend\nend\n"
        "fill 28,0,4,8 color=#0000ff\nrepeat 3\nfill 28+(-3)%4-($i-$i),0,1,8 color=#ff0000\nend\n"
        "update 0,0,32,8\n"
        "check_rect cell0 0,0,2,8 color=#00ff00\ncheck_pixel gap0 2,0 color=#000000\n"
        "check_rect cell1 4,0,3,8 color=#00ff00\ncheck_pixel gap1 7,0 color=#000000\n"
        "check_rect cell3 12,0,3,8 color=#00ff00\ncheck_pixel mod 29,3 color=#ff0000\n"
        "check_pixel mod_left 28,3 color=#0000ff\n";
    auto compiled = scenario::compile(source, "loops.scn");
    ASSERT_TRUE(compiled.ok()) << compiled.errors[0].to_string();
    const auto ours = run_on_qxlbox(compiled.module, qxlbox_options());
    ASSERT_TRUE(ours.started) << ours.diagnostics;
    expect_all_checks_pass(compiled, ours);
    const auto reference = run_on_qemu(compiled.module, qemu_options());
    expect_all_checks_pass(compiled, reference);
}

TEST(InteropLoops, OutOfRangeValueFailsTheStepAtRunTime) {
    // x = 10 - 4*$i reaches -2 in the fourth iteration: that fill must fail, not wrap.
    const auto module = compile_or_fail("primary 16 16\nrepeat 4\nfill 10-$i*4,0,1,1 color=#ffffff\nend\n");
    const auto run = run_on_qemu(module, qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitCheckFailed) << describe(run);
    ASSERT_EQ(run.results().size(), 1u) << describe(run);
    EXPECT_EQ(run.results()[0], "RESULT step4=FAIL argument 1 = -2 outside [0, 32767]");
}

TEST(InteropLoops, ZeroDivisorFailsTheStepAtRunTime) {
    const auto module = compile_or_fail("primary 16 16\nrepeat 2\nfill 4/$i,0,1,1 color=#ffffff\nend\n");
    const auto run = run_on_qemu(module, qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitCheckFailed) << describe(run);
    ASSERT_EQ(run.results().size(), 1u) << describe(run);
    EXPECT_EQ(run.results()[0], "RESULT step4=FAIL argument 1 divides by zero");
}

TEST(InteropGuest, WrongPixelIsReportedAsFailAndExitsWithCodeOne) {
    const auto module = compile_or_fail(
        "primary 64 64\nfill 0,0,64,64 color=#00ff00\nupdate 0,0,64,64\n"
        "check_pixel right 1,1 color=#00ff00\ncheck_pixel wrong 2,2 color=#ff0000\n");
    const auto run = run_on_qemu(module, qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitCheckFailed) << describe(run);
    ASSERT_EQ(run.results().size(), 2u) << describe(run);
    EXPECT_EQ(run.results()[0], "RESULT right=OK");
    EXPECT_EQ(run.results()[1], "RESULT wrong=FAIL at (2,2) got 0x00ff00 want 0xff0000");
    EXPECT_TRUE(run.done());
}

TEST(InteropGuest, RunsWithASpiceServerListening) {
    auto compiled = scenario::compile_file(std::string(QXLBOX_SCENARIO_DIR) + "/fill_basic/fill_basic.scn");
    ASSERT_TRUE(compiled.ok());
    auto options = qemu_options();
    options.with_spice = true;
    const auto run = run_on_qemu(compiled.module, options);
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitPass) << describe(run);
    EXPECT_EQ(run.results().size(), compiled.check_names.size()) << describe(run);
}

TEST(InteropGuest, SmallPoolIsReclaimedThroughNotifyOom) {
    // With a 64 KiB pool the fifth 16 KiB copy cannot be allocated until the device returns
    // earlier commands; releases are batched by 32, so the driver must ask with NOTIFY_OOM.
    auto compiled = scenario::compile_file(std::string(QXLBOX_SCENARIO_DIR) + "/release_pressure/release_pressure.scn");
    ASSERT_TRUE(compiled.ok());
    const auto run = run_on_qemu(compiled.module, qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitPass) << describe(run);
    const auto stats = std::find_if(run.serial.begin(), run.serial.end(),
                                    [](const std::string& l) { return l.rfind("STATS ", 0) == 0; });
    ASSERT_NE(stats, run.serial.end()) << describe(run);
    EXPECT_EQ(stats->find("oom_notifies=0 "), std::string::npos) << *stats;
    EXPECT_NE(stats->find("async_timeouts=0"), std::string::npos) << *stats;
}

TEST(InteropGuest, CpuExceptionIsReportedAndExitsWithCodeThree) {
    const auto module = compile_or_fail("primary 64 64\nfault guest_exception\ncheckpoint never\n");
    const auto run = run_on_qemu(module, qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, (3 << 1) | 1) << describe(run);
    const auto fault = std::find_if(run.serial.begin(), run.serial.end(), [](const std::string& l) {
        return l.rfind("FAULT vector=6 (#UD invalid opcode)", 0) == 0;
    });
    EXPECT_NE(fault, run.serial.end()) << describe(run);
    EXPECT_FALSE(run.done());
}

TEST(InteropGuest, VdiportScenarioFailsCleanlyWithoutTheDevice) {
    const auto module = compile_or_fail("primary 64 64\nagent_connect\nagent_expect msgs messages 1\n");
    const auto run = run_on_qemu(module, qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitCheckFailed) << describe(run);
    ASSERT_EQ(run.results().size(), 2u) << describe(run);
    EXPECT_EQ(run.results()[0].rfind("RESULT step2=FAIL", 0), 0u);
    EXPECT_EQ(run.results()[1], "RESULT msgs=FAIL no vdiport device");
}

TEST(InteropCompare, IdenticalResultsHaveNoDifferences) {
    GuestRun a, b;
    a.serial = {"qxl: one machine", "RESULT x=OK", "CHECKPOINT c", "RESULT y=OK crc=0x1", "DONE"};
    b.serial = {"qxl: other machine", "RESULT x=OK", "CHECKPOINT c", "RESULT y=OK crc=0x1", "DONE"};
    EXPECT_TRUE(result_differences(a, b).empty());
}

TEST(InteropCompare, ReportsChangedMissingResultsAndDone) {
    GuestRun a, b;
    a.serial = {"RESULT x=OK", "RESULT y=OK crc=0x1", "DONE"};
    b.serial = {"RESULT x=OK", "RESULT y=OK crc=0x2"};
    EXPECT_EQ(result_differences(a, b),
              (std::vector<std::string>{"line 2: RESULT y=OK crc=0x1 | RESULT y=OK crc=0x2", "DONE: yes | no"}));
    b.serial = {"RESULT x=OK"};
    EXPECT_EQ(result_differences(a, b)[0], "line 2: RESULT y=OK crc=0x1 | (missing)");
}

TEST(InteropCompare, TwoQemuRunsOfTheSameScenarioAgree) {
    // The reference must be reproducible for the comparison with qxlbox to mean anything.
    auto compiled = scenario::compile_file(std::string(QXLBOX_SCENARIO_DIR) + "/blend_alpha/blend_alpha.scn");
    ASSERT_TRUE(compiled.ok());
    const auto first = run_on_qemu(compiled.module, qemu_options());
    const auto second = run_on_qemu(compiled.module, qemu_options());
    ASSERT_TRUE(first.done()) << describe(first);
    const auto diffs = result_differences(first, second);
    EXPECT_TRUE(diffs.empty()) << diffs[0];
}

TEST(InteropGuest, MissingModuleIsReportedAndExitsWithCodeTwo) {
    auto options = qemu_options();
    options.pass_module = false;
    const auto run = run_on_qemu({}, options);
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitBadModule) << describe(run);
    EXPECT_NE(std::find(run.serial.begin(), run.serial.end(), "ERROR no scenario module"), run.serial.end())
        << describe(run);
}

// Module corruptions the guest must reject before running anything.
struct Corruption {
    const char* name;
    void (*apply)(std::vector<std::uint8_t>&);
    const char* reason;
};

void set32(std::vector<std::uint8_t>& m, std::size_t off, std::uint32_t v) {
    for (int i = 0; i < 4; i++) m[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void refresh_crc(std::vector<std::uint8_t>& m) {
    set32(m, 20, scenario::crc32(m.data() + QXSC_HEADER_SIZE, m.size() - QXSC_HEADER_SIZE));
}

class GuestRejectsModule : public ::testing::TestWithParam<Corruption> {};

TEST_P(GuestRejectsModule, BeforeTouchingTheDevice) {
    auto module = compile_or_fail("primary 64 64\nfill 0,0,8,8 color=#ffffff\n");
    GetParam().apply(module);
    const auto run = run_on_qemu(module, qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitBadModule) << describe(run);
    const std::string want = std::string("ERROR scenario module rejected: ") + GetParam().reason;
    EXPECT_NE(std::find(run.serial.begin(), run.serial.end(), want), run.serial.end()) << describe(run);
    EXPECT_TRUE(run.results().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Module, GuestRejectsModule,
    ::testing::Values(Corruption{"BadMagic", [](auto& m) { m[0] ^= 0xFF; }, "bad magic"},
                      Corruption{"NewerVersion", [](auto& m) { m[4] = 9; }, "unsupported version"},
                      Corruption{"FlippedBodyByte", [](auto& m) { m.back() ^= 0x01; }, "body checksum mismatch"},
                      Corruption{"TotalSizeBeyondModule",
                                 [](auto& m) { set32(m, 8, static_cast<std::uint32_t>(m.size() + 64)); },
                                 "bad header or total size"},
                      Corruption{"WrongArgumentCount",
                                 [](auto& m) {
                                     m[QXSC_HEADER_SIZE + 2] = 3;
                                     refresh_crc(m);
                                 },
                                 "unknown op or wrong argc"},
                      Corruption{"UnknownOp",
                                 [](auto& m) {
                                     m[QXSC_HEADER_SIZE] = 0xEE;
                                     refresh_crc(m);
                                 },
                                 "unknown op or wrong argc"},
                      Corruption{"StepCountTooHigh",
                                 [](auto& m) {
                                     set32(m, 12, 3);
                                     refresh_crc(m);
                                 },
                                 "step header past the end"},
                      Corruption{"ShorterThanHeader", [](auto& m) { m.resize(12); }, "module shorter than its header"},
                      Corruption{"TextTooLong",
                                 [](auto& m) {
                                     // The second step is the fill (16 args); give it a 300-byte text length.
                                     const std::size_t step = QXSC_HEADER_SIZE + 8 + 4 * 4;
                                     m[step + 4] = 300 & 0xFF;
                                     m[step + 5] = 300 >> 8;
                                     refresh_crc(m);
                                 },
                                 "text too long"},
                      Corruption{"StepPastTheEnd",
                                 [](auto& m) {
                                     const std::size_t step = QXSC_HEADER_SIZE + 8 + 4 * 4;
                                     m[step + 4] = 200;
                                     refresh_crc(m);
                                 },
                                 "step past the end"},
                      Corruption{"TrailingBytes",
                                 [](auto& m) {
                                     m.insert(m.end(), {0, 0, 0, 0});
                                     set32(m, 8, static_cast<std::uint32_t>(m.size()));
                                     refresh_crc(m);
                                 },
                                 "trailing bytes after the last step"}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

// Loop and expression framing the guest must reject before running anything (the compiler
// never emits these; a module is untrusted input).
struct RawStep {
    std::uint32_t op = 0;
    std::vector<std::uint32_t> args;
    std::string text;
};

std::vector<std::uint8_t> raw_module(const std::vector<RawStep>& steps) {
    std::vector<std::uint8_t> m(QXSC_HEADER_SIZE, 0);
    auto put16 = [&m](std::uint32_t v) {
        m.push_back(static_cast<std::uint8_t>(v));
        m.push_back(static_cast<std::uint8_t>(v >> 8));
    };
    for (const auto& st : steps) {
        put16(st.op);
        put16(static_cast<std::uint32_t>(st.args.size()));
        put16(static_cast<std::uint32_t>(st.text.size()));
        put16(0);
        for (auto a : st.args) {
            put16(a & 0xFFFF);
            put16(a >> 16);
        }
        m.insert(m.end(), st.text.begin(), st.text.end());
        while (m.size() % 4) m.push_back(0);
    }
    set32(m, 0, QXSC_MAGIC);
    m[4] = QXSC_VERSION;
    m[6] = QXSC_HEADER_SIZE;
    set32(m, 8, static_cast<std::uint32_t>(m.size()));
    set32(m, 12, static_cast<std::uint32_t>(steps.size()));
    refresh_crc(m);
    return m;
}

struct BadLoop {
    const char* name;
    std::vector<RawStep> steps;
    const char* reason;
};

class GuestRejectsLoop : public ::testing::TestWithParam<BadLoop> {};

TEST_P(GuestRejectsLoop, BeforeTouchingTheDevice) {
    const auto run = run_on_qemu(raw_module(GetParam().steps), qemu_options());
    ASSERT_TRUE(run.started) << run.diagnostics;
    EXPECT_EQ(run.exit_status, kQemuExitBadModule) << describe(run);
    const std::string want = std::string("ERROR scenario module rejected: ") + GetParam().reason;
    EXPECT_NE(std::find(run.serial.begin(), run.serial.end(), want), run.serial.end()) << describe(run);
}

const RawStep kPrimary{QXSC_OP_PRIMARY, {64, 64, 32, 0}, ""};
const RawStep kWait{QXSC_OP_WAIT_TICKS, {1}, ""};
const RawStep kEnd{QXSC_OP_END, {}, ""};
RawStep repeat(std::uint32_t n) { return {QXSC_OP_REPEAT, {n}, ""}; }
RawStep expr(std::uint32_t slot, std::string code) { return {QXSC_OP_EXPR, {slot, 0, 100}, std::move(code)}; }
RawStep cursor_move() { return {QXSC_OP_CURSOR_MOVE, {0, 0}, ""}; }
const std::string kCounter0 = std::string("v") + '\0';

INSTANTIATE_TEST_SUITE_P(
    Module, GuestRejectsLoop,
    ::testing::Values(
        BadLoop{"UnclosedRepeat", {kPrimary, repeat(2), kWait}, "unclosed repeat"},
        BadLoop{"EndWithoutRepeat", {kPrimary, kWait, kEnd}, "end without repeat"},
        BadLoop{"NestedTooDeep",
                {kPrimary, repeat(1), repeat(1), repeat(1), repeat(1), repeat(1), kWait, kEnd, kEnd, kEnd, kEnd, kEnd},
                "loops nested too deep"},
        BadLoop{"CounterOfAMissingLoop",
                {kPrimary, repeat(2), expr(0, std::string("v") + '\1'), cursor_move(), kEnd},
                "bad expression"},
        BadLoop{"OperatorWithoutOperands", {kPrimary, repeat(2), expr(0, kCounter0 + "+"), cursor_move(), kEnd},
                "bad expression"},
        BadLoop{"TwoValuesLeft", {kPrimary, repeat(2), expr(0, kCounter0 + kCounter0), cursor_move(), kEnd},
                "bad expression"},
        BadLoop{"TruncatedConstant", {kPrimary, repeat(2), expr(0, "k\1\2"), cursor_move(), kEnd}, "bad expression"},
        BadLoop{"UnknownExpressionByte", {kPrimary, repeat(2), expr(0, kCounter0 + std::string("k\1\0\0\0^", 6)), cursor_move(), kEnd},
                "bad expression"},
        BadLoop{"ExpressionBeforeEnd", {kPrimary, repeat(2), kWait, expr(0, kCounter0), kEnd},
                "expression without a matching step"},
        BadLoop{"ExpressionSlotBeyondTheStep", {kPrimary, repeat(2), expr(5, kCounter0), cursor_move(), kEnd},
                "expression without a matching step"},
        BadLoop{"ExpressionAtTheEnd", {kPrimary, expr(0, std::string("k\1\0\0\0", 5))}, "expression without a matching step"}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

}  // namespace
}  // namespace qxlbox::interop
