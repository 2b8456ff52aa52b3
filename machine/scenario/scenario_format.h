/* Binary scenario module format (version 1), shared by the host compiler (machine/scenario/)
 * and the guest interpreter (guest-drivers/scenario.c). Plain C constants only, so that the
 * freestanding guest can include it; see docs/scenarios.md for the full description.
 *
 * Layout (all fields little-endian):
 *   header (QXSC_HEADER_SIZE bytes):
 *     u32 magic        QXSC_MAGIC ("QXSC")
 *     u16 version      QXSC_VERSION
 *     u16 header_size  QXSC_HEADER_SIZE
 *     u32 total_size   size of the whole module in bytes
 *     u32 step_count   number of steps that follow
 *     u32 flags        QXSC_FLAG_*
 *     u32 body_crc     CRC-32 (reflected, poly 0xEDB88320, init/xorout 0xFFFFFFFF) of the
 *                      bytes [header_size, total_size)
 *   steps, back to back:
 *     u16 op           QXSC_OP_*
 *     u16 argc         number of u32 arguments; must equal qxsc_op_argc(op)
 *     u16 text_len     bytes of text (name or string), at most QXSC_MAX_TEXT
 *     u16 reserved     0
 *     u32 args[argc]
 *     u8  text[text_len], zero-padded to a multiple of 4
 */
#ifndef QXLBOX_SCENARIO_FORMAT_H
#define QXLBOX_SCENARIO_FORMAT_H

#define QXSC_MAGIC 0x43535851u /* "QXSC" */
#define QXSC_VERSION 1u
#define QXSC_HEADER_SIZE 24u
#define QXSC_STEP_HEADER_SIZE 8u
#define QXSC_MAX_TEXT 255u
#define QXSC_MAX_MODULE_BYTES (1u << 20)

#define QXSC_FLAG_NEEDS_VDIPORT 0x1u /* scenario drives the qxlbox-only VDIPort device */
#define QXSC_FLAG_QXLBOX_ONLY 0x2u   /* scenario is known to abort or hang the QEMU reference */
#define QXSC_FLAG_QEMU_ONLY 0x4u     /* scenario checks a fact of the QEMU machine (e.g. no VDIPort) */

/* Every draw step shares one argument layout (QXSC_DRAW_ARGC words). */
#define QXSC_DRAW_ARG_SURFACE 0
#define QXSC_DRAW_ARG_X 1
#define QXSC_DRAW_ARG_Y 2
#define QXSC_DRAW_ARG_W 3
#define QXSC_DRAW_ARG_H 4
#define QXSC_DRAW_ARG_SRC 5 /* image slot, or QXSC_SRC_SURFACE | surface id */
#define QXSC_DRAW_ARG_SX 6
#define QXSC_DRAW_ARG_SY 7
#define QXSC_DRAW_ARG_COLOR 8
#define QXSC_DRAW_ARG_COLOR2 9
#define QXSC_DRAW_ARG_ROP 10
#define QXSC_DRAW_ARG_PARAM 11
#define QXSC_DRAW_ARG_CLIP_X 12
#define QXSC_DRAW_ARG_CLIP_Y 13
#define QXSC_DRAW_ARG_CLIP_W 14 /* 0 = no clip */
#define QXSC_DRAW_ARG_CLIP_H 15
#define QXSC_DRAW_ARGC 16
#define QXSC_SRC_SURFACE 0x10000u
#define QXSC_SRC_NONE 0xFFFFFFFFu

#define QXSC_MAX_IMAGES 16
#define QXSC_MAX_IMAGE_PIXELS (512u * 512u)

/* Image generators (QXSC_OP_IMAGE arg 1). */
#define QXSC_IMAGE_SOLID 0
#define QXSC_IMAGE_GRADIENT 1
#define QXSC_IMAGE_CHECKER 2
#define QXSC_IMAGE_NOISE 3
#define QXSC_IMAGE_TEXT 4

/* Cursor shapes (QXSC_OP_CURSOR_SET arg 0). */
#define QXSC_CURSOR_ARROW 0
#define QXSC_CURSOR_BOX 1
#define QXSC_CURSOR_CROSS 2

/* Deliberate faults (QXSC_OP_FAULT arg 0). */
#define QXSC_FAULT_BAD_MEMSLOT 0
#define QXSC_FAULT_BAD_SURFACE 1
#define QXSC_FAULT_CIRCULAR_CHUNKS 2
#define QXSC_FAULT_STRIDE_TOO_SMALL 3
#define QXSC_FAULT_OVERSIZE_CURSOR 4
#define QXSC_FAULT_MEMSLOT_OUTSIDE_BAR 5
#define QXSC_FAULT_PRIMARY_BAD_STRIDE 6
#define QXSC_FAULT_DOUBLE_ASYNC 7
#define QXSC_FAULT_GUEST_EXCEPTION 8 /* the guest itself executes UD2 (tests its fault handler) */
#define QXSC_FAULT_BBOX_OUTSIDE 9    /* FILL whose bbox runs 8 pixels past the primary's corner */

