/* Guest runtime implementation; see runtime.h. */
#include "runtime.h"

#include <stdarg.h>

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

void* memset(void* d, int c, size_t n) {
    u8* p = d;
    while (n--) *p++ = (u8)c;
    return d;
}
void* memcpy(void* d, const void* s, size_t n) {
    u8* p = d;
    const u8* q = s;
    while (n--) *p++ = *q++;
    return d;
}
int memcmp(const void* a, const void* b, size_t n) {
    const u8 *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q) return *p - *q;
    return 0;
}
size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

void serial_init(void) {
    outb(COM1 + 1, 0x00); /* no UART interrupts: the console is polled */
    outb(COM1 + 3, 0x80);
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xC7);
    outb(COM1 + 4, 0x03);
}
void putc_serial(char c) {
    /* Bounded wait for THR empty so a broken UART model cannot hang the guest. */
    for (u32 i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) {
    }
    outb(COM1, (u8)c);
}
void puts_serial(const char* s) {
    while (*s) putc_serial(*s++);
}

struct Sink {
    char* buf;
    size_t cap, len;
};
static void sink_put(struct Sink* s, char c) {
    if (s->buf) {
        if (s->len + 1 < s->cap) s->buf[s->len] = c;
    } else {
        putc_serial(c);
    }
    s->len++;
}
static void put_num(struct Sink* s, u64 v, unsigned base, int upper, int width, int zero, int neg) {
    char tmp[24];
    int n = 0;
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg) tmp[n++] = '-';
    for (int i = n; i < width; i++) sink_put(s, zero ? '0' : ' ');
    while (n) sink_put(s, tmp[--n]);
}
static void vformat(struct Sink* s, const char* fmt, va_list ap) {
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            sink_put(s, *fmt);
            continue;
        }
        fmt++;
        int zero = 0, width = 0, longlong = 0;
        if (*fmt == '0') zero = 1, fmt++;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        if (fmt[0] == 'l' && fmt[1] == 'l') longlong = 1, fmt += 2;
        switch (*fmt) {
        case 'd': {
            i64 v = longlong ? va_arg(ap, i64) : va_arg(ap, i32);
            put_num(s, v < 0 ? (u64)-v : (u64)v, 10, 0, width, zero, v < 0);
            break;
        }
        case 'u': put_num(s, longlong ? va_arg(ap, u64) : va_arg(ap, u32), 10, 0, width, zero, 0); break;
        case 'x':
        case 'X':
            put_num(s, longlong ? va_arg(ap, u64) : va_arg(ap, u32), 16, *fmt == 'X', width, zero, 0);
            break;
        case 'p': put_num(s, (u32)va_arg(ap, void*), 16, 0, 8, 1, 0); break;
        case 'c': sink_put(s, (char)va_arg(ap, int)); break;
        case 's': {
            const char* str = va_arg(ap, const char*);
            if (!str) str = "(null)";
            while (*str) sink_put(s, *str++);
            break;
        }
        case '%': sink_put(s, '%'); break;
        default: sink_put(s, '?'); break;
        }
    }
}
int printf(const char* fmt, ...) {
    struct Sink s = {NULL, 0, 0};
    va_list ap;
    va_start(ap, fmt);
    vformat(&s, fmt, ap);
    va_end(ap);
    return (int)s.len;
}
int snprintf(char* buf, size_t n, const char* fmt, ...) {
    struct Sink s = {buf, n, 0};
    va_list ap;
    va_start(ap, fmt);
    vformat(&s, fmt, ap);
    va_end(ap);
    if (n) buf[s.len < n ? s.len : n - 1] = 0;
    return (int)s.len;
}

void guest_exit(u32 code) {
    outl(DEBUG_EXIT_PORT, code);
    /* Without an exit device there is nothing left to do but stop. */
    for (;;) __asm__ volatile("cli; hlt");
}

/* ---- GDT and IDT ---- */
static u64 gdt[3];
struct __attribute__((packed)) TablePtr {
    u16 limit;
    u32 base;
};
struct __attribute__((packed)) IdtEntry {
    u16 off_lo, sel;
    u8 zero, type;
    u16 off_hi;
};
static struct IdtEntry idt[48];
extern const u32 isr_stub_table[48];

