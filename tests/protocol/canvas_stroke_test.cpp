#include "canvas_test_util.h"

#include <random>
#include <set>

namespace qxlbox::proto::test {
namespace {

PointFix fx(int x, int y) { return {x * 16, y * 16}; }

Stroke polyline(const std::vector<PointFix>& pts, std::uint32_t flags = kPathBegin | kPathEnd) {
    Stroke s;
    PathSeg seg;
    seg.flags = flags;
    seg.points = pts;
    s.path.segments.push_back(seg);
    s.brush = solid(0xffffff);
    return s;
}

DrawCommand stroke_cmd(const Stroke& s, int w, int h) { return command(rect(0, 0, w, h), s); }

std::set<std::pair<int, int>> lit(const Surface& s, std::uint32_t background = 0) {
    std::set<std::pair<int, int>> out;
    for (std::uint32_t y = 0; y < s.height(); ++y)
        for (std::uint32_t x = 0; x < s.width(); ++x)
            if (pixel(s, static_cast<int>(x), static_cast<int>(y)) != background)
                out.insert({static_cast<int>(x), static_cast<int>(y)});
    return out;
}

// The X server's zero-width line loop, written out step by step, without clipping and without
// the last point (CapNotLast); the default bias prefers axial steps in octants 2 to 5.
std::vector<std::pair<int, int>> bresenham_model(int x1, int y1, int x2, int y2) {
    std::vector<std::pair<int, int>> pts;
    int adx = x2 - x1, ady = y2 - y1, sx = 1, sy = 1;
    int octant = 0;
    if (adx < 0) {
        adx = -adx;
        sx = -1;
        octant |= 4;
    }
    if (ady < 0) {
        ady = -ady;
        sy = -1;
        octant |= 2;
    }
    const unsigned bias = (1u << 3) | (1u << 7) | (1u << 6) | (1u << 4);
    int x = x1, y = y1;
    if (adx > ady) {
        const int e1 = 2 * ady, e2 = e1 - 2 * adx;
        int e = e1 - adx - static_cast<int>((bias >> octant) & 1u);
        const int e3 = e2 - e1;
        e -= e1;
        for (int i = 0; i < adx; ++i) {
            pts.push_back({x, y});
            e += e1;
            if (e >= 0) {
                y += sy;
                e += e3;
            }
            x += sx;
        }
    } else {
        octant |= 1;
        const int e1 = 2 * adx, e2 = e1 - 2 * ady;
        int e = e1 - ady - static_cast<int>((bias >> octant) & 1u);
        const int e3 = e2 - e1;
        e -= e1;
        for (int i = 0; i < ady; ++i) {
            pts.push_back({x, y});
            e += e1;
            if (e >= 0) {
                x += sx;
                e += e3;
            }
            y += sy;
        }
    }
    return pts;
}

TEST(CanvasStroke, HorizontalLineOmitsItsLastPoint) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 3);
    ASSERT_TRUE(draw(*s, stroke_cmd(polyline({fx(1, 1), fx(5, 1)}), 8, 3), nullptr).ok);
    std::set<std::pair<int, int>> want = {{1, 1}, {2, 1}, {3, 1}, {4, 1}};
    EXPECT_EQ(lit(*s), want);
}

TEST(CanvasStroke, EveryDirectionMatchesTheXServerLoop) {
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int> coord(-12, 40);
    for (int i = 0; i < 300; ++i) {
        const int x1 = coord(rng), y1 = coord(rng), x2 = coord(rng), y2 = coord(rng);
        auto s = make_surface(SurfaceFormat::XRGB32, 29, 23);
        ASSERT_TRUE(draw(*s, stroke_cmd(polyline({fx(x1, y1), fx(x2, y2)}), 29, 23), nullptr).ok);
        std::set<std::pair<int, int>> want;
        for (auto p : bresenham_model(x1, y1, x2, y2))
            if (p.first >= 0 && p.second >= 0 && p.first < 29 && p.second < 23) want.insert(p);
        ASSERT_EQ(lit(*s), want) << x1 << "," << y1 << " -> " << x2 << "," << y2;
    }
}

TEST(CanvasStroke, FixedPointCoordinatesRoundHalfDown) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 3);
    // x = 1.5 rounds to 1, x = 4.5625 rounds to 5.
    ASSERT_TRUE(draw(*s, stroke_cmd(polyline({{24, 16}, {73, 16}}), 8, 3), nullptr).ok);
    std::set<std::pair<int, int>> want = {{1, 1}, {2, 1}, {3, 1}, {4, 1}};
    EXPECT_EQ(lit(*s), want);
}

TEST(CanvasStroke, PolylineVerticesAreDrawnOnce) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 8);
    Stroke st = polyline({fx(1, 1), fx(4, 1), fx(4, 4)});
    st.fore_mode = rop::kOpXor;
    ASSERT_TRUE(draw(*s, stroke_cmd(st, 8, 8), nullptr).ok);
    std::set<std::pair<int, int>> want = {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {4, 2}, {4, 3}};
    EXPECT_EQ(lit(*s), want);
    EXPECT_EQ(pixel(*s, 4, 1), 0xffffffu);
}

