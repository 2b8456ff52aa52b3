// The narrow interface between a display device (hw/qxl) and its consumer (the SPICE server,
// or a recording consumer in tests). The role libspice-server's QXLInterface plays in QEMU.
//
// Theory of operation:
// - The device runs on the emulation thread. At scheduled virtual times it pops its rings,
//   parses each command from guest memory exactly once into owned proto:: objects (see
//   draw.h) and offers them to the consumer with push_command()/push_cursor_command(). A
//   consumer that is full returns false; the device stops popping (the guest ring fills and
//   the guest waits on notify_on_cons) and offers again at its next poll: back-pressure
//   instead of unbounded memory.
// - Each command carries a ReleaseRef. When the last copy of it is destroyed the command's
//   release_info id is queued back to the device, which returns it to the guest through the
//   release ring at its next scheduled point. With the "immediate" release policy the device
//   releases right after the copy and the ReleaseRef is empty.
// - update_area() is synchronous on the emulation thread (the vCPU waits, as in QEMU): the
//   consumer renders every pending drawable of the surface with the canvas on top of the
//   surface's current pixels (obtained with DisplayDevice::read_surface) and returns the
//   area; the device writes it into guest memory.
// - The consumer calls DisplayDevice from any thread; those methods are thread-safe.
//
// Determinism (the virtual-clock handshake): a consumer may do its work on other threads,
// but nothing the guest can observe may depend on how fast those threads run. Hence:
// - Before the device collects releases (at every scheduled poll and service point, and
//   after every port write) it calls quiesce() if it handed the consumer anything since the
//   last call. quiesce() returns once the consumer has finished its own processing of every
//   command and request handed to it so far: tree insertion, drops of hidden drawables,
//   rendering triggered by its limits, and writes into guest memory that this causes. Every
//   release that processing decides has reached its sink by then. So the set of ids the
//   device collects at a virtual time depends only on what was pushed before that time.
// - Work a consumer does in response to its own outside events (a network client reading,
//   acknowledging, connecting) must not release commands nor write guest memory: a
//   consumer holds a ReleaseRef only as long as its own processing of the command stream
//   needs it (e.g. the SPICE server marshals a drawable for its client when the worker
//   takes it, so the socket's progress never keeps a command alive).
// - A push is refused only on state that is settled at the push point: after a refusal the
//   device calls quiesce() and offers once more, so a queue that was merely not yet drained
//   by the consumer's thread never shows through. What remains is real back-pressure (the
//   SPICE server's pipe to a client that has fallen behind for longer than a grace period),
//   which is the only way a client can influence the guest's timeline.
// - DisplayDevice::wakeup() only makes the device poll sooner; the device also re-offers at
//   its periodic service point, so a late wakeup changes timing only after a refusal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/draw.h"

namespace qxlbox::proto {

// Gives a release id back to the device when destroyed. Shared by every copy of a command.
class Release {
public:
    using Sink = std::function<void(std::uint64_t release_id)>;
    Release(std::uint64_t release_id, Sink sink) : release_id_(release_id), sink_(std::move(sink)) {}
    Release(const Release&) = delete;
    Release& operator=(const Release&) = delete;
    ~Release() {
        if (sink_) sink_(release_id_);
    }
    std::uint64_t id() const { return release_id_; }

private:
    std::uint64_t release_id_;
    Sink sink_;
};
using ReleaseRef = std::shared_ptr<Release>;

// Legacy QXL_CMD_UPDATE and QXL_CMD_MESSAGE are carried for tracing; consumers may ignore them.
struct UpdateCommand {
    Rect area;
    std::uint32_t update_id = 0;
    std::uint32_t surface_id = 0;
};
struct MessageCommand {
    std::string text;
};

struct DisplayCommand {
    std::variant<DrawCommand, SurfaceCreate, SurfaceDestroy, UpdateCommand, MessageCommand> body;
    ReleaseRef release;
    std::uint64_t sequence = 0;  // device-assigned, increasing
};

struct CursorCommand {
    CursorOp op;
    ReleaseRef release;
    std::uint64_t sequence = 0;
};

// Pixels of a surface or of an area of it. Rows are top-down, `stride` bytes apart
// (stride = width * bpp / 8 rounded up to 4), in the surface's format.
struct SurfacePixels {
    SurfaceFormat format = SurfaceFormat::XRGB32;
    Rect area;  // in surface coordinates
    std::uint32_t stride = 0;
    std::vector<std::uint8_t> data;
};

struct DeviceInfo {
    std::uint32_t n_surfaces = 0;
    std::uint64_t ram_size_bytes = 0;   // the QXL RAM hint sent to clients
    std::string device_address;         // "pci/0000/02.0"
};

class DisplayDevice;

// Implemented by the consumer. Called on the emulation thread.
class DisplayConsumer {
public:
    virtual ~DisplayConsumer() = default;

    virtual void attach(DisplayDevice& device, const DeviceInfo& info) = 0;
    virtual void detach() = 0;

    // Offers the next command in ring order; false = full, offer it again later.
    virtual bool push_command(DisplayCommand& cmd) = 0;
    virtual bool push_cursor_command(CursorCommand& cmd) = 0;

    // Renders every pending drawable that touches `area` of `surface_id` and returns the
    // resulting pixels of `area`. nullopt when the surface does not exist.
    virtual std::optional<SurfacePixels> update_area(std::uint32_t surface_id, const Rect& area) = 0;
    // Renders every pending drawable of every surface; results come back through
    // DisplayDevice::write_surface_area.
    virtual void flush_surfaces() = 0;

    // The virtual-clock handshake (see the theory of operation): returns once every command
    // and request handed over so far has been processed as far as the consumer's own threads
    // take it without outside events, so every release that processing decides has been
    // queued and every write into guest memory it causes is done. Cheap when idle.
    virtual void quiesce() = 0;

    // Device reset or driver gone: drop surfaces, caches and cursor; release everything.
    virtual void reset() = 0;
    // QXL_IO_NOTIFY_OOM: let go of whatever commands can be released.
    virtual void oom() = 0;
    virtual void monitors_config(const MonitorsConfig& config) = 0;
};

// Implemented by the device. Thread-safe.
class DisplayDevice {
public:
    virtual ~DisplayDevice() = default;

    // A copy of a live surface's current pixels in guest memory.
    virtual std::optional<SurfacePixels> read_surface(std::uint32_t surface_id) = 0;
    // Writes rendered pixels back into the surface's guest memory (FLUSH_SURFACES, deferred
    // rendering). Ignored for a surface that no longer exists.
    virtual void write_surface_area(std::uint32_t surface_id, const SurfacePixels& pixels) = 0;

    // Client presence and display-channel capabilities (rev >= 4: ROM + QXL_INTERRUPT_CLIENT).
    virtual void set_client_capabilities(bool client_present, const std::vector<std::uint8_t>& caps) = 0;
    // A client's monitors config (rev >= 4). Returns false when the guest does not accept it
    // (then it goes to the agent instead).
    virtual bool client_monitors_config(const std::vector<MonitorHead>& heads) = 0;
    // The consumer has room again after a refused push.
    virtual void wakeup() = 0;
};

}  // namespace qxlbox::proto
