#include "hw/i8042/i8042.h"

#include <gtest/gtest.h>

#include <vector>

using namespace qxlbox;

namespace {

struct IrqRecorder : machine::IrqSink {
    bool levels[16] = {};
    int raises[16] = {};
    void set_irq_level(unsigned line, bool level) override {
        if (level && !levels[line]) ++raises[line];
        levels[line] = level;
    }
};

struct Rig {
    machine::PortSpace ports;
    machine::Scheduler clock;
    IrqRecorder irqs;
    hw::I8042 kbc{ports, clock, machine::IrqLine(&irqs, 1), machine::IrqLine(&irqs, 12)};
    Rig() { kbc.enable_host_input(); }

    std::uint8_t status() { return static_cast<std::uint8_t>(ports.in(0x64, 1)); }
    std::uint8_t data() { return static_cast<std::uint8_t>(ports.in(0x60, 1)); }
    void cmd(std::uint8_t v) { ports.out(0x64, 1, v); }
    void put(std::uint8_t v) { ports.out(0x60, 1, v); }
    std::vector<std::uint8_t> drain() {
        std::vector<std::uint8_t> out;
        while (status() & 1) out.push_back(data());
        return out;
    }
    void run_for_ms(unsigned ms) {
        clock.advance_to(clock.now() + clock.ns_to_cycles(ms * 1'000'000ull));
        clock.run_due();
    }
};

}  // namespace

TEST(I8042, SelfTestAnswers55) {
    Rig r;
    r.cmd(0xaa);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0x55}));
}

TEST(I8042, CommandByteRoundTrips) {
    Rig r;
    r.cmd(0x60);
    r.put(0x65);
    r.cmd(0x20);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0x65}));
}

TEST(I8042, KeyboardResetAcksAndPassesSelfTest) {
    Rig r;
    r.put(0xff);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0xfa, 0xaa}));
}

TEST(I8042, KeyboardIdentifies) {
    Rig r;
    r.put(0xf2);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0xfa, 0xab, 0x83}));
}

TEST(I8042, UnknownKeyboardCommandIsResent) {
    Rig r;
    r.put(0x12);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0xfe}));
}

TEST(I8042, SetLedsReportsToHost) {
    Rig r;
    std::uint8_t seen = 0xff;
    r.kbc.set_led_handler([&](std::uint8_t l) { seen = l; });
    r.put(0xed);
    r.put(0x06);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0xfa, 0xfa}));
    EXPECT_EQ(seen, 0x06);
    EXPECT_EQ(r.kbc.leds(), 0x06);
}

TEST(I8042, InjectedKeysArriveAtNextPollWithIrq1) {
    Rig r;
    r.kbc.inject_scancodes({0x1e, 0x9e});
    EXPECT_FALSE(r.status() & 1);  // nothing before the scheduled poll
    r.run_for_ms(2);
    EXPECT_TRUE(r.irqs.levels[1]);
    EXPECT_EQ(r.data(), 0x1e);
    EXPECT_TRUE(r.irqs.levels[1]);  // the next byte follows at once
    EXPECT_EQ(r.data(), 0x9e);
    EXPECT_FALSE(r.irqs.levels[1]);
    EXPECT_EQ(r.irqs.raises[1], 2);
}

TEST(I8042, KeyIrqSuppressedWhenDisabledInCommandByte) {
    Rig r;
    r.cmd(0x60);
    r.put(0x44);  // translation + system flag, no IRQs
    r.kbc.inject_scancodes({0x1e});
    r.run_for_ms(2);
    EXPECT_TRUE(r.status() & 1);
    EXPECT_FALSE(r.irqs.levels[1]);
}

TEST(I8042, WithoutTranslationKeyboardSendsSet2) {
    Rig r;
    r.cmd(0x60);
    r.put(0x07);  // IRQs, system flag, no translation
    r.kbc.inject_scancodes({0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8});
    r.run_for_ms(2);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75}));
}

