/* Multiboot v1 entry and interrupt stubs for the qxlbox reference guest.
 * The loader (QEMU's -kernel or qxlbox's multiboot loader) enters in 32-bit protected mode
 * with paging off, EAX = 0x2BADB002 and EBX = the multiboot information structure. */
    .section .note.GNU-stack, "", @progbits

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules, provide the memory map */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .bss
    .align 16
stack_bottom:
    .skip 65536
stack_top:

    .section .text
    .global _start
_start:
    cli
    mov $stack_top, %esp
    push %ebx
    push %eax
    call guest_main
1:  cli
    hlt
    jmp 1b

/* Every vector gets a stub that pushes a uniform frame: [error code] [vector]. */
.macro ISR_NOERR n
    .global isr_stub_\n
isr_stub_\n:
    push $0
    push $\n
    jmp isr_common
.endm
.macro ISR_ERR n
    .global isr_stub_\n
isr_stub_\n:
    push $\n
    jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_NOERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_NOERR 29
ISR_ERR 30
ISR_NOERR 31
ISR_NOERR 32
ISR_NOERR 33
ISR_NOERR 34
ISR_NOERR 35
ISR_NOERR 36
ISR_NOERR 37
ISR_NOERR 38
ISR_NOERR 39
ISR_NOERR 40
ISR_NOERR 41
ISR_NOERR 42
ISR_NOERR 43
ISR_NOERR 44
ISR_NOERR 45
ISR_NOERR 46
ISR_NOERR 47

isr_common:
    pusha
    cld
    push %esp          /* struct InterruptFrame* */
    call interrupt_dispatch
    add $4, %esp
    popa
    add $8, %esp       /* vector and error code */
    iret

    .section .rodata
    .global isr_stub_table
    .align 4
isr_stub_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    .long isr_stub_\n
.endr
