// Negative tests: one for every guest-input check of shared/spec/qxl-device.md §0.1.
#include <gtest/gtest.h>

#include "qxl_harness.h"

using namespace qxl_test;

namespace {

// Submits a command and expects the server-side content check to drop it: the reason is
// counted and kept, nothing reaches the consumer, no ERROR interrupt, no guest-bug latch
// (QEMU never looks at these contents; libspice-server drops the command).
void expect_rejected(QxlHarness& h, std::uint64_t data, const std::string& reason, std::uint32_t type = QXL_CMD_DRAW) {
    const std::size_t before = h.consumer.commands.size();
    const std::uint64_t dropped_before = h.dev->dropped_command_count();
    h.push_cmd(data, type);
    h.run_ns(5000);
    EXPECT_FALSE(h.dev->guest_bug()) << h.dev->last_guest_bug();
    EXPECT_EQ(h.dev->dropped_command_count(), dropped_before + 1);
    EXPECT_NE(h.dev->last_dropped_command().find(reason), std::string::npos) << h.dev->last_dropped_command();
    EXPECT_EQ(h.consumer.commands.size(), before);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_ERROR, 0u);
}

// Submits a command that QEMU's qxl.c itself inspects and expects the guest-bug latch.
void expect_guest_bug(QxlHarness& h, std::uint64_t data, const std::string& reason, std::uint32_t type) {
    const std::size_t before = h.consumer.commands.size();
    h.push_cmd(data, type);
    h.run_ns(5000);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find(reason), std::string::npos) << h.dev->last_guest_bug();
    EXPECT_EQ(h.dev->dropped_command_count(), 0u);
    EXPECT_EQ(h.consumer.commands.size(), before);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_ERROR, QXL_INTERRUPT_ERROR);
}

}  // namespace

TEST(QxlMemslot, RejectsSlotIdOf8OrMore) {
    QxlHarness h;
    h.add_slot(8, kBar0, kBar0 + 0x1000);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("out of range"), std::string::npos);
}

TEST(QxlMemslot, RejectsAddingAnActiveSlot) {
    QxlHarness h;
    h.add_slot(1, kBar0, kBar0 + 0x1000);
    h.add_slot(1, kBar0, kBar0 + 0x1000);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("already active"), std::string::npos);
}

TEST(QxlMemslot, RejectsStartAfterEnd) {
    QxlHarness h;
    h.add_slot(1, kBar0 + 0x2000, kBar0 + 0x1000);
    EXPECT_TRUE(h.dev->guest_bug());
}

TEST(QxlMemslot, RejectsRangeOutsideBar) {
    QxlHarness h;
    h.add_slot(1, kBar0, kBar0 + 16 * kMiB + 1);
    EXPECT_TRUE(h.dev->guest_bug());
    QxlHarness h2;
    h2.add_slot(1, kBar2, kBar2 + 0x1000);  // the ROM is not a slot BAR
    EXPECT_TRUE(h2.dev->guest_bug());
    QxlHarness h3;
    h3.add_slot(1, 0x1000, 0x2000);  // ordinary RAM
    EXPECT_TRUE(h3.dev->guest_bug());
}

TEST(QxlMemslot, RejectsUnmappedBar) {
    QxlHarness h;
    h.dev->config_write(0x04, 2, 0x1);  // memory decoding off
    h.add_slot(1, kBar0, kBar0 + 0x1000);
    EXPECT_TRUE(h.dev->guest_bug());
}

TEST(QxlMemslot, DelRejectsSlotIdOf8OrMore) {
    QxlHarness h;
    h.out(QXL_IO_MEMSLOT_DEL, 9);
    EXPECT_TRUE(h.dev->guest_bug());
}

TEST(QxlTranslate, RejectsPointerIntoInactiveSlot) {
    QxlHarness h;
    h.boot();
    expect_rejected(h, make_phys(5, 0x1000), "inactive slot 5");
}

TEST(QxlTranslate, RejectsSlotNumberOf8OrMore) {
    QxlHarness h;
    h.boot();
    expect_rejected(h, make_phys(200, 0x1000), "slot 200 >= 8");
}

