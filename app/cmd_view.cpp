// `qxlbox view spice://HOST:PORT`: the SPICE client, as an SDL2 window or headless (a PNG of
// the primary surface once the display is ready).
#include <cstdio>

#include "app/commands.h"
#include "client/headless.h"
#include "client/sdl_view.h"

namespace qxlbox::app {

namespace {

struct ViewArgs {
    std::string uri;
    std::string password;
    bool headless = false;
    std::string screenshot;
    unsigned after_marks = 1;
    int settle_ms = 0;
    double timeout_s = 0;
};

int run_view(const ViewArgs& args) {
    client::SessionOptions options;
    std::string error;
    if (!client::parse_spice_uri(args.uri, options.endpoint, error)) {
        std::fprintf(stderr, "qxlbox view: %s\n", error.c_str());
        return 2;
    }
    options.password = args.password;
    if (args.headless) {
        client::HeadlessOptions headless;
        headless.after_marks = args.after_marks;
        headless.settle_ms = args.settle_ms;
        headless.timeout_s = args.timeout_s > 0 ? args.timeout_s : 30;
        headless.screenshot_path = args.screenshot;
        options.connect_inputs = false;
        const auto result = client::run_headless(options, headless);
        if (!result.ok) {
            std::fprintf(stderr, "qxlbox view: %s\n", result.error.c_str());
            return 1;
        }
        if (!args.screenshot.empty()) {
            std::printf("wrote %s (%ux%u, %u marks)\n", args.screenshot.c_str(), result.image.width,
                        result.image.height, result.marks);
        }
        return 0;
    }
    client::SdlView view;
    if (!view.init(error)) {
        std::fprintf(stderr, "qxlbox view: %s (use --headless without a display)\n", error.c_str());
        return 1;
    }
    client::Session session(options, &view);
    if (!session.connect() || !view.run(session, error, args.timeout_s)) {
        std::fprintf(stderr, "qxlbox view: %s\n", session.ended() && error.empty() ? session.error().c_str()
                                                                                   : error.c_str());
        return 1;
    }
    return 0;
}

}  // namespace

void add_view_command(CLI::App& app, int& exit_code) {
    auto args = std::make_shared<ViewArgs>();
    auto* cmd = app.add_subcommand("view", "Connect to a SPICE server (spice://HOST:PORT) and show its display");
    cmd->add_option("uri", args->uri, "spice://HOST:PORT")->required();
    cmd->add_option("--password", args->password, "SPICE ticket (at most 60 bytes)");
    cmd->add_flag("--headless", args->headless, "No window: wait for the display, then exit");
    cmd->add_option("--screenshot", args->screenshot, "Headless: write the primary surface to this PNG");
    cmd->add_option("--after-marks", args->after_marks, "Headless: wait for this many display MARKs (default 1)")
        ->check(CLI::Range(1u, 1000000u));
    cmd->add_option("--settle-ms", args->settle_ms,
                    "Headless: then wait until the screen has not changed for this long (default 0)")
        ->check(CLI::Range(0, 600000));
    cmd->add_option("--timeout", args->timeout_s,
                    "Seconds before giving up (headless, default 30) or closing the window (default: never)")
        ->check(CLI::Range(0.0, 86400.0));
    cmd->callback([args, &exit_code] {
        if (!args->screenshot.empty() && !args->headless) {
            std::fprintf(stderr, "qxlbox view: --screenshot needs --headless\n");
            exit_code = 2;
            return;
        }
        exit_code = run_view(*args);
    });
}

}  // namespace qxlbox::app
