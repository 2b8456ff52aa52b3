#include "hw/qxl/qxl_parser.h"

#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "hw/qxl/qxl_defs.h"

namespace qxlbox::hw::qxl {

namespace {

constexpr std::uint64_t kMaxDataChunk = 0x7fffffff;  // spice MAX_DATA_CHUNK
constexpr std::uint32_t kMaxCursorSide = 512;        // QEMU cursor_alloc limit (CVE-2021-4206)
constexpr std::uint32_t kMaxCursorChunks = 32;

proto::Rect ld_rect(const std::uint8_t* p) {
    return proto::Rect{static_cast<std::int32_t>(ld32(p)), static_cast<std::int32_t>(ld32(p + 4)),
                       static_cast<std::int32_t>(ld32(p + 8)), static_cast<std::int32_t>(ld32(p + 12))};
}
proto::Point ld_point(const std::uint8_t* p) {
    return proto::Point{static_cast<std::int32_t>(ld32(p)), static_cast<std::int32_t>(ld32(p + 4))};
}
proto::Point16 ld_point16(const std::uint8_t* p) {
    return proto::Point16{static_cast<std::int16_t>(ld16(p)), static_cast<std::int16_t>(ld16(p + 2))};
}
bool rect_ordered(const proto::Rect& r) {
    return r.left <= r.right && r.top <= r.bottom;
}
// Ordered and small enough that width()/height() and offsets cannot overflow downstream.
constexpr std::int32_t kMaxCoord = 1 << 28;
bool rect_sane(const proto::Rect& r) {
    return rect_ordered(r) && r.left >= -kMaxCoord && r.top >= -kMaxCoord && r.right <= kMaxCoord &&
           r.bottom <= kMaxCoord;
}
std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}
std::string rect_str(const proto::Rect& r) {
    return "(" + std::to_string(r.left) + "," + std::to_string(r.top) + ")-(" + std::to_string(r.right) + "," +
           std::to_string(r.bottom) + ")";
}

}  // namespace

bool CommandParser::fail(std::string reason) {
    if (error_.empty()) error_ = std::move(reason);
    return false;
}

bool CommandParser::fail_device(std::string reason) {
    if (error_.empty()) error_is_device_ = true;
    return fail(std::move(reason));
}

namespace {
void set_reject(ParsedCommand& out, const std::string& error, bool device) {
    out.error = error;
    if (error.empty()) return;
    out.body = std::monostate{};
    out.reject = device ? RejectKind::GuestBug : RejectKind::Dropped;
}
}  // namespace

bool CommandParser::take_budget(std::uint64_t size, const char* what) {
    if (size > env_.byte_budget) return fail(std::string(what) + ": command exceeds the device's copy budget");
    env_.byte_budget -= size;
    return true;
}

std::optional<GuestLoc> CommandParser::translate(std::uint64_t phys, std::uint64_t skip, std::uint64_t size,
                                                 const char* what) {
    TranslateResult t = env_.slots->translate(phys, size, skip);
    if (!t.loc) {
        fail(std::string(what) + ": bad pointer: " + t.error);
        return std::nullopt;
    }
    return t.loc;
}

bool CommandParser::read(std::uint64_t phys, std::uint64_t skip, void* out, std::uint64_t size, const char* what) {
    auto loc = translate(phys, skip, size, what);
    if (!loc || !take_budget(size, what)) return false;
    const std::uint8_t* base = loc->backing == Backing::Ram ? env_.ram : env_.vram;
    if (size) std::memcpy(out, base + loc->offset, size);
    if (env_.on_copy) env_.on_copy(static_cast<const std::uint8_t*>(out), size);
    if (env_.on_read) env_.on_read(phys, skip, size);
    return true;
}

std::optional<std::vector<std::uint8_t>> CommandParser::read_chunks(std::uint64_t chunk_phys,
                                                                    std::uint64_t expected_total,
                                                                    std::uint32_t max_chunks, const char* what) {
    if (expected_total > kMaxDataChunk) {
        fail(std::string(what) + ": data size " + std::to_string(expected_total) + " too large");
        return std::nullopt;
    }
    if (!take_budget(expected_total, what)) return std::nullopt;
    env_.byte_budget += expected_total;  // charged per chunk below; this was an early bound only
    std::vector<std::uint8_t> out;
    out.reserve(static_cast<std::size_t>(expected_total));
    std::unordered_set<std::uint64_t> visited;
    std::uint64_t cur = chunk_phys;
    std::uint32_t count = 0;
    while (cur != 0) {
        if (!visited.insert(cur).second) {
            fail(std::string(what) + ": data chunk chain loops");
            return std::nullopt;
        }
        if (++count > max_chunks || ++chunks_walked_ > env_.max_chunks) {
            fail(std::string(what) + ": too many data chunks");
            return std::nullopt;
        }
        std::uint8_t hdr[kDataChunkHeaderBytes];
        if (!read(cur, 0, hdr, sizeof hdr, what)) return std::nullopt;
        const std::uint32_t data_size = ld32(hdr);
        const std::uint64_t next = ld64(hdr + 12);
        if (data_size > expected_total - out.size()) {
            fail(std::string(what) + ": data chunks hold more than the " + std::to_string(expected_total) +
                 " bytes announced");
            return std::nullopt;
        }
        if (data_size) {
            const std::size_t at = out.size();
            out.resize(at + data_size);
            if (!read(cur, kDataChunkHeaderBytes, out.data() + at, data_size, what)) return std::nullopt;
        }
        cur = next;
    }
    if (out.size() != expected_total) {
        fail(std::string(what) + ": data chunks hold " + std::to_string(out.size()) + " bytes, expected " +
             std::to_string(expected_total));
        return std::nullopt;
    }
    return out;
}

