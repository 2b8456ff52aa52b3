#include "hw/qxl/qxl_device.h"

#include <cstdlib>
#include <cstring>

#include "hw/qxl/qxl_rom.h"

namespace qxlbox::hw::qxl {

namespace {

std::uint8_t* zeroed(std::uint64_t size) {
    // calloc: large buffers come straight from zero pages, so an unused 64 MiB BAR costs nothing.
    return static_cast<std::uint8_t*>(std::calloc(static_cast<std::size_t>(size), 1));
}

PciIdentity qxl_identity(const QxlConfig& c) {
    PciIdentity id;
    id.vendor_id = kVendorRedHat;
    id.device_id = kDeviceIdStable;
    id.revision = c.revision;
    id.class_code = kClassVga;
    id.subsystem_vendor_id = kSubsystemVendor;
    id.subsystem_id = kSubsystemId;
    id.interrupt_pin = 1;
    return id;
}

}  // namespace

void QxlDevice::FreeDeleter::operator()(std::uint8_t* p) const {
    std::free(p);
}

QxlDevice::QxlDevice(machine::Scheduler& scheduler, const QxlConfig& config, QxlTiming timing, ReleasePolicy policy)
    : PciDevice("qxl-" + std::to_string(config.normalized().id), qxl_identity(config.normalized())),
      scheduler_(scheduler),
      config_(config.normalized()),
      timing_(timing),
      policy_(policy),
      ram_(zeroed(config_.ram_size_bytes)),
      vram_(zeroed(config_.vram_backing_bytes())),
      rom_(zeroed(kRomSizeBytes)),
      shadow_rom_(kRomSizeBytes),
      emulation_thread_(std::this_thread::get_id()) {
    build_rom(config_, shadow_rom_.data());
    slots_.set_backing_sizes(config_.ram_size_bytes, config_.vram_backing_bytes());

    BarSpec ram;
    ram.kind = BarKind::Memory32;
    ram.size = config_.ram_size_bytes;
    ram.name = "ram";
    ram.host = ram_.get();
    declare_bar(QXL_RAM_RANGE_INDEX, ram);
    BarSpec vram;
    vram.kind = BarKind::Memory32;
    vram.size = config_.vram_size_bytes;
    vram.name = "vram";
    vram.host = vram_.get();
    declare_bar(QXL_VRAM_RANGE_INDEX, vram);
    BarSpec rom;
    rom.kind = BarKind::Memory32;
    rom.size = kRomSizeBytes;
    rom.name = "rom";
    rom.host = rom_.get();
    rom.host_writable = false;
    declare_bar(QXL_ROM_RANGE_INDEX, rom);
    BarSpec io;
    io.kind = BarKind::Io;
    io.size = config_.io_bar_size();
    io.name = "io";
    io.io.allowed_sizes = machine::kAccess8;
    io.io.read = [](std::uint16_t, unsigned) -> std::uint32_t { return 0xff; };
    io.io.write = [this](std::uint16_t offset, unsigned, std::uint32_t value) {
        io_write(static_cast<std::uint8_t>(offset), static_cast<std::uint8_t>(value));
    };
    declare_bar(QXL_IO_RANGE_INDEX, io);
    if (config_.has_vram64_bar()) {
        BarSpec v64;
        v64.kind = BarKind::Memory64;
        v64.prefetchable = true;
        v64.size = config_.vram64_size_bytes;
        v64.name = "vram64";
        v64.host = vram_.get();
        declare_bar(QXL_VRAM64_RANGE_INDEX, v64);
    }
    hard_reset();
}

QxlDevice::~QxlDevice() {
    for (auto id : {poll_event_, async_event_, irq_event_, service_event_}) {
        if (id != machine::Scheduler::kNoEvent) scheduler_.cancel(id);
    }
    if (consumer_) consumer_->detach();
}

void QxlDevice::set_trace_file(std::FILE* file) {
    if (!file) {
        trace_ = nullptr;
        return;
    }
    trace_ = [file](const std::string& line) {
        std::fputs(line.c_str(), file);
        std::fputc('\n', file);
    };
}

void QxlDevice::trace(const std::string& line) {
    if (trace_) trace_(name() + ": " + line);
}

void QxlDevice::set_consumer(proto::DisplayConsumer* consumer) {
    if (consumer_) consumer_->detach();
    consumer_ = consumer;
    if (consumer_) {
        proto::DeviceInfo info;
        info.n_surfaces = config_.n_surfaces;
        info.ram_size_bytes = std::uint64_t{ld32(rom_.get() + rom::num_pages)} * 4096;
        info.device_address = "pci/0000/02.0";
        consumer_->attach(*this, info);
        announce_surfaces();
        if (service_event_ == machine::Scheduler::kNoEvent) {
            service_event_ = scheduler_.schedule_in(scheduler_.ns_to_cycles(timing_.service_period_ns), [this] {
                service_event_ = machine::Scheduler::kNoEvent;
                service_tick();
            });
        }
        schedule_poll(timing_.notify_latency_ns);
    }
}

void QxlDevice::reset() {
    hard_reset();
}

// ---- interrupts (§5) ----

void QxlDevice::send_events(std::uint32_t bits) {
    std::uint8_t* p = ram_header() + ram::int_pending;
    const std::uint32_t old = ld32(p);
    st32(p, old | bits);
    if ((old & bits) == bits) return;
    if (timing_.irq_latency_ns == 0) {
        update_irq();
        return;
    }
    if (irq_event_ != machine::Scheduler::kNoEvent) return;
    irq_event_ = scheduler_.schedule_in(scheduler_.ns_to_cycles(timing_.irq_latency_ns), [this] {
        irq_event_ = machine::Scheduler::kNoEvent;
        update_irq();
    });
}

void QxlDevice::update_irq() {
    const bool level = (ld32(ram_header() + ram::int_pending) & ld32(ram_header() + ram::int_mask)) != 0;
    if (trace_events_ && level != traced_irq_level_) {
        traced_irq_level_ = level;
        emit(QxlTraceKind::IrqLevel, level ? 1 : 0);
    }
    set_irq_level(level);
}

std::string QxlDevice::traced_command(const ParsedCommand& p, bool cursor) const {
    // The description names the decoded fields; the digest covers every byte the owned
    // command was decoded from (pixels, glyphs, clip rects), so neither can differ unseen.
    char digest[17];
    std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(content_digest_));
    return describe(p, cursor) + " content=" + digest;
}

