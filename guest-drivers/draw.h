/* Draw commands built the way a driver builds them: one BAR0 block per command holding the
 * QXLDrawable, its clip rects, and any image, path or string it references
 * (shared/spec/qxl-device.md §7). Generated source images live in guest RAM and are copied
 * into the command block, as Linux copies framebuffer damage. */
#ifndef GUEST_DRAW_H
#define GUEST_DRAW_H

#include "qxl.h"

#define QXL_DRAW_FILL 1
#define QXL_DRAW_OPAQUE 2
#define QXL_DRAW_COPY 3
#define QXL_COPY_BITS 4
#define QXL_DRAW_BLEND 5
#define QXL_DRAW_BLACKNESS 6
#define QXL_DRAW_WHITENESS 7
#define QXL_DRAW_INVERS 8
#define QXL_DRAW_ROP3 9
#define QXL_DRAW_STROKE 10
#define QXL_DRAW_TEXT 11
#define QXL_DRAW_TRANSPARENT 12
#define QXL_DRAW_ALPHA_BLEND 13
#define QXL_DRAW_COMPOSITE 14

#define SPICE_BITMAP_FMT_32BIT 8
#define SPICE_BITMAP_FMT_RGBA 9

struct GuestImage {
    u8 valid;
    u32 width, height, format;
    u32* pixels;
};

/* Deliberate corruptions a draw can carry (for the fault scenarios). */
enum DrawCorruption {
    CORRUPT_NONE = 0,
    CORRUPT_IMAGE_BAD_SLOT,
    CORRUPT_IMAGE_CIRCULAR_CHUNKS,
    CORRUPT_IMAGE_SMALL_STRIDE,
};

struct DrawRequest {
    u32 type;
    u32 surface;
    i32 x, y, w, h;
    const struct GuestImage* image; /* NULL: none */
    i32 src_surface;                /* -1: none */
    i32 sx, sy;
    u32 color, color2, rop, param;
    i32 clip_x, clip_y, clip_w, clip_h;
    const char* text;
    u32 text_len;
    enum DrawCorruption corruption;
};

int draw_submit(struct QxlDevice* d, const struct DrawRequest* r);
/* 8x8 synthetic glyph row for character c (bit 7 = leftmost pixel). */
u8 glyph_row(u8 c, u32 row);

/* Cursor shapes and deliberate cursor faults. */
int cursor_set(struct QxlDevice* d, u32 shape, u32 width, u32 height, u32 hot_x, u32 hot_y, i32 x, i32 y,
               int oversize);
int cursor_move(struct QxlDevice* d, i32 x, i32 y);
int cursor_hide(struct QxlDevice* d);

#endif
