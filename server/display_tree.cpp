#include "server/display_tree.h"

#include <algorithm>

namespace qxlbox::server {
namespace {

bool mask_empty(const proto::QMask& m) { return !m.bitmap; }

bool image_reads_surface(const proto::ImagePtr& img, std::vector<std::uint32_t>& out) {
    if (!img) return false;
    if (const auto* s = std::get_if<proto::SurfaceRef>(&img->content)) {
        out.push_back(s->surface_id);
        return true;
    }
    return false;
}

}  // namespace

bool rect_contains(const proto::Rect& outer, const proto::Rect& inner) {
    if (inner.empty()) return true;
    return outer.left <= inner.left && outer.top <= inner.top && outer.right >= inner.right &&
           outer.bottom >= inner.bottom;
}

proto::Rect rect_intersect(const proto::Rect& a, const proto::Rect& b) {
    proto::Rect r{std::max(a.top, b.top), std::max(a.left, b.left), std::min(a.bottom, b.bottom),
                  std::min(a.right, b.right)};
    if (r.empty()) return proto::Rect{};
    return r;
}

proto::Rect rect_union(const proto::Rect& a, const proto::Rect& b) {
    if (a.empty()) return b;
    if (b.empty()) return a;
    return proto::Rect{std::min(a.top, b.top), std::min(a.left, b.left), std::max(a.bottom, b.bottom),
                       std::max(a.right, b.right)};
}

bool draw_is_opaque(const proto::DrawCommand& cmd) {
    if (cmd.effect != proto::Effect::Opaque && cmd.effect != proto::Effect::OpaqueBrush) return false;
    return std::visit(
        [&](const auto& op) -> bool {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, proto::Fill>) {
                return op.rop_descriptor == proto::rop::kOpPut && mask_empty(op.mask) &&
                       op.brush.type != proto::BrushType::None;
            } else if constexpr (std::is_same_v<T, proto::Copy>) {
                if (!op.src_bitmap || std::holds_alternative<proto::SurfaceRef>(op.src_bitmap->content)) return false;
                return op.rop_descriptor == proto::rop::kOpPut && mask_empty(op.mask);
            } else if constexpr (std::is_same_v<T, proto::Opaque>) {
                if (!op.src_bitmap || std::holds_alternative<proto::SurfaceRef>(op.src_bitmap->content)) return false;
                return op.rop_descriptor == proto::rop::kOpPut && mask_empty(op.mask);
            } else if constexpr (std::is_same_v<T, proto::Blackness> || std::is_same_v<T, proto::Whiteness>) {
                return mask_empty(op.mask);
            } else {
                return false;
            }
        },
        cmd.op);
}

std::vector<std::uint32_t> draw_source_surfaces(const proto::DrawCommand& cmd) {
    std::vector<std::uint32_t> out;
    std::visit(
        [&](const auto& op) {
            using T = std::decay_t<decltype(op)>;
            if constexpr (requires { op.src_bitmap; }) image_reads_surface(op.src_bitmap, out);
            if constexpr (requires { op.mask_bitmap; }) image_reads_surface(op.mask_bitmap, out);
            if constexpr (requires { op.mask.bitmap; }) image_reads_surface(op.mask.bitmap, out);
            if constexpr (requires { op.brush.pattern; }) image_reads_surface(op.brush.pattern, out);
            if constexpr (std::is_same_v<T, proto::CopyBits>) out.push_back(cmd.surface_id);
        },
        cmd.op);
    for (auto s : cmd.surfaces_dest) {
        if (s >= 0) out.push_back(static_cast<std::uint32_t>(s));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::size_t DisplayTree::add(DrawablePtr d) {
    const std::uint32_t sid = d->cmd.surface_id;
    auto sources = draw_source_surfaces(d->cmd);
    for (auto s : sources) read_barrier_[s] = d->sequence;
    auto& list = surfaces_[sid];
    std::size_t dropped = 0;
    bool reads_self = std::find(sources.begin(), sources.end(), sid) != sources.end();
    if (!reads_self && draw_is_opaque(d->cmd)) {
        // The area the new drawable certainly repaints: its box, cut to one clip rect.
        std::vector<proto::Rect> cover;
        if (d->cmd.clip.type == proto::ClipType::Rects) {
            for (const auto& r : d->cmd.clip.rects) cover.push_back(rect_intersect(r, d->cmd.bbox));
        } else {
            cover.push_back(d->cmd.bbox);
        }
        std::uint64_t barrier = 0;
        if (auto it = read_barrier_.find(sid); it != read_barrier_.end()) barrier = it->second;
        auto covered = [&](const DrawablePtr& old) {
            if (old->sequence <= barrier) return false;
            return std::any_of(cover.begin(), cover.end(),
                               [&](const proto::Rect& c) { return !c.empty() && rect_contains(c, old->cmd.bbox); });
        };
        for (auto& old : list) {
            if (covered(old)) {
                old->dropped = true;
                old->release.reset();  // back to the device now, not when the pipe lets go
                ++dropped;
            }
        }
        if (dropped > 0) {
            list.erase(std::remove_if(list.begin(), list.end(), [](const DrawablePtr& o) { return o->dropped; }),
                       list.end());
        }
    }
    list.push_back(std::move(d));
    dropped_total_ += dropped;
    return dropped;
}

const std::deque<DrawablePtr>* DisplayTree::find(std::uint32_t surface_id) const {
    auto it = surfaces_.find(surface_id);
    return it == surfaces_.end() ? nullptr : &it->second;
}

void DisplayTree::clear_surface(std::uint32_t surface_id) {
    surfaces_.erase(surface_id);
    read_barrier_.erase(surface_id);
}

void DisplayTree::clear() {
    surfaces_.clear();
    read_barrier_.clear();
}

std::size_t DisplayTree::total() const {
    std::size_t n = 0;
    for (const auto& [id, list] : surfaces_) n += list.size();
    return n;
}

}  // namespace qxlbox::server
