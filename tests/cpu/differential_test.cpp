// Differential tests: every instruction form in scope, with seeded random register, memory and
// flag inputs, runs on the host CPU (32-bit helper process) and on our CPU; registers, the
// defined flags and memory must match. Undefined flags are masked per form (see cpu_core.h).
#include <gtest/gtest.h>

#include <cstring>

#include "tests/cpu/cpu_diff.h"

namespace qxlbox::cputest {
namespace {

constexpr unsigned kCases = 160;
constexpr std::uint32_t kSeed = 0x5eed1234u;
constexpr std::uint32_t kLogicMask = kFlagsAll & ~kAF;

enum class Kind { None, Reg, Mem };

unsigned pick_reg(std::mt19937& rng) {
    for (;;) {
        const unsigned r = rng() % 8;
        if (r != 4) return r;
    }
}

using Fixup = std::function<void(std::mt19937&, NativeCase&)>;
using MaskFn = std::function<std::uint32_t(const NativeCase&)>;

Form form(std::string name, std::vector<std::uint8_t> opcode, Kind kind, int reg_field, int imm_bytes, std::uint32_t mask,
          Fixup fixup = nullptr, MaskFn mask_fn = nullptr) {
    Form f;
    f.name = std::move(name);
    f.make = [opcode, kind, reg_field, imm_bytes, fixup](std::mt19937& rng, NativeCase& c) {
        std::vector<std::uint8_t> b = opcode;
        if (kind != Kind::None) {
            const unsigned reg = reg_field >= 0 ? static_cast<unsigned>(reg_field) : pick_reg(rng);
            if (kind == Kind::Reg) {
                b.push_back(static_cast<std::uint8_t>(0xc0 | reg << 3 | pick_reg(rng)));
            } else {
                b.push_back(static_cast<std::uint8_t>(0x40 | reg << 3 | 3));  // [ebx+disp8]
                b.push_back(static_cast<std::uint8_t>(rng() % 128));
                c.regs[3] = NATIVE_DATA_ADDR + 32;
            }
        }
        for (int i = 0; i < imm_bytes; ++i) b.push_back(static_cast<std::uint8_t>(random_value(rng)));
        std::memcpy(c.code, b.data(), b.size());
        c.code_len = static_cast<std::uint32_t>(b.size());
        if (fixup) fixup(rng, c);
    };
    if (mask_fn) f.flags_mask = std::move(mask_fn);
    else f.flags_mask = [mask](const NativeCase&) { return mask; };
    return f;
}

// Adds the register and the memory variant of a ModRM form.
void both(std::vector<Form>& out, const std::string& name, std::vector<std::uint8_t> opcode, int reg_field, int imm_bytes,
          std::uint32_t mask, Fixup fixup = nullptr, MaskFn mask_fn = nullptr) {
    out.push_back(form(name + " r", opcode, Kind::Reg, reg_field, imm_bytes, mask, fixup, mask_fn));
    out.push_back(form(name + " m", opcode, Kind::Mem, reg_field, imm_bytes, mask, fixup, mask_fn));
}

void expect_match(const std::vector<Form>& forms, unsigned cases = kCases) {
    const std::string report = run_differential(forms, cases, kSeed);
    EXPECT_TRUE(report.empty()) << report;
}

const char* kAluNames[8] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};

TEST(CpuDifferential, AluOperationsMatchHost) {
    std::vector<Form> f;
    for (unsigned op = 0; op < 8; ++op) {
        const std::uint32_t mask = (op == 1 || op == 4 || op == 6) ? kLogicMask : kFlagsAll;
        const std::string n = kAluNames[op];
        const auto base = static_cast<std::uint8_t>(op * 8);
        both(f, n + " Eb,Gb", {base}, -1, 0, mask);
        both(f, n + " Ev,Gv", {static_cast<std::uint8_t>(base + 1)}, -1, 0, mask);
        both(f, n + " Ew,Gw", {0x66, static_cast<std::uint8_t>(base + 1)}, -1, 0, mask);
        both(f, n + " Gb,Eb", {static_cast<std::uint8_t>(base + 2)}, -1, 0, mask);
        both(f, n + " Gv,Ev", {static_cast<std::uint8_t>(base + 3)}, -1, 0, mask);
        both(f, n + " Gw,Ew", {0x66, static_cast<std::uint8_t>(base + 3)}, -1, 0, mask);
        f.push_back(form(n + " al,Ib", {static_cast<std::uint8_t>(base + 4)}, Kind::None, 0, 1, mask));
        f.push_back(form(n + " eax,Id", {static_cast<std::uint8_t>(base + 5)}, Kind::None, 0, 4, mask));
        f.push_back(form(n + " ax,Iw", {0x66, static_cast<std::uint8_t>(base + 5)}, Kind::None, 0, 2, mask));
        both(f, n + " Eb,Ib", {0x80}, static_cast<int>(op), 1, mask);
        both(f, n + " Ev,Id", {0x81}, static_cast<int>(op), 4, mask);
        both(f, n + " Ew,Iw", {0x66, 0x81}, static_cast<int>(op), 2, mask);
        both(f, n + " Ev,Ib", {0x83}, static_cast<int>(op), 1, mask);
        both(f, n + " Ew,Ib", {0x66, 0x83}, static_cast<int>(op), 1, mask);
    }
    for (unsigned r = 0; r < 8; ++r) {
        if (r == 4) continue;
        f.push_back(form("inc r32", {static_cast<std::uint8_t>(0x40 + r)}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("dec r32", {static_cast<std::uint8_t>(0x48 + r)}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("inc r16", {0x66, static_cast<std::uint8_t>(0x40 + r)}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("dec r16", {0x66, static_cast<std::uint8_t>(0x48 + r)}, Kind::None, 0, 0, kFlagsAll));
    }
    both(f, "inc Eb", {0xfe}, 0, 0, kFlagsAll);
    both(f, "dec Eb", {0xfe}, 1, 0, kFlagsAll);
    both(f, "inc Ev", {0xff}, 0, 0, kFlagsAll);
    both(f, "dec Ev", {0xff}, 1, 0, kFlagsAll);
    both(f, "inc Ew", {0x66, 0xff}, 0, 0, kFlagsAll);
    for (const auto& [name, pre] : std::vector<std::pair<std::string, std::vector<std::uint8_t>>>{{"b", {0xf6}}, {"v", {0xf7}}, {"w", {0x66, 0xf7}}}) {
        both(f, "not E" + name, pre, 2, 0, kFlagsAll);
        both(f, "neg E" + name, pre, 3, 0, kFlagsAll);
        both(f, "test E" + name + ",I", pre, 0, name == "b" ? 1 : name == "v" ? 4 : 2, kLogicMask);
    }
    both(f, "test Eb,Gb", {0x84}, -1, 0, kLogicMask);
    both(f, "test Ev,Gv", {0x85}, -1, 0, kLogicMask);
    both(f, "test Ew,Gw", {0x66, 0x85}, -1, 0, kLogicMask);
    f.push_back(form("test al,Ib", {0xa8}, Kind::None, 0, 1, kLogicMask));
    f.push_back(form("test eax,Id", {0xa9}, Kind::None, 0, 4, kLogicMask));
    // ADC/SBB chains: the carry in must be the one the previous instruction produced.
    f.push_back(form("add+adc+sbb chain", {0x01, 0xc8, 0x11, 0xd3, 0x19, 0xfe}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("inc keeps CF", {0x01, 0xc8, 0x42, 0x73, 0x01, 0x46}, Kind::None, 0, 0, kFlagsAll));
    expect_match(f);
}

TEST(CpuDifferential, MultiplyAndDivideMatchHost) {
    std::vector<Form> f;
    const std::uint32_t mul_mask = kCF | kOF;
    for (const auto& [name, pre] : std::vector<std::pair<std::string, std::vector<std::uint8_t>>>{{"b", {0xf6}}, {"v", {0xf7}}, {"w", {0x66, 0xf7}}}) {
        both(f, "mul E" + name, pre, 4, 0, mul_mask);
        both(f, "imul E" + name, pre, 5, 0, mul_mask);
        both(f, "div E" + name, pre, 6, 0, 0);
        both(f, "idiv E" + name, pre, 7, 0, 0);
    }
    // Divisions that succeed: small EDX keeps the quotient in range.
    const Fixup small_high = [](std::mt19937& rng, NativeCase& c) { c.regs[2] = rng() % 3; c.regs[0] = static_cast<std::uint32_t>(rng()); };
    both(f, "div Ev small", {0xf7}, 6, 0, 0, small_high);
    both(f, "idiv Ev small", {0xf7}, 7, 0, 0, [](std::mt19937& rng, NativeCase& c) {
        c.regs[0] = static_cast<std::uint32_t>(rng()) >> 1;
        c.regs[2] = (rng() % 2) ? 0xffffffffu : 0;
        if (c.regs[2]) c.regs[0] |= 0x80000000u;
    });
    both(f, "imul Gv,Ev", {0x0f, 0xaf}, -1, 0, mul_mask);
    both(f, "imul Gw,Ew", {0x66, 0x0f, 0xaf}, -1, 0, mul_mask);
    both(f, "imul Gv,Ev,Id", {0x69}, -1, 4, mul_mask);
    both(f, "imul Gw,Ew,Iw", {0x66, 0x69}, -1, 2, mul_mask);
    both(f, "imul Gv,Ev,Ib", {0x6b}, -1, 1, mul_mask);
    expect_match(f);
}

std::uint32_t shift_mask(unsigned op, unsigned bits, unsigned count_raw) {
    const unsigned cnt = count_raw & 31;
    if (cnt == 0) return kFlagsAll;
    if (op <= 1) return cnt == 1 ? (kCF | kOF) : kCF;     // ROL/ROR: others unchanged
    if (op <= 3) return kFlagsAll & ~(cnt == 1 ? 0 : kOF);  // RCL/RCR
    std::uint32_t m = kFlagsAll & ~kAF;
    if (cnt != 1) m &= ~kOF;
    if ((op == 4 || op == 5 || op == 6) && cnt >= bits) m &= ~kCF;
    return m;
}

TEST(CpuDifferential, ShiftsAndRotatesMatchHost) {
    std::vector<Form> f;
    const char* names[8] = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"};
    struct Size { std::string n; std::vector<std::uint8_t> pre; unsigned bits; };
    const Size sizes[] = {{"b", {}, 8}, {"v", {}, 32}, {"w", {0x66}, 16}};
    for (unsigned op = 0; op < 8; ++op) {
        for (const Size& s : sizes) {
            auto pre = s.pre;
            const std::uint8_t b1 = s.bits == 8 ? 0xd0 : 0xd1, bcl = s.bits == 8 ? 0xd2 : 0xd3, bi = s.bits == 8 ? 0xc0 : 0xc1;
            const unsigned bits = s.bits;
            auto p = pre; p.push_back(b1);
            both(f, std::string(names[op]) + " E" + s.n + ",1", p, static_cast<int>(op), 0, 0, nullptr,
                 [op, bits](const NativeCase&) { return shift_mask(op, bits, 1); });
            p = pre; p.push_back(bcl);
            both(f, std::string(names[op]) + " E" + s.n + ",cl", p, static_cast<int>(op), 0, 0, nullptr,
                 [op, bits](const NativeCase& c) { return shift_mask(op, bits, c.regs[1] & 0xff); });
            p = pre; p.push_back(bi);
            both(f, std::string(names[op]) + " E" + s.n + ",Ib", p, static_cast<int>(op), 1, 0, nullptr,
                 [op, bits](const NativeCase& c) { return shift_mask(op, bits, c.code[c.code_len - 1]); });
        }
    }
    const auto shd_mask = [](unsigned cnt) { cnt &= 31; return cnt == 0 ? kFlagsAll : cnt == 1 ? (kFlagsAll & ~kAF) : (kFlagsAll & ~kAF & ~kOF); };
    for (const bool left : {true, false}) {
        const std::string n = left ? "shld" : "shrd";
        const std::uint8_t imm_op = left ? 0xa4 : 0xac, cl_op = left ? 0xa5 : 0xad;
        both(f, n + " Ev,Gv,Ib", {0x0f, imm_op}, -1, 1, 0, nullptr, [shd_mask](const NativeCase& c) { return shd_mask(c.code[c.code_len - 1]); });
        both(f, n + " Ev,Gv,cl", {0x0f, cl_op}, -1, 0, 0, nullptr, [shd_mask](const NativeCase& c) { return shd_mask(c.regs[1]); });
        // 16-bit: counts above 16 give an undefined result, so keep them in range.
        both(f, n + " Ew,Gw,cl", {0x66, 0x0f, cl_op}, -1, 0, 0,
             [](std::mt19937& rng, NativeCase& c) { c.regs[1] = (c.regs[1] & ~0xffu) | (rng() % 17); },
             [shd_mask](const NativeCase& c) { return shd_mask(c.regs[1]); });
    }
    expect_match(f);
}

TEST(CpuDifferential, BitOperationsMatchHost) {
    std::vector<Form> f;
    const char* bt_names[4] = {"bt", "bts", "btr", "btc"};
    const std::uint8_t bt_ops[4] = {0xa3, 0xab, 0xb3, 0xbb};
    // Bit offsets in a register reach outside the addressed dword; keep them inside the data area.
    const Fixup small_offset = [](std::mt19937& rng, NativeCase& c) {
        std::uint8_t& modrm = c.code[c.code_len - 2];
        if (((modrm >> 3) & 7) == 3) modrm = static_cast<std::uint8_t>(modrm & ~0x38);  // EBX is the base
        c.regs[(modrm >> 3) & 7] = static_cast<std::uint32_t>(static_cast<int>(rng() % 768) - 256);
    };
    for (unsigned i = 0; i < 4; ++i) {
        f.push_back(form(std::string(bt_names[i]) + " Ev,Gv r", {0x0f, bt_ops[i]}, Kind::Reg, -1, 0, kCF));
        f.push_back(form(std::string(bt_names[i]) + " Ev,Gv m", {0x0f, bt_ops[i]}, Kind::Mem, -1, 0, kCF, small_offset));
        f.push_back(form(std::string(bt_names[i]) + " Ew,Gw r", {0x66, 0x0f, bt_ops[i]}, Kind::Reg, -1, 0, kCF));
        f.push_back(form(std::string(bt_names[i]) + " Ew,Gw m", {0x66, 0x0f, bt_ops[i]}, Kind::Mem, -1, 0, kCF, small_offset));
        both(f, std::string(bt_names[i]) + " Ev,Ib", {0x0f, 0xba}, static_cast<int>(4 + i), 1, kCF);
        both(f, std::string(bt_names[i]) + " Ew,Ib", {0x66, 0x0f, 0xba}, static_cast<int>(4 + i), 1, kCF);
    }
    both(f, "bsf Gv,Ev", {0x0f, 0xbc}, -1, 0, kZF);
    both(f, "bsr Gv,Ev", {0x0f, 0xbd}, -1, 0, kZF);
    both(f, "bsf Gw,Ew", {0x66, 0x0f, 0xbc}, -1, 0, kZF);
    both(f, "bsr Gw,Ew", {0x66, 0x0f, 0xbd}, -1, 0, kZF);
    for (unsigned r = 0; r < 8; ++r)
        if (r != 4) f.push_back(form("bswap", {0x0f, static_cast<std::uint8_t>(0xc8 + r)}, Kind::None, 0, 0, kFlagsAll));
    for (unsigned cc = 0; cc < 16; ++cc) {
        both(f, "setcc " + std::to_string(cc), {0x0f, static_cast<std::uint8_t>(0x90 + cc)}, 0, 0, kFlagsAll);
        both(f, "cmovcc " + std::to_string(cc), {0x0f, static_cast<std::uint8_t>(0x40 + cc)}, -1, 0, kFlagsAll);
        both(f, "cmovcc16 " + std::to_string(cc), {0x66, 0x0f, static_cast<std::uint8_t>(0x40 + cc)}, -1, 0, kFlagsAll);
        // the condition right after a compare and after a subtraction of random values
        f.push_back(form("cmp+setcc " + std::to_string(cc), {0x39, 0xd0, 0x0f, static_cast<std::uint8_t>(0x90 + cc), 0xc1}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("cmp8+setcc " + std::to_string(cc), {0x38, 0xd0, 0x0f, static_cast<std::uint8_t>(0x90 + cc), 0xc1}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("test+setcc " + std::to_string(cc), {0x85, 0xd0, 0x0f, static_cast<std::uint8_t>(0x90 + cc), 0xc1}, Kind::None, 0, 0, kLogicMask));
        f.push_back(form("add+setcc " + std::to_string(cc), {0x01, 0xd0, 0x0f, static_cast<std::uint8_t>(0x90 + cc), 0xc1}, Kind::None, 0, 0, kFlagsAll));
    }
    expect_match(f);
}

TEST(CpuDifferential, DataMovementMatchesHost) {
    std::vector<Form> f;
    both(f, "mov Eb,Gb", {0x88}, -1, 0, kFlagsAll);
    both(f, "mov Ev,Gv", {0x89}, -1, 0, kFlagsAll);
    both(f, "mov Ew,Gw", {0x66, 0x89}, -1, 0, kFlagsAll);
    both(f, "mov Gb,Eb", {0x8a}, -1, 0, kFlagsAll);
    both(f, "mov Gv,Ev", {0x8b}, -1, 0, kFlagsAll);
    both(f, "mov Gw,Ew", {0x66, 0x8b}, -1, 0, kFlagsAll);
    both(f, "mov Eb,Ib", {0xc6}, 0, 1, kFlagsAll);
    both(f, "mov Ev,Id", {0xc7}, 0, 4, kFlagsAll);
    both(f, "mov Ew,Iw", {0x66, 0xc7}, 0, 2, kFlagsAll);
    for (unsigned r = 0; r < 8; ++r) {
        f.push_back(form("mov r8,Ib", {static_cast<std::uint8_t>(0xb0 + r)}, Kind::None, 0, 1, kFlagsAll));
        if (r != 4) f.push_back(form("mov r32,Id", {static_cast<std::uint8_t>(0xb8 + r)}, Kind::None, 0, 4, kFlagsAll));
        if (r != 4) f.push_back(form("xchg eax,r32", {static_cast<std::uint8_t>(0x90 + r)}, Kind::None, 0, 0, kFlagsAll));
        if (r != 4) f.push_back(form("xchg ax,r16", {0x66, static_cast<std::uint8_t>(0x90 + r)}, Kind::None, 0, 0, kFlagsAll));
    }
    const Fixup moffs = [](std::mt19937& rng, NativeCase& c) {
        const std::uint32_t a = NATIVE_DATA_ADDR + rng() % 200;
        std::memcpy(&c.code[c.code_len - 4], &a, 4);
    };
    for (std::uint8_t op = 0xa0; op <= 0xa3; ++op) f.push_back(form("mov moffs", {op}, Kind::None, 0, 4, kFlagsAll, moffs));
    f.push_back(form("mov moffs16", {0x66, 0xa1}, Kind::None, 0, 4, kFlagsAll, moffs));
    both(f, "movzx Gv,Eb", {0x0f, 0xb6}, -1, 0, kFlagsAll);
    both(f, "movzx Gv,Ew", {0x0f, 0xb7}, -1, 0, kFlagsAll);
    both(f, "movsx Gv,Eb", {0x0f, 0xbe}, -1, 0, kFlagsAll);
    both(f, "movsx Gv,Ew", {0x0f, 0xbf}, -1, 0, kFlagsAll);
    both(f, "movzx Gw,Eb", {0x66, 0x0f, 0xb6}, -1, 0, kFlagsAll);
    both(f, "movsx Gw,Eb", {0x66, 0x0f, 0xbe}, -1, 0, kFlagsAll);
    both(f, "xchg Eb,Gb", {0x86}, -1, 0, kFlagsAll);
    both(f, "xchg Ev,Gv", {0x87}, -1, 0, kFlagsAll);
    both(f, "xadd Eb,Gb", {0x0f, 0xc0}, -1, 0, kFlagsAll);
    both(f, "xadd Ev,Gv", {0x0f, 0xc1}, -1, 0, kFlagsAll);
    both(f, "lock xadd Ev,Gv", {0xf0, 0x0f, 0xc1}, -1, 0, kFlagsAll);
    // CMPXCHG: half of the cases make the accumulator equal to the destination.
    const Fixup equal_acc = [](std::mt19937& rng, NativeCase& c) {
        if (rng() % 2) return;
        const std::uint8_t modrm = c.code[c.code_len - ((c.code[c.code_len - 2] & 0xc0) == 0x40 ? 2 : 1)];
        if ((modrm & 0xc0) == 0xc0) c.regs[0] = c.regs[modrm & 7];
        else std::memcpy(&c.regs[0], &c.data[32 + c.code[c.code_len - 1]], 4);
    };
    both(f, "cmpxchg Eb,Gb", {0x0f, 0xb0}, -1, 0, kFlagsAll, equal_acc);
    both(f, "cmpxchg Ev,Gv", {0x0f, 0xb1}, -1, 0, kFlagsAll, equal_acc);
    both(f, "cmpxchg Ew,Gw", {0x66, 0x0f, 0xb1}, -1, 0, kFlagsAll, equal_acc);
    f.push_back(form("cmpxchg8b", {0x0f, 0xc7}, Kind::Mem, 1, 0, kZF, [](std::mt19937& rng, NativeCase& c) {
        if (rng() % 2) return;
        const unsigned off = 32 + c.code[c.code_len - 1];
        std::memcpy(&c.regs[0], &c.data[off], 4);
        std::memcpy(&c.regs[2], &c.data[off + 4], 4);
    }));
    f.push_back(form("cbw", {0x66, 0x98}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("cwde", {0x98}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("cwd", {0x66, 0x99}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("cdq", {0x99}, Kind::None, 0, 0, kFlagsAll));
    // LEA with random ModRM/SIB/displacement: every addressing form of the 32-bit decoder.
    f.push_back(form("lea random", {0x8d}, Kind::None, 0, 0, kFlagsAll, [](std::mt19937& rng, NativeCase& c) {
        std::uint8_t* p = &c.code[1];
        const unsigned mod = rng() % 3, reg = pick_reg(rng), rm = rng() % 8;
        *p++ = static_cast<std::uint8_t>(mod << 6 | reg << 3 | rm);
        bool disp32 = mod == 2 || (mod == 0 && rm == 5);
        if (rm == 4) {
            const std::uint8_t sib = static_cast<std::uint8_t>(rng());
            *p++ = sib;
            if (mod == 0 && (sib & 7) == 5) disp32 = true;
        }
        if (mod == 1) *p++ = static_cast<std::uint8_t>(rng());
        if (disp32) { const std::uint32_t d = static_cast<std::uint32_t>(rng()); std::memcpy(p, &d, 4); p += 4; }
        c.code_len = static_cast<std::uint32_t>(p - c.code);
    }));
    f.push_back(form("lea16", {0x66, 0x8d, 0x84, 0x8b, 0x11, 0x22, 0x33, 0x44}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("xlat", {0xd7}, Kind::None, 0, 0, kFlagsAll, [](std::mt19937&, NativeCase& c) { c.regs[3] = NATIVE_DATA_ADDR; }));
    f.push_back(form("lahf", {0x9f}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("sahf", {0x9e}, Kind::None, 0, 0, kFlagsAll));
    for (const std::uint8_t op : {0xf5, 0xf8, 0xf9, 0xfc, 0xfd})
        f.push_back(form("flag op", {op, 0x9c, 0x58, 0xfc}, Kind::None, 0, 0, kFlagsAll));  // op; pushf; pop eax; cld
    f.push_back(form("nop forms", {0x90, 0x0f, 0x1f, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x66, 0x0f, 0x1f, 0x84, 0x00, 0, 0, 0, 0, 0xf3, 0x90}, Kind::None, 0, 0, kFlagsAll,
                     [](std::mt19937&, NativeCase& c) { c.regs[0] = NATIVE_DATA_ADDR; }));
    expect_match(f);
}

TEST(CpuDifferential, StackOperationsMatchHost) {
    std::vector<Form> f;
    for (unsigned r = 0; r < 8; ++r) {
        f.push_back(form("push r32", {static_cast<std::uint8_t>(0x50 + r)}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("pop r32", {static_cast<std::uint8_t>(0x58 + r)}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("push r16", {0x66, static_cast<std::uint8_t>(0x50 + r)}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("pop r16", {0x66, static_cast<std::uint8_t>(0x58 + r)}, Kind::None, 0, 0, kFlagsAll));
    }
    f.push_back(form("push Id", {0x68}, Kind::None, 0, 4, kFlagsAll));
    f.push_back(form("push Ib", {0x6a}, Kind::None, 0, 1, kFlagsAll));
    f.push_back(form("push Iw", {0x66, 0x68}, Kind::None, 0, 2, kFlagsAll));
    both(f, "push Ev", {0xff}, 6, 0, kFlagsAll);
    f.push_back(form("pop Ev m", {0x8f}, Kind::Mem, 0, 0, kFlagsAll));
    f.push_back(form("pop [esp+d]", {0x8f, 0x44, 0x24, 0x10}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("pusha", {0x60}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("popa", {0x61}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("pushaw", {0x66, 0x60}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("popaw", {0x66, 0x61}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("pushf", {0x9c}, Kind::None, 0, 0, kFlagsAll));
    // POPF: only values user mode can load (no TF, IF stays set, no AC/ID).
    f.push_back(form("popf", {0x9d}, Kind::None, 0, 0, kFlagsAll, [](std::mt19937& rng, NativeCase& c) {
        const std::uint32_t v = (static_cast<std::uint32_t>(rng()) & (kFlagsAll | kDF)) | 0x202;
        std::memcpy(&c.stack[128], &v, 4);
    }));
    f.push_back(form("popf;pushf", {0x9d, 0x9c, 0xfc}, Kind::None, 0, 0, kFlagsAll, [](std::mt19937& rng, NativeCase& c) {
        const std::uint32_t v = (static_cast<std::uint32_t>(rng()) & (kFlagsAll | kDF)) | 0x202;
        std::memcpy(&c.stack[128], &v, 4);
    }));
    const Fixup frame = [](std::mt19937& rng, NativeCase& c) { c.regs[5] = NATIVE_STACK_ADDR + 160 + (rng() % 16) * 4; };
    f.push_back(form("enter 0", {0xc8, 0x10, 0x00, 0x00}, Kind::None, 0, 0, kFlagsAll, frame));
    f.push_back(form("enter 1", {0xc8, 0x08, 0x00, 0x01}, Kind::None, 0, 0, kFlagsAll, frame));
    f.push_back(form("enter 3", {0xc8, 0x04, 0x00, 0x03}, Kind::None, 0, 0, kFlagsAll, frame));
    f.push_back(form("leave", {0xc9}, Kind::None, 0, 0, kFlagsAll, frame));
    f.push_back(form("call rel32", {0xe8, 0x01, 0x00, 0x00, 0x00, 0x40}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("call;ret", {0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x01, 0xc3}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("call;ret imm", {0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x03, 0xc2, 0x08, 0x00}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("call Ev", {0xff, 0xd0, 0x40}, Kind::None, 0, 0, kFlagsAll,
                     [](std::mt19937&, NativeCase& c) { c.regs[0] = NATIVE_CODE_ADDR + 3; }));
    expect_match(f);
}

TEST(CpuDifferential, StringOperationsMatchHost) {
    std::vector<Form> f;
    const Fixup setup = [](std::mt19937& rng, NativeCase& c) {
        c.regs[6] = NATIVE_DATA_ADDR + 96 + rng() % 32;
        c.regs[7] = NATIVE_DATA_ADDR + 96 + rng() % 32;
        c.regs[1] = rng() % 12;
        if (rng() % 2) c.eflags |= kDF;
        if (rng() % 3 == 0) std::memcpy(&c.data[c.regs[7] - NATIVE_DATA_ADDR], &c.data[c.regs[6] - NATIVE_DATA_ADDR], 16);
    };
    struct S { const char* n; std::uint8_t op; };
    const S ops[] = {{"movs", 0xa4}, {"cmps", 0xa6}, {"stos", 0xaa}, {"lods", 0xac}, {"scas", 0xae}};
    for (const S& s : ops) {
        for (const std::uint8_t w : {0, 1}) {
            const std::uint8_t op = static_cast<std::uint8_t>(s.op + w);
            const std::string n = std::string(s.n) + (w ? "d" : "b");
            // trailing cld: the host must not return with DF set
            f.push_back(form(n, {op, 0xfc}, Kind::None, 0, 0, kFlagsAll, setup));
            f.push_back(form("rep " + n, {0xf3, op, 0xfc}, Kind::None, 0, 0, kFlagsAll, setup));
            f.push_back(form("repne " + n, {0xf2, op, 0xfc}, Kind::None, 0, 0, kFlagsAll, setup));
            if (w) f.push_back(form("rep " + n + "w", {0x66, 0xf3, op, 0xfc}, Kind::None, 0, 0, kFlagsAll, setup));
        }
    }
    f.push_back(form("rep movsb es:", {0x26, 0xf3, 0xa4, 0xfc}, Kind::None, 0, 0, kFlagsAll, setup));
    expect_match(f);
}

TEST(CpuDifferential, BranchesMatchHost) {
    std::vector<Form> f;
    for (unsigned cc = 0; cc < 16; ++cc) {
        // jcc over an inc: EAX tells whether the branch was taken
        f.push_back(form("jcc8 " + std::to_string(cc), {static_cast<std::uint8_t>(0x70 + cc), 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("jcc32 " + std::to_string(cc), {0x0f, static_cast<std::uint8_t>(0x80 + cc), 0x01, 0, 0, 0, 0x40}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("cmp+jcc " + std::to_string(cc), {0x39, 0xd1, static_cast<std::uint8_t>(0x70 + cc), 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll));
        f.push_back(form("dec+jcc " + std::to_string(cc), {0x4a, static_cast<std::uint8_t>(0x70 + cc), 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll));
    }
    const Fixup small_ecx = [](std::mt19937& rng, NativeCase& c) { c.regs[1] = rng() % 3 == 0 ? rng() % 3 : c.regs[1]; };
    f.push_back(form("loop", {0xe2, 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll, small_ecx));
    f.push_back(form("loope", {0xe1, 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll, small_ecx));
    f.push_back(form("loopne", {0xe0, 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll, small_ecx));
    f.push_back(form("jecxz", {0xe3, 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll, small_ecx));
    f.push_back(form("loop back", {0x40, 0xe2, 0xfd}, Kind::None, 0, 0, kFlagsAll, [](std::mt19937& rng, NativeCase& c) { c.regs[1] = 1 + rng() % 20; }));
    f.push_back(form("jmp8", {0xeb, 0x01, 0x40}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("jmp32", {0xe9, 0x01, 0, 0, 0, 0x40}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("jmp Ev", {0xff, 0xe0, 0x40}, Kind::None, 0, 0, kFlagsAll,
                     [](std::mt19937&, NativeCase& c) { c.regs[0] = NATIVE_CODE_ADDR + 3; }));
    f.push_back(form("into", {0xce}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("bound", {0x62, 0x43, 0x00}, Kind::None, 0, 0, kFlagsAll, [](std::mt19937& rng, NativeCase& c) {
        c.regs[3] = NATIVE_DATA_ADDR + 32;
        const std::int32_t lo = static_cast<std::int32_t>(rng() % 100) - 50, hi = lo + static_cast<std::int32_t>(rng() % 100);
        std::memcpy(&c.data[32], &lo, 4);
        std::memcpy(&c.data[36], &hi, 4);
        c.regs[0] = static_cast<std::uint32_t>(static_cast<std::int32_t>(rng() % 200) - 100);
    }));
    f.push_back(form("ud2", {0x0f, 0x0b}, Kind::None, 0, 0, kFlagsAll));
    f.push_back(form("int3", {0xcc}, Kind::None, 0, 0, kFlagsAll));
    expect_match(f);
}

// The harness itself must notice a difference: CPUID reports a different identity than the host.
TEST(CpuDifferential, HarnessReportsMismatches) {
    std::vector<Form> f;
    f.push_back(form("cpuid 0", {0x0f, 0xa2}, Kind::None, 0, 0, kFlagsAll, [](std::mt19937&, NativeCase& c) { c.regs[0] = 0; }));
    const std::string report = run_differential(f, 2, kSeed);
    EXPECT_NE(report.find("cpuid 0"), std::string::npos) << report;
    EXPECT_NE(report.find("ebx: host"), std::string::npos) << report;
}

}  // namespace
}  // namespace qxlbox::cputest
