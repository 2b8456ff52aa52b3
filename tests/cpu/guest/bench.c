/* CPU benchmark guest for `qxlbox bench cpu`: integer loops, memcpy/memset (REP MOVS/STOS
   and byte loops), table-driven CRC-32 and branchy code (Collatz, binary search). Prints one
   checksum per phase so that qxlbox and QEMU runs can be compared. */
#include "guest.h"

#ifndef ROUNDS
#define ROUNDS 40
#endif

static u8 buf_a[65536], buf_b[65536];
static u32 table[256];
static u32 sorted_keys[4096];

static void rep_movsd(void* d, const void* s, u32 n_dwords) {
    __asm__ volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(n_dwords) : : "memory");
}
static void rep_stosd(void* d, u32 v, u32 n_dwords) {
    __asm__ volatile("rep stosl" : "+D"(d), "+c"(n_dwords) : "a"(v) : "memory");
}

static u32 integer_loop(u32 n) {
    u32 a = 1, b = 2, c = 3;
    for (u32 i = 0; i < n; ++i) {
        a = a * 1664525u + 1013904223u;
        b ^= a >> 3;
        c += (b << 2) - a;
        b = (b << 5) | (b >> 27);
    }
    return a ^ b ^ c;
}

static u32 crc32(const u8* p, u32 n) {
    u32 c = 0xffffffffu;
    while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

static u32 collatz(u32 limit) {
    u32 total = 0;
    for (u32 n = 1; n < limit; ++n) {
        u32 x = n;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x / 2;
            ++total;
        }
    }
    return total;
}

static u32 search(u32 queries) {
    u32 found = 0, key = 7;
    for (u32 q = 0; q < queries; ++q) {
        key = key * 69069u + 1;
        u32 want = key % (4096 * 3);
        int lo = 0, hi = 4095;
        while (lo <= hi) {
            int mid = (lo + hi) >> 1;
            if (sorted_keys[mid] == want) { ++found; break; }
            if (sorted_keys[mid] < want) lo = mid + 1; else hi = mid - 1;
        }
    }
    return found;
}

int main(void) {
    for (u32 i = 0; i < 256; ++i) {
        u32 c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        table[i] = c;
    }
    for (u32 i = 0; i < 4096; ++i) sorted_keys[i] = i * 3;
    u32 h_int = 0, h_mem = 0, h_crc = 0, h_branch = 0;
    for (u32 round = 0; round < ROUNDS; ++round) {
        h_int += integer_loop(200000 + round);
        rep_stosd(buf_a, 0x01010101u * round, sizeof buf_a / 4);
        for (u32 i = 0; i < sizeof buf_a; i += 61) buf_a[i] = (u8)(i ^ round);
        for (int k = 0; k < 8; ++k) {
            rep_movsd(buf_b, buf_a, sizeof buf_a / 4);
            memset(buf_a + 4096 * k, (int)(k + round), 2048);
            memcpy(buf_a + 1024, buf_b + 3000, 1000);
        }
        h_mem += crc32(buf_b, 4096) + buf_a[77];
        h_crc ^= crc32(buf_a, sizeof buf_a);
        h_branch += collatz(2000 + round) + search(20000);
    }
    printf_serial("int %08x mem %08x crc %08x branch %08x\n", h_int, h_mem, h_crc, h_branch);
    return 0;
}