std::uint32_t CommandParser::color(std::uint32_t raw) const {
    if (!(env_.cmdflags & QXL_COMMAND_FLAG_COMPAT_16BPP)) return raw;
    // Compat 16-bpp mode: colours arrive as x1r5g5b5; the server expands them to xRGB.
    const std::uint32_t r = (raw >> 10) & 31, g = (raw >> 5) & 31, b = raw & 31;
    return ((r << 3 | r >> 2) << 16) | ((g << 3 | g >> 2) << 8) | (b << 3 | b >> 2);
}

bool CommandParser::parse_bitmap(const std::uint8_t* b, bool is_mask, proto::Bitmap& out) {
    const std::uint8_t format = ld8(b);
    const std::uint8_t flags = ld8(b + 1);
    const std::uint32_t x = ld32(b + 2), y = ld32(b + 6), stride = ld32(b + 10);
    const std::uint64_t palette = ld64(b + 14), data = ld64(b + 22);
    if (format == 0 || format > 10) return fail("bitmap: invalid format " + std::to_string(format));
    const auto fmt = static_cast<proto::BitmapFormat>(format);
    if (x == 0 || y == 0) return fail("bitmap: zero width or height");
    const unsigned bpp = proto::bitmap_format_bpp(fmt);
    const std::uint64_t min_stride = (std::uint64_t{x} * bpp + 7) / 8;
    if (stride < min_stride) {
        return fail("bitmap: stride " + std::to_string(stride) + " < " + std::to_string(min_stride) + " for width " +
                    std::to_string(x));
    }
    const std::uint64_t size = std::uint64_t{y} * stride;
    if (size > kMaxDataChunk) return fail("bitmap: height * stride overflows");
    out.format = fmt;
    out.top_down = flags & QXL_BITMAP_TOP_DOWN;
    out.width = x;
    out.height = y;
    out.stride = stride;
    if (proto::bitmap_format_needs_palette(fmt) && !is_mask) {
        if (palette == 0) return fail("bitmap: palette required for format " + std::to_string(format));
    }
    if (palette != 0 && proto::bitmap_format_needs_palette(fmt)) {
        std::uint8_t ph[kPaletteHeaderBytes];
        if (!read(palette, 0, ph, sizeof ph, "palette")) return false;
        const std::uint16_t num_ents = ld16(ph + 8);
        const std::uint32_t max_ents = 1u << bpp;
        if (num_ents == 0 || num_ents > max_ents) {
            return fail("palette: " + std::to_string(num_ents) + " entries for a " + std::to_string(bpp) +
                        "-bit bitmap");
        }
        std::vector<std::uint8_t> raw(std::size_t{num_ents} * 4);
        if (!read(palette, kPaletteHeaderBytes, raw.data(), raw.size(), "palette")) return false;
        auto pal = std::make_shared<proto::Palette>();
        pal->unique = ld64(ph);
        pal->ents.resize(num_ents);
        for (std::size_t i = 0; i < num_ents; ++i) pal->ents[i] = color(ld32(raw.data() + 4 * i));
        out.palette = std::move(pal);
    }
    if (data == 0) return fail("bitmap: no data");
    if (flags & QXL_BITMAP_DIRECT) {
        out.data.resize(static_cast<std::size_t>(size));
        return read(data, 0, out.data.data(), size, "bitmap data");
    }
    auto bytes = read_chunks(data, size, env_.max_chunks, "bitmap data");
    if (!bytes) return false;
    out.data = std::move(*bytes);
    return true;
}

