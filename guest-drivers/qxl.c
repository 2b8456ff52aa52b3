/* Reference QXL driver; see qxl.h. */
#include "qxl.h"

#define ROM_MODES_OFFSET 24
#define ROM_NUM_PAGES 28
#define ROM_PAGES_OFFSET 32
#define ROM_SURFACE0_AREA_SIZE 40
#define ROM_RAM_HEADER_OFFSET 44
#define ROM_N_SURFACES 52
#define ROM_SLOTS_START 64
#define ROM_SLOT_GEN_BITS 66
#define ROM_SLOT_ID_BITS 67
#define ROM_SLOT_GENERATION 68

#define ASYNC_TIMEOUT_TICKS (5 * TICK_HZ)
#define RING_WAIT_TICKS (2 * TICK_HZ)

/* ---- allocator ---- */
void arena_init(struct Arena* a, u32 start, u32 end) {
    a->start = start;
    a->end = end;
    a->limit = end - start;
    a->n = 1;
    a->free_list[0].off = start;
    a->free_list[0].size = end - start;
}

int arena_alloc(struct Arena* a, u32 size, u32 align, u32* off) {
    for (u32 i = 0; i < a->n; i++) {
        u32 base = (a->free_list[i].off + align - 1) & ~(align - 1);
        u32 pad = base - a->free_list[i].off;
        if (pad + size > a->free_list[i].size) continue;
        if (base + size - a->start > a->limit) return -1;
        if (pad) {
            /* Keep the alignment gap as its own free extent. */
            if (a->n == ARENA_MAX_EXTENTS) continue;
            for (u32 k = a->n; k > i; k--) a->free_list[k] = a->free_list[k - 1];
            a->n++;
            a->free_list[i].size = pad;
            i++;
            a->free_list[i].off = base;
            a->free_list[i].size -= pad;
        }
        a->free_list[i].off += size;
        a->free_list[i].size -= size;
        if (a->free_list[i].size == 0) {
            for (u32 k = i; k + 1 < a->n; k++) a->free_list[k] = a->free_list[k + 1];
            a->n--;
        }
        *off = base;
        return 0;
    }
    return -1;
}

void arena_free(struct Arena* a, u32 off, u32 size) {
    u32 i = 0;
    while (i < a->n && a->free_list[i].off < off) i++;
    /* Merge with the previous and/or next extent when adjacent. */
    int merge_prev = i > 0 && a->free_list[i - 1].off + a->free_list[i - 1].size == off;
    int merge_next = i < a->n && off + size == a->free_list[i].off;
    if (merge_prev && merge_next) {
        a->free_list[i - 1].size += size + a->free_list[i].size;
        for (u32 k = i; k + 1 < a->n; k++) a->free_list[k] = a->free_list[k + 1];
        a->n--;
    } else if (merge_prev) {
        a->free_list[i - 1].size += size;
    } else if (merge_next) {
        a->free_list[i].off = off;
        a->free_list[i].size += size;
    } else if (a->n < ARENA_MAX_EXTENTS) {
        for (u32 k = a->n; k > i; k--) a->free_list[k] = a->free_list[k - 1];
        a->free_list[i].off = off;
        a->free_list[i].size = size;
        a->n++;
    }
    /* A full extent table leaks the block rather than corrupting the list. */
}

/* ---- interrupts ---- */
static void qxl_irq_handler(void* ctx) {
    struct QxlDevice* d = ctx;
    u32 pending = __atomic_exchange_n((volatile u32*)(d->hdr + RAM_INT_PENDING), 0u, __ATOMIC_SEQ_CST);
    if (!pending) return; /* shared line: not ours */
    d->irq_seen |= pending;
    d->irq_count++;
    if (pending & QXL_INTERRUPT_IO_CMD) d->io_cmd_count++;
    if (pending & QXL_INTERRUPT_DISPLAY) d->display_count++;
    if (pending & QXL_INTERRUPT_CURSOR) d->cursor_count++;
    if (pending & QXL_INTERRUPT_ERROR) {
        /* In the guest-bug state the device ignores UPDATE_IRQ, so the level line would stay
         * asserted until RESET: mask it at the PIC; qxl_hw_init() unmasks after the reset. */
        d->error_count++;
        d->in_error = 1;
        irq_mask(d->pci.irq_line);
        return;
    }
    wr32(d->hdr + RAM_INT_MASK, d->int_mask);
    outb((u16)(d->io + QXL_IO_UPDATE_IRQ), 0);
}

