// The display worker thread: surfaces, display tree, client pipe, caches and rendering.
//
// Theory of operation: the worker takes the dispatcher's items in order. A draw is checked,
// marshalled at once for a connected display client (the message goes on the pipe) and
// inserted into the display tree, which keeps it, and its ReleaseRef, until it is rendered
// into guest memory (UPDATE_AREA, FLUSH_SURFACES, OOM, a destroy of a surface it reads, or
// the max_pending_drawables limit) or hidden by a later opaque drawable. Surface and cursor
// commands are released as soon as they are handled.
//
// Determinism rule (display_interface.h, "Determinism"): only the worker's processing of
// the dispatcher's items may release a command or write guest memory, never the client's
// progress. So a drawable is marshalled when taken, not when the socket has room (a slow
// client holds bytes, not commands); a client's connect and disconnect reset the pipe and
// the caches and may read guest memory for the connect image, but never release nor write
// it; and each item is reported finished to the dispatcher only after it is destroyed,
// which is what SpiceServer::quiesce() waits for. Back-pressure comes from the pipe: while
// it holds pipe_limit messages the dispatcher is held, and the device's pushes are refused
// once the hold outlasts a grace period; the worker still processes whatever was already
// queued, so quiesce() never waits for the client. A client that keeps up (allowing for
// a moment's delay) never causes a refusal, so with one connected the guest's timeline is
// the same as without.
//
// Connect invariant: between any two items, guest memory plus the drawables still in the
// tree are each surface's current content, and every drawable taken after that point is
// marshalled for the client. So the connect image (guest memory with the pending drawables
// rendered on top) is the content at one point of the command stream, followed by exactly
// the later drawables. Hence whatever the worker renders and consumes is written into guest
// memory by the worker itself before the item ends (UPDATE_AREA included; the device's own
// write of the answer comes later, from the emulation thread, and stores the same pixels).
#include <algorithm>
#include <cstring>
#include <optional>

#include "protocol/wire/messages.h"
#include "server/server_impl.h"

