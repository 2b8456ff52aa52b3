// libFuzzer target for the QXL device model: the input is a little program of guest actions
// (port writes, guest-memory writes, ring pushes, clock steps, consumer behaviour) run
// against a freshly booted device. Every check the device makes on guest input is reachable
// from here; the only acceptable outcomes are valid commands or a guest-bug state.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <sys/mman.h>
#include <unistd.h>

#include "hw/qxl/qxl_defs.h"
#include "hw/qxl/qxl_device.h"
#include "hw/qxl/recording_consumer.h"
#include "machine/bus.h"
#include "machine/clock.h"

namespace {

using namespace qxlbox;
using namespace qxlbox::hw::qxl;

constexpr std::uint64_t kBar0 = 0xc0000000;
constexpr std::uint64_t kBar1 = 0xc8000000;
constexpr std::uint64_t kBar2 = 0xcc000000;
constexpr std::uint16_t kIo = 0xc000;
// Guest structures written by the fuzzer land in this window of BAR0 (after surface0).
constexpr std::uint64_t kWindow = 8 * 1024 * 1024;
constexpr std::uint64_t kWindowBytes = 64 * 1024;

class Reader {
public:
    Reader(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
    bool done() const { return i_ >= n_; }
    std::uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
    std::uint32_t u32() { return u16() | (std::uint32_t{u16()} << 16); }
    std::uint64_t u64() { return u32() | (std::uint64_t{u32()} << 32); }

private:
    const std::uint8_t* d_;
    std::size_t n_;
    std::size_t i_ = 0;
};

struct Machine {
    machine::Scheduler sched;
    machine::AddressSpace mem;
    machine::PortSpace ports;
    RecordingConsumer consumer;
    std::unique_ptr<QxlDevice> dev;

    explicit Machine(ReleasePolicy policy = ReleasePolicy::Deferred) {
        QxlConfig c;
        c.ram_size_bytes = 16u << 20;
        c.vgamem_size_bytes = 8u << 20;
        c.vram_size_bytes = 64u << 10;
        c.n_surfaces = 64;
        dev = std::make_unique<QxlDevice>(sched, c, QxlTiming{}, policy);
        dev->attach(&mem, &ports);
        dev->config_write(0x10, 4, static_cast<std::uint32_t>(kBar0));
        dev->config_write(0x14, 4, static_cast<std::uint32_t>(kBar1));
        dev->config_write(0x18, 4, static_cast<std::uint32_t>(kBar2));
        dev->config_write(0x1c, 4, kIo);
        dev->config_write(0x04, 2, 0x7);
        dev->set_consumer(&consumer);
        consumer.update_mode = RecordingConsumer::UpdateMode::CurrentPixels;
    }
    ~Machine() { dev->set_consumer(nullptr); }

    // Back to power-on state between inputs: building a machine (a 4 GiB page table and
    // 17 MiB of device memory) for every input would dominate the run time.
    void restart(ReleasePolicy policy) {
        consumer.commands.clear();
        consumer.cursor_commands.clear();
        consumer.monitors_configs.clear();
        consumer.update_requests.clear();
        consumer.refuse_commands = consumer.refuse_cursor = false;
        dev->set_release_policy(policy);
        zero(dev->ram(), dev->config().ram_size_bytes);
        zero(dev->vram(), dev->config().vram_backing_bytes());
        dev->reset();
        run_ns(1000);
    }
    static void zero(std::uint8_t* p, std::uint64_t size) {
        // Untouched pages cost nothing to drop; memset would touch all 16 MiB every time.
        const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
        const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
        const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + size) & ~(page - 1);
        if (end <= begin || madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) != 0) {
            std::memset(p, 0, size);
            return;
        }
        std::memset(p, 0, begin - reinterpret_cast<std::uintptr_t>(p));
        std::memset(reinterpret_cast<void*>(end), 0, reinterpret_cast<std::uintptr_t>(p) + size - end);
    }