proto::ImagePtr CommandParser::parse_image(std::uint64_t phys, bool is_mask, bool& ok) {
    ok = false;
    std::uint8_t d[kImageDescriptorBytes];
    if (!read(phys, 0, d, sizeof d, "image")) return nullptr;
    auto img = std::make_shared<proto::Image>();
    img->id = ld64(d);
    const std::uint8_t type = ld8(d + 8);
    img->flags = ld8(d + 9);
    img->width = ld32(d + 10);
    img->height = ld32(d + 14);
    switch (type) {
        case static_cast<std::uint8_t>(proto::ImageType::Bitmap): {
            std::uint8_t b[kBitmapBytes];
            if (!read(phys, kImageDescriptorBytes, b, sizeof b, "bitmap")) return nullptr;
            proto::Bitmap bmp;
            if (!parse_bitmap(b, is_mask, bmp)) return nullptr;
            img->type = proto::ImageType::Bitmap;
            img->content = std::move(bmp);
            break;
        }
        case static_cast<std::uint8_t>(proto::ImageType::Quic): {
            std::uint8_t s[4];
            if (!read(phys, kImageDescriptorBytes, s, sizeof s, "quic image")) return nullptr;
            const std::uint32_t data_size = ld32(s);
            // The first QXLDataChunk sits in place right after data_size.
            auto first = env_.slots->translate(phys, kDataChunkHeaderBytes, kImageDescriptorBytes + 4);
            if (!first.loc) {
                fail("quic image: bad pointer: " + first.error);
                return nullptr;
            }
            const std::uint64_t chunk_phys = phys + kImageDescriptorBytes + 4;
            if ((chunk_phys & ~kPhysOffsetMask) != (phys & ~kPhysOffsetMask)) {
                fail("quic image: chunk address overflows");
                return nullptr;
            }
            auto bytes = read_chunks(chunk_phys, data_size, env_.max_chunks, "quic data");
            if (!bytes) return nullptr;
            proto::EncodedImage enc;
            enc.data = std::move(*bytes);
            img->type = proto::ImageType::Quic;
            img->content = std::move(enc);
            break;
        }
        case static_cast<std::uint8_t>(proto::ImageType::Surface): {
            std::uint8_t s[4];
            if (!read(phys, kImageDescriptorBytes, s, sizeof s, "surface image")) return nullptr;
            const std::uint32_t id = ld32(s);
            if (id >= env_.n_surfaces) {
                fail("surface image: surface id " + std::to_string(id) + " >= " + std::to_string(env_.n_surfaces));
                return nullptr;
            }
            if (!env_.surface || !env_.surface(id)) {
                fail("surface image: surface " + std::to_string(id) + " does not exist");
                return nullptr;
            }
            img->type = proto::ImageType::Surface;
            img->content = proto::SurfaceRef{id};
            break;
        }
        default:
            fail("image: type " + std::to_string(type) + " is not accepted from a guest");
            return nullptr;
    }
    ok = true;
    return img;
}

bool CommandParser::check_src_area(const proto::ImagePtr& img, const proto::Rect& a, const char* what) {
    if (a.left < 0 || a.top < 0 || !rect_ordered(a)) return fail(std::string(what) + ": bad src_area " + rect_str(a));
    std::uint64_t w = img->width, h = img->height;
    if (auto* bmp = std::get_if<proto::Bitmap>(&img->content)) {
        w = bmp->width;
        h = bmp->height;
    } else if (auto* sref = std::get_if<proto::SurfaceRef>(&img->content)) {
        auto s = env_.surface(sref->surface_id);
        w = s ? s->width : 0;
        h = s ? s->height : 0;
    }
    if (static_cast<std::uint64_t>(a.right) > w || static_cast<std::uint64_t>(a.bottom) > h) {
        return fail(std::string(what) + ": src_area " + rect_str(a) + " outside the " + std::to_string(w) + "x" +
                    std::to_string(h) + " source");
    }
    return true;
}

bool CommandParser::parse_brush(const std::uint8_t* p, proto::Brush& out) {
    const std::uint32_t type = ld32(p);
    switch (type) {
        case 0:
            out.type = proto::BrushType::None;
            return true;
        case 1:
            out.type = proto::BrushType::Solid;
            out.color = color(ld32(p + 4));
            return true;
        case 2: {
            out.type = proto::BrushType::Pattern;
            bool ok = false;
            out.pattern = parse_image(ld64(p + 4), false, ok);
            out.pos = ld_point(p + 12);
            return ok;
        }
        default:
            return fail("brush: invalid type " + std::to_string(type));
    }
}

bool CommandParser::parse_qmask(const std::uint8_t* p, proto::QMask& out) {
    out.flags = ld8(p);
    out.pos = ld_point(p + 1);
    const std::uint64_t bitmap = ld64(p + 9);
    if (bitmap == 0) return true;
    bool ok = false;
    out.bitmap = parse_image(bitmap, true, ok);
    return ok;
}

bool CommandParser::parse_clip(std::uint32_t type, std::uint64_t data, proto::Clip& out) {
    if (type == 0) {
        out.type = proto::ClipType::None;
        return true;
    }
    if (type != 1) return fail("clip: invalid type " + std::to_string(type));
    out.type = proto::ClipType::Rects;
    std::uint8_t n[4];
    if (!read(data, 0, n, sizeof n, "clip rects")) return false;
    const std::uint64_t num_rects = ld32(n);
    const std::uint64_t chunk_phys = data + 4;
    if ((chunk_phys & ~kPhysOffsetMask) != (data & ~kPhysOffsetMask)) return fail("clip rects: address overflows");
    auto bytes = read_chunks(chunk_phys, num_rects * 16, env_.max_chunks, "clip rects");
    if (!bytes) return false;
    out.rects.resize(static_cast<std::size_t>(num_rects));
    for (std::size_t i = 0; i < num_rects; ++i) {
        out.rects[i] = ld_rect(bytes->data() + 16 * i);
        if (!rect_sane(out.rects[i]))
            return fail("clip rects: rect " + rect_str(out.rects[i]) + " is inverted or huge");
    }
    return true;
}

