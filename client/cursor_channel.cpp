#include "client/channels.h"

namespace qxlbox::client {

using namespace qxlbox::proto;

namespace {
namespace cursor_msg {
constexpr std::uint16_t kInit = 101;
constexpr std::uint16_t kReset = 102;
constexpr std::uint16_t kSet = 103;
constexpr std::uint16_t kMove = 104;
constexpr std::uint16_t kHide = 105;
constexpr std::uint16_t kTrail = 106;
constexpr std::uint16_t kInvalOne = 107;
constexpr std::uint16_t kInvalAll = 108;
}  // namespace cursor_msg

constexpr std::uint16_t kCursorNone = 1;
constexpr std::uint16_t kCursorCacheMe = 2;
constexpr std::uint16_t kCursorFromCache = 4;
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

bool CursorChannel::read_cursor(Reader& body) {
    const std::uint16_t flags = body.u16();
    if (!body.ok()) {
        fail("truncated cursor");
        return false;
    }
    if (flags & kCursorNone) {
        state_.shape.reset();
        state_.argb.reset();
        return true;
    }
    auto shape = std::make_shared<CursorShape>();
    shape->unique = body.u64();
    shape->type = static_cast<CursorType>(body.u8());
    shape->width = body.u16();
    shape->height = body.u16();
    shape->hot_spot_x = body.u16();
    shape->hot_spot_y = body.u16();
    if (!body.ok()) {
        fail("truncated cursor header");
        return false;
    }
    if (flags & kCursorFromCache) {
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
    shape->hot_spot_x = std::min(shape->hot_spot_x, shape->width);
    shape->hot_spot_y = std::min(shape->hot_spot_y, shape->height);
    const auto data = body.rest();
    shape->data.assign(data.begin(), data.end());
    auto argb = std::make_shared<std::vector<std::uint32_t>>();
    std::string why;
    if (!cursor_to_argb(*shape, *argb, why)) {
        report_once("shape" + std::to_string(static_cast<unsigned>(shape->type)), why + "; showing the default cursor");
        state_.shape.reset();
        state_.argb.reset();
        return true;
    }
    if (flags & kCursorCacheMe) {
        if (cache_.size() >= kMaxCachedCursors) cache_.clear();
        cache_[shape->unique] = {shape, argb};
    }
    state_.shape = std::move(shape);
    state_.argb = std::move(argb);
    return true;
}

bool CursorChannel::handle_message(std::uint16_t type, Reader body) {
    using namespace cursor_msg;
    switch (type) {
        case kInit: {
            state_.position.x = body.i16();
            state_.position.y = body.i16();
            body.u16();
            body.u16();
            state_.visible = body.u8() != 0;
            if (!read_cursor(body)) return false;
            break;
        }
        case kSet:
            state_.position.x = body.i16();
            state_.position.y = body.i16();
            state_.visible = body.u8() != 0;
            if (!read_cursor(body)) return false;
            break;
        case kMove:
            state_.position.x = body.i16();
            state_.position.y = body.i16();
            if (!body.ok()) {
                fail("truncated CURSOR_MOVE");
                return false;
            }
            break;
        case kHide:
            state_.visible = false;
            break;
        case kReset:
            state_.visible = false;
            state_.shape.reset();
            state_.argb.reset();
            cache_.clear();
            break;
        case kTrail:
            return true;
        case kInvalOne: {
            const std::uint64_t id = body.u64();
            if (!body.ok()) {
                fail("truncated CURSOR_INVAL_ONE");
                return false;
            }
            cache_.erase(id);
            return true;
        }
        case kInvalAll:
            cache_.clear();
            return true;
        default:
            report_unknown(type);
            return true;
    }
    session_.observer().on_cursor_changed();
    return true;
}

}  // namespace qxlbox::client