void QxlDevice::emit(QxlTraceKind kind, std::uint64_t a, std::uint64_t b, std::string_view text) {
    if (!trace_events_) return;
    trace_events_(QxlTraceEvent{kind, scheduler_.now(), a, b, text});
}

void QxlDevice::set_guest_bug(const std::string& reason) {
    send_events(QXL_INTERRUPT_ERROR);
    guest_bug_ = true;
    last_guest_bug_ = reason;
    ++guest_bug_count_;
    trace("guest bug: " + reason);
    if (log_) log_(name() + ": guest bug: " + reason);
}

void QxlDevice::reject_command(const ParsedCommand& p) {
    // A rejected command is still given back to the guest when its header was readable, so
    // its memory is not leaked (spice-server releases the commands it fails to parse).
    if (p.release_loc) release_now(p.release_id, *p.release_loc);
    if (p.reject == RejectKind::GuestBug) {
        set_guest_bug(p.error);
        return;
    }
    // Content checks are libspice-server's: it drops the command with a warning and QEMU
    // never hears of it, so no ERROR interrupt and no latch.
    ++dropped_command_count_;
    last_dropped_command_ = p.error;
    emit(QxlTraceKind::Dropped, sequence_, 0, p.error);
    trace("command dropped: " + p.error);
}

// ---- rings (§3) ----

