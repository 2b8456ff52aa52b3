#include "server/display_marshal.h"

#include <algorithm>
#include <set>
#include <type_traits>

#include "protocol/codec/lz.h"
#include "protocol/wire/messages.h"

namespace qxlbox::server {
namespace {

namespace wire = proto::wire;

template <wire::MessageDef M>
OutMessage encode(const M& msg) {
    auto body = wire::marshal(msg);
    if (!body) return {};
    return OutMessage{M::kType, std::move(body).value()};
}

std::shared_ptr<proto::Image> descriptor_copy(const proto::Image& img, proto::ImageType type, std::uint8_t flags) {
    auto out = std::make_shared<proto::Image>();
    out->id = img.id;
    out->type = type;
    out->flags = flags;
    out->width = img.width;
    out->height = img.height;
    return out;
}

// Chooses how one image travels: FROM_CACHE, LZ_RGB, BITMAP, or passed through as the device
// gave it. Marks the result not ok when an image has nothing the wire can carry.
class ImageChooser {
public:
    explicit ImageChooser(ImageContext& ctx) : ctx_(ctx) {}

    proto::ImagePtr choose(const proto::ImagePtr& in) {
        if (!in) return in;
        const proto::Image& img = *in;
        if (std::holds_alternative<proto::SurfaceRef>(img.content)) {
            ++ctx_.stats.passthrough;
            auto out = descriptor_copy(img, proto::ImageType::Surface, 0);
            out->content = img.content;
            return out;
        }
        if (std::holds_alternative<std::monostate>(img.content)) {
            ok_ = false;
            return in;
        }
        bool cacheable = ctx_.cache && (img.flags & proto::kImageCacheMe) && img.id != 0;
        // The client resolves a message's images in its own order, so an image used twice in
        // one message is sent whole both times rather than relying on CACHE_ME/FROM_CACHE
        // ordering inside the message (a FROM_CACHE miss blocks spice-gtk for good, §10b).
        bool repeat = !seen_.insert(img.id).second;
        if (cacheable && !repeat && ctx_.cache->lookup(img.id)) {
            ++ctx_.stats.from_cache;
            return descriptor_copy(img, proto::ImageType::FromCache, 0);
        }
        std::uint8_t flags = img.flags & proto::kImageHighBitsSet;
        if (cacheable && !repeat && ctx_.cache->insert(img.id, std::uint64_t{img.width} * img.height, ctx_.evicted)) {
            flags |= proto::kImageCacheMe;
        }
        if (const auto* bm = std::get_if<proto::Bitmap>(&img.content)) {
            bool rgb = bm->format == proto::BitmapFormat::Bit32 || bm->format == proto::BitmapFormat::Bit24;
            if (ctx_.allow_lz && rgb && std::uint64_t{bm->width} * bm->height >= kLzMinPixels &&
                bm->width == img.width && bm->height == img.height) {
                auto lz = proto::codec::lz_encode_bitmap(*bm);
                if (lz.ok() && lz->size() < std::uint64_t{bm->stride} * bm->height) {
                    auto out = descriptor_copy(img, proto::ImageType::LzRgb, flags);
                    proto::EncodedImage enc;
                    enc.data = std::move(lz).value();
                    out->content = std::move(enc);
                    ++ctx_.stats.lz;
                    return out;
                }
            }
            if (bm->data.size() < std::uint64_t{bm->stride} * bm->height) {
                ok_ = false;
                return in;
            }
            auto out = descriptor_copy(img, proto::ImageType::Bitmap, flags);
            out->content = *bm;
            ++ctx_.stats.bitmap;
            return out;
        }
        // Device-compressed payloads (QUIC, LZ) travel as they are.
        auto out = descriptor_copy(img, img.type, flags);
        out->content = img.content;
        ++ctx_.stats.passthrough;
        return out;
    }

