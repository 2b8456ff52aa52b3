#include "tests/interop/guest_runner.h"

#include "machine/scenario/scenario_compiler.h"
#include "machine/scenario/scenario_format.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/process_util.h"

namespace qxlbox::interop {

namespace {

using test::ChildOutput;
using test::ChildProcess;
using test::TempDir;
using test::free_port;
using test::read_text_file;

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::string cur;
    for (char c : text) {
        if (c == '\n') {
            if (!cur.empty() && cur.back() == '\r') cur.pop_back();
            lines.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) lines.push_back(cur);
    return lines;
}

}  // namespace

std::vector<std::string> GuestRun::results() const {
    std::vector<std::string> out;
    for (const auto& l : serial)
        if (l.rfind("RESULT ", 0) == 0) out.push_back(l);
    return out;
}

bool GuestRun::done() const {
    for (const auto& l : serial)
        if (l == "DONE") return true;
    return false;
}

std::vector<std::string> result_differences(const GuestRun& a, const GuestRun& b) {
    auto comparable = [](const GuestRun& r) {
        std::vector<std::string> lines;
        for (const auto& l : r.serial)
            if (l.rfind("RESULT ", 0) == 0 || l.rfind("CHECKPOINT ", 0) == 0) lines.push_back(l);
        return lines;
    };
    const auto la = comparable(a), lb = comparable(b);
    std::vector<std::string> diffs;
    for (std::size_t i = 0; i < std::max(la.size(), lb.size()); i++) {
        const std::string x = i < la.size() ? la[i] : "(missing)";
        const std::string y = i < lb.size() ? lb[i] : "(missing)";
        if (x != y) diffs.push_back("line " + std::to_string(i + 1) + ": " + x + " | " + y);
    }
    if (a.done() != b.done())
        diffs.push_back(std::string("DONE: ") + (a.done() ? "yes" : "no") + " | " + (b.done() ? "yes" : "no"));
    return diffs;
}

namespace {

// Writes the module into a fresh temporary directory, runs `make_args(dir)` with stdout to
// /dev/null and stderr to a file, kills the process by its PID at the deadline, and collects
// the serial file the arguments pointed at (dir/serial.txt).
template <typename MakeArgs>
GuestRun spawn_guest(const std::vector<std::uint8_t>& module, const RunOptions& options, const char* what,
                     MakeArgs make_args) {
    GuestRun run;
    TempDir dir("qxlbox-interop");
    if (dir.path().empty()) {
        run.diagnostics = "cannot create a temporary directory";
        return run;
    }
    const auto module_path = dir.path() / "scenario.bin";
    const auto serial_path = dir.path() / "serial.txt";
    const auto stderr_path = dir.path() / "stderr.txt";
    {
        std::ofstream out(module_path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(module.data()), static_cast<std::streamsize>(module.size()));
        if (!out) {
            run.diagnostics = "cannot write the module";
            return run;
        }
    }
    std::vector<std::string> args = make_args(module_path.string(), serial_path.string());
    ChildProcess child(args, ChildOutput{{}, stderr_path});
    if (!child.started()) {
        run.diagnostics = std::string("cannot start ") + what + " (" + args[0] + ")";
        return run;
    }
    run.started = true;
    const auto exit = child.wait_exit(options.timeout);
    if (exit.wait_failed) {
        run.diagnostics = "waitpid failed";
        return run;
    }
    run.timed_out = exit.timed_out;
    if (exit.exit_code >= 0) run.exit_status = exit.exit_code;
    if (exit.signal != 0) run.exit_status = 128 + exit.signal;
    run.serial = split_lines(read_text_file(serial_path));
    run.diagnostics += read_text_file(stderr_path);
    return run;
}

}  // namespace

std::vector<std::string> qemu_arguments(const std::string& guest_elf, const std::string& module_path,
                                        const std::string& serial_path, int spice_port, const std::string& append) {
    std::vector<std::string> args = {"qemu-system-i386",
                                     "-kernel",
                                     guest_elf,
                                     "-vga",
                                     "qxl",
                                     "-display",
                                     "none",
                                     "-serial",
                                     "file:" + serial_path,
                                     "-device",
                                     "isa-debug-exit,iobase=0xf4,iosize=4",
                                     "-no-reboot",
                                     "-m",
                                     "128",
                                     "-monitor",
                                     "none",
                                     "-net",
                                     "none"};
    if (!append.empty()) args.insert(args.end(), {"-append", append});
    if (!module_path.empty()) args.insert(args.end(), {"-initrd", module_path});
    if (spice_port != 0)
        args.insert(args.end(),
                    {"-spice", "port=" + std::to_string(spice_port) + ",addr=127.0.0.1,disable-ticketing=on"});
    return args;
}

GuestRun run_on_qemu(const std::vector<std::uint8_t>& module, const RunOptions& options) {
    return spawn_guest(module, options, "qemu-system-i386", [&](const std::string& module_path,
                                                                const std::string& serial_path) {
        return qemu_arguments(options.guest_elf, options.pass_module ? module_path : "", serial_path,
                              options.with_spice ? free_port() : 0);
    });
}

std::vector<ScenarioEntry> scenario_library(const std::string& folder) {
    std::vector<ScenarioEntry> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
        if (!entry.is_directory()) continue;
        const auto name = entry.path().filename().string();
        const auto path = entry.path() / (name + ".scn");
        if (!std::filesystem::exists(path)) continue;
        const auto compiled = scenario::compile_file(path.string());
        out.push_back({name, path.string(), compiled.ok() ? compiled.flags : 0, compiled.runs_forever, compiled.ok()});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

std::vector<ScenarioEntry> qemu_capable_scenarios(const std::string& folder) {
    auto all = scenario_library(folder);
    std::erase_if(all, [](const ScenarioEntry& s) {
        return s.runs_forever || (s.flags & (QXSC_FLAG_NEEDS_VDIPORT | QXSC_FLAG_QXLBOX_ONLY)) != 0;
    });
    return all;
}

std::vector<ScenarioEntry> qxlbox_capable_scenarios(const std::string& folder) {
    auto all = scenario_library(folder);
    std::erase_if(all, [](const ScenarioEntry& s) { return s.runs_forever || (s.flags & QXSC_FLAG_QEMU_ONLY) != 0; });
    return all;
}

GuestRun run_on_qxlbox(const std::vector<std::uint8_t>& module, const RunOptions& options) {
    if (options.qxlbox_exe.empty()) {
        GuestRun run;
        run.diagnostics = "no qxlbox executable given";
        return run;
    }
    return spawn_guest(module, options, "qxlbox", [&](const std::string& module_path, const std::string& serial_path) {
        // Virtual time bounds the run inside the emulator; options.timeout bounds it on the host.
        std::vector<std::string> args = {options.qxlbox_exe, "run",       "--kernel",   options.guest_elf,
                                         "--memory",         "128",       "--serial",   serial_path,
                                         "--debugcon",       "none",      "--no-client", "--max-seconds",
                                         std::to_string(options.max_virtual_seconds)};
        if (options.pass_module) args.insert(args.end(), {"--module", module_path});
        if (options.with_spice) {
            const int port = free_port();
            args.insert(args.end(), {"--spice", "port=" + std::to_string(port) + ",addr=127.0.0.1", "--disable-ticketing"});
        }
        return args;
    });
}

}  // namespace qxlbox::interop