/* Waits for `*counter` to move past `start`, halting between interrupts. */
static int wait_counter(volatile u32* counter, u32 start, u32 timeout_ticks) {
    u32 t0 = ticks();
    for (;;) {
        cli();
        if (*counter != start) {
            sti();
            return 0;
        }
        if (ticks() - t0 >= timeout_ticks) {
            sti();
            return -1;
        }
        sti_hlt();
    }
}

int qxl_wait_irq(struct QxlDevice* d, u32 mask, u32 timeout_ticks) {
    u32 t0 = ticks();
    for (;;) {
        cli();
        if (d->irq_seen & mask) {
            sti();
            return 0;
        }
        if (ticks() - t0 >= timeout_ticks) {
            sti();
            return -1;
        }
        sti_hlt();
    }
}

void qxl_io(struct QxlDevice* d, u8 port, u8 val) { outb((u16)(d->io + port), val); }

int qxl_io_async(struct QxlDevice* d, u8 port, u8 val) {
    u32 start = d->io_cmd_count;
    qxl_io(d, port, val);
    if (wait_counter(&d->io_cmd_count, start, ASYNC_TIMEOUT_TICKS) != 0) {
        d->async_timeouts++;
        return QXL_ERR_TIMEOUT;
    }
    return QXL_OK;
}

/* ---- probe and init ---- */
int qxl_probe(struct QxlDevice* d) {
    memset(d, 0, sizeof *d);
    if (pci_find(0x1B36, 0x0100, &d->pci) != 0) return QXL_ERR_NO_DEVICE;
    u32 cls = d->pci.class_code & 0xFFFF00u;
    if (cls != 0x030000u && cls != 0x038000u) return QXL_ERR_BAD_DEVICE;
    if (d->pci.revision < 4) {
        printf("qxl: revision %u is too old\n", d->pci.revision);
        return QXL_ERR_BAD_DEVICE;
    }
    if (d->pci.bar_is_io[0] || d->pci.bar_is_io[1] || d->pci.bar_is_io[2] || !d->pci.bar_is_io[3] ||
        !d->pci.bar_base[0] || !d->pci.bar_base[2] || !d->pci.bar_base[3]) {
        printf("qxl: BARs not assigned as expected\n");
        return QXL_ERR_BAD_DEVICE;
    }
    pci_enable(&d->pci);
    d->ram = (volatile u8*)d->pci.bar_base[0];
    d->ram_size = d->pci.bar_size[0];
    d->vram = (volatile u8*)d->pci.bar_base[1];
    d->vram_size = d->pci.bar_size[1];
    d->rom = (volatile u8*)d->pci.bar_base[2];
    d->io = (u16)d->pci.bar_base[3];
    if (get32(d->rom, 0) != QXL_ROM_MAGIC) {
        printf("qxl: bad ROM magic 0x%08x\n", get32(d->rom, 0));
        return QXL_ERR_BAD_DEVICE;
    }
    d->ram_header_offset = get32(d->rom, ROM_RAM_HEADER_OFFSET);
    d->pages_offset = get32(d->rom, ROM_PAGES_OFFSET);
    d->surface0_area_size = get32(d->rom, ROM_SURFACE0_AREA_SIZE);
    d->n_surfaces = get32(d->rom, ROM_N_SURFACES);
    /* Everything we dereference later must lie inside BAR0. */
    if (d->ram_header_offset > d->ram_size || d->ram_size - d->ram_header_offset < 5348 ||
        d->pages_offset >= d->ram_header_offset || d->surface0_area_size > d->pages_offset) {
        printf("qxl: ROM geometry outside BAR0\n");
        return QXL_ERR_BAD_DEVICE;
    }
    d->hdr = d->ram + d->ram_header_offset;
    if (get32(d->hdr, 0) != QXL_RAM_MAGIC) {
        printf("qxl: bad RAM magic 0x%08x\n", get32(d->hdr, 0));
        return QXL_ERR_BAD_DEVICE;
    }
    u32 heads = 0;
    if (qxl_client_monitors(d, &heads) == QXL_OK)
        printf("qxl: client monitors config: %u head(s)\n", heads);
    else
        printf("qxl: client monitors config: CRC mismatch\n");
    printf("qxl: %02x:%02x.%u rev %u irq %u ram 0x%08x/%u KiB vram 0x%08x/%u KiB rom 0x%08x io 0x%x\n",
           d->pci.bus, d->pci.dev, d->pci.fn, d->pci.revision, d->pci.irq_line, d->pci.bar_base[0],
           d->ram_size >> 10, d->pci.bar_base[1], d->vram_size >> 10, d->pci.bar_base[2], d->io);
    return QXL_OK;
}