    void run_ns(std::uint64_t ns) {
        const machine::Cycles target = sched.now() + sched.ns_to_cycles(ns);
        while (sched.next_deadline() <= target) {
            sched.advance_to(sched.next_deadline());
            sched.run_due();
        }
        sched.advance_to(target);
    }
    std::uint64_t hdr() const { return kBar0 + dev->ram_header_offset(); }
    void out(std::uint8_t port, std::uint8_t v) { ports.out(kIo + port, 1, v); }
    void boot() {
        out(QXL_IO_RESET, 0);
        mem.write32(hdr() + ram::int_mask, 0x3f);
        mem.write32(hdr() + ram::mem_slot, static_cast<std::uint32_t>(kBar0));
        mem.write32(hdr() + ram::mem_slot + 8, static_cast<std::uint32_t>(kBar0 + dev->ram_header_offset()));
        out(QXL_IO_MEMSLOT_ADD, 1);
        mem.write32(hdr() + ram::mem_slot, static_cast<std::uint32_t>(kBar1));
        mem.write32(hdr() + ram::mem_slot + 8, static_cast<std::uint32_t>(kBar1 + (64u << 10)));
        out(QXL_IO_MEMSLOT_ADD, 2);
        const std::uint64_t cs = hdr() + ram::create_surface;
        mem.write32(cs, 64);
        mem.write32(cs + 4, 48);
        mem.write32(cs + 8, 256);
        mem.write32(cs + 12, 32);
        mem.write32(cs + 32, 0);
        mem.write32(cs + 36, 0x01000000);  // slot 1, offset 0
        out(QXL_IO_CREATE_PRIMARY, 0);
        run_ns(5000);
    }
    void push(std::size_t ring_off, std::uint64_t data, std::uint32_t type) {
        const std::uint64_t r = hdr() + ring_off;
        const std::uint32_t prod = mem.read32(r + ring::prod);
        const std::uint64_t item = r + ring::items + (prod & 31) * 16;
        mem.write32(item, static_cast<std::uint32_t>(data));
        mem.write32(item + 4, static_cast<std::uint32_t>(data >> 32));
        mem.write32(item + 8, type);
        mem.write32(r + ring::prod, prod + 1);
        out(ring_off == ram::cmd_ring ? QXL_IO_NOTIFY_CMD : QXL_IO_NOTIFY_CURSOR, 0);
    }
};

// A pointer the fuzzer can aim: mostly into the window through slot 1, sometimes raw.
std::uint64_t pointer(Reader& in) {
    const std::uint8_t kind = in.u8();
    const std::uint32_t off = in.u16();
    switch (kind & 3) {
        case 0:
            return make_phys(1, kWindow + off % kWindowBytes);
        case 1:
            return make_phys(2, off % (64u << 10));
        case 2:
            return make_phys(1, kWindow + off % kWindowBytes, kind >> 2);
        default:
            return in.u64();
    }
}

}  // namespace

