// Instruction fetch (the decode pointer runs straight over guest RAM, so stores into code must
// be seen by the very next fetch), the CS limit on sequential execution, page-straddling
// instructions, the fault report's history across REP instructions, and the GDT that the
// multiboot reset leaves loaded.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "machine/bus.h"
#include "machine/clock.h"
#include "machine/cpu/cpu.h"
#include "machine/loader/multiboot.h"
#include "tests/cpu/cpu_harness.h"

namespace qxlbox::cputest {
namespace {

using machine::Cpu;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kRamBytes = 2u << 20;
constexpr std::uint32_t kMain = 0x100000;
constexpr std::uint32_t kStackTop = 0x90000;

void put(Bytes& b, std::uint32_t v, int n = 4) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Machine code placed at a known address; branch displacements are computed from it.
struct Code {
    std::uint32_t at;
    Bytes bytes;
    std::uint32_t here() const { return at + static_cast<std::uint32_t>(bytes.size()); }
    Code& raw(std::initializer_list<std::uint8_t> b) { bytes.insert(bytes.end(), b); return *this; }
    Code& mov(unsigned reg, std::uint32_t v) { bytes.push_back(static_cast<std::uint8_t>(0xb8 + reg)); put(bytes, v); return *this; }
    Code& call(std::uint32_t target) { bytes.push_back(0xe8); put(bytes, target - (here() + 4)); return *this; }
    Code& jnz(std::uint32_t target) {
        const std::int32_t disp = static_cast<std::int32_t>(target - (here() + 2));
        bytes.push_back(0x75);
        bytes.push_back(static_cast<std::uint8_t>(disp));
        return *this;
    }
    Code& ljmp(std::uint16_t sel, std::uint32_t target) { bytes.push_back(0xea); put(bytes, target); put(bytes, sel, 2); return *this; }
};

class CpuCodeFetch : public ::testing::Test {
protected:
    machine::AddressSpace mem;
    machine::PortSpace ports;
    machine::Scheduler clock;
    std::vector<std::uint8_t> ram = std::vector<std::uint8_t>(kRamBytes, 0);
    Cpu cpu{mem, ports, clock};

    CpuCodeFetch() { mem.map_host("ram", 0, kRamBytes, ram.data(), true); }
    void load(const Code& c) { std::memcpy(ram.data() + c.at, c.bytes.data(), c.bytes.size()); }
    std::uint32_t ram32(std::uint32_t a) const { std::uint32_t v = 0; std::memcpy(&v, ram.data() + a, 4); return v; }
    Cpu::Stop run_from(std::uint32_t eip) {
        cpu.reset_to_multiboot(eip, 0, 0);
        cpu.set_reg32(4, kStackTop);
        return run_guarded();
    }
    Cpu::Stop run_guarded() {
        const auto guard = clock.schedule_in(1'000'000, [] {});
        const Cpu::Stop stop = cpu.run();
        clock.cancel(guard);
        return stop;
    }
};

TEST_F(CpuCodeFetch, StoreIntoTheNextInstructionIsExecuted) {
    Code c{kMain, {}};
    c.raw({0xc6, 0x05}); put(c.bytes, kMain + 8); c.raw({0x42});  // mov byte [imm byte of the next mov], 0x42
    c.mov(0, 0x11111111).raw({0xf4});
    load(c);
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.reg32(0), 0x11111142u);
}

TEST_F(CpuCodeFetch, LoopSeesItsPatchedImmediateOnEveryPass) {
    Code c{kMain, {}};
    c.mov(1, 3).raw({0x31, 0xdb});       // mov ecx,3; xor ebx,ebx
    const std::uint32_t loop = c.here();
    c.mov(0, 1).raw({0x01, 0xc3});       // mov eax,imm (patched); add ebx,eax
    c.raw({0xfe, 0x05}); put(c.bytes, loop + 1);  // inc byte [imm of the mov]
    c.raw({0x49}).jnz(loop).raw({0xf4});  // dec ecx; jnz loop; hlt
    load(c);
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.reg32(0), 3u);
    EXPECT_EQ(cpu.reg32(3), 1u + 2u + 3u);
}

