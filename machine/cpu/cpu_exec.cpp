// i386 CPU core: instruction decoder and the integer instruction set (see cpu_core.h).
#include <cstdio>

#include "machine/cpu/cpu_core.h"

namespace qxlbox::machine {

#define QX_INLINE inline __attribute__((always_inline))

namespace {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using s8 = std::int8_t;
using s16 = std::int16_t;
using s32 = std::int32_t;
using s64 = std::int64_t;

[[noreturn]] void fault(u8 vector) { throw CpuException{vector, false, 0}; }
[[noreturn]] void fault_err(u8 vector, u32 error) { throw CpuException{vector, true, error}; }

QX_INLINE u8 f8(const u8*& ip) { return *ip++; }
QX_INLINE u16 f16(const u8*& ip) { u16 v; std::memcpy(&v, ip, 2); ip += 2; return v; }
QX_INLINE u32 f32(const u8*& ip) { u32 v; std::memcpy(&v, ip, 4); ip += 4; return v; }
template <class T> QX_INLINE T fimm(const u8*& ip) {
    if constexpr (sizeof(T) == 1) return f8(ip);
    else if constexpr (sizeof(T) == 2) return f16(ip);
    else return f32(ip);
}

template <class T> QX_INLINE u32 sext(T v) {
    if constexpr (sizeof(T) == 1) return static_cast<u32>(static_cast<s32>(static_cast<s8>(v)));
    else if constexpr (sizeof(T) == 2) return static_cast<u32>(static_cast<s32>(static_cast<s16>(v)));
    else return v;
}

struct Modrm {
    unsigned mod = 0, reg = 0, rm = 0, s = kDS;
    u32 off = 0;
    bool is_reg() const { return mod == 3; }
};

QX_INLINE void decode_modrm(CpuCore& c, const u8*& ip, Modrm& m) {
    const u8 b = f8(ip);
    m.mod = b >> 6;
    m.reg = (b >> 3) & 7;
    m.rm = b & 7;
    if (m.mod == 3) return;
    unsigned s = kDS;
    u32 off;
    if (c.a32) [[likely]] {
        if (m.rm == 4) {
            const u8 sib = f8(ip);
            const unsigned base = sib & 7, idx = (sib >> 3) & 7;
            if (base == 5 && m.mod == 0) {
                off = f32(ip);
            } else {
                off = c.r[base];
                if (base == 4 || base == 5) s = kSS;
            }
            if (idx != 4) off += c.r[idx] << (sib >> 6);
        } else if (m.rm == 5 && m.mod == 0) {
            off = f32(ip);
        } else {
            off = c.r[m.rm];
            if (m.rm == 5) s = kSS;
        }
        if (m.mod == 1) off += static_cast<u32>(static_cast<s32>(static_cast<s8>(f8(ip))));
        else if (m.mod == 2) off += f32(ip);
    } else {
        const u32 bx = c.r[kEBX] & 0xffff, bp = c.r[kEBP] & 0xffff, si = c.r[kESI] & 0xffff, di = c.r[kEDI] & 0xffff;
        switch (m.rm) {
            case 0: off = bx + si; break;
            case 1: off = bx + di; break;
            case 2: off = bp + si; s = kSS; break;
            case 3: off = bp + di; s = kSS; break;
            case 4: off = si; break;
            case 5: off = di; break;
            case 6:
                if (m.mod == 0) off = f16(ip);
                else { off = bp; s = kSS; }
                break;
            default: off = bx; break;
        }
        if (m.mod == 1) off += static_cast<u32>(static_cast<s32>(static_cast<s8>(f8(ip))));
        else if (m.mod == 2) off += f16(ip);
        off &= 0xffff;
    }
    m.off = off;
    m.s = c.seg_ovr != kNoSeg ? c.seg_ovr : s;
}

template <class T> QX_INLINE T rd_rm(CpuCore& c, const Modrm& m) { return m.is_reg() ? c.getr<T>(m.rm) : c.read<T>(m.s, m.off); }
template <class T> QX_INLINE void wr_rm(CpuCore& c, const Modrm& m, T v) {
    if (m.is_reg()) c.setr<T>(m.rm, v);
    else c.write<T>(m.s, m.off, v);
}

// ---- ALU
template <class T> QX_INLINE T alu(CpuCore& c, unsigned op, T a, T b) {
    T res;
    switch (op) {
        case 0: res = static_cast<T>(a + b); c.set_lazy<T>(FlagOp::Add, a, b, res); break;
        case 1: res = static_cast<T>(a | b); c.set_lazy<T>(FlagOp::Logic, a, b, res); break;
        case 2: {
            const u32 cin = c.get_cf();
            res = static_cast<T>(a + b + cin);
            c.lf_cin = cin;
            c.set_lazy<T>(FlagOp::Adc, a, b, res);
            break;
        }
        case 3: {
            const u32 cin = c.get_cf();
            res = static_cast<T>(a - b - cin);
            c.lf_cin = cin;
            c.set_lazy<T>(FlagOp::Sbb, a, b, res);
            break;
        }
        case 4: res = static_cast<T>(a & b); c.set_lazy<T>(FlagOp::Logic, a, b, res); break;
        case 5: case 7: res = static_cast<T>(a - b); c.set_lazy<T>(FlagOp::Sub, a, b, res); break;
        default: res = static_cast<T>(a ^ b); c.set_lazy<T>(FlagOp::Logic, a, b, res); break;
    }
    return res;
}

// dst op= src; form: 0 = E,G  1 = G,E
template <class T> QX_INLINE void alu_rm(CpuCore& c, const u8*& ip, unsigned op, bool to_reg) {
    Modrm m;
    decode_modrm(c, ip, m);
    if (to_reg) {
        const T res = alu<T>(c, op, c.getr<T>(m.reg), rd_rm<T>(c, m));
        if (op != 7) c.setr<T>(m.reg, res);
    } else if (m.is_reg()) {
        const T res = alu<T>(c, op, c.getr<T>(m.rm), c.getr<T>(m.reg));
        if (op != 7) c.setr<T>(m.rm, res);
    } else {
        const T res = alu<T>(c, op, c.read<T>(m.s, m.off), c.getr<T>(m.reg));
        if (op != 7) c.write<T>(m.s, m.off, res);
    }
}

template <class T> QX_INLINE void alu_acc_imm(CpuCore& c, const u8*& ip, unsigned op) {
    const T imm = fimm<T>(ip);
    const T res = alu<T>(c, op, c.getr<T>(kEAX), imm);
    if (op != 7) c.setr<T>(kEAX, res);
}

// group 1: 80/81/83
template <class T, class I> QX_INLINE void alu_grp1(CpuCore& c, const u8*& ip) {
    Modrm m;
    decode_modrm(c, ip, m);
    const T imm = static_cast<T>(sext<I>(fimm<I>(ip)));
    if (m.is_reg()) {
        const T res = alu<T>(c, m.reg, c.getr<T>(m.rm), imm);
        if (m.reg != 7) c.setr<T>(m.rm, res);
    } else {
        const T res = alu<T>(c, m.reg, c.read<T>(m.s, m.off), imm);
        if (m.reg != 7) c.write<T>(m.s, m.off, res);
    }
}

template <class T> QX_INLINE T do_inc(CpuCore& c, T a) {
    c.lf_cin = c.get_cf();
    const T res = static_cast<T>(a + 1);
    c.set_lazy<T>(FlagOp::Inc, a, 1, res);
    return res;
}
template <class T> QX_INLINE T do_dec(CpuCore& c, T a) {
    c.lf_cin = c.get_cf();
    const T res = static_cast<T>(a - 1);
    c.set_lazy<T>(FlagOp::Dec, a, 1, res);
    return res;
}

// ---- shifts and rotates (eager flags)
template <class T> QX_INLINE T shift(CpuCore& c, unsigned op, T v, unsigned count) {
    constexpr unsigned bits = sizeof(T) * 8;
    const unsigned cnt = count & 31;
    if (cnt == 0) return v;
    if (op < 4) c.materialize();  // rotates keep SF/ZF/AF/PF
    const u32 msb = kSign<T>;
    T res = v;
    bool cf = false;
    switch (op) {
        case 0: {  // ROL
            const unsigned k = cnt % bits;
            res = k ? static_cast<T>((v << k) | (v >> (bits - k))) : v;
            cf = res & 1;
            c.set_flag(kCF, cf);
            c.set_flag(kOF, ((res & msb) != 0) != cf);
            return res;
        }
        case 1: {  // ROR
            const unsigned k = cnt % bits;
            res = k ? static_cast<T>((v >> k) | (v << (bits - k))) : v;
            cf = (res & msb) != 0;
            c.set_flag(kCF, cf);
            c.set_flag(kOF, cf != ((res & (msb >> 1)) != 0));
            return res;
        }
        case 2: {  // RCL
            const unsigned k = cnt % (bits + 1);
            const u64 mask = (u64{1} << (bits + 1)) - 1;
            u64 x = static_cast<u64>(v) | (static_cast<u64>(c.flags & kCF) << bits);
            if (k) x = ((x << k) | (x >> (bits + 1 - k))) & mask;
            res = static_cast<T>(x);
            cf = (x >> bits) & 1;
            c.set_flag(kCF, cf);
            c.set_flag(kOF, ((res & msb) != 0) != cf);
            return res;
        }
        case 3: {  // RCR
            const unsigned k = cnt % (bits + 1);
            const u64 mask = (u64{1} << (bits + 1)) - 1;
            const bool old_cf = c.flags & kCF;
            u64 x = static_cast<u64>(v) | (static_cast<u64>(old_cf) << bits);
            if (k) x = ((x >> k) | (x << (bits + 1 - k))) & mask;
            res = static_cast<T>(x);
            cf = (x >> bits) & 1;
            c.set_flag(kCF, cf);
            if (cnt == 1) c.set_flag(kOF, ((v & msb) != 0) != old_cf);
            else c.set_flag(kOF, ((res & msb) != 0) != ((res & (msb >> 1)) != 0));
            return res;
        }
        case 4: case 6: {  // SHL
            const u64 w = static_cast<u64>(v) << cnt;
            res = static_cast<T>(w);
            cf = (w >> bits) & 1;
            c.set_arith<T>(cf, ((res & msb) != 0) != cf, res);
            return res;
        }
        case 5: {  // SHR
            cf = (static_cast<u64>(v) >> (cnt - 1)) & 1;
            res = static_cast<T>(static_cast<u64>(v) >> cnt);
            c.set_arith<T>(cf, cnt == 1 ? (v & msb) != 0 : false, res);
            return res;
        }
        default: {  // SAR
            const s64 sv = static_cast<s32>(sext<T>(v));
            cf = (sv >> (cnt - 1)) & 1;
            res = static_cast<T>(sv >> cnt);
            c.set_arith<T>(cf, false, res);
            return res;
        }
    }
}

template <class T> QX_INLINE void shift_grp(CpuCore& c, const u8*& ip, int count_src) {
    Modrm m;
    decode_modrm(c, ip, m);
    unsigned cnt;
    if (count_src == 0) cnt = f8(ip);
    else if (count_src == 1) cnt = 1;
    else cnt = c.r[kECX] & 0xff;
    if (m.is_reg()) {
        c.setr<T>(m.rm, shift<T>(c, m.reg, c.getr<T>(m.rm), cnt));
    } else {
        const T v = c.read<T>(m.s, m.off);
        c.write<T>(m.s, m.off, shift<T>(c, m.reg, v, cnt));
    }
}

template <class T> T shld(CpuCore& c, T d, T s, unsigned count, bool left) {
    const unsigned cnt = count & 31;
    if (cnt == 0) return d;
    T res;
    bool cf;
    if constexpr (sizeof(T) == 4) {
        if (left) {
            res = static_cast<T>(((static_cast<u64>(d) << 32 | s) << cnt) >> 32);
            cf = (d >> (32 - cnt)) & 1;
        } else {
            res = static_cast<T>((static_cast<u64>(s) << 32 | d) >> cnt);
            cf = (d >> (cnt - 1)) & 1;
        }
    } else {
        if (left) {
            const u64 x = static_cast<u64>(d) << 48 | static_cast<u64>(s) << 32 | static_cast<u64>(d) << 16;
            res = static_cast<T>((x << cnt) >> 48);
            cf = (x >> (64 - cnt)) & 1;
        } else {
            const u64 x = static_cast<u64>(d) << 32 | static_cast<u64>(s) << 16 | d;
            res = static_cast<T>(x >> cnt);
            cf = (x >> (cnt - 1)) & 1;
        }
    }
    c.set_arith<T>(cf, ((res ^ d) & kSign<T>) != 0, res);
    return res;
}

template <class T> QX_INLINE void shld_form(CpuCore& c, const u8*& ip, bool left, bool imm) {
    Modrm m;
    decode_modrm(c, ip, m);
    const unsigned cnt = imm ? f8(ip) : (c.r[kECX] & 0xff);
    const T s = c.getr<T>(m.reg);
    if (m.is_reg()) {
        c.setr<T>(m.rm, shld<T>(c, c.getr<T>(m.rm), s, cnt, left));
    } else {
        const T d = c.read<T>(m.s, m.off);
        c.write<T>(m.s, m.off, shld<T>(c, d, s, cnt, left));
    }
}

// ---- multiply / divide
template <class T> QX_INLINE void mul_flags(CpuCore& c, bool overflow, T low) { c.set_arith<T>(overflow, overflow, low); }

template <class T> QX_INLINE void grp3(CpuCore& c, const u8*& ip) {
    Modrm m;
    decode_modrm(c, ip, m);
    switch (m.reg) {
        case 0: case 1: {
            const T v = rd_rm<T>(c, m);
            const T imm = fimm<T>(ip);
            alu<T>(c, 4, v, imm);
            return;
        }
        case 2: wr_rm<T>(c, m, static_cast<T>(~rd_rm<T>(c, m))); return;
        case 3: {
            const T v = rd_rm<T>(c, m);
            const T res = static_cast<T>(0 - v);
            wr_rm<T>(c, m, res);
            c.set_lazy<T>(FlagOp::Sub, 0, v, res);
            return;
        }
        default: break;
    }
    const T src = rd_rm<T>(c, m);
    constexpr unsigned bits = sizeof(T) * 8;
    if (m.reg == 4) {  // MUL
        const u64 p = static_cast<u64>(c.getr<T>(kEAX)) * src;
        const T lo = static_cast<T>(p), hi = static_cast<T>(p >> bits);
        if constexpr (sizeof(T) == 1) c.setr<u16>(kEAX, static_cast<u16>(p));
        else { c.setr<T>(kEAX, lo); c.setr<T>(kEDX, hi); }
        mul_flags<T>(c, hi != 0, lo);
    } else if (m.reg == 5) {  // IMUL
        const s64 p = static_cast<s64>(static_cast<s32>(sext<T>(c.getr<T>(kEAX)))) * static_cast<s32>(sext<T>(src));
        const T lo = static_cast<T>(p), hi = static_cast<T>(static_cast<u64>(p) >> bits);
        if constexpr (sizeof(T) == 1) c.setr<u16>(kEAX, static_cast<u16>(p));
        else { c.setr<T>(kEAX, lo); c.setr<T>(kEDX, hi); }
        mul_flags<T>(c, p != static_cast<s32>(sext<T>(lo)), lo);
    } else if (m.reg == 6) {  // DIV
        if (src == 0) fault(kVecDE);
        u64 dividend;
        if constexpr (sizeof(T) == 1) dividend = c.r[kEAX] & 0xffff;
        else dividend = (static_cast<u64>(c.getr<T>(kEDX)) << bits) | c.getr<T>(kEAX);
        const u64 q = dividend / src, rem = dividend % src;
        if (q >> bits) fault(kVecDE);
        if constexpr (sizeof(T) == 1) c.setr<u16>(kEAX, static_cast<u16>((rem << 8) | q));
        else { c.setr<T>(kEAX, static_cast<T>(q)); c.setr<T>(kEDX, static_cast<T>(rem)); }
    } else {  // IDIV
        if (src == 0) fault(kVecDE);
        s64 dividend;
        if constexpr (sizeof(T) == 1) dividend = static_cast<s16>(c.r[kEAX] & 0xffff);
        else if constexpr (sizeof(T) == 2) dividend = static_cast<s32>((c.r[kEDX] & 0xffff) << 16 | (c.r[kEAX] & 0xffff));
        else dividend = static_cast<s64>((static_cast<u64>(c.r[kEDX]) << 32) | c.r[kEAX]);
        const s64 divisor = static_cast<s32>(sext<T>(src));
        if (divisor == -1 && dividend == INT64_MIN) fault(kVecDE);
        const s64 q = dividend / divisor, rem = dividend % divisor;
        const s64 lim = s64{1} << (bits - 1);
        if (q >= lim || q < -lim) fault(kVecDE);
        if constexpr (sizeof(T) == 1) c.setr<u16>(kEAX, static_cast<u16>(((rem & 0xff) << 8) | (q & 0xff)));
        else { c.setr<T>(kEAX, static_cast<T>(q)); c.setr<T>(kEDX, static_cast<T>(rem)); }
    }
}

template <class T> QX_INLINE void imul_form(CpuCore& c, const u8*& ip, int imm_kind) {
    Modrm m;
    decode_modrm(c, ip, m);
    const T src = rd_rm<T>(c, m);
    s32 other;
    if (imm_kind == 0) other = static_cast<s32>(sext<T>(c.getr<T>(m.reg)));
    else if (imm_kind == 1) other = static_cast<s32>(sext<u8>(f8(ip)));
    else other = static_cast<s32>(sext<T>(fimm<T>(ip)));
    const s64 p = static_cast<s64>(static_cast<s32>(sext<T>(src))) * other;
    const T lo = static_cast<T>(p);
    c.setr<T>(m.reg, lo);
    mul_flags<T>(c, p != static_cast<s32>(sext<T>(lo)), lo);
}

// ---- bit operations
template <class T> QX_INLINE void bt_form(CpuCore& c, const u8*& ip, unsigned op, bool imm) {
    Modrm m;
    decode_modrm(c, ip, m);
    constexpr unsigned bits = sizeof(T) * 8;
    u32 bitoff;
    T v;
    u32 off = m.off;
    if (imm) {
        bitoff = f8(ip) & (bits - 1);
    } else {
        bitoff = c.getr<T>(m.reg);
        if (!m.is_reg()) {
            const s32 sb = static_cast<s32>(sext<T>(static_cast<T>(bitoff)));
            off += static_cast<u32>((sb >> (bits == 32 ? 5 : 4)) * static_cast<s32>(sizeof(T)));
            if (!c.a32) off &= 0xffff;
        }
        bitoff &= bits - 1;
    }
    Modrm mm = m;
    mm.off = off;
    v = rd_rm<T>(c, mm);
    const T mask = static_cast<T>(T{1} << bitoff);
    c.materialize();
    c.set_flag(kCF, (v & mask) != 0);
    switch (op) {
        case 4: return;
        case 5: v = static_cast<T>(v | mask); break;
        case 6: v = static_cast<T>(v & ~mask); break;
        default: v = static_cast<T>(v ^ mask); break;
    }
    wr_rm<T>(c, mm, v);
}

template <class T> QX_INLINE void bsf_form(CpuCore& c, const u8*& ip, bool reverse) {
    Modrm m;
    decode_modrm(c, ip, m);
    const T v = rd_rm<T>(c, m);
    c.materialize();
    if (v == 0) { c.set_flag(kZF, true); return; }
    c.set_flag(kZF, false);
    const unsigned idx = reverse ? 31 - static_cast<unsigned>(__builtin_clz(v)) : static_cast<unsigned>(__builtin_ctz(v));
    c.setr<T>(m.reg, static_cast<T>(idx));
}

// ---- control transfer helpers
QX_INLINE void jump(CpuCore& c, u32 target) {
    if (!c.o32) target &= 0xffff;
    const SegReg& cs = c.seg[kCS];
    if (cs.limit != 0xffffffffu && target > cs.limit) fault_err(kVecGP, 0);
    c.eip = target;
}

template <class T> void push_v(CpuCore& c, u32 v) { c.push<T>(static_cast<T>(v)); }

// ---- string instructions
enum class Str { Movs, Cmps, Stos, Lods, Scas, Ins, Outs };

QX_INLINE u32 idx_reg(const CpuCore& c, unsigned i) { return c.a32 ? c.r[i] : (c.r[i] & 0xffff); }
QX_INLINE void idx_add(CpuCore& c, unsigned i, s32 d) {
    if (c.a32) c.r[i] += static_cast<u32>(d);
    else c.r[i] = (c.r[i] & 0xffff0000u) | ((c.r[i] + static_cast<u32>(d)) & 0xffff);
}

template <class T> bool string_once(CpuCore& c, Str k, s32 d) {
    const unsigned src = c.seg_ovr != kNoSeg ? c.seg_ovr : kDS;
    switch (k) {
        case Str::Movs: {
            const T v = c.read<T>(src, idx_reg(c, kESI));
            c.write<T>(kES, idx_reg(c, kEDI), v);
            idx_add(c, kESI, d); idx_add(c, kEDI, d);
            return true;
        }
        case Str::Cmps: {
            const T a = c.read<T>(src, idx_reg(c, kESI));
            const T b = c.read<T>(kES, idx_reg(c, kEDI));
            alu<T>(c, 7, a, b);
            idx_add(c, kESI, d); idx_add(c, kEDI, d);
            return true;
        }
        case Str::Stos:
            c.write<T>(kES, idx_reg(c, kEDI), c.getr<T>(kEAX));
            idx_add(c, kEDI, d);
            return true;
        case Str::Lods:
            c.setr<T>(kEAX, c.read<T>(src, idx_reg(c, kESI)));
            idx_add(c, kESI, d);
            return true;
        case Str::Scas: {
            const T b = c.read<T>(kES, idx_reg(c, kEDI));
            alu<T>(c, 7, c.getr<T>(kEAX), b);
            idx_add(c, kEDI, d);
            return true;
        }
        case Str::Ins: {
            // Probe the destination before the port read so a fault does not lose data.
            c.write<T>(kES, idx_reg(c, kEDI), c.read<T>(kES, idx_reg(c, kEDI)));
            const T v = static_cast<T>(c.port_in(static_cast<u16>(c.r[kEDX]), sizeof(T)));
            c.write<T>(kES, idx_reg(c, kEDI), v);
            idx_add(c, kEDI, d);
            return true;
        }
        case Str::Outs: {
            const T v = c.read<T>(src, idx_reg(c, kESI));
            c.port_out(static_cast<u16>(c.r[kEDX]), sizeof(T), v);
            idx_add(c, kESI, d);
            return true;
        }
    }
    return true;
}

// Bulk path for REP MOVS/STOS over RAM with flat segments and DF=0: handles as many
// elements as fit in the current source and destination pages and the cycle budget.
template <class T> u32 string_bulk(CpuCore& c, Str k, u32 count) {
    if (!c.a32 || (c.flags & kDF)) return 0;
    const unsigned src = c.seg_ovr != kNoSeg ? c.seg_ovr : kDS;
    if (!c.seg[kES].fast_write) return 0;
    const u32 di = c.r[kEDI];
    u8* dp = c.mem.writable_page(di);
    if (!dp) return 0;
    u32 n = (kPageSize - (di & (kPageSize - 1))) / sizeof(T);
    if (k == Str::Movs) {
        if (!c.seg[src].fast_read) return 0;
        const u32 si = c.seg[src].base + c.r[kESI];
        const u8* sp = c.mem.host_page(si);
        if (!sp) return 0;
        n = std::min<u32>(n, (kPageSize - (si & (kPageSize - 1))) / sizeof(T));
        n = std::min<u32>(n, count);
        const u64 room = c.budget_end > c.cycles ? c.budget_end - c.cycles : 1;
        n = static_cast<u32>(std::min<u64>(n, room));
        if (n == 0) return 0;
        u8* d = dp + (di & (kPageSize - 1));
        const u8* s = sp + (si & (kPageSize - 1));
        const u32 len = n * sizeof(T);
        if (d + len <= s || s + len <= d) {
            std::memcpy(d, s, len);
        } else {
            // Overlap: element by element, as the hardware does.
            for (u32 i = 0; i < n; ++i) {
                T v;
                std::memcpy(&v, s + i * sizeof(T), sizeof(T));
                std::memcpy(d + i * sizeof(T), &v, sizeof(T));
            }
        }
        c.r[kESI] += len;
    } else {
        n = std::min<u32>(n, count);
        const u64 room = c.budget_end > c.cycles ? c.budget_end - c.cycles : 1;
        n = static_cast<u32>(std::min<u64>(n, room));
        if (n == 0) return 0;
        u8* d = dp + (di & (kPageSize - 1));
        const T v = c.getr<T>(kEAX);
        if constexpr (sizeof(T) == 1) {
            std::memset(d, v, n);
        } else {
            for (u32 i = 0; i < n; ++i) std::memcpy(d + i * sizeof(T), &v, sizeof(T));
        }
    }
    c.r[kEDI] += n * sizeof(T);
    return n;
}

// Returns false when a REP instruction was interrupted (EIP stays on it).
template <class T> bool string_op(CpuCore& c, Str k) {
    const s32 d = (c.flags & kDF) ? -static_cast<s32>(sizeof(T)) : static_cast<s32>(sizeof(T));
    if (!c.rep) return string_once<T>(c, k, d);
    const bool cond = (k == Str::Cmps || k == Str::Scas);
    for (;;) {
        u32 count = idx_reg(c, kECX);
        if (count == 0) return true;
        if (!cond && (k == Str::Movs || k == Str::Stos)) {
            const u32 n = string_bulk<T>(c, k, count);
            if (n) {
                count -= n;
                if (c.a32) c.r[kECX] = count;
                else c.r[kECX] = (c.r[kECX] & 0xffff0000u) | count;
                if (count == 0) { c.cycles += n - 1; c.stall_cycles += n - 1; return true; }
                c.cycles += n;
                c.stall_cycles += n;
                if (c.cycles + 1 >= c.budget_end) return false;
                continue;
            }
        }
        string_once<T>(c, k, d);
        --count;
        if (c.a32) c.r[kECX] = count;
        else c.r[kECX] = (c.r[kECX] & 0xffff0000u) | count;
        if (count == 0) return true;
        if (cond && (c.get_zf() != (c.rep == 0xf3))) return true;
        if (c.cycles + 1 >= c.budget_end) return false;
        ++c.cycles;
        ++c.stall_cycles;
    }
}

// LOCK is only valid on read-modify-write instructions with a memory destination.
bool lock_allowed(unsigned op, const u8* ip) {
    if (op == 0x0f) {
        const unsigned op2 = ip[0], modrm = ip[1];
        if ((modrm & 0xc0) == 0xc0) return false;
        switch (op2) {
            case 0xab: case 0xb3: case 0xbb: case 0xb0: case 0xb1: case 0xc0: case 0xc1: return true;
            case 0xba: return ((modrm >> 3) & 7) >= 5;
            case 0xc7: return ((modrm >> 3) & 7) == 1;
            default: return false;
        }
    }
    const unsigned modrm = ip[0], reg = (modrm >> 3) & 7;
    if ((modrm & 0xc0) == 0xc0) return false;
    if (op < 0x40 && (op & 7) <= 1 && (op & 0x38) != 0x38) return true;  // ALU Eb,Gb / Ev,Gv except CMP
    switch (op) {
        case 0x80: case 0x81: case 0x82: case 0x83: return reg != 7;
        case 0x86: case 0x87: return true;
        case 0xf6: case 0xf7: return reg == 2 || reg == 3;
        case 0xfe: case 0xff: return reg <= 1;
        default: return false;
    }
}

template <class T> QX_INLINE void far_ptr_load(CpuCore& c, const u8*& ip, unsigned s) {
    Modrm m;
    decode_modrm(c, ip, m);
    if (m.is_reg()) c.undefined("LDS/LES/LSS/LFS/LGS with a register operand");
    const T off = c.read<T>(m.s, m.off);
    const u16 sel = c.read<u16>(m.s, m.off + sizeof(T));
    c.load_data_seg(s, sel);
    c.setr<T>(m.reg, off);
}

}  // namespace

void CpuCore::undefined(const char* why) {
    if (trace) std::fprintf(trace, "#UD at %08x: %s (%s)\n", insn_eip, why, disassemble(seg[kCS].base + insn_eip).c_str());
    throw CpuException{kVecUD, false, 0};
}

const std::uint8_t* CpuCore::fetch_slow(std::uint32_t lin) {
    const std::uint32_t page = lin & ~(kPageSize - 1);
    const std::uint8_t* p = mem.host_page(lin);
    if (p && (lin & (kPageSize - 1)) <= kPageSize - sizeof(fetch_buf)) {
        code_page_lin = page;
        code_page_ptr = p;
        return p + (lin & (kPageSize - 1));
    }
    for (unsigned i = 0; i < sizeof(fetch_buf); ++i) {
        const std::uint32_t a = lin + i;
        if (const std::uint8_t* q = mem.host_page(a)) fetch_buf[i] = q[a & (kPageSize - 1)];
        else if (i == 0 || ((a & (kPageSize - 1)) != 0 && mem.host_page(a - 1) == nullptr)) fetch_buf[i] = static_cast<std::uint8_t>(mmio_read(a, 1));
        else fetch_buf[i] = 0xff;
    }
    return fetch_buf;
}

const std::uint8_t* CpuCore::enter_code(std::uint32_t target) {
    const SegReg& cs = seg[kCS];
    if (cs.limit != 0xffffffffu && target > cs.limit) fault_err(kVecGP, 0);
    const std::uint32_t lin = cs.base + target;
    const std::uint32_t off = lin & (kPageSize - 1);
    const std::uint8_t* p;
    if ((lin & ~(kPageSize - 1)) == code_page_lin && off <= kPageSize - sizeof(fetch_buf)) p = code_page_ptr + off;
    else p = fetch_slow(lin);
    code_delta = target - reinterpret_cast<std::uintptr_t>(p);
    if (p == fetch_buf) {
        // Straddles a page end or runs from MMIO: this copy serves one instruction only.
        code_fast_end = 0;
        return p;
    }
    // Fast-path bound for this page: a full fetch_buf of bytes left, and EIP within the limit.
    std::uintptr_t fast_end = reinterpret_cast<std::uintptr_t>(code_page_ptr) + (kPageSize - sizeof(fetch_buf));
    if (cs.limit != 0xffffffffu && cs.limit - target < fast_end - reinterpret_cast<std::uintptr_t>(p))
        fast_end = reinterpret_cast<std::uintptr_t>(p) + (cs.limit - target);
    code_page_delta = code_delta;
    code_page_fast_end = fast_end;
    code_fast_end = fast_end;
    // EIPs on this page grow with the address unless the CS base lies inside the page (EIP
    // wraps there): then branches take the checked path.
    code_page_eip0 = static_cast<std::uint32_t>(code_delta + reinterpret_cast<std::uintptr_t>(code_page_ptr));
    const std::uint32_t span = static_cast<std::uint32_t>(fast_end - reinterpret_cast<std::uintptr_t>(code_page_ptr)) + 1;
    code_page_span = code_page_eip0 + (span - 1) >= code_page_eip0 ? span : 0;
    return p;
}

void CpuCore::exec_loop() {
    CpuCore& c = *this;
    restore_defaults();
    prefixed = false;
    // The decode pointer and the cycle count live in registers: every helper that advances
    // ip is inlined, and the members are written at the start of each instruction so that
    // out-of-line code (port I/O, faults) sees them. EIP is ip + code_delta.
    const std::uint8_t* ip = defer_code(eip);
    std::uint64_t cyc = cycles;
#define next_eip(p) ip_eip(p)
// A string instruction moves the cycle count itself (one cycle per REP iteration).
#define STRING_OP(expr)                     \
    {                                       \
        const bool string_done = (expr);    \
        if (cycles != cyc) {                \
            history_skip(cyc, cycles - cyc); \
            cyc = cycles;                   \
        }                                   \
        if (!string_done) goto insn_restart; \
        break;                              \
    }
// Near branch: a target on the current code page within the fast bound (hence inside the
// CS limit) continues there at once; anything else takes jump() and the checked path.
#define NEAR_BRANCH(target_expr)                                                  \
    {                                                                             \
        const std::uint32_t branch_target = (target_expr);                        \
        if (o32 && branch_target - code_page_eip0 < code_page_span) [[likely]] {  \
            ip = code_page_ptr + (branch_target - code_page_eip0);                \
            code_delta = code_page_delta;                                         \
            code_fast_end = code_page_fast_end;                                   \
            goto retire;                                                          \
        }                                                                         \
        jump(c, branch_target);                                                   \
        goto insn_done;                                                           \
    }
    try {
    while (cyc < budget_end) {
    {
        const std::uint32_t pc = ip_eip(ip);
        cycles = cyc;
        history[cyc & 31] = pc;
        insn_eip = pc;
        insn_esp = r[kESP];
        if (reinterpret_cast<std::uintptr_t>(ip) > code_fast_end) [[unlikely]] ip = enter_code(pc);
    }
    // Between instructions o32/a32/seg_ovr/rep hold their defaults (see restore_defaults);
    // only an instruction with prefixes changes and then restores them.
    unsigned op;
    unsigned prefixes = 0;
    bool lock = false;
next_op:
    op = *ip++;
    if (lock) [[unlikely]] {
        if (op != 0xf0 && op != 0x66 && op != 0x67 && op != 0xf2 && op != 0xf3 && (op & 0xe7) != 0x26 && (op & 0xfe) != 0x64 &&
            !lock_allowed(op, ip))
            undefined("LOCK prefix on an instruction that cannot be locked");
    }
#define OPV(fn, ...) (o32 ? fn<u32>(__VA_ARGS__) : fn<u16>(__VA_ARGS__))
    switch (op) {
        case 0x26: seg_ovr = kES; goto prefix;
        case 0x2e: seg_ovr = kCS; goto prefix;
        case 0x36: seg_ovr = kSS; goto prefix;
        case 0x3e: seg_ovr = kDS; goto prefix;
        case 0x64: seg_ovr = kFS; goto prefix;
        case 0x65: seg_ovr = kGS; goto prefix;
        case 0x66: o32 = !seg[kCS].big(); goto prefix;
        case 0x67: a32 = !seg[kCS].big(); goto prefix;
        case 0xf0: lock = true; goto prefix;
        case 0xf2: case 0xf3: rep = static_cast<std::uint8_t>(op); goto prefix;
#define ALU_CASES(base)                                                       \
    case base + 0: alu_rm<u8>(c, ip, base >> 3, false); break;                    \
    case base + 1: OPV(alu_rm, c, ip, base >> 3, false); break;                   \
    case base + 2: alu_rm<u8>(c, ip, base >> 3, true); break;                     \
    case base + 3: OPV(alu_rm, c, ip, base >> 3, true); break;                    \
    case base + 4: alu_acc_imm<u8>(c, ip, base >> 3); break;                      \
    case base + 5: OPV(alu_acc_imm, c, ip, base >> 3); break;
        ALU_CASES(0x00) ALU_CASES(0x08) ALU_CASES(0x10) ALU_CASES(0x18)
        ALU_CASES(0x20) ALU_CASES(0x28) ALU_CASES(0x30) ALU_CASES(0x38)
#undef ALU_CASES
        case 0x06: OPV(push_v, c, seg[kES].selector); break;
        case 0x0e: OPV(push_v, c, seg[kCS].selector); break;
        case 0x16: OPV(push_v, c, seg[kSS].selector); break;
        case 0x1e: OPV(push_v, c, seg[kDS].selector); break;
        case 0x07: case 0x17: case 0x1f: {
            const unsigned s = op == 0x07 ? kES : op == 0x17 ? kSS : kDS;
            const std::uint16_t sel = static_cast<std::uint16_t>(o32 ? pop<u32>() : pop<u16>());
            load_data_seg(s, sel);
            if (s == kSS) { inhibit_end = cycles + 2; if (budget_end > cycles + 2) budget_end = cycles + 2; }
            break;
        }
        case 0x27: undefined("DAA (BCD arithmetic is not implemented)");
        case 0x2f: undefined("DAS (BCD arithmetic is not implemented)");
        case 0x37: undefined("AAA (BCD arithmetic is not implemented)");
        case 0x3f: undefined("AAS (BCD arithmetic is not implemented)");
        case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
            if (o32) r[op & 7] = do_inc<u32>(c, r[op & 7]);
            else setr<u16>(op & 7, do_inc<u16>(c, getr<u16>(op & 7)));
            break;
        case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
            if (o32) r[op & 7] = do_dec<u32>(c, r[op & 7]);
            else setr<u16>(op & 7, do_dec<u16>(c, getr<u16>(op & 7)));
            break;
        case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
            if (o32) push<u32>(r[op & 7]); else push<u16>(static_cast<u16>(r[op & 7]));
            break;
        case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
            if (o32) { const u32 v = pop<u32>(); r[op & 7] = v; }
            else { const u16 v = pop<u16>(); setr<u16>(op & 7, v); }
            break;
        case 0x60: {  // PUSHA
            const u32 sp = r[kESP];
            if (o32) {
                for (unsigned i = 0; i < 8; ++i) push<u32>(i == kESP ? sp : r[i]);
            } else {
                for (unsigned i = 0; i < 8; ++i) push<u16>(static_cast<u16>(i == kESP ? sp : r[i]));
            }
            break;
        }
        case 0x61: {  // POPA
            if (o32) {
                for (int i = 7; i >= 0; --i) { const u32 v = pop<u32>(); if (i != kESP) r[i] = v; }
            } else {
                for (int i = 7; i >= 0; --i) { const u16 v = pop<u16>(); if (i != kESP) setr<u16>(static_cast<unsigned>(i), v); }
            }
            break;
        }
        case 0x62: {  // BOUND
            Modrm m;
            decode_modrm(c, ip, m);
            if (m.is_reg()) undefined("BOUND with a register operand");
            if (o32) {
                const s32 v = static_cast<s32>(r[m.reg]);
                const s32 lo = static_cast<s32>(read<u32>(m.s, m.off)), hi = static_cast<s32>(read<u32>(m.s, m.off + 4));
                if (v < lo || v > hi) fault(kVecBR);
            } else {
                const s16 v = static_cast<s16>(r[m.reg]);
                const s16 lo = static_cast<s16>(read<u16>(m.s, m.off)), hi = static_cast<s16>(read<u16>(m.s, m.off + 2));
                if (v < lo || v > hi) fault(kVecBR);
            }
            break;
        }
        case 0x63: undefined("ARPL (protected-mode privilege adjust is not implemented)");
        case 0x68: if (o32) push<u32>(f32(ip)); else push<u16>(f16(ip)); break;
        case 0x69: OPV(imul_form, c, ip, 2); break;
        case 0x6a: { const u32 v = sext<u8>(f8(ip)); if (o32) push<u32>(v); else push<u16>(static_cast<u16>(v)); break; }
        case 0x6b: OPV(imul_form, c, ip, 1); break;
        case 0x6c: STRING_OP(string_op<u8>(c, Str::Ins));
        case 0x6d: STRING_OP(o32 ? string_op<u32>(c, Str::Ins) : string_op<u16>(c, Str::Ins));
        case 0x6e: STRING_OP(string_op<u8>(c, Str::Outs));
        case 0x6f: STRING_OP(o32 ? string_op<u32>(c, Str::Outs) : string_op<u16>(c, Str::Outs));
        case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
        case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
            const u32 disp = sext<u8>(f8(ip));
            if (cond(op & 15)) NEAR_BRANCH(next_eip(ip) + disp);
            break;
        }
        case 0x80: case 0x82: alu_grp1<u8, u8>(c, ip); break;
        case 0x81: if (o32) alu_grp1<u32, u32>(c, ip); else alu_grp1<u16, u16>(c, ip); break;
        case 0x83: if (o32) alu_grp1<u32, u8>(c, ip); else alu_grp1<u16, u8>(c, ip); break;
        case 0x84: { Modrm m; decode_modrm(c, ip, m); alu<u8>(c, 4, rd_rm<u8>(c, m), get8(m.reg)); break; }
        case 0x85: {
            Modrm m;
            decode_modrm(c, ip, m);
            if (o32) alu<u32>(c, 4, rd_rm<u32>(c, m), r[m.reg]);
            else alu<u16>(c, 4, rd_rm<u16>(c, m), getr<u16>(m.reg));
            break;
        }
        case 0x86: {
            Modrm m; decode_modrm(c, ip, m);
            const u8 a = rd_rm<u8>(c, m), b = get8(m.reg);
            wr_rm<u8>(c, m, b); set8(m.reg, a);
            break;
        }
        case 0x87: {
            Modrm m; decode_modrm(c, ip, m);
            if (o32) { const u32 a = rd_rm<u32>(c, m), b = r[m.reg]; wr_rm<u32>(c, m, b); r[m.reg] = a; }
            else { const u16 a = rd_rm<u16>(c, m), b = getr<u16>(m.reg); wr_rm<u16>(c, m, b); setr<u16>(m.reg, a); }
            break;
        }
        case 0x88: { Modrm m; decode_modrm(c, ip, m); wr_rm<u8>(c, m, get8(m.reg)); break; }
        case 0x89: {
            Modrm m; decode_modrm(c, ip, m);
            if (o32) wr_rm<u32>(c, m, r[m.reg]); else wr_rm<u16>(c, m, getr<u16>(m.reg));
            break;
        }
        case 0x8a: { Modrm m; decode_modrm(c, ip, m); set8(m.reg, rd_rm<u8>(c, m)); break; }
        case 0x8b: {
            Modrm m; decode_modrm(c, ip, m);
            if (o32) r[m.reg] = rd_rm<u32>(c, m); else setr<u16>(m.reg, rd_rm<u16>(c, m));
            break;
        }
        case 0x8c: {
            Modrm m; decode_modrm(c, ip, m);
            if (m.reg > 5) undefined("MOV from a segment register that does not exist");
            const u16 sel = seg[m.reg].selector;
            if (m.is_reg()) { if (o32) r[m.rm] = sel; else setr<u16>(m.rm, sel); }
            else write<u16>(m.s, m.off, sel);
            break;
        }
        case 0x8d: {
            Modrm m; decode_modrm(c, ip, m);
            if (m.is_reg()) undefined("LEA with a register operand");
            if (o32) r[m.reg] = m.off; else setr<u16>(m.reg, static_cast<u16>(m.off));
            break;
        }
        case 0x8e: {
            Modrm m; decode_modrm(c, ip, m);
            if (m.reg > 5 || m.reg == kCS) undefined("MOV to CS or to a segment register that does not exist");
            load_data_seg(m.reg, rd_rm<u16>(c, m));
            if (m.reg == kSS) { inhibit_end = cycles + 2; if (budget_end > cycles + 2) budget_end = cycles + 2; }
            break;
        }
        case 0x8f: {  // POP Ev: the address uses ESP after the pop
            const std::uint8_t* save = ip;
            Modrm m;
            decode_modrm(c, ip, m);
            if (m.reg != 0) undefined("8F with reg != 0");
            ip = save;
            const u32 v = o32 ? pop<u32>() : pop<u16>();
            decode_modrm(c, ip, m);
            if (o32) wr_rm<u32>(c, m, v); else wr_rm<u16>(c, m, static_cast<u16>(v));
            break;
        }
        case 0x90: break;
        case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
            if (o32) std::swap(r[kEAX], r[op & 7]);
            else { const u16 a = getr<u16>(kEAX); setr<u16>(kEAX, getr<u16>(op & 7)); setr<u16>(op & 7, a); }
            break;
        case 0x98:
            if (o32) r[kEAX] = sext<u16>(static_cast<u16>(r[kEAX]));
            else setr<u16>(kEAX, static_cast<u16>(sext<u8>(static_cast<u8>(r[kEAX]))));
            break;
        case 0x99:
            if (o32) r[kEDX] = (r[kEAX] & 0x80000000u) ? 0xffffffffu : 0;
            else setr<u16>(kEDX, (r[kEAX] & 0x8000) ? 0xffff : 0);
            break;
        case 0x9a: {  // CALL ptr16:16/32
            const u32 off = o32 ? f32(ip) : f16(ip);
            const u16 sel = f16(ip);
            Descriptor d;
            check_cs_target(sel, d, 0);
            if (off > d.limit) fault_err(kVecGP, 0);
            if (o32) { push<u32>(seg[kCS].selector); push<u32>(next_eip(ip)); }
            else { push<u16>(seg[kCS].selector); push<u16>(static_cast<u16>(next_eip(ip))); }
            commit_cs(sel, d);
            eip = off;
            goto insn_done;
        }
        case 0x9b: break;  // WAIT: no FPU, nothing pending
        case 0x9c: {
            const u32 f = get_eflags() & ~(kVM | kRF);
            if (o32) push<u32>(f); else push<u16>(static_cast<u16>(f));
            break;
        }
        case 0x9d: {
            const u32 v = o32 ? pop<u32>() : pop<u16>();
            set_eflags_checked(v, o32 ? 0x247fd5u : 0x7fd5u);
            break;
        }
        case 0x9e: {  // SAHF
            materialize();
            const u32 mask = kSF | kZF | kAF | kPF | kCF;
            flags = (flags & ~mask) | ((r[kEAX] >> 8) & mask);
            break;
        }
        case 0x9f: set8(4, static_cast<u8>((get_eflags() & (kSF | kZF | kAF | kPF | kCF)) | 2)); break;
        case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
            const u32 off = a32 ? f32(ip) : f16(ip);
            const unsigned s = seg_ovr != kNoSeg ? seg_ovr : kDS;
            switch (op) {
                case 0xa0: set8(0, read<u8>(s, off)); break;
                case 0xa1: if (o32) r[kEAX] = read<u32>(s, off); else setr<u16>(kEAX, read<u16>(s, off)); break;
                case 0xa2: write<u8>(s, off, get8(0)); break;
                default: if (o32) write<u32>(s, off, r[kEAX]); else write<u16>(s, off, getr<u16>(kEAX)); break;
            }
            break;
        }
#define STR_CASES(opc, kind)                                                                                  \
    case opc: STRING_OP(string_op<u8>(c, kind));                                                                   \
    case opc + 1: STRING_OP(o32 ? string_op<u32>(c, kind) : string_op<u16>(c, kind));
        STR_CASES(0xa4, Str::Movs)
        STR_CASES(0xa6, Str::Cmps)
        STR_CASES(0xaa, Str::Stos)
        STR_CASES(0xac, Str::Lods)
        STR_CASES(0xae, Str::Scas)
#undef STR_CASES
        case 0xa8: alu<u8>(c, 4, get8(0), f8(ip)); break;
        case 0xa9: if (o32) alu<u32>(c, 4, r[kEAX], f32(ip)); else alu<u16>(c, 4, getr<u16>(kEAX), f16(ip)); break;
        case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
            set8(op & 7, f8(ip));
            break;
        case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
            if (o32) r[op & 7] = f32(ip); else setr<u16>(op & 7, f16(ip));
            break;
        case 0xc0: shift_grp<u8>(c, ip, 0); break;
        case 0xc1: OPV(shift_grp, c, ip, 0); break;
        case 0xd0: shift_grp<u8>(c, ip, 1); break;
        case 0xd1: OPV(shift_grp, c, ip, 1); break;
        case 0xd2: shift_grp<u8>(c, ip, 2); break;
        case 0xd3: OPV(shift_grp, c, ip, 2); break;
        case 0xc2: case 0xc3: {
            const u32 n = op == 0xc2 ? f16(ip) : 0;
            const u32 target = o32 ? pop<u32>() : pop<u16>();
            jump(c, target);
            sp_add(n);
            goto insn_done;
        }
        case 0xc4: OPV(far_ptr_load, c, ip, kES); break;
        case 0xc5: OPV(far_ptr_load, c, ip, kDS); break;
        case 0xc6: {
            Modrm m; decode_modrm(c, ip, m);
            if (m.reg != 0) undefined("C6 with reg != 0");
            wr_rm<u8>(c, m, f8(ip));
            break;
        }
        case 0xc7: {
            Modrm m; decode_modrm(c, ip, m);
            if (m.reg != 0) undefined("C7 with reg != 0");
            if (o32) wr_rm<u32>(c, m, f32(ip)); else wr_rm<u16>(c, m, f16(ip));
            break;
        }
        case 0xc8: {  // ENTER
            const u32 size = f16(ip);
            const unsigned level = f8(ip) & 31;
            const unsigned w = o32 ? 4 : 2;
            if (o32) push<u32>(r[kEBP]); else push<u16>(static_cast<u16>(r[kEBP]));
            const u32 frame = stack32() ? r[kESP] : (r[kESP] & 0xffff);
            u32 bp = r[kEBP];
            for (unsigned i = 1; i < level; ++i) {
                bp -= w;
                const u32 a = stack32() ? bp : (bp & 0xffff);
                if (o32) push<u32>(read<u32>(kSS, a)); else push<u16>(read<u16>(kSS, a));
            }
            if (level > 0) { if (o32) push<u32>(frame); else push<u16>(static_cast<u16>(frame)); }
            if (o32) r[kEBP] = frame; else setr<u16>(kEBP, static_cast<u16>(frame));
            sp_add(0u - size);
            break;
        }
        case 0xc9: {  // LEAVE
            if (stack32()) r[kESP] = r[kEBP]; else setr<u16>(kESP, static_cast<u16>(r[kEBP]));
            if (o32) r[kEBP] = pop<u32>(); else setr<u16>(kEBP, pop<u16>());
            break;
        }
        case 0xca: case 0xcb: {  // RETF
            const u32 n = op == 0xca ? f16(ip) : 0;
            const u32 target = o32 ? pop<u32>() : pop<u16>();
            const u16 sel = static_cast<u16>(o32 ? pop<u32>() : pop<u16>());
            if ((sel & 3) != 0) fault_err(kVecGP, sel & 0xfffcu);  // return to an outer ring
            load_cs(sel, target);
            sp_add(n);
            goto insn_done;
        }
        case 0xcc: eip = next_eip(ip); deliver(kVecBP, false, 0, 0, eip); goto insn_done;
        case 0xcd: { const u8 v = f8(ip); eip = next_eip(ip); deliver(v, false, 0, 0, eip); goto insn_done; }
        case 0xce:
            if (get_of()) { eip = next_eip(ip); deliver(kVecOF, false, 0, 0, eip); goto insn_done; }
            break;
        case 0xcf: do_iret(); goto insn_done;
        case 0xd4: undefined("AAM (BCD arithmetic is not implemented)");
        case 0xd5: undefined("AAD (BCD arithmetic is not implemented)");
        case 0xd6: undefined("SALC (undocumented)");
        case 0xd7: {
            const u32 off = (a32 ? r[kEBX] : (r[kEBX] & 0xffff)) + (r[kEAX] & 0xff);
            set8(0, read<u8>(seg_ovr != kNoSeg ? seg_ovr : kDS, a32 ? off : (off & 0xffff)));
            break;
        }
        case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
            undefined("x87 floating point (no FPU is modelled)");
        case 0xe0: case 0xe1: case 0xe2: {  // LOOPNE, LOOPE, LOOP
            const u32 disp = sext<u8>(f8(ip));
            u32 cnt;
            if (a32) cnt = --r[kECX];
            else { cnt = (r[kECX] - 1) & 0xffff; setr<u16>(kECX, static_cast<u16>(cnt)); }
            bool take = cnt != 0;
            if (op == 0xe0) take = take && !get_zf();
            else if (op == 0xe1) take = take && get_zf();
            if (take) { jump(c, next_eip(ip) + disp); goto insn_done; }
            break;
        }
        case 0xe3: {
            const u32 disp = sext<u8>(f8(ip));
            if ((a32 ? r[kECX] : (r[kECX] & 0xffff)) == 0) { jump(c, next_eip(ip) + disp); goto insn_done; }
            break;
        }
        case 0xe4: set8(0, static_cast<u8>(port_in(f8(ip), 1))); break;
        case 0xe5: { const u8 p = f8(ip); if (o32) r[kEAX] = port_in(p, 4); else setr<u16>(kEAX, static_cast<u16>(port_in(p, 2))); break; }
        case 0xe6: { const u8 p = f8(ip); port_out(p, 1, r[kEAX] & 0xff); break; }
        case 0xe7: { const u8 p = f8(ip); port_out(p, o32 ? 4 : 2, o32 ? r[kEAX] : (r[kEAX] & 0xffff)); break; }
        case 0xec: set8(0, static_cast<u8>(port_in(static_cast<u16>(r[kEDX]), 1))); break;
        case 0xed:
            if (o32) r[kEAX] = port_in(static_cast<u16>(r[kEDX]), 4);
            else setr<u16>(kEAX, static_cast<u16>(port_in(static_cast<u16>(r[kEDX]), 2)));
            break;
        case 0xee: port_out(static_cast<u16>(r[kEDX]), 1, r[kEAX] & 0xff); break;
        case 0xef: port_out(static_cast<u16>(r[kEDX]), o32 ? 4 : 2, o32 ? r[kEAX] : (r[kEAX] & 0xffff)); break;
        case 0xe8: {
            const u32 disp = o32 ? f32(ip) : sext<u16>(f16(ip));
            const u32 ret = next_eip(ip);
            u32 target = ret + disp;
            if (o32 && target - code_page_eip0 < code_page_span) [[likely]] {
                push<u32>(ret);
                // Re-checked: a push to MMIO may have changed the memory map.
                if (target - code_page_eip0 < code_page_span) [[likely]] {
                    ip = code_page_ptr + (target - code_page_eip0);
                    code_delta = code_page_delta;
                    code_fast_end = code_page_fast_end;
                    goto retire;
                }
                eip = target;
                goto insn_done;
            }
            if (!o32) target &= 0xffff;
            if (seg[kCS].limit != 0xffffffffu && target > seg[kCS].limit) fault_err(kVecGP, 0);
            if (o32) push<u32>(ret); else push<u16>(static_cast<u16>(ret));
            eip = target;
            goto insn_done;
        }
        case 0xe9: { const u32 disp = o32 ? f32(ip) : sext<u16>(f16(ip)); NEAR_BRANCH(next_eip(ip) + disp); }
        case 0xeb: { const u32 disp = sext<u8>(f8(ip)); NEAR_BRANCH(next_eip(ip) + disp); }
        case 0xea: {
            const u32 off = o32 ? f32(ip) : f16(ip);
            const u16 sel = f16(ip);
            load_cs(sel, off);
            goto insn_done;
        }
        case 0xf1: undefined("ICEBP (INT1)");
        case 0xf4:
            halted = true;
            eip = next_eip(ip);
            if (budget_end > cycles + 1) budget_end = cycles + 1;
            goto insn_done;
        case 0xf5: materialize(); flags ^= kCF; break;
        case 0xf6: grp3<u8>(c, ip); break;
        case 0xf7: OPV(grp3, c, ip); break;
        case 0xf8: materialize(); flags &= ~kCF; break;
        case 0xf9: materialize(); flags |= kCF; break;
        case 0xfa: flags &= ~kIF; break;
        case 0xfb:
            if (!(flags & kIF)) {
                flags |= kIF;
                inhibit_end = cycles + 2;
                if (budget_end > cycles + 2) budget_end = cycles + 2;
            }
            break;
        case 0xfc: flags &= ~kDF; break;
        case 0xfd: flags |= kDF; break;
        case 0xfe: {
            Modrm m; decode_modrm(c, ip, m);
            if (m.reg == 0) wr_rm<u8>(c, m, do_inc<u8>(c, rd_rm<u8>(c, m)));
            else if (m.reg == 1) wr_rm<u8>(c, m, do_dec<u8>(c, rd_rm<u8>(c, m)));
            else undefined("FE with reg > 1");
            break;
        }
        case 0xff: {
            Modrm m; decode_modrm(c, ip, m);
            switch (m.reg) {
                case 0:
                    if (o32) wr_rm<u32>(c, m, do_inc<u32>(c, rd_rm<u32>(c, m)));
                    else wr_rm<u16>(c, m, do_inc<u16>(c, rd_rm<u16>(c, m)));
                    break;
                case 1:
                    if (o32) wr_rm<u32>(c, m, do_dec<u32>(c, rd_rm<u32>(c, m)));
                    else wr_rm<u16>(c, m, do_dec<u16>(c, rd_rm<u16>(c, m)));
                    break;
                case 2: {
                    const u32 target = o32 ? rd_rm<u32>(c, m) : rd_rm<u16>(c, m);
                    const u32 ret = next_eip(ip);
                    if (seg[kCS].limit != 0xffffffffu && target > seg[kCS].limit) fault_err(kVecGP, 0);
                    if (o32) push<u32>(ret); else push<u16>(static_cast<u16>(ret));
                    eip = target;
                    goto insn_done;
                }
                case 3: case 5: {
                    if (m.is_reg()) undefined("far CALL/JMP with a register operand");
                    const u32 off = o32 ? read<u32>(m.s, m.off) : read<u16>(m.s, m.off);
                    const u16 sel = read<u16>(m.s, m.off + (o32 ? 4 : 2));
                    if (m.reg == 5) { load_cs(sel, off); goto insn_done; }
                    Descriptor d;
                    check_cs_target(sel, d, 0);
                    if (off > d.limit) fault_err(kVecGP, 0);
                    if (o32) { push<u32>(seg[kCS].selector); push<u32>(next_eip(ip)); }
                    else { push<u16>(seg[kCS].selector); push<u16>(static_cast<u16>(next_eip(ip))); }
                    commit_cs(sel, d);
                    eip = off;
                    goto insn_done;
                }
                case 4: jump(c, o32 ? rd_rm<u32>(c, m) : rd_rm<u16>(c, m)); goto insn_done;
                case 6: if (o32) push<u32>(rd_rm<u32>(c, m)); else push<u16>(rd_rm<u16>(c, m)); break;
                default: undefined("FF with reg 7");
            }
            break;
        }
        case 0x0f: {
            const unsigned op2 = *ip++;
            switch (op2) {
                case 0x01: {
                    Modrm m; decode_modrm(c, ip, m);
                    switch (m.reg) {
                        case 0: case 1: {
                            if (m.is_reg()) undefined("0F 01 register form");
                            const TableReg& t = m.reg == 0 ? gdtr : idtr;
                            write<u16>(m.s, m.off, t.limit);
                            write<u32>(m.s, m.off + 2, o32 ? t.base : (t.base & 0x00ffffffu));
                            break;
                        }
                        case 2: case 3: {
                            if (m.is_reg()) undefined("0F 01 register form");
                            const u16 lim = read<u16>(m.s, m.off);
                            u32 base = read<u32>(m.s, m.off + 2);
                            if (!o32) base &= 0x00ffffffu;
                            TableReg& t = m.reg == 2 ? gdtr : idtr;
                            t.base = base;
                            t.limit = lim;
                            break;
                        }
                        case 4:
                            if (m.is_reg() && o32) r[m.rm] = cr0; else wr_rm<u16>(c, m, static_cast<u16>(cr0));
                            break;
                        case 6: {
                            const u16 v = rd_rm<u16>(c, m);
                            write_cr(0, (cr0 & ~0xeu) | (v & 0xfu) | (cr0 & 1));
                            break;
                        }
                        case 7:
                            if (m.is_reg()) undefined("0F 01 /7 register form");
                            break;  // INVLPG: no TLB
                        default: undefined("0F 01 /5");
                    }
                    break;
                }
                case 0x06: cr0 &= ~8u; break;  // CLTS
                case 0x08: case 0x09: break;   // INVD, WBINVD: no caches
                case 0x0b: undefined("UD2");
                case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: {
                    Modrm m; decode_modrm(c, ip, m);  // hint NOPs (multi-byte NOP, prefetch)
                    break;
                }
                case 0x20: {
                    const u8 b = f8(ip);
                    const unsigned n = (b >> 3) & 7;
                    u32 v;
                    switch (n) {
                        case 0: v = cr0; break;
                        case 2: v = cr2; break;
                        case 3: v = cr3; break;
                        case 4: v = cr4; break;
                        default: undefined("MOV from a control register that does not exist");
                    }
                    r[b & 7] = v;
                    break;
                }
                case 0x22: {
                    const u8 b = f8(ip);
                    const unsigned n = (b >> 3) & 7;
                    if (n == 1 || n > 4) undefined("MOV to a control register that does not exist");
                    write_cr(n, r[b & 7]);
                    break;
                }
                case 0x31: {
                    sync_clock();
                    const u64 t = sched.now();
                    r[kEAX] = static_cast<u32>(t);
                    r[kEDX] = static_cast<u32>(t >> 32);
                    break;
                }
                case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
                case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
                    Modrm m; decode_modrm(c, ip, m);
                    if (o32) { const u32 v = rd_rm<u32>(c, m); if (cond(op2 & 15)) r[m.reg] = v; }
                    else { const u16 v = rd_rm<u16>(c, m); if (cond(op2 & 15)) setr<u16>(m.reg, v); }
                    break;
                }
                case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
                case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
                    const u32 disp = o32 ? f32(ip) : sext<u16>(f16(ip));
                    if (cond(op2 & 15)) NEAR_BRANCH(next_eip(ip) + disp);
                    break;
                }
                case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
                case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f: {
                    Modrm m; decode_modrm(c, ip, m);
                    wr_rm<u8>(c, m, cond(op2 & 15) ? 1 : 0);
                    break;
                }
                case 0xa0: OPV(push_v, c, seg[kFS].selector); break;
                case 0xa8: OPV(push_v, c, seg[kGS].selector); break;
                case 0xa1: case 0xa9: {
                    const u16 sel = static_cast<u16>(o32 ? pop<u32>() : pop<u16>());
                    load_data_seg(op2 == 0xa1 ? kFS : kGS, sel);
                    break;
                }
                case 0xa2: {  // CPUID: a Pentium Pro-class i686 without FPU/MMX
                    const u32 leaf = r[kEAX];
                    if (leaf == 0) {
                        r[kEAX] = 1;
                        r[kEBX] = 0x756e6547;  // "Genu"
                        r[kEDX] = 0x49656e69;  // "ineI"
                        r[kECX] = 0x6c65746e;  // "ntel"
                    } else if (leaf == 1) {
                        r[kEAX] = 0x00000619;  // family 6, model 1, stepping 9
                        r[kEBX] = 0;
                        r[kECX] = 0;
                        r[kEDX] = (1u << 4) | (1u << 8) | (1u << 15);  // TSC, CX8, CMOV
                    } else {
                        r[kEAX] = r[kEBX] = r[kECX] = r[kEDX] = 0;
                    }
                    break;
                }
                case 0xa3: OPV(bt_form, c, ip, 4, false); break;
                case 0xab: OPV(bt_form, c, ip, 5, false); break;
                case 0xb3: OPV(bt_form, c, ip, 6, false); break;
                case 0xbb: OPV(bt_form, c, ip, 7, false); break;
                case 0xba: {
                    const std::uint8_t* save = ip;
                    const unsigned sub = (*ip >> 3) & 7;
                    if (sub < 4) undefined("0F BA with reg < 4");
                    ip = save;
                    OPV(bt_form, c, ip, sub, true);
                    break;
                }
                case 0xa4: OPV(shld_form, c, ip, true, true); break;
                case 0xa5: OPV(shld_form, c, ip, true, false); break;
                case 0xac: OPV(shld_form, c, ip, false, true); break;
                case 0xad: OPV(shld_form, c, ip, false, false); break;
                case 0xaf: OPV(imul_form, c, ip, 0); break;
                case 0xb0: case 0xb1: {
                    Modrm m; decode_modrm(c, ip, m);
                    if (op2 == 0xb0) {
                        const u8 d = rd_rm<u8>(c, m);
                        alu<u8>(c, 7, get8(0), d);
                        if (get8(0) == d) wr_rm<u8>(c, m, get8(m.reg));
                        else { wr_rm<u8>(c, m, d); set8(0, d); }
                    } else if (o32) {
                        const u32 d = rd_rm<u32>(c, m);
                        alu<u32>(c, 7, r[kEAX], d);
                        if (r[kEAX] == d) wr_rm<u32>(c, m, r[m.reg]);
                        else { wr_rm<u32>(c, m, d); r[kEAX] = d; }
                    } else {
                        const u16 d = rd_rm<u16>(c, m);
                        alu<u16>(c, 7, getr<u16>(kEAX), d);
                        if (getr<u16>(kEAX) == d) wr_rm<u16>(c, m, getr<u16>(m.reg));
                        else { wr_rm<u16>(c, m, d); setr<u16>(kEAX, d); }
                    }
                    break;
                }
                case 0xb2: OPV(far_ptr_load, c, ip, kSS); inhibit_end = cycles + 2; if (budget_end > cycles + 2) budget_end = cycles + 2; break;
                case 0xb4: OPV(far_ptr_load, c, ip, kFS); break;
                case 0xb5: OPV(far_ptr_load, c, ip, kGS); break;
                case 0xb6: { Modrm m; decode_modrm(c, ip, m); const u8 v = rd_rm<u8>(c, m); if (o32) r[m.reg] = v; else setr<u16>(m.reg, v); break; }
                case 0xb7: { Modrm m; decode_modrm(c, ip, m); const u16 v = rd_rm<u16>(c, m); if (o32) r[m.reg] = v; else setr<u16>(m.reg, v); break; }
                case 0xbe: { Modrm m; decode_modrm(c, ip, m); const u32 v = sext<u8>(rd_rm<u8>(c, m)); if (o32) r[m.reg] = v; else setr<u16>(m.reg, static_cast<u16>(v)); break; }
                case 0xbf: { Modrm m; decode_modrm(c, ip, m); const u32 v = sext<u16>(rd_rm<u16>(c, m)); if (o32) r[m.reg] = v; else setr<u16>(m.reg, static_cast<u16>(v)); break; }
                case 0xbc: OPV(bsf_form, c, ip, false); break;
                case 0xbd: OPV(bsf_form, c, ip, true); break;
                case 0xc0: {
                    Modrm m; decode_modrm(c, ip, m);
                    const u8 d = rd_rm<u8>(c, m), s = get8(m.reg);
                    const u8 sum = alu<u8>(c, 0, d, s);
                    set8(m.reg, d);
                    wr_rm<u8>(c, m, sum);
                    break;
                }
                case 0xc1: {
                    Modrm m; decode_modrm(c, ip, m);
                    if (o32) {
                        const u32 d = rd_rm<u32>(c, m), s = r[m.reg];
                        const u32 sum = alu<u32>(c, 0, d, s);
                        r[m.reg] = d;
                        wr_rm<u32>(c, m, sum);
                    } else {
                        const u16 d = rd_rm<u16>(c, m), s = getr<u16>(m.reg);
                        const u16 sum = alu<u16>(c, 0, d, s);
                        setr<u16>(m.reg, d);
                        wr_rm<u16>(c, m, sum);
                    }
                    break;
                }
                case 0xc7: {
                    Modrm m; decode_modrm(c, ip, m);
                    if (m.reg != 1 || m.is_reg()) undefined("0F C7 other than CMPXCHG8B m64");
                    const u32 lo = read<u32>(m.s, m.off), hi = read<u32>(m.s, m.off + 4);
                    materialize();
                    if (lo == r[kEAX] && hi == r[kEDX]) {
                        write<u32>(m.s, m.off, r[kEBX]);
                        write<u32>(m.s, m.off + 4, r[kECX]);
                        flags |= kZF;
                    } else {
                        write<u32>(m.s, m.off, lo);
                        write<u32>(m.s, m.off + 4, hi);
                        r[kEAX] = lo;
                        r[kEDX] = hi;
                        flags &= ~kZF;
                    }
                    break;
                }
                case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf:
                    r[op2 & 7] = __builtin_bswap32(r[op2 & 7]);
                    break;
                default: {
                    char buf[64];
                    std::snprintf(buf, sizeof buf, "opcode 0F %02X", op2);
                    undefined(buf);
                }
            }
            break;
        }
        default: {
            char buf[64];
            std::snprintf(buf, sizeof buf, "opcode %02X", op);
            undefined(buf);
        }
    }