int qxl_client_monitors(struct QxlDevice* d, u32* count) {
    /* The device may rewrite the block while we read it: retry a few times, as Linux does. */
    static u8 block[1028];
    for (u32 attempt = 0; attempt < 10; attempt++) {
        u32 want = get32(d->rom, 128);
        for (u32 i = 0; i < sizeof block; i++) block[i] = d->rom[132 + i];
        /* CRC-32 with initial value 0 and no final inversion (Linux crc32(0, ...)). */
        u32 crc = ~crc32_update(0xFFFFFFFFu, block, sizeof block);
        if (crc == want) {
            *count = (u32)block[0] | ((u32)block[1] << 8);
            return QXL_OK;
        }
    }
    return QXL_ERR_BAD_DEVICE;
}

static u64 slot_high_bits(const struct QxlDevice* d, u8 slot) {
    u32 gen_bits = d->rom[ROM_SLOT_GEN_BITS], id_bits = d->rom[ROM_SLOT_ID_BITS];
    u64 gen = d->rom[ROM_SLOT_GENERATION];
    return (((u64)slot << gen_bits) | gen) << (64 - gen_bits - id_bits);
}
u64 qxl_phys_main(const struct QxlDevice* d, u32 off) { return d->main_high | off; }
u64 qxl_phys_surf(const struct QxlDevice* d, u32 off) { return d->surf_high | off; }

static int add_memslot(struct QxlDevice* d, u8 slot, u64 start, u64 end) {
    put64(d->hdr, RAM_MEM_SLOT, start);
    put64(d->hdr, RAM_MEM_SLOT + 8, end);
    return qxl_io_async(d, QXL_IO_MEMSLOT_ADD_ASYNC, slot);
}