void cpu_tables_init(void) {
    gdt[0] = 0;
    gdt[1] = 0x00CF9A000000FFFFull; /* flat 4 GiB code, ring 0 */
    gdt[2] = 0x00CF92000000FFFFull; /* flat 4 GiB data */
    struct TablePtr gp = {sizeof gdt - 1, (u32)gdt};
    __asm__ volatile(
        "lgdt %0\n"
        "ljmp $0x08, $1f\n"
        "1: mov $0x10, %%ax\n"
        "mov %%ax, %%ds\n mov %%ax, %%es\n mov %%ax, %%ss\n mov %%ax, %%fs\n mov %%ax, %%gs\n" ::"m"(gp)
        : "eax", "memory");
    for (int i = 0; i < 48; i++) {
        idt[i].off_lo = isr_stub_table[i] & 0xffff;
        idt[i].off_hi = isr_stub_table[i] >> 16;
        idt[i].sel = 0x08;
        idt[i].zero = 0;
        idt[i].type = 0x8E; /* present, ring 0, 32-bit interrupt gate */
    }
    struct TablePtr ip = {sizeof idt - 1, (u32)idt};
    __asm__ volatile("lidt %0" ::"m"(ip));
}

static const char* const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound",
    "#UD invalid opcode", "#NM no FPU", "#DF double fault", "FPU segment overrun", "#TS invalid TSS",
    "#NP segment not present", "#SS stack fault", "#GP general protection", "#PF page fault",
    "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
    "#VE virtualization", "#CP control protection", "reserved", "reserved", "reserved", "reserved",
    "reserved", "reserved", "reserved", "reserved", "#SX security", "reserved"};

static IrqHandler irq_handlers[16];
static void* irq_ctx[16];
static volatile u32 tick_count;

void interrupt_dispatch(struct InterruptFrame* f) {
    if (f->vector < 32) {
        printf("\nFAULT vector=%u (%s) error=0x%x eip=0x%08x eflags=0x%x\n", f->vector,
               exception_names[f->vector], f->error_code, f->eip, f->eflags);
        printf("  eax=%08x ebx=%08x ecx=%08x edx=%08x esi=%08x edi=%08x ebp=%08x\n", f->eax, f->ebx,
               f->ecx, f->edx, f->esi, f->edi, f->ebp);
        guest_exit(EXIT_FAULT);
    }
    u32 irq = f->vector - 32;
    if (irq == 7 || irq == 15) {
        /* Spurious IRQ check: the ISR bit is clear for a spurious interrupt. */
        u16 port = irq == 7 ? 0x20 : 0xA0;
        outb(port, 0x0B);
        if (!(inb(port) & 0x80)) {
            if (irq == 15) outb(0x20, 0x20);
            return;
        }
    }
    if (irq == 0) tick_count++;
    if (irq_handlers[irq]) irq_handlers[irq](irq_ctx[irq]);
    if (irq >= 8) outb(0xA0, 0x20);
    outb(0x20, 0x20);
}

void pic_init(void) {
    outb(0x20, 0x11); /* ICW1: edge (ELCR decides per line on PIIX), cascade, ICW4 */
    outb(0xA0, 0x11);
    outb(0x21, 0x20); /* vectors 32..39 */
    outb(0xA1, 0x28); /* vectors 40..47 */
    outb(0x21, 0x04);
    outb(0xA1, 0x02);
    outb(0x21, 0x01);
    outb(0xA1, 0x01);
    outb(0x21, 0xFB); /* all masked except the cascade */
    outb(0xA1, 0xFF);
}
void irq_register(u8 irq, IrqHandler handler, void* ctx) {
    if (irq >= 16) return;
    irq_ctx[irq] = ctx;
    irq_handlers[irq] = handler;
}
void irq_unmask(u8 irq) {
    if (irq >= 16) return;
    if (irq < 8) {
        outb(0x21, inb(0x21) & ~(1u << irq));
    } else {
        outb(0xA1, inb(0xA1) & ~(1u << (irq - 8)));
        outb(0x21, inb(0x21) & ~(1u << 2));
    }
}

void irq_mask(u8 irq) {
    if (irq >= 16) return;
    if (irq < 8)
        outb(0x21, inb(0x21) | (u8)(1u << irq));
    else
        outb(0xA1, inb(0xA1) | (u8)(1u << (irq - 8)));
}

void pit_init(void) {
    u32 divisor = 1193182u / TICK_HZ;
    outb(0x43, 0x34); /* channel 0, lo/hi, rate generator */
    outb(0x40, divisor & 0xff);
    outb(0x40, divisor >> 8);
    irq_unmask(0);
}
u32 ticks(void) { return tick_count; }

