#include "app/commands.h"

namespace qxlbox::app {

void add_run_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("run", "Boot a multiboot guest on the emulated PC with the QXL device");
    cmd->callback([&exit_code] { exit_code = not_implemented("'qxlbox run'"); });
}

}  // namespace qxlbox::app