std::uint8_t* QxlDevice::ring_item(std::size_t ring_offset, std::uint32_t counter, std::uint32_t item_bytes,
                                   std::uint32_t capacity, const char* ring_name) {
    std::uint8_t* r = ring(ring_offset);
    // The mask comes from guest memory (as in QEMU); the result is re-checked against the
    // real array length before anything is touched.
    const std::uint32_t index = counter & (ld32(r + ring::num_items) - 1);
    if (index >= capacity) {
        if (guest_bug_) return nullptr;  // already latched; do not flood the log every poll
        set_guest_bug(std::string(ring_name) + " ring: index " + std::to_string(index) +
                      " >= " + std::to_string(capacity) + " (num_items corrupted)");
        return nullptr;
    }
    return r + ring::items + std::size_t{index} * item_bytes;
}

bool QxlDevice::arm_notification(std::size_t ring_offset) {
    std::uint8_t* r = ring(ring_offset);
    if (ld32(r + ring::cons) != ld32(r + ring::prod)) return false;
    st32(r + ring::notify_on_prod, ld32(r + ring::prod) + 1);
    return ld32(r + ring::cons) == ld32(r + ring::prod);
}

void QxlDevice::schedule_poll(std::uint64_t delay_ns) {
    if (poll_event_ != machine::Scheduler::kNoEvent) return;
    poll_event_ = scheduler_.schedule_in(scheduler_.ns_to_cycles(delay_ns), [this] {
        poll_event_ = machine::Scheduler::kNoEvent;
        poll();
    });
}

ParserEnv QxlDevice::parser_env() {
    ParserEnv env;
    env.slots = &slots_;
    env.ram = ram_.get();
    env.vram = vram_.get();
    env.n_surfaces = config_.n_surfaces;
    env.cmdflags = cmdflags_;
    env.surface = [this](std::uint32_t id) { return find_surface(id); };
    env.on_read = read_hook_;
    if (trace_events_) {
        content_digest_ = kFnvOffset;
        env.on_copy = [this](const std::uint8_t* bytes, std::uint64_t size) {
            for (std::uint64_t i = 0; i < size; ++i) content_digest_ = (content_digest_ ^ bytes[i]) * kFnvPrime;
        };
    }
    // One command may copy at most as much as the device's memory holds (plus slack for
    // headers): bounded host memory however the guest links its chunks.
    env.byte_budget = config_.ram_size_bytes + config_.vram_backing_bytes() + (1u << 20);
    return env;
}

proto::ReleaseRef QxlDevice::make_release(const ParsedCommand& p) {
    if (!p.release_loc) return nullptr;
    if (policy_ == ReleasePolicy::Immediate) {
        release_now(p.release_id, *p.release_loc);
        return nullptr;
    }
    std::weak_ptr<ReleaseQueue> queue = release_queue_;
    ReleaseEntry entry{p.release_id, *p.release_loc, epoch_};
    return std::make_shared<proto::Release>(p.release_id, [queue, entry](std::uint64_t) {
        if (auto q = queue.lock()) {
            std::lock_guard<std::mutex> lock(q->mutex);
            q->entries.push_back(entry);
        }
    });
}

void QxlDevice::release_now(std::uint64_t id, const GuestLoc& loc) {
    release_resource(id, loc);
}

void QxlDevice::release_resource(std::uint64_t id, const GuestLoc& loc) {
    std::uint8_t* item = ring_item(ram::release_ring, ld32(ring(ram::release_ring) + ring::prod), kReleaseItemBytes,
                                   kReleaseRingSize, "release");
    if (!item) return;
    // Uses the id copied when the command was parsed, not whatever the guest wrote since.
    if (ld64(item) == 0) {
        st64(backing(loc.backing) + loc.offset, 0);
        st64(item, id);
    } else {
        if (last_release_) st64(backing(last_release_->backing) + last_release_->offset, id);
        st64(backing(loc.backing) + loc.offset, 0);
    }
    last_release_ = loc;
    ++num_free_res_;
    emit(QxlTraceKind::Release, id);
    trace("release id=" + std::to_string(id) + " pending=" + std::to_string(num_free_res_));
    push_free_res(false);
}