int qxl_hw_init(struct QxlDevice* d) {
    qxl_io(d, QXL_IO_RESET, 0);
    d->irq_seen = 0;
    memset(d->releases, 0, sizeof d->releases);
    memset(d->surfaces, 0, sizeof d->surfaces);
    d->has_primary = 0;
    arena_init(&d->ram_arena, d->pages_offset, d->ram_header_offset);
    if (d->vram_size) arena_init(&d->vram_arena, 0, d->vram_size);
    static int irq_installed;
    if (!irq_installed) {
        irq_register(d->pci.irq_line, qxl_irq_handler, d);
        irq_installed = 1;
    }
    d->in_error = 0;
    irq_unmask(d->pci.irq_line);
    /* Linux uses 0x27; ERROR is added so that scenarios can observe guest-bug reports. */
    d->int_mask = QXL_INTERRUPT_DISPLAY | QXL_INTERRUPT_CURSOR | QXL_INTERRUPT_IO_CMD | QXL_INTERRUPT_ERROR |
                  QXL_INTERRUPT_CLIENT_MONITORS_CONFIG;
    wr32(d->hdr + RAM_INT_MASK, d->int_mask);
    qxl_io(d, QXL_IO_UPDATE_IRQ, 0);

    u8 slots_start = d->rom[ROM_SLOTS_START];
    d->slot_main = slots_start;
    d->slot_surf = (u8)(slots_start + 1);
    u64 bar0 = d->pci.bar_base[0], bar1 = d->pci.bar_base[1];
    if (add_memslot(d, d->slot_main, bar0, bar0 + d->ram_header_offset) != QXL_OK) return QXL_ERR_TIMEOUT;
    d->main_high = slot_high_bits(d, d->slot_main);
    if (d->vram_size) {
        if (add_memslot(d, d->slot_surf, bar1, bar1 + d->vram_size) != QXL_OK) return QXL_ERR_TIMEOUT;
        d->surf_high = slot_high_bits(d, d->slot_surf);
    }
    /* The monitors-config buffer lives for the device's lifetime (not released). */
    if (arena_alloc(&d->ram_arena, 4 + 4 * 28, 64, &d->monitors_off) != 0) return QXL_ERR_NO_MEMORY;
    memset((void*)(d->ram + d->monitors_off), 0, 4 + 4 * 28);
    put64(d->hdr, RAM_MONITORS_CONFIG, qxl_phys_main(d, d->monitors_off));
    return QXL_OK;
}

/* ---- primary surface ---- */
int qxl_destroy_primary(struct QxlDevice* d) {
    if (!d->has_primary) return QXL_OK;
    d->has_primary = 0;
    return qxl_io_async(d, QXL_IO_DESTROY_PRIMARY_ASYNC, 0);
}

int qxl_create_primary(struct QxlDevice* d, u32 width, u32 height, u32 depth, i32 stride) {
    if (depth != 32 && depth != 16) return QXL_ERR_ARG;
    u32 bpp_bytes = depth / 8;
    if (stride == 0) stride = (i32)(width * bpp_bytes);
    u32 abs_stride = stride < 0 ? (u32)-stride : (u32)stride;
    if ((u64)abs_stride * height > d->surface0_area_size) return QXL_ERR_ARG;
    int r = qxl_destroy_primary(d);
    if (r != QXL_OK) return r;
    memset((void*)d->ram, 0, abs_stride * height);
    volatile u8* cs = d->hdr + RAM_CREATE_SURFACE;
    put32(cs, 0, width);
    put32(cs, 4, height);
    put32(cs, 8, (u32)stride);
    put32(cs, 12, depth == 32 ? 32u : 80u); /* 32_xRGB or 16_565 */
    put32(cs, 16, 0);
    put32(cs, 20, 0);
    put32(cs, 24, 1); /* KEEP_DATA, as Linux does */
    put32(cs, 28, 0); /* PRIMARY */
    put64(cs, 32, qxl_phys_main(d, 0));
    r = qxl_io_async(d, QXL_IO_CREATE_PRIMARY_ASYNC, 0);
    if (r != QXL_OK) return r;
    d->has_primary = 1;
    d->width = width;
    d->height = height;
    d->depth = depth;
    d->stride = abs_stride;
    d->bottom_up = stride < 0;
    d->format = depth == 32 ? 32u : 80u;
    return QXL_OK;
}

/* ---- releases ---- */
static void release_free(struct QxlDevice* d, u32 idx) {
    struct QxlRelease* r = &d->releases[idx];
    for (u32 i = 0; i < r->n_allocs; i++) arena_free(r->allocs[i].arena, r->allocs[i].off, r->allocs[i].size);
    r->in_use = 0;
    r->n_allocs = 0;
    d->releases_total++;
}

