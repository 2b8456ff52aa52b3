/* Guest runtime: the minimum a driver needs on a bare PC (i386, paging off, flat segments).
 * COM1 console with printf, GDT/IDT, exception reporting, 8259 PIC with IRQ dispatch, PIT tick,
 * PCI configuration access through 0xcf8/0xcfc and exit through the isa-debug-exit port 0xf4
 * (QEMU convention: writing V makes the emulator exit with status (V << 1) | 1). */
#ifndef GUEST_RUNTIME_H
#define GUEST_RUNTIME_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char i8;
typedef short i16;
typedef int i32;
typedef long long i64;
typedef unsigned int size_t;

#define NULL ((void*)0)

/* Exit codes written to port 0xf4. */
enum { EXIT_PASS = 0, EXIT_CHECK_FAILED = 1, EXIT_BAD_MODULE = 2, EXIT_FAULT = 3, EXIT_NO_DEVICE = 4 };

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void barrier(void) { __asm__ volatile("lock; addl $0,0(%%esp)" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
/* Enable interrupts and halt atomically (STI holds interrupts off for one instruction). */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

static inline u32 rd32(volatile const void* p) { return *(volatile const u32*)p; }
static inline void wr32(volatile void* p, u32 v) { *(volatile u32*)p = v; }

void* memset(void* d, int c, size_t n);
void* memcpy(void* d, const void* s, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);

void serial_init(void);
void putc_serial(char c);
void puts_serial(const char* s);
/* Formats %d %u %x %X %s %c %p and %llx / %llu with optional zero padding and width. */
int printf(const char* fmt, ...);
int snprintf(char* buf, size_t n, const char* fmt, ...);

__attribute__((noreturn)) void guest_exit(u32 code);

struct InterruptFrame {
    u32 edi, esi, ebp, esp, ebx, edx, ecx, eax;
    u32 vector, error_code;
    u32 eip, cs, eflags;
};

typedef void (*IrqHandler)(void* ctx);
void cpu_tables_init(void);
void pic_init(void);
void irq_register(u8 irq, IrqHandler handler, void* ctx);
void irq_unmask(u8 irq);
void irq_mask(u8 irq);

/* PIT channel 0 at TICK_HZ; ticks counts interrupts since pit_init. */
#define TICK_HZ 1000u
void pit_init(void);
u32 ticks(void);

u32 pci_read32(u8 bus, u8 dev, u8 fn, u8 off);
void pci_write32(u8 bus, u8 dev, u8 fn, u8 off, u32 v);
u16 pci_read16(u8 bus, u8 dev, u8 fn, u8 off);
void pci_write16(u8 bus, u8 dev, u8 fn, u8 off, u16 v);
u8 pci_read8(u8 bus, u8 dev, u8 fn, u8 off);

struct PciFunction {
    u8 bus, dev, fn;
    u16 vendor, device;
    u8 revision, irq_line;
    u32 class_code; /* class << 16 | subclass << 8 | prog-if */
    u32 bar_base[6];
    u32 bar_size[6];
    u8 bar_is_io[6];
};
/* Finds the first function with the given ids; fills `out` (BARs sized by the usual
 * write-all-ones probe, restored afterwards). Returns 0 when found. */
int pci_find(u16 vendor, u16 device, struct PciFunction* out);
void pci_enable(const struct PciFunction* f);

u32 crc32_update(u32 crc, const void* data, size_t n);

#endif
