// QXL command parsing: guest memory -> owned, validated proto:: objects
// (shared/spec/qxl-device.md §7, §8, §0.1).
//
// Theory of operation: every guest structure is copied out of guest memory exactly once
// (translate with the full object size, then memcpy into a private buffer) and all fields
// are decoded from that copy, so a guest changing memory while the device parses cannot make
// two reads disagree (CVE-2015-3247, CVE-2021-4207 class). Data-chunk chains are walked with
// a visited set (a loop is an error, not a hang), a chunk-count cap and a per-command byte
// budget (bounded memory), and their total must equal the owning object's size field.
// Checks are spice-server's red-parse-qxl ones made strict: an invalid command is rejected
// with a reason. Each rejection is classed by which real component makes that check
// (§0.1): the few QEMU's qxl.c makes itself (it maps the QXLSurfaceCmd and range-checks its
// surface id in qxl_track_command, and maps the QXLCursorCmd in qxl_render_cursor) are
// RejectKind::GuestBug, which the device turns into its guest-bug latch; everything else is
// a libspice-server check on command contents, RejectKind::Dropped: the command is logged,
// counted, released and never reaches the consumer. What this does not do:
// decode QUIC (kept as bytes) or render anything.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "hw/qxl/qxl_memslot.h"
#include "protocol/display_interface.h"
#include "protocol/draw.h"

namespace qxlbox::hw::qxl {

struct SurfaceInfo {
    proto::SurfaceFormat format = proto::SurfaceFormat::XRGB32;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::int32_t stride = 0;
    GuestLoc mem;  // lowest address of the pixels
};

struct ParserEnv {
    const MemSlotTable* slots = nullptr;
    const std::uint8_t* ram = nullptr;
    const std::uint8_t* vram = nullptr;
    std::uint32_t n_surfaces = 0;
    std::uint32_t cmdflags = 0;  // QXL_COMMAND_FLAG_COMPAT / _COMPAT_16BPP
    // Live surface lookup (the device's table, in ring order).
    std::function<std::optional<SurfaceInfo>(std::uint32_t)> surface;
    std::uint64_t byte_budget = 0;        // bytes one command may copy in total
    std::uint32_t max_chunks = 1u << 20;  // data chunks one command may walk
    // Test hook: called after every copy out of guest memory (a test may change guest
    // memory here to play a racing guest and prove nothing is read twice).
    std::function<void(std::uint64_t phys, std::uint64_t skip, std::uint64_t size)> on_read;
    // Trace hook: sees every byte copied out of guest memory, in parse order (the input the
    // owned command is decoded from; see QxlTraceKind::Command). Unset unless tracing.
    std::function<void(const std::uint8_t* bytes, std::uint64_t size)> on_copy;
};

// Who rejects an invalid command on QEMU 7.2 (see the theory of operation above).
enum class RejectKind { None, Dropped, GuestBug };

// A command as the device hands it on, plus where its release_info lives.
struct ParsedCommand {
    std::variant<std::monostate, proto::DrawCommand, proto::SurfaceCreate, proto::SurfaceDestroy, proto::UpdateCommand,
                 proto::MessageCommand, proto::CursorOp>
        body;
    std::uint64_t release_id = 0;
    std::optional<GuestLoc> release_loc;         // set once the command header was readable
    std::optional<SurfaceInfo> created_surface;  // for SURFACE CREATE
    std::string error;                           // non-empty = rejected
    RejectKind reject = RejectKind::None;        // set together with error
};

class CommandParser {
public:
    explicit CommandParser(ParserEnv env) : env_(std::move(env)) {}

    // Command-ring element (type from QXLCommand.type).
    ParsedCommand parse_command(std::uint32_t type, std::uint64_t phys);
    // Cursor-ring element.
    ParsedCommand parse_cursor(std::uint32_t type, std::uint64_t phys);
    // QXLMonitorsConfig at phys (§9); nullopt + error when unreadable; config with no heads
    // when the guest's count is 0 or above max_allowed (spice ignores those).
    std::optional<proto::MonitorsConfig> parse_monitors_config(std::uint64_t phys, std::uint32_t max_heads);

    const std::string& error() const { return error_; }

    // Exposed for tests of the primitive.
    bool read(std::uint64_t phys, std::uint64_t skip, void* out, std::uint64_t size, const char* what);
    std::optional<std::vector<std::uint8_t>> read_chunks(std::uint64_t chunk_phys, std::uint64_t expected_total,
                                                         std::uint32_t max_chunks, const char* what);

private:
    bool fail(std::string reason);
    // A check QEMU's qxl.c makes itself (guest bug there), not only the server.
    bool fail_device(std::string reason);
    bool take_budget(std::uint64_t size, const char* what);
    std::optional<GuestLoc> translate(std::uint64_t phys, std::uint64_t skip, std::uint64_t size, const char* what);

    bool parse_drawable(std::uint64_t phys, bool compat, proto::DrawCommand& out);
    bool parse_surface_cmd(std::uint64_t phys, ParsedCommand& out);
    bool parse_cursor_cmd(std::uint64_t phys, proto::CursorOp& out);
    proto::ImagePtr parse_image(std::uint64_t phys, bool is_mask, bool& ok);
    bool parse_bitmap(const std::uint8_t* b, bool is_mask, proto::Bitmap& out);
    bool parse_brush(const std::uint8_t* p, proto::Brush& out);
    bool parse_qmask(const std::uint8_t* p, proto::QMask& out);
    bool parse_clip(std::uint32_t type, std::uint64_t data, proto::Clip& out);
    bool parse_path(std::uint64_t phys, proto::Path& out);
    bool parse_string(std::uint64_t phys, proto::GlyphString& out);
    bool parse_line_attr(const std::uint8_t* p, proto::LineAttr& out);
    bool check_src_area(const proto::ImagePtr& img, const proto::Rect& area, const char* what);
    bool parse_transform(std::uint64_t phys, std::optional<proto::Transform>& out);
    std::uint32_t color(std::uint32_t raw) const;

    ParserEnv env_;
    std::string error_;
    bool error_is_device_ = false;
    std::uint32_t chunks_walked_ = 0;
};

}  // namespace qxlbox::hw::qxl
