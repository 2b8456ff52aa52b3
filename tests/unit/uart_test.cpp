#include "hw/uart/uart.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

using qxlbox::hw::SerialInput;
using qxlbox::hw::Uart16550;
using qxlbox::machine::IrqSink;
using qxlbox::machine::Scheduler;

namespace {

struct LevelSink : IrqSink {
    bool level = false;
    void set_irq_level(unsigned, bool l) override { level = l; }
};

struct UartFixture : ::testing::Test {
    Scheduler clock;
    LevelSink irq;
    std::string out;
    Uart16550 uart{clock, qxlbox::machine::IrqLine(&irq, 4), [this](std::uint8_t b) { out.push_back(static_cast<char>(b)); }};

    void run_until(qxlbox::machine::Cycles c) {
        while (clock.next_deadline() <= c) {
            clock.advance_to(clock.next_deadline());
            clock.run_due();
        }
        clock.advance_to(c);
    }
    std::uint8_t iir() { return uart.read_reg(Uart16550::kIirFcr); }
};

}  // namespace

TEST_F(UartFixture, TransmitsBytesToSinkAndStaysEmpty) {
    for (char c : std::string("hi\n")) uart.write_reg(Uart16550::kRbrThr, static_cast<std::uint8_t>(c));
    EXPECT_EQ(out, "hi\n");
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x60, 0x60);
}

TEST_F(UartFixture, DlabSelectsDivisorLatches) {
    uart.write_reg(Uart16550::kLcr, 0x80);
    uart.write_reg(0, 0x01);
    uart.write_reg(1, 0x00);
    EXPECT_EQ(uart.divisor(), 1);
    EXPECT_EQ(uart.read_reg(0), 0x01);
    uart.write_reg(Uart16550::kLcr, 0x03);
    EXPECT_TRUE(out.empty());  // the divisor write did not transmit
    EXPECT_EQ(uart.read_reg(Uart16550::kLcr), 0x03);
    EXPECT_EQ(uart.read_reg(Uart16550::kIer), 0x00);
}

TEST_F(UartFixture, ReceivedByteRaisesIrqOnlyWithOut2AndIer) {
    uart.receive_byte('a');
    EXPECT_FALSE(irq.level);
    uart.write_reg(Uart16550::kIer, 0x01);
    EXPECT_FALSE(irq.level);  // OUT2 gates the line on a PC
    uart.write_reg(Uart16550::kMcr, 0x08);
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(iir(), 0x04);
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x01, 0x01);
    EXPECT_EQ(uart.read_reg(Uart16550::kRbrThr), 'a');
    EXPECT_FALSE(irq.level);
    EXPECT_EQ(iir(), 0x01);
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x01, 0x00);
}

TEST_F(UartFixture, OverrunWithoutFifoSetsLsrOeAndLineStatusInterrupt) {
    uart.write_reg(Uart16550::kIer, 0x05);
    uart.write_reg(Uart16550::kMcr, 0x08);
    EXPECT_TRUE(uart.receive_byte('1'));
    EXPECT_FALSE(uart.receive_byte('2'));
    EXPECT_EQ(iir(), 0x06);  // line status outranks data available
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x02, 0x02);
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x02, 0x00);  // cleared by the read
    EXPECT_EQ(iir(), 0x04);
    EXPECT_EQ(uart.read_reg(Uart16550::kRbrThr), '1');
}

TEST_F(UartFixture, FifoTriggerLevelAndTimeout) {
    uart.write_reg(Uart16550::kIirFcr, 0x81);  // FIFO on, trigger 8
    uart.write_reg(Uart16550::kIer, 0x01);
    uart.write_reg(Uart16550::kMcr, 0x08);
    EXPECT_EQ(iir() & 0xc0, 0xc0);
    for (int i = 0; i < 7; ++i) uart.receive_byte(static_cast<std::uint8_t>('a' + i));
    EXPECT_FALSE(irq.level);
    uart.receive_byte('h');
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(iir() & 0x0f, 0x04);
    for (int i = 0; i < 6; ++i) uart.read_reg(Uart16550::kRbrThr);
    EXPECT_FALSE(irq.level);  // 2 bytes left, below the trigger
    // After four character times without FIFO activity the timeout interrupt reports them.
    run_until(clock.now() + 4 * uart.char_time_cycles() - 1);
    EXPECT_FALSE(irq.level);
    run_until(clock.now() + 1);
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(iir() & 0x0f, 0x0c);
    uart.read_reg(Uart16550::kRbrThr);
    uart.read_reg(Uart16550::kRbrThr);
    EXPECT_FALSE(irq.level);
}

