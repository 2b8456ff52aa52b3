// Owned, validated drawing commands: the one in-memory form of SPICE/QXL drawing that every
// part of qxlbox shares (the role spice-common's draw.h plays for SPICE).
//
// Theory of operation: the QXL model (hw/qxl) parses guest memory once into these objects;
// the server marshals them to the wire (SPICE 2.2 display messages), the client demarshals the
// wire back into them, and the canvas (protocol/canvas.h) renders them. Nothing here points
// into guest memory or into a network buffer: images, palettes, paths, glyphs and clip lists
// are owned (shared_ptr where a cache may keep them alive). Field names follow
// shared/spec/qxl-device.md §7 and shared/spec/spice-protocol.md §5.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace qxlbox::proto {

// QXLRect / SpiceRect: right and bottom are exclusive. Wire order is top, left, bottom, right.
struct Rect {
    std::int32_t top = 0;
    std::int32_t left = 0;
    std::int32_t bottom = 0;
    std::int32_t right = 0;
    std::int32_t width() const { return right - left; }
    std::int32_t height() const { return bottom - top; }
    bool empty() const { return right <= left || bottom <= top; }
    friend bool operator==(const Rect&, const Rect&) = default;
};

struct Point {
    std::int32_t x = 0;
    std::int32_t y = 0;
    friend bool operator==(const Point&, const Point&) = default;
};

struct Point16 {
    std::int16_t x = 0;
    std::int16_t y = 0;
    friend bool operator==(const Point16&, const Point16&) = default;
};

// 28.4 fixed point.
struct PointFix {
    std::int32_t x = 0;
    std::int32_t y = 0;
    friend bool operator==(const PointFix&, const PointFix&) = default;
};

enum class SurfaceFormat : std::uint32_t {
    Invalid = 0,
    A1 = 1,
    A8 = 8,
    RGB555 = 16,
    XRGB32 = 32,
    RGB565 = 80,
    ARGB32 = 96,
};
// Bits per pixel of a surface format, 0 for Invalid or unknown values.
unsigned surface_format_bpp(SurfaceFormat f);
bool surface_format_valid(std::uint32_t raw);

enum class BitmapFormat : std::uint8_t {
    Invalid = 0,
    Bit1LE = 1,
    Bit1BE = 2,
    Bit4LE = 3,
    Bit4BE = 4,
    Bit8 = 5,
    Bit16 = 6,  // x1r5g5b5
    Bit24 = 7,  // B,G,R
    Bit32 = 8,  // B,G,R,X
    RGBA = 9,   // B,G,R,A
    Bit8A = 10, // alpha only
};
unsigned bitmap_format_bpp(BitmapFormat f);
bool bitmap_format_needs_palette(BitmapFormat f);

// Bitmap flags as on the wire (SpiceBitmapFlags).
inline constexpr std::uint8_t kBitmapPalCacheMe = 1;
inline constexpr std::uint8_t kBitmapPalFromCache = 2;
inline constexpr std::uint8_t kBitmapTopDown = 4;

struct Palette {
    std::uint64_t unique = 0;
    std::vector<std::uint32_t> ents;  // 0x00RRGGBB
};

struct Bitmap {
    BitmapFormat format = BitmapFormat::Invalid;
    bool top_down = false;
    std::uint32_t width = 0;   // x
    std::uint32_t height = 0;  // y
    std::uint32_t stride = 0;
    std::shared_ptr<const Palette> palette;  // required for 1/4/8-bit formats
    std::vector<std::uint8_t> data;          // height * stride bytes, rows in storage order
};

enum class ImageType : std::uint8_t {
    Bitmap = 0,
    Quic = 1,
    LzPlt = 100,
    LzRgb = 101,
    GlzRgb = 102,
    FromCache = 103,
    Surface = 104,
    Jpeg = 105,
    FromCacheLossless = 106,
    ZlibGlzRgb = 107,
    JpegAlpha = 108,
    Lz4 = 109,
};

// Image descriptor flags.
inline constexpr std::uint8_t kImageCacheMe = 1;
inline constexpr std::uint8_t kImageHighBitsSet = 2;
inline constexpr std::uint8_t kImageCacheReplaceMe = 4;

// Compressed payload kept as bytes (QUIC from a guest, LZ/JPEG on the wire before decoding).
struct EncodedImage {
    std::vector<std::uint8_t> data;
    std::shared_ptr<const Palette> palette;  // LZ_PLT
    std::uint64_t palette_id = 0;            // LZ_PLT with PAL_FROM_CACHE
    std::uint8_t bitmap_flags = 0;           // LZ_PLT flags
};

struct SurfaceRef {
    std::uint32_t surface_id = 0;
};

struct Image {
    std::uint64_t id = 0;
    ImageType type = ImageType::Bitmap;
    std::uint8_t flags = 0;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    // Bitmap for BITMAP; SurfaceRef for SURFACE; EncodedImage for codecs; monostate for
    // FROM_CACHE (resolved by the receiver's cache).
    std::variant<std::monostate, Bitmap, SurfaceRef, EncodedImage> content;
};
using ImagePtr = std::shared_ptr<const Image>;

