/* Multiboot v1 entry for the CPU test guests: set up a stack, call main(), report main's
   return value on the isa-debug-exit port (0xf4) and halt. */
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0
    .long -0x1BADB002

    .text
    .globl _start
_start:
    movl $stack_top, %esp
    cld
    call main
    outl %eax, $0xf4
1:  cli
    hlt
    jmp 1b

    .bss
    .align 16
    .space 65536
stack_top:
    .section .note.GNU-stack, "", @progbits