bool CommandParser::parse_path(std::uint64_t phys, proto::Path& out) {
    std::uint8_t h[4];
    if (!read(phys, 0, h, sizeof h, "path")) return false;
    const std::uint64_t data_size = ld32(h);
    if (((phys + 4) & ~kPhysOffsetMask) != (phys & ~kPhysOffsetMask)) return fail("path: address overflows");
    auto bytes = read_chunks(phys + 4, data_size, env_.max_chunks, "path");
    if (!bytes) return false;
    std::size_t at = 0;
    while (at < bytes->size()) {
        if (bytes->size() - at < 8) return fail("path: truncated segment header");
        proto::PathSeg seg;
        seg.flags = ld32(bytes->data() + at);
        const std::uint64_t count = ld32(bytes->data() + at + 4);
        at += 8;
        if (count > (bytes->size() - at) / 8) return fail("path: segment point count exceeds the data");
        seg.points.resize(static_cast<std::size_t>(count));
        for (auto& pt : seg.points) {
            pt = proto::PointFix{static_cast<std::int32_t>(ld32(bytes->data() + at)),
                                 static_cast<std::int32_t>(ld32(bytes->data() + at + 4))};
            at += 8;
        }
        out.segments.push_back(std::move(seg));
    }
    return true;
}

bool CommandParser::parse_line_attr(const std::uint8_t* p, proto::LineAttr& out) {
    out.flags = ld8(p);
    out.join_style = ld8(p + 1);
    out.end_style = ld8(p + 2);
    const std::uint8_t nseg = ld8(p + 3);
    out.width = static_cast<std::int32_t>(ld32(p + 4));
    out.miter_limit = static_cast<std::int32_t>(ld32(p + 8));
    if (!(out.flags & proto::kLineStyled)) return true;
    if (nseg == 0) return fail("line attr: STYLED with no segments");
    std::vector<std::uint8_t> raw(std::size_t{nseg} * 4);
    if (!read(ld64(p + 12), 0, raw.data(), raw.size(), "line style")) return false;
    out.style.resize(nseg);
    for (std::size_t i = 0; i < nseg; ++i) out.style[i] = static_cast<std::int32_t>(ld32(raw.data() + 4 * i));
    return true;
}

bool CommandParser::parse_string(std::uint64_t phys, proto::GlyphString& out) {
    std::uint8_t h[8];
    if (!read(phys, 0, h, sizeof h, "string")) return false;
    const std::uint64_t data_size = ld32(h);
    const std::uint16_t length = ld16(h + 4);
    out.flags = ld16(h + 6);
    unsigned bpp = 0;
    const std::uint16_t raster = out.flags & (proto::kStringRasterA1 | proto::kStringRasterA4 | proto::kStringRasterA8);
    if (raster == proto::kStringRasterA1) bpp = 1;
    if (raster == proto::kStringRasterA4) bpp = 4;
    if (raster == proto::kStringRasterA8) bpp = 8;
    if (bpp == 0) return fail("string: flags " + std::to_string(out.flags) + " name no single raster depth");
    if (((phys + 8) & ~kPhysOffsetMask) != (phys & ~kPhysOffsetMask)) return fail("string: address overflows");
    auto bytes = read_chunks(phys + 8, data_size, env_.max_chunks, "string");
    if (!bytes) return false;
    std::size_t at = 0;
    while (at < bytes->size()) {
        if (bytes->size() - at < 20) return fail("string: truncated glyph header");
        const std::uint8_t* g = bytes->data() + at;
        proto::Glyph glyph;
        glyph.render_pos = ld_point(g);
        glyph.glyph_origin = ld_point(g + 8);
        glyph.width = ld16(g + 16);
        glyph.height = ld16(g + 18);
        at += 20;
        const std::uint64_t glyph_bytes = std::uint64_t{glyph.height} * ((std::uint64_t{glyph.width} * bpp + 7) / 8);
        if (glyph_bytes > bytes->size() - at) return fail("string: glyph bits exceed the data");
        glyph.data.assign(bytes->data() + at, bytes->data() + at + glyph_bytes);
        at += static_cast<std::size_t>(glyph_bytes);
        if (out.glyphs.size() >= length) return fail("string: more glyphs than length " + std::to_string(length));
        out.glyphs.push_back(std::move(glyph));
    }
    if (out.glyphs.size() != length) {
        return fail("string: " + std::to_string(out.glyphs.size()) + " glyphs, length says " + std::to_string(length));
    }
    return true;
}

bool CommandParser::parse_transform(std::uint64_t phys, std::optional<proto::Transform>& out) {
    if (phys == 0) return true;
    std::uint8_t t[24];
    if (!read(phys, 0, t, sizeof t, "transform")) return false;
    proto::Transform tr;
    for (std::size_t i = 0; i < 6; ++i) tr.t[i] = ld32(t + 4 * i);
    out = tr;
    return true;
}

