// QXL ROM (BAR2) contents: QXLRom, the filtered mode list and the client monitors config
// block with its CRC (shared/spec/qxl-device.md §2, §9).
//
// Theory of operation: the device keeps a "shadow" ROM image built once from the config, as
// QEMU does; every reset copies the shadow into the live BAR (update_id forced to 0). The
// mode list holds QEMU's 37 resolutions in (16 bpp, o0), (32 bpp, o0), (16 bpp, o1),
// (32 bpp, o1) order, filtered by the surface0 (vgamem) size; `id` keeps the index into the
// full 148-entry table while QXL_IO_SET_MODE indexes the filtered list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "hw/qxl/qxl_config.h"

namespace qxlbox::hw::qxl {

struct QxlModeInfo {
    std::uint32_t id = 0;
    std::uint32_t x_res = 0;
    std::uint32_t y_res = 0;
    std::uint32_t bits = 0;
    std::uint32_t stride = 0;
    std::uint32_t x_mili = 0;
    std::uint32_t y_mili = 0;
    std::uint32_t orientation = 0;
};

inline constexpr std::size_t kModeBytes = 32;

// Fills `rom` (kRomSizeBytes) as QEMU's init_qxl_rom does for `config` (normalized).
void build_rom(const QxlConfig& config, std::uint8_t* rom);
// Mode `index` of the filtered list stored in a ROM image, or nullopt when out of range.
std::optional<QxlModeInfo> rom_mode(const std::uint8_t* rom, std::uint32_t index);
std::uint32_t rom_mode_count(const std::uint8_t* rom);
// Reflected CRC-32 (poly 0xEDB88320), initial value 0, no final XOR: Linux's crc32(0, ...).
std::uint32_t client_monitors_crc(const std::uint8_t* data, std::size_t size_bytes);

}  // namespace qxlbox::hw::qxl
