#include "client/channels.h"

namespace qxlbox::client {

using namespace qxlbox::proto;

namespace {
constexpr std::uint16_t kMaxCursorSide = 1024;
constexpr std::size_t kMaxCachedCursors = 1024;

std::uint32_t xrgb(std::uint32_t v) { return 0xff000000u | (v & 0xffffffu); }

std::uint32_t rgb555(std::uint16_t v) {
    const std::uint32_t r = (v >> 10) & 31, g = (v >> 5) & 31, b = v & 31;
    return 0xff000000u | ((r << 3 | r >> 2) << 16) | ((g << 3 | g >> 2) << 8) | (b << 3 | b >> 2);
}
}  // namespace

bool cursor_to_argb(const CursorShape& shape, std::vector<std::uint32_t>& argb, std::string& error) {
    const std::size_t w = shape.width, h = shape.height;
    const std::size_t mask_row = (w + 7) / 8;
    const std::size_t mask_bytes = mask_row * h;
    const auto& d = shape.data;
    auto need = [&](std::size_t n) {
        if (d.size() >= n) return true;
        error = "cursor data too short (" + std::to_string(d.size()) + " of " + std::to_string(n) + " bytes)";
        return false;
    };
    auto masked = [&](std::size_t mask_at, std::size_t x, std::size_t y) {
        return (d[mask_at + y * mask_row + x / 8] >> (7 - x % 8)) & 1;
    };
    argb.assign(w * h, 0);
    switch (shape.type) {
        case CursorType::Alpha:
            if (!need(w * h * 4)) return false;
            for (std::size_t i = 0; i < w * h; ++i) {
                argb[i] = std::uint32_t{d[4 * i]} | std::uint32_t{d[4 * i + 1]} << 8 |
                          std::uint32_t{d[4 * i + 2]} << 16 | std::uint32_t{d[4 * i + 3]} << 24;
            }
            return true;
        case CursorType::Mono:
            if (!need(2 * mask_bytes)) return false;
            for (std::size_t y = 0; y < h; ++y) {
                for (std::size_t x = 0; x < w; ++x) {
                    const bool and_bit = masked(0, x, y), xor_bit = masked(mask_bytes, x, y);
                    // AND=1, XOR=0 leaves the screen; an inverting pixel is shown black.
                    if (and_bit && !xor_bit) continue;
                    argb[y * w + x] = !and_bit && xor_bit ? 0xffffffffu : 0xff000000u;
                }
            }
            return true;
        case CursorType::Color4: {
            const std::size_t pix_bytes = (w + 1) / 2 * h;
            if (!need(pix_bytes + 64 + mask_bytes)) return false;
            const std::size_t row = (w + 1) / 2;
            for (std::size_t y = 0; y < h; ++y) {
                for (std::size_t x = 0; x < w; ++x) {
                    if (masked(pix_bytes + 64, x, y)) continue;
                    const std::uint8_t b = d[y * row + x / 2];
                    const unsigned idx = x % 2 ? b & 15 : b >> 4;
                    const std::size_t p = pix_bytes + 4 * idx;
                    argb[y * w + x] = xrgb(d[p] | d[p + 1] << 8 | d[p + 2] << 16);
                }
            }
            return true;
        }
        case CursorType::Color16: {
            if (!need(w * h * 2 + mask_bytes)) return false;
            for (std::size_t y = 0; y < h; ++y) {
                for (std::size_t x = 0; x < w; ++x) {
                    if (masked(w * h * 2, x, y)) continue;
                    const std::size_t p = 2 * (y * w + x);
                    argb[y * w + x] = rgb555(static_cast<std::uint16_t>(d[p] | d[p + 1] << 8));
                }
            }
            return true;
        }
        case CursorType::Color32: {
            if (!need(w * h * 4 + mask_bytes)) return false;
            for (std::size_t y = 0; y < h; ++y) {
                for (std::size_t x = 0; x < w; ++x) {
                    if (masked(w * h * 4, x, y)) continue;
                    const std::size_t p = 4 * (y * w + x);
                    argb[y * w + x] = xrgb(d[p] | d[p + 1] << 8 | d[p + 2] << 16);
                }
            }
            return true;
        }
        default:
            error = "cursor type " + std::to_string(static_cast<unsigned>(shape.type)) + " is not supported";
            return false;
    }
}

CursorChannel::CursorChannel(std::uint8_t id, std::unique_ptr<Socket> socket, bool mini_header, Session& session)
    : Channel(ChannelType::Cursor, id, std::move(socket), mini_header, session), session_(session) {}

bool CursorChannel::set_shape(std::uint16_t flags, const CursorShapePtr& shape) {
    if ((flags & wire::wirecodec::kCursorNone) || !shape) {
        state_.shape.reset();
        state_.argb.reset();
        return true;
    }
    if (flags & wire::wirecodec::kCursorFromCache) {
        auto it = cache_.find(shape->unique);
        if (it == cache_.end()) {
            fail("cursor " + std::to_string(shape->unique) + " is not in the cursor cache");
            return false;
        }
        state_.shape = it->second.first;
        state_.argb = it->second.second;
        return true;
    }
    if (shape->width > kMaxCursorSide || shape->height > kMaxCursorSide) {
        fail("cursor of absurd size " + std::to_string(shape->width) + "x" + std::to_string(shape->height));
        return false;
    }
    auto clamped = std::make_shared<CursorShape>(*shape);
    clamped->hot_spot_x = std::min(clamped->hot_spot_x, clamped->width);
    clamped->hot_spot_y = std::min(clamped->hot_spot_y, clamped->height);
    auto argb = std::make_shared<std::vector<std::uint32_t>>();
    std::string why;
    if (!cursor_to_argb(*clamped, *argb, why)) {
        report_once("shape" + std::to_string(static_cast<unsigned>(clamped->type)), why + "; showing the default cursor");
        state_.shape.reset();
        state_.argb.reset();
        return true;
    }
    if (flags & wire::wirecodec::kCursorCacheMe) {
        if (cache_.size() >= kMaxCachedCursors) cache_.clear();
        cache_[clamped->unique] = {clamped, argb};
    }
    state_.shape = std::move(clamped);
    state_.argb = std::move(argb);
    return true;
}

bool CursorChannel::handle_message(std::uint16_t type, wire::ByteView body) {
    auto parsed = wire::CursorServerMessages::demarshal(type, body);
    if (!parsed) {
        if (parsed.error().code == wire::ErrorCode::UnknownMessage) {
            report_unknown(type);
            return true;
        }
        fail("malformed message " + std::to_string(type) + ": " + parsed.error().to_string());
        return false;
    }
    bool changed = true;
    const bool ok = std::visit(
        [&](auto& m) -> bool {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, wire::MsgCursorInit> || std::is_same_v<M, wire::MsgCursorSet>) {
                state_.position = m.position;
                state_.visible = m.visible != 0;
                return set_shape(m.cursor_flags, m.shape);
            } else if constexpr (std::is_same_v<M, wire::MsgCursorMove>) {
                state_.position = m.position;
            } else if constexpr (std::is_same_v<M, wire::MsgCursorHide>) {
                state_.visible = false;
            } else if constexpr (std::is_same_v<M, wire::MsgCursorReset>) {
                state_.visible = false;
                state_.shape.reset();
                state_.argb.reset();
                cache_.clear();
            } else if constexpr (std::is_same_v<M, wire::MsgCursorInvalOne>) {
                cache_.erase(m.id);
                changed = false;
            } else if constexpr (std::is_same_v<M, wire::MsgCursorInvalAll>) {
                cache_.clear();
                changed = false;
            } else {
                changed = false;  // TRAIL: spice-gtk ignores cursor trails too
            }
            return true;
        },
        parsed.value());
    if (!ok) return false;
    if (changed) session_.observer().on_cursor_changed();
    return true;
}

}  // namespace qxlbox::client
