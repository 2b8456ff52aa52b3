// The SPICE LZ image format (LZ_RGB and LZ_PLT images, and the alpha plane of JPEG_ALPHA;
// spec §9), encoder and decoder.
//
// Theory of operation: a 28-byte big-endian header (magic "  ZL", version 1.1, LzImageType,
// width, height, stride, top_down) is followed by one LZ77 stream over "units": a pixel for
// RGB16/24/32 (RGB32 sends only B,G,R), a byte of packed rows for the palette types, an alpha
// byte for A8 and XXXA; RGBA is an RGB32 stream followed by an alpha stream. Each item opens
// with a control byte: below 32 it is a literal run of ctrl+1 units; otherwise a back-reference
// whose length (biased by 1, 2 or 3 units by type) and distance (13 bits, or 16 more bits in
// the far form) follow. Copies may overlap, which is how runs are coded.
//
// The encoder finds back-references with a hash chain over the last 73,727 units (the largest
// distance the format can express), so repetitive images compress. The decoder treats the
// input as hostile: every read is bounds-checked, references may not reach before the image or
// past its end, the stream must end exactly at the last unit, and nothing is allocated before
// the header's size is checked against the input length and an absolute limit.
#pragma once

#include <cstdint>
#include <memory>

#include "protocol/draw.h"
#include "protocol/wire/bytes.h"
#include "protocol/wire/result.h"

namespace qxlbox::proto::codec {

using wire::ByteView;
using wire::Bytes;
using wire::Result;

enum class LzImageType : std::uint32_t {
    Invalid = 0,
    Plt1Le = 1,
    Plt1Be = 2,
    Plt4Le = 3,
    Plt4Be = 4,
    Plt8 = 5,
    Rgb16 = 6,
    Rgb24 = 7,
    Rgb32 = 8,
    Rgba = 9,
    Xxxa = 10,
    A8 = 11,
};

inline constexpr std::uint32_t kLzMagic = 0x20205A4C;
inline constexpr std::uint32_t kLzVersion = 0x00010001;
inline constexpr std::size_t kLzHeaderBytes = 28;
// Largest image the decoder allocates for (a 8192x4096 RGBA image is 128 MiB).
inline constexpr std::uint64_t kLzMaxPixels = 32ull * 1024 * 1024;

struct LzHeader {
    LzImageType type = LzImageType::Invalid;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t stride = 0;
    bool top_down = true;
};

Result<LzHeader> lz_parse_header(ByteView data);

// Bytes per pixel of the encoder's input and the decoder's output rows (0 for palette types,
// which are packed: see lz_row_bytes).
unsigned lz_pixel_bytes(LzImageType type);
// Bytes of one row as the format stores it: packed for palette types, width*pixel otherwise.
std::uint64_t lz_row_bytes(LzImageType type, std::uint32_t width);

// Encodes `height` rows starting `src_stride` bytes apart. Row layout per type: RGB32, RGBA
// and XXXA take 4-byte B,G,R,A pixels (RGB32 ignores the 4th byte, XXXA uses only it); RGB24
// B,G,R; RGB16 little-endian x1r5g5b5; palette types packed indices; A8 one byte. `top_down`
// is recorded in the header; the rows are encoded in the order given.
Result<Bytes> lz_encode(LzImageType type, std::uint32_t width, std::uint32_t height, bool top_down, ByteView pixels,
                        std::uint32_t src_stride);

struct LzImage {
    LzHeader header;
    std::uint32_t stride = 0;  // of `pixels`: lz_row_bytes (palette: the header's stride)
    Bytes pixels;              // same layout as lz_encode's input; RGB32 pad bytes are 0
};
Result<LzImage> lz_decode(ByteView data);

// Bitmap conveniences for the server and client: the LzImageType for a bitmap format (Invalid
// if LZ cannot carry it), and decoding straight into an owned Bitmap (palette types get
// `palette`, which LZ_PLT carries outside the LZ stream).
LzImageType lz_type_for(BitmapFormat format);
Result<Bytes> lz_encode_bitmap(const Bitmap& bitmap);
Result<Bitmap> lz_decode_bitmap(ByteView data, std::shared_ptr<const Palette> palette);

}  // namespace qxlbox::proto::codec
