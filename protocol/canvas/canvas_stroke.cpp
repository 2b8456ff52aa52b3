// STROKE: paths drawn as thin (zero-width) lines, as spice-common's canvas_draw_stroke() does
// whatever the line width: every subpath becomes a polyline of integer points (28.4 coordinates
// rounded with fix_to_int, Béziers flattened by recursive subdivision until the control points
// are within half a pixel), drawn with the X server's zero-width Bresenham rules (the default
// thin-line bias, CapNotLast: a polyline's last point is not drawn). The brush goes through the
// fore ROP; back_mode is ignored, as in spice-common.
//
// Styled lines: spice-common hands them to the X server's wide-dash code with width 1, which
// measures dashes as Euclidean length along the polyline. We keep the thin-line pixels and decide
// on/off per pixel from the same dash list (rounded style lengths truncated to bytes,
// START_WITH_GAP rotation) at that pixel's distance along the polyline. Horizontal and vertical
// dashed lines match; sloped dashed lines may differ from spice-common by a pixel here and there.
#include <cmath>
#include <vector>

#include "protocol/canvas/canvas_internal.h"

namespace qxlbox::proto::canvas_detail {

namespace {

__extension__ typedef __int128 Int128;

// fix_to_int(): rounds 28.4 to the nearest integer, halves going down.
int fix_to_int(std::int32_t fixed) {
    int val = fixed >> 4;
    if ((fixed & 0x0f) > 8) ++val;
    return val;
}

std::int32_t int_to_fix(int v) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(v) << 4); }

struct IntPoint {
    int x = 0;
    int y = 0;
};

// 28.4 dot product; 128-bit because hostile coordinates reach 2^33 in differences.
Int128 dot(std::int64_t x1, std::int64_t y1, std::int64_t x2, std::int64_t y2) {
    return (static_cast<Int128>(x1) * x2 + static_cast<Int128>(y1) * y2) >> 4;
}

// Recursion bound: 2^16 segments per curve is far below a pixel for any surface we accept, and
// stops the degenerate curves (all four points equal) that recurse forever in spice-common.
constexpr int kMaxBezierDepth = 16;

struct FixPoint64 {
    std::int64_t x = 0;
    std::int64_t y = 0;
};

