// Subcommands of the qxlbox executable. Each add_*_command() registers its options on `app`
// and arranges for `exit_code` to be set when the subcommand runs.
#pragma once

#include <CLI/CLI.hpp>

namespace qxlbox::app {

void add_run_command(CLI::App& app, int& exit_code);       // cmd_run.cpp
void add_view_command(CLI::App& app, int& exit_code);      // cmd_view.cpp
void add_scenario_command(CLI::App& app, int& exit_code);  // cmd_scenario.cpp
void add_bench_command(CLI::App& app, int& exit_code);     // cmd_bench.cpp

// `qxlbox` with no subcommand.
int run_demo();  // demo.cpp

// Benchmarks, one file each (bench_*.cpp); `args` are the words after `qxlbox bench NAME`.
int bench_cpu(const std::vector<std::string>& args);
int bench_canvas(const std::vector<std::string>& args);

// Exit status for a feature that does not exist yet (and says so on stderr).
int not_implemented(const char* what);

}  // namespace qxlbox::app