TEST(QxlTranslate, RejectsWrongGeneration) {
    QxlHarness h;
    h.boot();
    expect_rejected(h, make_phys(1, h.copy_drawable(), 1), "generation 1 != 0");
}

TEST(QxlTranslate, RejectsOffsetBeyondSlot) {
    QxlHarness h;
    h.boot();
    expect_rejected(h, make_phys(1, h.hdr() + 16), "outside slot 1");
}

TEST(QxlTranslate, RejectsObjectStraddlingTheSlotEnd) {
    // CVE-2022-4144: the start is inside, the 191-byte drawable is not.
    QxlHarness h;
    h.boot();
    expect_rejected(h, make_phys(1, h.hdr() - 100), "outside slot 1");
}

TEST(QxlTranslate, RejectsObjectStraddlingTheBarEnd) {
    QxlHarness h;
    h.boot();
    // A slot covering the whole VRAM BAR: a drawable at its last bytes runs past the BAR.
    expect_rejected(h, make_phys(2, h.dev->config().vram_size_bytes - 8), "outside slot 2");
    MemSlotTable t;
    t.set_backing_sizes(0x1000, 0x1000);
    MemSlot s;
    s.active = true;
    s.size = 0x2000;  // a slot bigger than its buffer (only a corrupt state could do this)
    t.set(1, s);
    EXPECT_FALSE(t.translate(make_phys(1, 0xff0), 0x20).loc);
    EXPECT_NE(t.translate(make_phys(1, 0xff0), 0x20).error.find("BAR"), std::string::npos);
}

TEST(QxlTranslate, RejectsNullCommandPointer) {
    // CVE-2019-12155 class: nothing is released for a command without a body.
    QxlHarness h;
    h.boot();
    expect_rejected(h, 0, "inactive slot 0");
    EXPECT_EQ(h.dev->num_free_res(), 0u);
    EXPECT_EQ(h.ram32(ram::release_ring + ring::prod), 0u);
}

TEST(QxlTranslate, RejectedCommandWithReadableHeaderIsStillReleased) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.drawable(99, 0, 31);  // invalid draw type
    expect_rejected(h, h.phys(d), "invalid draw type 99");
    EXPECT_EQ(ld64(h.dev->ram() + h.hdr() + ram::release_ring + ring::items), 31u);
}

TEST(QxlDoubleFetch, DrawableHeaderIsReadOnce) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.copy_drawable();
    const std::uint64_t clip = h.alloc(4 + 20 + 16);
    h.put32(clip, 1);
    h.put32(clip + 4, 16);
    h.put_rect(clip + 24, 0, 0, 4, 4);
    h.put32(d + 47, 1);
    h.put64(d + 51, h.phys(clip));
    int drawable_reads = 0, clip_header_reads = 0;
    h.dev->set_read_hook([&](std::uint64_t phys, std::uint64_t skip, std::uint64_t size) {
        if (phys == h.phys(d) && skip == 0 && size == 191) {
            ++drawable_reads;
            // A racing guest rewrites the bbox right after the copy.
            h.put_rect(d + 31, 0, 0, 5000, 5000);
        }
        if (phys == h.phys(clip) && size == 4) {
            ++clip_header_reads;
            h.put32(clip, 100000);  // and the clip count right after that copy
        }
    });
    h.push_cmd(h.phys(d));
    h.run_ns(5000);
    ASSERT_FALSE(h.dev->guest_bug()) << h.dev->last_guest_bug();
    EXPECT_EQ(drawable_reads, 1);
    EXPECT_EQ(clip_header_reads, 1);
    const auto& cmd = std::get<proto::DrawCommand>(h.consumer.commands.back().body);
    EXPECT_EQ(cmd.bbox, (proto::Rect{0, 0, 8, 16}));
}

