/* Reference QXL driver (PCI 1b36:0100), following the Linux qxl DRM driver's sequence
 * (shared/spec/qxl-device.md §10): probe, BARs from config space, ROM and RAM magic checks,
 * reset, interrupt mask, memory slots (1 = BAR0 up to the RAM header, 2 = the surface BAR),
 * primary surface, command and cursor rings with notify_on_prod/notify_on_cons, a resource
 * allocator in BAR0 whose blocks come back through the release ring, UPDATE_AREA, off-screen
 * surfaces, cursor, monitors config and the async ports. Device errors (ERROR interrupt) are
 * recorded, not fatal; the caller decides (scenario expectations). */
#ifndef GUEST_QXL_H
#define GUEST_QXL_H

#include "runtime.h"

#define QXL_INTERRUPT_DISPLAY 0x01u
#define QXL_INTERRUPT_CURSOR 0x02u
#define QXL_INTERRUPT_IO_CMD 0x04u
#define QXL_INTERRUPT_ERROR 0x08u
#define QXL_INTERRUPT_CLIENT 0x10u
#define QXL_INTERRUPT_CLIENT_MONITORS_CONFIG 0x20u

/* QXL_IO_*: the device model uses the same header. */
#include "hw/qxl/qxl_io_ports.h"

/* A first-fit allocator over a byte range of a BAR (offsets relative to the BAR). */
#define ARENA_MAX_EXTENTS 128
struct Arena {
    u32 limit; /* bytes usable from `start`, may be lowered to create pressure */
    u32 start, end;
    u32 n;
    struct {
        u32 off, size;
    } free_list[ARENA_MAX_EXTENTS];
};

#define QXL_MAX_RELEASES 256
#define QXL_MAX_SURFACES 16
struct QxlRelease {
    u8 in_use;
    u8 n_allocs;
    u32 body_off; /* BAR0 offset of the command body (starts with QXLReleaseInfo) */
    struct {
        struct Arena* arena;
        u32 off, size;
    } allocs[2];
};

struct QxlSurfaceInfo {
    u8 live;
    u32 width, height, stride, format;
    u8 bottom_up;
    u32 vram_off, vram_size;
    u32 create_release; /* release id of the CREATE command */
};

struct QxlDevice {
    struct PciFunction pci;
    volatile u8* ram; /* BAR0 */
    u32 ram_size;
    volatile u8* vram; /* BAR1 */
    u32 vram_size;
    volatile u8* rom; /* BAR2 */
    volatile u8* hdr; /* QXLRam inside BAR0 */
    u16 io;
    u32 ram_header_offset, pages_offset, surface0_area_size, n_surfaces;
    u8 slot_main, slot_surf;
    u64 main_high, surf_high;

    /* Interrupt bookkeeping (written by the handler). */
    volatile u32 irq_seen;   /* bits seen since the last clear */
    volatile u32 irq_count;
    volatile u32 io_cmd_count;
    volatile u32 display_count;
    volatile u32 cursor_count;
    volatile u32 error_count;
    volatile u8 in_error; /* ERROR seen; the device honours only RESET until qxl_hw_init() */

    u32 int_mask;
    u32 releases_total;
    u32 bad_release_ids;
    u32 commands_submitted;
    u32 async_timeouts;
    u32 ring_full_waits; /* pushes that found the ring full and armed notify_on_cons */
    u32 oom_notifies;    /* NOTIFY_OOM writes while waiting for memory */

    struct Arena ram_arena, vram_arena;
    struct QxlRelease releases[QXL_MAX_RELEASES];
    u32 next_release_hint;

    u8 has_primary;
    u32 width, height, depth, stride, format;
    u8 bottom_up;
    struct QxlSurfaceInfo surfaces[QXL_MAX_SURFACES];
    u64 cursor_unique;
    u32 monitors_off;
};

/* Result codes. */
enum { QXL_OK = 0, QXL_ERR_NO_DEVICE = -1, QXL_ERR_BAD_DEVICE = -2, QXL_ERR_TIMEOUT = -3, QXL_ERR_NO_MEMORY = -4, QXL_ERR_ARG = -5 };

int qxl_probe(struct QxlDevice* d);
int qxl_hw_init(struct QxlDevice* d); /* reset, int_mask, memslots, monitors buffer */
int qxl_create_primary(struct QxlDevice* d, u32 width, u32 height, u32 depth, i32 stride);
int qxl_destroy_primary(struct QxlDevice* d);