TEST(I8042, Set1ToSet2TableCoversKnownKeys) {
    EXPECT_EQ(hw::I8042::set1_to_set2(0x01, false), 0x76);  // Esc
    EXPECT_EQ(hw::I8042::set1_to_set2(0x39, false), 0x29);  // Space
    EXPECT_EQ(hw::I8042::set1_to_set2(0x58, false), 0x07);  // F12
    EXPECT_EQ(hw::I8042::set1_to_set2(0x5b, true), 0x1f);   // Left Windows (E0)
    EXPECT_EQ(hw::I8042::set1_to_set2(0x5b, false), 0x00);
    EXPECT_EQ(hw::I8042::set1_to_set2(0x7f, false), 0x00);
}

TEST(I8042, MouseSendsNothingUntilReportingEnabled) {
    Rig r;
    r.kbc.inject_mouse(5, 5, 0, 0);
    r.run_for_ms(2);
    EXPECT_TRUE(r.drain().empty());
}

TEST(I8042, MousePacketHasSignsButtonsAndInvertedY) {
    Rig r;
    r.cmd(0xd4);
    r.put(0xf4);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0xfa}));
    r.kbc.inject_mouse(-3, 4, 0, 1);
    r.run_for_ms(2);
    EXPECT_TRUE(r.status() & 0x20);
    EXPECT_TRUE(r.irqs.levels[12]);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0x08 | 0x01 | 0x10 | 0x20, 0xfd, 0xfc}));
}

TEST(I8042, MouseLargeMotionSetsOverflowAndClamps) {
    Rig r;
    r.cmd(0xd4);
    r.put(0xf4);
    r.drain();
    r.kbc.inject_mouse(1000, 0, 0, 0);
    r.run_for_ms(2);
    const auto bytes = r.drain();
    ASSERT_EQ(bytes.size(), 3u);
    EXPECT_TRUE(bytes[0] & 0x40);
    EXPECT_EQ(bytes[1], 0xff);
}

TEST(I8042, IntelliMouseSequenceEnablesWheel) {
    Rig r;
    for (std::uint8_t rate : {200, 100, 80}) {
        r.cmd(0xd4);
        r.put(0xf3);
        r.cmd(0xd4);
        r.put(rate);
    }
    r.drain();
    r.cmd(0xd4);
    r.put(0xf2);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0xfa, 0x03}));
    r.cmd(0xd4);
    r.put(0xf4);
    r.drain();
    r.kbc.inject_mouse(0, 0, 1, 0);
    r.run_for_ms(2);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0x08, 0x00, 0x00, 0x01}));
}

TEST(I8042, MouseResetAnswersAaAndId) {
    Rig r;
    r.cmd(0xd4);
    r.put(0xff);
    EXPECT_EQ(r.drain(), (std::vector<std::uint8_t>{0xfa, 0xaa, 0x00}));
}

TEST(I8042, HostFloodIsBoundedNotUnlimited) {
    Rig r;
    std::vector<std::uint8_t> flood(100000, 0x1e);
    r.kbc.inject_scancodes(flood);
    r.run_for_ms(2);
    EXPECT_LE(r.drain().size(), 512u);
}

TEST(I8042, HostInputWaitsUntilEnabled) {
    machine::PortSpace ports;
    machine::Scheduler clock;
    IrqRecorder irqs;
    hw::I8042 kbc{ports, clock, machine::IrqLine(&irqs, 1), machine::IrqLine(&irqs, 12)};
    EXPECT_EQ(clock.pending_count(), 0u);
    kbc.inject_scancodes({0x1e});
    clock.advance_to(clock.ns_to_cycles(5'000'000));
    clock.run_due();
    EXPECT_FALSE(ports.in(0x64, 1) & 1);
    kbc.enable_host_input();
    clock.advance_to(clock.now() + clock.ns_to_cycles(2'000'000));
    clock.run_due();
    EXPECT_TRUE(ports.in(0x64, 1) & 1);
}

TEST(I8042, ResetCommandCallsBoardHandler) {
    Rig r;
    int resets = 0;
    r.kbc.set_reset_handler([&] { ++resets; });
    r.cmd(0xfe);
    EXPECT_EQ(resets, 1);
    r.cmd(0xff);  // pulses no line
    EXPECT_EQ(resets, 1);
}