TEST(QxlDoubleFetch, CursorSizeIsReadOnce) {
    // CVE-2021-4207: width/height changed after the header was read must not matter.
    QxlHarness h;
    h.boot();
    const std::uint64_t shape = h.alloc(42 + 16);
    std::memset(h.ram_ptr(shape), 0, 42);
    h.put16(shape + 8, 0);
    h.put16(shape + 10, 2);
    h.put16(shape + 12, 2);
    h.put32(shape + 18, 16);
    h.put32(shape + 22, 16);
    const std::uint64_t set = h.alloc(150);
    std::memset(h.ram_ptr(set), 0, 150);
    h.put64(set + 14, h.phys(shape));
    int header_reads = 0;
    h.dev->set_read_hook([&](std::uint64_t phys, std::uint64_t, std::uint64_t size) {
        if (phys == h.phys(shape) && size == 22) {
            ++header_reads;
            h.put16(shape + 10, 512);
            h.put16(shape + 12, 512);
        }
    });
    h.push_cursor(h.phys(set));
    h.run_ns(5000);
    ASSERT_FALSE(h.dev->guest_bug()) << h.dev->last_guest_bug();
    EXPECT_EQ(header_reads, 1);
    const auto& s = std::get<proto::CursorSet>(h.consumer.cursor_commands.back().op);
    EXPECT_EQ(s.shape->width, 2u);
    EXPECT_EQ(s.shape->data.size(), 16u);
}

TEST(QxlDoubleFetch, MonitorsCountIsReadOnce) {
    // CVE-2015-3247.
    QxlHarness h;
    h.boot();
    const std::uint64_t mc = h.alloc(4 + 2 * 28);
    h.put16(mc, 1);
    h.put16(mc + 2, 2);
    h.set_ram64(ram::monitors_config, h.phys(mc));
    h.dev->set_read_hook([&](std::uint64_t phys, std::uint64_t skip, std::uint64_t size) {
        if (phys == h.phys(mc) && skip == 0 && size == 4) h.put16(mc, 60000);
    });
    h.out(QXL_IO_MONITORS_CONFIG_ASYNC);
    ASSERT_EQ(h.consumer.monitors_configs.size(), 1u);
    EXPECT_EQ(h.consumer.monitors_configs[0].heads.size(), 1u);
}

TEST(QxlStride, BitmapStrideSmallerThanWidthIsRejected) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(h.bitmap_image(16, 8, 8, 60)));
    expect_rejected(h, h.phys(d), "stride 60 < 64");
}

TEST(QxlStride, BitmapHeightTimesStrideOverflowIsRejected) {
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.bitmap_image(16, 8);
    h.put32(img + 18 + 6, 0x10000);   // y
    h.put32(img + 18 + 10, 0x10000);  // stride: y * stride = 2^32
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    expect_rejected(h, h.phys(d), "height * stride overflows");
}

TEST(QxlStride, BitmapChunksMustHoldExactlyHeightTimesStride) {
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.bitmap_image(16, 8);
    h.put64(img + 18 + 22, h.phys(h.chunk(100)));
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    expect_rejected(h, h.phys(d), "expected 512");
}

TEST(QxlStride, SurfaceCreateStrideChecks) {
    struct Case {
        std::int32_t stride;
        const char* reason;
    } cases[] = {{INT32_MIN, "INT32_MIN"}, {62, "multiple of 4"}, {32, "stride too small"}, {-32, "stride too small"}};
    for (const Case& c : cases) {
        QxlHarness h;
        h.boot();
        const std::uint64_t s = h.alloc(41);
        h.put64(s, 1);
        h.put32(s + 8, 2);
        h.put32(s + 17, 32);
        h.put32(s + 21, 16);
        h.put32(s + 25, 8);
        h.put32(s + 29, static_cast<std::uint32_t>(c.stride));
        h.put64(s + 33, make_phys(2, 0));
        expect_rejected(h, h.phys(s), c.reason, QXL_CMD_SURFACE);
    }
}

TEST(QxlStride, SurfaceCreateMemoryMustFitTheSlot) {
    QxlHarness h;
    h.boot();
    const std::uint64_t s = h.alloc(41);
    h.put32(s + 8, 2);
    h.put32(s + 17, 32);
    h.put32(s + 21, 1024);
    h.put32(s + 25, 1024);
    h.put32(s + 29, 4096);  // 4 MiB > 1 MiB VRAM slot
    h.put64(s + 33, make_phys(2, 0));
    expect_rejected(h, h.phys(s), "outside slot 2", QXL_CMD_SURFACE);
}