namespace qxlbox::server {
namespace {

namespace wire = proto::wire;

class RenderResolver final : public proto::SurfaceResolver {
public:
    RenderResolver(SpiceServer::Impl& impl, int depth, std::uint32_t target_id, proto::Surface* target)
        : impl_(impl), depth_(depth), target_id_(target_id), target_(target) {}
    proto::Surface* find_surface(std::uint32_t surface_id) override {
        if (surface_id == target_id_) return target_;  // reads of itself see its state so far
        auto it = cache_.find(surface_id);
        if (it != cache_.end()) return it->second.get();
        // Another surface's current content, drawn but not consumed: the source as the
        // client sees it.
        auto s = depth_ < 4 ? impl_.worker_render(surface_id, false, nullptr, depth_ + 1) : nullptr;
        auto* raw = s.get();
        cache_[surface_id] = std::move(s);
        return raw;
    }

private:
    SpiceServer::Impl& impl_;
    int depth_;
    std::uint32_t target_id_;
    proto::Surface* target_;
    std::map<std::uint32_t, std::unique_ptr<proto::Surface>> cache_;
};

proto::SurfacePixels pixels_of(const proto::Surface& s, const proto::Rect& area) {
    proto::SurfacePixels out;
    out.format = s.format();
    out.area = area;
    unsigned bpp = proto::surface_format_bpp(s.format());
    std::size_t row_bytes = (static_cast<std::size_t>(area.width()) * bpp + 7) / 8;
    out.stride = static_cast<std::uint32_t>((row_bytes + 3) & ~std::size_t{3});
    out.data.assign(static_cast<std::size_t>(out.stride) * static_cast<std::size_t>(area.height()), 0);
    std::size_t x_off = static_cast<std::size_t>(area.left) * bpp / 8;
    for (std::int32_t y = 0; y < area.height(); ++y) {
        const std::uint8_t* src = s.data() + static_cast<std::size_t>(area.top + y) * s.stride() + x_off;
        std::memcpy(out.data.data() + static_cast<std::size_t>(y) * out.stride, src, row_bytes);
    }
    return out;
}

// The pixels of a surface as the connect image: xRGB32 rows. libspice-server maps a surface
// format to a bitmap format with spice_bitmap_from_surface_type(), which knows 16_555 (as
// 16BIT), 32_xRGB and 32_ARGB only and aborts (spice_critical) on 16_565; so it has no
// behaviour to copy for a 16_565 primary. 16BIT is x1r5g5b5 and would drop the low green
// bit of every 565 pixel; 32BIT keeps all of them. Each channel is widened by repeating its
// top bits (as pixman and client/png_io do), and the client's 16-bit canvas narrows a 32BIT
// source by truncation (pixman), which gives back exactly the original 16-bit pixel. 555
// surfaces take the same path for one code path; the result is equally exact.
struct ConnectPixels {
    std::vector<std::uint8_t> data;
    std::uint32_t stride = 0;
};

std::optional<ConnectPixels> connect_image_pixels(const proto::Surface& s) {
    ConnectPixels out;
    const std::size_t rows = s.height();
    switch (s.format()) {
        case proto::SurfaceFormat::XRGB32:
        case proto::SurfaceFormat::ARGB32:
            out.stride = s.stride();
            out.data.assign(s.data(), s.data() + static_cast<std::size_t>(s.stride()) * rows);
            return out;
        case proto::SurfaceFormat::RGB555:
        case proto::SurfaceFormat::RGB565: break;
        default: return std::nullopt;
    }
    const bool is_565 = s.format() == proto::SurfaceFormat::RGB565;
    out.stride = s.width() * 4;
    out.data.assign(static_cast<std::size_t>(out.stride) * rows, 0);
    const auto widen5 = [](unsigned v) { return (v << 3) | (v >> 2); };
    const auto widen6 = [](unsigned v) { return (v << 2) | (v >> 4); };
    for (std::size_t y = 0; y < rows; ++y) {
        const std::uint8_t* src = s.data() + y * s.stride();
        std::uint8_t* dst = out.data.data() + y * out.stride;
        for (std::size_t x = 0; x < s.width(); ++x) {
            const unsigned v = src[2 * x] | (static_cast<unsigned>(src[2 * x + 1]) << 8);
            const unsigned r = is_565 ? widen5((v >> 11) & 31) : widen5((v >> 10) & 31);
            const unsigned g = is_565 ? widen6((v >> 5) & 63) : widen5((v >> 5) & 31);
            const unsigned b = widen5(v & 31);
            dst[4 * x] = static_cast<std::uint8_t>(b);
            dst[4 * x + 1] = static_cast<std::uint8_t>(g);
            dst[4 * x + 2] = static_cast<std::uint8_t>(r);
            dst[4 * x + 3] = 0;
        }
    }
    return out;
}

}  // namespace

void SpiceServer::Impl::worker_main() {
    while (!stopping.load()) {
        // Posting wakes the worker at once; the short timeout only matters while the pipe waits
        // for the I/O thread to make room.
        auto timeout = std::chrono::milliseconds(ws.pipe.empty() ? 100 : 5);
        bool handled = false;
        {
            auto item = dispatcher.pop(timeout, true);
            if (item) {
                worker_handle(*item);
                handled = true;
            }
        }  // the item, and any ReleaseRef it still carries, is gone before it counts as finished
        if (handled) dispatcher.finish_one();
        worker_send_pipe();
        dispatcher.set_held(worker_pipe_full());
        if (dispatcher.take_wakeup()) {
            if (auto* dev = current_device()) dev->wakeup();
        }
    }
}

void SpiceServer::quiesce() {
    if (impl_->stopping.load()) return;
    impl_->dispatcher.wait_idle();
}

bool SpiceServer::Impl::worker_pipe_full() const {
    return ws.display_generation != 0 && ws.pipe.size() >= cfg.pipe_limit;
}

void SpiceServer::Impl::worker_handle(WorkerItem& item) {
    std::visit(
        [&](auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, proto::DisplayCommand>) {
                worker_display_command(v);
            } else if constexpr (std::is_same_v<T, proto::CursorCommand>) {
                worker_cursor_command(v);
            } else if constexpr (std::is_same_v<T, std::shared_ptr<UpdateAreaRequest>>) {
                auto sit = ws.surfaces.find(v->surface_id);
                if (sit == ws.surfaces.end()) {
                    v->done.set_value(std::nullopt);
                    return;
                }
                proto::Rect bounds{0, 0, static_cast<std::int32_t>(sit->second.height),
                                   static_cast<std::int32_t>(sit->second.width)};
                proto::Rect area = rect_intersect(v->area, bounds);
                proto::Rect touched;
                auto surface = worker_render(v->surface_id, true, &touched, 0);
                if (!surface) {
                    v->done.set_value(std::nullopt);
                    return;
                }
                // Drawables reaching outside the requested area are rendered whole; their
                // outside part goes back to guest memory too, or it would be lost.
                // The worker writes everything it consumed into guest memory itself, before
                // the answer goes back: guest memory plus the tree must hold the surface's
                // content at every item boundary. Left to the device (which writes the answer
                // only after it wakes up), a client connecting in between would read guest
                // memory without the consumed drawables and never receive them. This also
                // covers drawables reaching outside the requested area, which are rendered
                // whole. The device's own write of the answer afterwards stores the same pixels.
                proto::Rect consumed = rect_intersect(touched, bounds);
                if (!consumed.empty()) {
                    if (auto* dev = current_device()) dev->write_surface_area(v->surface_id, pixels_of(*surface, consumed));
                }
                if (area.empty()) {
                    proto::SurfacePixels empty;
                    empty.format = surface->format();
                    empty.area = area;
                    v->done.set_value(empty);
                } else {
                    v->done.set_value(pixels_of(*surface, area));
                }
            } else if constexpr (std::is_same_v<T, std::shared_ptr<SyncRequest>>) {
                switch (v->kind) {
                    case SyncRequest::Kind::Flush: {
                        std::vector<std::uint32_t> ids;
                        for (const auto& [id, s] : ws.surfaces) ids.push_back(id);
                        for (auto id : ids) worker_flush_surface(id);
                        break;
                    }
                    case SyncRequest::Kind::Oom: {
                        std::vector<std::uint32_t> ids;
                        for (const auto& [id, s] : ws.surfaces) ids.push_back(id);
                        for (auto id : ids) worker_flush_surface(id);
                        break;
                    }
                    case SyncRequest::Kind::Reset:
                    case SyncRequest::Kind::Detach:
                        worker_drop_all();
                        if (ws.display_generation != 0) {
                            worker_push_display(OutMessage{wire::MsgDisplayReset::kType, {}});
                        }
                        if (ws.cursor_generation != 0) worker_push_cursor(OutMessage{wire::MsgCursorReset::kType, {}});
                        break;
                }
                v->done.set_value();
            } else if constexpr (std::is_same_v<T, MonitorsUpdate>) {
                ws.monitors = v.config;
                if (ws.display_generation != 0 && ws.monitors_cap) {
                    ws.pipe.push_back(marshal_monitors_config(v.config));
                }
            } else if constexpr (std::is_same_v<T, DisplayClientInit>) {
                worker_display_connect(v);
            } else if constexpr (std::is_same_v<T, CursorClientInit>) {
                worker_cursor_connect(v);
            } else if constexpr (std::is_same_v<T, ClientGone>) {
                if (v.display && v.generation == ws.display_generation) {
                    ws.display_generation = 0;
                    ws.pipe.clear();
                    ws.pixmap_cache.clear();
                    with_stats([](ServerStats& s) { s.display_client = false; });
                } else if (!v.display && v.generation == ws.cursor_generation) {
                    ws.cursor_generation = 0;
                    ws.cursor_cache.clear();
                }
            }
        },
        item);
}

