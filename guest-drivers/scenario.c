/* Scenario interpreter: validates the scenario module (machine/scenario/scenario_format.h),
 * runs its steps through the QXL and VDIPort drivers, prints one `RESULT <name>=OK|FAIL
 * <detail>` line per check and `DONE` at the end. A step the drivers cannot carry out is
 * reported as a failed check named step<N>, so a run never passes by skipping work. */
#include "scenario.h"

#include "draw.h"
#include "machine/scenario/scenario_format.h"
#include "vdiport.h"

/* Upper bound for any wait a module asks for (the compiler enforces the same limit). */
#define MAX_WAIT_TICKS 60000u

struct Interp {
    struct QxlDevice* qxl;
    struct VdiPort* vdi;
    struct GuestImage images[QXSC_MAX_IMAGES];
    u8* image_heap;
    u32 image_heap_used, image_heap_size;
    u32 checks, failures;
    u32 step_index;
    char name[QXSC_MAX_TEXT + 1];
    u32 text_len;
    u32 primary_w, primary_h, primary_depth;
};

static void result(struct Interp* in, const char* name, int ok, const char* detail) {
    in->checks++;
    if (!ok) in->failures++;
    printf("RESULT %s=%s%s%s\n", name, ok ? "OK" : "FAIL", detail && detail[0] ? " " : "", detail ? detail : "");
}

static void step_error(struct Interp* in, const char* what, int code) {
    char name[32], detail[96];
    snprintf(name, sizeof name, "step%u", in->step_index);
    snprintf(detail, sizeof detail, "%s failed (%d)", what, code);
    result(in, name, 0, detail);
}

/* ---- image generators ---- */
static u32 lerp_channel(u32 a, u32 b, u32 shift, u32 num, u32 den) {
    i32 ca = (i32)((a >> shift) & 0xff), cb = (i32)((b >> shift) & 0xff);
    return (u32)(ca + (cb - ca) * (i32)num / (i32)den) << shift;
}

static int generate_image(struct Interp* in, const u32* a, const char* text, u32 text_len) {
    u32 slot = a[0], kind = a[1], w = a[2], h = a[3], c1 = a[4], c2 = a[5], param = a[6], format = a[7];
    /* Each side is bounded first so that w * h cannot wrap. */
    if (slot >= QXSC_MAX_IMAGES || w == 0 || h == 0 || w > 512 || h > 512 || w * h > QXSC_MAX_IMAGE_PIXELS) return -1;
    if (format != SPICE_BITMAP_FMT_32BIT && format != SPICE_BITMAP_FMT_RGBA) return -1;
    u32 bytes = w * h * 4;
    if (in->image_heap_used + bytes > in->image_heap_size) return -2;
    struct GuestImage* img = &in->images[slot];
    img->pixels = (u32*)(in->image_heap + in->image_heap_used);
    in->image_heap_used += bytes;
    img->width = w, img->height = h, img->format = format, img->valid = 1;
    u32 seed = param ? param : 1;
    for (u32 y = 0; y < h; y++) {
        for (u32 x = 0; x < w; x++) {
            u32 v;
            switch (kind) {
            case QXSC_IMAGE_SOLID: v = c1; break;
            case QXSC_IMAGE_GRADIENT: {
                u32 den = w > 1 ? w - 1 : 1;
                v = lerp_channel(c1, c2, 0, x, den) | lerp_channel(c1, c2, 8, x, den) |
                    lerp_channel(c1, c2, 16, x, den) | lerp_channel(c1, c2, 24, x, den);
                break;
            }
            case QXSC_IMAGE_CHECKER: {
                u32 cell = param ? param : 8;
                v = ((x / cell + y / cell) & 1) ? c2 : c1;
                break;
            }
            case QXSC_IMAGE_NOISE:
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                v = (seed & 0x00FFFFFFu) | (c1 & 0xFF000000u);
                break;
            case QXSC_IMAGE_TEXT: {
                u32 ch = x / 8;
                u8 bits = (ch < text_len && y < 8) ? glyph_row((u8)text[ch], y) : 0;
                v = (bits & (0x80u >> (x % 8))) ? c1 : c2;
                break;
            }
            default: return -1;
            }
            img->pixels[y * w + x] = v;
        }
    }
    return 0;
}

/* ---- pixel access for checks ---- */
static int read_pixel(struct Interp* in, u32 surface, u32 x, u32 y, u32* out) {
    u32 w, h, stride, bpp;
    if (!qxl_surface_pixels(in->qxl, surface, &w, &h, &stride, &bpp) || x >= w || y >= h) return -1;
    volatile u8* row = qxl_surface_row(in->qxl, surface, y);
    if (bpp == 32)
        *out = rd32(row + x * 4) & 0x00FFFFFFu;
    else
        *out = row[x * 2] | ((u32)row[x * 2 + 1] << 8);
    return 0;
}