/* Pointer into BAR0/1 as the device sees it. */
u64 qxl_phys_main(const struct QxlDevice* d, u32 bar0_off);
u64 qxl_phys_surf(const struct QxlDevice* d, u32 bar1_off);

/* Allocates `size` bytes of BAR0 for one command (reclaiming releases, then NOTIFY_OOM when
 * needed) and returns a release id (>0) or a negative error; *off receives the offset. */
int qxl_alloc_command(struct QxlDevice* d, u32 size, u32* off);
void qxl_release_attach(struct QxlDevice* d, int release_id, struct Arena* a, u32 off, u32 size);
int qxl_push_command(struct QxlDevice* d, int cursor_ring, u32 body_off, u32 type);
void qxl_collect_releases(struct QxlDevice* d);
u32 qxl_outstanding(const struct QxlDevice* d);

int qxl_update_area(struct QxlDevice* d, u32 surface, i32 x, i32 y, i32 w, i32 h, int async);
int qxl_io_async(struct QxlDevice* d, u8 port, u8 val);
void qxl_io(struct QxlDevice* d, u8 port, u8 val);
/* Waits until any of `mask` is seen (since the last clear) or `timeout_ticks` pass. */
int qxl_wait_irq(struct QxlDevice* d, u32 mask, u32 timeout_ticks);

int qxl_surface_create(struct QxlDevice* d, u32 id, u32 width, u32 height, i32 stride, u32 format);
int qxl_surface_destroy(struct QxlDevice* d, u32 id);
/* Reads the client monitors config from the ROM (CRC-checked, §9); *count = heads. */
int qxl_client_monitors(struct QxlDevice* d, u32* count);
int qxl_monitors_config(struct QxlDevice* d, u32 count, u32 width, u32 height);
void qxl_log(struct QxlDevice* d, const char* text);

/* Pixel memory of a surface (0 = primary) as the guest sees it, or NULL. */
volatile u8* qxl_surface_pixels(struct QxlDevice* d, u32 surface, u32* width, u32* height, u32* stride, u32* bpp);
/* Start of row y of a surface, honouring bottom-up (negative stride) layouts; NULL if outside. */
volatile u8* qxl_surface_row(struct QxlDevice* d, u32 surface, u32 y);

void arena_init(struct Arena* a, u32 start, u32 end);
int arena_alloc(struct Arena* a, u32 size, u32 align, u32* off);
void arena_free(struct Arena* a, u32 off, u32 size);

static inline void put8(volatile u8* p, u32 off, u8 v) { p[off] = v; }
static inline void put16(volatile u8* p, u32 off, u16 v) { p[off] = (u8)v; p[off + 1] = (u8)(v >> 8); }
static inline void put32(volatile u8* p, u32 off, u32 v) {
    put16(p, off, (u16)v);
    put16(p, off + 2, (u16)(v >> 16));
}
static inline void put64(volatile u8* p, u32 off, u64 v) {
    put32(p, off, (u32)v);
    put32(p, off + 4, (u32)(v >> 32));
}
static inline u32 get32(volatile const u8* p, u32 off) {
    return (u32)p[off] | ((u32)p[off + 1] << 8) | ((u32)p[off + 2] << 16) | ((u32)p[off + 3] << 24);
}
static inline u64 get64(volatile const u8* p, u32 off) { return get32(p, off) | ((u64)get32(p, off + 4) << 32); }

/* QXLRam field offsets (§3). */
#define QXL_RAM_MAGIC 0x41525851u
#define QXL_ROM_MAGIC 0x4F525851u
#define RAM_INT_PENDING 4
#define RAM_INT_MASK 8
#define RAM_LOG_BUF 12
#define RAM_CMD_RING 4108
#define RAM_CURSOR_RING 4640
#define RAM_RELEASE_RING 5172
#define RAM_UPDATE_AREA 5256
#define RAM_UPDATE_SURFACE 5272
#define RAM_MEM_SLOT 5276
#define RAM_CREATE_SURFACE 5292
#define RAM_MONITORS_CONFIG 5340
#define RING_NUM_ITEMS 0
#define RING_PROD 4
#define RING_NOTIFY_ON_PROD 8
#define RING_CONS 12
#define RING_NOTIFY_ON_CONS 16
#define RING_ITEMS 20

#endif
