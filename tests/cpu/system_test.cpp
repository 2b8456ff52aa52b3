// System behaviour, as small machine-code snippets: IDT delivery and IRET, exceptions and their
// error codes, double and triple faults, HLT wake-up, the STI interrupt shadow, port I/O,
// segment loads, control registers, the run-loop stop conditions and the trace.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <tuple>

#include "tests/cpu/cpu_diff.h"

namespace qxlbox::cputest {
namespace {

using machine::Cpu;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kCode = NATIVE_CODE_ADDR;
constexpr std::uint32_t kHandler = kCode + 0x100;  // custom handler code
constexpr std::uint32_t kStackTop = NATIVE_STACK_ADDR + 0x800;

void put(Bytes& b, std::uint32_t v, int n = 4) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
Bytes mov_r32(unsigned r, std::uint32_t v) { Bytes b{static_cast<std::uint8_t>(0xb8 + r)}; put(b, v); return b; }
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

class FakePic : public machine::InterruptController {
public:
    bool pending = false;
    std::uint8_t vector = 0x30;
    int acks = 0;
    bool intr_pending() const override { return pending; }
    std::uint8_t acknowledge() override { pending = false; ++acks; return vector; }
};

class CpuSystem : public ::testing::Test {
protected:
    EmuEnv env;
    Cpu& cpu() { return env.cpu(); }
    void load(const Bytes& code, std::uint32_t at = kCode) { std::memcpy(env.code() + (at - kCode), code.data(), code.size()); }
    Cpu::Stop run(const Bytes& code, std::uint32_t eflags = 0x2) {
        load(code);
        cpu().set_reg32(4, kStackTop);
        cpu().set_eflags(eflags);
        cpu().set_eip(kCode);
        return run_guarded();
    }
    Cpu::Stop run_guarded() {
        const auto guard = env.clock().schedule_in(100'000, [] {});
        const Cpu::Stop stop = cpu().run();
        env.clock().cancel(guard);
        return stop;
    }
    std::uint32_t stack32(unsigned offset) {
        const std::uint32_t esp = cpu().reg32(4);
        std::uint32_t v = 0;
        std::memcpy(&v, env.stack() + (esp - NATIVE_STACK_ADDR) + offset, 4);
        return v;
    }
    // Vector of the HLT stub the CPU stopped in, or -1.
    int stopped_in_vector() {
        const std::uint32_t eip = cpu().eip();
        if (eip > EmuEnv::kHandlers && eip <= EmuEnv::kHandlers + 64) return static_cast<int>(eip - EmuEnv::kHandlers - 1);
        return -1;
    }
    // Runs `code`, expects exception `vector`; returns the error code (or ~0 when none expected).
    void expect_exception(const Bytes& code, int vector, bool has_error, std::uint32_t error, std::uint32_t fault_eip) {
        ASSERT_EQ(run(code), Cpu::Stop::Halted);
        ASSERT_EQ(stopped_in_vector(), vector) << "eip " << std::hex << cpu().eip();
        if (has_error) {
            EXPECT_EQ(stack32(0), error);
            EXPECT_EQ(stack32(4), fault_eip);
            EXPECT_EQ(stack32(8), 0x08u);
            EXPECT_EQ(cpu().reg32(4), kStackTop - 16);
        } else {
            EXPECT_EQ(stack32(0), fault_eip);
            EXPECT_EQ(stack32(4), 0x08u);
            EXPECT_EQ(cpu().reg32(4), kStackTop - 12);
        }
    }
};

TEST_F(CpuSystem, IntDeliversThroughInterruptGateAndIretReturns) {
    env.set_gate(0x30, kHandler, 0x08, 0x8e);
    // handler: pushf; pop edx; mov ebx,[esp+8]; mov ecx,0x1234; iret
    load({0x9c, 0x5a, 0x8b, 0x5c, 0x24, 0x08, 0xb9, 0x34, 0x12, 0x00, 0x00, 0xcf}, kHandler);
    // int 0x30; inc eax; hlt
    ASSERT_EQ(run({0xcd, 0x30, 0x40, 0xf4}, 0x202), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().eip(), kCode + 4);
    EXPECT_EQ(cpu().reg32(1), 0x1234u);
    EXPECT_EQ(cpu().reg32(0) & 0xff, 1u);
    EXPECT_EQ(cpu().reg32(4), kStackTop);
    EXPECT_EQ(cpu().reg32(3) & 0x200, 0x200u);  // saved EFLAGS had IF
    EXPECT_EQ(cpu().reg32(2) & 0x200, 0u);      // the interrupt gate cleared IF
    EXPECT_EQ(cpu().eflags() & 0x200, 0x200u);  // IRET restored it
}

TEST_F(CpuSystem, TrapGateKeepsInterruptsEnabled) {
    env.set_gate(0x31, kHandler, 0x08, 0x8f);
    load({0x9c, 0x5a, 0xcf}, kHandler);  // pushf; pop edx; iret
    ASSERT_EQ(run({0xcd, 0x31, 0xf4}, 0x202), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().reg32(2) & 0x200, 0x200u);
}

TEST_F(CpuSystem, DivideErrorIsAFaultWithoutErrorCode) {
    expect_exception({0x31, 0xc9, 0xf7, 0xf1, 0xf4}, 0, false, 0, kCode + 2);  // xor ecx,ecx; div ecx
}

TEST_F(CpuSystem, InvalidOpcodeFaultsAtTheInstruction) {
    expect_exception({0x90, 0x0f, 0x0b}, 6, false, 0, kCode + 1);               // ud2
    expect_exception({0x90, 0xd9, 0xe8}, 6, false, 0, kCode + 1);               // fld1: no FPU
    expect_exception({0xf0, 0x01, 0xc0}, 6, false, 0, kCode);                   // lock add eax,eax
    expect_exception({0x0f, 0x22, 0xc8}, 6, false, 0, kCode);                   // mov cr1,eax
}

TEST_F(CpuSystem, SoftwareInterruptsPushTheNextInstruction) {
    expect_exception({0x90, 0xcc}, 3, false, 0, kCode + 2);                     // int3
    // mov eax,0x7fffffff; inc eax (OF=1); into
    expect_exception(cat({mov_r32(0, 0x7fffffff), {0x40, 0xce}}), 4, false, 0, kCode + 7);
}

TEST_F(CpuSystem, BoundRaisesBoundRangeFault) {
    std::int32_t bounds[2] = {10, 20};
    std::memcpy(env.data(), bounds, 8);
    // mov ebx,data; mov eax,21; bound eax,[ebx]
    expect_exception(cat({mov_r32(3, NATIVE_DATA_ADDR), mov_r32(0, 21), {0x62, 0x03}}), 5, false, 0, kCode + 10);
    // in range: no fault
    ASSERT_EQ(run(cat({mov_r32(3, NATIVE_DATA_ADDR), mov_r32(0, 15), {0x62, 0x03, 0xf4}})), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().eip(), kCode + 13);
}

TEST_F(CpuSystem, SegmentLoadsCheckTheDescriptor) {
    // mov ax,sel; mov ds,ax
    auto load_ds = [](std::uint16_t sel) { Bytes b{0x66, 0xb8}; put(b, sel, 2); b.insert(b.end(), {0x8e, 0xd8, 0xf4}); return b; };
    auto load_ss = [](std::uint16_t sel) { Bytes b{0x66, 0xb8}; put(b, sel, 2); b.insert(b.end(), {0x8e, 0xd0, 0xf4}); return b; };
    expect_exception(load_ds(0x38), 13, true, 0x38, kCode + 4);  // beyond the GDT limit
    expect_exception(load_ds(0x20), 11, true, 0x20, kCode + 4);  // not present
    expect_exception(load_ds(0x30), 13, true, 0x30, kCode + 4);  // execute-only code
    expect_exception(load_ds(0x0c), 13, true, 0x0c, kCode + 4);  // LDT selector: no LDT
    expect_exception(load_ss(0x20), 12, true, 0x20, kCode + 4);  // not-present stack
    expect_exception(load_ss(0x28), 13, true, 0x28, kCode + 4);  // read-only stack
    expect_exception(load_ss(0x00), 13, true, 0x00, kCode + 4);  // null stack
    // valid loads
    ASSERT_EQ(run(load_ds(0x10)), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().selector(3), 0x10);
    EXPECT_EQ(env.tables()[0x10 + 5] & 1, 1);  // accessed bit set in the GDT
    ASSERT_EQ(run(load_ds(0x00)), Cpu::Stop::Halted);  // null DS is allowed ...
    EXPECT_EQ(cpu().selector(3), 0);
}

TEST_F(CpuSystem, NullAndLimitedSegmentsFaultOnAccess) {
    // xor eax,eax; mov ds,ax; mov eax,[0x100]
    expect_exception({0x31, 0xc0, 0x8e, 0xd8, 0xa1, 0x00, 0x01, 0x00, 0x00}, 13, true, 0, kCode + 4);
    // mov ax,0x18 (limit 0xfff); mov es,ax; mov eax,es:[0xffe] -> crosses the limit
    expect_exception({0x66, 0xb8, 0x18, 0x00, 0x8e, 0xc0, 0x26, 0xa1, 0xfe, 0x0f, 0x00, 0x00}, 13, true, 0, kCode + 6);
    // the same with an offset inside the limit works
    ASSERT_EQ(run({0x66, 0xb8, 0x18, 0x00, 0x8e, 0xc0, 0x26, 0xa1, 0xf0, 0x0f, 0x00, 0x00, 0xf4}), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().eip(), kCode + 13);
    // write to a read-only data segment
    expect_exception({0x66, 0xb8, 0x28, 0x00, 0x8e, 0xc0, 0x26, 0xa3, 0x00, 0x00, 0x00, 0x10}, 13, true, 0, kCode + 6);
}

TEST_F(CpuSystem, FarJumpCallAndReturnReloadCs) {
    // jmp far 0x08:target; target: call far 0x08:func; hlt; func: mov ecx,5; retf
    Bytes code{0xea};
    put(code, kCode + 7);
    put(code, 0x08, 2);
    code.push_back(0x9a);  // at +7
    put(code, kCode + 15);
    put(code, 0x08, 2);
    code.push_back(0xf4);                                                 // +14
    code.insert(code.end(), {0xb9, 0x05, 0x00, 0x00, 0x00, 0xcb});      // +15
    ASSERT_EQ(run(code), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().eip(), kCode + 15);
    EXPECT_EQ(cpu().reg32(1), 5u);
    EXPECT_EQ(cpu().reg32(4), kStackTop);
    EXPECT_EQ(cpu().selector(1), 0x08);
    // far jump to a data segment faults with its selector
    Bytes bad{0xea};
    put(bad, kCode);
    put(bad, 0x10, 2);
    expect_exception(bad, 13, true, 0x10, kCode);
    // far jump to a not-present code segment
    env.tables()[0x30 + 5] &= 0x7f;
    Bytes np{0xea};
    put(np, kCode);
    put(np, 0x30, 2);
    expect_exception(np, 11, true, 0x30, kCode);
}

TEST_F(CpuSystem, InterruptGateProblemsRaiseIdtErrorCodes) {
    expect_exception({0xcd, 0x50}, 13, true, 0x50 * 8 + 2, kCode);  // beyond the IDT limit
    env.set_gate(0x31, kHandler, 0x08, 0x0e);                        // not present
    expect_exception({0xcd, 0x31}, 11, true, 0x31 * 8 + 2, kCode);
    env.set_gate(0x32, kHandler, 0x08, 0x85);                        // task gate: not modelled
    expect_exception({0xcd, 0x32}, 13, true, 0x32 * 8 + 2, kCode);
}

TEST_F(CpuSystem, FaultDuringDeliveryBecomesDoubleFaultThenTripleFault) {
    env.set_gate(13, kHandler, 0x08, 0x0e);  // #GP gate not present
    // mov ds,0x38 -> #GP -> #NP while delivering it -> #DF(0)
    expect_exception({0x66, 0xb8, 0x38, 0x00, 0x8e, 0xd8}, 8, true, 0, kCode + 4);
    env.set_gate(8, kHandler, 0x08, 0x0e);   // #DF gate not present too
    ASSERT_EQ(run({0x66, 0xb8, 0x38, 0x00, 0x8e, 0xd8}), Cpu::Stop::Fault);
    const std::string report = cpu().fault_report();
    EXPECT_NE(report.find("triple fault"), std::string::npos) << report;
    EXPECT_NE(report.find("mov"), std::string::npos) << report;
    EXPECT_EQ(cpu().run(), Cpu::Stop::Fault);  // stays stopped
}

TEST_F(CpuSystem, BenignExceptionDuringDeliveryIsNotADoubleFault) {
    env.set_gate(6, kHandler, 0x08, 0x0e);  // #UD gate not present: #UD then #NP is not a #DF
    expect_exception({0x0f, 0x0b}, 11, true, 6 * 8 + 2 + 1, kCode);
}

TEST_F(CpuSystem, HltStopsUntilAnInterruptArrives) {
    FakePic pic;
    cpu().set_interrupt_controller(&pic);
    env.set_gate(0x30, kHandler, 0x08, 0x8e);
    load({0xb9, 0x07, 0x00, 0x00, 0x00, 0xcf}, kHandler);  // mov ecx,7; iret
    // sti; hlt; inc eax; hlt
    ASSERT_EQ(run({0xfb, 0xf4, 0x40, 0xf4}, 0x2), Cpu::Stop::Halted);
    EXPECT_TRUE(cpu().halted());
    EXPECT_EQ(cpu().eip(), kCode + 2);
    EXPECT_EQ(run_guarded(), Cpu::Stop::Halted);  // still nothing to do
    pic.pending = true;
    EXPECT_EQ(run_guarded(), Cpu::Stop::Halted);
    EXPECT_EQ(pic.acks, 1);
    EXPECT_EQ(cpu().reg32(1), 7u);
    EXPECT_EQ(cpu().reg32(0) & 0xff, 1u);
    EXPECT_EQ(cpu().eip(), kCode + 4);
    cpu().set_interrupt_controller(nullptr);
}

TEST_F(CpuSystem, HltWithInterruptsDisabledIgnoresThePic) {
    FakePic pic;
    pic.pending = true;
    cpu().set_interrupt_controller(&pic);
    ASSERT_EQ(run({0xfa, 0xf4, 0x40}, 0x2), Cpu::Stop::Halted);  // cli; hlt
    EXPECT_EQ(run_guarded(), Cpu::Stop::Halted);
    EXPECT_EQ(pic.acks, 0);
    cpu().set_interrupt_controller(nullptr);
}

TEST_F(CpuSystem, StiShadowsExactlyOneInstruction) {
    FakePic pic;
    cpu().set_interrupt_controller(&pic);
    env.set_gate(0x30, kHandler, 0x08, 0x8e);
    load({0x89, 0xc1, 0xcf}, kHandler);  // mov ecx,eax; iret
    pic.pending = true;
    // xor eax,eax; sti; inc eax; inc eax; inc eax; hlt
    ASSERT_EQ(run({0x31, 0xc0, 0xfb, 0x40, 0x40, 0x40, 0xf4}, 0x2), Cpu::Stop::Halted);
    EXPECT_EQ(pic.acks, 1);
    EXPECT_EQ(cpu().reg32(1), 1u);  // taken after the one instruction behind STI
    EXPECT_EQ(cpu().reg32(0), 3u);
    // With IF already set the interrupt is taken before the first instruction.
    pic.pending = true;
    ASSERT_EQ(run({0x40, 0x40, 0xf4}, 0x202), Cpu::Stop::Halted);
    EXPECT_EQ(pic.acks, 2);
    EXPECT_EQ(cpu().reg32(1), 3u);  // EAX as left by the previous run
    // MOV SS shadows too: mov ax,0x10; mov ss,ax; inc ebx; inc ebx
    pic.pending = true;
    cpu().set_reg32(3, 0);
    load({0x89, 0xd9, 0xcf}, kHandler);  // mov ecx,ebx; iret
    ASSERT_EQ(run({0x66, 0xb8, 0x10, 0x00, 0xfa, 0xfb, 0x8e, 0xd0, 0x43, 0x43, 0xf4}, 0x2), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().reg32(1), 1u);
    cpu().set_interrupt_controller(nullptr);
}

TEST_F(CpuSystem, PortIoInAllWidthsAndForms) {
    std::vector<std::tuple<std::uint16_t, unsigned, std::uint32_t>> writes;
    std::vector<std::pair<std::uint16_t, unsigned>> reads;
    machine::PortOps ops;
    ops.read = [&reads](std::uint16_t off, unsigned size) -> std::uint32_t {
        reads.emplace_back(off, size);
        return 0x11223344u + off;
    };
    ops.write = [&writes](std::uint16_t off, unsigned size, std::uint32_t v) { writes.emplace_back(off, size, v); };
    machine::PortHandle h1 = env.ports().register_ports("test80", 0x80, 4, ops);
    machine::PortHandle h2 = env.ports().register_ports("test1234", 0x1234, 4, ops);
    ASSERT_TRUE(h1.active() && h2.active());
    Bytes code = cat({{0xb0, 0x12, 0xe6, 0x80},                                   // mov al,0x12; out 0x80,al
                      {0x66, 0xb8, 0x56, 0x34, 0x66, 0xe7, 0x81},                 // mov ax,0x3456; out 0x81,ax
                      mov_r32(0, 0x789abcde), {0xe7, 0x80},                       // out 0x80,eax
                      {0x66, 0xba, 0x34, 0x12},                                   // mov dx,0x1234
                      {0xec, 0x88, 0xc3},                                         // in al,dx; mov bl,al
                      {0x66, 0xed, 0x89, 0xc6},                                   // in ax,dx; mov esi,eax
                      {0xed, 0x89, 0xc7},                                         // in eax,dx; mov edi,eax
                      {0xee, 0xe4, 0x83, 0xf4}});                                 // out dx,al; in al,0x83; hlt
    ASSERT_EQ(run(code), Cpu::Stop::Halted);
    ASSERT_EQ(writes.size(), 4u);
    EXPECT_EQ(writes[0], std::make_tuple(std::uint16_t{0}, 1u, 0x12u));
    EXPECT_EQ(writes[1], std::make_tuple(std::uint16_t{1}, 2u, 0x3456u));
    EXPECT_EQ(writes[2], std::make_tuple(std::uint16_t{0}, 4u, 0x789abcdeu));
    EXPECT_EQ(writes[3], std::make_tuple(std::uint16_t{0}, 1u, 0x44u));
    ASSERT_EQ(reads.size(), 4u);
    EXPECT_EQ(reads[1], std::make_pair(std::uint16_t{0}, 2u));
    EXPECT_EQ(cpu().reg32(3) & 0xff, 0x44u);
    EXPECT_EQ(cpu().reg32(6) & 0xffff, 0x3344u);
    EXPECT_EQ(cpu().reg32(7), 0x11223344u);
    EXPECT_EQ(cpu().reg32(0) & 0xff, 0x47u);
    // Unregistered ports read as all ones.
    ASSERT_EQ(run({0x66, 0xba, 0x00, 0x70, 0xed, 0xf4}), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().reg32(0), 0xffffffffu);
}

TEST_F(CpuSystem, RepInsAndOutsMoveBlocksThroughAPort) {
    std::vector<std::uint32_t> written;
    std::uint16_t next = 0x100;
    machine::PortOps ops;
    ops.read = [&next](std::uint16_t, unsigned) -> std::uint32_t { return next++; };
    ops.write = [&written](std::uint16_t, unsigned, std::uint32_t v) { written.push_back(v); };
    machine::PortHandle h = env.ports().register_ports("blk", 0x300, 1, ops);
    const std::uint8_t src[4] = {9, 8, 7, 6};
    std::memcpy(env.data(), src, 4);
    // mov esi,data; mov ecx,4; mov dx,0x300; rep outsb; mov edi,data+16; mov ecx,3; rep insw; hlt
    Bytes code = cat({mov_r32(6, NATIVE_DATA_ADDR), mov_r32(1, 4), {0x66, 0xba, 0x00, 0x03, 0xf3, 0x6e},
                      mov_r32(7, NATIVE_DATA_ADDR + 16), mov_r32(1, 3), {0x66, 0xf3, 0x6d, 0xf4}});
    ASSERT_EQ(run(code), Cpu::Stop::Halted);
    EXPECT_EQ(written, (std::vector<std::uint32_t>{9, 8, 7, 6}));
    std::uint16_t in[3];
    std::memcpy(in, env.data() + 16, 6);
    EXPECT_EQ(in[0], 0x100);
    EXPECT_EQ(in[2], 0x102);
    EXPECT_EQ(cpu().reg32(1), 0u);
    EXPECT_EQ(cpu().reg32(7), NATIVE_DATA_ADDR + 22);
}

TEST_F(CpuSystem, AddressSizePrefixUses16BitAddressing) {
    std::vector<std::uint8_t> low(4096, 0);
    env.memory().map_host("low", 0x1000, 4096, low.data(), true);
    const std::uint32_t v = 0xcafef00d;
    std::memcpy(&low[0x234], &v, 4);
    std::memcpy(&low[0x10], &v, 4);
    // mov ebx,0xabcd1200 (upper half ignored); mov esi,0x34; mov eax,[bx+si] (67 8b 00)
    // mov ebp,0x1000; mov edi,0; mov ecx,[bp+di+0x10] (67 8b 4b 10 uses SS, flat)
    Bytes code = cat({mov_r32(3, 0xabcd1200), mov_r32(6, 0x34), {0x67, 0x8b, 0x00}, mov_r32(5, 0x1000), mov_r32(7, 0),
                      {0x67, 0x8b, 0x4b, 0x10}, {0x67, 0x8d, 0x56, 0xff, 0xf4}});  // lea edx,[bp-1]
    ASSERT_EQ(run(code), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().reg32(0), v);
    EXPECT_EQ(cpu().reg32(1), v);
    EXPECT_EQ(cpu().reg32(2), 0x0fffu);
}

TEST_F(CpuSystem, ControlRegistersCpuidAndRdtsc) {
    // mov eax,cr0; or eax,8; mov cr0,eax; clts; mov ebx,cr0; mov ecx,0x1234000; mov cr3,ecx; mov edx,cr3; hlt
    Bytes code = cat({{0x0f, 0x20, 0xc0, 0x83, 0xc8, 0x08, 0x0f, 0x22, 0xc0, 0x0f, 0x06, 0x0f, 0x20, 0xc3},
                      mov_r32(1, 0x1234000), {0x0f, 0x22, 0xd9, 0x0f, 0x20, 0xda, 0xf4}});
    ASSERT_EQ(run(code), Cpu::Stop::Halted);
    EXPECT_EQ(cpu().reg32(3) & 9, 1u);  // PE set, TS cleared again
    EXPECT_EQ(cpu().reg32(2), 0x1234000u);
    EXPECT_EQ(cpu().control_register(3), 0x1234000u);
    // cpuid leaf 0 and 1
    ASSERT_EQ(run(cat({mov_r32(0, 0), {0x0f, 0xa2, 0xf4}})), Cpu::Stop::Halted);
    char vendor[13] = {};
    const std::uint32_t parts[3] = {cpu().reg32(3), cpu().reg32(2), cpu().reg32(1)};
    std::memcpy(vendor, parts, 12);
    EXPECT_STREQ(vendor, "GenuineIntel");
    ASSERT_EQ(run(cat({mov_r32(0, 1), {0x0f, 0xa2, 0xf4}})), Cpu::Stop::Halted);
    EXPECT_EQ((cpu().reg32(0) >> 8) & 0xf, 6u);
    EXPECT_EQ(cpu().reg32(2) & 0x8110, 0x8110u);  // CMOV, CX8, TSC
    // rdtsc reads the virtual clock
    env.clock().advance_to(env.clock().now() + 5000);
    const std::uint64_t before = env.clock().now();
    ASSERT_EQ(run({0x90, 0x90, 0x0f, 0x31, 0xf4}), Cpu::Stop::Halted);
    const std::uint64_t tsc = (static_cast<std::uint64_t>(cpu().reg32(2)) << 32) | cpu().reg32(0);
    EXPECT_EQ(tsc, before + 2);
}

TEST_F(CpuSystem, EnablingPagingStopsWithAClearMessage) {
    // mov eax,cr0; or eax,0x80000000; mov cr0,eax
    ASSERT_EQ(run({0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xf4}), Cpu::Stop::Fault);
    const std::string report = cpu().fault_report();
    EXPECT_NE(report.find("paging"), std::string::npos) << report;
    EXPECT_EQ(cpu().eip(), kCode + 8);
}

TEST_F(CpuSystem, RunStopsAtTheSchedulerDeadline) {
    const std::uint64_t start = env.clock().now();
    bool fired = false;
    env.clock().schedule_at(start + 50, [&fired] { fired = true; });
    load({0xeb, 0xfe});  // jmp $
    cpu().set_eip(kCode);
    EXPECT_EQ(cpu().run(), Cpu::Stop::Deadline);
    EXPECT_EQ(env.clock().now(), start + 50);
    EXPECT_FALSE(fired);
    env.clock().run_due();
    EXPECT_TRUE(fired);
}

TEST_F(CpuSystem, PortWriteThatSchedulesAnEventEndsTheRunEarly) {
    machine::PortOps ops;
    std::uint64_t scheduled_for = 0;
    ops.read = [](std::uint16_t, unsigned) -> std::uint32_t { return 0; };
    ops.write = [this, &scheduled_for](std::uint16_t, unsigned, std::uint32_t) {
        scheduled_for = env.clock().now() + 3;
        env.clock().schedule_at(scheduled_for, [] {});
    };
    machine::PortHandle h = env.ports().register_ports("timer", 0x90, 1, ops);
    const auto far = env.clock().schedule_in(1'000'000, [] {});
    load({0xe6, 0x90, 0xeb, 0xfe});  // out 0x90,al; jmp $
    cpu().set_eip(kCode);
    EXPECT_EQ(cpu().run(), Cpu::Stop::Deadline);
    EXPECT_EQ(env.clock().now(), scheduled_for);
    env.clock().cancel(far);
}

TEST_F(CpuSystem, RequestStopFromAnotherThread) {
    const auto far = env.clock().schedule_in(1ull << 40, [] {});
    load({0xeb, 0xfe});
    cpu().set_eip(kCode);
    std::thread stopper([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        cpu().request_stop();
    });
    EXPECT_EQ(cpu().run(), Cpu::Stop::StopRequested);
    stopper.join();
    EXPECT_GT(cpu().instructions_retired(), 0u);
    env.clock().cancel(far);
}

TEST_F(CpuSystem, TraceShowsEachInstructionAndNamesUndefinedOnes) {
    char* buf = nullptr;
    std::size_t len = 0;
    std::FILE* mem = open_memstream(&buf, &len);
    ASSERT_NE(mem, nullptr);
    cpu().set_trace(mem);
    run({0x40, 0x43, 0xd8, 0xc1});  // inc eax; inc ebx; fadd st(1)
    cpu().set_trace(nullptr);
    std::fclose(mem);
    const std::string trace(buf, len);
    std::free(buf);
    EXPECT_NE(trace.find("inc eax"), std::string::npos) << trace;
    EXPECT_NE(trace.find("EAX="), std::string::npos) << trace;
    EXPECT_NE(trace.find("#UD"), std::string::npos) << trace;
    EXPECT_NE(trace.find("x87"), std::string::npos) << trace;
    EXPECT_NE(trace.find("fadd"), std::string::npos) << trace;
}

TEST_F(CpuSystem, FaultReportListsRecentInstructions) {
    run({0x40, 0x43, 0x41, 0xf4});
    const std::string report = cpu().fault_report();
    EXPECT_NE(report.find("inc ebx"), std::string::npos) << report;
    EXPECT_NE(report.find("hlt"), std::string::npos) << report;
    EXPECT_NE(report.find("EIP="), std::string::npos) << report;
}

TEST_F(CpuSystem, LgdtLidtAndSgdtRoundTrip) {
    // sgdt [data]; sidt [data+8]; hlt
    Bytes code{0x0f, 0x01, 0x05};
    put(code, NATIVE_DATA_ADDR);
    code.insert(code.end(), {0x0f, 0x01, 0x0d});
    put(code, NATIVE_DATA_ADDR + 8);
    code.push_back(0xf4);
    ASSERT_EQ(run(code), Cpu::Stop::Halted);
    std::uint16_t glimit = 0, ilimit = 0;
    std::uint32_t gbase = 0, ibase = 0;
    std::memcpy(&glimit, env.data(), 2);
    std::memcpy(&gbase, env.data() + 2, 4);
    std::memcpy(&ilimit, env.data() + 8, 2);
    std::memcpy(&ibase, env.data() + 10, 4);
    EXPECT_EQ(glimit, 7 * 8 - 1);
    EXPECT_EQ(gbase, EmuEnv::kTables);
    EXPECT_EQ(ilimit, 0x1ff);
    EXPECT_EQ(ibase, EmuEnv::kIdt);
}

}  // namespace
}  // namespace qxlbox::cputest
