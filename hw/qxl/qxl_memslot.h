// QXL memory slots and QXLPHYSICAL translation (shared/spec/qxl-device.md §6, §0.1).
//
// Theory of operation: a guest registers up to 8 slots, each a guest-physical range that
// must lie inside one mapped BAR (RAM = BAR0, VRAM = BAR1, VRAM64 = BAR4; BAR1 and BAR4 share
// one backing buffer). A slot remembers which buffer it lives in and its offset there, so a
// later BAR move does not change what a pointer means (as in QEMU). A QXLPHYSICAL is
// slot (bits 63..56) | generation (55..48) | offset (47..0). translate() combines QEMU's
// qxl_phys2virt checks with spice-server's memslot_get_virt ones: slot < 8 and active,
// generation equal to the slot's, offset >= delta, and the whole object [offset, offset+size)
// inside the slot and inside the backing buffer, with no arithmetic wrap (CVE-2022-4144,
// CVE-2019-3813). It returns a location or an error string; it never touches memory itself.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "hw/qxl/qxl_defs.h"

namespace qxlbox::hw::qxl {

enum class Backing : std::uint8_t { Ram = 0, Vram = 1 };

// A validated byte range in one of the device's backing buffers.
struct GuestLoc {
    Backing backing = Backing::Ram;
    std::uint64_t offset = 0;
    friend bool operator==(const GuestLoc&, const GuestLoc&) = default;
};

struct MemSlot {
    bool active = false;
    Backing backing = Backing::Ram;
    std::uint64_t backing_offset = 0;  // where mem_start lies in the backing buffer
    std::uint64_t size = 0;            // mem_end - mem_start
    std::uint64_t delta = 0;           // subtracted from pointer offsets (slot 0 in compat mode)
    std::uint8_t generation = 0;
    std::uint64_t mem_start = 0;  // guest-physical, kept for tracing and save/restore
    std::uint64_t mem_end = 0;
};

struct TranslateResult {
    std::optional<GuestLoc> loc;
    std::string error;
};

class MemSlotTable {
public:
    void set_backing_sizes(std::uint64_t ram_bytes, std::uint64_t vram_bytes) {
        ram_bytes_ = ram_bytes;
        vram_bytes_ = vram_bytes;
    }
    std::uint64_t backing_size(Backing b) const { return b == Backing::Ram ? ram_bytes_ : vram_bytes_; }

    void clear() { slots_ = {}; }
    const MemSlot& slot(unsigned id) const { return slots_[id]; }
    void set(unsigned id, const MemSlot& s) { slots_[id] = s; }
    void remove(unsigned id) { slots_[id] = MemSlot{}; }

    // Translates `phys` + `skip` for an object of `size_bytes`.
    TranslateResult translate(std::uint64_t phys, std::uint64_t size_bytes, std::uint64_t skip = 0) const;
    // Bytes from the translated offset to the end of the slot (for NUL-bounded strings).
    std::uint64_t bytes_to_slot_end(std::uint64_t phys) const;

private:
    std::array<MemSlot, NUM_MEMSLOTS> slots_{};
    std::uint64_t ram_bytes_ = 0;
    std::uint64_t vram_bytes_ = 0;
};

}  // namespace qxlbox::hw::qxl
