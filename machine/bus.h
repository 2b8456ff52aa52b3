// Physical address space and port I/O space of the board.
//
// Theory of operation: the physical address space is a 4 GiB map of 4 KiB pages. Guest RAM
// and RAM-like device memory (QXL RAM/VRAM BARs, the ROM BAR read-only) are "host-backed":
// the page table holds a host pointer and the CPU reads and writes them directly through
// host_page(). Everything else is MMIO: a region with callbacks and a declared set of
// allowed access sizes. Unmapped reads return all ones and unmapped writes are dropped;
// both are reported to the trace hook (`--trace io`). Regions may overlap; the one mapped
// last wins, and unmapping restores what lies below (PCI BARs move over RAM holes this way).
//
// Port space: 64 Ki ports; a handler covers a range of ports and declares the access widths
// it accepts. A width it does not accept reads all ones / is dropped (and traced).
// Registration returns a PortHandle that unregisters on destruction (RAII, as dosbox-staging).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qxlbox::machine {

using PhysAddr = std::uint64_t;

inline constexpr std::uint32_t kPageShift = 12;
inline constexpr std::uint32_t kPageSize = 1u << kPageShift;
inline constexpr std::uint64_t kAddressSpaceSize = 1ull << 32;

// Bit set of access sizes in bytes: 1, 2, 4, 8.
enum AccessSize : std::uint8_t {
    kAccess8 = 1,
    kAccess16 = 2,
    kAccess32 = 4,
    kAccess64 = 8,
    kAccessAny = 15,
};
constexpr std::uint8_t access_bit(unsigned size_bytes) {
    return size_bytes == 1 ? kAccess8 : size_bytes == 2 ? kAccess16 : size_bytes == 4 ? kAccess32 : size_bytes == 8 ? kAccess64 : 0;
}

// Callback-driven memory region.
struct MmioOps {
    std::function<std::uint64_t(std::uint64_t offset, unsigned size_bytes)> read;
    std::function<void(std::uint64_t offset, unsigned size_bytes, std::uint64_t value)> write;
    std::uint8_t allowed_sizes = kAccessAny;
};

// What happens on an access the map cannot satisfy; used by --trace io.
struct BusTraceEvent {
    enum class Kind { UnmappedRead, UnmappedWrite, BadWidthRead, BadWidthWrite, PortUnmappedRead, PortUnmappedWrite } kind;
    std::uint64_t address;
    unsigned size_bytes;
    std::uint64_t value;
    std::string region;
};
using BusTraceHook = std::function<void(const BusTraceEvent&)>;

class AddressSpace {
public:
    using RegionId = std::uint32_t;

    AddressSpace();
    ~AddressSpace();
    AddressSpace(const AddressSpace&) = delete;
    AddressSpace& operator=(const AddressSpace&) = delete;

    // Maps host memory at [base, base+size). `host` must outlive the mapping; base and size
    // must be page aligned. Read-only memory ignores writes (and traces them).
    RegionId map_host(std::string name, PhysAddr base, std::uint64_t size, std::uint8_t* host, bool writable);
    RegionId map_mmio(std::string name, PhysAddr base, std::uint64_t size, MmioOps ops);
    void unmap(RegionId id);
    // Moves a mapped region (PCI BAR reprogramming).
    void remap(RegionId id, PhysAddr new_base);

    // Fast path: host pointer of the page containing `addr`, or nullptr when the page is
    // MMIO or unmapped. For writes, `writable_page` also requires the page to be writable.
    std::uint8_t* host_page(PhysAddr addr) const { return read_pages_[(addr & 0xffffffffu) >> kPageShift]; }
    std::uint8_t* writable_page(PhysAddr addr) const { return write_pages_[(addr & 0xffffffffu) >> kPageShift]; }

    // Slow path accessors (any address, any size 1/2/4/8; little endian).
    std::uint64_t read(PhysAddr addr, unsigned size_bytes);
    void write(PhysAddr addr, unsigned size_bytes, std::uint64_t value);

    std::uint8_t read8(PhysAddr a) { if (auto* p = host_page(a)) return p[a & (kPageSize - 1)]; return static_cast<std::uint8_t>(read(a, 1)); }
    std::uint16_t read16(PhysAddr a) { return static_cast<std::uint16_t>(read_fast(a, 2)); }
    std::uint32_t read32(PhysAddr a) { return static_cast<std::uint32_t>(read_fast(a, 4)); }
    void write8(PhysAddr a, std::uint8_t v) { if (auto* p = writable_page(a)) { p[a & (kPageSize - 1)] = v; return; } write(a, 1, v); }
    void write16(PhysAddr a, std::uint16_t v) { write_fast(a, 2, v); }
    void write32(PhysAddr a, std::uint32_t v) { write_fast(a, 4, v); }

    // Bulk copies (used by loaders and DMA-like device reads); these go byte-wise through
    // MMIO where needed and return false if any byte was unmapped.
    bool read_block(PhysAddr addr, void* out, std::size_t len);
    bool write_block(PhysAddr addr, const void* in, std::size_t len);