TEST(QxlStride, CreatePrimaryLargerThanVgamemIsAGuestBug) {
    QxlHarness h;
    h.out(QXL_IO_RESET);
    h.setup_slots();
    h.fill_create_surface(4096, 4096, 4096 * 4, h.phys(0));
    h.out(QXL_IO_CREATE_PRIMARY, 0);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("larger than framebuffer"), std::string::npos);
    EXPECT_NE(h.dev->mode(), QxlMode::Native);
}

TEST(QxlStride, CreatePrimaryStrideChecks) {
    for (std::int32_t stride : {INT32_MIN, 258, 4}) {
        QxlHarness h;
        h.out(QXL_IO_RESET);
        h.setup_slots();
        h.fill_create_surface(64, 32, stride, h.phys(0));
        h.out(QXL_IO_CREATE_PRIMARY, 0);
        EXPECT_TRUE(h.dev->guest_bug()) << stride;
    }
}

TEST(QxlStride, CreatePrimaryRejectsBadFormatAndMemory) {
    QxlHarness h;
    h.out(QXL_IO_RESET);
    h.setup_slots();
    h.fill_create_surface(64, 32, 256, h.phys(0), 33);
    h.out(QXL_IO_CREATE_PRIMARY, 0);
    EXPECT_NE(h.dev->last_guest_bug().find("invalid format"), std::string::npos);
    h.out(QXL_IO_RESET);
    h.setup_slots();
    h.fill_create_surface(64, 32, 256, make_phys(6, 0));
    h.out(QXL_IO_CREATE_PRIMARY, 0);
    EXPECT_NE(h.dev->last_guest_bug().find("bad surface memory"), std::string::npos);
    h.out(QXL_IO_RESET);
    h.setup_slots();
    h.fill_create_surface(64, 32, 256, h.phys(0));
    h.out(QXL_IO_CREATE_PRIMARY, 1);
    EXPECT_NE(h.dev->last_guest_bug().find("val != 0"), std::string::npos);
}

TEST(QxlIds, DrawableSurfaceIdBeyondNSurfacesIsRejected) {
    QxlHarness h;
    h.boot();
    expect_rejected(h, h.phys(h.drawable(6, 5000)), "surface id 5000 >= 1024");
}

TEST(QxlIds, DrawableOnMissingSurfaceIsRejected) {
    QxlHarness h;
    h.boot();
    expect_rejected(h, h.phys(h.drawable(6, 7)), "does not exist");
}

TEST(QxlIds, DrawableDependencyMustExist) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.drawable(6);
    h.put32(d + 63, 9);
    expect_rejected(h, h.phys(d), "dependency surface 9");
}

TEST(QxlIds, SurfaceCommandIdChecks) {
    QxlHarness h;
    h.boot();
    const std::uint64_t s = h.alloc(41);
    h.put32(s + 8, 1024);
    expect_guest_bug(h, h.phys(s), "surface id 1024 >= 1024", QXL_CMD_SURFACE);
    QxlHarness h2;
    h2.boot();
    const std::uint64_t s2 = h2.alloc(41);
    h2.put32(s2 + 8, 4);
    h2.put8(s2 + 12, 1);  // destroy a surface that was never created
    expect_rejected(h2, h2.phys(s2), "does not exist", QXL_CMD_SURFACE);
}

TEST(QxlIds, SurfaceImageIdChecks) {
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.alloc(22);
    h.put8(img + 8, 104);
    h.put32(img + 18, 2000);
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    expect_rejected(h, h.phys(d), "surface id 2000");
}

TEST(QxlIds, InvalidEnumsAreRejected) {
    struct Case {
        std::size_t off;
        std::uint8_t value;
        const char* reason;
    } cases[] = {{12, 9, "invalid effect"}, {13, 15, "invalid draw type"}};
    for (const Case& c : cases) {
        QxlHarness h;
        h.boot();
        const std::uint64_t d = h.copy_drawable();
        h.put8(d + c.off, c.value);
        expect_rejected(h, h.phys(d), c.reason);
    }
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.copy_drawable();
    h.put32(d + 47, 7);
    expect_rejected(h, h.phys(d), "clip: invalid type");
    QxlHarness h2;
    h2.boot();
    expect_rejected(h2, h2.phys(h2.copy_drawable()), "invalid command type", QXL_CMD_NOP);
}

