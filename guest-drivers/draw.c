/* Draw, cursor and image upload helpers; see draw.h. */
#include "draw.h"

#define BLOCK_CLIP 192u
#define BLOCK_AUX 256u
#define QXL_EFFECT_BLEND 0
#define QXL_EFFECT_OPAQUE 1
#define SPICE_IMAGE_TYPE_BITMAP 0
#define SPICE_IMAGE_TYPE_SURFACE 104
#define QXL_BITMAP_TOP_DOWN 4
#define ROPD_OP_PUT 0x8

static void put_rect(volatile u8* p, u32 off, i32 x, i32 y, i32 w, i32 h) {
    put32(p, off, (u32)y);
    put32(p, off + 4, (u32)x);
    put32(p, off + 8, (u32)(y + h));
    put32(p, off + 12, (u32)(x + w));
}

static void put_chunk_header(volatile u8* p, u32 off, u32 data_size, u64 next) {
    put32(p, off, data_size);
    put64(p, off + 4, 0);
    put64(p, off + 12, next);
}

static void put_brush(volatile u8* p, u32 off, u32 color) {
    put32(p, off, 1); /* SOLID */
    put32(p, off + 4, color);
    for (u32 k = 8; k < 20; k++) put8(p, off + k, 0);
}

static void put_qmask_none(volatile u8* p, u32 off) {
    for (u32 k = 0; k < 17; k++) put8(p, off + k, 0);
}

u8 glyph_row(u8 c, u32 row) {
    /* Deterministic synthetic glyphs: a frame-free 7x7 pattern per character, blank for space. */
    if (c == ' ' || row == 7) return 0;
    u32 h = (u32)c * 2654435761u ^ (row * 0x9E3779B9u);
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return (u8)((h & 0xFE) | (row == 0 || row == 6 ? 0x7C : 0));
}

static u32 aux_size(const struct DrawRequest* r) {
    if (r->type == QXL_DRAW_STROKE) return 64;
    if (r->type == QXL_DRAW_TEXT) return 28 + r->text_len * (20 + 8);
    return 0;
}

/* Writes an image descriptor at block offset `off`; returns the bytes used. */
static u32 put_image(struct QxlDevice* d, u32 block, u32 off, const struct DrawRequest* r) {
    volatile u8* p = d->ram + block;
    static u32 unique;
    unique++;
    if (r->src_surface >= 0) {
        u32 w = 0, h = 0, stride, bpp;
        qxl_surface_pixels(d, (u32)r->src_surface, &w, &h, &stride, &bpp);
        put64(p, off, ((u64)unique << 32) | 3 /* DRIVER_DONT_CACHE */);
        put8(p, off + 8, SPICE_IMAGE_TYPE_SURFACE);
        put8(p, off + 9, 0);
        put32(p, off + 10, w);
        put32(p, off + 14, h);
        put32(p, off + 18, (u32)r->src_surface);
        return 64;
    }
    const struct GuestImage* img = r->image;
    u32 stride = img->width * 4;
    u32 bytes = stride * img->height;
    put64(p, off, ((u64)unique << 32) | 3);
    put8(p, off + 8, SPICE_IMAGE_TYPE_BITMAP);
    put8(p, off + 9, 0);
    put32(p, off + 10, img->width);
    put32(p, off + 14, img->height);
    put8(p, off + 18, (u8)img->format);
    put8(p, off + 19, QXL_BITMAP_TOP_DOWN);
    put32(p, off + 20, img->width);
    put32(p, off + 24, img->height);
    put32(p, off + 28, r->corruption == CORRUPT_IMAGE_SMALL_STRIDE ? stride - 4 : stride);
    put64(p, off + 32, 0); /* no palette */
    u32 chunk = off + 48;
    u64 chunk_phys = qxl_phys_main(d, block + chunk);
    put64(p, off + 40, chunk_phys);
    put_chunk_header(p, chunk, bytes, r->corruption == CORRUPT_IMAGE_CIRCULAR_CHUNKS ? chunk_phys : 0);
    volatile u32* dst = (volatile u32*)(p + chunk + 20);
    for (u32 i = 0; i < img->width * img->height; i++) dst[i] = img->pixels[i];
    return 48 + 20 + bytes;
}