/* Converts an xRGB colour into what a surface of the given depth stores (low 24 bits / 565). */
static u32 surface_color(struct Interp* in, u32 surface, u32 c) {
    u32 w, h, stride, bpp;
    if (!qxl_surface_pixels(in->qxl, surface, &w, &h, &stride, &bpp) || bpp == 32) return c & 0x00FFFFFFu;
    return (((c >> 19) & 0x1F) << 11) | (((c >> 10) & 0x3F) << 5) | ((c >> 3) & 0x1F);
}

static int region_ok(struct Interp* in, u32 surface, u32 x, u32 y, u32 w, u32 h) {
    u32 sw, sh, stride, bpp;
    if (!qxl_surface_pixels(in->qxl, surface, &sw, &sh, &stride, &bpp)) return 0;
    return w && h && x < sw && y < sh && w <= sw - x && h <= sh - y;
}

static void check_pixel(struct Interp* in, const u32* a) {
    u32 got, want = surface_color(in, a[0], a[3]);
    char detail[96];
    if (read_pixel(in, a[0], a[1], a[2], &got) != 0) {
        snprintf(detail, sizeof detail, "pixel (%u,%u) of surface %u not readable", a[1], a[2], a[0]);
        result(in, in->name, 0, detail);
        return;
    }
    snprintf(detail, sizeof detail, "at (%u,%u) got 0x%06x want 0x%06x", a[1], a[2], got, want);
    result(in, in->name, got == want, got == want ? "" : detail);
}

static void check_rect(struct Interp* in, const u32* a) {
    u32 want = surface_color(in, a[0], a[5]);
    char detail[112];
    if (!region_ok(in, a[0], a[1], a[2], a[3], a[4])) {
        result(in, in->name, 0, "region outside the surface");
        return;
    }
    u32 bad = 0, first_x = 0, first_y = 0, first_v = 0;
    for (u32 y = a[2]; y < a[2] + a[4]; y++)
        for (u32 x = a[1]; x < a[1] + a[3]; x++) {
            u32 v;
            read_pixel(in, a[0], x, y, &v);
            if (v != want && bad++ == 0) first_x = x, first_y = y, first_v = v;
        }
    snprintf(detail, sizeof detail, "%u pixels differ, first at (%u,%u) got 0x%06x want 0x%06x", bad, first_x,
             first_y, first_v, want);
    result(in, in->name, bad == 0, bad ? detail : "");
}

static void check_image(struct Interp* in, const u32* a) {
    u32 surface = a[0], x0 = a[1], y0 = a[2], w = a[3], h = a[4], slot = a[5], sx = a[6], sy = a[7];
    char detail[112];
    if (slot >= QXSC_MAX_IMAGES || !in->images[slot].valid) {
        result(in, in->name, 0, "image slot empty");
        return;
    }
    const struct GuestImage* img = &in->images[slot];
    if (!region_ok(in, surface, x0, y0, w, h) || sx >= img->width || sy >= img->height || w > img->width - sx ||
        h > img->height - sy) {
        result(in, in->name, 0, "region outside the surface or image");
        return;
    }
    u32 bad = 0, fx = 0, fy = 0, fv = 0, fw = 0;
    for (u32 y = 0; y < h; y++)
        for (u32 x = 0; x < w; x++) {
            u32 v, want = surface_color(in, surface, img->pixels[(sy + y) * img->width + sx + x]);
            read_pixel(in, surface, x0 + x, y0 + y, &v);
            if (v != want && bad++ == 0) fx = x0 + x, fy = y0 + y, fv = v, fw = want;
        }
    snprintf(detail, sizeof detail, "%u pixels differ, first at (%u,%u) got 0x%06x want 0x%06x", bad, fx, fy, fv, fw);
    result(in, in->name, bad == 0, bad ? detail : "");
}

static void check_crc(struct Interp* in, const u32* a) {
    char detail[96];
    if (!region_ok(in, a[0], a[1], a[2], a[3], a[4])) {
        result(in, in->name, 0, "region outside the surface");
        return;
    }
    u32 crc = 0;
    for (u32 y = a[2]; y < a[2] + a[4]; y++)
        for (u32 x = a[1]; x < a[1] + a[3]; x++) {
            u32 v;
            read_pixel(in, a[0], x, y, &v);
            crc = crc32_update(crc, &v, 4);
        }
    int ok = !a[6] || crc == a[5];
    snprintf(detail, sizeof detail, ok ? "crc=0x%08x" : "crc=0x%08x want 0x%08x", crc, a[5]);
    result(in, in->name, ok, detail);
}