TEST(QxlIds, BadImageTypesAndFormatsAreRejected) {
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.bitmap_image(16, 8);
    h.put8(img + 8, 100);  // LZ_PLT: wire-only
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    expect_rejected(h, h.phys(d), "not accepted from a guest");
    QxlHarness h2;
    h2.boot();
    const std::uint64_t img2 = h2.bitmap_image(16, 8);
    h2.put8(img2 + 18, 11);
    const std::uint64_t d2 = h2.copy_drawable();
    h2.put64(d2 + 123, h2.phys(img2));
    expect_rejected(h2, h2.phys(d2), "invalid format 11");
}

TEST(QxlIds, PaletteRequiredAndBounded) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(h.bitmap_image(16, 8, 5)));
    expect_rejected(h, h.phys(d), "palette required");
    QxlHarness h2;
    h2.boot();
    const std::uint64_t d2 = h2.copy_drawable();
    h2.put64(d2 + 123, h2.phys(h2.bitmap_image(16, 8, 1, 0, false, h2.phys(h2.palette(3)))));
    expect_rejected(h2, h2.phys(d2), "3 entries for a 1-bit");
}

TEST(QxlIds, SrcAreaMustLieInsideTheSource) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.copy_drawable();
    h.put_rect(d + 123 + 8, 0, 0, 17, 8);
    expect_rejected(h, h.phys(d), "outside the 16x8 source");
}

TEST(QxlIds, BboxMustLieInsideTheSurface) {
    QxlHarness h;
    h.boot(64, 32);
    const std::uint64_t d = h.drawable(6);
    h.put_rect(d + 31, 0, 0, 65, 8);
    expect_rejected(h, h.phys(d), "bbox");
    QxlHarness h2;
    h2.boot();
    const std::uint64_t d2 = h2.drawable(6);
    h2.put_rect(d2 + 31, -1, 0, 4, 4);
    expect_rejected(h2, h2.phys(d2), "bbox");
}

TEST(QxlIds, ClipRectBytesMustEqualNumRectsTimes16) {
    QxlHarness h;
    h.boot();
    const std::uint64_t d = h.copy_drawable();
    const std::uint64_t clip = h.alloc(4 + 20 + 16);
    h.put32(clip, 3);
    h.put32(clip + 4, 16);
    h.put32(d + 47, 1);
    h.put64(d + 51, h.phys(clip));
    expect_rejected(h, h.phys(d), "clip rects: data chunks hold 16 bytes, expected 48");
}

TEST(QxlIds, ClipRectsMustBeOrderedAndBounded) {
    for (auto bad : {proto::Rect{0, 5, 4, 4}, proto::Rect{INT32_MIN, 0, 4, INT32_MAX}}) {
        QxlHarness h;
        h.boot();
        const std::uint64_t d = h.copy_drawable();
        const std::uint64_t clip = h.alloc(4 + 20 + 16);
        h.put32(clip, 1);
        h.put32(clip + 4, 16);
        h.put_rect(clip + 24, bad.left, bad.top, bad.right, bad.bottom);
        h.put32(d + 47, 1);
        h.put64(d + 51, h.phys(clip));
        expect_rejected(h, h.phys(d), "inverted or huge");
    }
}

TEST(QxlIds, UpdateCommandAreaMustBeSane) {
    QxlHarness h;
    h.boot();
    const std::uint64_t u = h.alloc(32);
    std::memset(h.ram_ptr(u), 0, 32);
    h.put_rect(u + 8, 10, 0, 5, 4);
    expect_rejected(h, h.phys(u), "update command: bad area", QXL_CMD_UPDATE);
}

TEST(QxlChunks, SelfLoopIsDetected) {
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.bitmap_image(16, 8);
    const std::uint64_t c = h.chunk(0);
    h.put64(c + 12, h.phys(c));
    h.put64(img + 18 + 22, h.phys(c));
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    expect_rejected(h, h.phys(d), "loops");
}

