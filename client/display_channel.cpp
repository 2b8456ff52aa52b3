#include "client/display_channel.h"

#include "client/images.h"
#include "client/link.h"
#include "client/session.h"

namespace qxlbox::client {

using namespace qxlbox::proto;

namespace {
constexpr std::uint8_t kPreferLz = 6;  // SPICE_IMAGE_COMPRESSION_LZ
constexpr std::uint8_t kInvalPixmap = 1;

Rect clip_to(const Rect& r, const Surface& s) {
    Rect out = r;
    out.left = std::max(out.left, 0);
    out.top = std::max(out.top, 0);
    out.right = std::min<std::int32_t>(out.right, static_cast<std::int32_t>(s.width()));
    out.bottom = std::min<std::int32_t>(out.bottom, static_cast<std::int32_t>(s.height()));
    return out;
}
}  // namespace

DisplayChannel::DisplayChannel(std::uint8_t id, std::unique_ptr<Socket> socket, bool mini_header, Session& session)
    : Channel(ChannelType::Display, id, std::move(socket), mini_header, session), session_(session) {}

void DisplayChannel::start(const std::vector<std::uint32_t>& server_channel_caps) {
    // The server's display worker waits for this message before it sends anything (§10c).
    Writer init;
    init.u8(1).i64(kPixmapCachePixels).u8(1).i32(kGlzWindowPixels);
    send(display_msg::kcInit, init);
    if (has_cap(server_channel_caps, caps::kDisplayPrefCompression)) {
        send(display_msg::kcPreferredCompression, Writer().u8(kPreferLz));
    }
}

const Surface* DisplayChannel::primary() const {
    if (!primary_id_) return nullptr;
    auto it = surfaces_.find(*primary_id_);
    return it == surfaces_.end() ? nullptr : it->second.get();
}

Surface* DisplayChannel::find_surface(std::uint32_t surface_id) {
    auto it = surfaces_.find(surface_id);
    return it == surfaces_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const Palette> DisplayChannel::find_palette(std::uint64_t id) {
    auto it = palettes_.find(id);
    return it == palettes_.end() ? nullptr : it->second;
}

void DisplayChannel::store_palette(std::shared_ptr<const Palette> palette) {
    // The server sizes its palette cache; a server that keeps inventing ids would grow ours.
    constexpr std::size_t kMaxPalettes = 4096;
    if (palettes_.size() >= kMaxPalettes && !palettes_.contains(palette->unique)) palettes_.clear();
    palettes_[palette->unique] = std::move(palette);
}

bool DisplayChannel::create_surface(std::uint32_t surface_id, SurfaceFormat format, std::uint32_t width,
                                    std::uint32_t height, bool primary) {
    if (!surface_format_valid(static_cast<std::uint32_t>(format))) {
        fail("SURFACE_CREATE with unknown format " + std::to_string(static_cast<std::uint32_t>(format)));
        return false;
    }
    if (width == 0 || height == 0 || std::uint64_t{width} * height > kMaxImagePixels || width > kMaxSurfaceSide ||
        height > kMaxSurfaceSide) {
        fail("SURFACE_CREATE with absurd dimensions " + std::to_string(width) + "x" + std::to_string(height));
        return false;
    }
    if (auto* old = find_surface(surface_id); old && primary && primary_id_ == surface_id &&
                                               old->width() == width && old->height() == height &&
                                               old->format() == format) {
        return true;  // spice-gtk reuses an identical primary
    }
    std::uint64_t total = std::uint64_t{width} * height;
    for (const auto& [sid, s] : surfaces_) {
        if (sid != surface_id) total += std::uint64_t{s->width()} * s->height();
    }
    if (total > kMaxTotalSurfacePixels) {
        fail("surfaces would exceed " + std::to_string(kMaxTotalSurfacePixels) + " pixels");
        return false;
    }
    auto surface = Surface::create(format, width, height);
    if (!surface) {
        fail("cannot create surface " + std::to_string(surface_id) + " (" + std::to_string(width) + "x" +
             std::to_string(height) + ")");
        return false;
    }
    if (primary && primary_id_ && *primary_id_ != surface_id) surfaces_.erase(*primary_id_);
    surfaces_[surface_id] = std::move(surface);
    if (primary) {
        primary_id_ = surface_id;
        session_.observer().on_primary_created(*surfaces_[surface_id]);
    } else if (primary_id_ == surface_id) {
        primary_id_.reset();
    }
    return true;
}

bool DisplayChannel::handle_surface_create(Reader& body) {
    const std::uint32_t surface_id = body.u32();
    const std::uint32_t width = body.u32();
    const std::uint32_t height = body.u32();
    const std::uint32_t format = body.u32();
    const std::uint32_t flags = body.u32();
    if (!body.ok()) {
        fail("truncated SURFACE_CREATE");
        return false;
    }
    return create_surface(surface_id, static_cast<SurfaceFormat>(format), width, height,
                          (flags & kSurfaceFlagPrimary) != 0);
}

bool DisplayChannel::resolve(ImagePtr& image, bool& unsupported) {
    if (!image) return true;
    switch (image->type) {
        case ImageType::Bitmap:
        case ImageType::Surface:
            break;
        case ImageType::FromCache:
        case ImageType::FromCacheLossless: {
            auto it = pixmaps_.find(image->id);
            if (it == pixmaps_.end()) {
                fail("image " + std::to_string(image->id) + " is not in the pixmap cache (FROM_CACHE miss)");
                return false;
            }
            image = it->second;
            return true;
        }
        default: {
            Bitmap bitmap;
            std::string why;
            switch (decode_image(*image, bitmap, why)) {
                case DecodeStatus::Ok: {
                    auto decoded = std::make_shared<Image>();
                    decoded->id = image->id;
                    decoded->type = ImageType::Bitmap;
                    decoded->flags = image->flags;
                    decoded->width = bitmap.width;
                    decoded->height = bitmap.height;
                    decoded->content = std::move(bitmap);
                    image = std::move(decoded);
                    break;
                }
                case DecodeStatus::Unsupported:
                    report_once(std::string("img") + image_type_name(image->type),
                                std::string("cannot decode ") + image_type_name(image->type) +
                                    " images; skipping draws that use them");
                    unsupported = true;
                    return false;
                case DecodeStatus::Invalid:
                    fail(std::string("bad ") + image_type_name(image->type) + " image: " + why);
                    return false;
            }
        }
    }
    if (image->flags & (kImageCacheMe | kImageCacheReplaceMe)) {
        const std::uint64_t pixels = std::uint64_t{image->width} * image->height;
        if (auto old = pixmaps_.find(image->id); old != pixmaps_.end()) {
            pixmap_pixels_ -= std::uint64_t{old->second->width} * old->second->height;
        }
        pixmap_pixels_ += pixels;
        // The server accounts the cache against what we announced and evicts with INVAL_LIST;
        // a server that overshoots by far is ignoring the protocol.
        if (pixmap_pixels_ > 2 * static_cast<std::uint64_t>(kPixmapCachePixels)) {
            fail("server overfilled the pixmap cache (" + std::to_string(pixmap_pixels_) + " pixels)");
            return false;
        }
        pixmaps_[image->id] = image;
    }
    return true;
}

bool DisplayChannel::resolve_all(DrawCommand& cmd, bool& unsupported) {
    auto brush = [&](Brush& b) { return b.type != BrushType::Pattern || resolve(b.pattern, unsupported); };
    auto mask = [&](QMask& m) { return resolve(m.bitmap, unsupported); };
    return std::visit(
        [&](auto& op) -> bool {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, Fill>) {
                return brush(op.brush) && mask(op.mask);
            } else if constexpr (std::is_same_v<T, Opaque> || std::is_same_v<T, Rop3>) {
                return resolve(op.src_bitmap, unsupported) && brush(op.brush) && mask(op.mask);
            } else if constexpr (std::is_same_v<T, Copy> || std::is_same_v<T, Blend>) {
                return resolve(op.src_bitmap, unsupported) && mask(op.mask);
            } else if constexpr (std::is_same_v<T, Blackness> || std::is_same_v<T, Whiteness> ||
                                 std::is_same_v<T, Invers>) {
                return mask(op.mask);
            } else if constexpr (std::is_same_v<T, Stroke>) {
                return brush(op.brush);
            } else if constexpr (std::is_same_v<T, Text>) {
                return brush(op.fore_brush) && brush(op.back_brush);
            } else if constexpr (std::is_same_v<T, Transparent> || std::is_same_v<T, AlphaBlend>) {
                return resolve(op.src_bitmap, unsupported);
            } else if constexpr (std::is_same_v<T, Composite>) {
                return resolve(op.src_bitmap, unsupported) && resolve(op.mask_bitmap, unsupported);
            } else {
                return true;
            }
        },
        cmd.op);
}

bool DisplayChannel::handle_draw(std::uint16_t type, std::span<const std::uint8_t> body) {
    DrawCommand cmd;
    std::string why;
    if (!parse_draw_message(type, body, *this, cmd, why)) {
        fail("malformed draw message " + std::to_string(type) + ": " + why);
        return false;
    }
    bool unsupported = false;
    if (!resolve_all(cmd, unsupported)) {
        if (failed()) return false;
        ++draws_rejected_;
        return true;
    }
    Surface* target = find_surface(cmd.surface_id);
    if (!target) {
        report_once("nosurface", "ignoring draws on unknown surface " + std::to_string(cmd.surface_id));
        ++draws_rejected_;
        return true;
    }
    const DrawResult result = draw(*target, cmd, this);
    if (!result.ok) {
        ++draws_rejected_;
        report_once("draw" + result.error, "draw " + std::to_string(type) + " rejected: " + result.error);
        return true;
    }
    ++draws_;
    if (primary_id_ == cmd.surface_id) {
        const Rect area = clip_to(cmd.bbox, *target);
        if (!area.empty()) session_.observer().on_primary_updated(area);
    }
    return true;
}

bool DisplayChannel::handle_message(std::uint16_t type, Reader body) {
    using namespace display_msg;
    if (is_draw_message(type)) return handle_draw(type, body.body());
    switch (type) {
        case kMode: {
            const std::uint32_t x = body.u32(), y = body.u32(), bits = body.u32();
            if (!body.ok()) {
                fail("truncated MODE");
                return false;
            }
            return create_surface(0, bits == 32 ? SurfaceFormat::XRGB32 : SurfaceFormat::RGB555, x, y, true);
        }
        case kMark:
            if (!primary_id_) return true;  // as in spice-gtk: a MARK before the primary means nothing
            ++marks_;
            session_.observer().on_mark(marks_);
            return true;
        case kReset:
            palettes_.clear();
            return true;
        case kInvalList: {
            const std::uint16_t count = body.u16();
            for (unsigned i = 0; i < count && body.ok(); ++i) {
                const std::uint8_t kind = body.u8();
                const std::uint64_t id = body.u64();
                if (kind != kInvalPixmap || !body.ok()) continue;
                if (auto it = pixmaps_.find(id); it != pixmaps_.end()) {
                    pixmap_pixels_ -= std::uint64_t{it->second->width} * it->second->height;
                    pixmaps_.erase(it);
                }
            }
            if (!body.ok()) {
                fail("truncated INVAL_LIST");
                return false;
            }
            return true;
        }
        case kInvalAllPixmaps:
            // Only one display channel shares our cache, so its own order is the wait.
            pixmaps_.clear();
            pixmap_pixels_ = 0;
            return true;
        case kInvalPalette: {
            const std::uint64_t id = body.u64();
            if (!body.ok()) {
                fail("truncated INVAL_PALETTE");
                return false;
            }
            palettes_.erase(id);
            return true;
        }
        case kInvalAllPalettes:
            palettes_.clear();
            return true;
        case kSurfaceCreate:
            return handle_surface_create(body);
        case kSurfaceDestroy: {
            const std::uint32_t surface_id = body.u32();
            if (!body.ok()) {
                fail("truncated SURFACE_DESTROY");
                return false;
            }
            surfaces_.erase(surface_id);
            if (primary_id_ == surface_id) primary_id_.reset();
            return true;
        }
        case kMonitorsConfig:
        case kQualityIndicator:
            return true;
        case kStreamCreate:
        case kStreamData:
        case kStreamClip:
        case kStreamDestroy:
        case kStreamDestroyAll:
        case kStreamDataSized:
        case kStreamActivateReport:
            report_once("stream", "video streams are not supported; their area stays stale");
            return true;
        case kGlScanoutUnix:
        case kGlDraw:
            report_once("gl", "GL scanout is not supported");
            return true;
        default:
            report_unknown(type);
            return true;
    }
}

}  // namespace qxlbox::client
