// QXL device configuration: the `--qxl ram=,vram=,revision=` option and QEMU's size rules.
//
// Theory of operation: QxlConfig holds the properties QEMU's qxl-vga device exposes
// (shared/spec/qxl-device.md §1). normalized() applies qxl_init_ramsize's clamping and
// power-of-two rounding so the BAR sizes a guest sees match QEMU for the same options.
// parse_qxl_options() turns the command-line string into a config or an error message;
// it never throws and never aborts on bad input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qxlbox::hw::qxl {

inline constexpr std::uint64_t kMiB = 1024 * 1024;

struct QxlConfig {
    std::uint64_t ram_size_bytes = 64 * kMiB;     // BAR0
    std::uint64_t vram_size_bytes = 64 * kMiB;    // BAR1
    std::uint64_t vram64_size_bytes = 0;          // BAR4 only when larger than BAR1
    std::uint64_t vgamem_size_bytes = 16 * kMiB;  // surface0 area at the start of BAR0
    std::uint8_t revision = 5;
    std::uint32_t n_surfaces = 1024;
    std::uint32_t max_outputs = 0;  // 0 = 64
    std::uint32_t xres = 0;         // pre-seeded client monitors config when both non-zero
    std::uint32_t yres = 0;
    std::uint32_t guestdebug = 0;
    std::uint32_t id = 0;  // console index; 0 = qxl-vga

    // QEMU's qxl_init_ramsize: clamps and rounds every size up to a power of two.
    QxlConfig normalized() const;
    bool has_vram64_bar() const { return vram64_size_bytes > vram_size_bytes; }
    // Bytes backing BAR1 and BAR4 together (BAR1 aliases the start of the 64-bit VRAM).
    std::uint64_t vram_backing_bytes() const { return has_vram64_bar() ? vram64_size_bytes : vram_size_bytes; }
    std::uint32_t io_bar_size() const;
    std::uint32_t max_monitors() const { return max_outputs == 0 || max_outputs > 64 ? 64 : max_outputs; }
};

struct QxlConfigResult {
    std::optional<QxlConfig> config;
    std::string error;  // set when config is empty
};

// Parses "ram=64M,vram=64M,revision=5,..." (keys: ram, vram, vram64, vgamem, revision,
// surfaces, max_outputs, xres, yres, guestdebug). Sizes take K/M/G suffixes; a bare number
// is MiB (as QEMU's *_size_mb properties). The result is normalized().
QxlConfigResult parse_qxl_options(std::string_view text);

}  // namespace qxlbox::hw::qxl
