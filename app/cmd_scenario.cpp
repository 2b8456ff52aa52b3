// `qxlbox scenario compile S.scn -o S.bin`: compiles a scenario into the module the guest runs
// (docs/scenarios.md). Errors go to stderr as file:line:col: message; exit status 2.
// `qxlbox scenario check DIR`: the golden-image runner (app/golden.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "app/golden.h"
#include "machine/scenario/scenario_compiler.h"

namespace qxlbox::app {

namespace {

struct ScenarioOptions {
    std::string input;
    std::string output;
};

int compile_scenario(const ScenarioOptions& opt) {
    const auto result = scenario::compile_file(opt.input);
    if (!result.ok()) {
        for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return 2;
    }
    std::ofstream out(opt.output, std::ios::binary | std::ios::trunc);
    if (!out) {
        std::fprintf(stderr, "qxlbox: cannot write %s\n", opt.output.c_str());
        return 2;
    }
    out.write(reinterpret_cast<const char*>(result.module.data()), static_cast<std::streamsize>(result.module.size()));
    if (!out) {
        std::fprintf(stderr, "qxlbox: write to %s failed\n", opt.output.c_str());
        return 2;
    }
    return 0;
}

}  // namespace

void add_scenario_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("scenario", "Compile and check scenario files");
    cmd->require_subcommand(1);
    auto opt = std::make_shared<ScenarioOptions>();
    auto* compile = cmd->add_subcommand("compile", "Compile a .scn scenario into a guest module");
    compile->add_option("input", opt->input, "scenario source (.scn)")->required();
    compile->add_option("-o,--output", opt->output, "module to write (.bin)")->required();
    compile->callback([opt, &exit_code] { exit_code = compile_scenario(*opt); });

    auto golden = std::make_shared<GoldenOptions>();
    auto* check = cmd->add_subcommand(
        "check", "Run a scenario on the built-in guest and compare each checkpoint with its baseline_NNNN.png");
    check->add_option("scenario", golden->scenario, "scenario folder NAME holding NAME.scn and its baselines")
        ->required()
        ->type_name("DIR");
    check->add_option("--out", golden->out, "where result_/expected_/diff_ PNGs go (default: ./golden-results/NAME)")
        ->type_name("DIR");
    check->add_flag("--rebaseline", golden->rebaseline, "rewrite the baselines that are missing or differ (only those)");
    check->footer(
        "Exit status: 0 every checkpoint matches (server rendering and client frame), 1 a frame differs or\n"
        "is missing, 2 bad input (no scenario, compile errors, unreadable or wrongly sized baseline).");
    check->callback([golden, &exit_code] { exit_code = check_scenario(*golden); });
}

}  // namespace qxlbox::app
