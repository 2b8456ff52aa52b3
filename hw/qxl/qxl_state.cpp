// QXL device state save/restore. One two-way serialize function describes the layout; the
// loader reads into a scratch copy, re-validates everything a hostile state file could use
// to escape the device's buffers, and only then commits.
#include <cstring>
#include <type_traits>

#include "hw/qxl/qxl_device.h"

namespace qxlbox::hw::qxl {

namespace {

constexpr std::uint32_t kStateMagic = 0x534c5851;  // "QXLS"
constexpr std::uint32_t kStateVersion = 1;

class StateIo {
public:
    explicit StateIo(std::vector<std::uint8_t>* out) : out_(out) {}
    explicit StateIo(const std::vector<std::uint8_t>* in) : in_(in) {}
    bool loading() const { return in_ != nullptr; }
    bool ok() const { return ok_; }

    template <typename T>
    void io(T& v) {
        static_assert(std::is_integral_v<T> || std::is_enum_v<T>);
        std::uint64_t raw = 0;
        if (!loading()) {
            raw = static_cast<std::uint64_t>(v);
            for (std::size_t i = 0; i < sizeof(T); ++i) out_->push_back(static_cast<std::uint8_t>(raw >> (8 * i)));
            return;
        }
        if (!ok_ || in_->size() - pos_ < sizeof(T)) {
            ok_ = false;
            return;
        }
        for (std::size_t i = 0; i < sizeof(T); ++i) raw |= std::uint64_t{(*in_)[pos_++]} << (8 * i);
        v = static_cast<T>(raw);
    }
    void bytes(std::uint8_t* p, std::uint64_t n) {
        if (!loading()) {
            out_->insert(out_->end(), p, p + n);
            return;
        }
        if (!ok_ || in_->size() - pos_ < n) {
            ok_ = false;
            return;
        }
        std::memcpy(p, in_->data() + pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
    }

private:
    std::vector<std::uint8_t>* out_ = nullptr;
    const std::vector<std::uint8_t>* in_ = nullptr;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

// Everything that is device state apart from the big buffers.
struct Snapshot {
    std::uint32_t magic = kStateMagic;
    std::uint32_t version = kStateVersion;
    std::uint64_t ram_size = 0, vram_size = 0, vram64_size = 0, vgamem_size = 0;
    std::uint8_t revision = 0;
    std::uint32_t n_surfaces = 0;
    std::uint16_t pci_command = 0;
    std::uint32_t bars[6] = {};
    std::uint8_t interrupt_line = 0;
    std::uint8_t mode = 0;
    std::uint32_t cmdflags = 0;
    std::uint8_t guest_bug = 0;
    std::uint32_t current_async = kNoAsyncIo;
    std::array<MemSlot, NUM_MEMSLOTS> slots{};
    std::map<std::uint32_t, SurfaceInfo> surfaces;
    std::uint32_t num_free_res = 0;
    std::optional<GuestLoc> last_release;
};

void serialize_snapshot(StateIo& s, Snapshot& n) {
    s.io(n.magic);
    s.io(n.version);
    s.io(n.ram_size);
    s.io(n.vram_size);
    s.io(n.vram64_size);
    s.io(n.vgamem_size);
    s.io(n.revision);
    s.io(n.n_surfaces);
    s.io(n.pci_command);
    for (auto& b : n.bars) s.io(b);
    s.io(n.interrupt_line);
    s.io(n.mode);
    s.io(n.cmdflags);
    s.io(n.guest_bug);
    s.io(n.current_async);
    for (MemSlot& m : n.slots) {
        std::uint8_t active = m.active, backing = static_cast<std::uint8_t>(m.backing);
        s.io(active);
        s.io(backing);
        s.io(m.backing_offset);
        s.io(m.size);
        s.io(m.delta);
        s.io(m.generation);
        s.io(m.mem_start);
        s.io(m.mem_end);
        m.active = active != 0;
        m.backing = backing == 0 ? Backing::Ram : Backing::Vram;
        if (backing > 1) m.active = false, m.size = ~0ull;  // rejected by validation
    }
    std::uint32_t count = static_cast<std::uint32_t>(n.surfaces.size());
    s.io(count);
    if (s.loading()) {
        for (std::uint32_t i = 0; i < count && s.ok() && i <= n.n_surfaces; ++i) {
            std::uint32_t id = 0, format = 0, w = 0, h = 0, stride = 0;
            std::uint8_t backing = 0;
            std::uint64_t offset = 0;
            s.io(id), s.io(format), s.io(w), s.io(h), s.io(stride), s.io(backing), s.io(offset);
            n.surfaces[id] =
                SurfaceInfo{static_cast<proto::SurfaceFormat>(format), w, h, static_cast<std::int32_t>(stride),
                            GuestLoc{backing == 0 ? Backing::Ram : Backing::Vram, backing > 1 ? ~0ull : offset}};
        }
        if (count > n.n_surfaces) n.surfaces.clear(), n.n_surfaces = 0;  // rejected by validation
    } else {
        for (auto& [id, info] : n.surfaces) {
            std::uint32_t sid = id, format = static_cast<std::uint32_t>(info.format),
                          stride = static_cast<std::uint32_t>(info.stride);
            std::uint8_t backing = static_cast<std::uint8_t>(info.mem.backing);
            s.io(sid), s.io(format), s.io(info.width), s.io(info.height), s.io(stride), s.io(backing),
                s.io(info.mem.offset);
        }
    }
    s.io(n.num_free_res);
    std::uint8_t has_last = n.last_release.has_value();
    GuestLoc last = n.last_release.value_or(GuestLoc{});
    std::uint8_t last_backing = static_cast<std::uint8_t>(last.backing);
    s.io(has_last);
    s.io(last_backing);
    s.io(last.offset);
    if (s.loading()) {
        n.last_release.reset();
        if (has_last)
            n.last_release =
                GuestLoc{last_backing == 0 ? Backing::Ram : Backing::Vram, last_backing > 1 ? ~0ull : last.offset};
    }
}

bool is_async_port(std::uint32_t p) {
    return (p >= QXL_IO_UPDATE_AREA_ASYNC && p <= QXL_IO_FLUSH_SURFACES_ASYNC) || p == QXL_IO_MONITORS_CONFIG_ASYNC;
}

}  // namespace

std::vector<std::uint8_t> QxlDevice::save_state() {
    drain_releases();
    Snapshot n;
    n.ram_size = config_.ram_size_bytes;
    n.vram_size = config_.vram_size_bytes;
    n.vram64_size = config_.vram64_size_bytes;
    n.vgamem_size = config_.vgamem_size_bytes;
    n.revision = config_.revision;
    n.n_surfaces = config_.n_surfaces;
    n.pci_command = command();
    for (unsigned i = 0; i < 6; ++i) n.bars[i] = config_read(pci_cfg::kBar0 + 4 * i, 4);
    n.interrupt_line = static_cast<std::uint8_t>(config_read(pci_cfg::kInterruptLine, 1));
    n.mode = static_cast<std::uint8_t>(mode_);
    n.cmdflags = cmdflags_;
    n.guest_bug = guest_bug_;
    n.current_async = current_async_;
    for (unsigned i = 0; i < NUM_MEMSLOTS; ++i) n.slots[i] = slots_.slot(i);
    {
        std::lock_guard<std::mutex> lock(surfaces_mutex_);
        n.surfaces = surfaces_;
    }
    n.num_free_res = num_free_res_;
    n.last_release = last_release_;
    std::vector<std::uint8_t> out;
    StateIo s(&out);
    serialize_snapshot(s, n);
    s.bytes(rom_.get(), kRomSizeBytes);
    s.bytes(shadow_rom_.data(), kRomSizeBytes);
    s.bytes(ram_.get(), config_.ram_size_bytes);
    s.bytes(vram_.get(), config_.vram_backing_bytes());
    return out;
}

std::optional<std::string> QxlDevice::load_state(const std::vector<std::uint8_t>& state) {
    Snapshot n;
    StateIo s(&state);
    serialize_snapshot(s, n);
    if (!s.ok()) return "qxl state: truncated";
    if (n.magic != kStateMagic || n.version != kStateVersion) return "qxl state: bad magic or version";
    if (n.ram_size != config_.ram_size_bytes || n.vram_size != config_.vram_size_bytes ||
        n.vram64_size != config_.vram64_size_bytes || n.vgamem_size != config_.vgamem_size_bytes ||
        n.revision != config_.revision || n.n_surfaces != config_.n_surfaces) {
        return "qxl state: saved with a different device configuration";
    }
    if (n.mode > static_cast<std::uint8_t>(QxlMode::Native)) return "qxl state: bad mode";
    if (n.cmdflags > 3) return "qxl state: bad cmdflags";
    if (n.current_async != kNoAsyncIo && !is_async_port(n.current_async)) return "qxl state: bad pending async port";
    MemSlotTable check;
    check.set_backing_sizes(config_.ram_size_bytes, config_.vram_backing_bytes());
    for (const MemSlot& m : n.slots) {
        if (!m.active) continue;
        const std::uint64_t limit = check.backing_size(m.backing);
        if (m.backing_offset > limit || m.size > limit - m.backing_offset || m.size > kPhysOffsetMask) {
            return "qxl state: memslot outside its BAR";
        }
    }
    for (const auto& [id, info] : n.surfaces) {
        const auto fmt = static_cast<std::uint32_t>(info.format);
        if (id >= config_.n_surfaces || !proto::surface_format_valid(fmt) || info.width == 0 || info.height == 0 ||
            info.stride == INT32_MIN) {
            return "qxl state: bad surface " + std::to_string(id);
        }
        const std::uint64_t abs_stride =
            info.stride < 0 ? std::uint64_t(-std::int64_t{info.stride}) : std::uint64_t(info.stride);
        const std::uint64_t row = (std::uint64_t{info.width} * proto::surface_format_bpp(info.format) + 7) / 8;
        const std::uint64_t limit = check.backing_size(info.mem.backing);
        if (row > abs_stride || info.mem.offset > limit || abs_stride * info.height > limit - info.mem.offset) {
            return "qxl state: surface " + std::to_string(id) + " outside its BAR";
        }
    }
    if (n.last_release) {
        const std::uint64_t limit = check.backing_size(n.last_release->backing);
        if (n.last_release->offset > limit || limit - n.last_release->offset < 8)
            return "qxl state: bad release pointer";
    }
    // Buffers: read into scratch first so a truncated file leaves the device untouched.
    std::vector<std::uint8_t> rom(kRomSizeBytes), shadow(kRomSizeBytes);
    s.bytes(rom.data(), rom.size());
    s.bytes(shadow.data(), shadow.size());
    if (!s.ok()) return "qxl state: truncated";
    std::vector<std::uint8_t> big(static_cast<std::size_t>(config_.ram_size_bytes + config_.vram_backing_bytes()));
    s.bytes(big.data(), big.size());
    if (!s.ok()) return "qxl state: truncated";

    // Commit.
    if (consumer_) consumer_->reset();
    ++epoch_;
    {
        std::lock_guard<std::mutex> lock(release_queue_->mutex);
        release_queue_->entries.clear();
    }
    outbox_.clear();
    cursor_pending_.reset();
    display_blocked_ = cursor_blocked_ = false;
    cancel_async();
    std::memcpy(rom_.get(), rom.data(), kRomSizeBytes);
    std::memcpy(shadow_rom_.data(), shadow.data(), kRomSizeBytes);
    std::memcpy(ram_.get(), big.data(), static_cast<std::size_t>(config_.ram_size_bytes));
    std::memcpy(vram_.get(), big.data() + config_.ram_size_bytes,
                static_cast<std::size_t>(config_.vram_backing_bytes()));
    for (unsigned i = 0; i < 6; ++i) config_write(pci_cfg::kBar0 + 4 * i, 4, n.bars[i]);
    config_write(pci_cfg::kInterruptLine, 1, n.interrupt_line);
    config_write(pci_cfg::kCommand, 2, n.pci_command);
    mode_ = static_cast<QxlMode>(n.mode);
    cmdflags_ = n.cmdflags;
    guest_bug_ = n.guest_bug != 0;
    slots_.clear();
    for (unsigned i = 0; i < NUM_MEMSLOTS; ++i) {
        if (n.slots[i].active) slots_.set(i, n.slots[i]);
    }
    {
        std::lock_guard<std::mutex> lock(surfaces_mutex_);
        surfaces_ = n.surfaces;
    }
    num_free_res_ = n.num_free_res;
    last_release_ = n.last_release;
    current_async_ = n.current_async;
    // The consumer starts empty: show it the surfaces again (KEEP_DATA), then finish any
    // async operation that was in flight when the state was saved.
    announce_surfaces();
    complete_async_later();
    update_irq();
    schedule_poll(timing_.notify_latency_ns);
    return std::nullopt;
}

}  // namespace qxlbox::hw::qxl