TEST_F(CpuCodeFetch, FunctionOverwrittenByRepMovsRunsTheNewCode) {
    constexpr std::uint32_t kFunc = 0x101000, kNewCode = 0x102000;
    load(Code{kFunc, {0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3}});     // mov eax,1; ret
    load(Code{kNewCode, {0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3}});  // mov eax,2; ret
    Code c{kMain, {}};
    c.call(kFunc).raw({0x89, 0xc3});                              // call; mov ebx,eax
    c.mov(6, kNewCode).mov(7, kFunc).mov(1, 6).raw({0xf3, 0xa4});  // rep movsb the new body over it
    c.call(kFunc).raw({0xf4});
    load(c);
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.reg32(3), 1u);
    EXPECT_EQ(cpu.reg32(0), 2u);
}

TEST_F(CpuCodeFetch, InstructionStraddlingAPageEndDecodes) {
    constexpr std::uint32_t kStart = 0x100ff0;
    Code c{kStart, Bytes(13, 0x90)};  // nops up to 0x100ffd
    c.mov(0, 0x12345678).raw({0x40, 0xf4});  // the mov spans 0x100ffd..0x101001
    load(c);
    ASSERT_EQ(run_from(kStart), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.reg32(0), 0x12345679u);
    EXPECT_EQ(cpu.eip(), 0x101004u);
    // Patching the half in the next page is seen too.
    ram[0x101001] = 0x7f;
    ASSERT_EQ(run_from(kStart), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.reg32(0), 0x7f345679u);
}

// GDT at 0x3000: null, flat code 0x08, flat data 0x10, code 0x18 with byte limit 0x80807.
// IDT at 0x4000 with #GP going to a HLT at 0x600 through 0x08.
void setup_limited_cs(std::vector<std::uint8_t>& ram, Code& c) {
    const std::uint64_t gdt[] = {0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull, 0x00489a0000000807ull};
    std::memcpy(ram.data() + 0x3000, gdt, sizeof gdt);
    const std::uint8_t gate[8] = {0x00, 0x06, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00};
    std::memcpy(ram.data() + 0x4000 + 13 * 8, gate, 8);
    ram[0x600] = 0xf4;
    const std::uint8_t gdtr[6] = {sizeof gdt - 1, 0, 0x00, 0x30, 0, 0};
    const std::uint8_t idtr[6] = {0xff, 0x00, 0x00, 0x40, 0, 0};
    std::memcpy(ram.data() + 0x5000, gdtr, 6);
    std::memcpy(ram.data() + 0x5008, idtr, 6);
    c.raw({0x0f, 0x01, 0x15}); put(c.bytes, 0x5000);  // lgdt
    c.raw({0x0f, 0x01, 0x1d}); put(c.bytes, 0x5008);  // lidt
}

TEST_F(CpuCodeFetch, RunningPastTheCsLimitRaisesGpAtTheFirstByteOutside) {
    Code c{kMain, {}};
    setup_limited_cs(ram, c);
    c.ljmp(0x18, 0x80800);
    load(c);
    load(Code{0x80800, Bytes(8, 0x40)});  // eight inc eax, the last one ending at the limit
    ram[0x80808] = 0xf4;                   // would be the hlt, but lies outside
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.eip(), 0x601u) << "halted in the #GP handler";
    EXPECT_EQ(cpu.reg32(0), 8u);
    const std::uint32_t esp = cpu.reg32(4);
    EXPECT_EQ(ram32(esp), 0u);             // error code
    EXPECT_EQ(ram32(esp + 4), 0x80808u);   // faulting EIP
    EXPECT_EQ(ram32(esp + 8), 0x18u);      // CS
}

