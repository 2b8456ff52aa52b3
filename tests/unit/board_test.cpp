#include "machine/board/board.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace qxlbox::machine;

namespace {

// Stands in for the CPU: each call to run() plays the next scripted step.
struct FakeCpu {
    Scheduler& clock;
    std::vector<std::function<Cpu::Stop()>> steps;
    std::size_t next = 0;
    Cpu::Stop run() {
        if (next >= steps.size()) return Cpu::Stop::Fault;
        return steps[next++]();
    }
};

}  // namespace

TEST(MachineLoop, HaltSkipsClockToNextDeadline) {
    Scheduler clock;
    MachineLoop loop(clock, ClockMode::Virtual);
    std::vector<Cycles> fired;
    clock.schedule_at(5'000'000, [&] { fired.push_back(clock.now()); });
    clock.schedule_at(9'000'000, [&] {
        fired.push_back(clock.now());
        loop.request_exit(7);
    });
    FakeCpu cpu{clock, {}};
    cpu.steps = {[] { return Cpu::Stop::Halted; }, [] { return Cpu::Stop::Halted; }, [] { return Cpu::Stop::Halted; }};
    const RunResult r = loop.run([&] { return cpu.run(); }, {});
    EXPECT_EQ(r.outcome, RunResult::Outcome::DebugExit);
    EXPECT_EQ(r.exit_status, 7);
    EXPECT_EQ(fired, (std::vector<Cycles>{5'000'000, 9'000'000}));
    EXPECT_EQ(loop.halts_skipped(), 2u);
    EXPECT_EQ(cpu.next, 2u);
}

TEST(MachineLoop, DeadlineRunsDueEventsInOrderWithTies) {
    Scheduler clock;
    MachineLoop loop(clock, ClockMode::Virtual);
    std::string order;
    clock.schedule_at(100, [&] { order += 'a'; });
    clock.schedule_at(100, [&] { order += 'b'; });
    clock.schedule_at(50, [&] { order += 'c'; });
    clock.schedule_at(200, [&] { order += 'd'; });
    FakeCpu cpu{clock, {}};
    // The CPU executes up to each deadline, as the real core does.
    auto to_deadline = [&] {
        clock.advance_to(clock.next_deadline());
        return Cpu::Stop::Deadline;
    };
    cpu.steps = {to_deadline, to_deadline, [&] {
                     clock.advance_to(150);
                     return Cpu::Stop::Fault;
                 }};
    const RunResult r = loop.run([&] { return cpu.run(); }, [] { return std::string("fake fault"); });
    EXPECT_EQ(order, "cab");
    EXPECT_EQ(r.outcome, RunResult::Outcome::Fault);
    EXPECT_EQ(r.exit_status, kExitStatusFault);
    EXPECT_EQ(r.message, "fake fault");
}

TEST(MachineLoop, HaltWithNothingScheduledEnds) {
    Scheduler clock;
    MachineLoop loop(clock, ClockMode::Virtual);
    const RunResult r = loop.run([] { return Cpu::Stop::Halted; }, {});
    EXPECT_EQ(r.outcome, RunResult::Outcome::HaltedForever);
    EXPECT_EQ(r.exit_status, kExitStatusHaltedForever);
}

TEST(MachineLoop, TimeLimitEndsHaltedGuestAtExactCycle) {
    Scheduler clock;
    MachineLoop loop(clock, ClockMode::Virtual);
    loop.set_time_limit(300'000'000);
    int ticks = 0;
    std::function<void()> tick = [&] {
        ++ticks;
        clock.schedule_in(1'000'000, tick);
    };
    clock.schedule_in(1'000'000, tick);
    const RunResult r = loop.run([] { return Cpu::Stop::Halted; }, {});
    EXPECT_EQ(r.outcome, RunResult::Outcome::TimeLimit);
    EXPECT_EQ(r.exit_status, kExitStatusTimeLimit);
    EXPECT_EQ(clock.now(), 300'000'000u);
    EXPECT_EQ(ticks, 300);
}

TEST(MachineLoop, StopRequestEndsRun) {
    Scheduler clock;
    MachineLoop loop(clock, ClockMode::Realtime);
    int calls = 0;
    const RunResult r = loop.run(
        [&] {
            if (++calls == 3) loop.request_stop();
            return Cpu::Stop::StopRequested;
        },
        {});
    EXPECT_EQ(r.outcome, RunResult::Outcome::Stopped);
    EXPECT_EQ(calls, 3);
}

TEST(MachineLoop, RealtimeHaltWaitsForHostClock) {
    Scheduler clock;
    MachineLoop loop(clock, ClockMode::Realtime);
    clock.schedule_at(clock.ns_to_cycles(20'000'000), [&] { loop.request_exit(1); });
    const auto start = std::chrono::steady_clock::now();
    const RunResult r = loop.run([] { return Cpu::Stop::Halted; }, {});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.outcome, RunResult::Outcome::DebugExit);
    EXPECT_GE(elapsed, std::chrono::milliseconds(19));
}

TEST(TraceList, AcceptsKnownCategoriesAndNamesUnknownOne) {
    TraceOptions t;
    std::string error;
    EXPECT_TRUE(parse_trace_list("cpu,pci", t, error));
    EXPECT_TRUE(t.cpu);
    EXPECT_TRUE(t.pci);
    EXPECT_FALSE(t.io);
    TraceOptions u;
    EXPECT_FALSE(parse_trace_list("io,gpu", u, error));
    EXPECT_NE(error.find("'gpu'"), std::string::npos) << error;
    EXPECT_FALSE(u.io);  // nothing applied on error
    EXPECT_FALSE(parse_trace_list("io,", u, error));
    EXPECT_FALSE(parse_trace_list("", u, error));
}

