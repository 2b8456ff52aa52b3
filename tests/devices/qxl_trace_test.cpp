// The device-boundary trace-event hook (`--trace-hash`) and its hash.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "hw/qxl/qxl_trace_hash.h"
#include "qxl_harness.h"

using namespace qxl_test;

namespace {

struct Recorded {
    QxlTraceKind kind;
    std::uint64_t cycles;
    std::uint64_t a;
    std::uint64_t b;
    std::string text;
};

struct Recorder {
    std::vector<Recorded> events;
    QxlTraceHasher hasher;
    void attach(QxlDevice& dev) {
        dev.set_trace_events([this](const QxlTraceEvent& e) {
            events.push_back({e.kind, e.cycles, e.a, e.b, std::string(e.text)});
            hasher.add(e);
        });
    }
    std::size_t count(QxlTraceKind k) const {
        return static_cast<std::size_t>(
            std::count_if(events.begin(), events.end(), [k](const Recorded& r) { return r.kind == k; }));
    }
};

// One fixed guest session: boot, one good draw, one draw the server drops, one cursor hide.
std::string run_session(Recorder& rec, std::uint32_t extra_ns) {
    QxlHarness h;
    rec.attach(*h.dev);
    h.boot();
    h.push_cmd(h.phys(h.copy_drawable()), QXL_CMD_DRAW);
    h.run_ns(5000);
    h.push_cmd(make_phys(6, 0x1000), QXL_CMD_DRAW);
    h.run_ns(5000);
    const std::uint64_t c = h.alloc(150);
    std::memset(h.ram_ptr(c), 0, 150);
    h.put8(c + 8, 2);  // HIDE
    h.push_cursor(h.phys(c));
    h.run_ns(5000 + extra_ns);
    h.out(QXL_IO_FLUSH_RELEASE);
    h.run_ns(5000);
    h.dev->set_trace_events(nullptr);
    return rec.hasher.hex();
}

}  // namespace

TEST(QxlTraceEvents, ReportPortWritesCommandsDropsReleasesAndIrqLevels) {
    Recorder rec;
    run_session(rec, 0);
    EXPECT_GT(rec.count(QxlTraceKind::PortWrite), 0u);
    EXPECT_EQ(rec.count(QxlTraceKind::Command), 1u);
    EXPECT_EQ(rec.count(QxlTraceKind::CursorCommand), 1u);
    EXPECT_EQ(rec.count(QxlTraceKind::Dropped), 1u);
    EXPECT_GE(rec.count(QxlTraceKind::Delivered), 1u);
    EXPECT_GE(rec.count(QxlTraceKind::Release), 1u);
    EXPECT_GE(rec.count(QxlTraceKind::IrqLevel), 1u);
    // Virtual time never goes backwards along the stream.
    for (std::size_t i = 1; i < rec.events.size(); ++i) EXPECT_LE(rec.events[i - 1].cycles, rec.events[i].cycles);
    auto drop = std::find_if(rec.events.begin(), rec.events.end(),
                             [](const Recorded& r) { return r.kind == QxlTraceKind::Dropped; });
    ASSERT_NE(drop, rec.events.end());
    EXPECT_NE(drop->text.find("inactive slot 6"), std::string::npos) << drop->text;
    auto cmd = std::find_if(rec.events.begin(), rec.events.end(),
                            [](const Recorded& r) { return r.kind == QxlTraceKind::Command; });
    ASSERT_NE(cmd, rec.events.end());
    EXPECT_EQ(cmd->b, std::uint64_t{QXL_CMD_DRAW});
    EXPECT_NE(cmd->text.find("draw"), std::string::npos) << cmd->text;
}

TEST(QxlTraceEvents, SameSessionGivesSameHashDifferentTimingDoesNot) {
    Recorder a, b, c;
    const std::string ha = run_session(a, 0);
    const std::string hb = run_session(b, 0);
    const std::string hc = run_session(c, 100000);  // the cursor poll lands at another cycle
    EXPECT_EQ(ha, hb);
    EXPECT_EQ(a.events.size(), b.events.size());
    EXPECT_NE(ha, hc);
    EXPECT_EQ(ha.size(), 16u);
}

TEST(QxlTraceEvents, NothingIsReportedWithoutASubscriber) {
    Recorder rec;
    QxlHarness h;
    rec.attach(*h.dev);
    h.dev->set_trace_events(nullptr);
    h.boot();
    h.push_cmd(h.phys(h.copy_drawable()), QXL_CMD_DRAW);
    h.run_ns(5000);
    EXPECT_TRUE(rec.events.empty());
    EXPECT_EQ(h.draw_count(), 1u);
}

TEST(QxlTraceHasher, EncodingCoversEveryField) {
    const QxlTraceEvent base{QxlTraceKind::Release, 10, 20, 30, "x"};
    auto hash_of = [](const QxlTraceEvent& e) {
        QxlTraceHasher h;
        h.add(e);
        return h.value();
    };
    const std::uint64_t h0 = hash_of(base);
    QxlTraceEvent e = base;
    e.kind = QxlTraceKind::IrqLevel;
    EXPECT_NE(hash_of(e), h0);
    e = base;
    e.cycles = 11;
    EXPECT_NE(hash_of(e), h0);
    e = base;
    e.a = 21;
    EXPECT_NE(hash_of(e), h0);
    e = base;
    e.b = 31;
    EXPECT_NE(hash_of(e), h0);
    e = base;
    e.text = "y";
    EXPECT_NE(hash_of(e), h0);
    EXPECT_EQ(hash_of(base), h0);
}

namespace {
// The Command event of one COPY whose pixel byte 5 is `pixel` (or left as built).
std::string copy_event_text(bool patch, std::uint8_t pixel) {
    Recorder rec;
    QxlHarness h;
    rec.attach(*h.dev);
    h.boot();
    const std::uint64_t img = h.alloc(0);  // copy_drawable allocates the image first
    const std::uint64_t d = h.copy_drawable();
    if (patch) h.put8(img + 48 + 20 + 5, pixel);  // image header, then the chunk header
    h.push_cmd(h.phys(d), QXL_CMD_DRAW);
    h.run_ns(5000);
    h.dev->set_trace_events(nullptr);
    for (const Recorded& r : rec.events) {
        if (r.kind == QxlTraceKind::Command) return r.text;
    }
    return {};
}
}  // namespace

TEST(QxlTraceEvents, CommandEventCoversThePixelsNotOnlyTheHeader) {
    const std::string plain = copy_event_text(false, 0);
    ASSERT_NE(plain.find("content="), std::string::npos) << plain;
    EXPECT_EQ(copy_event_text(false, 0), plain);
    EXPECT_NE(copy_event_text(true, 0xee), plain);
}
