// The server's account of one client's pixmap cache (spice-protocol.md §5 "Cache semantics").
//
// Theory of operation: a SPICE client never evicts on its own; it stores an image under its
// id when the server sets CACHE_ME and drops it only when told (INVAL_LIST). So the server
// mirrors the client's cache: it charges width*height pixels per entry against the size the
// client announced in DISPLAY_INIT and evicts least recently used entries, handing back their
// ids for an INVAL_LIST that must reach the client before the message that caches the new
// image. Entries used by the message being built are pinned so that building one message can
// never evict an image the same message refers to (FROM_CACHE of a missing id blocks
// spice-gtk forever, §10b).
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace qxlbox::server {

class PixmapCache {
public:
    explicit PixmapCache(std::int64_t capacity_pixels = 0) : capacity_pixels_(capacity_pixels) {}

    // True if the client holds `id`; marks it most recently used and pins it.
    bool lookup(std::uint64_t id);
    // Records that the client will store `id`; evicted ids are appended to `evicted`. False
    // (nothing recorded) when the image cannot fit even after evicting every unpinned entry.
    bool insert(std::uint64_t id, std::uint64_t pixels, std::vector<std::uint64_t>& evicted);
    // Ends the message being built: pins are released.
    void unpin_all() { pinned_.clear(); }
    void clear();

    std::int64_t capacity_pixels() const { return capacity_pixels_; }
    std::int64_t used_pixels() const { return used_pixels_; }
    std::size_t size() const { return map_.size(); }

private:
    struct Entry {
        std::uint64_t id = 0;
        std::uint64_t pixels = 0;
    };
    std::int64_t capacity_pixels_ = 0;
    std::int64_t used_pixels_ = 0;
    std::list<Entry> lru_;  // front = most recently used
    std::unordered_map<std::uint64_t, std::list<Entry>::iterator> map_;
    std::unordered_set<std::uint64_t> pinned_;
};

}  // namespace qxlbox::server