void QxlDevice::push_free_res(bool flush) {
    std::uint8_t* r = ring(ram::release_ring);
    const std::uint32_t prod = ld32(r + ring::prod), cons = ld32(r + ring::cons);
    if (prod - cons + 1 == kReleaseRingSize) return;  // one slot stays the accumulating head
    if (!flush && oom_running_) return;
    if (!flush && num_free_res_ < QXL_FREE_BUNCH_SIZE) return;
    st32(r + ring::prod, prod + 1);
    trace("release ring push prod=" + std::to_string(prod + 1) + " count=" + std::to_string(num_free_res_));
    if (prod + 1 == ld32(r + ring::notify_on_prod)) send_events(QXL_INTERRUPT_DISPLAY);
    std::uint8_t* item = ring_item(ram::release_ring, prod + 1, kReleaseItemBytes, kReleaseRingSize, "release");
    if (!item) return;
    st64(item, 0);
    num_free_res_ = 0;
    last_release_.reset();
}

void QxlDevice::drain_releases() {
    std::vector<ReleaseEntry> entries;
    {
        std::lock_guard<std::mutex> lock(release_queue_->mutex);
        entries.swap(release_queue_->entries);
    }
    for (const ReleaseEntry& e : entries) {
        if (e.epoch == epoch_) release_resource(e.id, e.loc);
    }
}

void QxlDevice::deliver_outbox() {
    // With no consumer attached there is nobody to hand commands to (QEMU always has its
    // spice server); they are dropped, which also releases them.
    if (!consumer_) outbox_.clear();
    while (!outbox_.empty() && consumer_) {
        if (!consumer_->push_command(outbox_.front())) {
            display_blocked_ = true;
            return;
        }
        emit(QxlTraceKind::Delivered, outbox_.front().sequence);
        outbox_.pop_front();
    }
    display_blocked_ = false;
    if (outbox_.empty() && async_waits_for_outbox_) {
        async_waits_for_outbox_ = false;
        complete_async_later();
    }
}

bool QxlDevice::poll_display() {
    deliver_outbox();
    if (!consumer_ || display_blocked_ || !outbox_.empty()) return false;
    if (mode_ == QxlMode::Vga || guest_bug_) return false;
    std::uint8_t* r = ring(ram::cmd_ring);
    if (ld32(r + ring::cons) == ld32(r + ring::prod)) return false;
    const std::uint32_t cons = ld32(r + ring::cons);
    std::uint8_t* item = ring_item(ram::cmd_ring, cons, kCommandItemBytes, kCmdRingSize, "command");
    if (!item) return false;
    const std::uint64_t data = ld64(item);
    const std::uint32_t type = ld32(item + 8);
    st32(r + ring::cons, cons + 1);
    if (cons + 1 == ld32(r + ring::notify_on_cons)) send_events(QXL_INTERRUPT_DISPLAY);

    CommandParser parser(parser_env());
    ParsedCommand p = parser.parse_command(type, data);
    ++sequence_;
    trace(describe(p, false));
    if (trace_events_ && p.error.empty()) emit(QxlTraceKind::Command, sequence_, type, traced_command(p, false));
    if (!p.error.empty()) {
        reject_command(p);
        return true;
    }
    proto::DisplayCommand cmd;
    cmd.sequence = sequence_;
    if (auto* d = std::get_if<proto::DrawCommand>(&p.body)) cmd.body = std::move(*d);
    if (auto* c = std::get_if<proto::SurfaceCreate>(&p.body)) {
        cmd.body = *c;
        if (p.created_surface) add_surface(c->surface_id, *p.created_surface);
    }
    if (auto* d = std::get_if<proto::SurfaceDestroy>(&p.body)) {
        cmd.body = *d;
        remove_surface(d->surface_id);
    }
    if (auto* u = std::get_if<proto::UpdateCommand>(&p.body)) cmd.body = *u;
    if (auto* m = std::get_if<proto::MessageCommand>(&p.body)) cmd.body = std::move(*m);
    cmd.release = make_release(p);
    outbox_.push_back(std::move(cmd));
    deliver_outbox();
    return true;
}