void SpiceServer::Impl::worker_drop_all() {
    ws.tree.clear();
    ws.pipe.clear();
    ws.pixmap_cache.clear();
    ws.surfaces.clear();
    ws.cursor = proto::CursorSet{};
    ws.cursor_set = false;
    ws.cursor_cache.clear();
}

void SpiceServer::Impl::worker_display_command(proto::DisplayCommand& cmd) {
    if (auto* draw = std::get_if<proto::DrawCommand>(&cmd.body)) {
        if (ws.surfaces.count(draw->surface_id) == 0) {
            log("display: draw on unknown surface " + std::to_string(draw->surface_id) + " dropped");
            return;
        }
        auto d = std::make_shared<Drawable>();
        d->sequence = cmd.sequence;
        d->cmd = std::move(*draw);
        d->release = std::move(cmd.release);
        if (ws.display_generation != 0) worker_marshal_draw(*d);
        std::size_t dropped = ws.tree.add(d);
        if (dropped > 0) with_stats([&](ServerStats& s) { s.draws_dropped += dropped; });
        if (ws.tree.total() > cfg.max_pending_drawables) worker_flush_surface(d->cmd.surface_id);
    } else if (auto* create = std::get_if<proto::SurfaceCreate>(&cmd.body)) {
        if (ws.surfaces.count(create->surface_id) != 0) {
            log("display: surface " + std::to_string(create->surface_id) + " created twice; replaced");
            ws.tree.clear_surface(create->surface_id);
            if (ws.display_generation != 0) ws.pipe.push_back(marshal_surface_destroy(create->surface_id));
        }
        ws.surfaces[create->surface_id] = *create;
        if (ws.display_generation != 0) {
            ws.pipe.push_back(marshal_surface_create(*create));
            // A new primary gets a MARK once it exists, as on connect (§10a, §10b).
            if (create->primary) ws.pipe.push_back(OutMessage{wire::MsgDisplayMark::kType, {}});
        }
    } else if (auto* destroy = std::get_if<proto::SurfaceDestroy>(&cmd.body)) {
        if (ws.surfaces.count(destroy->surface_id) == 0) {
            log("display: destroy of unknown surface " + std::to_string(destroy->surface_id) + " ignored");
            return;
        }
        // As spice-server does before a surface goes away: whatever still has to read it is
        // rendered into guest memory first, or those drawables would lose their source.
        worker_flush_readers_of(destroy->surface_id);
        ws.surfaces.erase(destroy->surface_id);
        ws.tree.clear_surface(destroy->surface_id);
        if (ws.display_generation != 0) ws.pipe.push_back(marshal_surface_destroy(destroy->surface_id));
    }
    // UpdateCommand and MessageCommand are legacy/tracing only.
}

