// In-process QXL test harness in the spirit of QEMU's qtest: an address space, a port space
// and a scheduler, the device programmed through config space like firmware would, guest
// structures written into BAR memory, ports written, and the virtual clock stepped.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "hw/qxl/qxl_defs.h"
#include "hw/qxl/qxl_device.h"
#include "hw/qxl/recording_consumer.h"
#include "machine/bus.h"
#include "machine/clock.h"

namespace qxl_test {

using namespace qxlbox;
using namespace qxlbox::hw::qxl;

struct IrqProbe : machine::IrqSink {
    bool level = false;
    int edges = 0;
    void set_irq_level(unsigned, bool l) override {
        if (l != level) ++edges;
        level = l;
    }
};

inline constexpr std::uint64_t kBar0 = 0xc0000000;
inline constexpr std::uint64_t kBar1 = 0xc8000000;
inline constexpr std::uint64_t kBar2 = 0xcc000000;
inline constexpr std::uint64_t kBar4 = 0xd0000000;
inline constexpr std::uint16_t kIoBase = 0xc000;

class QxlHarness {
public:
    explicit QxlHarness(QxlConfig cfg = small_config(), ReleasePolicy policy = ReleasePolicy::Immediate,
                        QxlTiming timing = {}) {
        dev = std::make_unique<QxlDevice>(sched, cfg, timing, policy);
        dev->attach(&mem, &ports);
        dev->connect_irq(machine::IrqLine(&irq, 11));
        program_bars();
        dev->set_consumer(&consumer);
        dev->set_log([this](const std::string& l) { log.push_back(l); });
        run_ns(200000);
    }
    ~QxlHarness() { dev->set_consumer(nullptr); }

    static QxlConfig small_config() {
        QxlConfig c;
        c.ram_size_bytes = 16 * kMiB;
        c.vgamem_size_bytes = 8 * kMiB;
        c.vram_size_bytes = 1 * kMiB;
        return c;
    }

    void program_bars() {
        dev->config_write(0x10, 4, static_cast<std::uint32_t>(kBar0));
        dev->config_write(0x14, 4, static_cast<std::uint32_t>(kBar1));
        dev->config_write(0x18, 4, static_cast<std::uint32_t>(kBar2));
        dev->config_write(0x1c, 4, kIoBase);
        if (dev->config().has_vram64_bar()) {
            dev->config_write(0x20, 4, static_cast<std::uint32_t>(kBar4 | 0xc));
            dev->config_write(0x24, 4, 0);
        }
        dev->config_write(0x04, 2, 0x7);
    }

    std::vector<std::uint8_t> save_state_for_test() { return dev->save_state(); }

    // --- clock ---
    void run_ns(std::uint64_t ns) {
        const machine::Cycles target = sched.now() + sched.ns_to_cycles(ns);
        while (sched.next_deadline() <= target) {
            sched.advance_to(sched.next_deadline());
            sched.run_due();
        }
        sched.advance_to(target);
    }

    // --- ports ---
    void out(std::uint8_t port, std::uint8_t val = 0) { ports.out(kIoBase + port, 1, val); }

    // --- guest memory ---
    std::uint32_t hdr() const { return dev->ram_header_offset(); }
    std::uint64_t hdr_phys(std::size_t off) const { return kBar0 + hdr() + off; }
    std::uint32_t ram32(std::size_t hdr_off) { return mem.read32(hdr_phys(hdr_off)); }
    void set_ram32(std::size_t hdr_off, std::uint32_t v) { mem.write32(hdr_phys(hdr_off), v); }
    void set_ram64(std::size_t hdr_off, std::uint64_t v) {
        mem.write32(hdr_phys(hdr_off), static_cast<std::uint32_t>(v));
        mem.write32(hdr_phys(hdr_off) + 4, static_cast<std::uint32_t>(v >> 32));
    }
    std::uint32_t int_pending() { return ram32(ram::int_pending); }
    void set_int_mask(std::uint32_t m) { set_ram32(ram::int_mask, m); }
    std::uint32_t rom32(std::size_t off) { return mem.read32(kBar2 + off); }

