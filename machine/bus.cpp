#include "machine/bus.h"

#include <algorithm>

namespace qxlbox::machine {

namespace {
constexpr std::size_t kPageCount = kAddressSpaceSize >> kPageShift;
}

AddressSpace::AddressSpace()
    : read_pages_(new std::uint8_t*[kPageCount]()), write_pages_(new std::uint8_t*[kPageCount]()) {}

AddressSpace::~AddressSpace() = default;

AddressSpace::RegionId AddressSpace::map_host(std::string name, PhysAddr base, std::uint64_t size, std::uint8_t* host,
                                              bool writable) {
    Region r;
    r.name = std::move(name);
    r.base = base;
    r.size = size;
    r.host = host;
    r.writable = writable;
    r.live = true;
    r.order = next_order_++;
    regions_.push_back(std::move(r));
    rebuild_pages(base, size);
    return static_cast<RegionId>(regions_.size() - 1);
}

AddressSpace::RegionId AddressSpace::map_mmio(std::string name, PhysAddr base, std::uint64_t size, MmioOps ops) {
    Region r;
    r.name = std::move(name);
    r.base = base;
    r.size = size;
    r.ops = std::move(ops);
    r.live = true;
    r.order = next_order_++;
    regions_.push_back(std::move(r));
    rebuild_pages(base, size);
    return static_cast<RegionId>(regions_.size() - 1);
}

void AddressSpace::unmap(RegionId id) {
    if (id >= regions_.size() || !regions_[id].live) return;
    regions_[id].live = false;
    rebuild_pages(regions_[id].base, regions_[id].size);
}

void AddressSpace::remap(RegionId id, PhysAddr new_base) {
    if (id >= regions_.size() || !regions_[id].live) return;
    const PhysAddr old = regions_[id].base;
    regions_[id].base = new_base;
    regions_[id].order = next_order_++;
    rebuild_pages(old, regions_[id].size);
    rebuild_pages(new_base, regions_[id].size);
}

const AddressSpace::Region* AddressSpace::find(PhysAddr addr) const {
    const Region* best = nullptr;
    for (const Region& r : regions_) {
        if (!r.live || addr < r.base || addr - r.base >= r.size) continue;
        if (!best || r.order > best->order) best = &r;
    }
    return best;
}

void AddressSpace::rebuild_pages(PhysAddr base, std::uint64_t size) {
    ++generation_;
    if (base >= kAddressSpaceSize) return;
    const std::uint64_t end = std::min<std::uint64_t>(base + size, kAddressSpaceSize);
    for (std::uint64_t page = base >> kPageShift; (page << kPageShift) < end; ++page) {
        const PhysAddr a = page << kPageShift;
        const Region* r = find(a);
        std::uint8_t* p = nullptr;
        // A page is host-backed only if one host region covers it entirely and no MMIO
        // region mapped later overlaps any part of it.
        if (r && r->host && a >= r->base && a + kPageSize <= r->base + r->size) {
            bool clean = true;
            for (const Region& o : regions_) {
                if (!o.live || &o == r || o.order < r->order) continue;
                if (o.base < a + kPageSize && a < o.base + o.size) clean = false;
            }
            if (clean) p = r->host + (a - r->base);
        }
        read_pages_[page] = p;
        write_pages_[page] = (p && r->writable) ? p : nullptr;
    }
}

std::uint64_t AddressSpace::read(PhysAddr addr, unsigned size_bytes) {
    const Region* r = find(addr);
    if (r && addr + size_bytes <= r->base + r->size) {
        const std::uint64_t off = addr - r->base;
        if (r->host) {
            std::uint64_t v = 0;
            std::memcpy(&v, r->host + off, size_bytes);
            return v;
        }
        if (r->ops.allowed_sizes & access_bit(size_bytes)) {
            return r->ops.read ? r->ops.read(off, size_bytes) : ~std::uint64_t{0} >> (64 - 8 * size_bytes);
        }
        if (trace_) trace_({BusTraceEvent::Kind::BadWidthRead, addr, size_bytes, 0, r->name});
        return ~std::uint64_t{0} >> (64 - 8 * size_bytes);
    }
    if (r) {
        // An access that straddles a region boundary is split into bytes.
        std::uint64_t v = 0;
        for (unsigned i = 0; i < size_bytes; ++i) v |= read(addr + i, 1) << (8 * i);
        return v;
    }
    if (trace_) trace_({BusTraceEvent::Kind::UnmappedRead, addr, size_bytes, 0, {}});
    return ~std::uint64_t{0} >> (64 - 8 * size_bytes);
}

void AddressSpace::write(PhysAddr addr, unsigned size_bytes, std::uint64_t value) {
    const Region* r = find(addr);
    if (r && addr + size_bytes <= r->base + r->size) {
        const std::uint64_t off = addr - r->base;
        if (r->host) {
            if (r->writable) {
                std::memcpy(r->host + off, &value, size_bytes);
            } else if (trace_) {
                trace_({BusTraceEvent::Kind::UnmappedWrite, addr, size_bytes, value, r->name + " (read-only)"});
            }
            return;
        }
        if (r->ops.allowed_sizes & access_bit(size_bytes)) {
            if (r->ops.write) r->ops.write(off, size_bytes, value);
            return;
        }
        if (trace_) trace_({BusTraceEvent::Kind::BadWidthWrite, addr, size_bytes, value, r->name});
        return;
    }
    if (r) {
        for (unsigned i = 0; i < size_bytes; ++i) write(addr + i, 1, (value >> (8 * i)) & 0xff);
        return;
    }
    if (trace_) trace_({BusTraceEvent::Kind::UnmappedWrite, addr, size_bytes, value, {}});
}

bool AddressSpace::read_block(PhysAddr addr, void* out, std::size_t len) {
    auto* dst = static_cast<std::uint8_t*>(out);
    bool ok = true;
    for (std::size_t i = 0; i < len;) {
        const PhysAddr a = addr + i;
        if (auto* p = host_page(a)) {
            const std::size_t off = a & (kPageSize - 1);
            const std::size_t n = std::min<std::size_t>(len - i, kPageSize - off);
            std::memcpy(dst + i, p + off, n);
            i += n;
        } else {
            if (!find(a)) ok = false;
            dst[i] = static_cast<std::uint8_t>(read(a, 1));
            ++i;
        }
    }
    return ok;
}

bool AddressSpace::write_block(PhysAddr addr, const void* in, std::size_t len) {
    const auto* src = static_cast<const std::uint8_t*>(in);
    bool ok = true;
    for (std::size_t i = 0; i < len;) {
        const PhysAddr a = addr + i;
        if (auto* p = writable_page(a)) {
            const std::size_t off = a & (kPageSize - 1);
            const std::size_t n = std::min<std::size_t>(len - i, kPageSize - off);
            std::memcpy(p + off, src + i, n);
            i += n;
        } else {
            if (!find(a)) ok = false;
            write(a, 1, src[i]);
            ++i;
        }
    }
    return ok;
}

PortHandle& PortHandle::operator=(PortHandle&& o) noexcept {
    if (this != &o) {
        reset();
        space_ = o.space_;
        id_ = o.id_;
        o.space_ = nullptr;
    }
    return *this;
}

void PortHandle::reset() {
    if (space_) space_->unregister(id_);
    space_ = nullptr;
}

PortSpace::PortSpace() : owner_(65536, 0) {}

PortHandle PortSpace::register_ports(std::string name, std::uint16_t base, std::uint32_t count, PortOps ops) {
    if (count == 0 || base + count > 65536) return {};
    for (std::uint32_t p = base; p < base + count; ++p) {
        if (owner_[p] != 0) return {};
    }
    Entry e;
    e.name = std::move(name);
    e.base = base;
    e.count = count;
    e.ops = std::move(ops);
    e.live = true;
    entries_.push_back(std::move(e));
    const auto id = static_cast<std::uint32_t>(entries_.size());
    for (std::uint32_t p = base; p < base + count; ++p) owner_[p] = id;
    return PortHandle(this, id);
}

void PortSpace::unregister(std::uint32_t id) {
    if (id == 0 || id > entries_.size()) return;
    Entry& e = entries_[id - 1];
    if (!e.live) return;
    for (std::uint32_t p = e.base; p < e.base + e.count; ++p) {
        if (owner_[p] == id) owner_[p] = 0;
    }
    e.live = false;
    e.ops = {};
}

std::uint32_t PortSpace::in(std::uint16_t port, unsigned size_bytes) {
    const std::uint32_t ones = size_bytes >= 4 ? 0xffffffffu : (1u << (8 * size_bytes)) - 1;
    const std::uint32_t id = owner_[port];
    if (id == 0) {
        if (trace_) trace_({BusTraceEvent::Kind::PortUnmappedRead, port, size_bytes, 0, {}});
        return ones;
    }
    Entry& e = entries_[id - 1];
    if (!(e.ops.allowed_sizes & access_bit(size_bytes)) || !e.ops.read) {
        if (trace_) trace_({BusTraceEvent::Kind::BadWidthRead, port, size_bytes, 0, e.name});
        return ones;
    }
    return e.ops.read(static_cast<std::uint16_t>(port - e.base), size_bytes) & ones;
}

void PortSpace::out(std::uint16_t port, unsigned size_bytes, std::uint32_t value) {
    const std::uint32_t id = owner_[port];
    if (id == 0) {
        if (trace_) trace_({BusTraceEvent::Kind::PortUnmappedWrite, port, size_bytes, value, {}});
        return;
    }
    Entry& e = entries_[id - 1];
    if (!(e.ops.allowed_sizes & access_bit(size_bytes)) || !e.ops.write) {
        if (trace_) trace_({BusTraceEvent::Kind::BadWidthWrite, port, size_bytes, value, e.name});
        return;
    }
    const std::uint32_t mask = size_bytes >= 4 ? 0xffffffffu : (1u << (8 * size_bytes)) - 1;
    e.ops.write(static_cast<std::uint16_t>(port - e.base), size_bytes, value & mask);
}

}  // namespace qxlbox::machine
