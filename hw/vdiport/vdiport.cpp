#include "hw/vdiport/vdiport.h"

#include <cstring>
#include <vector>

namespace qxlbox::hw::vdiport {

namespace {

std::uint32_t ld32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
void st32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// QXL ring header fields.
constexpr std::size_t kNumItems = 0, kProd = 4, kNotifyOnProd = 8, kCons = 12, kNotifyOnCons = 16;
// Guest bytes buffered ahead of the peer before the device stops draining the input ring.
constexpr std::size_t kGuestBufferBytes = 8 * 1024;

PciIdentity vdi_identity() {
    PciIdentity id;
    id.vendor_id = 0x1b36;
    id.device_id = kVdiPortDeviceId;
    id.revision = 1;
    id.class_code = 0x078000;
    id.interrupt_pin = 1;
    return id;
}

}  // namespace

VdiPortDevice::VdiPortDevice(machine::Scheduler& scheduler, VdiPortTiming timing)
    : PciDevice("vdiport", vdi_identity()),
      scheduler_(scheduler),
      timing_(timing),
      ram_(new std::uint8_t[kVdiPortRamBytes]()) {
    BarSpec io;
    io.kind = BarKind::Io;
    io.size = kVdiPortIoBytes;
    io.name = "io";
    io.io.allowed_sizes = machine::kAccess32;
    io.io.read = [this](std::uint16_t off, unsigned) { return io_read(off); };
    io.io.write = [this](std::uint16_t off, unsigned, std::uint32_t v) { io_write(off, v); };
    declare_bar(0, io);
    BarSpec ram;
    ram.kind = BarKind::Memory32;
    ram.size = kVdiPortRamBytes;
    ram.name = "ram";
    ram.host = ram_.get();
    declare_bar(1, ram);
    reset();
}

VdiPortDevice::~VdiPortDevice() {
    if (service_event_ != machine::Scheduler::kNoEvent) scheduler_.cancel(service_event_);
    if (tick_event_ != machine::Scheduler::kNoEvent) scheduler_.cancel(tick_event_);
}

void VdiPortDevice::init_ram() {
    std::memset(ram_.get(), 0, kVdiPortRamBytes);
    st32(at(vdi_ram::magic), VDI_PORT_MAGIC);
    st32(at(vdi_ram::generation), 0);
    for (std::size_t ring : {vdi_ram::input, vdi_ram::output}) {
        st32(at(ring + kNumItems), kVdiRingSize);
        st32(at(ring + kNotifyOnProd), 1);
    }
}

void VdiPortDevice::reset() {
    init_ram();
    if (connected_ && peer_) peer_->agent_disconnected();
    connected_ = false;
    generation_ = 0;
    {
        std::lock_guard<std::mutex> lock(host_mutex_);
        to_guest_.clear();
        host_checker_.reset();
        want_writable_ = false;
        read_ready_ = false;
    }
    from_guest_.clear();
    guest_checker_.reset();
    peer_blocked_ = false;
    update_irq();
}

void VdiPortDevice::set_peer(proto::AgentPeer* peer) {
    if (peer_ == peer) return;
    if (peer_ && connected_) {
        // The host side went away: the guest learns it from a new generation (§11.1).
        peer_->agent_disconnected();
        bump_generation();
        raise();
    }
    peer_ = peer;
    if (peer_ && connected_) peer_->agent_connected(*this);
    if (peer_ && tick_event_ == machine::Scheduler::kNoEvent) tick();
}

void VdiPortDevice::tick() {
    tick_event_ = scheduler_.schedule_in(scheduler_.ns_to_cycles(timing_.service_period_ns), [this] {
        tick_event_ = machine::Scheduler::kNoEvent;
        service();
        if (peer_) tick();
    });
}

void VdiPortDevice::bump_generation() {
    if (++generation_ == 0) generation_ = 1;
    st32(at(vdi_ram::generation), generation_);
}

std::uint32_t VdiPortDevice::io_read(unsigned offset) {
    if (offset != vdi_io::VDI_PORT_IO_CONNECTION) return 0;
    if (connected_) return 0;
    bump_generation();
    connected_ = true;
    guest_checker_.reset();
    from_guest_.clear();
    if (peer_) peer_->agent_connected(*this);
    return generation_;
}

void VdiPortDevice::io_write(unsigned offset, std::uint32_t) {
    switch (offset) {
        case vdi_io::VDI_PORT_IO_CONNECTION:
            if (!connected_) return;
            connected_ = false;
            if (peer_) peer_->agent_disconnected();
            return;
        case vdi_io::VDI_PORT_IO_NOTIFY:
            if (connected_) schedule_service(timing_.notify_latency_ns);
            return;
        case vdi_io::VDI_PORT_IO_UPDATE_IRQ:
            update_irq();
            return;
        default:
            return;
    }
}

void VdiPortDevice::update_irq() {
    set_irq_level((ld32(at(vdi_ram::int_pending)) & ld32(at(vdi_ram::int_mask))) != 0);
}

void VdiPortDevice::raise() {
    st32(at(vdi_ram::int_pending), ld32(at(vdi_ram::int_pending)) | VDI_PORT_INTERRUPT);
    update_irq();
}

void VdiPortDevice::reject(const std::string& reason) {
    last_error_ = reason;
    if (log_) log_("vdiport: " + reason);
}

void VdiPortDevice::schedule_service(std::uint64_t delay_ns) {
    if (service_event_ != machine::Scheduler::kNoEvent) return;
    service_event_ = scheduler_.schedule_in(scheduler_.ns_to_cycles(delay_ns), [this] {
        service_event_ = machine::Scheduler::kNoEvent;
        service();
    });
}

std::size_t VdiPortDevice::write(const std::uint8_t* data, std::size_t size) {
    std::lock_guard<std::mutex> lock(host_mutex_);
    if (!connected_) {
        want_writable_ = true;
        return 0;
    }
    const std::size_t room = kHostBufferBytes - to_guest_.size();
    const std::size_t n = std::min(room, size);
    if (n < size) want_writable_ = true;
    if (!host_checker_.feed(data, n)) {
        // A host bug: drop what we were given (retrying it would not help) and resync.
        rejected_bytes_ += n;
        last_error_ = "host -> guest: " + host_checker_.error();
        if (log_) log_("vdiport: " + last_error_);
        host_checker_.reset();
        return n;
    }
    to_guest_.insert(to_guest_.end(), data, data + n);
    return n;
}

void VdiPortDevice::read_ready() {
    std::lock_guard<std::mutex> lock(host_mutex_);
    read_ready_ = true;
}

bool VdiPortDevice::fill_output() {
    bool notify = false;
    bool writable = false;
    {
        std::lock_guard<std::mutex> lock(host_mutex_);
        std::uint8_t* r = at(vdi_ram::output);
        while (!to_guest_.empty()) {
            const std::uint32_t prod = ld32(r + kProd), cons = ld32(r + kCons);
            if (prod - cons >= kVdiRingSize) {
                st32(r + kNotifyOnCons, cons + 1);
                break;
            }
            std::uint8_t* pkt = r + vdi_ram::ring_items + (prod & (kVdiRingSize - 1)) * kVdiPacketBytes;
            const std::size_t n = std::min<std::size_t>(kVdiPacketDataBytes, to_guest_.size());
            st32(pkt, generation_);
            st32(pkt + 4, static_cast<std::uint32_t>(n));
            std::copy(to_guest_.begin(), to_guest_.begin() + static_cast<std::ptrdiff_t>(n), pkt + 8);
            to_guest_.erase(to_guest_.begin(), to_guest_.begin() + static_cast<std::ptrdiff_t>(n));
            st32(r + kProd, prod + 1);
            if (prod + 1 == ld32(r + kNotifyOnProd)) notify = true;
        }
        if (want_writable_ && to_guest_.size() < kHostBufferBytes) {
            want_writable_ = false;
            writable = true;
        }
    }
    if (notify && connected_) raise();
    if (writable && peer_) peer_->agent_writable();
    return notify;
}

bool VdiPortDevice::drain_input() {
    std::uint8_t* r = at(vdi_ram::input);
    bool notify = false;
    bool progressed = false;
    while (from_guest_.size() < kGuestBufferBytes) {
        const std::uint32_t prod = ld32(r + kProd), cons = ld32(r + kCons);
        if (prod == cons) break;
        const std::uint8_t* pkt = r + vdi_ram::ring_items + (cons & (kVdiRingSize - 1)) * kVdiPacketBytes;
        const std::uint32_t gen = ld32(pkt), size = ld32(pkt + 4);
        if (gen == generation_) {
            if (size > kVdiPacketDataBytes) {
                rejected_bytes_ += size;
                reject("guest packet size " + std::to_string(size) + " > 504: dropped");
            } else if (!guest_checker_.feed(pkt + 8, size)) {
                // The rest of this packet cannot be framed; drop it and start again at the
                // next chunk header.
                rejected_bytes_ += size;
                reject("guest -> host: " + guest_checker_.error());
                guest_checker_.reset();
            } else {
                from_guest_.insert(from_guest_.end(), pkt + 8, pkt + 8 + size);
            }
        }
        st32(r + kCons, cons + 1);
        progressed = true;
        if (cons + 1 == ld32(r + kNotifyOnCons)) notify = true;
    }
    if (notify && connected_) raise();
    return progressed;
}

void VdiPortDevice::offer_to_peer() {
    if (!peer_ || from_guest_.empty()) return;
    std::vector<std::uint8_t> bytes(from_guest_.begin(), from_guest_.end());
    const std::size_t taken = std::min(peer_->agent_data(bytes.data(), bytes.size()), bytes.size());
    from_guest_.erase(from_guest_.begin(), from_guest_.begin() + static_cast<std::ptrdiff_t>(taken));
    peer_blocked_ = taken < bytes.size();
}

void VdiPortDevice::service() {
    if (!connected_) return;
    {
        std::lock_guard<std::mutex> lock(host_mutex_);
        if (read_ready_) peer_blocked_ = false;
        read_ready_ = false;
    }
    fill_output();
    bool more = true;
    for (int round = 0; round < 4 && more; ++round) {
        more = drain_input();
        if (!peer_blocked_) offer_to_peer();
        more = more && !peer_blocked_;
    }
    const std::uint8_t* in = at(vdi_ram::input);
    if (!peer_blocked_ && ld32(in + kProd) != ld32(in + kCons)) schedule_service(timing_.notify_latency_ns);
}

}  // namespace qxlbox::hw::vdiport