enum class BrushType : std::uint8_t { None = 0, Solid = 1, Pattern = 2 };
struct Brush {
    BrushType type = BrushType::None;
    std::uint32_t color = 0;  // SOLID, in the destination surface's pixel format
    ImagePtr pattern;         // PATTERN
    Point pos;                // PATTERN
};

inline constexpr std::uint8_t kMaskInvers = 1;
struct QMask {
    std::uint8_t flags = 0;
    Point pos;
    ImagePtr bitmap;  // null = no mask
};

enum class ClipType : std::uint8_t { None = 0, Rects = 1 };
struct Clip {
    ClipType type = ClipType::None;
    std::vector<Rect> rects;
};

// ROP descriptor bits (SpiceROPDescriptor).
namespace rop {
inline constexpr std::uint16_t kInversSrc = 0x1;
inline constexpr std::uint16_t kInversBrush = 0x2;
inline constexpr std::uint16_t kInversDest = 0x4;
inline constexpr std::uint16_t kOpPut = 0x8;
inline constexpr std::uint16_t kOpOr = 0x10;
inline constexpr std::uint16_t kOpAnd = 0x20;
inline constexpr std::uint16_t kOpXor = 0x40;
inline constexpr std::uint16_t kOpBlackness = 0x80;
inline constexpr std::uint16_t kOpWhiteness = 0x100;
inline constexpr std::uint16_t kOpInvers = 0x200;
inline constexpr std::uint16_t kInversRes = 0x400;
}  // namespace rop

enum class ScaleMode : std::uint8_t { Interpolate = 0, Nearest = 1 };

struct Fill {
    Brush brush;
    std::uint16_t rop_descriptor = rop::kOpPut;
    QMask mask;
};

struct Opaque {
    ImagePtr src_bitmap;
    Rect src_area;
    Brush brush;
    std::uint16_t rop_descriptor = rop::kOpPut;
    ScaleMode scale_mode = ScaleMode::Interpolate;
    QMask mask;
};

struct CopyParams {
    ImagePtr src_bitmap;
    Rect src_area;
    std::uint16_t rop_descriptor = rop::kOpPut;
    ScaleMode scale_mode = ScaleMode::Interpolate;
    QMask mask;
};
struct Copy : CopyParams {};
struct Blend : CopyParams {};

struct Blackness { QMask mask; };
struct Whiteness { QMask mask; };
struct Invers { QMask mask; };

struct Rop3 {
    ImagePtr src_bitmap;
    Rect src_area;
    Brush brush;
    std::uint8_t rop3 = 0;
    ScaleMode scale_mode = ScaleMode::Interpolate;
    QMask mask;
};

inline constexpr std::uint32_t kPathBegin = 1;
inline constexpr std::uint32_t kPathEnd = 2;
inline constexpr std::uint32_t kPathClose = 8;
inline constexpr std::uint32_t kPathBezier = 16;
struct PathSeg {
    std::uint32_t flags = 0;
    std::vector<PointFix> points;
};
struct Path {
    std::vector<PathSeg> segments;
};

inline constexpr std::uint8_t kLineStartWithGap = 4;
inline constexpr std::uint8_t kLineStyled = 8;
struct LineAttr {
    std::uint8_t flags = 0;
    std::uint8_t join_style = 0;
    std::uint8_t end_style = 0;
    std::int32_t width = 0;        // 28.4 (QXL only; the wire has no width)
    std::int32_t miter_limit = 0;  // 28.4 (QXL only)
    std::vector<std::int32_t> style;  // 28.4 segment lengths, present iff STYLED
};

struct Stroke {
    Path path;
    LineAttr attr;
    Brush brush;
    std::uint16_t fore_mode = rop::kOpPut;
    std::uint16_t back_mode = rop::kOpPut;
};

inline constexpr std::uint16_t kStringRasterA1 = 1;
inline constexpr std::uint16_t kStringRasterA4 = 2;
inline constexpr std::uint16_t kStringRasterA8 = 4;
inline constexpr std::uint16_t kStringRasterTopDown = 8;
struct Glyph {
    Point render_pos;
    Point glyph_origin;
    std::uint16_t width = 0;
    std::uint16_t height = 0;
    std::vector<std::uint8_t> data;  // height rows of ceil(width*bpp/8) bytes
};
struct GlyphString {
    std::uint16_t flags = 0;
    std::vector<Glyph> glyphs;
};

struct Text {
    GlyphString str;
    Rect back_area;
    Brush fore_brush;
    Brush back_brush;
    std::uint16_t fore_mode = rop::kOpPut;
    std::uint16_t back_mode = rop::kOpPut;
};

struct Transparent {
    ImagePtr src_bitmap;
    Rect src_area;
    std::uint32_t src_color = 0;
    std::uint32_t true_color = 0;
};