/* Loops and per-iteration arguments.
 *   REPEAT  args [count]: runs the steps up to the matching END count times (0 = forever).
 *   END     closes the innermost REPEAT.
 *   EXPR    args [slot, min, max], text = expression code: before the next (non-EXPR) step
 *           runs, its argument `slot` is replaced by the expression's value, which must lie
 *           in [min, max] (both read as signed 32-bit) or the step fails.
 * Expression code is postfix, evaluated with 32-bit wrapping signed arithmetic on a stack of
 * at most QXSC_EXPR_STACK values, and must leave exactly one value:
 *   'k' + i32 (4 bytes LE)  push a constant
 *   'v' + u8 level          push a loop counter (0 = innermost enclosing REPEAT, counting
 *                           from 0 at its first iteration)
 *   '+' '-' '*'             binary arithmetic
 *   '/' '%'                 floored division and modulo (the result of '%' has the sign of
 *                           the divisor); a zero divisor fails the step */
#define QXSC_MAX_LOOP_DEPTH 4
#define QXSC_EXPR_STACK 8
#define QXSC_EXPR_MAX_PER_STEP 16

/* Operation codes and their argument counts. */
#define QXSC_OPS(X)                 \
    X(PRIMARY, 1, 4)                \
    X(IMAGE, 2, 8)                  \
    X(FILL, 10, QXSC_DRAW_ARGC)     \
    X(OPAQUE, 11, QXSC_DRAW_ARGC)   \
    X(COPY, 12, QXSC_DRAW_ARGC)     \
    X(BLEND, 13, QXSC_DRAW_ARGC)    \
    X(TRANSPARENT, 14, QXSC_DRAW_ARGC) \
    X(ALPHA, 15, QXSC_DRAW_ARGC)    \
    X(ROP3, 16, QXSC_DRAW_ARGC)     \
    X(BLACKNESS, 17, QXSC_DRAW_ARGC) \
    X(WHITENESS, 18, QXSC_DRAW_ARGC) \
    X(INVERS, 19, QXSC_DRAW_ARGC)   \
    X(COPYBITS, 20, QXSC_DRAW_ARGC) \
    X(STROKE, 21, QXSC_DRAW_ARGC)   \
    X(TEXT, 22, QXSC_DRAW_ARGC)     \
    X(COMPOSITE, 23, QXSC_DRAW_ARGC) \
    X(SURFACE_CREATE, 30, 5)        \
    X(SURFACE_DESTROY, 31, 1)       \
    X(CURSOR_SET, 40, 7)            \
    X(CURSOR_MOVE, 41, 2)           \
    X(CURSOR_HIDE, 42, 0)           \
    X(UPDATE, 50, 6)                \
    X(CHECK_PIXEL, 60, 4)           \
    X(CHECK_RECT, 61, 6)            \
    X(CHECK_IMAGE, 62, 8)           \
    X(CHECK_CRC, 63, 7)             \
    X(WAIT_IRQ, 70, 2)              \
    X(WAIT_RELEASES, 71, 2)         \
    X(WAIT_TICKS, 72, 1)            \
    X(EXPECT_IRQ, 80, 2)            \
    X(EXPECT_RELEASES, 81, 1)       \
    X(CLEAR_IRQS, 82, 0)            \
    X(CHECKPOINT, 90, 0)            \
    X(FAULT, 100, 1)                \
    X(RESET, 101, 0)                \
    X(MONITORS, 110, 3)             \
    X(NOTIFY_OOM, 111, 0)           \
    X(FLUSH_RELEASE, 112, 0)        \
    X(FLUSH_SURFACES, 113, 0)       \
    X(DESTROY_ALL, 114, 0)          \
    X(LOG, 115, 0)                  \
    X(POOL, 116, 1)                 \
    X(EXPECT_DEVICE, 117, 2)        \
    X(AGENT_CONNECT, 120, 0)        \
    X(AGENT_CAPS, 121, 1)           \
    X(AGENT_MONITORS, 122, 3)       \
    X(AGENT_MOUSE, 123, 3)          \
    X(AGENT_CLIPBOARD_GRAB, 124, 1) \
    X(AGENT_CLIPBOARD_DATA, 125, 1) \
    X(AGENT_EXPECT, 126, 2)         \
    X(REPEAT, 130, 1)               \
    X(END, 131, 0)                  \
    X(EXPR, 132, 3)

#define QXSC_OP_ENUM(name, code, argc) QXSC_OP_##name = code,
enum QxscOp { QXSC_OPS(QXSC_OP_ENUM) QXSC_OP_END_ };
#undef QXSC_OP_ENUM

/* Argument count of `op`, or -1 for an unknown op. */
static inline int qxsc_op_argc(unsigned op) {
#define QXSC_OP_CASE(name, code, argc) \
    case code: return argc;
    switch (op) {
        QXSC_OPS(QXSC_OP_CASE)
    default: return -1;
    }
#undef QXSC_OP_CASE
}

#endif
