// SPICE LZ image encoder for RGB bitmaps (spice-protocol.md §9, types LZ_RGB32 and LZ_RGB24).
//
// Theory of operation: the stream is a 28-byte big-endian header followed by items; an item
// is a literal run (control < 32, up to 32 pixels of B,G,R) or a back-reference (length in
// the top 3 bits of the control byte plus extension bytes, distance in pixels). This encoder
// looks for two kinds of matches only: a run of the previous pixel (distance 1) and a copy of
// the row above (distance = width), which is what UI images are mostly made of, and never
// uses the far-distance form. It is the server's local encoder until protocol/codec offers the
// shared one; the output is plain SPICE LZ either way.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/draw.h"

namespace qxlbox::server {

// LZ bytes (header included) of a Bit32/Bit24 bitmap; nullopt for other formats or when the
// bitmap's data is shorter than its declared size.
std::optional<std::vector<std::uint8_t>> lz_encode_rgb(const proto::Bitmap& bitmap);

}  // namespace qxlbox::server
