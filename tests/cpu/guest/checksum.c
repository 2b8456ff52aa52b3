/* Checksums over generated data: CRC-32 (bitwise and table driven), Adler-32, FNV-1a. */
#include "guest.h"

static u8 data[65536];
static u32 table[256];

static u32 crc32_bitwise(const u8* p, u32 n) {
    u32 c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

static u32 crc32_table(const u8* p, u32 n) {
    u32 c = 0xffffffffu;
    while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

static u32 adler32(const u8* p, u32 n) {
    u32 a = 1, b = 0;
    while (n--) {
        a = (a + *p++) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

static u32 fnv1a(const u8* p, u32 n) {
    u32 h = 2166136261u;
    while (n--) h = (h ^ *p++) * 16777619u;
    return h;
}

int main(void) {
    u32 x = 12345;
    for (u32 i = 0; i < sizeof data; ++i) {
        x = x * 1103515245u + 12345u;
        data[i] = (u8)(x >> 16);
    }
    for (u32 i = 0; i < 256; ++i) {
        u32 c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        table[i] = c;
    }
    printf_serial("crc32(\"123456789\") = %08x\n", crc32_table((const u8*)"123456789", 9));
    for (u32 len = 1; len <= sizeof data; len *= 4) {
        printf_serial("len %5u: crc %08x/%08x adler %08x fnv %08x\n", len, crc32_bitwise(data, len > 4096 ? 4096 : len),
                      crc32_table(data, len), adler32(data, len), fnv1a(data, len));
    }
    return 0;
}