bool CommandParser::parse_drawable(std::uint64_t phys, bool compat, proto::DrawCommand& out) {
    std::uint8_t d[kDrawableBytes];
    const std::size_t size = compat ? kCompatDrawableBytes : kDrawableBytes;
    if (!read(phys, 0, d, size, "drawable")) return false;
    std::uint8_t type = 0;
    const std::uint8_t* u = nullptr;
    std::uint32_t clip_type = 0;
    std::uint64_t clip_data = 0;
    std::uint8_t effect = 0;
    if (compat) {
        out.surface_id = 0;
        effect = ld8(d + 8);
        type = ld8(d + 9);
        out.self_bitmap = ld16(d + 10) != 0;
        out.self_bitmap_area = ld_rect(d + 12);
        out.bbox = ld_rect(d + 28);
        clip_type = ld32(d + 44);
        clip_data = ld64(d + 48);
        out.mm_time = ld32(d + 56);
        u = d + 60;
    } else {
        out.surface_id = ld32(d + 8);
        effect = ld8(d + 12);
        type = ld8(d + 13);
        out.self_bitmap = ld8(d + 14) != 0;
        out.self_bitmap_area = ld_rect(d + 15);
        out.bbox = ld_rect(d + 31);
        clip_type = ld32(d + 47);
        clip_data = ld64(d + 51);
        out.mm_time = ld32(d + 59);
        for (std::size_t i = 0; i < 3; ++i) {
            out.surfaces_dest[i] = static_cast<std::int32_t>(ld32(d + 63 + 4 * i));
            out.surfaces_rects[i] = ld_rect(d + 75 + 16 * i);
        }
        u = d + 123;
    }
    if (effect > static_cast<std::uint8_t>(proto::Effect::OpaqueBrush)) {
        return fail("drawable: invalid effect " + std::to_string(effect));
    }
    out.effect = static_cast<proto::Effect>(effect);
    if (out.surface_id >= env_.n_surfaces) {
        return fail("drawable: surface id " + std::to_string(out.surface_id) +
                    " >= " + std::to_string(env_.n_surfaces));
    }
    auto target = env_.surface(out.surface_id);
    if (!target) return fail("drawable: target surface " + std::to_string(out.surface_id) + " does not exist");
    const proto::Rect& bb = out.bbox;
    if (bb.left < 0 || bb.top < 0 || !rect_ordered(bb) || static_cast<std::uint32_t>(bb.right) > target->width ||
        static_cast<std::uint32_t>(bb.bottom) > target->height) {
        return fail("drawable: bbox " + rect_str(bb) + " outside the " + std::to_string(target->width) + "x" +
                    std::to_string(target->height) + " surface " + std::to_string(out.surface_id));
    }
    for (std::size_t i = 0; i < 3; ++i) {
        const std::int32_t dep = out.surfaces_dest[i];
        if (dep == -1) continue;
        if (dep < 0 || static_cast<std::uint32_t>(dep) >= env_.n_surfaces ||
            !env_.surface(static_cast<std::uint32_t>(dep))) {
            return fail("drawable: dependency surface " + std::to_string(dep) + " does not exist");
        }
    }
    if (out.self_bitmap && type != 3 && type != 5 && !rect_sane(out.self_bitmap_area))
        return fail("drawable: bad self_bitmap_area");
    for (std::size_t i = 0; i < 3; ++i) {
        if (out.surfaces_dest[i] != -1 && !rect_sane(out.surfaces_rects[i]))
            return fail("drawable: bad surfaces_rects");
    }
    if (!parse_clip(clip_type, clip_data, out.clip)) return false;

    auto copy_params = [&](proto::CopyParams& c) {
        bool ok = false;
        c.src_bitmap = parse_image(ld64(u), false, ok);
        if (!ok) return false;
        c.src_area = ld_rect(u + 8);
        c.rop_descriptor = ld16(u + 24);
        c.scale_mode = static_cast<proto::ScaleMode>(ld8(u + 26) & 1);
        return check_src_area(c.src_bitmap, c.src_area, "copy") && parse_qmask(u + 27, c.mask);
    };

    switch (type) {
        case 1: {
            proto::Fill f;
            if (!parse_brush(u, f.brush)) return false;
            f.rop_descriptor = ld16(u + 20);
            if (!parse_qmask(u + 22, f.mask)) return false;
            out.op = std::move(f);
            return true;
        }
        case 2: {
            proto::Opaque o;
            bool ok = false;
            o.src_bitmap = parse_image(ld64(u), false, ok);
            if (!ok) return false;
            o.src_area = ld_rect(u + 8);
            if (!check_src_area(o.src_bitmap, o.src_area, "opaque") || !parse_brush(u + 24, o.brush)) return false;
            o.rop_descriptor = ld16(u + 44);
            o.scale_mode = static_cast<proto::ScaleMode>(ld8(u + 46) & 1);
            if (!parse_qmask(u + 47, o.mask)) return false;
            out.op = std::move(o);
            return true;
        }
        case 3: {
            proto::Copy c;
            if (!copy_params(c)) return false;
            out.self_bitmap = false;
            out.op = std::move(c);
            return true;
        }
        case 4: {
            proto::CopyBits cb;
            cb.src_pos = ld_point(u);
            const std::int64_t sx = cb.src_pos.x, sy = cb.src_pos.y;
            if (sx < 0 || sy < 0 || sx + bb.width() > target->width || sy + bb.height() > target->height) {
                return fail("copy bits: source outside the surface");
            }
            out.op = cb;
            return true;
        }
        case 5: {
            proto::Blend b;
            if (!copy_params(b)) return false;
            out.self_bitmap = false;
            out.op = std::move(b);
            return true;
        }
        case 6:
        case 7:
        case 8: {
            proto::QMask m;
            if (!parse_qmask(u, m)) return false;
            if (type == 6) out.op = proto::Blackness{std::move(m)};
            if (type == 7) out.op = proto::Whiteness{std::move(m)};
            if (type == 8) out.op = proto::Invers{std::move(m)};
            return true;
        }
        case 9: {
            proto::Rop3 r;
            bool ok = false;
            r.src_bitmap = parse_image(ld64(u), false, ok);
            if (!ok) return false;
            r.src_area = ld_rect(u + 8);
            if (!check_src_area(r.src_bitmap, r.src_area, "rop3") || !parse_brush(u + 24, r.brush)) return false;
            r.rop3 = ld8(u + 44);
            r.scale_mode = static_cast<proto::ScaleMode>(ld8(u + 45) & 1);
            if (!parse_qmask(u + 46, r.mask)) return false;
            out.op = std::move(r);
            return true;
        }
        case 10: {
            proto::Stroke s;
            if (!parse_path(ld64(u), s.path) || !parse_line_attr(u + 8, s.attr) || !parse_brush(u + 28, s.brush)) {
                return false;
            }
            s.fore_mode = ld16(u + 48);
            s.back_mode = ld16(u + 50);
            out.op = std::move(s);
            return true;
        }
        case 11: {
            proto::Text t;
            if (!parse_string(ld64(u), t.str)) return false;
            t.back_area = ld_rect(u + 8);
            if (!rect_sane(t.back_area)) return fail("text: bad back_area " + rect_str(t.back_area));
            if (!parse_brush(u + 24, t.fore_brush) || !parse_brush(u + 44, t.back_brush)) return false;
            t.fore_mode = ld16(u + 64);
            t.back_mode = ld16(u + 66);
            out.op = std::move(t);
            return true;
        }
        case 12: {
            proto::Transparent t;
            bool ok = false;
            t.src_bitmap = parse_image(ld64(u), false, ok);
            if (!ok) return false;
            t.src_area = ld_rect(u + 8);
            if (!check_src_area(t.src_bitmap, t.src_area, "transparent")) return false;
            t.src_color = color(ld32(u + 24));
            t.true_color = color(ld32(u + 28));
            out.op = std::move(t);
            return true;
        }
        case 13: {
            proto::AlphaBlend a;
            const std::uint8_t* p = u;
            if (!compat) {
                a.alpha_flags = static_cast<std::uint8_t>(ld16(p) & 3);
                p += 2;
            }
            a.alpha = ld8(p);
            bool ok = false;
            a.src_bitmap = parse_image(ld64(p + 1), false, ok);
            if (!ok) return false;
            a.src_area = ld_rect(p + 9);
            if (!check_src_area(a.src_bitmap, a.src_area, "alpha blend")) return false;
            out.op = std::move(a);
            return true;
        }
        case QXL_DRAW_COMPOSITE: {
            if (compat) return fail("drawable: composite in compat mode");
            proto::Composite c;
            c.flags = ld32(u) & 0x7ffff;
            bool ok = false;
            c.src_bitmap = parse_image(ld64(u + 4), false, ok);
            if (!ok || !parse_transform(ld64(u + 12), c.src_transform)) return false;
            if (ld64(u + 20) != 0) {
                c.mask_bitmap = parse_image(ld64(u + 20), false, ok);
                if (!ok) return false;
                c.flags |= proto::composite::kHasMask;
            }
            if (!parse_transform(ld64(u + 28), c.mask_transform)) return false;
            if (c.src_transform) c.flags |= proto::composite::kHasSrcTransform;
            if (c.mask_transform) c.flags |= proto::composite::kHasMaskTransform;
            c.src_origin = ld_point16(u + 36);
            c.mask_origin = ld_point16(u + 40);
            out.op = std::move(c);
            return true;
        }
        default:
            return fail("drawable: invalid draw type " + std::to_string(type));
    }
}

