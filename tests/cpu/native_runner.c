/* Native half of the CPU differential tests, built with gcc -m32: reads NativeCase records from
   the file argv[1], runs each snippet on the host CPU and writes NativeResult records to
   argv[2]. A snippet that faults is reported by its signal. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "native_case.h"

struct NativeCase g_in;
struct NativeResult g_out;
uint32_t g_host_esp;
uint32_t g_code_ptr = NATIVE_CODE_ADDR;
uint32_t g_return_ptr;
static sigjmp_buf g_jump;
static volatile sig_atomic_t g_signal;

void run_case(void);
void run_case_return(void);

/* Saves the host state, loads the case's registers and flags, jumps to the snippet; the snippet
   ends with `jmp *g_return_ptr`, which records the registers and restores the host state. */
__asm__(
    ".text\n"
    ".globl run_case\n"
    "run_case:\n"
    "    pushal\n"
    "    pushfl\n"
    "    movl %esp, g_host_esp\n"
    "    pushl g_in+32\n"
    "    popfl\n"
    "    movl g_in+0, %eax\n"
    "    movl g_in+4, %ecx\n"
    "    movl g_in+8, %edx\n"
    "    movl g_in+12, %ebx\n"
    "    movl g_in+20, %ebp\n"
    "    movl g_in+24, %esi\n"
    "    movl g_in+28, %edi\n"
    "    movl g_in+16, %esp\n"
    "    jmp *g_code_ptr\n"
    ".globl run_case_return\n"
    "run_case_return:\n"
    "    movl %esp, g_out+16\n"
    "    movl g_host_esp, %esp\n"
    "    pushfl\n"
    "    popl g_out+32\n"
    "    movl %eax, g_out+0\n"
    "    movl %ecx, g_out+4\n"
    "    movl %edx, g_out+8\n"
    "    movl %ebx, g_out+12\n"
    "    movl %ebp, g_out+20\n"
    "    movl %esi, g_out+24\n"
    "    movl %edi, g_out+28\n"
    "    popfl\n"
    "    popal\n"
    "    ret\n");

static void on_signal(int sig) {
    g_signal = sig;
    siglongjmp(g_jump, 1);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASES RESULTS\n", argv[0]);
        return 2;
    }
    unsigned char* area = mmap((void*)NATIVE_DATA_ADDR, 3 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (area != (unsigned char*)NATIVE_DATA_ADDR) {
        perror("mmap");
        return 1;
    }
    static unsigned char alt[65536];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK | SA_NODEFER;
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGTRAP, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    g_return_ptr = (uint32_t)(uintptr_t)&run_case_return;

    FILE* in = fopen(argv[1], "rb");
    FILE* out = fopen(argv[2], "wb");
    if (!in || !out) {
        perror("fopen");
        return 1;
    }
    unsigned char* data = (unsigned char*)NATIVE_DATA_ADDR;
    unsigned char* stack = (unsigned char*)NATIVE_STACK_ADDR;
    unsigned char* code = (unsigned char*)NATIVE_CODE_ADDR;
    while (fread(&g_in, sizeof g_in, 1, in) == 1) {
        if (g_in.code_len > NATIVE_CODE_MAX) return 1;
        memcpy(data, g_in.data, NATIVE_AREA_BYTES);
        memcpy(stack, g_in.stack, NATIVE_AREA_BYTES);
        memset(code, 0xcc, 64);
        memcpy(code, g_in.code, g_in.code_len);
        code[g_in.code_len] = 0xff; /* jmp *g_return_ptr */
        code[g_in.code_len + 1] = 0x25;
        uint32_t ret_addr = (uint32_t)(uintptr_t)&g_return_ptr;
        memcpy(code + g_in.code_len + 2, &ret_addr, 4);
        memset(&g_out, 0, sizeof g_out);
        g_signal = 0;
        if (sigsetjmp(g_jump, 1) == 0) {
            run_case();
        } else {
            __asm__ volatile("cld");
        }
        g_out.signal = (uint32_t)g_signal;
        memcpy(g_out.data, data, NATIVE_AREA_BYTES);
        memcpy(g_out.stack, stack, NATIVE_AREA_BYTES);
        if (fwrite(&g_out, sizeof g_out, 1, out) != 1) return 1;
    }
    fclose(out);
    fclose(in);
    return 0;
}