void qxl_collect_releases(struct QxlDevice* d) {
    volatile u8* ring = d->hdr + RAM_RELEASE_RING;
    for (;;) {
        u32 prod = rd32(ring + RING_PROD), cons = rd32(ring + RING_CONS);
        if (prod == cons) {
            wr32(ring + RING_NOTIFY_ON_PROD, cons + 1);
            barrier();
            if (rd32(ring + RING_PROD) == cons) return;
            continue;
        }
        u64 id = get64(ring, RING_ITEMS + (cons & 7u) * 8);
        wr32(ring + RING_CONS, cons + 1);
        /* Walk the chain threaded through release_info.next; bounded by the table size. */
        for (u32 steps = 0; id != 0 && steps < QXL_MAX_RELEASES; steps++) {
            if (id > QXL_MAX_RELEASES || !d->releases[id - 1].in_use) {
                d->bad_release_ids++;
                break;
            }
            u32 idx = (u32)id - 1;
            u64 next = get64(d->ram, d->releases[idx].body_off);
            release_free(d, idx);
            id = next;
        }
    }
}

u32 qxl_outstanding(const struct QxlDevice* d) {
    u32 n = 0;
    for (u32 i = 0; i < QXL_MAX_RELEASES; i++) n += d->releases[i].in_use;
    return n;
}

static int find_free_release(struct QxlDevice* d) {
    for (u32 k = 0; k < QXL_MAX_RELEASES; k++) {
        u32 i = (d->next_release_hint + k) % QXL_MAX_RELEASES;
        if (!d->releases[i].in_use) {
            d->next_release_hint = i + 1;
            return (int)i;
        }
    }
    return -1;
}

void qxl_release_attach(struct QxlDevice* d, int release_id, struct Arena* a, u32 off, u32 size) {
    struct QxlRelease* r = &d->releases[release_id - 1];
    if (r->n_allocs < 2) {
        r->allocs[r->n_allocs].arena = a;
        r->allocs[r->n_allocs].off = off;
        r->allocs[r->n_allocs].size = size;
        r->n_allocs++;
    }
}

int qxl_alloc_command(struct QxlDevice* d, u32 size, u32* off) {
    size = (size + 63) & ~63u;
    u32 t0 = ticks();
    for (u32 attempt = 0;; attempt++) {
        int idx = find_free_release(d);
        if (idx >= 0 && arena_alloc(&d->ram_arena, size, 64, off) == 0) {
            struct QxlRelease* r = &d->releases[idx];
            r->in_use = 1;
            r->n_allocs = 0;
            r->body_off = *off;
            qxl_release_attach(d, idx + 1, &d->ram_arena, *off, size);
            put64(d->ram, *off, (u64)(idx + 1)); /* QXLReleaseInfo.id */
            return idx + 1;
        }
        qxl_collect_releases(d);
        idx = find_free_release(d);
        u32 probe;
        if (idx >= 0 && arena_alloc(&d->ram_arena, size, 64, &probe) == 0) {
            arena_free(&d->ram_arena, probe, size);
            continue;
        }
        if (ticks() - t0 > 3 * TICK_HZ) return QXL_ERR_NO_MEMORY;
        /* Ask the server to give resources back, then sleep until the release ring moves. */
        u32 start = d->display_count;
        qxl_io(d, QXL_IO_NOTIFY_OOM, 0);
        d->oom_notifies++;
        wait_counter(&d->display_count, start, TICK_HZ / 10);
        if (attempt > 4) qxl_io(d, QXL_IO_FLUSH_RELEASE, 0);
    }
}