bool QxlDevice::poll_cursor() {
    if (!consumer_) return false;
    if (cursor_pending_) {
        if (!consumer_->push_cursor_command(*cursor_pending_)) {
            cursor_blocked_ = true;
            return false;
        }
        cursor_pending_.reset();
    }
    cursor_blocked_ = false;
    if (mode_ == QxlMode::Vga) return false;
    std::uint8_t* r = ring(ram::cursor_ring);
    if (ld32(r + ring::cons) == ld32(r + ring::prod)) return false;
    const std::uint32_t cons = ld32(r + ring::cons);
    std::uint8_t* item = ring_item(ram::cursor_ring, cons, kCommandItemBytes, kCursorRingSize, "cursor");
    if (!item) return false;
    const std::uint64_t data = ld64(item);
    const std::uint32_t type = ld32(item + 8);
    st32(r + ring::cons, cons + 1);
    if (cons + 1 == ld32(r + ring::notify_on_cons)) send_events(QXL_INTERRUPT_CURSOR);

    CommandParser parser(parser_env());
    ParsedCommand p = parser.parse_cursor(type, data);
    ++sequence_;
    trace(describe(p, true));
    if (trace_events_ && p.error.empty()) emit(QxlTraceKind::CursorCommand, sequence_, type, traced_command(p, true));
    if (!p.error.empty()) {
        reject_command(p);
        return true;
    }
    proto::CursorCommand cmd;
    cmd.op = std::move(std::get<proto::CursorOp>(p.body));
    cmd.sequence = sequence_;
    cmd.release = make_release(p);
    if (!consumer_->push_cursor_command(cmd)) {
        cursor_pending_ = std::move(cmd);
        cursor_blocked_ = true;
    }
    return true;
}

void QxlDevice::poll() {
    drain_releases();
    const bool did_display = poll_display();
    const bool did_cursor = poll_cursor();
    drain_releases();
    bool more = did_display || did_cursor;
    if (!more && consumer_) {
        // Idle: arm notify_on_prod (spice's req_cmd_notification) unless a command slipped in.
        const bool display_idle =
            display_blocked_ || mode_ == QxlMode::Vga || guest_bug_ || arm_notification(ram::cmd_ring);
        const bool cursor_idle = cursor_blocked_ || mode_ == QxlMode::Vga || arm_notification(ram::cursor_ring);
        more = !display_idle || !cursor_idle;
    }
    if (more) schedule_poll(timing_.command_interval_ns);
}

bool QxlDevice::hand_over_commands() {
    if (!consumer_) return false;
    drain_releases();
    while (poll_display()) {
    }
    while (poll_cursor()) {
    }
    drain_releases();
    const auto ring_empty = [this](std::size_t offset) {
        return ld32(ring(offset) + ring::cons) == ld32(ring(offset) + ring::prod);
    };
    const bool rings_live = mode_ != QxlMode::Vga;
    const bool display_left = !outbox_.empty() || (rings_live && !guest_bug_ && !ring_empty(ram::cmd_ring));
    const bool cursor_left = cursor_pending_.has_value() || (rings_live && !ring_empty(ram::cursor_ring));
    return !display_left && !cursor_left;
}

void QxlDevice::service_tick() {
    drain_releases();
    apply_cross_thread();
    if (wakeup_requested_.exchange(false)) schedule_poll(timing_.notify_latency_ns);
    // Like spice's worker, look at the rings now and then even without a kick.
    const bool cmd_pending = ld32(ring(ram::cmd_ring) + ring::cons) != ld32(ring(ram::cmd_ring) + ring::prod);
    const bool cursor_pending = ld32(ring(ram::cursor_ring) + ring::cons) != ld32(ring(ram::cursor_ring) + ring::prod);
    if (cmd_pending || cursor_pending || !outbox_.empty() || cursor_pending_) schedule_poll(0);
    if (consumer_) {
        service_event_ = scheduler_.schedule_in(scheduler_.ns_to_cycles(timing_.service_period_ns), [this] {
            service_event_ = machine::Scheduler::kNoEvent;
            service_tick();
        });
    }
}