TEST(Board, ValidatesMemorySize) {
    std::string error;
    BoardConfig c;
    EXPECT_TRUE(Board::validate(c, error));
    c.ram_size_bytes = 1u << 20;
    EXPECT_FALSE(Board::validate(c, error));
    c.ram_size_bytes = 4096ull << 20;
    EXPECT_FALSE(Board::validate(c, error));
    c.ram_size_bytes = (16u << 20) + 4096;
    EXPECT_FALSE(Board::validate(c, error));
    c.ram_size_bytes = 16u << 20;
    c.max_seconds = -1;
    EXPECT_FALSE(Board::validate(c, error));
}

TEST(Board, WiresDevicesAtPcPorts) {
    std::string serial, debugcon;
    BoardConfig c;
    c.ram_size_bytes = 16u << 20;
    c.serial_out = [&](std::uint8_t b) { serial.push_back(static_cast<char>(b)); };
    c.debugcon_out = [&](std::uint8_t b) { debugcon.push_back(static_cast<char>(b)); };
    Board board(c);
    PortSpace& ports = board.ports();
    ports.out(0x3f8, 1, 'S');
    ports.out(0xe9, 1, 'D');
    EXPECT_EQ(serial, "S");
    EXPECT_EQ(debugcon, "D");
    EXPECT_EQ(ports.in(0xe9, 1), 0xe9u);
    ports.out(0xcf8, 4, 0x80000000u);
    EXPECT_EQ(ports.in(0xcfc, 4), 0x12378086u);
    board.memory().write32(0x1000, 0x12345678);
    EXPECT_EQ(board.ram()[0x1000], 0x78);
    EXPECT_EQ(board.memory().read32(16u << 20), 0xffffffffu);  // above RAM: unmapped
}

TEST(Board, PowerOnSetsPciLinesToLevelMode) {
    BoardConfig c;
    c.ram_size_bytes = 16u << 20;
    Board board(c);
    board.power_on();
    EXPECT_EQ(board.ports().in(0x4d0, 1), 0x00u);
    EXPECT_EQ(board.ports().in(0x4d1, 1), 0x0cu);  // IRQ10 and IRQ11
}

TEST(Board, DebugExitOfAnyWidthEndsRunWithQemuStatus) {
    for (unsigned width : {1u, 2u, 4u}) {
        BoardConfig c;
        c.ram_size_bytes = 16u << 20;
        Board board(c);
        board.ports().out(0xf4, width, 0x10);
        EXPECT_EQ(board.debug_exit().exit_status(), 0x21);
        const RunResult r = board.run();
        EXPECT_EQ(r.outcome, RunResult::Outcome::DebugExit) << "width " << width;
        EXPECT_EQ(r.exit_status, 0x21);
    }
}

TEST(Board, AddsPciDeviceAtSlotAndRejectsTakenSlot) {
    BoardConfig c;
    c.ram_size_bytes = 16u << 20;
    Board board(c);
    qxlbox::hw::PciIdentity id;
    id.vendor_id = 0x1b36;
    id.device_id = 0x0105;
    id.interrupt_pin = 1;
    auto* dev = board.add_pci_device(3, std::make_unique<qxlbox::hw::PciDevice>("vdiport", id));
    ASSERT_NE(dev, nullptr);
    EXPECT_EQ(board.add_pci_device(3, std::make_unique<qxlbox::hw::PciDevice>("dup", id)), nullptr);
    EXPECT_EQ(board.add_pci_device(0, std::make_unique<qxlbox::hw::PciDevice>("host", id)), nullptr);
    board.power_on();
    EXPECT_EQ(dev->config_read(0x3c, 1), 11u);
    // The device's INTA reaches the PIC as a level on IRQ11.
    dev->set_irq_level(true);
    EXPECT_NE(board.pic().chip(1).irr & 0x08, 0);
    dev->set_irq_level(false);
    EXPECT_EQ(board.pic().chip(1).irr & 0x08, 0);
}

TEST(Board, IoTraceReportsUnmappedPortAccess) {
    char* buf = nullptr;
    std::size_t len = 0;
    std::FILE* mem = open_memstream(&buf, &len);
    {
        BoardConfig c;
        c.ram_size_bytes = 16u << 20;
        c.trace.io = true;
        c.trace_out = mem;
        Board board(c);
        board.ports().out(0x80, 1, 0x55);  // POST port: swallowed, not traced
        board.ports().out(0x1234, 2, 0x55);
        board.ports().in(0x3f8, 4);  // COM1 takes bytes only
    }
    std::fclose(mem);
    const std::string text(buf, len);
    std::free(buf);
    EXPECT_EQ(text.find("0x80/"), std::string::npos) << text;
    EXPECT_NE(text.find("unmapped port write 0x1234/2"), std::string::npos) << text;
    EXPECT_NE(text.find("bad-width read 0x3f8/4 (uart)"), std::string::npos) << text;
}

TEST(Board, SerialInputIsDrainedAtPollPoints) {
    BoardConfig c;
    c.ram_size_bytes = 16u << 20;
    c.serial_input = true;
    Board board(c);
    board.serial_input().push("x");
    EXPECT_EQ(board.ports().in(0x3fd, 1) & 1, 0u);  // not yet: only at a poll point
    Scheduler& clock = board.scheduler();
    clock.advance_to(clock.next_deadline());
    clock.run_due();
    EXPECT_EQ(board.ports().in(0x3fd, 1) & 1, 1u);
    EXPECT_EQ(board.ports().in(0x3f8, 1), static_cast<std::uint32_t>('x'));
}
