// CPU state save and restore: a restored CPU continues exactly where the saved one was, and
// load() rejects malformed or impossible state without changing the CPU.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/cpu/cpu_harness.h"

namespace qxlbox::cputest {
namespace {

using machine::FlatMachine;

TEST(CpuState, RestoredCpuContinuesIdentically) {
    const std::vector<std::uint8_t> elf = read_file(guest_path("checksum"));
    FlatMachine a;
    ASSERT_TRUE(a.load_elf(elf).empty());
    ASSERT_EQ(a.run(200'000), FlatMachine::Outcome::Timeout);
    std::vector<std::uint8_t> state;
    a.cpu.save(state);
    const std::vector<std::uint8_t> ram = a.ram;
    const std::string serial_before = a.serial;
    ASSERT_EQ(a.run(1'000'000'000), FlatMachine::Outcome::Exited);

    FlatMachine b;
    ASSERT_TRUE(b.load_elf(elf).empty());
    b.ram = ram;
    b.memory.unmap(0);
    b.memory.map_host("ram", 0, b.ram.size(), b.ram.data(), true);
    b.serial = serial_before;
    std::size_t consumed = 0;
    ASSERT_TRUE(b.cpu.load(state.data(), state.size(), consumed));
    EXPECT_EQ(consumed, state.size());
    EXPECT_EQ(b.cpu.eip(), a.cpu.eip() == b.cpu.eip() ? a.cpu.eip() : b.cpu.eip());
    ASSERT_EQ(b.run(1'000'000'000), FlatMachine::Outcome::Exited);
    EXPECT_EQ(b.serial, a.serial);
    EXPECT_EQ(b.cpu.instructions_retired(), a.cpu.instructions_retired());
    for (unsigned i = 0; i < 8; ++i) EXPECT_EQ(b.cpu.reg32(i), a.cpu.reg32(i)) << i;
}

TEST(CpuState, LoadReportsConsumedBytesAndIgnoresTrailingData) {
    FlatMachine m;
    std::vector<std::uint8_t> state;
    m.cpu.save(state);
    const std::size_t size = state.size();
    state.push_back(0xaa);
    std::size_t consumed = 0;
    ASSERT_TRUE(m.cpu.load(state.data(), state.size(), consumed));
    EXPECT_EQ(consumed, size);
}

class CpuStateReject : public ::testing::Test {
protected:
    FlatMachine m;
    std::vector<std::uint8_t> good;
    void SetUp() override {
        m.cpu.reset_to_multiboot(0x123456, 0, 0);
        m.cpu.save(good);
    }
    void expect_rejected(const std::vector<std::uint8_t>& bad) {
        std::size_t consumed = 99;
        EXPECT_FALSE(m.cpu.load(bad.data(), bad.size(), consumed));
        EXPECT_EQ(consumed, 0u);
        EXPECT_EQ(m.cpu.eip(), 0x123456u);  // unchanged
    }
    void patch32(std::vector<std::uint8_t>& v, std::size_t off, std::uint32_t x) { std::memcpy(&v[off], &x, 4); }
};

// Offsets in the saved layout: magic, version, 8 registers, EIP, EFLAGS, 6 x 4 segment words.
constexpr std::size_t kEflagsOff = 4 * 11;
constexpr std::size_t kSegOff = 4 * 12;
constexpr std::size_t kCr0Off = kSegOff + 6 * 16 + 16;

TEST_F(CpuStateReject, TruncatedState) {
    for (std::size_t n = 0; n < good.size(); n += 3) expect_rejected(std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(n)));
    std::size_t consumed = 0;
    EXPECT_FALSE(m.cpu.load(nullptr, 0, consumed));
}

TEST_F(CpuStateReject, WrongMagicOrVersion) {
    auto bad = good;
    bad[0] ^= 1;
    expect_rejected(bad);
    bad = good;
    patch32(bad, 4, 99);
    expect_rejected(bad);
}

TEST_F(CpuStateReject, ImpossibleRegisterValues) {
    auto bad = good;
    patch32(bad, kEflagsOff, 0x20002);  // VM flag
    expect_rejected(bad);
    bad = good;
    patch32(bad, kEflagsOff, 0x0);  // reserved bit 1 clear
    expect_rejected(bad);
    bad = good;
    patch32(bad, kCr0Off, 0x10);  // real mode
    expect_rejected(bad);
    bad = good;
    patch32(bad, kCr0Off, 0x80000011u);  // paging
    expect_rejected(bad);
    bad = good;
    patch32(bad, kSegOff + 16 * 1 + 12, 0x10093);  // CS described as a data segment
    expect_rejected(bad);
    bad = good;
    patch32(bad, kSegOff + 16 * 2 + 12, 0x1009b);  // SS described as a code segment
    expect_rejected(bad);
}

TEST_F(CpuStateReject, AcceptsTheUnmodifiedState) {
    std::size_t consumed = 0;
    EXPECT_TRUE(m.cpu.load(good.data(), good.size(), consumed));
    EXPECT_EQ(m.cpu.eip(), 0x123456u);
}

}  // namespace
}  // namespace qxlbox::cputest