void SpiceServer::Impl::worker_flush_readers_of(std::uint32_t surface_id) {
    std::vector<std::uint32_t> readers;
    for (const auto& [sid, info] : ws.surfaces) {
        if (sid == surface_id) continue;
        const auto* list = ws.tree.find(sid);
        if (!list) continue;
        for (const auto& d : *list) {
            const auto sources = draw_source_surfaces(d->cmd);
            if (std::find(sources.begin(), sources.end(), surface_id) != sources.end()) {
                readers.push_back(sid);
                break;
            }
        }
    }
    for (std::uint32_t sid : readers) worker_flush_surface(sid);
}

void SpiceServer::Impl::worker_flush_surface(std::uint32_t surface_id) {
    const auto* list = ws.tree.find(surface_id);
    if (!list || list->empty()) return;
    proto::Rect touched;
    auto surface = worker_render(surface_id, true, &touched, 0);
    if (!surface || touched.empty()) return;
    proto::Rect bounds{0, 0, static_cast<std::int32_t>(surface->height()), static_cast<std::int32_t>(surface->width())};
    touched = rect_intersect(touched, bounds);
    if (touched.empty()) return;
    if (auto* dev = current_device()) dev->write_surface_area(surface_id, pixels_of(*surface, touched));
}

std::unique_ptr<proto::Surface> SpiceServer::Impl::worker_render(std::uint32_t surface_id, bool consume,
                                                                 proto::Rect* touched, int depth) {
    auto sit = ws.surfaces.find(surface_id);
    if (sit == ws.surfaces.end()) return nullptr;
    const auto& info = sit->second;
    auto surface = proto::Surface::create(info.format, info.width, info.height);
    if (!surface) return nullptr;
    auto* dev = current_device();
    if (dev) {
        if (auto px = dev->read_surface(surface_id)) {
            unsigned bpp = proto::surface_format_bpp(info.format);
            std::size_t row_bytes = (static_cast<std::size_t>(info.width) * bpp + 7) / 8;
            std::int32_t rows = std::min<std::int32_t>(px->area.height(), static_cast<std::int32_t>(info.height));
            std::size_t copy = std::min<std::size_t>(row_bytes, px->stride);
            if (px->format == info.format && px->area.top == 0 && px->area.left == 0) {
                for (std::int32_t y = 0; y < rows; ++y) {
                    std::size_t off = static_cast<std::size_t>(y) * px->stride;
                    if (off + copy > px->data.size()) break;
                    std::memcpy(surface->data() + static_cast<std::size_t>(y) * surface->stride(),
                                px->data.data() + off, std::min<std::size_t>(copy, surface->stride()));
                }
            }
        }
    }
    auto& list = ws.tree.pending(surface_id);
    RenderResolver resolver(*this, depth, surface_id, surface.get());
    proto::Rect box;
    for (const auto& d : list) {
        auto r = proto::draw(*surface, d->cmd, &resolver);
        if (!r.ok) log("display: render of drawable " + std::to_string(d->sequence) + " failed: " + r.error);
        box = rect_union(box, d->cmd.bbox);
    }
    if (touched) *touched = box;
    if (consume) list.clear();
    return surface;
}