TEST_F(CpuCodeFetch, NearBranchesPastTheCsLimitRaiseGpAtTheBranch) {
    for (const Bytes& branch : {Bytes{0xeb, 0x10}, Bytes{0x74, 0x10}, Bytes{0xe9, 0x10, 0, 0, 0}, Bytes{0xe8, 0x10, 0, 0, 0}}) {
        Code c{kMain, {}};
        setup_limited_cs(ram, c);
        c.raw({0x31, 0xc0}).ljmp(0x18, 0x80800);  // xor eax,eax (ZF=1 for the jz)
        load(c);
        load(Code{0x80800, branch});
        ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted) << "branch opcode " << int(branch[0]);
        EXPECT_EQ(cpu.eip(), 0x601u) << "halted in the #GP handler, branch opcode " << int(branch[0]);
        const std::uint32_t esp = cpu.reg32(4);
        EXPECT_EQ(ram32(esp + 4), 0x80800u) << "the branch itself faults";
        EXPECT_EQ(esp, kStackTop - 16) << "a faulting call pushes nothing";
    }
}

TEST_F(CpuCodeFetch, NearBranchesInsideTheCsLimitStayOnThePage) {
    Code c{kMain, {}};
    setup_limited_cs(ram, c);
    c.raw({0x31, 0xc0}).ljmp(0x18, 0x80800);
    load(c);
    // inc eax; jmp over two nops; inc eax; hlt
    load(Code{0x80800, {0x40, 0xeb, 0x02, 0x90, 0x90, 0x40, 0xf4}});
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.eip(), 0x80807u);
    EXPECT_EQ(cpu.reg32(0), 2u);
}

TEST_F(CpuCodeFetch, CodeInsideTheCsLimitRunsNormally) {
    Code c{kMain, {}};
    setup_limited_cs(ram, c);
    c.ljmp(0x18, 0x80800);
    load(c);
    load(Code{0x80800, {0x40, 0x40, 0xf4}});
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.eip(), 0x80803u);
    EXPECT_EQ(cpu.reg32(0), 2u);
    EXPECT_EQ(cpu.selector(1), 0x18);
}

// The instruction lines of fault_report(), in order.
std::vector<std::string> report_lines(const std::string& report) {
    std::vector<std::string> out;
    std::istringstream in(report);
    std::string line;
    while (std::getline(in, line))
        if (line.size() > 12 && line.compare(0, 2, "  ") == 0 && line[10] == ':') out.push_back(line.substr(12));
    return out;
}

TEST_F(CpuCodeFetch, HistoryAndRetiredCountStayExactAcrossRepInstructions) {
    Code c{kMain, {}};
    c.raw({0x40, 0x43}).mov(1, 100).mov(7, 0x20000).raw({0xf3, 0xaa, 0x42, 0xf4});  // ... rep stosb; inc edx; hlt
    load(c);
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.instructions_retired(), 7u);
    const std::vector<std::string> lines = report_lines(cpu.fault_report());
    ASSERT_EQ(lines.size(), 7u) << cpu.fault_report();
    EXPECT_EQ(lines[0], "inc eax");
    EXPECT_EQ(lines[1], "inc ebx");
    EXPECT_NE(lines[4].find("stosb"), std::string::npos) << lines[4];
    EXPECT_EQ(lines[5], "inc edx");
    EXPECT_EQ(lines[6], "hlt");
}

TEST_F(CpuCodeFetch, RepInterruptedByADeadlineResumesWhereItStopped) {
    Code c{kMain, {}};
    c.mov(1, 5000).mov(7, 0x20000).mov(0, 0x5a).raw({0xf3, 0xaa, 0xf4});  // rep stosb 5000 bytes
    load(c);
    cpu.reset_to_multiboot(kMain, 0, 0);
    cpu.set_reg32(4, kStackTop);
    const auto early = clock.schedule_in(10, [] {});
    ASSERT_EQ(cpu.run(), Cpu::Stop::Deadline);
    clock.run_due();
    EXPECT_EQ(cpu.eip(), kMain + 15) << "stopped on the rep stosb";
    EXPECT_GT(cpu.reg32(1), 0u);
    EXPECT_LT(cpu.reg32(1), 5000u);
    EXPECT_FALSE(clock.cancel(early)) << "the early deadline has run";
    ASSERT_EQ(run_guarded(), Cpu::Stop::Halted);
    EXPECT_EQ(cpu.reg32(1), 0u);
    EXPECT_EQ(ram[0x20000 + 4999], 0x5a);
    EXPECT_EQ(ram[0x20000 + 5000], 0);
}