// Totals over all inputs, for the replay driver's summary line.
extern "C" {
std::uint64_t qxl_fuzz_commands_parsed = 0;
std::uint64_t qxl_fuzz_guest_bugs = 0;
std::uint64_t qxl_fuzz_offered = 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    static Machine m;
    m.restart(in.u8() & 1 ? ReleasePolicy::Deferred : ReleasePolicy::Immediate);
    const std::uint64_t parsed_before = m.dev->commands_parsed();
    const std::uint64_t bugs_before = m.dev->guest_bug_count();
    m.boot();
    int steps = 0;
    while (!in.done() && steps++ < 512) {
        const std::uint8_t op = in.u8();
        switch (op % 13) {
            case 0: {
                const std::uint8_t port = in.u8() % 32;
                m.out(port, in.u8());
                if (port == QXL_IO_RESET) m.boot();  // a driver re-initialises after a reset
                break;
            }
            case 1: {  // bytes into the window
                const std::uint32_t off = in.u16() % kWindowBytes;
                const std::uint8_t len = in.u8();
                for (std::uint8_t i = 0; i < len && off + i < kWindowBytes; ++i)
                    m.mem.write8(kBar0 + kWindow + off + i, in.u8());
                break;
            }
            case 2: {  // a pointer into the window
                const std::uint32_t off = in.u16() % (kWindowBytes - 8);
                const std::uint64_t p = pointer(in);
                m.mem.write32(kBar0 + kWindow + off, static_cast<std::uint32_t>(p));
                m.mem.write32(kBar0 + kWindow + off + 4, static_cast<std::uint32_t>(p >> 32));
                break;
            }
            case 3:
                m.push(ram::cmd_ring, pointer(in), in.u8() % 7);
                break;
            case 4:
                m.push(ram::cursor_ring, pointer(in), in.u8() % 5);
                break;
            case 5:
                m.mem.write32(m.hdr() + (in.u16() % ram::size & ~3u), in.u32());
                break;
            case 6:
                m.run_ns(std::uint64_t{in.u16()} * 50);
                break;
            case 7: {
                const std::uint8_t what = in.u8();
                if (what & 1) m.consumer.refuse_commands = !m.consumer.refuse_commands;
                if (what & 2) m.consumer.refuse_cursor = !m.consumer.refuse_cursor;
                if (what & 4) m.consumer.release_all();
                if (what & 8) m.dev->wakeup();
                break;
            }
            case 8: {
                std::vector<proto::MonitorHead> heads(in.u8());
                for (auto& h : heads) h = proto::MonitorHead{0, 0, in.u16(), in.u16(), in.u16(), in.u16(), 0};
                m.dev->client_monitors_config(heads);
                m.dev->set_client_capabilities(in.u8() & 1, {in.u8(), in.u8()});
                break;
            }
            case 9: {
                const std::uint32_t id = in.u8() % 70;
                if (auto px = m.dev->read_surface(id)) {
                    px->area = proto::Rect{static_cast<std::int8_t>(in.u8()), static_cast<std::int8_t>(in.u8()),
                                           static_cast<std::int8_t>(in.u8()), static_cast<std::int8_t>(in.u8())};
                    m.dev->write_surface_area(id, *px);
                }
                break;
            }
            case 10: {  // a well-formed surface create (so later commands can target it)
                const std::uint64_t s = kBar0 + kWindow + (in.u16() % (kWindowBytes - 64));
                m.mem.write32(s + 8, in.u8() % 70);
                m.mem.write8(s + 12, 0);
                m.mem.write32(s + 17, 32);
                m.mem.write32(s + 21, 1 + in.u8() % 32);
                m.mem.write32(s + 25, 1 + in.u8() % 32);
                m.mem.write32(s + 29, 128);
                m.mem.write32(s + 33, 0);
                m.mem.write32(s + 37, 0x02000000);
                m.push(ram::cmd_ring, make_phys(1, s - kBar0), QXL_CMD_SURFACE);
                break;
            }
            case 12: {  // a well-formed drawable with a bitmap, then a few fuzzed bytes in it
                const std::uint64_t d = kWindow + (in.u16() % (kWindowBytes / 2));
                const std::uint64_t img = d + 192, chunk = img + 48;
                const std::uint32_t w = 1 + in.u8() % 16, hgt = 1 + in.u8() % 16;
                const std::uint8_t type = static_cast<std::uint8_t>(1 + in.u8() % 14);
                std::uint8_t* base = m.dev->ram();
                std::memset(base + d, 0, 192 + 48 + 20);
                st64(base + d, in.u8());
                st8(base + d + 12, 1);
                st8(base + d + 13, type);
                st32(base + d + 31 + 8, hgt);
                st32(base + d + 31 + 12, w);
                for (int i = 0; i < 3; ++i) st32(base + d + 63 + 4 * i, 0xffffffffu);
                // Payload: every type with a source image has it at u+0 (alpha blend at u+3).
                const std::size_t img_at = type == 13 ? 3 : type == 14 ? 4 : 0;
                st64(base + d + 123 + img_at, make_phys(1, img));
                st32(base + d + 123 + img_at + 8 + 8, hgt);
                st32(base + d + 123 + img_at + 8 + 12, w);
                st8(base + img + 18, 8);
                st8(base + img + 19, QXL_BITMAP_TOP_DOWN);
                st32(base + img + 20, w);
                st32(base + img + 24, hgt);
                st32(base + img + 28, w * 4);
                st64(base + img + 40, make_phys(1, chunk));
                st32(base + chunk, w * hgt * 4);
                for (int n = in.u8() % 4; n > 0; --n) base[d + in.u8() % 192] = in.u8();
                m.push(ram::cmd_ring, make_phys(1, d), QXL_CMD_DRAW);
                break;
            }
            default: {  // a monitors config pointer + request
                const std::uint64_t p = pointer(in);
                m.mem.write32(m.hdr() + ram::monitors_config, static_cast<std::uint32_t>(p));
                m.mem.write32(m.hdr() + ram::monitors_config + 4, static_cast<std::uint32_t>(p >> 32));
                m.out(QXL_IO_MONITORS_CONFIG_ASYNC, 0);
                break;
            }
        }
    }
    m.run_ns(200000);
    static const bool verbose = std::getenv("QXL_FUZZ_VERBOSE") != nullptr;
    if (verbose && m.dev->guest_bug()) std::fprintf(stderr, "guest bug: %s\n", m.dev->last_guest_bug().c_str());
    qxl_fuzz_commands_parsed += m.dev->commands_parsed() - parsed_before;
    qxl_fuzz_guest_bugs += m.dev->guest_bug_count() - bugs_before;
    qxl_fuzz_offered += m.consumer.commands.size() + m.consumer.cursor_commands.size();
    return 0;
}
