#include "server/display_marshal.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <type_traits>

#include "server/byte_io.h"
#include "server/lz_encode.h"
#include "server/spice_constants.h"

namespace qxlbox::server {
namespace {

namespace dm = spice::display_msg;

// Pointer targets appended after the fixed part, in the order the pointers were written.
class Deferred {
public:
    explicit Deferred(ByteWriter& w) : w_(w) {}
    void ptr(std::function<void()> write_target) {
        pending_.push_back({w_.reserve_u32(), std::move(write_target)});
    }
    void flush() {
        while (!pending_.empty()) {
            auto [pos, fn] = std::move(pending_.front());
            pending_.pop_front();
            w_.patch_u32(pos, static_cast<std::uint32_t>(w_.size()));
            fn();
        }
    }

private:
    ByteWriter& w_;
    std::deque<std::pair<std::size_t, std::function<void()>>> pending_;
};

void write_rect(ByteWriter& w, const proto::Rect& r) {
    w.i32(r.top);
    w.i32(r.left);
    w.i32(r.bottom);
    w.i32(r.right);
}

void write_point(ByteWriter& w, const proto::Point& p) {
    w.i32(p.x);
    w.i32(p.y);
}

void write_base(ByteWriter& w, const proto::DrawCommand& cmd) {
    w.u32(cmd.surface_id);
    write_rect(w, cmd.bbox);
    if (cmd.clip.type == proto::ClipType::Rects) {
        w.u8(1);
        w.u32(static_cast<std::uint32_t>(cmd.clip.rects.size()));
        for (const auto& r : cmd.clip.rects) write_rect(w, r);
    } else {
        w.u8(0);
    }
}

void write_palette(ByteWriter& w, const proto::Palette& pal) {
    w.u64(pal.unique);
    std::size_t n = std::min<std::size_t>(pal.ents.size(), 0xffff);
    w.u16(static_cast<std::uint16_t>(n));
    for (std::size_t i = 0; i < n; ++i) w.u32(pal.ents[i]);
}

void write_descriptor(ByteWriter& w, std::uint64_t id, proto::ImageType type, std::uint8_t flags, std::uint32_t width,
                      std::uint32_t height) {
    w.u64(id);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(flags);
    w.u32(width);
    w.u32(height);
}

// Bitmap as BITMAP, pixel rows exactly as stored; returns false if the data is short.
bool write_bitmap_plain(ByteWriter& w, const proto::Image& img, const proto::Bitmap& bm, std::uint8_t flags) {
    std::uint64_t need = std::uint64_t{bm.stride} * bm.height;
    if (bm.data.size() < need) return false;
    write_descriptor(w, img.id, proto::ImageType::Bitmap, flags, img.width, img.height);
    w.u8(static_cast<std::uint8_t>(bm.format));
    std::uint8_t bflags = bm.top_down ? proto::kBitmapTopDown : 0;
    w.u8(bflags);
    w.u32(bm.width);
    w.u32(bm.height);
    w.u32(bm.stride);
    std::size_t pal_pos = w.reserve_u32();
    w.bytes(std::span<const std::uint8_t>(bm.data.data(), static_cast<std::size_t>(need)));
    if (bm.palette) {
        w.patch_u32(pal_pos, static_cast<std::uint32_t>(w.size()));
        write_palette(w, *bm.palette);
    }
    return true;
}

}  // namespace

// Writes one SpiceImage at the current position of `w`.
static bool write_image(ByteWriter& w, const proto::Image& img, ImageContext& ctx) {
    bool cacheable = ctx.cache && (img.flags & proto::kImageCacheMe) && img.id != 0 &&
                     !std::holds_alternative<proto::SurfaceRef>(img.content);
    if (cacheable && ctx.cache->lookup(img.id)) {
        write_descriptor(w, img.id, proto::ImageType::FromCache, 0, img.width, img.height);
        ++ctx.stats.from_cache;
        return true;
    }
    std::uint8_t flags = img.flags & proto::kImageHighBitsSet;
    if (cacheable && ctx.cache->insert(img.id, std::uint64_t{img.width} * img.height, ctx.evicted)) {
        flags |= proto::kImageCacheMe;
    }
    if (const auto* bm = std::get_if<proto::Bitmap>(&img.content)) {
        if (ctx.allow_lz && std::uint64_t{bm->width} * bm->height >= kLzMinPixels && bm->width == img.width &&
            bm->height == img.height) {
            if (auto lz = lz_encode_rgb(*bm); lz && lz->size() < std::uint64_t{bm->stride} * bm->height) {
                write_descriptor(w, img.id, proto::ImageType::LzRgb, flags, img.width, img.height);
                w.u32(static_cast<std::uint32_t>(lz->size()));
                w.bytes(*lz);
                ++ctx.stats.lz;
                return true;
            }
        }
        if (!write_bitmap_plain(w, img, *bm, flags)) return false;
        ++ctx.stats.bitmap;
        return true;
    }
    if (const auto* sr = std::get_if<proto::SurfaceRef>(&img.content)) {
        write_descriptor(w, img.id, proto::ImageType::Surface, 0, img.width, img.height);
        w.u32(sr->surface_id);
        ++ctx.stats.passthrough;
        return true;
    }
    if (const auto* enc = std::get_if<proto::EncodedImage>(&img.content)) {
        switch (img.type) {
            case proto::ImageType::Quic:
            case proto::ImageType::LzRgb:
            case proto::ImageType::Jpeg:
            case proto::ImageType::Lz4:
                write_descriptor(w, img.id, img.type, flags, img.width, img.height);
                w.u32(static_cast<std::uint32_t>(enc->data.size()));
                w.bytes(enc->data);
                break;
            case proto::ImageType::LzPlt: {
                if (!enc->palette) return false;
                write_descriptor(w, img.id, img.type, flags, img.width, img.height);
                w.u8(enc->bitmap_flags & proto::kBitmapTopDown);
                w.u32(static_cast<std::uint32_t>(enc->data.size()));
                std::size_t pal_pos = w.reserve_u32();
                w.bytes(enc->data);
                w.patch_u32(pal_pos, static_cast<std::uint32_t>(w.size()));
                write_palette(w, *enc->palette);
                break;
            }
            default:
                return false;
        }
        ++ctx.stats.passthrough;
        return true;
    }
    return false;
}

namespace {

struct DrawWriter {
    ByteWriter& w;
    Deferred& d;
    ImageContext& ctx;
    bool ok = true;

