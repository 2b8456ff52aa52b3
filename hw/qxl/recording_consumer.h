// A display consumer for tests and headless runs: records every command the QXL device
// offers, renders nothing.
//
// Theory of operation: it stands in for the SPICE server behind proto::DisplayConsumer. It
// can refuse commands (to exercise back-pressure), keep or drop the proto::ReleaseRef of
// each command (deferred vs prompt release), and answers update_area with either a fixed
// pattern or the surface's current guest pixels (via DisplayDevice::read_surface).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/display_interface.h"

namespace qxlbox::hw::qxl {

class RecordingConsumer : public proto::DisplayConsumer {
public:
    enum class UpdateMode { Pattern, CurrentPixels };

    // Behaviour switches.
    bool refuse_commands = false;
    bool refuse_cursor = false;
    bool hold_releases = true;  // false: drop each ReleaseRef as soon as the command is stored
    UpdateMode update_mode = UpdateMode::Pattern;
    std::uint32_t pattern_pixel = 0x00ff8000;

    // What was seen.
    std::vector<proto::DisplayCommand> commands;
    std::vector<proto::CursorCommand> cursor_commands;
    std::vector<proto::MonitorsConfig> monitors_configs;
    struct UpdateRequest {
        std::uint32_t surface_id = 0;
        proto::Rect area;
    };
    std::vector<UpdateRequest> update_requests;
    int attach_count = 0;
    int reset_count = 0;
    int oom_count = 0;
    int flush_count = 0;
    int refused_count = 0;
    int quiesce_count = 0;
    proto::DisplayDevice* device = nullptr;
    proto::DeviceInfo info;

    // Drops every held ReleaseRef (the device gets the ids at its next scheduled point).
    void release_all();

    void attach(proto::DisplayDevice& dev, const proto::DeviceInfo& device_info) override;
    void detach() override;
    bool push_command(proto::DisplayCommand& cmd) override;
    bool push_cursor_command(proto::CursorCommand& cmd) override;
    std::optional<proto::SurfacePixels> update_area(std::uint32_t surface_id, const proto::Rect& area) override;
    void flush_surfaces() override { ++flush_count; }
    // Everything happens on the caller's thread, so there is never work in flight.
    void quiesce() override { ++quiesce_count; }
    void reset() override;
    void oom() override;
    void monitors_config(const proto::MonitorsConfig& config) override { monitors_configs.push_back(config); }
};

}  // namespace qxlbox::hw::qxl