TEST(CanvasStroke, ClosedPathReturnsToItsStart) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 8);
    Stroke st = polyline({fx(1, 1), fx(4, 1), fx(4, 4)}, kPathBegin | kPathEnd | kPathClose);
    ASSERT_TRUE(draw(*s, stroke_cmd(st, 8, 8), nullptr).ok);
    auto got = lit(*s);
    EXPECT_TRUE(got.count({3, 3}) && got.count({2, 2})) << "diagonal back to the start";
    EXPECT_FALSE(got.count({1, 1}) == 0);
}

TEST(CanvasStroke, SeveralSubpathsEachOmitTheirLastPoint) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 8);
    Stroke st;
    st.brush = solid(1);
    PathSeg a;
    a.flags = kPathBegin | kPathEnd;
    a.points = {fx(0, 0), fx(3, 0)};
    PathSeg b;
    b.flags = kPathBegin;
    b.points = {fx(0, 2), fx(2, 2)};
    PathSeg c;
    c.flags = kPathEnd;
    c.points = {fx(2, 5)};
    st.path.segments = {a, b, c};
    ASSERT_TRUE(draw(*s, stroke_cmd(st, 8, 8), nullptr).ok);
    std::set<std::pair<int, int>> want = {{0, 0}, {1, 0}, {2, 0}, {0, 2}, {1, 2}, {2, 2}, {2, 3}, {2, 4}};
    EXPECT_EQ(lit(*s), want);
}

TEST(CanvasStroke, StraightBezierIsAStraightLine) {
    auto a = make_surface(SurfaceFormat::XRGB32, 20, 4);
    auto b = make_surface(SurfaceFormat::XRGB32, 20, 4);
    Stroke curve;
    curve.brush = solid(1);
    PathSeg seg;
    seg.flags = kPathBegin | kPathEnd | kPathBezier;
    seg.points = {fx(1, 2), fx(6, 2), fx(12, 2), fx(18, 2)};
    curve.path.segments = {seg};
    ASSERT_TRUE(draw(*a, stroke_cmd(curve, 20, 4), nullptr).ok);
    Stroke line = polyline({fx(1, 2), fx(18, 2)});
    line.brush = solid(1);
    ASSERT_TRUE(draw(*b, stroke_cmd(line, 20, 4), nullptr).ok);
    EXPECT_EQ(lit(*a), lit(*b));
}

TEST(CanvasStroke, CurvedBezierBendsTowardItsControlPoints) {
    auto s = make_surface(SurfaceFormat::XRGB32, 40, 40);
    Stroke curve;
    curve.brush = solid(1);
    PathSeg seg;
    seg.flags = kPathBegin | kPathEnd | kPathBezier;
    seg.points = {fx(2, 30), fx(2, 2), fx(36, 2), fx(36, 30)};
    curve.path.segments = {seg};
    ASSERT_TRUE(draw(*s, stroke_cmd(curve, 40, 40), nullptr).ok);
    auto got = lit(*s);
    EXPECT_GT(got.size(), 40u);
    int top = 40;
    for (auto p : got) top = std::min(top, p.second);
    EXPECT_GE(top, 8);  // the curve's apex is at y = 30 - 0.75 * 28 = 9
    EXPECT_LE(top, 10);
}

TEST(CanvasStroke, DegenerateBezierTerminates) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 8);
    Stroke curve;
    curve.brush = solid(1);
    PathSeg seg;
    seg.flags = kPathBegin | kPathEnd | kPathBezier;
    seg.points = {fx(3, 3), fx(3, 3), fx(3, 3), fx(3, 3)};
    curve.path.segments = {seg};
    EXPECT_TRUE(draw(*s, stroke_cmd(curve, 8, 8), nullptr).ok);
}

TEST(CanvasStroke, ClipLimitsTheLine) {
    auto s = make_surface(SurfaceFormat::XRGB32, 10, 3);
    auto cmd = stroke_cmd(polyline({fx(0, 1), fx(10, 1)}), 10, 3);
    cmd.clip.type = ClipType::Rects;
    cmd.clip.rects = {rect(3, 0, 6, 3)};
    ASSERT_TRUE(draw(*s, cmd, nullptr).ok);
    std::set<std::pair<int, int>> want = {{3, 1}, {4, 1}, {5, 1}};
    EXPECT_EQ(lit(*s), want);
}

TEST(CanvasStroke, HugeOffSurfaceLineIsClippedQuickly) {
    auto s = make_surface(SurfaceFormat::XRGB32, 16, 4);
    const int far = 1 << 26;
    ASSERT_TRUE(draw(*s, stroke_cmd(polyline({fx(-far, 2), fx(far, 2)}), 16, 4), nullptr).ok);
    for (int x = 0; x < 16; ++x) EXPECT_EQ(pixel(*s, x, 2), 0xffffffu);
    EXPECT_EQ(pixel(*s, 0, 1), 0u);
}

