// Runs the reference guest (roms/qxlbox-guest.elf) with a compiled scenario module and
// returns what it printed. run_on_qemu() boots QEMU's own QXL device and libspice-server;
// run_on_qxlbox() boots the same guest and module on `qxlbox run` (our CPU, QXL model and
// server), so an interop test can compare the two GuestRun results line by line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace qxlbox::interop {

struct GuestRun {
    bool started = false;             // the emulator process could be launched
    bool timed_out = false;           // killed at the deadline
    int exit_status = -1;             // emulator exit status (isa-debug-exit: (code << 1) | 1)
    std::vector<std::string> serial;  // COM1 output, one entry per line
    std::string diagnostics;          // emulator stderr, or why it could not run

    // The `RESULT name=...` lines, in order.
    std::vector<std::string> results() const;
    bool done() const;  // a line reading exactly "DONE" was printed
};

struct RunOptions {
    std::string guest_elf;
    std::chrono::milliseconds timeout{20000};
    bool with_spice = false;  // also start a SPICE server on a free loopback port
    bool pass_module = true;  // false boots the guest without a multiboot module
    std::string qxlbox_exe;   // the built `qxlbox` executable (run_on_qxlbox only)
    int max_virtual_seconds = 60;  // qxlbox --max-seconds: virtual-time bound of one run
};

GuestRun run_on_qemu(const std::vector<std::uint8_t>& module, const RunOptions& options);
// Same guest and module on `qxlbox run --no-client`; exit status as on QEMU ((code << 1) | 1),
// or qxlbox's own codes (2 bad input, 4 CPU fault, 6 --max-seconds reached, 8 halted).
GuestRun run_on_qxlbox(const std::vector<std::uint8_t>& module, const RunOptions& options);

// QEMU's command line for the guest, as run_on_qemu uses it: `spice_port` 0 runs without
// SPICE, an empty `module_path` boots without a module, `append` is the kernel command line
// (e.g. "hold").
std::vector<std::string> qemu_arguments(const std::string& guest_elf, const std::string& module_path,
                                        const std::string& serial_path, int spice_port, const std::string& append = "");

// One scenario of the library folder (tests/scenario/NAME/NAME.scn) and what its compiled
// header says: `flags` are the QXSC_FLAG_* of its `requires` lines, `runs_forever` marks a
// top-level `repeat 0`.
struct ScenarioEntry {
    std::string name;
    std::string path;
    std::uint32_t flags = 0;
    bool runs_forever = false;
    bool compiles = false;
};
std::vector<ScenarioEntry> scenario_library(const std::string& folder);
// The selections the interop suite uses: finite scenarios QEMU can run (no qxlbox-only
// requirement), and finite scenarios qxlbox can run (not QEMU-only).
std::vector<ScenarioEntry> qemu_capable_scenarios(const std::string& folder);
std::vector<ScenarioEntry> qxlbox_capable_scenarios(const std::string& folder);

// Line-by-line differences between the RESULT and CHECKPOINT lines of two runs (the part of
// the serial output that must be identical on qxlbox and QEMU), plus a DONE mismatch; empty
// when they agree. Each entry reads "line N: <a> | <b>".
std::vector<std::string> result_differences(const GuestRun& a, const GuestRun& b);

}  // namespace qxlbox::interop