TEST(QxlChunks, TwoChunkCycleIsDetected) {
    QxlHarness h;
    h.boot();
    const std::uint64_t a = h.chunk(8);
    const std::uint64_t b = h.chunk(8, h.phys(a));
    h.put64(a + 12, h.phys(b));
    const std::uint64_t path = h.alloc(24);
    h.put32(path, 1000);
    h.put32(path + 4, 0);
    h.put64(path + 4 + 12, h.phys(a));
    const std::uint64_t d = h.drawable(10);
    h.put64(d + 123, h.phys(path));
    expect_rejected(h, h.phys(d), "loops");
}

TEST(QxlChunks, CursorChunkWalkIsCappedAt32) {
    QxlHarness h;
    h.boot();
    // 40 chunks of 4 bytes = 160 bytes = a 2x20 alpha cursor.
    std::uint64_t next = 0;
    for (int i = 0; i < 39; ++i) next = h.phys(h.chunk(4, next));
    const std::uint64_t shape = h.alloc(42 + 4);
    std::memset(h.ram_ptr(shape), 0, 42);
    h.put16(shape + 10, 2);
    h.put16(shape + 12, 20);
    h.put32(shape + 18, 160);
    h.put32(shape + 22, 4);
    h.put64(shape + 22 + 12, next);
    const std::uint64_t set = h.alloc(150);
    std::memset(h.ram_ptr(set), 0, 150);
    h.put64(set + 14, h.phys(shape));
    h.push_cursor(h.phys(set));
    h.run_ns(5000);
    EXPECT_FALSE(h.dev->guest_bug()) << h.dev->last_guest_bug();
    EXPECT_EQ(h.dev->dropped_command_count(), 1u);
    EXPECT_NE(h.dev->last_dropped_command().find("too many data chunks"), std::string::npos);
    EXPECT_TRUE(h.consumer.cursor_commands.empty());
}

TEST(QxlCursor, SizeAndDataSizeChecks) {
    struct Case {
        std::uint16_t type, w, h;
        std::uint32_t data_size;
        const char* reason;
    } cases[] = {{0, 600, 4, 16, "out of range"},
                 {0, 4, 4, 60, "data_size 60 != 64"},
                 {1, 8, 8, 15, "data_size 15 != 16"},
                 {9, 4, 4, 64, "invalid shape type"}};
    for (const Case& c : cases) {
        QxlHarness h;
        h.boot();
        const std::uint64_t shape = h.alloc(42);
        std::memset(h.ram_ptr(shape), 0, 42);
        h.put16(shape + 8, c.type);
        h.put16(shape + 10, c.w);
        h.put16(shape + 12, c.h);
        h.put32(shape + 18, c.data_size);
        const std::uint64_t set = h.alloc(150);
        std::memset(h.ram_ptr(set), 0, 150);
        h.put64(set + 14, h.phys(shape));
        h.push_cursor(h.phys(set));
        h.run_ns(5000);
        EXPECT_FALSE(h.dev->guest_bug()) << h.dev->last_guest_bug();
        EXPECT_EQ(h.dev->dropped_command_count(), 1u);
        EXPECT_NE(h.dev->last_dropped_command().find(c.reason), std::string::npos) << h.dev->last_dropped_command();
        EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_ERROR, 0u);
        EXPECT_TRUE(h.consumer.cursor_commands.empty());
    }
}

TEST(QxlTranslate, SurfaceCommandPointerIntoInactiveSlotIsAGuestBug) {
    // QEMU maps the QXLSurfaceCmd itself (qxl_track_command), so this one is its check.
    QxlHarness h;
    h.boot();
    expect_guest_bug(h, make_phys(5, 0x1000), "inactive slot 5", QXL_CMD_SURFACE);
}

TEST(QxlTranslate, CursorCommandPointerIntoInactiveSlotIsAGuestBug) {
    // QEMU maps the QXLCursorCmd itself (qxl_render_cursor).
    QxlHarness h;
    h.boot();
    h.push_cursor(make_phys(5, 0x1000));
    h.run_ns(5000);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_NE(h.dev->last_guest_bug().find("inactive slot 5"), std::string::npos) << h.dev->last_guest_bug();
    EXPECT_TRUE(h.consumer.cursor_commands.empty());
}