TEST_F(UartFixture, FifoHoldsSixteenThenOverruns) {
    uart.write_reg(Uart16550::kIirFcr, 0x01);
    for (int i = 0; i < 16; ++i) EXPECT_TRUE(uart.receive_byte(static_cast<std::uint8_t>(i)));
    EXPECT_EQ(uart.receive_room(), 0u);
    EXPECT_FALSE(uart.receive_byte(99));
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x03, 0x03);
    EXPECT_EQ(uart.read_reg(Uart16550::kRbrThr), 0);
    uart.write_reg(Uart16550::kIirFcr, 0x03);  // clear receive FIFO
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x01, 0x00);
}

TEST_F(UartFixture, ThreInterruptAfterEnableAndAfterEachWrite) {
    uart.write_reg(Uart16550::kMcr, 0x08);
    uart.write_reg(Uart16550::kIer, 0x02);
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(iir(), 0x02);  // reading IIR acknowledges THRE
    EXPECT_FALSE(irq.level);
    EXPECT_EQ(iir(), 0x01);
    uart.write_reg(Uart16550::kRbrThr, 'x');
    EXPECT_TRUE(irq.level);
    uart.write_reg(Uart16550::kIer, 0x00);
    EXPECT_FALSE(irq.level);
}

TEST_F(UartFixture, LoopbackFeedsReceiverAndModemStatus) {
    uart.write_reg(Uart16550::kMcr, 0x10 | 0x03);  // LOOP, RTS, DTR
    EXPECT_EQ(uart.read_reg(Uart16550::kMsr) & 0x30, 0x30);
    uart.write_reg(Uart16550::kRbrThr, 0x5a);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(uart.read_reg(Uart16550::kRbrThr), 0x5a);
    uart.write_reg(Uart16550::kMcr, 0x10);  // drop RTS and DTR
    const std::uint8_t msr = uart.read_reg(Uart16550::kMsr);
    EXPECT_EQ(msr & 0x30, 0x00);
    EXPECT_EQ(msr & 0x03, 0x03);  // delta CTS and delta DSR
    EXPECT_EQ(uart.read_reg(Uart16550::kMsr) & 0x0f, 0x00);
}

TEST_F(UartFixture, ScratchRegisterKeepsValue) {
    uart.write_reg(Uart16550::kScr, 0xa5);
    EXPECT_EQ(uart.read_reg(Uart16550::kScr), 0xa5);
    uart.write_reg(Uart16550::kLsr, 0x00);  // read-only: ignored
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x60, 0x60);
}

TEST_F(UartFixture, EmptyReceiveBufferReadsZero) {
    EXPECT_EQ(uart.read_reg(Uart16550::kRbrThr), 0);
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x01, 0);
}

TEST_F(UartFixture, DrainsHostInputOnlyAsFarAsFifoRoom) {
    SerialInput input;
    ASSERT_TRUE(input.push("0123456789abcdefXYZ"));
    uart.write_reg(Uart16550::kIirFcr, 0x01);
    uart.drain(input);
    EXPECT_EQ(input.size(), 3u);
    EXPECT_EQ(uart.read_reg(Uart16550::kLsr) & 0x02, 0);  // nothing lost
    EXPECT_EQ(uart.read_reg(Uart16550::kRbrThr), '0');
    uart.drain(input);
    EXPECT_EQ(input.size(), 2u);
}

TEST(SerialInput, BoundedAndSafeAcrossThreads) {
    SerialInput input;
    std::thread t([&] {
        for (int i = 0; i < 1000; ++i) input.push("ab");
    });
    std::uint8_t buf[64];
    std::size_t got = 0;
    while (got < 2000) got += input.pop(buf, sizeof buf);
    t.join();
    EXPECT_EQ(got, 2000u);
    std::string big(SerialInput::kLimitBytes + 10, 'x');
    EXPECT_FALSE(input.push(big));
    EXPECT_EQ(input.size(), SerialInput::kLimitBytes);
}

TEST(Uart, RegistersEightPortsAtCom1) {
    qxlbox::machine::PortSpace ports;  // outlives the device's port handle
    Scheduler clock;
    LevelSink irq;
    std::string out;
    Uart16550 uart(clock, qxlbox::machine::IrqLine(&irq, 4), [&](std::uint8_t b) { out.push_back(static_cast<char>(b)); });
    ASSERT_TRUE(uart.attach(ports));
    ports.out(0x3f8, 1, 'Q');
    EXPECT_EQ(out, "Q");
    ports.out(0x3f8, 2, 'W');  // word access is not declared: dropped
    EXPECT_EQ(out, "Q");
    EXPECT_EQ(ports.in(0x3fd, 1) & 0x60, 0x60u);
}
