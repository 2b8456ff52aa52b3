#include "app/commands.h"

namespace qxlbox::app {

void add_view_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("view", "Connect to a SPICE server (spice://HOST:PORT) and show its display");
    cmd->allow_extras();
    cmd->callback([&exit_code] { exit_code = not_implemented("'qxlbox view'"); });
}

}  // namespace qxlbox::app