/* ---- draws ---- */
static int run_draw(struct Interp* in, u32 op, const u32* a, const char* text, u32 text_len) {
    static const u8 types[] = {
        [QXSC_OP_FILL - QXSC_OP_FILL] = QXL_DRAW_FILL,
        [QXSC_OP_OPAQUE - QXSC_OP_FILL] = QXL_DRAW_OPAQUE,
        [QXSC_OP_COPY - QXSC_OP_FILL] = QXL_DRAW_COPY,
        [QXSC_OP_BLEND - QXSC_OP_FILL] = QXL_DRAW_BLEND,
        [QXSC_OP_TRANSPARENT - QXSC_OP_FILL] = QXL_DRAW_TRANSPARENT,
        [QXSC_OP_ALPHA - QXSC_OP_FILL] = QXL_DRAW_ALPHA_BLEND,
        [QXSC_OP_ROP3 - QXSC_OP_FILL] = QXL_DRAW_ROP3,
        [QXSC_OP_BLACKNESS - QXSC_OP_FILL] = QXL_DRAW_BLACKNESS,
        [QXSC_OP_WHITENESS - QXSC_OP_FILL] = QXL_DRAW_WHITENESS,
        [QXSC_OP_INVERS - QXSC_OP_FILL] = QXL_DRAW_INVERS,
        [QXSC_OP_COPYBITS - QXSC_OP_FILL] = QXL_COPY_BITS,
        [QXSC_OP_STROKE - QXSC_OP_FILL] = QXL_DRAW_STROKE,
        [QXSC_OP_TEXT - QXSC_OP_FILL] = QXL_DRAW_TEXT,
        [QXSC_OP_COMPOSITE - QXSC_OP_FILL] = QXL_DRAW_COMPOSITE,
    };
    struct DrawRequest r;
    memset(&r, 0, sizeof r);
    r.type = types[op - QXSC_OP_FILL];
    r.surface = a[QXSC_DRAW_ARG_SURFACE];
    r.x = (i32)a[QXSC_DRAW_ARG_X];
    r.y = (i32)a[QXSC_DRAW_ARG_Y];
    r.w = (i32)a[QXSC_DRAW_ARG_W];
    r.h = (i32)a[QXSC_DRAW_ARG_H];
    r.sx = (i32)a[QXSC_DRAW_ARG_SX];
    r.sy = (i32)a[QXSC_DRAW_ARG_SY];
    r.color = a[QXSC_DRAW_ARG_COLOR];
    r.color2 = a[QXSC_DRAW_ARG_COLOR2];
    r.rop = a[QXSC_DRAW_ARG_ROP];
    r.param = a[QXSC_DRAW_ARG_PARAM];
    r.clip_x = (i32)a[QXSC_DRAW_ARG_CLIP_X];
    r.clip_y = (i32)a[QXSC_DRAW_ARG_CLIP_Y];
    r.clip_w = (i32)a[QXSC_DRAW_ARG_CLIP_W];
    r.clip_h = (i32)a[QXSC_DRAW_ARG_CLIP_H];
    r.src_surface = -1;
    r.text = text;
    r.text_len = text_len;
    {
        /* Brush colours are raw pixels of the destination format, so 16-bit surfaces get 565. */
        u32 w, h, stride, bpp;
        if (qxl_surface_pixels(in->qxl, r.surface, &w, &h, &stride, &bpp) && bpp == 16) {
            r.color = surface_color(in, r.surface, r.color);
            if (r.color2 != 0xFFFFFFFFu) r.color2 = surface_color(in, r.surface, r.color2);
        }
    }
    u32 src = a[QXSC_DRAW_ARG_SRC];
    int needs_src = r.type == QXL_DRAW_OPAQUE || r.type == QXL_DRAW_COPY || r.type == QXL_DRAW_BLEND ||
                    r.type == QXL_DRAW_TRANSPARENT || r.type == QXL_DRAW_ALPHA_BLEND || r.type == QXL_DRAW_ROP3 ||
                    r.type == QXL_DRAW_COMPOSITE;
    if (needs_src) {
        if (src & QXSC_SRC_SURFACE) {
            u32 sid = src & 0xFFFF, w, h, stride, bpp;
            if (!qxl_surface_pixels(in->qxl, sid, &w, &h, &stride, &bpp)) return QXL_ERR_ARG;
            r.src_surface = (i32)sid;
        } else {
            if (src >= QXSC_MAX_IMAGES || !in->images[src].valid) return QXL_ERR_ARG;
            r.image = &in->images[src];
        }
    }
    if (r.type == QXL_DRAW_TEXT && text_len == 0) return QXL_ERR_ARG;
    return draw_submit(in->qxl, &r);
}