bool CommandParser::parse_surface_cmd(std::uint64_t phys, ParsedCommand& out) {
    std::uint8_t s[kSurfaceCmdBytes];
    // QEMU maps the QXLSurfaceCmd and range-checks its id itself (qxl_track_command).
    if (!read(phys, 0, s, sizeof s, "surface command")) {
        error_is_device_ = true;
        return false;
    }
    const std::uint32_t id = ld32(s + 8);
    const std::uint8_t type = ld8(s + 12);
    if (id >= env_.n_surfaces) {
        return fail_device("surface command: surface id " + std::to_string(id) + " >= " +
                           std::to_string(env_.n_surfaces));
    }
    if (id == 0) return fail("surface command: surface 0 is the primary and is managed through I/O ports");
    const bool exists = env_.surface(id).has_value();
    if (type == QXL_SURFACE_CMD_DESTROY) {
        if (!exists) return fail("surface destroy: surface " + std::to_string(id) + " does not exist");
        out.body = proto::SurfaceDestroy{id};
        return true;
    }
    if (type != QXL_SURFACE_CMD_CREATE) return fail("surface command: invalid type " + std::to_string(type));
    if (exists) return fail("surface create: surface " + std::to_string(id) + " already exists");
    const std::uint32_t flags = ld32(s + 13);
    const std::uint32_t format = ld32(s + 17);
    const std::uint32_t width = ld32(s + 21), height = ld32(s + 25);
    const std::int32_t stride = static_cast<std::int32_t>(ld32(s + 29));
    const std::uint64_t data = ld64(s + 33);
    if (!proto::surface_format_valid(format)) return fail("surface create: invalid format " + std::to_string(format));
    if (width == 0 || height == 0) return fail("surface create: zero width or height");
    if (stride == INT32_MIN) return fail("surface create: stride INT32_MIN");
    const std::uint64_t abs_stride = stride < 0 ? std::uint64_t(-std::int64_t{stride}) : std::uint64_t(stride);
    if (abs_stride % 4) return fail("surface create: stride " + std::to_string(stride) + " not a multiple of 4");
    const unsigned bpp = proto::surface_format_bpp(static_cast<proto::SurfaceFormat>(format));
    if ((std::uint64_t{width} * bpp + 7) / 8 > abs_stride) return fail("surface create: stride too small for width");
    const std::uint64_t size = abs_stride * height;
    if (size > kMaxDataChunk) return fail("surface create: height * stride overflows");
    auto loc = translate(data, 0, size, "surface create");
    if (!loc) return false;
    proto::SurfaceCreate c;
    c.surface_id = id;
    c.format = static_cast<proto::SurfaceFormat>(format);
    c.width = width;
    c.height = height;
    c.stride = stride;
    c.flags = flags;
    c.primary = false;
    out.body = c;
    out.created_surface = SurfaceInfo{c.format, width, height, stride, *loc};
    return true;
}

