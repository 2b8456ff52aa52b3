// QXL register, structure-offset and constant definitions (shared/spec/qxl-device.md §1-§9).
//
// Theory of operation: the QXL device never overlays C structs on guest memory. Every guest
// structure is described here by its byte offsets (as computed from spice-protocol's packed
// layout, identical for an i386 guest and an x86-64 host) and read with explicit
// little-endian loads from a private copy. Names follow spice-protocol's qxl_dev.h so a
// reader can check them against the fact sheet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hw/qxl/qxl_io_ports.h"

namespace qxlbox::hw::qxl {

// §1 PCI identity.
inline constexpr std::uint16_t kVendorRedHat = 0x1b36;
inline constexpr std::uint16_t kDeviceIdStable = 0x0100;
inline constexpr std::uint32_t kClassVga = 0x030000;
inline constexpr std::uint16_t kSubsystemVendor = 0x1af4;
inline constexpr std::uint16_t kSubsystemId = 0x1100;

inline constexpr unsigned QXL_RAM_RANGE_INDEX = 0;
inline constexpr unsigned QXL_VRAM_RANGE_INDEX = 1;
inline constexpr unsigned QXL_ROM_RANGE_INDEX = 2;
inline constexpr unsigned QXL_IO_RANGE_INDEX = 3;
inline constexpr unsigned QXL_VRAM64_RANGE_INDEX = 4;

// §2 ROM.
inline constexpr std::uint32_t QXL_ROM_MAGIC = 0x4f525851;  // "QXRO"
inline constexpr std::uint32_t kRomSizeBytes = 8192;
namespace rom {
inline constexpr std::size_t magic = 0;
inline constexpr std::size_t id = 4;
inline constexpr std::size_t update_id = 8;
inline constexpr std::size_t compression_level = 12;
inline constexpr std::size_t log_level = 16;
inline constexpr std::size_t mode = 20;
inline constexpr std::size_t modes_offset = 24;
inline constexpr std::size_t num_pages = 28;
inline constexpr std::size_t pages_offset = 32;
inline constexpr std::size_t draw_area_offset = 36;
inline constexpr std::size_t surface0_area_size = 40;
inline constexpr std::size_t ram_header_offset = 44;
inline constexpr std::size_t mm_clock = 48;
inline constexpr std::size_t n_surfaces = 52;
inline constexpr std::size_t flags = 56;
inline constexpr std::size_t slots_start = 64;
inline constexpr std::size_t slots_end = 65;
inline constexpr std::size_t slot_gen_bits = 66;
inline constexpr std::size_t slot_id_bits = 67;
inline constexpr std::size_t slot_generation = 68;
inline constexpr std::size_t client_present = 69;
inline constexpr std::size_t client_capabilities = 70;
inline constexpr std::size_t client_capabilities_size = 58;
inline constexpr std::size_t client_monitors_config_crc = 128;
inline constexpr std::size_t client_monitors_config = 132;  // count u16, padding u16, heads[64]
inline constexpr std::size_t client_monitors_config_size = 1028;
inline constexpr std::size_t size = 1160;
}  // namespace rom
inline constexpr std::uint32_t kClientMonitorsMax = 64;
inline constexpr std::uint32_t CLIENT_MONITORS_CONFIG_CRC32_POLY = 0xedb88320;

// §3 RAM header.
inline constexpr std::uint32_t QXL_RAM_MAGIC = 0x41525851;  // "QXRA"
inline constexpr std::uint32_t kRamHeaderReserveBytes = 8192;
namespace ram {
inline constexpr std::size_t magic = 0;
inline constexpr std::size_t int_pending = 4;
inline constexpr std::size_t int_mask = 8;
inline constexpr std::size_t log_buf = 12;
inline constexpr std::size_t log_buf_size = 4096;
inline constexpr std::size_t cmd_ring = 4108;
inline constexpr std::size_t cursor_ring = 4640;
inline constexpr std::size_t release_ring = 5172;
inline constexpr std::size_t update_area = 5256;
inline constexpr std::size_t update_surface = 5272;
inline constexpr std::size_t mem_slot = 5276;
inline constexpr std::size_t create_surface = 5292;
inline constexpr std::size_t flags = 5332;
inline constexpr std::size_t monitors_config = 5340;
inline constexpr std::size_t size = 5348;
}  // namespace ram

// QXLRing header; items follow at +20.
namespace ring {
inline constexpr std::size_t num_items = 0;
inline constexpr std::size_t prod = 4;
inline constexpr std::size_t notify_on_prod = 8;
inline constexpr std::size_t cons = 12;
inline constexpr std::size_t notify_on_cons = 16;
inline constexpr std::size_t items = 20;
}  // namespace ring
inline constexpr std::uint32_t kCmdRingSize = 32;
inline constexpr std::uint32_t kCursorRingSize = 32;
inline constexpr std::uint32_t kReleaseRingSize = 8;
inline constexpr std::uint32_t kCommandItemBytes = 16;
inline constexpr std::uint32_t kReleaseItemBytes = 8;
inline constexpr std::uint32_t QXL_FREE_BUNCH_SIZE = 32;

// §4 I/O ports: QXL_IO_* from hw/qxl/qxl_io_ports.h (shared with the guest driver).
inline constexpr std::uint32_t kNoAsyncIo = 0xffffffffu;  // QEMU's QXL_UNDEFINED_IO

// §5 interrupts.
inline constexpr std::uint32_t QXL_INTERRUPT_DISPLAY = 1u << 0;
inline constexpr std::uint32_t QXL_INTERRUPT_CURSOR = 1u << 1;
inline constexpr std::uint32_t QXL_INTERRUPT_IO_CMD = 1u << 2;
inline constexpr std::uint32_t QXL_INTERRUPT_ERROR = 1u << 3;
inline constexpr std::uint32_t QXL_INTERRUPT_CLIENT = 1u << 4;
inline constexpr std::uint32_t QXL_INTERRUPT_CLIENT_MONITORS_CONFIG = 1u << 5;

// §6 memslots.
inline constexpr unsigned NUM_MEMSLOTS = 8;
inline constexpr unsigned kSlotGenBits = 8;
inline constexpr unsigned kSlotIdBits = 8;
inline constexpr std::uint64_t kPhysOffsetMask = 0xffffffffffffull;

// §7 commands.
enum QxlCmdType : std::uint32_t {
    QXL_CMD_NOP = 0,
    QXL_CMD_DRAW = 1,
    QXL_CMD_UPDATE = 2,
    QXL_CMD_CURSOR = 3,
    QXL_CMD_MESSAGE = 4,
    QXL_CMD_SURFACE = 5,
};
inline constexpr std::uint32_t QXL_COMMAND_FLAG_COMPAT = 1;
inline constexpr std::uint32_t QXL_COMMAND_FLAG_COMPAT_16BPP = 2;

inline constexpr std::size_t kDataChunkHeaderBytes = 20;  // data_size @0, prev @4, next @12
inline constexpr std::size_t kDrawableBytes = 191;
inline constexpr std::size_t kCompatDrawableBytes = 128;
inline constexpr std::size_t kImageDescriptorBytes = 18;
inline constexpr std::size_t kBitmapBytes = 30;
inline constexpr std::size_t kPaletteHeaderBytes = 10;
inline constexpr std::size_t kSurfaceCmdBytes = 41;
inline constexpr std::size_t kCursorCmdBytes = 150;
inline constexpr std::size_t kCursorHeaderBytes = 42;
inline constexpr std::size_t kUpdateCmdBytes = 32;
inline constexpr std::size_t kCompatUpdateCmdBytes = 28;
inline constexpr std::size_t kSurfaceCreateBytes = 40;
inline constexpr std::size_t kMonitorsConfigHeaderBytes = 4;
inline constexpr std::size_t kHeadBytes = 28;
inline constexpr std::uint32_t kMaxMessageBytes = 100000;

inline constexpr std::uint8_t QXL_DRAW_NOP = 0;
inline constexpr std::uint8_t QXL_DRAW_COMPOSITE = 14;
inline constexpr std::uint8_t QXL_SURFACE_CMD_CREATE = 0;
inline constexpr std::uint8_t QXL_SURFACE_CMD_DESTROY = 1;
inline constexpr std::uint8_t QXL_CURSOR_SET = 0;
inline constexpr std::uint8_t QXL_CURSOR_TRAIL = 3;
inline constexpr std::uint8_t QXL_BITMAP_DIRECT = 1;
inline constexpr std::uint8_t QXL_BITMAP_TOP_DOWN = 4;

// Mode enum (QEMU-internal, §4).
enum class QxlMode : std::uint8_t { Undefined = 0, Vga = 1, Compat = 2, Native = 3 };

// Little-endian accessors on a byte buffer (the guest is i386; every field is LE).
inline std::uint8_t ld8(const std::uint8_t* p) {
    return p[0];
}
inline std::uint16_t ld16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t ld32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
inline std::uint64_t ld64(const std::uint8_t* p) {
    return std::uint64_t{ld32(p)} | (std::uint64_t{ld32(p + 4)} << 32);
}
inline void st8(std::uint8_t* p, std::uint8_t v) {
    p[0] = v;
}
inline void st16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void st32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void st64(std::uint8_t* p, std::uint64_t v) {
    st32(p, static_cast<std::uint32_t>(v));
    st32(p + 4, static_cast<std::uint32_t>(v >> 32));
}

// Guest high bits of a QXLPHYSICAL for `slot` with QEMU's geometry (generation 0).
constexpr std::uint64_t make_phys(unsigned slot, std::uint64_t offset, unsigned generation = 0) {
    return (std::uint64_t{slot} << 56) | (std::uint64_t{generation & 0xff} << 48) | (offset & kPhysOffsetMask);
}

}  // namespace qxlbox::hw::qxl