/* Self-contained deliberate faults; each returns the driver status of the submission. */
static int run_fault(struct Interp* in, u32 kind) {
    struct QxlDevice* d = in->qxl;
    static u32 fault_pixels[64 * 64];
    static struct GuestImage fault_image;
    for (u32 i = 0; i < 64 * 64; i++) fault_pixels[i] = 0x00FF00FFu;
    fault_image.valid = 1;
    fault_image.width = fault_image.height = 64;
    fault_image.format = SPICE_BITMAP_FMT_32BIT;
    fault_image.pixels = fault_pixels;
    struct DrawRequest r;
    memset(&r, 0, sizeof r);
    r.type = QXL_DRAW_COPY;
    r.w = r.h = 64;
    r.image = &fault_image;
    r.src_surface = -1;
    r.rop = 0x8;
    switch (kind) {
    case QXSC_FAULT_BAD_MEMSLOT: r.corruption = CORRUPT_IMAGE_BAD_SLOT; return draw_submit(d, &r);
    case QXSC_FAULT_CIRCULAR_CHUNKS: r.corruption = CORRUPT_IMAGE_CIRCULAR_CHUNKS; return draw_submit(d, &r);
    case QXSC_FAULT_STRIDE_TOO_SMALL: r.corruption = CORRUPT_IMAGE_SMALL_STRIDE; return draw_submit(d, &r);
    case QXSC_FAULT_BAD_SURFACE: {
        /* A surface command whose id is beyond the device's n_surfaces. */
        u32 off;
        int rid = qxl_alloc_command(d, 64, &off);
        if (rid < 0) return rid;
        volatile u8* c = d->ram + off;
        put32(c, 8, d->n_surfaces + 5);
        put8(c, 12, 0);
        put32(c, 13, 0);
        put32(c, 17, 32);
        put32(c, 21, 16);
        put32(c, 25, 16);
        put32(c, 29, 64);
        put64(c, 33, qxl_phys_surf(d, 0));
        return qxl_push_command(d, 0, off, 5);
    }
    case QXSC_FAULT_OVERSIZE_CURSOR: return cursor_set(d, 0, 0, 0, 0, 0, 10, 10, 1);
    case QXSC_FAULT_MEMSLOT_OUTSIDE_BAR: {
        /* Slot 3 spanning past the end of BAR0. */
        u64 start = d->pci.bar_base[0];
        put64(d->hdr, RAM_MEM_SLOT, start);
        put64(d->hdr, RAM_MEM_SLOT + 8, start + d->ram_size + 0x100000u);
        qxl_io(d, QXL_IO_MEMSLOT_ADD, 3);
        return QXL_OK;
    }
    case QXSC_FAULT_PRIMARY_BAD_STRIDE: {
        volatile u8* cs = d->hdr + RAM_CREATE_SURFACE;
        put32(cs, 8, d->width * 4 + 2); /* not a multiple of 4 */
        qxl_io(d, QXL_IO_CREATE_PRIMARY, 0);
        return QXL_OK;
    }
    case QXSC_FAULT_DOUBLE_ASYNC:
        /* Two async operations without waiting for the first. */
        qxl_io(d, QXL_IO_FLUSH_SURFACES_ASYNC, 0);
        qxl_io(d, QXL_IO_FLUSH_SURFACES_ASYNC, 0);
        return QXL_OK;
    case QXSC_FAULT_GUEST_EXCEPTION: __asm__ volatile("ud2"); return QXL_OK;
    case QXSC_FAULT_BBOX_OUTSIDE: {
        /* A 16x16 fill at the primary's bottom-right corner, half of it outside. */
        u32 w, h, stride, bpp;
        if (!qxl_surface_pixels(d, 0, &w, &h, &stride, &bpp) || w < 8 || h < 8) return QXL_ERR_ARG;
        r.type = QXL_DRAW_FILL;
        r.image = 0;
        r.x = (i32)w - 8;
        r.y = (i32)h - 8;
        r.w = r.h = 16;
        r.color = 0x00FF00FFu;
        return draw_submit(d, &r);
    }
    default: return QXL_ERR_ARG;
    }
}