bool CommandParser::parse_cursor_cmd(std::uint64_t phys, proto::CursorOp& out) {
    std::uint8_t c[kCursorCmdBytes];
    if (!read(phys, 0, c, sizeof c, "cursor command")) return false;
    const std::uint8_t type = ld8(c + 8);
    switch (type) {
        case QXL_CURSOR_SET: {
            proto::CursorSet set;
            set.position = ld_point16(c + 9);
            set.visible = ld8(c + 13) != 0;
            const std::uint64_t shape_phys = ld64(c + 14);
            std::uint8_t h[kCursorHeaderBytes];
            if (!read(shape_phys, 0, h, 22, "cursor shape")) return false;
            auto shape = std::make_shared<proto::CursorShape>();
            shape->unique = ld64(h);
            const std::uint16_t ctype = ld16(h + 8);
            // Width and height come from this one copy only (CVE-2021-4207).
            shape->width = ld16(h + 10);
            shape->height = ld16(h + 12);
            shape->hot_spot_x = ld16(h + 14);
            shape->hot_spot_y = ld16(h + 16);
            const std::uint64_t data_size = ld32(h + 18);
            if (ctype > static_cast<std::uint16_t>(proto::CursorType::Color32)) {
                return fail("cursor: invalid shape type " + std::to_string(ctype));
            }
            shape->type = static_cast<proto::CursorType>(ctype);
            const std::uint64_t w = shape->width, hgt = shape->height;
            if (w == 0 || hgt == 0 || w > kMaxCursorSide || hgt > kMaxCursorSide) {
                return fail("cursor: size " + std::to_string(w) + "x" + std::to_string(hgt) + " out of range");
            }
            const std::uint64_t mask_bytes = (w + 7) / 8 * hgt;
            std::uint64_t expected = 0;
            if (shape->type == proto::CursorType::Alpha) expected = w * hgt * 4;
            if (shape->type == proto::CursorType::Mono) expected = 2 * mask_bytes;
            if (expected != 0 && data_size != expected) {
                return fail("cursor: data_size " + std::to_string(data_size) + " != " + std::to_string(expected));
            }
            // Colour cursors: colour pixels (at most 32 bpp) + mask + a palette of at most 256.
            if (expected == 0 && data_size > w * hgt * 4 + mask_bytes + 1024)
                return fail("cursor: data_size too large");
            if (((shape_phys + 22) & ~kPhysOffsetMask) != (shape_phys & ~kPhysOffsetMask)) {
                return fail("cursor: address overflows");
            }
            auto bytes = read_chunks(shape_phys + 22, data_size, kMaxCursorChunks, "cursor data");
            if (!bytes) return false;
            shape->data = std::move(*bytes);
            set.shape = std::move(shape);
            out = std::move(set);
            return true;
        }
        case 1:
            out = proto::CursorMove{ld_point16(c + 9)};
            return true;
        case 2:
            out = proto::CursorHide{};
            return true;
        case QXL_CURSOR_TRAIL:
            out = proto::CursorTrail{ld16(c + 9), ld16(c + 11)};
            return true;
        default:
            return fail("cursor command: invalid type " + std::to_string(type));
    }
}

