// qxlbox command line: subcommands run, view, scenario, bench.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

namespace {

int not_yet(const char* what) {
    std::fprintf(stderr, "qxlbox: '%s' is not implemented yet\n", what);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"qxlbox: a PC-style machine emulator and testbed for the QXL display device and the SPICE protocol.\n"
                 "With no subcommand it runs the demo: the built-in guest, a demo scenario, the SPICE server and\n"
                 "the SDL client.",
                 "qxlbox"};
    app.set_version_flag("--version", "qxlbox 0.1.0");
    app.require_subcommand(0, 1);

    auto* run = app.add_subcommand("run", "Boot a multiboot guest on the emulated PC with the QXL device");
    auto* view = app.add_subcommand("view", "Connect to a SPICE server and show its display");
    auto* scenario = app.add_subcommand("scenario", "Work with scenario files");
    auto* bench = app.add_subcommand("bench", "Run benchmarks");
    (void)view;
    (void)scenario;
    (void)bench;
    (void)run;

    CLI11_PARSE(app, argc, argv);

    for (auto* sub : app.get_subcommands()) return not_yet(sub->get_name().c_str());
    return not_yet("demo");
}