    void brush(proto::Brush& b) {
        if (b.type == proto::BrushType::Pattern) b.pattern = choose(b.pattern);
    }
    bool ok() const { return ok_; }

private:
    ImageContext& ctx_;
    std::set<std::uint64_t> seen_;
    bool ok_ = true;
};

}  // namespace

MarshalResult marshal_draw(const proto::DrawCommand& cmd, ImageContext& images) {
    proto::DrawCommand out = cmd;
    ImageChooser chooser(images);
    std::visit(
        [&](auto& op) {
            if constexpr (requires { op.src_bitmap; }) op.src_bitmap = chooser.choose(op.src_bitmap);
            if constexpr (requires { op.brush; }) chooser.brush(op.brush);
            if constexpr (requires { op.fore_brush; }) chooser.brush(op.fore_brush);
            if constexpr (requires { op.back_brush; }) chooser.brush(op.back_brush);
            if constexpr (requires { op.mask.bitmap; }) op.mask.bitmap = chooser.choose(op.mask.bitmap);
            if constexpr (requires { op.mask_bitmap; }) op.mask_bitmap = chooser.choose(op.mask_bitmap);
        },
        out.op);
    if (images.cache) images.cache->unpin_all();
    if (!chooser.ok()) return {std::nullopt, "draw command has an image the wire cannot carry"};
    std::uint16_t type = 0;
    auto bytes = proto::wire::marshal_draw(out, type);
    if (!bytes) return {std::nullopt, bytes.error().to_string()};
    return {OutMessage{type, std::move(bytes).value()}, {}};
}

OutMessage marshal_surface_create(const proto::SurfaceCreate& create) {
    wire::MsgDisplaySurfaceCreate msg;
    msg.surface_id = create.surface_id;
    msg.width = create.width;
    msg.height = create.height;
    msg.format = create.format;
    msg.flags = create.primary ? wire::MsgDisplaySurfaceCreate::kFlagPrimary : 0;
    return encode(msg);
}

OutMessage marshal_surface_destroy(std::uint32_t surface_id) { return encode(wire::MsgDisplaySurfaceDestroy{surface_id}); }

OutMessage marshal_inval_list(const std::vector<std::uint64_t>& ids) {
    wire::MsgDisplayInvalList msg;
    for (auto id : ids) msg.resources.push_back(wire::InvalResource{1, id});  // SPICE_RES_TYPE_PIXMAP
    return encode(msg);
}

OutMessage marshal_monitors_config(const proto::MonitorsConfig& config) {
    wire::MsgDisplayMonitorsConfig msg;
    const std::size_t n = std::min<std::size_t>(config.heads.size(), 256);
    msg.config.heads.assign(config.heads.begin(), config.heads.begin() + static_cast<std::ptrdiff_t>(n));
    msg.config.max_allowed =
        std::max<std::uint16_t>(config.max_allowed, static_cast<std::uint16_t>(std::max<std::size_t>(n, 1)));
    return encode(msg);
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

namespace {

bool shape_complete(const proto::CursorShape& shape) {
    return static_cast<std::uint8_t>(shape.type) <= static_cast<std::uint8_t>(proto::CursorType::Color32) &&
           shape.data.size() >= wire::wirecodec::cursor_data_bytes(shape.type, shape.width, shape.height);
}

// The flags and shape of a SpiceCursor for `shape`, consulting and updating `cache`.
void choose_cursor(const proto::CursorShapePtr& shape, CursorCache* cache, std::vector<std::uint64_t>& evicted,
                   std::uint16_t& flags, proto::CursorShapePtr& out) {
    if (!shape || !shape_complete(*shape)) {
        flags = wire::wirecodec::kCursorNone;
        out = nullptr;
        return;
    }
    flags = 0;
    out = shape;
    if (!cache || shape->unique == 0) return;
    if (cache->lookup(shape->unique)) {
        flags = wire::wirecodec::kCursorFromCache;
        auto header_only = std::make_shared<proto::CursorShape>(*shape);
        header_only->data.clear();  // the client has the data already
        out = std::move(header_only);
    } else {
        cache->insert(shape->unique, evicted);
        flags = wire::wirecodec::kCursorCacheMe;
    }
}

}  // namespace

OutMessage marshal_cursor_init(proto::Point16 position, const proto::CursorTrail& trail, bool visible,
                               const proto::CursorShapePtr& shape, CursorCache* cache,
                               std::vector<std::uint64_t>& evicted) {
    wire::MsgCursorInit msg;
    msg.position = position;
    msg.trail_length = trail.length;
    msg.trail_frequency = trail.frequency;
    msg.visible = visible ? 1 : 0;
    choose_cursor(shape, cache, evicted, msg.cursor_flags, msg.shape);
    return encode(msg);
}

OutMessage marshal_cursor_set(const proto::CursorSet& set, CursorCache* cache, std::vector<std::uint64_t>& evicted) {
    wire::MsgCursorSet msg;
    msg.position = set.position;
    msg.visible = set.visible ? 1 : 0;
    choose_cursor(set.shape, cache, evicted, msg.cursor_flags, msg.shape);
    return encode(msg);
}

OutMessage marshal_cursor_move(proto::Point16 position) { return encode(wire::MsgCursorMove{position}); }

OutMessage marshal_cursor_trail(const proto::CursorTrail& trail) {
    return encode(wire::MsgCursorTrail{trail.length, trail.frequency});
}

OutMessage marshal_cursor_inval_one(std::uint64_t id) { return encode(wire::MsgCursorInvalOne{id}); }

}  // namespace qxlbox::server