int qxl_push_command(struct QxlDevice* d, int cursor_ring, u32 body_off, u32 type) {
    volatile u8* ring = d->hdr + (cursor_ring ? RAM_CURSOR_RING : RAM_CMD_RING);
    u32 n = rd32(ring + RING_NUM_ITEMS);
    if (n == 0 || (n & (n - 1)) || n > 32) return QXL_ERR_BAD_DEVICE;
    volatile u32* counter = cursor_ring ? &d->cursor_count : &d->display_count;
    u32 t0 = ticks();
    if (rd32(ring + RING_PROD) - rd32(ring + RING_CONS) >= n) d->ring_full_waits++;
    while (rd32(ring + RING_PROD) - rd32(ring + RING_CONS) >= n) {
        u32 start = *counter;
        wr32(ring + RING_NOTIFY_ON_CONS, rd32(ring + RING_CONS) + 1);
        barrier();
        if (rd32(ring + RING_PROD) - rd32(ring + RING_CONS) < n) break;
        wait_counter(counter, start, TICK_HZ / 10);
        if (ticks() - t0 > RING_WAIT_TICKS) return QXL_ERR_TIMEOUT;
    }
    u32 prod = rd32(ring + RING_PROD);
    u32 slot = RING_ITEMS + (prod & (n - 1)) * 16;
    put64(ring, slot, qxl_phys_main(d, body_off));
    put32(ring, slot + 8, type);
    put32(ring, slot + 12, 0);
    barrier();
    wr32(ring + RING_PROD, prod + 1);
    barrier();
    if (rd32(ring + RING_NOTIFY_ON_PROD) == prod + 1)
        qxl_io(d, cursor_ring ? QXL_IO_NOTIFY_CURSOR : QXL_IO_NOTIFY_CMD, 0);
    d->commands_submitted++;
    return QXL_OK;
}

/* ---- UPDATE_AREA, surfaces, monitors ---- */
int qxl_update_area(struct QxlDevice* d, u32 surface, i32 x, i32 y, i32 w, i32 h, int async) {
    volatile u8* ua = d->hdr + RAM_UPDATE_AREA;
    put32(ua, 0, (u32)y);
    put32(ua, 4, (u32)x);
    put32(ua, 8, (u32)(y + h));
    put32(ua, 12, (u32)(x + w));
    put32(d->hdr, RAM_UPDATE_SURFACE, surface);
    if (async) return qxl_io_async(d, QXL_IO_UPDATE_AREA_ASYNC, 0);
    qxl_io(d, QXL_IO_UPDATE_AREA, 0);
    return QXL_OK;
}

static u32 format_bpp(u32 format) {
    switch (format) {
    case 1: return 1;
    case 8: return 8;
    case 16:
    case 80: return 16;
    default: return 32;
    }
}

int qxl_surface_create(struct QxlDevice* d, u32 id, u32 width, u32 height, i32 stride, u32 format) {
    if (id == 0 || id >= QXL_MAX_SURFACES || d->surfaces[id].live || !d->vram_size) return QXL_ERR_ARG;
    u32 bpp = format_bpp(format);
    if (stride == 0) stride = (i32)(((width * bpp + 31) / 32) * 4);
    u32 abs_stride = stride < 0 ? (u32)-stride : (u32)stride;
    u64 bytes = (u64)abs_stride * height;
    if (bytes == 0 || bytes > d->vram_size) return QXL_ERR_ARG;
    u32 vram_off;
    if (arena_alloc(&d->vram_arena, (u32)bytes, 4096, &vram_off) != 0) return QXL_ERR_NO_MEMORY;
    memset((void*)(d->vram + vram_off), 0, (u32)bytes);
    u32 off;
    int rid = qxl_alloc_command(d, 64, &off);
    if (rid < 0) {
        arena_free(&d->vram_arena, vram_off, (u32)bytes);
        return rid;
    }
    volatile u8* c = d->ram + off;
    put32(c, 8, id);
    put8(c, 12, 0); /* CREATE */
    put32(c, 13, 0);
    put32(c, 17, format);
    put32(c, 21, width);
    put32(c, 25, height);
    put32(c, 29, (u32)stride);
    put64(c, 33, qxl_phys_surf(d, vram_off));
    int r = qxl_push_command(d, 0, off, 5 /* QXL_CMD_SURFACE */);
    if (r != QXL_OK) return r;
    struct QxlSurfaceInfo* s = &d->surfaces[id];
    s->live = 1;
    s->width = width;
    s->height = height;
    s->stride = abs_stride;
    s->bottom_up = stride < 0;
    s->format = format;
    s->vram_off = vram_off;
    s->vram_size = (u32)bytes;
    s->create_release = (u32)rid;
    return QXL_OK;
}