void QxlDevice::wakeup() {
    if (on_emulation_thread()) {
        schedule_poll(timing_.notify_latency_ns);
        return;
    }
    wakeup_requested_ = true;
}

// ---- surfaces ----

void QxlDevice::add_surface(std::uint32_t id, const SurfaceInfo& info) {
    std::lock_guard<std::mutex> lock(surfaces_mutex_);
    surfaces_[id] = info;
}

void QxlDevice::remove_surface(std::uint32_t id) {
    std::lock_guard<std::mutex> lock(surfaces_mutex_);
    surfaces_.erase(id);
}

std::optional<SurfaceInfo> QxlDevice::find_surface(std::uint32_t id) const {
    std::lock_guard<std::mutex> lock(surfaces_mutex_);
    auto it = surfaces_.find(id);
    if (it == surfaces_.end()) return std::nullopt;
    return it->second;
}

bool QxlDevice::surface_exists(std::uint32_t id) const {
    return find_surface(id).has_value();
}

namespace {
std::uint32_t packed_stride(const SurfaceInfo& s) {
    const std::uint64_t row = (std::uint64_t{s.width} * proto::surface_format_bpp(s.format) + 7) / 8;
    return static_cast<std::uint32_t>((row + 3) & ~std::uint64_t{3});
}
std::uint64_t row_offset(const SurfaceInfo& s, std::uint32_t y) {
    const std::uint64_t abs_stride = s.stride < 0 ? std::uint64_t(-std::int64_t{s.stride}) : std::uint64_t(s.stride);
    const std::uint64_t row = s.stride < 0 ? (s.height - 1 - y) : y;
    return s.mem.offset + row * abs_stride;
}
}  // namespace

std::optional<proto::SurfacePixels> QxlDevice::read_surface(std::uint32_t surface_id) {
    std::lock_guard<std::mutex> lock(surfaces_mutex_);
    auto it = surfaces_.find(surface_id);
    if (it == surfaces_.end()) return std::nullopt;
    const SurfaceInfo& s = it->second;
    proto::SurfacePixels px;
    px.format = s.format;
    px.area = proto::Rect{0, 0, static_cast<std::int32_t>(s.height), static_cast<std::int32_t>(s.width)};
    px.stride = packed_stride(s);
    px.data.assign(std::size_t{px.stride} * s.height, 0);
    const std::size_t row_bytes = (std::size_t{s.width} * proto::surface_format_bpp(s.format) + 7) / 8;
    const std::uint8_t* base = s.mem.backing == Backing::Ram ? ram_.get() : vram_.get();
    for (std::uint32_t y = 0; y < s.height; ++y) {
        std::memcpy(px.data.data() + std::size_t{y} * px.stride, base + row_offset(s, y), row_bytes);
    }
    return px;
}

void QxlDevice::write_pixels(const SurfaceInfo& s, const proto::SurfacePixels& px) {
    const proto::Rect& a = px.area;
    if (px.format != s.format || a.left < 0 || a.top < 0 || a.empty() ||
        static_cast<std::uint32_t>(a.right) > s.width || static_cast<std::uint32_t>(a.bottom) > s.height) {
        return;
    }
    const unsigned bpp = proto::surface_format_bpp(s.format);
    if (bpp < 8) return;  // 1-bit surfaces are never written back
    const std::size_t bytes_pp = bpp / 8;
    const std::size_t row_bytes = std::size_t(a.width()) * bytes_pp;
    if (px.stride < row_bytes || px.data.size() < std::size_t{px.stride} * (std::size_t(a.height()) - 1) + row_bytes) {
        return;
    }
    std::uint8_t* base = s.mem.backing == Backing::Ram ? ram_.get() : vram_.get();
    for (std::int32_t y = 0; y < a.height(); ++y) {
        std::memcpy(base + row_offset(s, static_cast<std::uint32_t>(a.top + y)) + std::size_t(a.left) * bytes_pp,
                    px.data.data() + std::size_t(y) * px.stride, row_bytes);
    }
}