static const char* irq_names(u32 mask, char* buf, u32 n) {
    static const char* const names[6] = {"display", "cursor", "io_cmd", "error", "client", "client_monitors"};
    u32 len = 0;
    buf[0] = 0;
    for (u32 i = 0; i < 6; i++)
        if (mask & (1u << i)) len += (u32)snprintf(buf + len, n - len, "%s%s", len ? "," : "", names[i]);
    if (!len) snprintf(buf, n, "none");
    return buf;
}

static void run_step(struct Interp* in, u32 op, const u32* a, const char* text, u32 text_len) {
    struct QxlDevice* d = in->qxl;
    int r = 0;
    char detail[128];
    switch (op) {
    case QXSC_OP_PRIMARY:
        r = qxl_create_primary(d, a[0], a[1], a[2], (i32)a[3]);
        if (r == 0) in->primary_w = a[0], in->primary_h = a[1], in->primary_depth = a[2];
        break;
    case QXSC_OP_IMAGE: r = generate_image(in, a, text, text_len); break;
    case QXSC_OP_SURFACE_CREATE: r = qxl_surface_create(d, a[0], a[1], a[2], (i32)a[3], a[4]); break;
    case QXSC_OP_SURFACE_DESTROY: r = qxl_surface_destroy(d, a[0]); break;
    case QXSC_OP_CURSOR_SET: r = cursor_set(d, a[0], a[1], a[2], a[3], a[4], (i32)a[5], (i32)a[6], 0); break;
    case QXSC_OP_CURSOR_MOVE: r = cursor_move(d, (i32)a[0], (i32)a[1]); break;
    case QXSC_OP_CURSOR_HIDE: r = cursor_hide(d); break;
    case QXSC_OP_UPDATE: r = qxl_update_area(d, a[0], (i32)a[1], (i32)a[2], (i32)a[3], (i32)a[4], (int)a[5]); break;
    case QXSC_OP_CHECK_PIXEL: check_pixel(in, a); return;
    case QXSC_OP_CHECK_RECT: check_rect(in, a); return;
    case QXSC_OP_CHECK_IMAGE: check_image(in, a); return;
    case QXSC_OP_CHECK_CRC: check_crc(in, a); return;
    case QXSC_OP_WAIT_IRQ:
        if (qxl_wait_irq(d, a[0], a[1] < MAX_WAIT_TICKS ? a[1] : MAX_WAIT_TICKS) != 0) {
            char names[64];
            snprintf(detail, sizeof detail, "no %s interrupt within %u ticks", irq_names(a[0], names, sizeof names), a[1]);
            result(in, in->name[0] ? in->name : "wait_irq", 0, detail);
        }
        return;
    case QXSC_OP_WAIT_RELEASES: {
        u32 t0 = ticks(), want = a[0];
        for (;;) {
            qxl_collect_releases(d);
            if (d->releases_total >= want) break;
            if (ticks() - t0 >= (a[1] < MAX_WAIT_TICKS ? a[1] : MAX_WAIT_TICKS)) {
                snprintf(detail, sizeof detail, "%u releases after %u ticks, wanted %u", d->releases_total, a[1], want);
                result(in, in->name[0] ? in->name : "wait_releases", 0, detail);
                return;
            }
            qxl_io(d, QXL_IO_FLUSH_RELEASE, 0);
            qxl_wait_irq(d, QXL_INTERRUPT_DISPLAY, 10);
        }
        return;
    }
    case QXSC_OP_WAIT_TICKS: {
        u32 t0 = ticks();
        while (ticks() - t0 < (a[0] < MAX_WAIT_TICKS ? a[0] : MAX_WAIT_TICKS)) sti_hlt();
        return;
    }
    case QXSC_OP_EXPECT_IRQ: {
        /* Interrupt bits reach int_pending synchronously but the line is raised later (QEMU
         * uses a bottom half), so "seen" includes bits still pending. A positive expectation
         * may wait up to 500 ticks; a negative one lets 10 ticks settle before looking. */
        char seen[80], want[80];
        u32 t0 = ticks(), observed = 0;
        for (;;) {
            observed = d->irq_seen | rd32(d->hdr + RAM_INT_PENDING);
            u32 elapsed = ticks() - t0;
            if (a[1] ? ((observed & a[0]) == a[0] || elapsed >= 500) : elapsed >= 10) break;
            sti_hlt();
        }
        u32 got = observed & a[0];
        int ok = a[1] ? got == a[0] : got == 0;
        snprintf(detail, sizeof detail, "seen %s, expected %s%s", irq_names(observed, seen, sizeof seen),
                 a[1] ? "" : "none of ", irq_names(a[0], want, sizeof want));
        result(in, in->name, ok, ok ? "" : detail);
        return;
    }
    case QXSC_OP_EXPECT_RELEASES: {
        qxl_collect_releases(d);
        int ok = d->releases_total >= a[0] && d->bad_release_ids == 0;
        snprintf(detail, sizeof detail, "releases=%u (want >= %u) bad_ids=%u outstanding=%u", d->releases_total, a[0],
                 d->bad_release_ids, qxl_outstanding(d));
        result(in, in->name, ok, ok ? "" : detail);
        return;
    }
    case QXSC_OP_CLEAR_IRQS: {
        /* Let interrupts already raised by the device land first, so they are not seen later. */
        u32 t0 = ticks();
        while (ticks() - t0 < 10) sti_hlt();
        d->irq_seen = 0;
        return;
    }
    case QXSC_OP_CHECKPOINT: printf("CHECKPOINT %s\n", in->name); return;
    case QXSC_OP_FAULT: r = run_fault(in, a[0]); break;
    case QXSC_OP_RESET:
        r = qxl_hw_init(d);
        if (r == 0 && in->primary_w) r = qxl_create_primary(d, in->primary_w, in->primary_h, in->primary_depth, 0);
        break;
    case QXSC_OP_MONITORS: r = qxl_monitors_config(d, a[0], a[1], a[2]); break;
    case QXSC_OP_NOTIFY_OOM: qxl_io(d, QXL_IO_NOTIFY_OOM, 0); return;
    case QXSC_OP_FLUSH_RELEASE: qxl_io(d, QXL_IO_FLUSH_RELEASE, 0); return;
    case QXSC_OP_FLUSH_SURFACES: r = qxl_io_async(d, QXL_IO_FLUSH_SURFACES_ASYNC, 0); break;
    case QXSC_OP_DESTROY_ALL:
        r = qxl_io_async(d, QXL_IO_DESTROY_ALL_SURFACES_ASYNC, 0);
        d->has_primary = 0;
        for (u32 i = 0; i < QXL_MAX_SURFACES; i++) d->surfaces[i].live = 0;
        break;
    case QXSC_OP_LOG: qxl_log(d, in->name); return;
    case QXSC_OP_POOL:
        d->ram_arena.limit = a[0] ? a[0] : d->ram_arena.end - d->ram_arena.start;
        return;
    case QXSC_OP_EXPECT_DEVICE: {
        int present = a[0] == 0 ? 1 : in->vdi->present;
        int ok = present == (int)a[1];
        snprintf(detail, sizeof detail, "%s is %s", a[0] == 0 ? "qxl" : "vdiport", present ? "present" : "absent");
        result(in, in->name, ok, detail);
        return;
    }
    case QXSC_OP_AGENT_CONNECT: r = vdi_connect(in->vdi); break;
    case QXSC_OP_AGENT_CAPS: r = vdi_announce_caps(in->vdi, a[0]); break;
    case QXSC_OP_AGENT_MONITORS: {
        u32 msg[2 + 5] = {a[0] ? 1u : 0u, 0, a[2], a[1], 32, 0, 0};
        r = vdi_send(in->vdi, VDP_CLIENT_PORT, VD_AGENT_MONITORS_CONFIG, msg, sizeof msg);
        break;
    }
    case QXSC_OP_AGENT_MOUSE: {
        u8 msg[13];
        memcpy(msg, a, 12);
        msg[12] = 0;
        r = vdi_send(in->vdi, VDP_SERVER_PORT, VD_AGENT_MOUSE_STATE, msg, sizeof msg);
        break;
    }
    case QXSC_OP_AGENT_CLIPBOARD_GRAB: {
        u32 types[1] = {a[0]};
        r = vdi_send(in->vdi, VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD_GRAB, types, sizeof types);
        break;
    }
    case QXSC_OP_AGENT_CLIPBOARD_DATA: {
        u8 msg[4 + QXSC_MAX_TEXT];
        memcpy(msg, a, 4);
        memcpy(msg + 4, text, text_len);
        r = vdi_send(in->vdi, VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD, msg, 4 + text_len);
        break;
    }
    case QXSC_OP_AGENT_EXPECT: {
        /* a[0]: counter index (messages, last type, clipboard requests, file bytes, file done,
         * protocol errors), polled for up to one second. */
        u32 t0 = ticks(), got = 0;
        do {
            vdi_poll(in->vdi);
            const u32 values[6] = {in->vdi->messages_received, in->vdi->last_type, in->vdi->clipboard_requests,
                                   in->vdi->file_xfer_bytes, in->vdi->file_xfer_done, in->vdi->protocol_errors};
            got = a[0] < 6 ? values[a[0]] : 0;
            if (got == a[1]) break;
            sti_hlt();
        } while (ticks() - t0 < TICK_HZ);
        snprintf(detail, sizeof detail, "got %u want %u", got, a[1]);
        result(in, in->name, got == a[1] && in->vdi->present, in->vdi->present ? detail : "no vdiport device");
        return;
    }
    default:
        if (op >= QXSC_OP_FILL && op <= QXSC_OP_COMPOSITE) {
            r = run_draw(in, op, a, text, text_len);
            break;
        }
        r = QXL_ERR_ARG;
        break;
    }
    if (r != 0) step_error(in, "step", r);
}

