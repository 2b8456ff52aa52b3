// Demarshalling of display-channel draw messages (spice-protocol.md §5) into the owned draw
// types of protocol/draw.h. Every pointer is an offset into the message body and is checked
// against it; every count is checked against the bytes that remain; image sizes are bounded.
// Images come out as they are on the wire: BITMAP as a Bitmap, codecs as EncodedImage,
// FROM_CACHE as monostate. Resolving caches and decoding is the display channel's job.
//
// This is the client's own demarshaller because protocol/wire had no display messages when
// the client was written; it is kept small so it can be replaced by the shared definition.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "protocol/draw.h"

namespace qxlbox::client {

namespace display_msg {
inline constexpr std::uint16_t kMode = 101;
inline constexpr std::uint16_t kMark = 102;
inline constexpr std::uint16_t kReset = 103;
inline constexpr std::uint16_t kCopyBits = 104;
inline constexpr std::uint16_t kInvalList = 105;
inline constexpr std::uint16_t kInvalAllPixmaps = 106;
inline constexpr std::uint16_t kInvalPalette = 107;
inline constexpr std::uint16_t kInvalAllPalettes = 108;
inline constexpr std::uint16_t kStreamCreate = 122;
inline constexpr std::uint16_t kStreamData = 123;
inline constexpr std::uint16_t kStreamClip = 124;
inline constexpr std::uint16_t kStreamDestroy = 125;
inline constexpr std::uint16_t kStreamDestroyAll = 126;
inline constexpr std::uint16_t kDrawFill = 302;
inline constexpr std::uint16_t kDrawOpaque = 303;
inline constexpr std::uint16_t kDrawCopy = 304;
inline constexpr std::uint16_t kDrawBlend = 305;
inline constexpr std::uint16_t kDrawBlackness = 306;
inline constexpr std::uint16_t kDrawWhiteness = 307;
inline constexpr std::uint16_t kDrawInvers = 308;
inline constexpr std::uint16_t kDrawRop3 = 309;
inline constexpr std::uint16_t kDrawStroke = 310;
inline constexpr std::uint16_t kDrawText = 311;
inline constexpr std::uint16_t kDrawTransparent = 312;
inline constexpr std::uint16_t kDrawAlphaBlend = 313;
inline constexpr std::uint16_t kSurfaceCreate = 314;
inline constexpr std::uint16_t kSurfaceDestroy = 315;
inline constexpr std::uint16_t kStreamDataSized = 316;
inline constexpr std::uint16_t kMonitorsConfig = 317;
inline constexpr std::uint16_t kDrawComposite = 318;
inline constexpr std::uint16_t kStreamActivateReport = 319;
inline constexpr std::uint16_t kGlScanoutUnix = 320;
inline constexpr std::uint16_t kGlDraw = 321;
inline constexpr std::uint16_t kQualityIndicator = 322;
// Client -> server.
inline constexpr std::uint16_t kcInit = 101;
inline constexpr std::uint16_t kcPreferredCompression = 103;
}  // namespace display_msg

// Upper bound on the pixels of one image or surface the client accepts (a 7680x4320 screen
// fits); larger claims from a server are treated as hostile.
inline constexpr std::uint64_t kMaxImagePixels = 7680ull * 4320ull;

bool is_draw_message(std::uint16_t type);

// Palettes are resolved while parsing (PAL_FROM_CACHE) and stored (PAL_CACHE_ME) in message
// order, as the server expects.
class PaletteCache {
public:
    virtual ~PaletteCache() = default;
    virtual std::shared_ptr<const proto::Palette> find_palette(std::uint64_t id) = 0;
    virtual void store_palette(std::shared_ptr<const proto::Palette> palette) = 0;
};

// Parses DRAW_* and COPY_BITS. False with `error` for a malformed message.
bool parse_draw_message(std::uint16_t type, std::span<const std::uint8_t> body, PaletteCache& palettes,
                        proto::DrawCommand& out, std::string& error);

}  // namespace qxlbox::client