    void image_ptr(const proto::ImagePtr& img, bool nullable) {
        if (!img) {
            if (!nullable) ok = false;
            w.u32(0);
            return;
        }
        d.ptr([this, img] {
            if (!write_image(w, *img, ctx)) ok = false;
        });
    }
    void brush(const proto::Brush& b) {
        w.u8(static_cast<std::uint8_t>(b.type));
        if (b.type == proto::BrushType::Solid) {
            w.u32(b.color);
        } else if (b.type == proto::BrushType::Pattern) {
            image_ptr(b.pattern, false);
            write_point(w, b.pos);
        }
    }
    void mask(const proto::QMask& m) {
        w.u8(m.flags);
        write_point(w, m.pos);
        image_ptr(m.bitmap, true);
    }
    void copy_params(const proto::CopyParams& c) {
        image_ptr(c.src_bitmap, false);
        write_rect(w, c.src_area);
        w.u16(c.rop_descriptor);
        w.u8(static_cast<std::uint8_t>(c.scale_mode));
        mask(c.mask);
    }

    std::uint16_t operator()(const proto::Fill& f) {
        brush(f.brush);
        w.u16(f.rop_descriptor);
        mask(f.mask);
        return dm::kDrawFill;
    }
    std::uint16_t operator()(const proto::Opaque& o) {
        image_ptr(o.src_bitmap, false);
        write_rect(w, o.src_area);
        brush(o.brush);
        w.u16(o.rop_descriptor);
        w.u8(static_cast<std::uint8_t>(o.scale_mode));
        mask(o.mask);
        return dm::kDrawOpaque;
    }
    std::uint16_t operator()(const proto::Copy& c) {
        copy_params(c);
        return dm::kDrawCopy;
    }
    std::uint16_t operator()(const proto::Blend& c) {
        copy_params(c);
        return dm::kDrawBlend;
    }
    std::uint16_t operator()(const proto::Blackness& b) {
        mask(b.mask);
        return dm::kDrawBlackness;
    }
    std::uint16_t operator()(const proto::Whiteness& b) {
        mask(b.mask);
        return dm::kDrawWhiteness;
    }
    std::uint16_t operator()(const proto::Invers& b) {
        mask(b.mask);
        return dm::kDrawInvers;
    }
    std::uint16_t operator()(const proto::Rop3& r) {
        image_ptr(r.src_bitmap, false);
        write_rect(w, r.src_area);
        brush(r.brush);
        w.u8(r.rop3);
        w.u8(static_cast<std::uint8_t>(r.scale_mode));
        mask(r.mask);
        return dm::kDrawRop3;
    }
    std::uint16_t operator()(const proto::Stroke& s) {
        d.ptr([this, &s] {
            w.u32(static_cast<std::uint32_t>(s.path.segments.size()));
            for (const auto& seg : s.path.segments) {
                w.u8(static_cast<std::uint8_t>(seg.flags));
                w.u32(static_cast<std::uint32_t>(seg.points.size()));
                for (const auto& p : seg.points) {
                    w.i32(p.x);
                    w.i32(p.y);
                }
            }
        });
        bool styled = (s.attr.flags & proto::kLineStyled) != 0 && !s.attr.style.empty();
        w.u8(static_cast<std::uint8_t>(styled ? s.attr.flags : (s.attr.flags & ~proto::kLineStyled)));
        if (styled) {
            std::size_t n = std::min<std::size_t>(s.attr.style.size(), 255);
            w.u8(static_cast<std::uint8_t>(n));
            d.ptr([this, &s, n] {
                for (std::size_t i = 0; i < n; ++i) w.i32(s.attr.style[i]);
            });
        }
        brush(s.brush);
        w.u16(s.fore_mode);
        w.u16(s.back_mode);
        return dm::kDrawStroke;
    }
    std::uint16_t operator()(const proto::Text& t) {
        d.ptr([this, &t] {
            unsigned bpp = (t.str.flags & proto::kStringRasterA8)   ? 8
                           : (t.str.flags & proto::kStringRasterA4) ? 4
                                                                    : 1;
            std::size_t n = std::min<std::size_t>(t.str.glyphs.size(), 0xffff);
            w.u16(static_cast<std::uint16_t>(n));
            w.u8(static_cast<std::uint8_t>(t.str.flags));
            for (std::size_t i = 0; i < n; ++i) {
                const auto& g = t.str.glyphs[i];
                write_point(w, g.render_pos);
                write_point(w, g.glyph_origin);
                w.u16(g.width);
                w.u16(g.height);
                std::size_t size = bpp == 8 ? std::size_t{g.width} * g.height
                                            : ((std::size_t{g.width} * bpp + 7) / 8) * g.height;
                std::size_t have = std::min(size, g.data.size());
                w.bytes(std::span<const std::uint8_t>(g.data.data(), have));
                w.zeros(size - have);
            }
        });
        write_rect(w, t.back_area);
        brush(t.fore_brush);
        brush(t.back_brush);
        w.u16(t.fore_mode);
        w.u16(t.back_mode);
        return dm::kDrawText;
    }
    std::uint16_t operator()(const proto::Transparent& t) {
        image_ptr(t.src_bitmap, false);
        write_rect(w, t.src_area);
        w.u32(t.src_color);
        w.u32(t.true_color);
        return dm::kDrawTransparent;
    }
    std::uint16_t operator()(const proto::AlphaBlend& a) {
        w.u8(a.alpha_flags);
        w.u8(a.alpha);
        image_ptr(a.src_bitmap, false);
        write_rect(w, a.src_area);
        return dm::kDrawAlphaBlend;
    }
    std::uint16_t operator()(const proto::Composite& c) {
        std::uint32_t flags = c.flags & ~(proto::composite::kHasMask | proto::composite::kHasSrcTransform |
                                          proto::composite::kHasMaskTransform);
        if (c.mask_bitmap) flags |= proto::composite::kHasMask;
        if (c.src_transform) flags |= proto::composite::kHasSrcTransform;
        if (c.mask_transform) flags |= proto::composite::kHasMaskTransform;
        w.u32(flags);
        image_ptr(c.src_bitmap, false);
        if (c.mask_bitmap) image_ptr(c.mask_bitmap, false);
        if (c.src_transform)
            for (auto v : c.src_transform->t) w.u32(v);
        if (c.mask_transform)
            for (auto v : c.mask_transform->t) w.u32(v);
        w.i16(c.src_origin.x);
        w.i16(c.src_origin.y);
        w.i16(c.mask_origin.x);
        w.i16(c.mask_origin.y);
        return dm::kDrawComposite;
    }
    std::uint16_t operator()(const proto::CopyBits& c) {
        write_point(w, c.src_pos);
        return dm::kCopyBits;
    }
};

}  // namespace

MarshalResult marshal_draw(const proto::DrawCommand& cmd, ImageContext& images) {
    ByteWriter w;
    Deferred d(w);
    write_base(w, cmd);
    DrawWriter dw{w, d, images};
    std::uint16_t type = std::visit(dw, cmd.op);
    d.flush();
    if (images.cache) images.cache->unpin_all();
    if (!dw.ok) return {std::nullopt, "draw command has an image the wire cannot carry"};
    return {OutMessage{type, w.take()}, {}};
}

OutMessage marshal_surface_create(const proto::SurfaceCreate& create) {
    ByteWriter w;
    w.u32(create.surface_id);
    w.u32(create.width);
    w.u32(create.height);
    w.u32(static_cast<std::uint32_t>(create.format));
    w.u32(create.primary ? proto::kSurfaceFlagPrimary : 0);
    return {dm::kSurfaceCreate, w.take()};
}

OutMessage marshal_surface_destroy(std::uint32_t surface_id) {
    ByteWriter w;
    w.u32(surface_id);
    return {dm::kSurfaceDestroy, w.take()};
}

OutMessage marshal_inval_list(const std::vector<std::uint64_t>& ids) {
    ByteWriter w;
    w.u16(static_cast<std::uint16_t>(ids.size()));
    for (auto id : ids) {
        w.u8(1);  // SPICE_RES_TYPE_PIXMAP
        w.u64(id);
    }
    return {dm::kInvalList, w.take()};
}

OutMessage marshal_monitors_config(const proto::MonitorsConfig& config) {
    ByteWriter w;
    std::size_t n = std::min<std::size_t>(config.heads.size(), 256);
    w.u16(static_cast<std::uint16_t>(n));
    w.u16(std::max<std::uint16_t>(config.max_allowed, static_cast<std::uint16_t>(std::max<std::size_t>(n, 1))));
    for (std::size_t i = 0; i < n; ++i) {
        const auto& h = config.heads[i];
        w.u32(h.id);
        w.u32(h.surface_id);
        w.u32(h.width);
        w.u32(h.height);
        w.u32(h.x);
        w.u32(h.y);
        w.u32(h.flags);
    }
    return {dm::kMonitorsConfig, w.take()};
}

OutMessage marshal_full_surface_copy(std::uint32_t surface_id, std::uint32_t width, std::uint32_t height,
                                     std::uint32_t stride, const std::vector<std::uint8_t>& pixels,
                                     std::uint64_t image_id, ImageContext& images) {
    auto img = std::make_shared<proto::Image>();
    img->id = image_id;
    img->type = proto::ImageType::Bitmap;
    img->width = width;
    img->height = height;
    proto::Bitmap bm;
    bm.format = proto::BitmapFormat::Bit32;
    bm.top_down = true;
    bm.width = width;
    bm.height = height;
    bm.stride = stride;
    bm.data = pixels;
    img->content = std::move(bm);
    proto::DrawCommand cmd;
    cmd.surface_id = surface_id;
    cmd.bbox = proto::Rect{0, 0, static_cast<std::int32_t>(height), static_cast<std::int32_t>(width)};
    proto::Copy copy;
    copy.src_bitmap = img;
    copy.src_area = cmd.bbox;
    copy.rop_descriptor = proto::rop::kOpPut;
    cmd.op = copy;
    // The surface image is not cacheable (no CACHE_ME), so this cannot fail.
    return std::move(*marshal_draw(cmd, images).message);
}

bool CursorCache::lookup(std::uint64_t unique) {
    auto it = std::find(order_.begin(), order_.end(), unique);
    if (it == order_.end()) return false;
    order_.erase(it);
    order_.push_back(unique);
    return true;
}

void CursorCache::insert(std::uint64_t unique, std::vector<std::uint64_t>& evicted) {
    if (max_entries_ == 0) return;
    while (order_.size() >= max_entries_) {
        evicted.push_back(order_.front());
        order_.erase(order_.begin());
    }
    order_.push_back(unique);
}

void write_cursor(std::vector<std::uint8_t>& body, const proto::CursorShapePtr& shape, CursorCache* cache,
                  std::vector<std::uint64_t>& evicted) {
    ByteWriter w;
    if (!shape) {
        w.u16(spice::kCursorFlagNone);
    } else {
        std::uint16_t flags = 0;
        bool hit = false;
        if (cache && shape->unique != 0) {
            hit = cache->lookup(shape->unique);
            if (!hit) {
                cache->insert(shape->unique, evicted);
                flags = spice::kCursorFlagCacheMe;
            } else {
                flags = spice::kCursorFlagFromCache;
            }
        }
        w.u16(flags);
        w.u64(shape->unique);
        w.u8(static_cast<std::uint8_t>(shape->type));
        w.u16(shape->width);
        w.u16(shape->height);
        w.u16(shape->hot_spot_x);
        w.u16(shape->hot_spot_y);
        if (!hit) w.bytes(shape->data);
    }
    auto& b = w.data();
    body.insert(body.end(), b.begin(), b.end());
}

}  // namespace qxlbox::server