inline constexpr std::uint8_t kAlphaDestHasAlpha = 1;
inline constexpr std::uint8_t kAlphaSrcSurfaceHasAlpha = 2;
struct AlphaBlend {
    std::uint8_t alpha_flags = 0;
    std::uint8_t alpha = 255;
    ImagePtr src_bitmap;
    Rect src_area;
};

struct Transform {
    std::array<std::uint32_t, 6> t{};  // t00 t01 t02 t10 t11 t12, pixman 16.16
    friend bool operator==(const Transform&, const Transform&) = default;
};

// Composite flags (wire form; bits 19..21 are derived from the optional fields).
namespace composite {
inline constexpr std::uint32_t kOpMask = 0xff;
inline constexpr std::uint32_t kSrcFilterShift = 8;
inline constexpr std::uint32_t kMaskFilterShift = 11;
inline constexpr std::uint32_t kSrcRepeatShift = 14;
inline constexpr std::uint32_t kMaskRepeatShift = 16;
inline constexpr std::uint32_t kComponentAlpha = 1u << 18;
inline constexpr std::uint32_t kHasMask = 1u << 19;
inline constexpr std::uint32_t kHasSrcTransform = 1u << 20;
inline constexpr std::uint32_t kHasMaskTransform = 1u << 21;
inline constexpr std::uint32_t kSourceOpaque = 1u << 22;
inline constexpr std::uint32_t kMaskOpaque = 1u << 23;
inline constexpr std::uint32_t kDestOpaque = 1u << 24;
}  // namespace composite

struct Composite {
    std::uint32_t flags = 0;
    ImagePtr src_bitmap;
    ImagePtr mask_bitmap;  // optional
    std::optional<Transform> src_transform;
    std::optional<Transform> mask_transform;
    Point16 src_origin;
    Point16 mask_origin;
};

struct CopyBits {
    Point src_pos;
};

using DrawOp = std::variant<Fill, Opaque, Copy, Blend, Blackness, Whiteness, Invers, Rop3, Stroke, Text, Transparent,
                            AlphaBlend, Composite, CopyBits>;

// QXLEffectType
enum class Effect : std::uint8_t {
    Blend = 0,
    Opaque = 1,
    RevertOnDup = 2,
    BlacknessOnDup = 3,
    WhitenessOnDup = 4,
    NopOnDup = 5,
    Nop = 6,
    OpaqueBrush = 7,
};

// One drawing command on one surface (QXLDrawable / SpiceMsgDisplayBase + payload).
struct DrawCommand {
    std::uint32_t surface_id = 0;
    Rect bbox;
    Clip clip;
    Effect effect = Effect::Opaque;
    DrawOp op;
    // Surfaces this drawable reads (-1 = none), from QXLDrawable.surfaces_dest.
    std::array<std::int32_t, 3> surfaces_dest{-1, -1, -1};
    std::array<Rect, 3> surfaces_rects{};
    bool self_bitmap = false;
    Rect self_bitmap_area;
    std::uint32_t mm_time = 0;
};

// Surface life cycle.
inline constexpr std::uint32_t kSurfaceFlagPrimary = 1;
inline constexpr std::uint32_t kSurfaceKeepData = 1;  // QXL_SURF_FLAG_KEEP_DATA (guest side)
struct SurfaceCreate {
    std::uint32_t surface_id = 0;
    SurfaceFormat format = SurfaceFormat::XRGB32;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::int32_t stride = 0;   // guest stride; negative = bottom-up in guest memory
    std::uint32_t flags = 0;   // guest flags (KEEP_DATA)
    bool primary = false;
};
struct SurfaceDestroy {
    std::uint32_t surface_id = 0;
};

// Cursors (QXLCursor / SpiceCursor).
enum class CursorType : std::uint8_t { Alpha = 0, Mono = 1, Color4 = 2, Color8 = 3, Color16 = 4, Color24 = 5, Color32 = 6 };
struct CursorShape {
    std::uint64_t unique = 0;
    CursorType type = CursorType::Alpha;
    std::uint16_t width = 0;
    std::uint16_t height = 0;
    std::uint16_t hot_spot_x = 0;
    std::uint16_t hot_spot_y = 0;
    std::vector<std::uint8_t> data;
};
using CursorShapePtr = std::shared_ptr<const CursorShape>;

struct CursorSet {
    Point16 position;
    bool visible = true;
    CursorShapePtr shape;
};
struct CursorMove { Point16 position; };
struct CursorHide {};
struct CursorTrail {
    std::uint16_t length = 0;
    std::uint16_t frequency = 0;
};
using CursorOp = std::variant<CursorSet, CursorMove, CursorHide, CursorTrail>;

struct MonitorHead {
    std::uint32_t id = 0;
    std::uint32_t surface_id = 0;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t x = 0;
    std::uint32_t y = 0;
    std::uint32_t flags = 0;
    friend bool operator==(const MonitorHead&, const MonitorHead&) = default;
};
struct MonitorsConfig {
    std::uint16_t max_allowed = 0;
    std::vector<MonitorHead> heads;
};

}  // namespace qxlbox::proto