ParsedCommand CommandParser::parse_command(std::uint32_t type, std::uint64_t phys) {
    ParsedCommand out;
    error_.clear();
    error_is_device_ = false;
    // Of the command pointer itself QEMU maps only a QXLSurfaceCmd (qxl_track_command); a
    // bad pointer to anything else is the server's to reject.
    const bool device_maps = type == QXL_CMD_SURFACE;
    std::uint8_t rel[8];
    auto loc = env_.slots->translate(phys, 8);
    if (!loc.loc) {
        set_reject(out, "command at " + hex(phys) + ": bad pointer: " + loc.error, device_maps);
        return out;
    }
    if (!read(phys, 0, rel, sizeof rel, "release info")) {
        set_reject(out, error_, device_maps);
        return out;
    }
    out.release_id = ld64(rel);
    out.release_loc = loc.loc;
    const bool compat = env_.cmdflags & QXL_COMMAND_FLAG_COMPAT;
    switch (type) {
        case QXL_CMD_DRAW: {
            proto::DrawCommand d;
            if (parse_drawable(phys, compat, d)) out.body = std::move(d);
            break;
        }
        case QXL_CMD_SURFACE:
            parse_surface_cmd(phys, out);
            break;
        case QXL_CMD_UPDATE: {
            std::uint8_t u[kUpdateCmdBytes];
            if (!read(phys, 0, u, compat ? kCompatUpdateCmdBytes : kUpdateCmdBytes, "update command")) break;
            proto::UpdateCommand up;
            up.area = ld_rect(u + 8);
            if (!rect_sane(up.area)) {
                fail("update command: bad area " + rect_str(up.area));
                break;
            }
            up.update_id = ld32(u + 24);
            up.surface_id = compat ? 0 : ld32(u + 28);
            if (up.surface_id >= env_.n_surfaces) {
                fail("update command: surface id " + std::to_string(up.surface_id) + " out of range");
                break;
            }
            out.body = up;
            break;
        }
        case QXL_CMD_MESSAGE: {
            const std::uint64_t avail = env_.slots->bytes_to_slot_end(phys);
            if (avail < 8) {
                fail("message: no text");
                break;
            }
            const std::uint64_t len = std::min<std::uint64_t>(avail - 8, kMaxMessageBytes);
            std::vector<std::uint8_t> text(static_cast<std::size_t>(len));
            if (!read(phys, 8, text.data(), len, "message")) break;
            const void* nul = len ? std::memchr(text.data(), 0, text.size()) : nullptr;
            if (!nul) {
                fail("message: text is not NUL-terminated within the bound");
                break;
            }
            proto::MessageCommand m;
            m.text.assign(reinterpret_cast<const char*>(text.data()),
                          static_cast<const std::uint8_t*>(nul) - text.data());
            out.body = std::move(m);
            break;
        }
        default:
            fail("command ring: invalid command type " + std::to_string(type));
            break;
    }
    set_reject(out, error_, error_is_device_);
    return out;
}

ParsedCommand CommandParser::parse_cursor(std::uint32_t type, std::uint64_t phys) {
    ParsedCommand out;
    error_.clear();
    error_is_device_ = false;
    // QEMU maps the QXLCursorCmd itself (qxl_render_cursor), so a bad pointer to it is a
    // guest bug there; the cursor's contents are the server's to check.
    auto loc = env_.slots->translate(phys, kCursorCmdBytes);
    if (!loc.loc) {
        set_reject(out, "cursor command: bad pointer: " + loc.error, true);
        return out;
    }
    std::uint8_t rel[8];
    if (!read(phys, 0, rel, sizeof rel, "release info")) {
        set_reject(out, error_, true);
        return out;
    }
    out.release_id = ld64(rel);
    out.release_loc = loc.loc;
    if (type != QXL_CMD_CURSOR) {
        fail("cursor ring: invalid command type " + std::to_string(type));
    } else {
        proto::CursorOp op;
        if (parse_cursor_cmd(phys, op)) out.body = std::move(op);
    }
    set_reject(out, error_, error_is_device_);
    return out;
}

std::optional<proto::MonitorsConfig> CommandParser::parse_monitors_config(std::uint64_t phys, std::uint32_t max_heads) {
    error_.clear();
    std::uint8_t h[kMonitorsConfigHeaderBytes];
    if (!read(phys, 0, h, sizeof h, "monitors config")) return std::nullopt;
    // count and max_allowed are read once, here (CVE-2015-3247).
    const std::uint16_t count = ld16(h);
    const std::uint16_t max_allowed = ld16(h + 2);
    proto::MonitorsConfig cfg;
    cfg.max_allowed = max_allowed;
    if (count == 0 || count > max_allowed) return cfg;
    // Re-map with the full size the guest claims before copying any head.
    if (!translate(phys, 0, kMonitorsConfigHeaderBytes + std::uint64_t{max_allowed} * kHeadBytes, "monitors config")) {
        return std::nullopt;
    }
    const std::uint32_t n = std::min<std::uint32_t>(count, max_heads);
    std::vector<std::uint8_t> raw(std::size_t{n} * kHeadBytes);
    if (!read(phys, kMonitorsConfigHeaderBytes, raw.data(), raw.size(), "monitors config heads")) return std::nullopt;
    cfg.heads.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* p = raw.data() + i * kHeadBytes;
        cfg.heads[i] = proto::MonitorHead{ld32(p),      ld32(p + 4),  ld32(p + 8), ld32(p + 12),
                                          ld32(p + 16), ld32(p + 20), ld32(p + 24)};
    }
    return cfg;
}

}  // namespace qxlbox::hw::qxl
