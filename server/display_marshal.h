// Marshalling of display and cursor channel messages (spice-protocol.md §5 and §6).
//
// Theory of operation: each owned proto:: draw command becomes exactly one SPICE message,
// written by protocol/wire (the one definition server and client share). What the server
// adds is the choice for each image the command carries: FROM_CACHE when the client's pixmap
// cache holds it, LZ_RGB (protocol/codec's encoder) when the bitmap is 24/32-bit, at least kLzMinPixels and the LZ
// stream is smaller, BITMAP otherwise; SURFACE references and device-compressed payloads
// pass through. Cacheable images get CACHE_ME when they fit the client's cache; the ids
// evicted to make room are collected for an INVAL_LIST that must precede the message.
// Commands the wire cannot carry (an image without content) yield an error value. Every
// layout comes from protocol/wire/messages.h; this unit only chooses what goes in them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/display_interface.h"
#include "protocol/draw.h"
#include "server/pixmap_cache.h"

namespace qxlbox::server {

// A marshalled message body and its type number. Type 0 (no SPICE message has it) stands
// for "nothing to send": what a value the wire cannot represent marshals to.
struct OutMessage {
    std::uint16_t type = 0;
    std::vector<std::uint8_t> body;
};

struct ImageStats {
    std::uint64_t bitmap = 0;
    std::uint64_t lz = 0;
    std::uint64_t from_cache = 0;
    std::uint64_t passthrough = 0;
};

struct ImageContext {
    PixmapCache* cache = nullptr;         // null: never cache
    std::vector<std::uint64_t> evicted;   // filled by write_image; send INVAL_LIST first
    bool allow_lz = true;
    ImageStats stats;
};

// Smallest image (pixels) worth compressing.
inline constexpr std::uint64_t kLzMinPixels = 64;

struct MarshalResult {
    std::optional<OutMessage> message;
    std::string error;
};

MarshalResult marshal_draw(const proto::DrawCommand& cmd, ImageContext& images);
OutMessage marshal_surface_create(const proto::SurfaceCreate& create);
OutMessage marshal_surface_destroy(std::uint32_t surface_id);
OutMessage marshal_inval_list(const std::vector<std::uint64_t>& ids);
OutMessage marshal_monitors_config(const proto::MonitorsConfig& config);
// The whole-surface DRAW_COPY sent on connect: top-down rows at `stride`, xRGB32.
OutMessage marshal_full_surface_copy(std::uint32_t surface_id, std::uint32_t width, std::uint32_t height,
                                     std::uint32_t stride, const std::vector<std::uint8_t>& pixels,
                                     std::uint64_t image_id, ImageContext& images);

// Cursor channel messages. The shape travels as a SpiceCursor whose flags `cache` decides
// (CACHE_ME on a miss, FROM_CACHE without the data on a hit); ids evicted from the cache are
// appended to `evicted` (send CURSOR_INVAL_ONE for each first). A null shape, or one whose
// data is shorter than its type and size need, is sent as NONE.
class CursorCache;
OutMessage marshal_cursor_init(proto::Point16 position, const proto::CursorTrail& trail, bool visible,
                               const proto::CursorShapePtr& shape, CursorCache* cache,
                               std::vector<std::uint64_t>& evicted);
OutMessage marshal_cursor_set(const proto::CursorSet& set, CursorCache* cache, std::vector<std::uint64_t>& evicted);
OutMessage marshal_cursor_move(proto::Point16 position);
OutMessage marshal_cursor_trail(const proto::CursorTrail& trail);
OutMessage marshal_cursor_inval_one(std::uint64_t id);

// Cursor shape cache mirror: a fixed number of entries, LRU, INVAL_ONE on eviction.
class CursorCache {
public:
    explicit CursorCache(std::size_t max_entries = 64) : max_entries_(max_entries) {}
    bool lookup(std::uint64_t unique);
    void insert(std::uint64_t unique, std::vector<std::uint64_t>& evicted);
    void clear() { order_.clear(); }
    std::size_t size() const { return order_.size(); }

private:
    std::size_t max_entries_;
    std::vector<std::uint64_t> order_;  // back = most recent
};

}  // namespace qxlbox::server