static u32 image_size(const struct DrawRequest* r) {
    if (r->src_surface >= 0) return 64;
    if (r->image) return 48 + 20 + r->image->width * r->image->height * 4;
    return 0;
}

int draw_submit(struct QxlDevice* d, const struct DrawRequest* r) {
    u32 aux = aux_size(r);
    u32 image_off = (BLOCK_AUX + aux + 63) & ~63u;
    u32 total = image_off + image_size(r);
    u32 block;
    int rid = qxl_alloc_command(d, total, &block);
    if (rid < 0) return rid;
    volatile u8* p = d->ram + block;
    i32 bx = r->x, by = r->y, bw = r->w, bh = r->h;

    put32(p, 8, r->surface);
    int blend = r->type == QXL_DRAW_BLEND || r->type == QXL_DRAW_ALPHA_BLEND ||
                r->type == QXL_DRAW_TRANSPARENT || r->type == QXL_DRAW_COMPOSITE;
    put8(p, 12, blend ? QXL_EFFECT_BLEND : QXL_EFFECT_OPAQUE);
    put8(p, 13, (u8)r->type);
    put8(p, 14, 0);
    for (u32 k = 15; k < 31; k++) put8(p, k, 0);
    if (r->clip_w > 0 && r->clip_h > 0) {
        put32(p, 47, 1); /* RECTS */
        put64(p, 51, qxl_phys_main(d, block + BLOCK_CLIP));
        put32(p, BLOCK_CLIP, 1);
        put_chunk_header(p, BLOCK_CLIP + 4, 16, 0);
        put_rect(p, BLOCK_CLIP + 24, r->clip_x, r->clip_y, r->clip_w, r->clip_h);
    } else {
        put32(p, 47, 0);
        put64(p, 51, 0);
    }
    put32(p, 59, 0);
    for (u32 i = 0; i < 3; i++) {
        put32(p, 63 + 4 * i, 0xFFFFFFFFu);
        put_rect(p, 75 + 16 * i, 0, 0, 0, 0);
    }
    for (u32 k = 123; k < 191; k++) put8(p, k, 0);
    u32 u = 123;

    u64 src_phys = 0;
    if (r->image || r->src_surface >= 0) {
        put_image(d, block, image_off, r);
        src_phys = qxl_phys_main(d, block + image_off);
        if (r->corruption == CORRUPT_IMAGE_BAD_SLOT) src_phys = ((u64)6 << 56) | (block + image_off);
        if (r->src_surface >= 0) {
            put32(p, 63, (u32)r->src_surface);
            put_rect(p, 75, r->sx, r->sy, r->w, r->h);
        }
    }

    switch (r->type) {
    case QXL_DRAW_FILL:
        put_brush(p, u, r->color);
        put16(p, u + 20, (u16)r->rop);
        put_qmask_none(p, u + 22);
        break;
    case QXL_DRAW_OPAQUE:
        put64(p, u, src_phys);
        put_rect(p, u + 8, r->sx, r->sy, r->w, r->h);
        put_brush(p, u + 24, r->color);
        put16(p, u + 44, (u16)r->rop);
        put8(p, u + 46, 1);
        put_qmask_none(p, u + 47);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        put64(p, u, src_phys);
        put_rect(p, u + 8, r->sx, r->sy, r->w, r->h);
        put16(p, u + 24, (u16)r->rop);
        put8(p, u + 26, 1); /* NEAREST */
        put_qmask_none(p, u + 27);
        break;
    case QXL_COPY_BITS:
        put32(p, u, (u32)r->sx);
        put32(p, u + 4, (u32)r->sy);
        /* Native COPY_BITS reads the destination itself. */
        put32(p, 63, r->surface);
        put_rect(p, 75, r->sx, r->sy, r->w, r->h);
        break;
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS: put_qmask_none(p, u); break;
    case QXL_DRAW_ROP3:
        put64(p, u, src_phys);
        put_rect(p, u + 8, r->sx, r->sy, r->w, r->h);
        if (r->color2 == 0xFFFFFFFFu) {
            put_brush(p, u + 24, r->color);
        } else {
            for (u32 k = 0; k < 20; k++) put8(p, u + 24 + k, 0); /* brush NONE */
        }
        put8(p, u + 44, (u8)r->rop);
        put8(p, u + 45, 1);
        put_qmask_none(p, u + 46);
        break;
    case QXL_DRAW_TRANSPARENT:
        put64(p, u, src_phys);
        put_rect(p, u + 8, r->sx, r->sy, r->w, r->h);
        /* The server keys on true_color; src_color carries the same key in its original depth. */
        put32(p, u + 24, r->color & 0x00FFFFFFu);
        put32(p, u + 28, r->color & 0x00FFFFFFu);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        put16(p, u, (u16)r->rop);
        put8(p, u + 2, (u8)r->param);
        put64(p, u + 3, src_phys);
        put_rect(p, u + 11, r->sx, r->sy, r->w, r->h);
        break;
    case QXL_DRAW_COMPOSITE:
        put32(p, u, r->rop | (r->param << 8));
        put64(p, u + 4, src_phys);
        put64(p, u + 12, 0);
        put64(p, u + 20, 0);
        put64(p, u + 28, 0);
        put16(p, u + 36, (u16)r->sx);
        put16(p, u + 38, (u16)r->sy);
        put32(p, u + 40, 0);
        break;
    case QXL_DRAW_STROKE: {
        /* One straight segment from (x, y) to (sx, sy); width from param (pixels). */
        i32 x1 = r->x, y1 = r->y, x2 = r->sx, y2 = r->sy;
        i32 pad = (i32)(r->param ? r->param : 1);
        bx = (x1 < x2 ? x1 : x2) - pad;
        by = (y1 < y2 ? y1 : y2) - pad;
        bw = (x1 < x2 ? x2 - x1 : x1 - x2) + 2 * pad + 1;
        bh = (y1 < y2 ? y2 - y1 : y1 - y2) + 2 * pad + 1;
        {
            /* spice-server drops (without an ERROR) any drawable whose bbox leaves the target
             * surface, so a wide segment near an edge would vanish: keep the bbox inside it, as
             * the Linux driver does with its damage rectangle. */
            u32 sw, sh, stride, bpp;
            if (qxl_surface_pixels(d, r->surface, &sw, &sh, &stride, &bpp)) {
                i32 right = bx + bw, bottom = by + bh;
                if (bx < 0) bx = 0;
                if (by < 0) by = 0;
                if (right > (i32)sw) right = (i32)sw;
                if (bottom > (i32)sh) bottom = (i32)sh;
                bw = right > bx ? right - bx : 0;
                bh = bottom > by ? bottom - by : 0;
            }
        }
        u32 path = BLOCK_AUX;
        u32 seg_bytes = 8 + 2 * 8;
        put32(p, path, seg_bytes);
        put_chunk_header(p, path + 4, seg_bytes, 0);
        u32 s = path + 24;
        put32(p, s, 1 | 2); /* BEGIN | END */
        put32(p, s + 4, 2);
        put32(p, s + 8, (u32)(x1 << 4));
        put32(p, s + 12, (u32)(y1 << 4));
        put32(p, s + 16, (u32)(x2 << 4));
        put32(p, s + 20, (u32)(y2 << 4));
        put64(p, u, qxl_phys_main(d, block + path));
        put8(p, u + 8, 0);
        put8(p, u + 9, 0);
        put8(p, u + 10, 0);
        put8(p, u + 11, 0);
        put32(p, u + 12, r->param ? r->param << 4 : 0);
        put32(p, u + 16, 0);
        put64(p, u + 20, 0);
        put_brush(p, u + 28, r->color);
        put16(p, u + 48, (u16)(r->rop ? r->rop : ROPD_OP_PUT));
        put16(p, u + 50, 0);
        break;
    }
    case QXL_DRAW_TEXT: {
        u32 n = r->text_len;
        bw = (i32)(n * 8);
        bh = 8;
        u32 str = BLOCK_AUX;
        u32 glyph_bytes = 20 + 8;
        put32(p, str, n * glyph_bytes);
        put16(p, str + 4, (u16)n);
        put16(p, str + 6, 1 /* RASTER_A1 */);
        put_chunk_header(p, str + 8, n * glyph_bytes, 0);
        for (u32 i = 0; i < n; i++) {
            u32 g = str + 28 + i * glyph_bytes;
            put32(p, g, (u32)(r->x + (i32)(i * 8)));
            put32(p, g + 4, (u32)(r->y + 8));
            put32(p, g + 8, 0);
            put32(p, g + 12, (u32)-8);
            put16(p, g + 16, 8);
            put16(p, g + 18, 8);
            for (u32 row = 0; row < 8; row++) put8(p, g + 20 + row, glyph_row((u8)r->text[i], row));
        }
        put64(p, u, qxl_phys_main(d, block + str));
        put_rect(p, u + 8, r->x, r->y, bw, bh);
        put_brush(p, u + 24, r->color);
        if (r->color2 != 0xFFFFFFFFu) {
            put_brush(p, u + 44, r->color2);
            put16(p, u + 66, ROPD_OP_PUT);
        } else {
            put32(p, u + 44, 0); /* no background */
            put16(p, u + 66, 0);
        }
        put16(p, u + 64, ROPD_OP_PUT);
        break;
    }
    default: break;
    }
    put_rect(p, 31, bx, by, bw, bh);
    return qxl_push_command(d, 0, block, 1 /* QXL_CMD_DRAW */);
}