static u32 le32(const u8* p) { return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24); }
static u16 le16(const u8* p) { return (u16)(p[0] | (p[1] << 8)); }

/* Checks one EXPR step's postfix code (scenario_format.h) at loop depth `depth`. */
static int expr_valid(const u8* code, u32 len, u32 depth) {
    u32 stack = 0;
    for (u32 i = 0; i < len;) {
        u8 c = code[i++];
        if (c == 'k') {
            if (len - i < 4) return 0;
            i += 4;
            stack++;
        } else if (c == 'v') {
            if (i >= len || code[i] >= depth) return 0;
            i++;
            stack++;
        } else if (c == '+' || c == '-' || c == '*' || c == '/' || c == '%') {
            if (stack < 2) return 0;
            stack--;
        } else {
            return 0;
        }
        if (stack > QXSC_EXPR_STACK) return 0;
    }
    return stack == 1;
}

int scenario_validate(const u8* m, u32 size, const char** why) {
    if (size < QXSC_HEADER_SIZE) return *why = "module shorter than its header", -1;
    if (le32(m) != QXSC_MAGIC) return *why = "bad magic", -1;
    if (le16(m + 4) != QXSC_VERSION) return *why = "unsupported version", -1;
    u32 header = le16(m + 6), total = le32(m + 8), steps = le32(m + 12);
    if (header != QXSC_HEADER_SIZE || total > size || total < header || total > QXSC_MAX_MODULE_BYTES)
        return *why = "bad header or total size", -1;
    if (crc32_update(0, m + header, total - header) != le32(m + 20)) return *why = "body checksum mismatch", -1;
    u32 off = header, depth = 0, pending = 0, max_slot = 0;
    for (u32 i = 0; i < steps; i++) {
        if (total - off < QXSC_STEP_HEADER_SIZE) return *why = "step header past the end", -1;
        u32 op = le16(m + off), argc = le16(m + off + 2), text_len = le16(m + off + 4);
        if (qxsc_op_argc(op) < 0 || (u32)qxsc_op_argc(op) != argc) return *why = "unknown op or wrong argc", -1;
        if (text_len > QXSC_MAX_TEXT) return *why = "text too long", -1;
        u32 len = QXSC_STEP_HEADER_SIZE + argc * 4 + ((text_len + 3) & ~3u);
        if (len > total - off) return *why = "step past the end", -1;
        if (op == QXSC_OP_EXPR) {
            u32 slot = le32(m + off + 8);
            if (!expr_valid(m + off + 8 + argc * 4, text_len, depth)) return *why = "bad expression", -1;
            if (++pending > QXSC_EXPR_MAX_PER_STEP) return *why = "too many expressions for one step", -1;
            if (slot + 1 > max_slot) max_slot = slot + 1;
        } else {
            if (pending && (op == QXSC_OP_REPEAT || op == QXSC_OP_END || argc < max_slot))
                return *why = "expression without a matching step", -1;
            pending = 0, max_slot = 0;
            if (op == QXSC_OP_REPEAT && ++depth > QXSC_MAX_LOOP_DEPTH) return *why = "loops nested too deep", -1;
            if (op == QXSC_OP_END && depth-- == 0) return *why = "end without repeat", -1;
        }
        off += len;
    }
    if (pending) return *why = "expression without a matching step", -1;
    if (depth) return *why = "unclosed repeat", -1;
    if (off != total) return *why = "trailing bytes after the last step", -1;
    return 0;
}

