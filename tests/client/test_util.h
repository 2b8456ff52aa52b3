// Helpers shared by the client tests: building server messages and images.
#pragma once

#include <cstdint>
#include <vector>

#include "client/headless.h"
#include "protocol/codec/lz.h"
#include "protocol/wire/messages.h"
#include "tests/client/fake_server.h"

namespace qxlbox::client::test {

namespace proto = qxlbox::proto;

// Deterministic test pattern, B,G,R,X bytes.
inline std::vector<std::uint8_t> pattern_bgrx(std::uint32_t w, std::uint32_t h, std::uint32_t seed = 1) {
    std::vector<std::uint8_t> px(std::size_t{w} * h * 4);
    for (std::uint32_t y = 0; y < h; ++y) {
        for (std::uint32_t x = 0; x < w; ++x) {
            std::uint8_t* p = &px[(std::size_t{y} * w + x) * 4];
            p[0] = static_cast<std::uint8_t>(x * 7 + seed);
            p[1] = static_cast<std::uint8_t>(y * 5 + seed * 3);
            p[2] = static_cast<std::uint8_t>((x ^ y) + seed * 11);
            p[3] = 0;
        }
    }
    return px;
}

// The RGB a client should show for pattern_bgrx.
inline RgbImage pattern_rgb(std::uint32_t w, std::uint32_t h, std::uint32_t seed = 1) {
    const auto px = pattern_bgrx(w, h, seed);
    RgbImage out{w, h, std::vector<std::uint8_t>(std::size_t{w} * h * 3)};
    for (std::size_t i = 0; i < std::size_t{w} * h; ++i) {
        out.rgb[3 * i] = px[4 * i + 2];
        out.rgb[3 * i + 1] = px[4 * i + 1];
        out.rgb[3 * i + 2] = px[4 * i];
    }
    return out;
}

inline proto::ImagePtr bitmap_image(std::uint32_t w, std::uint32_t h, std::uint64_t id, std::uint8_t flags,
                                    std::uint32_t seed = 1) {
    auto img = std::make_shared<proto::Image>();
    img->id = id;
    img->type = proto::ImageType::Bitmap;
    img->flags = flags;
    img->width = w;
    img->height = h;
    proto::Bitmap b;
    b.format = proto::BitmapFormat::Bit32;
    b.top_down = true;
    b.width = w;
    b.height = h;
    b.stride = w * 4;
    b.data = pattern_bgrx(w, h, seed);
    img->content = std::move(b);
    return img;
}

inline proto::ImagePtr lz_image(std::uint32_t w, std::uint32_t h, std::uint64_t id, std::uint32_t seed = 1) {
    auto img = std::make_shared<proto::Image>();
    img->id = id;
    img->type = proto::ImageType::LzRgb;
    img->width = w;
    img->height = h;
    proto::EncodedImage enc;
    const auto px = pattern_bgrx(w, h, seed);
    auto data = proto::codec::lz_encode(proto::codec::LzImageType::Rgb32, w, h, true, px, w * 4);
    if (data) enc.data = std::move(data).value();
    img->content = std::move(enc);
    return img;
}

inline proto::ImagePtr from_cache_image(std::uint32_t w, std::uint32_t h, std::uint64_t id) {
    auto img = std::make_shared<proto::Image>();
    img->id = id;
    img->type = proto::ImageType::FromCache;
    img->width = w;
    img->height = h;
    img->content = std::monostate{};
    return img;
}

inline proto::wire::MsgDisplaySurfaceCreate primary_surface(std::uint32_t w, std::uint32_t h) {
    proto::wire::MsgDisplaySurfaceCreate m;
    m.surface_id = 0;
    m.width = w;
    m.height = h;
    m.format = proto::SurfaceFormat::XRGB32;
    m.flags = proto::wire::MsgDisplaySurfaceCreate::kFlagPrimary;
    return m;
}

inline proto::wire::MsgDisplayDrawCopy draw_copy(proto::ImagePtr image, std::int32_t x, std::int32_t y) {
    proto::wire::MsgDisplayDrawCopy m;
    const auto w = static_cast<std::int32_t>(image->width), h = static_cast<std::int32_t>(image->height);
    m.cmd.surface_id = 0;
    m.cmd.bbox = {y, x, y + h, x + w};
    proto::Copy c;
    c.src_bitmap = std::move(image);
    c.src_area = {0, 0, h, w};
    c.rop_descriptor = proto::rop::kOpPut;
    m.cmd.op = std::move(c);
    return m;
}

inline proto::wire::MsgDisplayDrawFill solid_fill(proto::Rect box, std::uint32_t color) {
    proto::wire::MsgDisplayDrawFill m;
    m.cmd.surface_id = 0;
    m.cmd.bbox = box;
    proto::Fill f;
    f.brush.type = proto::BrushType::Solid;
    f.brush.color = color;
    m.cmd.op = std::move(f);
    return m;
}

// Runs the headless client against `server` with a short timeout.
inline HeadlessResult run_client(const FakeServer& server, double timeout_s = 5, unsigned marks = 1,
                                 std::string password = "", std::vector<std::string>* log = nullptr) {
    SessionOptions s;
    s.endpoint = server.endpoint();
    s.password = std::move(password);
    s.link_timeout_ms = 3000;
    s.log = [log](const std::string& line) {
        if (log) log->push_back(line);
    };
    HeadlessOptions h;
    h.after_marks = marks;
    h.timeout_s = timeout_s;
    return run_headless(s, h);
}

}  // namespace qxlbox::client::test