    // Bump allocator in BAR0's page area; returns the BAR0 offset.
    std::uint64_t alloc(std::size_t size) {
        const std::uint64_t at = next_alloc_;
        next_alloc_ += (size + 15) & ~std::size_t{15};
        return at;
    }
    std::uint64_t phys(std::uint64_t bar0_off) const { return make_phys(1, bar0_off); }
    std::uint8_t* ram_ptr(std::uint64_t bar0_off) { return dev->ram() + bar0_off; }
    void put8(std::uint64_t off, std::uint8_t v) { st8(ram_ptr(off), v); }
    void put16(std::uint64_t off, std::uint16_t v) { st16(ram_ptr(off), v); }
    void put32(std::uint64_t off, std::uint32_t v) { st32(ram_ptr(off), v); }
    void put64(std::uint64_t off, std::uint64_t v) { st64(ram_ptr(off), v); }
    void put_rect(std::uint64_t off, std::int32_t l, std::int32_t t, std::int32_t r, std::int32_t b) {
        put32(off, static_cast<std::uint32_t>(t));
        put32(off + 4, static_cast<std::uint32_t>(l));
        put32(off + 8, static_cast<std::uint32_t>(b));
        put32(off + 12, static_cast<std::uint32_t>(r));
    }

    // --- driver-like sequences ---
    void add_slot(std::uint8_t id, std::uint64_t start, std::uint64_t end, bool async = false) {
        set_ram64(ram::mem_slot, start);
        set_ram64(ram::mem_slot + 8, end);
        out(async ? QXL_IO_MEMSLOT_ADD_ASYNC : QXL_IO_MEMSLOT_ADD, id);
        if (async) run_ns(100000);
    }
    // Linux's layout: slot 1 = BAR0 up to the RAM header, slot 2 = whole VRAM BAR.
    void setup_slots() {
        add_slot(1, kBar0, kBar0 + hdr());
        add_slot(2, kBar1, kBar1 + dev->config().vram_size_bytes);
    }
    void fill_create_surface(std::uint32_t w, std::uint32_t h, std::int32_t stride, std::uint64_t mem_phys,
                             std::uint32_t format = 32) {
        set_ram32(ram::create_surface + 0, w);
        set_ram32(ram::create_surface + 4, h);
        set_ram32(ram::create_surface + 8, static_cast<std::uint32_t>(stride));
        set_ram32(ram::create_surface + 12, format);
        set_ram32(ram::create_surface + 24, 1);
        set_ram32(ram::create_surface + 28, 0);
        set_ram64(ram::create_surface + 32, mem_phys);
    }
    void create_primary(std::uint32_t w = 64, std::uint32_t h = 32) {
        fill_create_surface(w, h, static_cast<std::int32_t>(w * 4), phys(0));
        out(QXL_IO_CREATE_PRIMARY, 0);
        run_ns(10000);
    }
    void boot(std::uint32_t w = 64, std::uint32_t h = 32) {
        out(QXL_IO_RESET);
        set_int_mask(0x27);
        setup_slots();
        create_primary(w, h);
    }

    // Guest push onto the command (or cursor) ring, kicking the port at notify_on_prod.
    void push(std::size_t ring_off, std::uint64_t data, std::uint32_t type, bool kick = true) {
        const std::uint32_t prod = ram32(ring_off + ring::prod);
        const std::size_t item = ring_off + ring::items + (prod & 31) * 16;
        set_ram64(item, data);
        set_ram32(item + 8, type);
        set_ram32(ring_off + ring::prod, prod + 1);
        if (kick && prod + 1 == ram32(ring_off + ring::notify_on_prod)) {
            out(ring_off == ram::cmd_ring ? QXL_IO_NOTIFY_CMD : QXL_IO_NOTIFY_CURSOR);
        }
    }
    void push_cmd(std::uint64_t data, std::uint32_t type = QXL_CMD_DRAW) { push(ram::cmd_ring, data, type); }
    void push_cursor(std::uint64_t data) { push(ram::cursor_ring, data, QXL_CMD_CURSOR); }

