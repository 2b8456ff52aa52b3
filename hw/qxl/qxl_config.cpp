#include "hw/qxl/qxl_config.h"

#include <charconv>
#include <vector>

namespace qxlbox::hw::qxl {

namespace {

std::uint64_t pow2ceil(std::uint64_t v) {
    std::uint64_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
    std::uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
    std::uint64_t unit = kMiB;
    if (!s.empty()) {
        const char last = s.back();
        if (last == 'K' || last == 'k') unit = 1024;
        if (last == 'M' || last == 'm') unit = kMiB;
        if (last == 'G' || last == 'g') unit = 1024 * kMiB;
        if (last == 'K' || last == 'k' || last == 'M' || last == 'm' || last == 'G' || last == 'g') s.remove_suffix(1);
    }
    auto v = parse_number(s);
    if (!v || *v > (4ull << 30) / unit) return std::nullopt;
    return *v * unit;
}

}  // namespace

QxlConfig QxlConfig::normalized() const {
    QxlConfig c = *this;
    if (c.vgamem_size_bytes < 8 * kMiB) c.vgamem_size_bytes = 8 * kMiB;
    if (c.vgamem_size_bytes > 256 * kMiB) c.vgamem_size_bytes = 256 * kMiB;
    if (c.ram_size_bytes < 2 * c.vgamem_size_bytes) c.ram_size_bytes = 2 * c.vgamem_size_bytes;
    if (c.vram_size_bytes < 4096) c.vram_size_bytes = 4096;
    if (c.vram64_size_bytes != 0 && c.vram64_size_bytes < c.vram_size_bytes) c.vram64_size_bytes = c.vram_size_bytes;
    if (c.revision == 1) {
        c.vram_size_bytes = 4096;
        c.vram64_size_bytes = 0;
    }
    c.vgamem_size_bytes = pow2ceil(c.vgamem_size_bytes);
    c.ram_size_bytes = pow2ceil(c.ram_size_bytes);
    c.vram_size_bytes = pow2ceil(c.vram_size_bytes);
    if (c.vram64_size_bytes) c.vram64_size_bytes = pow2ceil(c.vram64_size_bytes);
    if (c.n_surfaces == 0) c.n_surfaces = 1;
    return c;
}

std::uint32_t QxlConfig::io_bar_size() const {
    switch (revision) {
        case 1:
            return 8;
        case 2:
            return 16;
        default:
            return 32;
    }
}

QxlConfigResult parse_qxl_options(std::string_view text) {
    QxlConfig c;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t comma = text.find(',', pos);
        if (comma == std::string_view::npos) comma = text.size();
        const std::string_view item = text.substr(pos, comma - pos);
        pos = comma + 1;
        if (item.empty()) continue;
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) return {std::nullopt, "qxl option '" + std::string(item) + "' has no value"};
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = item.substr(eq + 1);
        const std::string bad = "qxl option '" + std::string(key) + "': bad value '" + std::string(value) + "'";
        if (key == "ram" || key == "vram" || key == "vram64" || key == "vgamem") {
            auto v = parse_size(value);
            if (!v || *v == 0) return {std::nullopt, bad};
            // The board's physical address space is 4 GiB; BARs beyond 1 GiB cannot be placed.
            if (*v > 1024 * kMiB) return {std::nullopt, bad + " (at most 1G)"};
            if (key == "ram") c.ram_size_bytes = *v;
            if (key == "vram") c.vram_size_bytes = *v;
            if (key == "vram64") c.vram64_size_bytes = *v;
            if (key == "vgamem") c.vgamem_size_bytes = *v;
            continue;
        }
        auto v = parse_number(value);
        if (!v) return {std::nullopt, bad};
        if (key == "revision") {
            if (*v < 1 || *v > 5) return {std::nullopt, bad + " (revision is 1..5)"};
            c.revision = static_cast<std::uint8_t>(*v);
        } else if (key == "surfaces") {
            if (*v < 1 || *v > 65536) return {std::nullopt, bad + " (surfaces is 1..65536)"};
            c.n_surfaces = static_cast<std::uint32_t>(*v);
        } else if (key == "max_outputs") {
            if (*v > 256) return {std::nullopt, bad};
            c.max_outputs = static_cast<std::uint32_t>(*v);
        } else if (key == "xres" || key == "yres") {
            if (*v > 16384) return {std::nullopt, bad};
            (key == "xres" ? c.xres : c.yres) = static_cast<std::uint32_t>(*v);
        } else if (key == "guestdebug") {
            if (*v > 0xffffffffu) return {std::nullopt, bad};
            c.guestdebug = static_cast<std::uint32_t>(*v);
        } else {
            return {std::nullopt, "unknown qxl option '" + std::string(key) + "'"};
        }
    }
    return {c.normalized(), {}};
}

}  // namespace qxlbox::hw::qxl
