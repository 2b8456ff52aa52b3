/* Freestanding runtime of the CPU test guests: COM1 output and a small printf. */
#ifndef QXLBOX_CPU_GUEST_H
#define QXLBOX_CPU_GUEST_H

typedef unsigned int u32;
typedef unsigned long long u64;
typedef int s32;
typedef long long s64;
typedef unsigned char u8;
typedef unsigned long size_t;

void putc_serial(char c);
void puts_serial(const char* s);
void printf_serial(const char* fmt, ...);
void* memcpy(void* d, const void* s, size_t n);
void* memset(void* d, int v, size_t n);
void* memmove(void* d, const void* s, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);

#endif