void SpiceServer::Impl::worker_push_display(OutMessage msg) {
    {
        std::lock_guard lock(display_out.m);
        if (display_out.generation != ws.display_generation) return;
        display_out.q.push_back(std::move(msg));
    }
    wake_io();
}

void SpiceServer::Impl::worker_push_cursor(OutMessage msg) {
    {
        std::lock_guard lock(cursor_out.m);
        if (cursor_out.generation != ws.cursor_generation) return;
        if (cursor_out.q.size() >= kMaxCursorBacklog) {
            // The client is not taking cursor updates; the I/O thread drops it.
            cursor_overflow.store(true);
            return;
        }
        cursor_out.q.push_back(std::move(msg));
    }
    wake_io();
}

void SpiceServer::Impl::worker_send_pipe() {
    if (ws.display_generation == 0) return;
    while (!ws.pipe.empty()) {
        {
            std::lock_guard lock(display_out.m);
            if (display_out.generation != ws.display_generation) {
                // The I/O thread has dropped this client; its ClientGone is on the way.
                ws.pipe.clear();
                return;
            }
            if (display_out.q.size() >= cfg.channel_out_limit) return;
        }
        OutMessage msg = std::move(ws.pipe.front());
        ws.pipe.pop_front();
        worker_push_display(std::move(msg));
    }
}

void SpiceServer::Impl::worker_marshal_draw(Drawable& d) {
    d.sent = true;
    ImageContext ctx;
    ctx.cache = &ws.pixmap_cache;
    ctx.allow_lz = cfg.lz_images;
    auto result = marshal_draw(d.cmd, ctx);
    if (!result.message) {
        log("display: drawable " + std::to_string(d.sequence) + " not sent: " + result.error);
        return;
    }
    if (!ctx.evicted.empty()) ws.pipe.push_back(marshal_inval_list(ctx.evicted));
    ws.pipe.push_back(std::move(*result.message));
    with_stats([&](ServerStats& s) {
        ++s.draws_sent;
        s.images_bitmap += ctx.stats.bitmap;
        s.images_lz += ctx.stats.lz;
        s.images_from_cache += ctx.stats.from_cache;
        s.cache_evictions += ctx.evicted.size();
    });
}

