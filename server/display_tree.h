// The display tree: drawables received from the device and not yet rendered into the
// surface's guest memory, per surface, in ring order (spice-server's "current" tree, reduced
// to what matters for correctness here).
//
// Theory of operation: when a new drawable is opaque (it replaces every pixel of its area,
// regardless of what was there) every earlier drawable of the same surface whose bounding box
// lies inside the new one's visible area is dropped: it will never need rendering, and if it
// has not been sent yet it is never sent (the seed design: commands hidden by others are
// removed). Dropping releases the command back to the device. Two things stop a drop: a
// drawable that moves pixels within its own surface (COPY_BITS, a SURFACE image of itself),
// and any drawable on another surface that read this surface since; both make the earlier
// content observable. Not modelled: partial occlusion (regions), which spice-server tracks
// with region arithmetic; a partially covered drawable is simply kept.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>

#include "protocol/display_interface.h"

namespace qxlbox::server {

struct Drawable {
    std::uint64_t sequence = 0;
    proto::DrawCommand cmd;
    proto::ReleaseRef release;
    bool sent = false;     // on the wire, or already part of a connect image
    bool dropped = false;  // made redundant by a later opaque drawable; never sent
};
using DrawablePtr = std::shared_ptr<Drawable>;

// True if the command overwrites every pixel of its visible area without reading them.
bool draw_is_opaque(const proto::DrawCommand& cmd);
// Surfaces (other than its own) the command reads; -1 entries are unused.
std::vector<std::uint32_t> draw_source_surfaces(const proto::DrawCommand& cmd);
bool rect_contains(const proto::Rect& outer, const proto::Rect& inner);
proto::Rect rect_intersect(const proto::Rect& a, const proto::Rect& b);
proto::Rect rect_union(const proto::Rect& a, const proto::Rect& b);

class DisplayTree {
public:
    // Adds a drawable; returns how many earlier ones it made redundant and dropped.
    std::size_t add(DrawablePtr d);
    std::deque<DrawablePtr>& pending(std::uint32_t surface_id) { return surfaces_[surface_id]; }
    const std::deque<DrawablePtr>* find(std::uint32_t surface_id) const;
    void clear_surface(std::uint32_t surface_id);
    void clear();
    std::size_t total() const;
    std::uint64_t dropped_total() const { return dropped_total_; }

private:
    std::map<std::uint32_t, std::deque<DrawablePtr>> surfaces_;
    std::map<std::uint32_t, std::uint64_t> read_barrier_;  // last sequence that read the surface
    std::uint64_t dropped_total_ = 0;
};

}  // namespace qxlbox::server