#undef OPV
    goto retire;
insn_done:  // the handler set the member EIP (branch, interrupt, HLT)
    {
        const std::uint32_t lin = seg[kCS].base + eip;
        if ((lin & ~(kPageSize - 1)) == code_page_lin) [[likely]] {
            // Same code page: the bound checks the limit and the page end at the next start.
            ip = code_page_ptr + (lin & (kPageSize - 1));
            code_delta = code_page_delta;
            code_fast_end = code_page_fast_end;
        } else {
            ip = defer_code(eip);
        }
    }
    goto retire;
insn_restart:  // a REP instruction ran out of budget: run it again later
    ip = defer_code(insn_eip);
retire:
    ++cyc;
    if (prefixed) [[unlikely]] {
        restore_defaults();
        prefixed = false;
    }
    continue;
prefix:
    prefixed = true;
    if (++prefixes >= 15) fault_err(kVecGP, 0);
    goto next_op;
    }
    } catch (...) {
        restore_defaults();
        prefixed = false;
        if (cycles != cyc) history_skip(cyc, cycles - cyc);  // a REP faulted after some iterations
        retired = cycles - stall_cycles;
        history_pos = cycles + 1;  // the report shows the faulting instruction too
        history_count = retired + 1;
        throw;
    }
#undef STRING_OP
#undef NEAR_BRANCH
#undef next_eip
    cycles = cyc;
    eip = ip_eip(ip);
    retired = cyc - stall_cycles;
    history_pos = cyc;
    history_count = retired;
}

}  // namespace qxlbox::machine
