/* Guest entry: runtime set-up, scenario module from the multiboot information, QXL and
 * VDIPort probes, then the interpreter. Exit codes are listed in runtime.h.
 * Kernel command line word `hold`: after DONE the guest prints HOLD and halts with interrupts
 * off instead of writing isa-debug-exit, so the emulator keeps serving the final display to
 * SPICE clients (screenshots of QEMU's display at DONE). */
#include "runtime.h"
#include "scenario.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MB_INFO_CMDLINE 0x4u
#define MB_INFO_MODS 0x8u

extern char _image_end[];

static struct QxlDevice qxl;
static struct VdiPort vdi;

/* True when `word` is one of the space-separated words after the first (the kernel path,
 * which both QEMU and qxlbox put in front of the appended line). */
static int cmdline_has_word(const char* cmdline, const char* word) {
    size_t n = strlen(word);
    const char* p = cmdline;
    int index = 0;
    while (*p) {
        while (*p == ' ') p++;
        const char* start = p;
        while (*p && *p != ' ') p++;
        if (p > start && index++ > 0 && (size_t)(p - start) == n && memcmp(start, word, n) == 0) return 1;
    }
    return 0;
}

void guest_main(u32 magic, const u32* mbi) {
    serial_init();
    cpu_tables_init();
    pic_init();
    pit_init();
    sti();
    printf("qxlbox guest: start\n");
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        printf("ERROR not started by a multiboot loader (eax=0x%08x)\n", magic);
        guest_exit(EXIT_BAD_MODULE);
    }
    if (!(mbi[0] & MB_INFO_MODS) || mbi[5] == 0) {
        printf("ERROR no scenario module\n");
        guest_exit(EXIT_BAD_MODULE);
    }
    /* Read before the scenario runs: its heap may cover the loader's information. */
    const int hold = (mbi[0] & MB_INFO_CMDLINE) && mbi[4] != 0 && cmdline_has_word((const char*)mbi[4], "hold");
    const u32* mod = (const u32*)mbi[6];
    u32 mod_start = mod[0], mod_end = mod[1];
    if (mod_end < mod_start) {
        printf("ERROR module bounds inverted\n");
        guest_exit(EXIT_BAD_MODULE);
    }
    const char* why = "";
    if (scenario_validate((const u8*)mod_start, mod_end - mod_start, &why) != 0) {
        printf("ERROR scenario module rejected: %s\n", why);
        guest_exit(EXIT_BAD_MODULE);
    }
    int r = qxl_probe(&qxl);
    if (r != 0) {
        printf("ERROR no usable QXL device (%d)\n", r);
        guest_exit(EXIT_NO_DEVICE);
    }
    if (vdi_probe(&vdi) == 0)
        printf("vdiport: io 0x%x ram 0x%08x\n", vdi.io, vdi.pci.bar_base[1]);
    else
        printf("vdiport: absent\n");
    r = qxl_hw_init(&qxl);
    if (r != 0) {
        printf("ERROR qxl init failed (%d)\n", r);
        guest_exit(EXIT_NO_DEVICE);
    }
    /* Generated images go above both the image and the module, from 16 MiB up. */
    u32 heap = 0x1000000u;
    if (mod_end > heap) heap = (mod_end + 0xFFFFFu) & ~0xFFFFFu;
    if ((u32)_image_end > heap) heap = ((u32)_image_end + 0xFFFFFu) & ~0xFFFFFu;
    u32 heap_size = 16u << 20;
    if (mbi[0] & 1u) {
        u32 mem_top = 0x100000u + mbi[2] * 1024u;
        if (mem_top < heap + heap_size) heap_size = mem_top > heap ? mem_top - heap : 0;
    }
    r = scenario_run((const u8*)mod_start, &qxl, &vdi, (u8*)heap, heap_size);
    printf("DONE\n");
    if (hold) {
        printf("HOLD\n");
        for (;;) __asm__ volatile("cli; hlt");
    }
    guest_exit(r == 0 ? EXIT_PASS : EXIT_CHECK_FAILED);
}
