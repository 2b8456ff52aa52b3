// `qxlbox` with no subcommand: the demo. The built-in guest image runs the built-in demo
// scenario (tests/scenario/demo/demo.scn, both embedded at build time) on the emulator; the
// SPICE server listens on 127.0.0.1 at the first free port from 5900 so remote-viewer can join;
// the in-process client shows it in an SDL window until the window closes. Without a display
// ($DISPLAY unset) the client runs headless and rewrites qxlbox-demo.png in the current folder
// about once a second until interrupted.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "app/builtin_client.h"
#include "app/builtin_guest.h"
#include "app/commands.h"
#include "app/emulator.h"
#include "client/png_io.h"
#include "client/session.h"
#include "machine/scenario/scenario_compiler.h"

namespace qxlbox::embedded {
extern const unsigned char demo_scn[];
extern const std::size_t demo_scn_size;
}  // namespace qxlbox::embedded

namespace qxlbox::app {

namespace {

// Starts the emulator with the server on the first free port in [5900, 6000).
std::unique_ptr<Emulator> start_emulator(std::string& error) {
    EmulatorOptions eo;
    eo.board.clock = machine::ClockMode::Realtime;
    eo.board.serial_out = [](std::uint8_t) {};
    eo.board.debugcon_out = [](std::uint8_t) {};
    eo.spice_requested = true;
    eo.spice.addr = "127.0.0.1";
    eo.spice.log = [](const std::string&) {};
    for (unsigned port = 5900; port < 6000; ++port) {
        eo.spice.port = static_cast<std::uint16_t>(port);
        std::string why;
        if (auto emu = Emulator::create(eo, why)) return emu;
        error = why;
    }
    error = "no free port from 5900 to 5999 (" + error + ")";
    return nullptr;
}

// Headless: rewrites qxlbox-demo.png about once a second; false stops the client.
std::function<bool(client::Session&)> demo_png_writer() {
    struct State {
        std::string path = (std::filesystem::current_path() / "qxlbox-demo.png").string();
        bool announced = false;
        std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now() - std::chrono::seconds(2);
    };
    auto state = std::make_shared<State>();
    return [state](client::Session& session) {
        if (stop_signalled()) return false;
        const auto now = std::chrono::steady_clock::now();
        if (now - state->last < std::chrono::seconds(1) || session.marks() == 0) return true;
        state->last = now;
        const proto::Surface* primary = session.primary_surface();
        if (!primary) return true;
        std::string error;
        if (!client::write_png(client::surface_to_rgb(*primary), state->path, error)) {
            std::fprintf(stderr, "qxlbox demo: %s\n", error.c_str());
            return false;
        }
        if (!state->announced) {
            std::printf("qxlbox demo: no display; writing %s about once a second (Ctrl+C stops)\n",
                        state->path.c_str());
            std::fflush(stdout);
            state->announced = true;
        }
        return true;
    };
}

}  // namespace

int run_demo() {
    const auto compiled = scenario::compile(
        std::string_view(reinterpret_cast<const char*>(embedded::demo_scn), embedded::demo_scn_size), "demo.scn");
    if (!compiled.ok()) {
        for (const auto& e : compiled.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return 2;
    }
    std::string error;
    std::unique_ptr<Emulator> emu = start_emulator(error);
    if (!emu) {
        std::fprintf(stderr, "qxlbox demo: %s\n", error.c_str());
        return 1;
    }
    const machine::MultibootImage image = builtin_guest_image(compiled.module, "demo.scn");
    const auto loaded = emu->board().load_multiboot(image);
    if (!loaded.ok) {
        std::fprintf(stderr, "qxlbox demo: built-in guest: %s\n", loaded.error.c_str());
        return 1;
    }
    const std::uint16_t port = emu->spice_port();
    std::printf("qxlbox demo: SPICE server at spice://127.0.0.1:%u (try: remote-viewer spice://127.0.0.1:%u)\n", port,
                port);
    std::fflush(stdout);

    machine::RunResult result;
    std::thread emulation([&] { result = emu->run(); });

    catch_stop_signals();
    BuiltinClientOptions options;
    options.port = port;
    options.on_tick = demo_png_writer();
    BuiltinClient client(options);
    int rc = 0;
    if (!client.run(error) && !stop_signalled()) {
        std::fprintf(stderr, "qxlbox demo: %s\n", error.c_str());
        rc = 1;
    }
    emu->request_stop();
    emulation.join();
    if (result.outcome == machine::RunResult::Outcome::Fault) {
        std::fprintf(stderr, "qxlbox demo: %s\n", result.message.c_str());
        rc = 1;
    }
    return rc;
}

}  // namespace qxlbox::app
