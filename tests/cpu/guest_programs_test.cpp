// Freestanding C guests (tests/cpu/guest/) run on our CPU and on qemu-system-i386: the serial
// output and the exit value must be identical.
#include <gtest/gtest.h>

#include "tests/cpu/cpu_harness.h"

namespace qxlbox::cputest {
namespace {

using machine::FlatMachine;

struct OurRun {
    FlatMachine::Outcome outcome;
    std::string serial;
    std::uint32_t exit_value;
    std::string report;
};

OurRun run_ours(const std::string& name, std::uint64_t max_cycles = 2'000'000'000ull) {
    FlatMachine m;
    const std::string err = m.load_elf(read_file(guest_path(name)));
    if (!err.empty()) return {FlatMachine::Outcome::Fault, "load error: " + err, 0, ""};
    const auto outcome = m.run(max_cycles);
    return {outcome, m.serial, m.exit_value, outcome == FlatMachine::Outcome::Exited ? "" : m.cpu.fault_report()};
}

class GuestProgram : public ::testing::TestWithParam<const char*> {};

TEST_P(GuestProgram, MatchesQemuOutput) {
    const std::string name = GetParam();
    const OurRun ours = run_ours(name);
    ASSERT_EQ(ours.outcome, FlatMachine::Outcome::Exited) << machine::outcome_name(ours.outcome) << "\n" << ours.report
                                                          << "\nserial so far:\n" << ours.serial;
    std::string qemu_serial, error;
    int qemu_status = -1;
    ASSERT_TRUE(run_qemu(guest_path(name), 60.0, qemu_serial, qemu_status, error)) << error;
    EXPECT_FALSE(qemu_serial.empty());
    EXPECT_EQ(ours.serial, qemu_serial);
    EXPECT_EQ(static_cast<int>((ours.exit_value << 1) | 1) & 0xff, qemu_status);
}

INSTANTIATE_TEST_SUITE_P(Cpu, GuestProgram,
                         ::testing::Values("checksum", "sort", "int64", "printing", "recursion", "interp", "bench_short"));

TEST(CpuGuest, SortProgramReportsSortedArrays) {
    const OurRun ours = run_ours("sort");
    ASSERT_EQ(ours.outcome, FlatMachine::Outcome::Exited) << ours.report;
    EXPECT_NE(ours.serial.find("quick 1 "), std::string::npos) << ours.serial;
    EXPECT_NE(ours.serial.find("merge 1 "), std::string::npos) << ours.serial;
}

TEST(CpuGuest, RecursionProgramComputesKnownValues) {
    const OurRun ours = run_ours("recursion");
    ASSERT_EQ(ours.outcome, FlatMachine::Outcome::Exited) << ours.report;
    EXPECT_NE(ours.serial.find("fib(24) = 46368"), std::string::npos) << ours.serial;
    EXPECT_NE(ours.serial.find("queens(8) = 92"), std::string::npos) << ours.serial;
}

TEST(CpuGuest, RunStopsAtCycleLimit) {
    const OurRun ours = run_ours("bench_short", 100'000);
    EXPECT_EQ(ours.outcome, FlatMachine::Outcome::Timeout);
}

TEST(CpuGuest, RejectsMalformedElf) {
    FlatMachine m;
    EXPECT_FALSE(m.load_elf({}).empty());
    std::vector<std::uint8_t> img = read_file(guest_path("printing"));
    ASSERT_GT(img.size(), 64u);
    img[18] = 62;  // e_machine = x86-64
    EXPECT_FALSE(m.load_elf(img).empty());
    img = read_file(guest_path("printing"));
    img[28] = 0xff; img[29] = 0xff; img[30] = 0xff; img[31] = 0x7f;  // e_phoff far outside the file
    EXPECT_FALSE(m.load_elf(img).empty());
}

}  // namespace
}  // namespace qxlbox::cputest