void QxlDevice::write_surface_area(std::uint32_t surface_id, const proto::SurfacePixels& pixels) {
    std::lock_guard<std::mutex> lock(surfaces_mutex_);
    auto it = surfaces_.find(surface_id);
    if (it != surfaces_.end()) write_pixels(it->second, pixels);
}

void QxlDevice::announce_surfaces() {
    if (!consumer_) return;
    std::map<std::uint32_t, SurfaceInfo> copy;
    {
        std::lock_guard<std::mutex> lock(surfaces_mutex_);
        copy = surfaces_;
    }
    for (const auto& [id, s] : copy) {
        proto::DisplayCommand cmd;
        proto::SurfaceCreate c;
        c.surface_id = id;
        c.format = s.format;
        c.width = s.width;
        c.height = s.height;
        c.stride = s.stride;
        c.flags = proto::kSurfaceKeepData;
        c.primary = id == 0;
        cmd.body = c;
        cmd.sequence = ++sequence_;
        outbox_.push_back(std::move(cmd));
    }
    deliver_outbox();
}

// ---- requests from the consumer's threads ----

void QxlDevice::set_client_capabilities(bool client_present, const std::vector<std::uint8_t>& caps) {
    if (on_emulation_thread()) {
        apply_client_caps(client_present, caps);
        return;
    }
    std::lock_guard<std::mutex> lock(cross_.mutex);
    cross_.client_caps = std::make_pair(client_present, caps);
    cross_pending_ = true;
}

bool QxlDevice::client_monitors_config(const std::vector<proto::MonitorHead>& heads) {
    if (config_.revision < 4) return false;
    // The guest accepts client monitors configs through the ROM only when it listens for the
    // interrupt (QEMU's test); int_mask is read atomically since this may run on any thread.
    const std::uint32_t mask =
        __atomic_load_n(reinterpret_cast<std::uint32_t*>(ram_header() + ram::int_mask), __ATOMIC_RELAXED);
    if (!(mask & QXL_INTERRUPT_CLIENT_MONITORS_CONFIG) || mask == 0 || mask == ~0u) return false;
    if (on_emulation_thread()) {
        apply_client_monitors(heads);
        return true;
    }
    std::lock_guard<std::mutex> lock(cross_.mutex);
    cross_.client_monitors = heads;
    cross_pending_ = true;
    return true;
}

void QxlDevice::apply_cross_thread() {
    if (!cross_pending_.exchange(false)) return;
    std::optional<std::pair<bool, std::vector<std::uint8_t>>> caps;
    std::optional<std::vector<proto::MonitorHead>> monitors;
    {
        std::lock_guard<std::mutex> lock(cross_.mutex);
        caps.swap(cross_.client_caps);
        monitors.swap(cross_.client_monitors);
    }
    if (caps) apply_client_caps(caps->first, caps->second);
    if (monitors) apply_client_monitors(*monitors);
}

void QxlDevice::apply_client_caps(bool present, const std::vector<std::uint8_t>& caps) {
    if (config_.revision < 4) return;
    for (std::uint8_t* r : {shadow_rom_.data(), rom_.get()}) {
        st8(r + rom::client_present, present ? 1 : 0);
        std::memset(r + rom::client_capabilities, 0, rom::client_capabilities_size);
        std::memcpy(r + rom::client_capabilities, caps.data(), std::min(caps.size(), rom::client_capabilities_size));
    }
    trace("client present=" + std::to_string(present) + " caps=" + std::to_string(caps.size()) + " bytes");
    send_events(QXL_INTERRUPT_CLIENT);
}