/* ---- PCI ---- */
static u32 pci_addr(u8 bus, u8 dev, u8 fn, u8 off) {
    return 0x80000000u | ((u32)bus << 16) | ((u32)dev << 11) | ((u32)fn << 8) | (off & 0xFC);
}
u32 pci_read32(u8 bus, u8 dev, u8 fn, u8 off) {
    outl(0xCF8, pci_addr(bus, dev, fn, off));
    return inl(0xCFC);
}
void pci_write32(u8 bus, u8 dev, u8 fn, u8 off, u32 v) {
    outl(0xCF8, pci_addr(bus, dev, fn, off));
    outl(0xCFC, v);
}
u16 pci_read16(u8 bus, u8 dev, u8 fn, u8 off) { return (u16)(pci_read32(bus, dev, fn, off) >> ((off & 2) * 8)); }
u8 pci_read8(u8 bus, u8 dev, u8 fn, u8 off) { return (u8)(pci_read32(bus, dev, fn, off) >> ((off & 3) * 8)); }
void pci_write16(u8 bus, u8 dev, u8 fn, u8 off, u16 v) {
    u32 old = pci_read32(bus, dev, fn, off);
    u32 shift = (off & 2) * 8;
    pci_write32(bus, dev, fn, off, (old & ~(0xFFFFu << shift)) | ((u32)v << shift));
}

static void pci_fill(u8 bus, u8 dev, u8 fn, struct PciFunction* out) {
    u32 id = pci_read32(bus, dev, fn, 0);
    u32 cls = pci_read32(bus, dev, fn, 8);
    out->bus = bus, out->dev = dev, out->fn = fn;
    out->vendor = id & 0xffff, out->device = id >> 16;
    out->revision = cls & 0xff;
    out->class_code = cls >> 8;
    out->irq_line = pci_read8(bus, dev, fn, 0x3C);
    u16 cmd = pci_read16(bus, dev, fn, 4);
    /* Decoding off while sizing, so that the all-ones probe never aliases other devices. */
    pci_write16(bus, dev, fn, 4, cmd & ~3u);
    for (int i = 0; i < 6; i++) {
        u8 off = (u8)(0x10 + 4 * i);
        u32 orig = pci_read32(bus, dev, fn, off);
        pci_write32(bus, dev, fn, off, 0xFFFFFFFFu);
        u32 probe = pci_read32(bus, dev, fn, off);
        pci_write32(bus, dev, fn, off, orig);
        out->bar_is_io[i] = orig & 1;
        u32 mask = out->bar_is_io[i] ? 0xFFFFFFFCu : 0xFFFFFFF0u;
        out->bar_base[i] = orig & mask;
        out->bar_size[i] = (probe & mask) ? (~(probe & mask) + 1) : 0;
        if (out->bar_is_io[i]) out->bar_size[i] &= 0xFFFF;
        if (!out->bar_is_io[i] && ((orig >> 1) & 3) == 2 && i < 5) {
            /* 64-bit BAR: the guest only uses it when the upper half is zero. */
            i++;
            out->bar_base[i] = 0;
            out->bar_size[i] = 0;
        }
    }
    pci_write16(bus, dev, fn, 4, cmd);
}

int pci_find(u16 vendor, u16 device, struct PciFunction* out) {
    for (u32 bus = 0; bus < 256; bus++) {
        for (u8 dev = 0; dev < 32; dev++) {
            u32 id = pci_read32((u8)bus, dev, 0, 0);
            if ((id & 0xffff) == 0xffff) continue;
            u8 header = pci_read8((u8)bus, dev, 0, 0x0E);
            u8 nfn = (header & 0x80) ? 8 : 1;
            for (u8 fn = 0; fn < nfn; fn++) {
                id = pci_read32((u8)bus, dev, fn, 0);
                if ((id & 0xffff) == vendor && (id >> 16) == device) {
                    pci_fill((u8)bus, dev, fn, out);
                    return 0;
                }
            }
        }
        if (bus == 0) break; /* the machines we target have a single bus */
    }
    return -1;
}

void pci_enable(const struct PciFunction* f) {
    u16 cmd = pci_read16(f->bus, f->dev, f->fn, 4);
    pci_write16(f->bus, f->dev, f->fn, 4, cmd | 0x7); /* I/O, memory, bus master */
}

u32 crc32_update(u32 crc, const void* data, size_t n) {
    const u8* p = data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}
