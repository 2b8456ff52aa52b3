#include "hw/qxl/qxl_memslot.h"

namespace qxlbox::hw::qxl {

TranslateResult MemSlotTable::translate(std::uint64_t phys, std::uint64_t size_bytes, std::uint64_t skip) const {
    const unsigned slot_id = static_cast<unsigned>(phys >> 56);
    const unsigned generation = static_cast<unsigned>((phys >> 48) & 0xff);
    const std::uint64_t raw = phys & kPhysOffsetMask;
    if (slot_id >= NUM_MEMSLOTS) return {std::nullopt, "slot " + std::to_string(slot_id) + " >= 8"};
    const MemSlot& s = slots_[slot_id];
    if (!s.active) return {std::nullopt, "inactive slot " + std::to_string(slot_id)};
    if (generation != s.generation) {
        return {std::nullopt, "slot " + std::to_string(slot_id) + " generation " + std::to_string(generation) +
                                  " != " + std::to_string(s.generation)};
    }
    if (raw < s.delta) return {std::nullopt, "offset below slot delta"};
    // raw < 2^48 and skip < 2^32: no wrap in 64 bits.
    const std::uint64_t off = raw - s.delta + skip;
    if (off > s.size || size_bytes > s.size - off) {
        return {std::nullopt, "object [" + std::to_string(off) + ", +" + std::to_string(size_bytes) +
                                  ") outside slot " + std::to_string(slot_id) + " of size " + std::to_string(s.size)};
    }
    const std::uint64_t limit = backing_size(s.backing);
    const std::uint64_t at = s.backing_offset + off;
    if (at > limit || size_bytes > limit - at) return {std::nullopt, "object beyond the end of its BAR"};
    return {GuestLoc{s.backing, at}, {}};
}

std::uint64_t MemSlotTable::bytes_to_slot_end(std::uint64_t phys) const {
    const unsigned slot_id = static_cast<unsigned>(phys >> 56);
    if (slot_id >= NUM_MEMSLOTS || !slots_[slot_id].active) return 0;
    const MemSlot& s = slots_[slot_id];
    const std::uint64_t raw = phys & kPhysOffsetMask;
    if (raw < s.delta || raw - s.delta > s.size) return 0;
    const std::uint64_t off = raw - s.delta;
    const std::uint64_t in_slot = s.size - off;
    const std::uint64_t limit = backing_size(s.backing);
    const std::uint64_t at = s.backing_offset + off;
    const std::uint64_t in_bar = at >= limit ? 0 : limit - at;
    return in_slot < in_bar ? in_slot : in_bar;
}

}  // namespace qxlbox::hw::qxl