int qxl_surface_destroy(struct QxlDevice* d, u32 id) {
    if (id == 0 || id >= QXL_MAX_SURFACES || !d->surfaces[id].live) return QXL_ERR_ARG;
    u32 off;
    int rid = qxl_alloc_command(d, 64, &off);
    if (rid < 0) return rid;
    volatile u8* c = d->ram + off;
    put32(c, 8, id);
    put8(c, 12, 1); /* DESTROY */
    put32(c, 13, 0);
    for (u32 k = 17; k < 41; k++) put8(c, k, 0);
    /* The surface pixels stay the device's until this command comes back. */
    qxl_release_attach(d, rid, &d->vram_arena, d->surfaces[id].vram_off, d->surfaces[id].vram_size);
    d->surfaces[id].live = 0;
    return qxl_push_command(d, 0, off, 5);
}

volatile u8* qxl_surface_pixels(struct QxlDevice* d, u32 surface, u32* width, u32* height, u32* stride, u32* bpp) {
    if (surface == 0) {
        if (!d->has_primary) return NULL;
        *width = d->width, *height = d->height, *stride = d->stride, *bpp = d->depth;
        return d->ram;
    }
    if (surface >= QXL_MAX_SURFACES || !d->surfaces[surface].live) return NULL;
    struct QxlSurfaceInfo* s = &d->surfaces[surface];
    *width = s->width, *height = s->height, *stride = s->stride, *bpp = format_bpp(s->format);
    return d->vram + s->vram_off;
}

volatile u8* qxl_surface_row(struct QxlDevice* d, u32 surface, u32 y) {
    u32 w, h, stride, bpp;
    volatile u8* base = qxl_surface_pixels(d, surface, &w, &h, &stride, &bpp);
    if (!base || y >= h) return NULL;
    /* A negative stride puts row 0 at the highest address (the memory start stays lowest). */
    int bottom_up = surface == 0 ? d->bottom_up : d->surfaces[surface].bottom_up;
    return base + (bottom_up ? (h - 1 - y) : y) * stride;
}

int qxl_monitors_config(struct QxlDevice* d, u32 count, u32 width, u32 height) {
    if (count == 0 || count > 4) return QXL_ERR_ARG;
    volatile u8* m = d->ram + d->monitors_off;
    put16(m, 0, (u16)count);
    put16(m, 2, 4);
    for (u32 i = 0; i < 4; i++) {
        volatile u8* h = m + 4 + i * 28;
        int on = i < count;
        put32(h, 0, i);
        put32(h, 4, 0);
        put32(h, 8, on ? width : 0);
        put32(h, 12, on ? height : 0);
        put32(h, 16, on ? i * width : 0);
        put32(h, 20, 0);
        put32(h, 24, 0);
    }
    put64(d->hdr, RAM_MONITORS_CONFIG, qxl_phys_main(d, d->monitors_off));
    return qxl_io_async(d, QXL_IO_MONITORS_CONFIG_ASYNC, 0);
}

void qxl_log(struct QxlDevice* d, const char* text) {
    u32 n = 0;
    for (; text[n] && n < 4095; n++) d->hdr[RAM_LOG_BUF + n] = (u8)text[n];
    d->hdr[RAM_LOG_BUF + n] = 0;
    qxl_io(d, QXL_IO_LOG, 0);
}
