// Checkpoint captures: what `qxlbox run --snapshot-dir` writes and `qxlbox scenario check`
// compares with the baselines (docs/scenarios.md, "Golden images").
//
// Theory of operation: CheckpointTap sees every byte the guest writes to COM1, on the
// emulation thread, so the guest is paused while a capture runs. At a complete
// `CHECKPOINT <name>` or `DONE` line it makes the QXL device hand every command still in its
// rings to the server, asks the server for its rendering of primary surface 0 (every pending
// drawable over the guest's pixels, the same UPDATE_AREA the guest could issue, whose result
// goes back into guest memory as a guest UPDATE_AREA's would) and, when the built-in client
// runs, waits for the client's frame to equal that rendering (or to stay unchanged for
// `client_quiet`). The sink gets both images.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "app/builtin_client.h"
#include "app/emulator.h"
#include "client/png_io.h"

namespace qxlbox::app {

struct CheckpointFrame {
    unsigned index = 0;  // 1-based checkpoint number in serial order; 0 for DONE
    std::string name;    // the checkpoint's name; empty for DONE
    bool done = false;
    std::optional<client::RgbImage> server;  // nullopt: no primary surface (server_error says why)
    std::string server_error;
    bool client_running = false;
    std::optional<client::RgbImage> client;  // the client's frame (nullopt: it never had one)
};

class CheckpointTap {
public:
    using Sink = std::function<void(const CheckpointFrame&)>;
    // `mirror` may be null (no built-in client).
    CheckpointTap(Emulator& emulator, FrameMirror* mirror, Sink sink)
        : emulator_(emulator), mirror_(mirror), sink_(std::move(sink)) {}

    // Emulation thread: one byte the guest wrote to COM1.
    void serial_byte(std::uint8_t byte);
    unsigned checkpoints_seen() const { return checkpoints_; }
    bool done_seen() const { return done_; }

    std::chrono::milliseconds client_quiet{5000};

private:
    void capture(unsigned index, std::string name, bool done);

    Emulator& emulator_;
    FrameMirror* mirror_;
    Sink sink_;
    std::string line_;
    bool line_overflow_ = false;
    unsigned checkpoints_ = 0;
    bool done_ = false;
};

// Emulation thread: the server's rendering of primary surface 0 after every command in the
// device's rings has been handed over. nullopt with `error` when there is no primary.
std::optional<client::RgbImage> render_primary(Emulator& emulator, std::string& error);

// Writes `image` to `path` through a temporary name and a rename, so a file that exists is
// complete.
bool write_png_atomically(const client::RgbImage& image, const std::string& path, std::string& error);

// "0007" for 7.
std::string checkpoint_number(unsigned index);

}  // namespace qxlbox::app