TEST(CanvasStroke, PatternBrushAndRop) {
    auto s = make_surface(SurfaceFormat::XRGB32, 6, 1);
    fill_surface(*s, 0xf0);
    Stroke st = polyline({fx(0, 0), fx(6, 0)});
    st.brush.type = BrushType::Pattern;
    st.brush.pattern = bitmap32(2, 1, {0x0f, 0x01});
    st.brush.pos = {1, 0};
    st.fore_mode = rop::kOpOr;
    ASSERT_TRUE(draw(*s, command(rect(0, 0, 6, 1), st), nullptr).ok);
    EXPECT_EQ(pixel(*s, 0, 0), 0xf1u);
    EXPECT_EQ(pixel(*s, 1, 0), 0xffu);
    EXPECT_EQ(pixel(*s, 4, 0), 0xf1u);
    EXPECT_EQ(pixel(*s, 5, 0), 0xffu);
}

TEST(CanvasStroke, StyledLineAlternatesDashesAcrossVertices) {
    auto s = make_surface(SurfaceFormat::XRGB32, 12, 6);
    Stroke st = polyline({fx(0, 0), fx(5, 0), fx(5, 5)});
    st.attr.flags = kLineStyled;
    st.attr.style = {2 * 16, 1 * 16};
    ASSERT_TRUE(draw(*s, stroke_cmd(st, 12, 6), nullptr).ok);
    // Steps 0..9 along the polyline: on, on, off, on, on, off, ...
    std::set<std::pair<int, int>> want = {{0, 0}, {1, 0}, {3, 0}, {4, 0}, {5, 1}, {5, 2}, {5, 4}};
    EXPECT_EQ(lit(*s), want);
}

TEST(CanvasStroke, SlopedDashesAreMeasuredAlongTheLine) {
    auto s = make_surface(SurfaceFormat::XRGB32, 12, 12);
    Stroke st = polyline({fx(0, 0), fx(10, 10)});
    st.attr.flags = kLineStyled;
    st.attr.style = {3 * 16, 3 * 16};
    ASSERT_TRUE(draw(*s, stroke_cmd(st, 12, 12), nullptr).ok);
    // Pixel i lies i * sqrt(2) along the line: on in [0, 3) and [6, 9) modulo 6.
    std::set<std::pair<int, int>> want;
    for (int i : {0, 1, 2, 5, 6, 9}) want.insert({i, i});
    EXPECT_EQ(lit(*s), want);
}

TEST(CanvasStroke, StartWithGapRotatesTheStyle) {
    auto s = make_surface(SurfaceFormat::XRGB32, 12, 1);
    Stroke st = polyline({fx(0, 0), fx(12, 0)});
    st.attr.flags = kLineStyled | kLineStartWithGap;
    st.attr.style = {1 * 16, 2 * 16, 3 * 16};
    ASSERT_TRUE(draw(*s, stroke_cmd(st, 12, 1), nullptr).ok);
    // Dash list [2, 3, 1] (doubled: on 2, off 3, on 1, off 2, on 3, off 1), offset 2.
    std::string got;
    for (int x = 0; x < 11; ++x) got += pixel(*s, x, 0) ? '#' : '.';
    EXPECT_EQ(got, "...#..###.#");
}

TEST(CanvasStroke, RejectsMalformedPathsAndStyles) {
    auto s = make_surface(SurfaceFormat::XRGB32, 8, 8);
    Stroke bad_bezier;
    PathSeg seg;
    seg.flags = kPathBegin | kPathBezier;
    seg.points = {fx(0, 0), fx(1, 1), fx(2, 2)};
    bad_bezier.path.segments = {seg};
    EXPECT_FALSE(draw(*s, stroke_cmd(bad_bezier, 8, 8), nullptr).ok);
    Stroke no_start;
    seg.flags = kPathBezier;
    seg.points = {fx(0, 0), fx(1, 1), fx(2, 2)};
    no_start.path.segments = {seg};
    EXPECT_FALSE(draw(*s, stroke_cmd(no_start, 8, 8), nullptr).ok);
    Stroke empty_begin;
    seg.flags = kPathBegin;
    seg.points = {};
    empty_begin.path.segments = {seg};
    EXPECT_FALSE(draw(*s, stroke_cmd(empty_begin, 8, 8), nullptr).ok);
    Stroke styled = polyline({fx(0, 0), fx(5, 0)});
    styled.attr.flags = kLineStyled;
    EXPECT_FALSE(draw(*s, stroke_cmd(styled, 8, 8), nullptr).ok);
    styled.attr.style = {4, 3};  // both round to zero pixels
    EXPECT_FALSE(draw(*s, stroke_cmd(styled, 8, 8), nullptr).ok);
    Stroke bad_brush = polyline({fx(0, 0), fx(5, 0)});
    bad_brush.brush.type = BrushType::Pattern;
    EXPECT_FALSE(draw(*s, stroke_cmd(bad_brush, 8, 8), nullptr).ok);
    EXPECT_TRUE(lit(*s).empty());
}

}  // namespace
}  // namespace qxlbox::proto::test
