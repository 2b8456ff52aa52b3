/* Layout shared by the differential tests (C++) and the native runner (C, gcc -m32). A case is
   one code snippet with its inputs; the runner executes it on the host CPU and writes back a
   result. All addresses are fixed so both sides see the same pointers. */
#ifndef QXLBOX_NATIVE_CASE_H
#define QXLBOX_NATIVE_CASE_H

#include <stdint.h>

#define NATIVE_DATA_ADDR 0x10000000u  /* 4 KiB data page; tests use the first 256 bytes */
#define NATIVE_STACK_ADDR 0x10001000u /* 4 KiB stack page; tests use the first 256 bytes */
#define NATIVE_CODE_ADDR 0x10002000u  /* code page */
#define NATIVE_AREA_BYTES 256u
#define NATIVE_CODE_MAX 32u

struct NativeCase {
    uint32_t regs[8]; /* EAX ECX EDX EBX ESP EBP ESI EDI */
    uint32_t eflags;
    uint32_t code_len;
    uint8_t code[NATIVE_CODE_MAX];
    uint8_t data[NATIVE_AREA_BYTES];
    uint8_t stack[NATIVE_AREA_BYTES];
};

struct NativeResult {
    uint32_t regs[8];
    uint32_t eflags;
    uint32_t signal; /* 0, or the signal the snippet raised (SIGFPE, SIGSEGV, SIGILL, SIGTRAP, SIGBUS) */
    uint8_t data[NATIVE_AREA_BYTES];
    uint8_t stack[NATIVE_AREA_BYTES];
};

#endif