void subdivide_bezier(std::vector<IntPoint>& pts, FixPoint64 p0, FixPoint64 p1, FixPoint64 p2, FixPoint64 p3,
                      int depth) {
    const Int128 a2 = dot(p1.x - p0.x, p1.y - p0.y, p1.x - p0.x, p1.y - p0.y);
    const Int128 b2 = dot(p3.x - p0.x, p3.y - p0.y, p3.x - p0.x, p3.y - p0.y);
    const Int128 c2 = dot(p2.x - p3.x, p2.y - p3.y, p2.x - p3.x, p2.y - p3.y);
    const Int128 ab = dot(p1.x - p0.x, p1.y - p0.y, p3.x - p0.x, p3.y - p0.y);
    const Int128 cb = dot(p2.x - p3.x, p2.y - p3.y, p0.x - p3.x, p0.y - p3.y);
    const Int128 h1 = (a2 * b2 - ab * ab) >> 3;
    const Int128 h2 = (c2 * b2 - cb * cb) >> 3;
    if ((h1 < b2 && h2 < b2) || depth >= kMaxBezierDepth) {
        pts.push_back({fix_to_int(static_cast<std::int32_t>(p3.x)), fix_to_int(static_cast<std::int32_t>(p3.y))});
        return;
    }
    // Integer halving truncates toward zero, as spice-common's C division does.
    auto mid = [](FixPoint64 a, FixPoint64 b) { return FixPoint64{(a.x + b.x) / 2, (a.y + b.y) / 2}; };
    const FixPoint64 p01 = mid(p0, p1), p12 = mid(p1, p2), p23 = mid(p2, p3);
    const FixPoint64 p012 = mid(p01, p12), p123 = mid(p12, p23);
    const FixPoint64 p0123 = mid(p012, p123);
    subdivide_bezier(pts, p0, p01, p012, p0123, depth + 1);
    subdivide_bezier(pts, p0123, p123, p23, p3, depth + 1);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// Octant bits and the default thin-line bias of the X server's mi layer.
constexpr unsigned kXDecreasing = 4, kYDecreasing = 2, kYMajor = 1;
constexpr unsigned kDefaultBias = (1u << (kYDecreasing | kYMajor)) | (1u << (kXDecreasing | kYDecreasing | kYMajor)) |
                                  (1u << (kXDecreasing | kYDecreasing)) | (1u << kXDecreasing);

class LinePainter {
public:
    LinePainter(pixman_image_t* dest, const Region& region, Rop rop, std::uint32_t color, pixman_image_t* tile,
                Point tile_origin, std::vector<int> dashes, int dash_offset)
        : dest_(dest), region_(region), rop_(rop), color_(color), tile_(tile), tile_origin_(tile_origin),
          dashes_(std::move(dashes)), bpp_(image_bpp(dest)) {
        if (!dashes_.empty()) {
            if (dashes_.size() % 2 == 1) {
                // An odd dash list alternates on/off across two passes.
                const std::size_t n = dashes_.size();
                for (std::size_t i = 0; i < n; ++i) dashes_.push_back(dashes_[i]);
            }
            for (int d : dashes_) dash_total_ += d;
            dash_offset_ = dash_total_ > 0 ? dash_offset % dash_total_ : 0;
        }
        width_ = pixman_image_get_width(dest);
        height_ = pixman_image_get_height(dest);
    }

    void polyline(const std::vector<IntPoint>& pts) {
        double dash_pos = static_cast<double>(dash_offset_);
        for (std::size_t i = 1; i < pts.size(); ++i) {
            segment(pts[i - 1], pts[i], dash_pos);
        }
    }

private:
    bool dash_on(double pos) const {
        if (dashes_.empty() || dash_total_ <= 0) return true;
        double p = std::fmod(pos, static_cast<double>(dash_total_));
        for (std::size_t i = 0; i < dashes_.size(); ++i) {
            if (p < dashes_[i]) return i % 2 == 0;
            p -= dashes_[i];
        }
        return false;
    }

    void plot(int x, int y) {
        if (!pixman_region32_contains_point(const_cast<pixman_region32_t*>(region_.get()), x, y, nullptr)) return;
        std::uint8_t* row = row_of(dest_, y);
        std::uint32_t src = color_;
        if (tile_) {
            const int tw = pixman_image_get_width(tile_), th = pixman_image_get_height(tile_);
            int tx = static_cast<int>((static_cast<std::int64_t>(x) - tile_origin_.x) % tw);
            int ty = static_cast<int>((static_cast<std::int64_t>(y) - tile_origin_.y) % th);
            if (tx < 0) tx += tw;
            if (ty < 0) ty += th;
            src = load_pixel(row_of(tile_, ty), bpp_, tx);
        }
        store_pixel(row, bpp_, x, rop_ == Rop::Copy ? src : apply_rop(rop_, src, load_pixel(row, bpp_, x)));
    }

    // One miZeroLine segment without its end point. Pixel i of an x-major line is at
    // (x1 + sx*i, y1 + sy*k(i)) with k(i) = floor((E0 + i*2ady) / 2adx) + 1, the closed form of
    // the Bresenham loop, so clipped parts are skipped instead of walked.
    void segment(IntPoint a, IntPoint b, double& dash_pos) {
        const std::int64_t adx = b.x >= a.x ? std::int64_t{b.x} - a.x : std::int64_t{a.x} - b.x;
        const std::int64_t ady = b.y >= a.y ? std::int64_t{b.y} - a.y : std::int64_t{a.y} - b.y;
        const int sx = b.x >= a.x ? 1 : -1, sy = b.y >= a.y ? 1 : -1;
        unsigned octant = (b.x < a.x ? kXDecreasing : 0u) | (b.y < a.y ? kYDecreasing : 0u);
        const bool x_major = adx > ady;
        if (!x_major) octant |= kYMajor;
        const std::int64_t bias = (kDefaultBias >> octant) & 1u;
        const std::int64_t major = x_major ? adx : ady, minor = x_major ? ady : adx;
        const std::int64_t e0 = -major - bias;
        const int major_start = x_major ? a.x : a.y, minor_start = x_major ? a.y : a.x;
        const int major_step = x_major ? sx : sy, minor_step = x_major ? sy : sx;
        const int major_limit = x_major ? width_ : height_;
        // Range of i with the major coordinate inside [0, limit).
        std::int64_t lo = 0, hi = major;
        if (major_step > 0) {
            lo = std::max<std::int64_t>(lo, -std::int64_t{major_start});
            hi = std::min<std::int64_t>(hi, std::int64_t{major_limit} - major_start);
        } else {
            lo = std::max<std::int64_t>(lo, std::int64_t{major_start} - major_limit + 1);
            hi = std::min<std::int64_t>(hi, std::int64_t{major_start} + 1);
        }
        const double length = std::hypot(static_cast<double>(adx), static_cast<double>(ady));
        const double step = major == 0 ? 0.0 : length / static_cast<double>(major);
        for (std::int64_t i = lo; i < hi; ++i) {
            if (!dashes_.empty() && !dash_on(dash_pos + static_cast<double>(i) * step)) continue;
            const std::int64_t k = major == 0 ? 0 : floor_div(e0 + i * 2 * minor, 2 * major) + 1;
            const std::int64_t maj = major_start + major_step * i;
            const std::int64_t min = minor_start + minor_step * k;
            const std::int64_t x = x_major ? maj : min, y = x_major ? min : maj;
            if (x < 0 || y < 0 || x >= width_ || y >= height_) continue;
            plot(static_cast<int>(x), static_cast<int>(y));
        }
        dash_pos += length;
    }

    pixman_image_t* dest_;
    const Region& region_;
    Rop rop_;
    std::uint32_t color_;
    pixman_image_t* tile_;
    Point tile_origin_;
    std::vector<int> dashes_;
    int bpp_;
    std::int64_t dash_total_ = 0;
    std::int64_t dash_offset_ = 0;
    int width_ = 0;
    int height_ = 0;
};

// Flattens the path into polylines the way spice-common walks it. Error for malformed paths.
Result<std::vector<std::vector<IntPoint>>> flatten(const Path& path) {
    std::vector<std::vector<IntPoint>> lines;
    std::vector<IntPoint> cur;
    std::size_t finished_points = 0;
    for (const PathSeg& seg : path.segments) {
        std::size_t i = 0;
        const std::size_t n = seg.points.size();
        if (seg.flags & kPathBegin) {
            if (n == 0) return std::string("path segment with BEGIN but no points");
            finished_points += cur.size();
            if (!cur.empty()) lines.push_back(std::move(cur));
            cur.clear();
            cur.push_back({fix_to_int(seg.points[0].x), fix_to_int(seg.points[0].y)});
            i = 1;
        }
        if (seg.flags & kPathBezier) {
            if ((n - i) % 3 != 0) return std::string("Bézier path segment with a point count not a multiple of 3");
            if (n > i && cur.empty()) return std::string("Bézier path segment without a start point");
            for (; i + 2 < n; i += 3) {
                const FixPoint64 p0{int_to_fix(cur.back().x), int_to_fix(cur.back().y)};
                auto fp = [](const PointFix& p) { return FixPoint64{p.x, p.y}; };
                subdivide_bezier(cur, p0, fp(seg.points[i]), fp(seg.points[i + 1]), fp(seg.points[i + 2]), 0);
            }
        } else {
            for (; i < n; ++i) cur.push_back({fix_to_int(seg.points[i].x), fix_to_int(seg.points[i].y)});
        }
        if (seg.flags & kPathEnd) {
            if ((seg.flags & kPathClose) && !cur.empty()) cur.push_back(cur.front());
            finished_points += cur.size();
            if (!cur.empty()) lines.push_back(std::move(cur));
            cur.clear();
        }
        if (finished_points + cur.size() > (std::size_t{1} << 24)) return std::string("path is absurdly long");
    }
    if (!cur.empty()) lines.push_back(std::move(cur));
    return lines;
}

}  // namespace

