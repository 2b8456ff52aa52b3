/* 64-bit arithmetic through libgcc: multiply, divide, modulo, shifts, comparisons. */
#include "guest.h"

static volatile u64 sink;

int main(void) {
    u64 x = 0x123456789abcdef1ull;
    u64 acc = 0;
    for (int i = 0; i < 200; ++i) {
        x ^= x << 7; x ^= x >> 9;
        u64 y = (x >> (i % 37)) | 1;
        s64 sx = (s64)x, sy = (s64)(y * 0x9e3779b97f4a7c15ull) >> (i % 50);
        if (sy == 0) sy = -3;
        u64 q = x / y, r = x % y;
        s64 sq = sx / sy, sr = sx % sy;
        acc += q ^ (r << 3) ^ (u64)sq ^ ((u64)sr >> 1);
        acc = (acc << (i % 63)) | (acc >> (64 - (i % 63 + 1)));
        if (i % 20 == 0)
            printf_serial("%2d x=%016llx y=%016llx q=%llu r=%llu sq=%lld sr=%lld\n", i, x, y, q, r, sq, sr);
        if (q * y + r != x) printf_serial("BAD unsigned identity at %d\n", i);
        if (sq * sy + sr != sx) printf_serial("BAD signed identity at %d\n", i);
    }
    s64 m = -1;
    for (int i = 0; i < 63; ++i) m *= 3;
    sink = acc;
    printf_serial("acc=%016llx m=%lld neg/7=%lld umax/10=%llu\n", acc, m, (s64)-9223372036854775807ll / 7,
                  0xffffffffffffffffull / 10);
    printf_serial("cmp %d %d %d\n", (s64)-5 < (s64)3, (u64)-5 < (u64)3, (s64)0x100000000ll > (s64)0xffffffffll);
    return 0;
}