struct Loop {
    u32 body_off, body_index; /* first step after the REPEAT */
    u32 count, counter;       /* count 0 = forever */
};

/* Floored division/modulo in 32 bits (no libgcc helpers in the guest). */
static int expr_eval(const u8* code, u32 len, const struct Loop* loops, u32 depth, i32* out) {
    i32 st[QXSC_EXPR_STACK];
    u32 sp = 0;
    for (u32 i = 0; i < len;) {
        u8 c = code[i++];
        if (c == 'k') {
            st[sp++] = (i32)le32(code + i);
            i += 4;
            continue;
        }
        if (c == 'v') {
            st[sp++] = (i32)loops[depth - 1 - code[i]].counter;
            i++;
            continue;
        }
        i32 b = st[--sp], a = st[--sp], r;
        switch (c) {
        case '+': r = (i32)((u32)a + (u32)b); break;
        case '-': r = (i32)((u32)a - (u32)b); break;
        case '*': r = (i32)((u32)a * (u32)b); break;
        default: {
            if (b == 0) return -1;
            i32 q, m;
            if (a == (i32)0x80000000u && b == -1) {
                q = a, m = 0; /* the one quotient that does not fit: wrap instead of #DE */
            } else {
                q = a / b, m = a % b;
                if (m != 0 && ((m < 0) != (b < 0))) q--, m += b;
            }
            r = c == '/' ? q : m;
        }
        }
        st[sp++] = r;
    }
    *out = st[0];
    return 0;
}