DrawResult draw_stroke(Surface& target, const DrawCommand& cmd, const Stroke& stroke, SurfaceResolver* resolver) {
    auto flat = flatten(stroke.path);
    if (auto* e = std::get_if<std::string>(&flat)) return DrawResult::failure(*e);

    std::vector<int> dashes;
    int dash_offset = 0;
    if (stroke.attr.flags & kLineStyled) {
        if (stroke.attr.style.empty()) return DrawResult::failure("styled line without a style");
        const std::size_t n = stroke.attr.style.size();
        dashes.resize(n);
        // Dash lengths are bytes in the X GC, hence the truncation.
        auto len = [&](std::size_t i) { return static_cast<int>(static_cast<std::uint8_t>(fix_to_int(stroke.attr.style[i]))); };
        if (stroke.attr.flags & kLineStartWithGap) {
            dashes[n - 1] = len(0);
            for (std::size_t i = 0; i + 1 < n; ++i) dashes[i] = len(i + 1);
            dash_offset = dashes[0];
        } else {
            for (std::size_t i = 0; i < n; ++i) dashes[i] = len(i);
        }
        int total = 0;
        for (int d : dashes) total += d;
        if (total == 0) return DrawResult::failure("line style has zero length");
    }

    SourceContext ctx{target, resolver};
    ImageRef tile;
    std::uint32_t color = 0;
    switch (stroke.brush.type) {
    case BrushType::None: break;
    case BrushType::Solid: color = stroke.brush.color; break;
    case BrushType::Pattern: {
        auto t = acquire_source(ctx, stroke.brush.pattern, false);
        if (auto* e = std::get_if<std::string>(&t)) return DrawResult::failure("pattern brush: " + *e);
        tile = std::move(std::get<ImageRef>(t));
        if (image_bpp(tile.get()) != image_bpp(target.pixman())) return DrawResult::failure("pattern depth mismatch");
        break;
    }
    default: return DrawResult::failure("unknown brush type");
    }

    Region region;
    if (auto r = base_region(target, cmd, region); std::holds_alternative<std::string>(r)) {
        return DrawResult::failure(std::get<std::string>(r));
    }
    if (region.empty()) return {};
    const Rop rop = rop_from_descriptor(stroke.fore_mode, RopInput::Brush, RopInput::Dest);
    LinePainter painter(target.pixman(), region, rop, color, tile.get(), stroke.brush.pos, dashes, dash_offset);
    for (const auto& line : std::get<std::vector<std::vector<IntPoint>>>(flat)) painter.polyline(line);
    return {};
}

}  // namespace qxlbox::proto::canvas_detail