// ---- the multiboot entry state

class CpuMultiboot : public CpuCodeFetch {};

TEST_F(CpuMultiboot, ResetLeavesAFlatGdtThatSegmentReloadsUse) {
    ASSERT_TRUE(machine::write_multiboot_gdt(mem));
    Code c{kMain, {}};
    c.raw({0x0f, 0x01, 0x05}); put(c.bytes, 0x2000);  // sgdt [0x2000]
    c.raw({0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0});  // mov ax,0x10; mov ds/es/ss,ax
    c.ljmp(0x08, c.here() + 7).raw({0xf4});
    load(c);
    ASSERT_EQ(run_from(kMain), Cpu::Stop::Halted) << cpu.fault_report();
    EXPECT_EQ(cpu.eip(), c.here());
    std::uint16_t limit = 0;
    std::memcpy(&limit, ram.data() + 0x2000, 2);
    EXPECT_EQ(limit, machine::kMultibootGdtLimit);
    EXPECT_EQ(ram32(0x2002), machine::kMultibootGdtAddress);
    EXPECT_EQ(cpu.selector(1), 0x08);
    EXPECT_EQ(cpu.selector(3), 0x10);
    EXPECT_EQ(cpu.selector(2), 0x10);
    // The descriptors are flat 4 GiB ring-0 code and data.
    EXPECT_EQ(ram32(machine::kMultibootGdtAddress + 8), 0x0000ffffu);
    EXPECT_EQ(ram32(machine::kMultibootGdtAddress + 12), 0x00cf9b00u);
    EXPECT_EQ(ram32(machine::kMultibootGdtAddress + 20), 0x00cf9300u);
}

TEST_F(CpuMultiboot, SelectorBeyondTheTableFaults) {
    ASSERT_TRUE(machine::write_multiboot_gdt(mem));
    load(Code{kMain, {0x66, 0xb8, 0x18, 0x00, 0x8e, 0xd8, 0xf4}});  // mov ax,0x18; mov ds,ax
    // No IDT at multiboot entry: the #GP cannot be delivered and ends in a triple fault.
    EXPECT_EQ(run_from(kMain), Cpu::Stop::Fault);
}

TEST_F(CpuMultiboot, WithoutTheTableSegmentReloadsFault) {
    load(Code{kMain, {0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0xf4}});  // RAM at the GDT address is zero
    EXPECT_EQ(run_from(kMain), Cpu::Stop::Fault);
}

TEST(CpuMultibootLoader, LoaderWritesTheGdtThatResetPointsAt) {
    machine::AddressSpace mem;
    std::vector<std::uint8_t> ram(16u << 20, 0);
    mem.map_host("ram", 0, ram.size(), ram.data(), true);
    machine::MultibootImage image;
    image.kernel = read_file(guest_path("checksum"));
    ASSERT_FALSE(image.kernel.empty());
    image.cmdline = "checksum";
    const machine::MultibootLoadResult r = machine::load_multiboot(mem, ram.size(), image);
    ASSERT_TRUE(r.ok) << r.error;
    std::uint64_t code = 0, data = 0;
    std::memcpy(&code, ram.data() + machine::kMultibootGdtAddress + 8, 8);
    std::memcpy(&data, ram.data() + machine::kMultibootGdtAddress + 16, 8);
    EXPECT_EQ(code, 0x00cf9b000000ffffull);
    EXPECT_EQ(data, 0x00cf93000000ffffull);
}

}  // namespace
}  // namespace qxlbox::cputest