int scenario_run(const u8* m, struct QxlDevice* qxl, struct VdiPort* vdi, u8* heap, u32 heap_size) {
    static struct Interp in;
    static struct Loop loops[QXSC_MAX_LOOP_DEPTH];
    memset(&in, 0, sizeof in);
    in.qxl = qxl;
    in.vdi = vdi;
    in.image_heap = heap;
    in.image_heap_size = heap_size;
    u32 steps = le32(m + 12), off = QXSC_HEADER_SIZE, depth = 0;
    /* EXPR steps waiting for the step they patch: offsets into the module. */
    u32 pending[QXSC_EXPR_MAX_PER_STEP], npending = 0;
    for (u32 i = 0; i < steps;) {
        u32 op = le16(m + off), argc = le16(m + off + 2), text_len = le16(m + off + 4);
        u32 len = QXSC_STEP_HEADER_SIZE + argc * 4 + ((text_len + 3) & ~3u);
        u32 args[QXSC_DRAW_ARGC];
        for (u32 k = 0; k < argc; k++) args[k] = le32(m + off + 8 + 4 * k);
        in.step_index = i + 1;
        if (op == QXSC_OP_EXPR) {
            pending[npending++] = off;
        } else if (op == QXSC_OP_REPEAT) {
            loops[depth].body_off = off + len;
            loops[depth].body_index = i + 1;
            loops[depth].count = args[0];
            loops[depth].counter = 0;
            depth++;
        } else if (op == QXSC_OP_END) {
            struct Loop* l = &loops[depth - 1];
            l->counter++;
            if (l->count == 0 || l->counter < l->count) {
                off = l->body_off;
                i = l->body_index;
                continue;
            }
            depth--;
        } else {
            int ok = 1;
            for (u32 e = 0; e < npending && ok; e++) {
                const u8* x = m + pending[e];
                u32 slot = le32(x + 8);
                i32 lo = (i32)le32(x + 12), hi = (i32)le32(x + 16), v = 0;
                char name[32], detail[80];
                snprintf(name, sizeof name, "step%u", in.step_index);
                if (expr_eval(x + 8 + 3 * 4, le16(x + 4), loops, depth, &v) != 0) {
                    snprintf(detail, sizeof detail, "argument %u divides by zero", slot);
                    result(&in, name, 0, detail);
                    ok = 0;
                } else if (v < lo || v > hi) {
                    snprintf(detail, sizeof detail, "argument %u = %d outside [%d, %d]", slot, v, lo, hi);
                    result(&in, name, 0, detail);
                    ok = 0;
                } else {
                    args[slot] = (u32)v;
                }
            }
            npending = 0;
            if (ok) {
                const char* text = (const char*)(m + off + 8 + argc * 4);
                memcpy(in.name, text, text_len);
                in.name[text_len] = 0;
                in.text_len = text_len;
                run_step(&in, op, args, in.name, text_len);
            }
        }
        off += len;
        i++;
    }
    printf("SUMMARY checks=%u failed=%u\n", in.checks, in.failures);
    printf("STATS commands=%u releases=%u ring_full_waits=%u oom_notifies=%u irqs=%u async_timeouts=%u\n",
           qxl->commands_submitted, qxl->releases_total, qxl->ring_full_waits, qxl->oom_notifies, qxl->irq_count,
           qxl->async_timeouts);
    return in.failures ? -1 : 0;
}
