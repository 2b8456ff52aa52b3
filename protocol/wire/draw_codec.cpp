#include "protocol/wire/draw_codec.h"

namespace qxlbox::proto::wire::wirecodec {

std::uint64_t cursor_data_bytes(CursorType type, std::uint16_t width, std::uint16_t height) {
    const std::uint64_t w = width;
    const std::uint64_t h = height;
    const std::uint64_t mask = (w + 7) / 8 * h;
    switch (type) {
    case CursorType::Alpha: return w * h * 4;
    case CursorType::Mono: return 2 * mask;
    case CursorType::Color4: return (w + 1) / 2 * h + 16 * 4 + mask;
    case CursorType::Color16: return w * h * 2 + mask;
    case CursorType::Color32: return w * h * 4 + mask;
    case CursorType::Color8:
    case CursorType::Color24: break;  // no client decodes these; accept whatever follows
    }
    return 0;
}

}  // namespace qxlbox::proto::wire::wirecodec
