#include "hw/qxl/recording_consumer.h"

#include <cstring>

namespace qxlbox::hw::qxl {

void RecordingConsumer::attach(proto::DisplayDevice& dev, const proto::DeviceInfo& device_info) {
    device = &dev;
    info = device_info;
    ++attach_count;
}

void RecordingConsumer::detach() {
    release_all();
    device = nullptr;
}

bool RecordingConsumer::push_command(proto::DisplayCommand& cmd) {
    if (refuse_commands) {
        ++refused_count;
        return false;
    }
    commands.push_back(std::move(cmd));
    if (!hold_releases) commands.back().release.reset();
    return true;
}

bool RecordingConsumer::push_cursor_command(proto::CursorCommand& cmd) {
    if (refuse_cursor) {
        ++refused_count;
        return false;
    }
    cursor_commands.push_back(std::move(cmd));
    if (!hold_releases) cursor_commands.back().release.reset();
    return true;
}

void RecordingConsumer::release_all() {
    for (auto& c : commands) c.release.reset();
    for (auto& c : cursor_commands) c.release.reset();
}

void RecordingConsumer::reset() {
    ++reset_count;
    release_all();
}

void RecordingConsumer::oom() {
    ++oom_count;
    release_all();
}

std::optional<proto::SurfacePixels> RecordingConsumer::update_area(std::uint32_t surface_id, const proto::Rect& area) {
    update_requests.push_back({surface_id, area});
    if (!device) return std::nullopt;
    auto full = device->read_surface(surface_id);
    if (!full) return std::nullopt;
    const unsigned bpp = proto::surface_format_bpp(full->format);
    if (bpp < 8) return std::nullopt;
    const std::size_t bytes_pp = bpp / 8;
    proto::SurfacePixels out;
    out.format = full->format;
    out.area = area;
    out.stride = static_cast<std::uint32_t>((std::size_t(area.width()) * bytes_pp + 3) & ~std::size_t{3});
    out.data.assign(std::size_t{out.stride} * std::size_t(area.height()), 0);
    for (std::int32_t y = 0; y < area.height(); ++y) {
        std::uint8_t* row = out.data.data() + std::size_t(y) * out.stride;
        if (update_mode == UpdateMode::CurrentPixels) {
            std::memcpy(
                row, full->data.data() + std::size_t(area.top + y) * full->stride + std::size_t(area.left) * bytes_pp,
                std::size_t(area.width()) * bytes_pp);
        } else {
            for (std::int32_t x = 0; x < area.width(); ++x) {
                for (std::size_t b = 0; b < bytes_pp; ++b) {
                    row[std::size_t(x) * bytes_pp + b] = static_cast<std::uint8_t>(pattern_pixel >> (8 * (b % 4)));
                }
            }
        }
    }
    return out;
}

}  // namespace qxlbox::hw::qxl