/* ---- cursor ---- */
static u32 cursor_pixel(u32 shape, u32 x, u32 y, u32 w, u32 h) {
    switch (shape) {
    case 0: /* arrow: filled triangle with a dark edge */
        if (x > y || y >= h) return 0;
        return (x == 0 || x == y || y == h - 1) ? 0xFF000000u : 0xFFFFFFFFu;
    case 1: /* box outline */
        return (x == 0 || y == 0 || x == w - 1 || y == h - 1) ? 0xFFFF0000u : 0x40000000u;
    default: /* cross */
        return (x == w / 2 || y == h / 2) ? 0xFF00FF00u : 0;
    }
}

int cursor_set(struct QxlDevice* d, u32 shape, u32 width, u32 height, u32 hot_x, u32 hot_y, i32 x, i32 y,
               int oversize) {
    u32 data_bytes = width * height * 4;
    if (!oversize && (width == 0 || height == 0 || width > 256 || height > 256)) return QXL_ERR_ARG;
    if (oversize) data_bytes = 64 * 64 * 4; /* the header claims far more than is there */
    u32 block;
    int rid = qxl_alloc_command(d, 256 + 42 + data_bytes, &block);
    if (rid < 0) return rid;
    volatile u8* p = d->ram + block;
    for (u32 k = 8; k < 150; k++) put8(p, k, 0);
    put8(p, 8, 0); /* SET */
    put16(p, 9, (u16)x);
    put16(p, 11, (u16)y);
    put8(p, 13, 1);
    put64(p, 14, qxl_phys_main(d, block + 256));
    volatile u8* c = p + 256;
    put64(c, 0, ++d->cursor_unique);
    put16(c, 8, 0); /* ALPHA */
    put16(c, 10, (u16)(oversize ? 0x8000 : width));
    put16(c, 12, (u16)(oversize ? 0x8000 : height));
    put16(c, 14, (u16)hot_x);
    put16(c, 16, (u16)hot_y);
    put32(c, 18, oversize ? 0x8000u * 0x8000u * 4u : data_bytes);
    put_chunk_header(c, 22, data_bytes, 0);
    volatile u32* px = (volatile u32*)(c + 42);
    if (oversize) {
        for (u32 i = 0; i < 64 * 64; i++) px[i] = 0xFF808080u;
    } else {
        for (u32 yy = 0; yy < height; yy++)
            for (u32 xx = 0; xx < width; xx++) px[yy * width + xx] = cursor_pixel(shape, xx, yy, width, height);
    }
    return qxl_push_command(d, 1, block, 3 /* QXL_CMD_CURSOR */);
}

static int cursor_simple(struct QxlDevice* d, u8 type, i32 x, i32 y) {
    u32 block;
    int rid = qxl_alloc_command(d, 160, &block);
    if (rid < 0) return rid;
    volatile u8* p = d->ram + block;
    for (u32 k = 8; k < 150; k++) put8(p, k, 0);
    put8(p, 8, type);
    put16(p, 9, (u16)x);
    put16(p, 11, (u16)y);
    return qxl_push_command(d, 1, block, 3);
}
int cursor_move(struct QxlDevice* d, i32 x, i32 y) { return cursor_simple(d, 1, x, y); }
int cursor_hide(struct QxlDevice* d) { return cursor_simple(d, 2, 0, 0); }