void SpiceServer::Impl::worker_display_connect(const DisplayClientInit& init) {
    {
        std::lock_guard lock(display_out.m);
        if (display_out.generation != init.generation) return;  // already gone
    }
    ws.display_generation = init.generation;
    ws.monitors_cap = init.monitors_config_cap;
    ws.pipe.clear();
    ws.pixmap_cache = PixmapCache(init.cache_pixels);
    // spice-server's connect order (§5): palettes reset, surfaces, their images, monitors, MARK.
    worker_push_display(OutMessage{wire::MsgDisplayInvalAllPalettes::kType, {}});
    std::vector<std::uint32_t> order;
    for (const auto& [id, s] : ws.surfaces)
        if (s.primary) order.push_back(id);
    for (const auto& [id, s] : ws.surfaces)
        if (!s.primary) order.push_back(id);
    for (auto id : order) worker_push_display(marshal_surface_create(ws.surfaces[id]));
    std::optional<std::uint32_t> primary;
    for (auto id : order) {
        const auto& info = ws.surfaces[id];
        if (info.primary && !primary) primary = id;
        auto surface = worker_render(id, false, nullptr, 0);
        if (!surface) continue;
        // The connect image is a lossless 32BIT bitmap. 16-bit surfaces are widened to it
        // (see connect_image_pixels); A8 and A1 surfaces have no lossless 32-bit form.
        auto px = connect_image_pixels(*surface);
        if (!px) {
            log("display: surface " + std::to_string(id) + " format not sent as an image on connect");
            continue;
        }
        ImageContext ctx;  // no cache: the connect image is never reused
        ctx.allow_lz = cfg.lz_images;
        auto msg = marshal_full_surface_copy(id, surface->width(), surface->height(), px->stride, px->data,
                                             (std::uint64_t{0xffff} << 48) | ws.next_surface_image_id++, ctx);
        worker_push_display(std::move(msg));
        with_stats([&](ServerStats& s) {
            s.images_bitmap += ctx.stats.bitmap;
            s.images_lz += ctx.stats.lz;
        });
        for (auto& d : ws.tree.pending(id)) d->sent = true;
    }
    if (primary && init.monitors_config_cap) {
        proto::MonitorsConfig mc;
        if (ws.monitors && !ws.monitors->heads.empty()) {
            mc = *ws.monitors;
        } else {
            const auto& p = ws.surfaces[*primary];
            mc.max_allowed = 1;
            mc.heads.push_back(proto::MonitorHead{0, *primary, p.width, p.height, 0, 0, 0});
        }
        worker_push_display(marshal_monitors_config(mc));
    }
    if (primary) {
        worker_push_display(OutMessage{wire::MsgDisplayMark::kType, {}});
        with_stats([](ServerStats& s) { ++s.marks_sent; });
    }
    with_stats([](ServerStats& s) { s.display_client = true; });
}

void SpiceServer::Impl::worker_cursor_connect(const CursorClientInit& init) {
    {
        std::lock_guard lock(cursor_out.m);
        if (cursor_out.generation != init.generation) return;
    }
    ws.cursor_generation = init.generation;
    ws.cursor_cache.clear();
    std::vector<std::uint64_t> evicted;
    worker_push_cursor(marshal_cursor_init(ws.cursor.position, ws.trail, ws.cursor_set && ws.cursor.visible,
                                           ws.cursor_set ? ws.cursor.shape : nullptr, &ws.cursor_cache, evicted));
}

void SpiceServer::Impl::worker_cursor_command(proto::CursorCommand& cmd) {
    std::visit(
        [&](auto& op) {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, proto::CursorSet>) {
                ws.cursor = op;
                ws.cursor_set = true;
                if (ws.cursor_generation == 0) return;
                std::vector<std::uint64_t> evicted;
                auto set = marshal_cursor_set(op, &ws.cursor_cache, evicted);
                for (auto id : evicted) worker_push_cursor(marshal_cursor_inval_one(id));
                worker_push_cursor(std::move(set));
            } else if constexpr (std::is_same_v<T, proto::CursorMove>) {
                ws.cursor.position = op.position;
                ws.cursor.visible = true;
                if (ws.cursor_generation == 0) return;
                worker_push_cursor(marshal_cursor_move(op.position));
            } else if constexpr (std::is_same_v<T, proto::CursorHide>) {
                ws.cursor.visible = false;
                if (ws.cursor_generation != 0) worker_push_cursor(OutMessage{wire::MsgCursorHide::kType, {}});
            } else if constexpr (std::is_same_v<T, proto::CursorTrail>) {
                ws.trail = op;
                if (ws.cursor_generation == 0) return;
                worker_push_cursor(marshal_cursor_trail(op));
            }
        },
        cmd.op);
}

}  // namespace qxlbox::server
