#include "client/display_channel.h"

#include <cstring>

#include "client/images.h"
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

void DisplayChannel::start(const wire::CapabilitySet& server_channel_caps) {
    // The server's display worker waits for this message before it sends anything (§10c).
    send_message(wire::MsgcDisplayInit{1, kPixmapCachePixels, 1, kGlzWindowPixels});
    if (server_channel_caps.has(wire::display_cap::kPrefCompression)) {
        send_message(wire::MsgcDisplayPreferredCompression{kPreferLz});
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

bool DisplayChannel::resolve_palette(std::shared_ptr<const Palette>& palette, bool needed) {
    if (!palette) {
        if (needed) fail("palette image without a palette");
        return !needed;
    }
    if (!palette->ents.empty()) {
        store_palette(palette);
        return true;
    }
    auto it = palettes_.find(palette->unique);
    if (it == palettes_.end()) {
        fail("palette " + std::to_string(palette->unique) + " is not in the palette cache");
        return false;
    }
    palette = it->second;
    return true;
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

bool DisplayChannel::resolve(ImagePtr& image, bool& unsupported) {
    if (!image) return true;
    const bool sized = image->type != ImageType::FromCache && image->type != ImageType::FromCacheLossless &&
                       image->type != ImageType::Surface;
    if (sized && (image->width == 0 || image->height == 0 ||
                  std::uint64_t{image->width} * image->height > kMaxImagePixels)) {
        fail(std::string(image_type_name(image->type)) + " image of absurd size " + std::to_string(image->width) +
             "x" + std::to_string(image->height));
        return false;
    }
    switch (image->type) {
        case ImageType::Bitmap: {
            const auto* bitmap = std::get_if<Bitmap>(&image->content);
            if (!bitmap || bitmap->width != image->width || bitmap->height != image->height) {
                fail("bitmap size differs from its image descriptor");
                return false;
            }
            auto palette = bitmap->palette;
            if (!resolve_palette(palette, bitmap_format_needs_palette(bitmap->format))) return false;
            if (palette != bitmap->palette) {
                auto copy = std::make_shared<Image>(*image);
                std::get<Bitmap>(copy->content).palette = std::move(palette);
                image = std::move(copy);
            }
            break;
        }
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
            if (auto* enc = std::get_if<EncodedImage>(&image->content); enc && image->type == ImageType::LzPlt) {
                auto palette = enc->palette;
                if (enc->bitmap_flags & kBitmapPalFromCache) {
                    auto p = std::make_shared<Palette>();
                    p->unique = enc->palette_id;
                    palette = std::move(p);
                }
                if (!resolve_palette(palette, true)) return false;
                if (palette != enc->palette) {
                    auto copy = std::make_shared<Image>(*image);
                    std::get<EncodedImage>(copy->content).palette = std::move(palette);
                    image = std::move(copy);
                }
            }
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

bool DisplayChannel::handle_draw(DrawCommand& cmd, std::uint16_t type) {
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

bool DisplayChannel::handle_message(std::uint16_t type, wire::ByteView body) {
    auto parsed = wire::DisplayServerMessages::demarshal(type, body);
    if (!parsed) {
        switch (parsed.error().code) {
            case wire::ErrorCode::UnknownMessage:
                report_unknown(type);
                return true;
            case wire::ErrorCode::Unsupported:
                // A valid message using something we cannot draw (e.g. a JPEG_ALPHA image).
                ++draws_rejected_;
                report_once("unsupported" + std::to_string(type), "skipping message " + std::to_string(type) + ": " +
                                                                       parsed.error().what);
                return true;
            default:
                fail("malformed message " + std::to_string(type) + ": " + parsed.error().to_string());
                return false;
        }
    }
    return std::visit(
        [&](auto& m) -> bool {
            using M = std::decay_t<decltype(m)>;
            if constexpr (requires { m.cmd; }) {
                return handle_draw(m.cmd, M::kType);
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayMode>) {
                return create_surface(0, m.bits == 32 ? SurfaceFormat::XRGB32 : SurfaceFormat::RGB555, m.x_res,
                                      m.y_res, true);
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayMark>) {
                if (!primary_id_) return true;  // as in spice-gtk: a MARK before the primary means nothing
                ++marks_;
                session_.observer().on_mark(marks_);
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayReset>) {
                // The device was reset: as spice-gtk, clear the primary (an identical primary
                // created next is reused, and must not keep the old picture) and the palettes.
                palettes_.clear();
                if (primary_id_) {
                    if (auto* primary = find_surface(*primary_id_)) {
                        std::memset(primary->data(), 0, std::size_t{primary->stride()} * primary->height());
                        session_.observer().on_primary_updated(
                            {0, 0, static_cast<std::int32_t>(primary->height()), static_cast<std::int32_t>(primary->width())});
                    }
                }
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayInvalList>) {
                for (const auto& res : m.resources) {
                    if (res.type != kInvalPixmap) continue;
                    if (auto it = pixmaps_.find(res.id); it != pixmaps_.end()) {
                        pixmap_pixels_ -= std::uint64_t{it->second->width} * it->second->height;
                        pixmaps_.erase(it);
                    }
                }
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayInvalAllPixmaps>) {
                // Only our one display channel uses this cache, so its own message order is the wait.
                pixmaps_.clear();
                pixmap_pixels_ = 0;
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayInvalPalette>) {
                palettes_.erase(m.id);
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayInvalAllPalettes>) {
                palettes_.clear();
            } else if constexpr (std::is_same_v<M, wire::MsgDisplaySurfaceCreate>) {
                return create_surface(m.surface_id, m.format, m.width, m.height,
                                      (m.flags & wire::MsgDisplaySurfaceCreate::kFlagPrimary) != 0);
            } else if constexpr (std::is_same_v<M, wire::MsgDisplaySurfaceDestroy>) {
                surfaces_.erase(m.surface_id);
                if (primary_id_ == m.surface_id) primary_id_.reset();
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayMonitorsConfig>) {
                // One window shows the whole primary surface, as spice-gtk does for one head.
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayGlScanoutUnix> ||
                                 std::is_same_v<M, wire::MsgDisplayGlDraw>) {
                report_once("gl", "GL scanout is not supported");
            } else if constexpr (std::is_same_v<M, wire::MsgDisplayStreamCreate> ||
                                 std::is_same_v<M, wire::MsgDisplayStreamData> ||
                                 std::is_same_v<M, wire::MsgDisplayStreamClip> ||
                                 std::is_same_v<M, wire::MsgDisplayStreamDestroy> ||
                                 std::is_same_v<M, wire::MsgDisplayStreamDestroyAll> ||
                                 std::is_same_v<M, wire::MsgDisplayStreamDataSized> ||
                                 std::is_same_v<M, wire::MsgDisplayStreamActivateReport>) {
                report_once("stream", "video streams are not supported; their area stays stale");
            } else {
                report_unknown(M::kType);
            }
            return !failed();
        },
        parsed.value());
}

}  // namespace qxlbox::client