TEST(QxlDrop, DeviceKeepsDrawingAfterDroppedCommands) {
    QxlHarness h;
    h.boot();
    h.set_int_mask(QXL_INTERRUPT_ERROR);
    expect_rejected(h, make_phys(6, 0x1000), "inactive slot 6");
    h.push_cmd(h.phys(h.copy_drawable()), QXL_CMD_DRAW);
    h.run_ns(5000);
    EXPECT_EQ(h.draw_count(), 1u);
    EXPECT_FALSE(h.dev->guest_bug());
    EXPECT_FALSE(h.irq.level);
}

TEST(QxlMessage, TextWithoutNulIsRejected) {
    QxlHarness h;
    h.boot();
    // A message right before the slot end with no NUL in reach.
    const std::uint64_t m = h.hdr() - 16;
    std::memset(h.ram_ptr(m + 8), 'x', 8);
    expect_rejected(h, h.phys(m), "NUL", QXL_CMD_MESSAGE);
}

TEST(QxlMonitors, CountAboveMaxAllowedIsIgnored) {
    QxlHarness h;
    h.boot();
    const std::uint64_t mc = h.alloc(4 + 28);
    h.put16(mc, 2);
    h.put16(mc + 2, 1);
    h.set_ram64(ram::monitors_config, h.phys(mc));
    h.out(QXL_IO_MONITORS_CONFIG_ASYNC);
    EXPECT_TRUE(h.consumer.monitors_configs.empty());
    EXPECT_FALSE(h.dev->guest_bug());
    h.run_ns(30000);
    EXPECT_EQ(h.int_pending() & QXL_INTERRUPT_IO_CMD, QXL_INTERRUPT_IO_CMD);
}

TEST(QxlMonitors, MaxAllowedIsMappedWithItsFullSize) {
    QxlHarness h;
    h.boot();
    const std::uint64_t mc = h.hdr() - 64;  // room for the header and 2 heads, not 100
    h.put16(mc, 1);
    h.put16(mc + 2, 100);
    h.set_ram64(ram::monitors_config, h.phys(mc));
    h.out(QXL_IO_MONITORS_CONFIG_ASYNC);
    EXPECT_TRUE(h.dev->guest_bug());
    EXPECT_TRUE(h.consumer.monitors_configs.empty());
}

TEST(QxlMonitors, GuestCountIsCappedToMaxOutputs) {
    QxlConfig c = QxlHarness::small_config();
    c.max_outputs = 2;
    QxlHarness h(c);
    h.boot();
    const std::uint64_t mc = h.alloc(4 + 8 * 28);
    h.put16(mc, 8);
    h.put16(mc + 2, 8);
    h.set_ram64(ram::monitors_config, h.phys(mc));
    h.out(QXL_IO_MONITORS_CONFIG_ASYNC);
    ASSERT_EQ(h.consumer.monitors_configs.size(), 1u);
    EXPECT_EQ(h.consumer.monitors_configs[0].heads.size(), 2u);
}

TEST(QxlMonitors, ClientCountIsCappedTo64) {
    QxlHarness h;
    h.boot();
    std::vector<proto::MonitorHead> heads(100, proto::MonitorHead{0, 0, 10, 10, 0, 0, 0});
    EXPECT_TRUE(h.dev->client_monitors_config(heads));
    EXPECT_EQ(h.mem.read16(kBar2 + rom::client_monitors_config), 64u);
}

TEST(QxlBudget, OverlappingChunksCannotInflateMemory) {
    // Many chunks all pointing at the same large data would copy far more than the device
    // holds; the per-command budget stops it (and the result size must match anyway).
    QxlHarness h;
    h.boot();
    const std::uint64_t img = h.bitmap_image(16, 8);
    h.put32(img + 18 + 6, 0x7000);    // y
    h.put32(img + 18 + 10, 0x10000);  // stride: 1.8 GB claimed
    const std::uint64_t d = h.copy_drawable();
    h.put64(d + 123, h.phys(img));
    expect_rejected(h, h.phys(d), "copy budget");
}
