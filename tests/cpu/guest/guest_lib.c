/* COM1 output (poll LSR.THRE, write THR) and a printf with the conversions the tests use:
   %d %i %u %x %X %c %s %% with flags '-', '0', width, and the 'll' length modifier. */
#include <stdarg.h>
#include "guest.h"

static inline void outb(unsigned short port, unsigned char v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port) {
    unsigned char v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void putc_serial(char c) {
    while (!(inb(0x3fd) & 0x20)) {
    }
    outb(0x3f8, (unsigned char)c);
}

void puts_serial(const char* s) {
    while (*s) putc_serial(*s++);
}

void* memcpy(void* d, const void* s, size_t n) {
    unsigned char* dp = d;
    const unsigned char* sp = s;
    while (n--) *dp++ = *sp++;
    return d;
}
void* memmove(void* d, const void* s, size_t n) {
    unsigned char* dp = d;
    const unsigned char* sp = s;
    if (dp < sp) {
        while (n--) *dp++ = *sp++;
    } else {
        while (n--) dp[n] = sp[n];
    }
    return d;
}
void* memset(void* d, int v, size_t n) {
    unsigned char* dp = d;
    while (n--) *dp++ = (unsigned char)v;
    return d;
}
int memcmp(const void* a, const void* b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; --n, ++x, ++y)
        if (*x != *y) return *x - *y;
    return 0;
}
size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

static void emit_padded(const char* s, int len, int width, int left, char pad) {
    if (!left)
        for (int i = len; i < width; ++i) putc_serial(pad);
    for (int i = 0; i < len; ++i) putc_serial(s[i]);
    if (left)
        for (int i = len; i < width; ++i) putc_serial(' ');
}

void printf_serial(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; ++fmt) {
        if (*fmt != '%') { putc_serial(*fmt); continue; }
        ++fmt;
        int left = 0, width = 0, ll = 0;
        char pad = ' ';
        for (;; ++fmt) {
            if (*fmt == '-') left = 1;
            else if (*fmt == '0') pad = '0';
            else break;
        }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') { ++ll; ++fmt; }
        char buf[32];
        int len = 0;
        switch (*fmt) {
            case 'd': case 'i': case 'u': case 'x': case 'X': {
                u64 v;
                int neg = 0;
                if (*fmt == 'd' || *fmt == 'i') {
                    s64 sv = ll >= 2 ? va_arg(ap, s64) : va_arg(ap, s32);
                    if (sv < 0) { neg = 1; v = (u64)(-(sv + 1)) + 1; } else v = (u64)sv;
                } else {
                    v = ll >= 2 ? va_arg(ap, u64) : va_arg(ap, u32);
                }
                const unsigned base = (*fmt == 'x' || *fmt == 'X') ? 16 : 10;
                const char* digits = *fmt == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
                char tmp[24];
                int n = 0;
                do { tmp[n++] = digits[v % base]; v /= base; } while (v);
                if (neg) buf[len++] = '-';
                if (neg && pad == '0' && !left) {
                    putc_serial('-');
                    len = 0;
                    --width;
                }
                while (n) buf[len++] = tmp[--n];
                emit_padded(buf, len, width, left, left ? ' ' : pad);
                break;
            }
            case 'c': buf[0] = (char)va_arg(ap, int); emit_padded(buf, 1, width, left, ' '); break;
            case 's': { const char* s = va_arg(ap, const char*); emit_padded(s, (int)strlen(s), width, left, ' '); break; }
            case '%': putc_serial('%'); break;
            default: putc_serial('?'); break;
        }
    }
    va_end(ap);
}
