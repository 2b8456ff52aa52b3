#include <string>
#include <vector>

#include "app/commands.h"

namespace qxlbox::app {

void add_bench_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("bench", "Run a benchmark: cpu, canvas");
    // Option storage must outlive parsing; there is one bench subcommand per process.
    static std::string name_storage;
    static std::vector<std::string> rest_storage;
    auto* name = &name_storage;
    auto* rest = &rest_storage;
    cmd->add_option("name", *name, "Benchmark to run (cpu, canvas)")->required();
    cmd->add_option("args", *rest, "Arguments for the benchmark");
    cmd->callback([&exit_code, name, rest] {
        if (*name == "cpu") {
            exit_code = bench_cpu(*rest);
        } else if (*name == "canvas") {
            exit_code = bench_canvas(*rest);
        } else {
            std::fprintf(stderr, "qxlbox bench: unknown benchmark '%s' (cpu, canvas)\n", name->c_str());
            exit_code = 2;
        }
    });
}

}  // namespace qxlbox::app
