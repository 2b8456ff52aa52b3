// Display channel (spice-protocol.md §5): surfaces drawn with the canvas, the pixmap and
// palette caches with their INVAL messages, MARK. Images are resolved before drawing:
// FROM_CACHE from the pixmap cache (a miss is a protocol error that ends the session, never
// a wait as in spice-gtk), LZ through protocol/codec, BITMAP as is. Unsupported image types or
// messages are reported once and the draw is skipped, so the client keeps running.
#pragma once

#include <map>
#include <optional>
#include <unordered_map>

#include "client/channel.h"
#include "client/link.h"
#include "protocol/canvas/canvas.h"

namespace qxlbox::client {

class Session;

// Upper bound on the pixels of one image or surface the client accepts (a 7680x4320 screen
// fits); larger claims from a server are treated as hostile.
inline constexpr std::uint64_t kMaxImagePixels = 7680ull * 4320ull;

// What we announce in DISPLAY_INIT (spice-gtk's values: 80 MiB of 32-bit pixels).
inline constexpr std::int64_t kPixmapCachePixels = 20 * 1024 * 1024;
inline constexpr std::int32_t kGlzWindowPixels = 0x5ffc00;
// Surfaces together may not exceed this many pixels.
inline constexpr std::uint64_t kMaxTotalSurfacePixels = 4 * kMaxImagePixels;

class DisplayChannel final : public Channel, private proto::SurfaceResolver {
public:
    DisplayChannel(std::uint8_t id, std::unique_ptr<Socket> socket, bool mini_header, Session& session);
    // Sends DISPLAY_INIT (and PREFERRED_COMPRESSION=LZ when the server takes it).
    void start(const wire::CapabilitySet& server_channel_caps);

    const proto::Surface* primary() const;
    unsigned marks() const { return marks_; }
    std::uint64_t draws() const { return draws_; }
    std::uint64_t draws_rejected() const { return draws_rejected_; }
    std::size_t cached_pixmaps() const { return pixmaps_.size(); }

private:
    bool handle_message(std::uint16_t type, wire::ByteView body) override;
    bool handle_draw(proto::DrawCommand& cmd, std::uint16_t type);
    bool create_surface(std::uint32_t surface_id, proto::SurfaceFormat format, std::uint32_t width,
                        std::uint32_t height, bool primary);
    // Replaces `image` by a drawable one. False with `unsupported` set to skip the draw, or
    // after fail() for a protocol error.
    bool resolve(proto::ImagePtr& image, bool& unsupported);
    bool resolve_all(proto::DrawCommand& cmd, bool& unsupported);

    proto::Surface* find_surface(std::uint32_t surface_id) override;
    // PAL_FROM_CACHE palettes arrive as an id without entries; palettes with entries are kept
    // (the shared demarshaller does not carry PAL_CACHE_ME, and keeping extra ones is harmless).
    bool resolve_palette(std::shared_ptr<const proto::Palette>& palette, bool needed);
    void store_palette(std::shared_ptr<const proto::Palette> palette);

    Session& session_;
    std::map<std::uint32_t, std::unique_ptr<proto::Surface>> surfaces_;
    std::optional<std::uint32_t> primary_id_;
    std::unordered_map<std::uint64_t, proto::ImagePtr> pixmaps_;
    std::uint64_t pixmap_pixels_ = 0;
    std::unordered_map<std::uint64_t, std::shared_ptr<const proto::Palette>> palettes_;
    unsigned marks_ = 0;
    std::uint64_t draws_ = 0;
    std::uint64_t draws_rejected_ = 0;
};

}  // namespace qxlbox::client