    // --- structure builders (return BAR0 offsets) ---
    std::uint64_t bitmap_image(std::uint32_t w, std::uint32_t h, std::uint8_t format = 8, std::uint32_t stride = 0,
                               bool direct = false, std::uint64_t palette_phys = 0) {
        const unsigned bpp = format == 1 || format == 2    ? 1
                             : format == 3 || format == 4  ? 4
                             : format == 5 || format == 10 ? 8
                             : format == 6                 ? 16
                             : format == 7                 ? 24
                                                           : 32;
        if (stride == 0) stride = (w * bpp + 7) / 8;
        const std::uint64_t img = alloc(48);
        put64(img, 0x1234);
        put8(img + 8, 0);
        put8(img + 9, 0);
        put32(img + 10, w);
        put32(img + 14, h);
        const std::uint64_t b = img + 18;
        put8(b, format);
        put8(b + 1, static_cast<std::uint8_t>(QXL_BITMAP_TOP_DOWN | (direct ? QXL_BITMAP_DIRECT : 0)));
        put32(b + 2, w);
        put32(b + 6, h);
        put32(b + 10, stride);
        put64(b + 14, palette_phys);
        const std::uint64_t size = std::uint64_t{stride} * h;
        if (direct) {
            const std::uint64_t data = alloc(static_cast<std::size_t>(size));
            for (std::uint64_t i = 0; i < size; ++i) put8(data + i, static_cast<std::uint8_t>(i * 7));
            put64(b + 22, phys(data));
        } else {
            put64(b + 22, phys(chunk(size)));
        }
        return img;
    }
    // One data chunk with `size` patterned bytes.
    std::uint64_t chunk(std::uint64_t size, std::uint64_t next = 0) {
        const std::uint64_t c = alloc(static_cast<std::size_t>(20 + size));
        put32(c, static_cast<std::uint32_t>(size));
        put64(c + 4, 0);
        put64(c + 12, next);
        for (std::uint64_t i = 0; i < size; ++i) put8(c + 20 + i, static_cast<std::uint8_t>(i * 7));
        return c;
    }
    std::uint64_t palette(std::uint16_t n) {
        const std::uint64_t p = alloc(10 + 4 * n);
        put64(p, 99);
        put16(p + 8, n);
        for (std::uint16_t i = 0; i < n; ++i) put32(p + 10 + 4 * i, 0x010101u * i);
        return p;
    }
    // A native drawable header; payload at +123 is filled by the caller.
    std::uint64_t drawable(std::uint8_t type, std::uint32_t surface = 0, std::uint64_t release_id = 0) {
        const std::uint64_t d = alloc(191);
        std::memset(ram_ptr(d), 0, 191);
        put64(d, release_id ? release_id : ++next_release_id_);
        put32(d + 8, surface);
        put8(d + 12, 1);  // effect OPAQUE
        put8(d + 13, type);
        put_rect(d + 31, 0, 0, 16, 8);
        for (int i = 0; i < 3; ++i) put32(d + 63 + 4 * i, 0xffffffffu);
        return d;
    }
    std::uint64_t copy_drawable(std::uint64_t release_id = 0) {
        const std::uint64_t img = bitmap_image(16, 8);
        const std::uint64_t d = drawable(3, 0, release_id);
        put64(d + 123, phys(img));
        put_rect(d + 123 + 8, 0, 0, 16, 8);
        put16(d + 123 + 24, 8);
        return d;
    }

    template <typename T>
    const T* last_draw() const {
        if (consumer.commands.empty()) return nullptr;
        auto* d = std::get_if<proto::DrawCommand>(&consumer.commands.back().body);
        return d ? std::get_if<T>(&d->op) : nullptr;
    }
    std::size_t draw_count() const {
        std::size_t n = 0;
        for (const auto& c : consumer.commands) n += std::holds_alternative<proto::DrawCommand>(c.body);
        return n;
    }

    machine::Scheduler sched;
    machine::AddressSpace mem;
    machine::PortSpace ports;
    IrqProbe irq;
    RecordingConsumer consumer;
    std::unique_ptr<QxlDevice> dev;
    std::vector<std::string> log;

private:
    std::uint64_t next_alloc_ = 8 * kMiB;
    std::uint64_t next_release_id_ = 100;
};

}  // namespace qxl_test
