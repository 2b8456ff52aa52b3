#include "server/pixmap_cache.h"

namespace qxlbox::server {

bool PixmapCache::lookup(std::uint64_t id) {
    auto it = map_.find(id);
    if (it == map_.end()) return false;
    lru_.splice(lru_.begin(), lru_, it->second);
    pinned_.insert(id);
    return true;
}

bool PixmapCache::insert(std::uint64_t id, std::uint64_t pixels, std::vector<std::uint64_t>& evicted) {
    if (map_.count(id) != 0 || capacity_pixels_ <= 0) return false;
    if (pixels > static_cast<std::uint64_t>(capacity_pixels_)) return false;
    std::int64_t need = static_cast<std::int64_t>(pixels);
    // Find what must go before changing anything, so a failed insert leaves the cache intact.
    std::int64_t freeable = capacity_pixels_ - used_pixels_;
    std::vector<std::list<Entry>::iterator> victims;
    for (auto it = lru_.end(); freeable < need && it != lru_.begin();) {
        --it;
        if (pinned_.count(it->id) != 0) continue;
        victims.push_back(it);
        freeable += static_cast<std::int64_t>(it->pixels);
    }
    if (freeable < need) return false;
    for (auto v : victims) {
        evicted.push_back(v->id);
        used_pixels_ -= static_cast<std::int64_t>(v->pixels);
        map_.erase(v->id);
        lru_.erase(v);
    }
    lru_.push_front(Entry{id, pixels});
    map_[id] = lru_.begin();
    used_pixels_ += need;
    pinned_.insert(id);
    return true;
}

void PixmapCache::clear() {
    lru_.clear();
    map_.clear();
    pinned_.clear();
    used_pixels_ = 0;
}

}  // namespace qxlbox::server