void QxlDevice::apply_client_monitors(const std::vector<proto::MonitorHead>& heads) {
    std::uint8_t block[rom::client_monitors_config_size] = {};
    const std::size_t count = std::min<std::size_t>(heads.size(), config_.max_monitors());
    st16(block, static_cast<std::uint16_t>(count));
    for (std::size_t i = 0; i < count; ++i) {
        std::uint8_t* h = block + 4 + 16 * i;  // top, left, bottom, right
        st32(h, heads[i].y);
        st32(h + 4, heads[i].x);
        st32(h + 8, heads[i].y + heads[i].height);
        st32(h + 12, heads[i].x + heads[i].width);
    }
    const std::uint32_t crc = client_monitors_crc(block, sizeof block);
    std::uint8_t* r = rom_.get();
    const bool changed = std::memcmp(r + rom::client_monitors_config, block, sizeof block) != 0 ||
                         ld32(r + rom::client_monitors_config_crc) != crc;
    std::memcpy(r + rom::client_monitors_config, block, sizeof block);
    st32(r + rom::client_monitors_config_crc, crc);
    trace("client monitors config count=" + std::to_string(count) + (changed ? " (changed)" : ""));
    const std::uint32_t mask = ld32(ram_header() + ram::int_mask);
    if (changed && (mask & QXL_INTERRUPT_CLIENT_MONITORS_CONFIG) && mask != ~0u) {
        send_events(QXL_INTERRUPT_CLIENT_MONITORS_CONFIG);
    }
}

// ---- trace formatting ----

namespace {
const char* draw_name(const proto::DrawOp& op) {
    static const char* names[] = {"fill", "opaque", "copy", "blend",       "blackness",   "whiteness", "invers",
                                  "rop3", "stroke", "text", "transparent", "alpha_blend", "composite", "copy_bits"};
    return names[op.index()];
}
std::string rect_text(const proto::Rect& r) {
    return "(" + std::to_string(r.left) + "," + std::to_string(r.top) + ")-(" + std::to_string(r.right) + "," +
           std::to_string(r.bottom) + ")";
}
}  // namespace

std::string QxlDevice::describe(const ParsedCommand& p, bool cursor) const {
    std::string s = std::string(cursor ? "cursor" : "cmd") + " #" + std::to_string(sequence_) +
                    " release=" + std::to_string(p.release_id) + " ";
    if (!p.error.empty()) return s + "REJECTED: " + p.error;
    if (auto* d = std::get_if<proto::DrawCommand>(&p.body)) {
        s += std::string("draw ") + draw_name(d->op) + " surface=" + std::to_string(d->surface_id) +
             " bbox=" + rect_text(d->bbox) + " effect=" + std::to_string(static_cast<int>(d->effect)) + " clip=" +
             (d->clip.type == proto::ClipType::Rects ? std::to_string(d->clip.rects.size()) + " rects" : "none");
    } else if (auto* c = std::get_if<proto::SurfaceCreate>(&p.body)) {
        s += "surface create id=" + std::to_string(c->surface_id) + " " + std::to_string(c->width) + "x" +
             std::to_string(c->height) + " stride=" + std::to_string(c->stride) +
             " format=" + std::to_string(static_cast<unsigned>(c->format));
    } else if (auto* d2 = std::get_if<proto::SurfaceDestroy>(&p.body)) {
        s += "surface destroy id=" + std::to_string(d2->surface_id);
    } else if (auto* u = std::get_if<proto::UpdateCommand>(&p.body)) {
        s += "update surface=" + std::to_string(u->surface_id) + " area=" + rect_text(u->area);
    } else if (auto* m = std::get_if<proto::MessageCommand>(&p.body)) {
        s += "message \"" + m->text.substr(0, 80) + "\"";
    } else if (auto* op = std::get_if<proto::CursorOp>(&p.body)) {
        if (auto* set = std::get_if<proto::CursorSet>(op)) {
            s += "cursor set pos=" + std::to_string(set->position.x) + "," + std::to_string(set->position.y) + " " +
                 std::to_string(set->shape->width) + "x" + std::to_string(set->shape->height) +
                 " type=" + std::to_string(static_cast<int>(set->shape->type));
        } else if (auto* mv = std::get_if<proto::CursorMove>(op)) {
            s += "cursor move pos=" + std::to_string(mv->position.x) + "," + std::to_string(mv->position.y);
        } else if (std::holds_alternative<proto::CursorHide>(*op)) {
            s += "cursor hide";
        } else {
            s += "cursor trail";
        }
    }
    return s;
}

}  // namespace qxlbox::hw::qxl
