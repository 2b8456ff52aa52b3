#include "hw/qxl/qxl_rom.h"

#include <array>
#include <cstring>

#include "hw/qxl/qxl_defs.h"

namespace qxlbox::hw::qxl {

namespace {

struct Resolution {
    std::uint32_t x;
    std::uint32_t y;
};

constexpr std::array<Resolution, 37> kResolutions{{
    {640, 480},   {800, 480},   {800, 600},   {832, 624},   {960, 640},   {1024, 600},  {1024, 768},  {1152, 864},
    {1152, 870},  {1280, 720},  {1280, 760},  {1280, 768},  {1280, 800},  {1280, 960},  {1280, 1024}, {1360, 768},
    {1366, 768},  {1400, 1050}, {1440, 900},  {1600, 900},  {1600, 1200}, {1680, 1050}, {1920, 1080}, {1920, 1200},
    {1920, 1440}, {2000, 2000}, {2048, 1536}, {2048, 2048}, {2560, 1440}, {2560, 1600}, {2560, 2048}, {2800, 2100},
    {3200, 2400}, {3840, 2160}, {4096, 2160}, {7680, 4320}, {8192, 4320},
}};

// Physical size of one pixel in millimetres as QEMU assumes it (about 86 dpi).
constexpr double kPixelSizeMm = 0.2936875;

}  // namespace

std::uint32_t client_monitors_crc(const std::uint8_t* data, std::size_t size_bytes) {
    std::uint32_t crc = 0;
    for (std::size_t i = 0; i < size_bytes; ++i) {
        crc ^= data[i];
        for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ ((crc & 1) ? CLIENT_MONITORS_CONFIG_CRC32_POLY : 0);
    }
    return crc;
}

void build_rom(const QxlConfig& config, std::uint8_t* r) {
    std::memset(r, 0, kRomSizeBytes);
    const std::uint32_t surface0_area = static_cast<std::uint32_t>((config.vgamem_size_bytes + 4095) & ~4095ull);
    const std::uint32_t ram_header_offset = static_cast<std::uint32_t>(config.ram_size_bytes - kRamHeaderReserveBytes);
    st32(r + rom::magic, QXL_ROM_MAGIC);
    st32(r + rom::id, config.id);
    st32(r + rom::log_level, config.guestdebug);
    st32(r + rom::modes_offset, static_cast<std::uint32_t>(rom::size));
    st32(r + rom::num_pages, (ram_header_offset - surface0_area) / 4096);
    st32(r + rom::pages_offset, surface0_area);
    st32(r + rom::draw_area_offset, 0);
    st32(r + rom::surface0_area_size, surface0_area);
    st32(r + rom::ram_header_offset, ram_header_offset);
    st32(r + rom::n_surfaces, config.n_surfaces);
    st8(r + rom::slots_start, 1);
    st8(r + rom::slots_end, NUM_MEMSLOTS - 1);
    st8(r + rom::slot_gen_bits, kSlotGenBits);
    st8(r + rom::slot_id_bits, kSlotIdBits);
    st8(r + rom::slot_generation, 0);

    std::uint8_t* modes = r + rom::size;
    std::uint32_t n = 0;
    std::uint32_t full_index = 0;
    for (const Resolution& res : kResolutions) {
        for (std::uint32_t orientation = 0; orientation < 2; ++orientation) {
            for (std::uint32_t bits : {16u, 32u}) {
                const std::uint32_t stride = res.x * bits / 8;
                const std::uint32_t id = full_index++;
                if (std::uint64_t{res.y} * stride > config.vgamem_size_bytes) continue;
                std::uint8_t* m = modes + 4 + n * kModeBytes;
                st32(m + 0, id);
                st32(m + 4, res.x);
                st32(m + 8, res.y);
                st32(m + 12, bits);
                st32(m + 16, stride);
                st32(m + 20, static_cast<std::uint32_t>(kPixelSizeMm * res.x));
                st32(m + 24, static_cast<std::uint32_t>(kPixelSizeMm * res.y));
                st32(m + 28, orientation);
                ++n;
            }
        }
    }
    st32(modes, n);

    if (config.xres && config.yres) {
        std::uint8_t* cfg = r + rom::client_monitors_config;
        st16(cfg, 1);
        std::uint8_t* head = cfg + 4;  // top, left, bottom, right
        st32(head + 8, config.yres);
        st32(head + 12, config.xres);
        st32(r + rom::client_monitors_config_crc, client_monitors_crc(cfg, rom::client_monitors_config_size));
    }
}

std::uint32_t rom_mode_count(const std::uint8_t* rom) {
    return ld32(rom + rom::size);
}

std::optional<QxlModeInfo> rom_mode(const std::uint8_t* r, std::uint32_t index) {
    const std::uint32_t n = rom_mode_count(r);
    if (index >= n || rom::size + 4 + (std::uint64_t{index} + 1) * kModeBytes > kRomSizeBytes) return std::nullopt;
    const std::uint8_t* m = r + rom::size + 4 + index * kModeBytes;
    return QxlModeInfo{ld32(m),      ld32(m + 4),  ld32(m + 8),  ld32(m + 12),
                       ld32(m + 16), ld32(m + 20), ld32(m + 24), ld32(m + 28)};
}

}  // namespace qxlbox::hw::qxl
