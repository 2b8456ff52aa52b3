// qxlbox command line: subcommands run, view, scenario, bench; no subcommand runs the demo.
#include <cstdio>

#include "app/commands.h"

namespace qxlbox::app {

int not_implemented(const char* what) {
    std::fprintf(stderr, "qxlbox: %s is not implemented yet\n", what);
    return 2;
}

}  // namespace qxlbox::app

int main(int argc, char** argv) {
    using namespace qxlbox::app;
    CLI::App app{"qxlbox: a PC-style machine emulator and testbed for the QXL display device and the SPICE\n"
                 "protocol. With no subcommand it runs the demo: the built-in guest with a demo scenario, the\n"
                 "SPICE server on the first free port from 5900, and the SDL client (headless without $DISPLAY).",
                 "qxlbox"};
    app.set_version_flag("--version", "qxlbox 0.1.0");
    app.require_subcommand(0, 1);
    app.footer("Run 'qxlbox SUBCOMMAND --help' for the options of a subcommand.");

    int exit_code = 0;
    add_run_command(app, exit_code);
    add_view_command(app, exit_code);
    add_scenario_command(app, exit_code);
    add_bench_command(app, exit_code);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 exits 0 for --help/--version and 106-ish codes for errors; we use 2 for bad usage.
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (app.get_subcommands().empty()) return run_demo();
    return exit_code;
}
