// QXL I/O ports, reset, memslots and primary surface (shared/spec/qxl-device.md §4, §6, §8).
#include <cstring>

#include "hw/qxl/qxl_device.h"
#include "hw/qxl/qxl_rom.h"

namespace qxlbox::hw::qxl {

const char* qxl_io_port_name(unsigned port) {
    static const char* names[] = {"NOTIFY_CMD",
                                  "NOTIFY_CURSOR",
                                  "UPDATE_AREA",
                                  "UPDATE_IRQ",
                                  "NOTIFY_OOM",
                                  "RESET",
                                  "SET_MODE",
                                  "LOG",
                                  "MEMSLOT_ADD",
                                  "MEMSLOT_DEL",
                                  "DETACH_PRIMARY",
                                  "ATTACH_PRIMARY",
                                  "CREATE_PRIMARY",
                                  "DESTROY_PRIMARY",
                                  "DESTROY_SURFACE_WAIT",
                                  "DESTROY_ALL_SURFACES",
                                  "UPDATE_AREA_ASYNC",
                                  "MEMSLOT_ADD_ASYNC",
                                  "CREATE_PRIMARY_ASYNC",
                                  "DESTROY_PRIMARY_ASYNC",
                                  "DESTROY_SURFACE_ASYNC",
                                  "DESTROY_ALL_SURFACES_ASYNC",
                                  "FLUSH_SURFACES_ASYNC",
                                  "FLUSH_RELEASE",
                                  "MONITORS_CONFIG_ASYNC"};
    return port < QXL_IO_RANGE_SIZE ? names[port] : "UNKNOWN";
}

void QxlDevice::init_ram() {
    std::uint8_t* h = ram_header();
    st32(h + ram::magic, QXL_RAM_MAGIC);
    st32(h + ram::int_pending, 0);
    st32(h + ram::int_mask, 0);
    st32(h + ram::update_surface, 0);
    st64(h + ram::monitors_config, 0);
    const std::pair<std::size_t, std::uint32_t> rings[] = {
        {ram::cmd_ring, kCmdRingSize}, {ram::cursor_ring, kCursorRingSize}, {ram::release_ring, kReleaseRingSize}};
    for (auto [off, n] : rings) {
        std::uint8_t* r = h + off;
        st32(r + ring::num_items, n);
        st32(r + ring::prod, 0);
        st32(r + ring::notify_on_prod, 1);
        st32(r + ring::cons, 0);
        st32(r + ring::notify_on_cons, 0);
    }
    st64(h + ram::release_ring + ring::items, 0);
}

void QxlDevice::reset_state() {
    st32(shadow_rom_.data() + rom::update_id, 0);
    std::memcpy(rom_.get(), shadow_rom_.data(), kRomSizeBytes);
    init_ram();
    num_free_res_ = 0;
    last_release_.reset();
    update_irq();
}

void QxlDevice::hard_reset() {
    trace("hard reset");
    // The consumer lets go of everything; releases it triggers belong to the old epoch and
    // are dropped, as QEMU re-initialises the release ring right after.
    if (consumer_) consumer_->reset();
    ++epoch_;
    {
        std::lock_guard<std::mutex> lock(release_queue_->mutex);
        release_queue_->entries.clear();
    }
    outbox_.clear();
    cursor_pending_.reset();
    display_blocked_ = cursor_blocked_ = false;
    {
        std::lock_guard<std::mutex> lock(surfaces_mutex_);
        surfaces_.clear();
    }
    slots_.clear();
    reset_state();
    guest_bug_ = false;
    cancel_async();
    mode_ = config_.id == 0 ? QxlMode::Vga : QxlMode::Undefined;
    cmdflags_ = 0;
}

void QxlDevice::cancel_async() {
    if (async_event_ != machine::Scheduler::kNoEvent) scheduler_.cancel(async_event_);
    async_event_ = machine::Scheduler::kNoEvent;
    async_waits_for_outbox_ = false;
    current_async_ = kNoAsyncIo;
}

void QxlDevice::complete_async_later() {
    if (current_async_ == kNoAsyncIo || async_event_ != machine::Scheduler::kNoEvent) return;
    if (!outbox_.empty()) {
        // Work handed to the consumer (surface create/destroy) must be taken first.
        async_waits_for_outbox_ = true;
        return;
    }
    async_event_ = scheduler_.schedule_in(scheduler_.ns_to_cycles(timing_.async_latency_ns), [this] {
        async_event_ = machine::Scheduler::kNoEvent;
        complete_async();
    });
}

void QxlDevice::complete_async() {
    trace(std::string("async complete ") + qxl_io_port_name(current_async_));
    current_async_ = kNoAsyncIo;
    send_events(QXL_INTERRUPT_IO_CMD);
}

void QxlDevice::io_write(std::uint8_t port, std::uint8_t value) {
    trace(std::string("io ") + qxl_io_port_name(port) + " (" + std::to_string(port) + ") val=" + std::to_string(value) +
          (guest_bug_ && port != QXL_IO_RESET ? " ignored: guest bug" : ""));
    emit(QxlTraceKind::PortWrite, port, value);
    io_write_impl(port, value);
    drain_releases();
}

void QxlDevice::io_write_impl(std::uint8_t port, std::uint8_t val) {
    if (guest_bug_ && port != QXL_IO_RESET) return;
    if (config_.revision <= 3 && port > QXL_IO_FLUSH_RELEASE) {
        set_guest_bug("unsupported io " + std::to_string(port) + " for revision " + std::to_string(config_.revision));
        return;
    }
    switch (port) {
        case QXL_IO_RESET:
        case QXL_IO_SET_MODE:
        case QXL_IO_MEMSLOT_ADD:
        case QXL_IO_MEMSLOT_ADD_ASYNC:
        case QXL_IO_MEMSLOT_DEL:
        case QXL_IO_CREATE_PRIMARY:
        case QXL_IO_CREATE_PRIMARY_ASYNC:
        case QXL_IO_UPDATE_IRQ:
        case QXL_IO_LOG:
            break;
        default:
            if (mode_ != QxlMode::Vga) break;
            trace(std::string("io ") + qxl_io_port_name(port) + " ignored in VGA mode");
            // QEMU is nice to buggy drivers: an async port in VGA mode still completes.
            if (port >= QXL_IO_UPDATE_AREA_ASYNC && port < QXL_IO_RANGE_SIZE) send_events(QXL_INTERRUPT_IO_CMD);
            return;
    }

    bool async = false;
    std::uint8_t op = port;
    switch (port) {
        case QXL_IO_UPDATE_AREA_ASYNC:
            op = QXL_IO_UPDATE_AREA;
            async = true;
            break;
        case QXL_IO_MEMSLOT_ADD_ASYNC:
            op = QXL_IO_MEMSLOT_ADD;
            async = true;
            break;
        case QXL_IO_CREATE_PRIMARY_ASYNC:
            op = QXL_IO_CREATE_PRIMARY;
            async = true;
            break;
        case QXL_IO_DESTROY_PRIMARY_ASYNC:
            op = QXL_IO_DESTROY_PRIMARY;
            async = true;
            break;
        case QXL_IO_DESTROY_SURFACE_ASYNC:
            op = QXL_IO_DESTROY_SURFACE_WAIT;
            async = true;
            break;
        case QXL_IO_DESTROY_ALL_SURFACES_ASYNC:
            op = QXL_IO_DESTROY_ALL_SURFACES;
            async = true;
            break;
        case QXL_IO_FLUSH_SURFACES_ASYNC:
        case QXL_IO_MONITORS_CONFIG_ASYNC:
            async = true;
            break;
        default:
            break;
    }
    if (async) {
        if (current_async_ != kNoAsyncIo) {
            set_guest_bug(std::to_string(port) + " async started before last (" + std::to_string(current_async_) +
                          ") complete");
            return;
        }
        current_async_ = port;
    }
    auto cancel = [&] {
        if (!async) return;
        send_events(QXL_INTERRUPT_IO_CMD);
        current_async_ = kNoAsyncIo;
    };

    switch (op) {
        case QXL_IO_UPDATE_AREA: {
            const std::uint8_t* h = ram_header();
            const std::uint32_t surface = ld32(h + ram::update_surface);
            const std::int32_t top = static_cast<std::int32_t>(ld32(h + ram::update_area));
            const std::int32_t left = static_cast<std::int32_t>(ld32(h + ram::update_area + 4));
            const std::int32_t bottom = static_cast<std::int32_t>(ld32(h + ram::update_area + 8));
            const std::int32_t right = static_cast<std::int32_t>(ld32(h + ram::update_area + 12));
            // QEMU tests `> num_surfaces` (off by one); `>=` is the correct bound.
            if (surface >= config_.n_surfaces) {
                set_guest_bug("UPDATE_AREA: invalid surface id " + std::to_string(surface));
                return;
            }
            if (left >= right || top >= bottom || left < 0 || top < 0) {
                set_guest_bug("UPDATE_AREA: invalid area (" + std::to_string(left) + "," + std::to_string(top) + ")-(" +
                              std::to_string(right) + "," + std::to_string(bottom) + ")");
                if (left == right || top == bottom) {
                    // Old drivers send empty areas: forgive, and finish the async op now.
                    guest_bug_ = false;
                    cancel();
                }
                return;
            }
            update_area();
            if (async) complete_async_later();
            return;
        }
        case QXL_IO_NOTIFY_CMD:
        case QXL_IO_NOTIFY_CURSOR:
            schedule_poll(timing_.notify_latency_ns);
            return;
        case QXL_IO_UPDATE_IRQ:
            update_irq();
            return;
        case QXL_IO_NOTIFY_OOM:
            notify_oom();
            return;
        case QXL_IO_SET_MODE:
            set_mode(val);
            return;
        case QXL_IO_LOG: {
            const std::uint8_t* buf = ram_header() + ram::log_buf;
            // Bounded: the guest need not NUL-terminate its 4 KiB buffer.
            const void* nul = std::memchr(buf, 0, ram::log_buf_size);
            const std::size_t len = nul ? static_cast<const std::uint8_t*>(nul) - buf : ram::log_buf_size;
            std::string text(reinterpret_cast<const char*>(buf), len);
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
            trace("guest log: " + text);
            if (config_.guestdebug && log_) log_(name() + "/guest: " + text);
            return;
        }
        case QXL_IO_RESET:
            hard_reset();
            return;
        case QXL_IO_MEMSLOT_ADD: {
            if (val >= NUM_MEMSLOTS) {
                set_guest_bug("MEMSLOT_ADD: slot " + std::to_string(val) + " out of range");
                return;
            }
            if (slots_.slot(val).active) {
                set_guest_bug("MEMSLOT_ADD: slot " + std::to_string(val) + " already active");
                return;
            }
            if (add_memslot(val, 0) && async) complete_async_later();
            return;
        }
        case QXL_IO_MEMSLOT_DEL:
            if (val >= NUM_MEMSLOTS) {
                set_guest_bug("MEMSLOT_DEL: slot " + std::to_string(val) + " out of range");
                return;
            }
            slots_.remove(val);
            return;
        case QXL_IO_CREATE_PRIMARY:
            if (val != 0) {
                set_guest_bug("CREATE_PRIMARY: val != 0");
                cancel();
                return;
            }
            // Already-native is a guest bug that still proceeds (and completes), as in QEMU.
            if (create_primary() && async) complete_async_later();
            return;
        case QXL_IO_DESTROY_PRIMARY:
            if (val != 0) {
                set_guest_bug("DESTROY_PRIMARY: val != 0");
                cancel();
                return;
            }
            if (!destroy_primary()) {
                trace("DESTROY_PRIMARY ignored: no primary");
                cancel();
                return;
            }
            if (async) complete_async_later();
            return;
        case QXL_IO_DESTROY_SURFACE_WAIT:
            if (val >= config_.n_surfaces) {
                set_guest_bug("DESTROY_SURFACE: " + std::to_string(val) + " >= n_surfaces");
                cancel();
                return;
            }
            destroy_surface(val);
            if (async) complete_async_later();
            return;
        case QXL_IO_FLUSH_RELEASE: {
            const std::uint8_t* r = ring(ram::release_ring);
            if (ld32(r + ring::prod) - ld32(r + ring::cons) + 1 == kReleaseRingSize) {
                trace("FLUSH_RELEASE: release ring full, no flush");
            }
            push_free_res(true);
            return;
        }
        case QXL_IO_FLUSH_SURFACES_ASYNC:
            deliver_outbox();
            if (consumer_) consumer_->flush_surfaces();
            complete_async_later();
            return;
        case QXL_IO_DESTROY_ALL_SURFACES:
            mode_ = QxlMode::Undefined;
            destroy_all_surfaces();
            if (async) complete_async_later();
            return;
        case QXL_IO_MONITORS_CONFIG_ASYNC:
            monitors_config_async();
            return;
        default:
            set_guest_bug("unexpected io port " + std::to_string(port));
            return;
    }
}

bool QxlDevice::add_memslot(unsigned slot_id, std::uint64_t delta) {
    const std::uint8_t* h = ram_header();
    const std::uint64_t start = ld64(h + ram::mem_slot);
    const std::uint64_t end = ld64(h + ram::mem_slot + 8);
    if (start > end) {
        set_guest_bug("MEMSLOT_ADD: start > end");
        return false;
    }
    const unsigned regions[] = {QXL_RAM_RANGE_INDEX, QXL_VRAM_RANGE_INDEX, QXL_VRAM64_RANGE_INDEX};
    for (unsigned bar : regions) {
        if (!bar_mapped(bar)) continue;
        const std::uint64_t bar_start = bar_address(bar);
        const std::uint64_t bar_end = bar_start + bar_size(bar);
        if (start < bar_start || start > bar_end || end > bar_end) continue;
        MemSlot s;
        s.active = true;
        s.backing = bar == QXL_RAM_RANGE_INDEX ? Backing::Ram : Backing::Vram;
        s.backing_offset = start - bar_start;
        s.size = end - start;
        s.delta = delta;
        s.generation = 0;
        s.mem_start = start;
        s.mem_end = end;
        slots_.set(slot_id, s);
        st8(rom_.get() + rom::slot_generation, 0);
        trace("memslot " + std::to_string(slot_id) + " = BAR" + std::to_string(bar) + " +" +
              std::to_string(s.backing_offset) + " size " + std::to_string(s.size));
        return true;
    }
    set_guest_bug("MEMSLOT_ADD: range [" + std::to_string(start) + ", " + std::to_string(end) +
                  "] is not inside a mapped RAM/VRAM BAR");
    return false;
}

void QxlDevice::set_mode(std::uint32_t index) {
    auto m = rom_mode(rom_.get(), index);
    if (!m) {
        set_guest_bug("SET_MODE: mode " + std::to_string(index) + " out of range");
        return;
    }
    const std::uint64_t bar0 = bar_address(QXL_RAM_RANGE_INDEX);
    hard_reset();
    if (!bar_mapped(QXL_RAM_RANGE_INDEX)) {
        set_guest_bug("SET_MODE: RAM BAR not mapped");
        return;
    }
    // Compat slot 0: the whole of BAR0 with delta = BAR0 base, so plain physical addresses work.
    std::uint8_t* h = ram_header();
    st64(h + ram::mem_slot, bar0);
    st64(h + ram::mem_slot + 8, bar0 + config_.ram_size_bytes);
    if (!add_memslot(0, bar0)) return;
    st32(h + ram::create_surface + 0, m->x_res);
    st32(h + ram::create_surface + 4, m->y_res);
    st32(h + ram::create_surface + 8, static_cast<std::uint32_t>(-static_cast<std::int32_t>(m->x_res * 4)));
    st32(h + ram::create_surface + 12, static_cast<std::uint32_t>(proto::SurfaceFormat::XRGB32));
    st32(h + ram::create_surface + 16, 0);
    st32(h + ram::create_surface + 20, 1);
    st32(h + ram::create_surface + 24, 0);
    st32(h + ram::create_surface + 28, 0);
    st64(h + ram::create_surface + 32, bar0 + ld32(rom_.get() + rom::draw_area_offset));
    if (!create_primary()) return;
    mode_ = QxlMode::Compat;
    cmdflags_ = QXL_COMMAND_FLAG_COMPAT | (m->bits == 16 ? QXL_COMMAND_FLAG_COMPAT_16BPP : 0);
    st32(shadow_rom_.data() + rom::mode, index);
    st32(rom_.get() + rom::mode, index);
}

bool QxlDevice::create_primary() {
    std::uint8_t sc[kSurfaceCreateBytes];
    std::memcpy(sc, ram_header() + ram::create_surface, sizeof sc);  // one copy, then checks
    const std::uint32_t width = ld32(sc), height = ld32(sc + 4);
    const std::int32_t stride = static_cast<std::int32_t>(ld32(sc + 8));
    const std::uint32_t format = ld32(sc + 12);
    const std::uint32_t flags = ld32(sc + 24);
    const std::uint64_t mem = ld64(sc + 32);
    const std::uint64_t abs_stride = stride < 0 ? std::uint64_t(-std::int64_t{stride}) : std::uint64_t(stride);
    if (stride == INT32_MIN || abs_stride * height > config_.vgamem_size_bytes) {
        set_guest_bug("CREATE_PRIMARY: requested primary larger than framebuffer: stride " + std::to_string(stride) +
                      " x height " + std::to_string(height));
        return false;
    }
    if (abs_stride % 4) {
        set_guest_bug("CREATE_PRIMARY: stride " + std::to_string(stride) + " is not a multiple of 4");
        return false;
    }
    // spice-server's red_validate_surface, made a guest bug instead of a silent drop.
    if (!proto::surface_format_valid(format)) {
        set_guest_bug("CREATE_PRIMARY: invalid format " + std::to_string(format));
        return false;
    }
    const unsigned bpp = proto::surface_format_bpp(static_cast<proto::SurfaceFormat>(format));
    if (width == 0 || height == 0 || (std::uint64_t{width} * bpp + 7) / 8 > abs_stride) {
        set_guest_bug("CREATE_PRIMARY: " + std::to_string(width) + "x" + std::to_string(height) +
                      " does not fit stride " + std::to_string(stride));
        return false;
    }
    TranslateResult t = slots_.translate(mem, abs_stride * height);
    if (!t.loc) {
        set_guest_bug("CREATE_PRIMARY: bad surface memory: " + t.error);
        return false;
    }
    if (mode_ == QxlMode::Native) set_guest_bug("CREATE_PRIMARY: already in native mode");
    if (mode_ == QxlMode::Vga) {
        mode_ = QxlMode::Undefined;
        if (surface_exists(0)) destroy_surface(0);
    }
    mode_ = QxlMode::Native;
    cmdflags_ = 0;
    if (surface_exists(0)) destroy_surface(0);
    const SurfaceInfo info{static_cast<proto::SurfaceFormat>(format), width, height, stride, *t.loc};
    add_surface(0, info);
    proto::SurfaceCreate c;
    c.surface_id = 0;
    c.format = info.format;
    c.width = width;
    c.height = height;
    c.stride = stride;
    c.flags = flags;
    c.primary = true;
    proto::DisplayCommand cmd;
    cmd.body = c;
    cmd.sequence = ++sequence_;
    trace("primary create " + std::to_string(width) + "x" + std::to_string(height) +
          " stride=" + std::to_string(stride) + " format=" + std::to_string(format));
    outbox_.push_back(std::move(cmd));
    deliver_outbox();
    schedule_poll(timing_.notify_latency_ns);
    return true;
}

bool QxlDevice::destroy_primary() {
    if (mode_ == QxlMode::Undefined) return false;
    mode_ = QxlMode::Undefined;
    destroy_surface(0);
    return true;
}

void QxlDevice::destroy_surface(std::uint32_t id) {
    if (!surface_exists(id)) return;
    remove_surface(id);
    proto::DisplayCommand cmd;
    cmd.body = proto::SurfaceDestroy{id};
    cmd.sequence = ++sequence_;
    outbox_.push_back(std::move(cmd));
    deliver_outbox();
}

void QxlDevice::destroy_all_surfaces() {
    std::vector<std::uint32_t> ids;
    {
        std::lock_guard<std::mutex> lock(surfaces_mutex_);
        for (const auto& [id, s] : surfaces_) ids.push_back(id);
    }
    for (std::uint32_t id : ids) destroy_surface(id);
}

void QxlDevice::update_area() {
    const std::uint8_t* h = ram_header();
    const std::uint32_t surface = ld32(h + ram::update_surface);
    proto::Rect area{static_cast<std::int32_t>(ld32(h + ram::update_area)),
                     static_cast<std::int32_t>(ld32(h + ram::update_area + 4)),
                     static_cast<std::int32_t>(ld32(h + ram::update_area + 8)),
                     static_cast<std::int32_t>(ld32(h + ram::update_area + 12))};
    auto s = find_surface(surface);
    if (!s || !consumer_) return;
    // An area reaching past the surface is clipped to it (spice renders only what exists).
    area.right = std::min<std::int64_t>(area.right, s->width);
    area.bottom = std::min<std::int64_t>(area.bottom, s->height);
    if (area.empty()) return;
    deliver_outbox();
    auto px = consumer_->update_area(surface, area);
    drain_releases();
    if (!px) return;
    std::lock_guard<std::mutex> lock(surfaces_mutex_);
    auto it = surfaces_.find(surface);
    if (it != surfaces_.end()) write_pixels(it->second, *px);
}

void QxlDevice::monitors_config_async() {
    const std::uint64_t phys = ld64(ram_header() + ram::monitors_config);
    CommandParser parser(parser_env());
    auto cfg = parser.parse_monitors_config(phys, config_.max_monitors());
    if (!cfg) {
        set_guest_bug("MONITORS_CONFIG_ASYNC: " + parser.error());
        return;
    }
    if (cfg->heads.empty()) {
        trace("monitors config ignored (count 0 or above max_allowed " + std::to_string(cfg->max_allowed) + ")");
    } else {
        trace("monitors config " + std::to_string(cfg->heads.size()) + " heads");
        deliver_outbox();
        if (consumer_) {
            consumer_->monitors_config(*cfg);
            consumer_busy_ = true;
        }
    }
    complete_async_later();
}

void QxlDevice::notify_oom() {
    const std::uint8_t* r = ring(ram::release_ring);
    if (ld32(r + ring::prod) != ld32(r + ring::cons)) return;
    oom_running_ = true;
    if (consumer_) consumer_->oom();
    drain_releases();
    oom_running_ = false;
    // spice ends its OOM pass with flush_resources.
    if (num_free_res_) push_free_res(true);
}

}  // namespace qxlbox::hw::qxl