    void set_trace_hook(BusTraceHook hook) { trace_ = std::move(hook); }

    // Bumped on every map change; the CPU uses it to drop cached translations.
    std::uint64_t map_generation() const { return generation_; }

private:
    struct Region {
        std::string name;
        PhysAddr base = 0;
        std::uint64_t size = 0;
        std::uint8_t* host = nullptr;
        bool writable = false;
        MmioOps ops;
        bool live = false;
        std::uint64_t order = 0;
    };
    const Region* find(PhysAddr addr) const;
    void rebuild_pages(PhysAddr base, std::uint64_t size);
    std::uint64_t read_fast(PhysAddr a, unsigned n) {
        const std::uint32_t off = a & (kPageSize - 1);
        if (off + n <= kPageSize) {
            if (auto* p = host_page(a)) { std::uint64_t v = 0; std::memcpy(&v, p + off, n); return v; }
        }
        return read(a, n);
    }
    void write_fast(PhysAddr a, unsigned n, std::uint64_t v) {
        const std::uint32_t off = a & (kPageSize - 1);
        if (off + n <= kPageSize) {
            if (auto* p = writable_page(a)) { std::memcpy(p + off, &v, n); return; }
        }
        write(a, n, v);
    }

    std::vector<Region> regions_;
    std::uint64_t next_order_ = 1;
    std::uint64_t generation_ = 1;
    std::unique_ptr<std::uint8_t*[]> read_pages_;
    std::unique_ptr<std::uint8_t*[]> write_pages_;
    BusTraceHook trace_;
};

class PortSpace;

// Unregisters its port range when destroyed. Movable, not copyable.
class PortHandle {
public:
    PortHandle() = default;
    PortHandle(PortSpace* space, std::uint32_t id) : space_(space), id_(id) {}
    PortHandle(PortHandle&& o) noexcept : space_(o.space_), id_(o.id_) { o.space_ = nullptr; }
    PortHandle& operator=(PortHandle&& o) noexcept;
    PortHandle(const PortHandle&) = delete;
    PortHandle& operator=(const PortHandle&) = delete;
    ~PortHandle() { reset(); }
    void reset();
    bool active() const { return space_ != nullptr; }

private:
    PortSpace* space_ = nullptr;
    std::uint32_t id_ = 0;
};

struct PortOps {
    // offset is relative to the registered base port.
    std::function<std::uint32_t(std::uint16_t offset, unsigned size_bytes)> read;
    std::function<void(std::uint16_t offset, unsigned size_bytes, std::uint32_t value)> write;
    std::uint8_t allowed_sizes = kAccess8 | kAccess16 | kAccess32;
};

class PortSpace {
public:
    PortSpace();
    // Registers [base, base+count). Fails (returns an inactive handle) on overlap with a
    // live registration, so two devices never silently share a port.
    [[nodiscard]] PortHandle register_ports(std::string name, std::uint16_t base, std::uint32_t count, PortOps ops);

    std::uint32_t in(std::uint16_t port, unsigned size_bytes);
    void out(std::uint16_t port, unsigned size_bytes, std::uint32_t value);

    void set_trace_hook(BusTraceHook hook) { trace_ = std::move(hook); }
    bool is_registered(std::uint16_t port) const { return owner_[port] != 0; }

private:
    friend class PortHandle;
    void unregister(std::uint32_t id);
    struct Entry {
        std::string name;
        std::uint16_t base = 0;
        std::uint32_t count = 0;
        PortOps ops;
        bool live = false;
    };
    std::vector<Entry> entries_;               // index = id - 1
    std::vector<std::uint32_t> owner_;         // per port, entry id or 0
    BusTraceHook trace_;
};

// A level- or edge-signalled interrupt line from a device to an interrupt controller input.
class IrqSink {
public:
    virtual ~IrqSink() = default;
    virtual void set_irq_level(unsigned line, bool level) = 0;
};

class IrqLine {
public:
    IrqLine() = default;
    IrqLine(IrqSink* sink, unsigned line) : sink_(sink), line_(line) {}
    void set(bool level) {
        level_ = level;
        if (sink_) sink_->set_irq_level(line_, level);
    }
    void raise() { set(true); }
    void lower() { set(false); }
    void pulse() { set(true); set(false); }
    bool level() const { return level_; }
    bool connected() const { return sink_ != nullptr; }
    unsigned line() const { return line_; }

private:
    IrqSink* sink_ = nullptr;
    unsigned line_ = 0;
    bool level_ = false;
};

// What the CPU needs from the interrupt controller (the PIC pair on this board).
class InterruptController {
public:
    virtual ~InterruptController() = default;
    // True while INTR is asserted to the CPU.
    virtual bool intr_pending() const = 0;
    // INTA cycle: returns the vector and updates ISR/IRR.
    virtual std::uint8_t acknowledge() = 0;
};

}  // namespace qxlbox::machine
