#include "app/commands.h"

namespace qxlbox::app {

void add_scenario_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("scenario", "Compile and check scenario files");
    cmd->allow_extras();
    cmd->callback([&exit_code] { exit_code = not_implemented("'qxlbox scenario'"); });
}

}  // namespace qxlbox::app
