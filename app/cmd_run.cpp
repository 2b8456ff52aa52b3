// `qxlbox run`: boot a multiboot guest on the emulated PC.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/builtin_client.h"
#include "app/checkpoints.h"
#include "app/commands.h"
#include "app/emulator.h"
#include "hw/qxl/qxl_trace_hash.h"
#include "machine/board/board.h"
#include "machine/scenario/scenario_compiler.h"

namespace qxlbox::app {

namespace {

struct RunOptions {
    std::string kernel;
    std::string append;
    std::vector<std::string> modules;
    unsigned memory_mib = 128;
    std::string serial = "stdio";
    std::string debugcon = "stderr";
    std::string clock = "virtual";
    std::string trace;
    double max_seconds = 0;
    // Options of later pieces (QXL device, SPICE server, client, scenarios).
    std::string scenario;
    std::string spice;
    std::string password;
    bool disable_ticketing = false;
    bool no_client = false;
    bool headless = false;
    bool linger = false;
    std::string snapshot_dir;
    std::string qxl;
    std::string trace_hash;
};

int fail(const std::string& message) {
    std::fprintf(stderr, "qxlbox run: %s\n", message.c_str());
    return machine::kExitStatusBadInput;
}

// A byte sink to stdout, stderr or a file; flushes at line ends so output interleaves sanely
// with the host's own messages.
class ByteSink {
public:
    bool open(const std::string& where, std::string& error) {
        if (where == "stdio" || where == "stdout") {
            file_ = stdout;
        } else if (where == "stderr") {
            file_ = stderr;
        } else if (where == "none") {
            file_ = nullptr;
        } else {
            file_ = std::fopen(where.c_str(), "wb");
            if (!file_) {
                error = "cannot open '" + where + "' for writing";
                return false;
            }
            owned_ = true;
        }
        return true;
    }
    ~ByteSink() {
        if (owned_ && file_) std::fclose(file_);
    }
    void put(std::uint8_t byte) {
        if (!file_) return;
        std::fputc(byte, file_);
        if (byte == '\n') std::fflush(file_);
    }
    void flush() {
        if (file_) std::fflush(file_);
    }

private:
    std::FILE* file_ = nullptr;
    bool owned_ = false;
};

// Writes each checkpoint's server rendering (and client frame) into `dir` (RUN_CONTRACT.md).
CheckpointTap::Sink snapshot_writer(const std::string& dir) {
    return [dir](const CheckpointFrame& f) {
        const std::string stem = dir + "/" + (f.done ? std::string("done") : "checkpoint_" + checkpoint_number(f.index));
        std::string error;
        if (!f.server) {
            std::fprintf(stderr, "qxlbox run: %s: %s, nothing written\n", stem.c_str(), f.server_error.c_str());
        } else if (!write_png_atomically(*f.server, stem + ".server.png", error)) {
            std::fprintf(stderr, "qxlbox run: %s\n", error.c_str());
        }
        if (f.client_running) {
            if (!f.client) {
                std::fprintf(stderr, "qxlbox run: %s: the client has no primary surface\n", stem.c_str());
            } else if (!write_png_atomically(*f.client, stem + ".client.png", error)) {
                std::fprintf(stderr, "qxlbox run: %s\n", error.c_str());
            }
        }
    };
}

const char* stop_reason(const machine::RunResult& r) {
    switch (r.outcome) {
        case machine::RunResult::Outcome::DebugExit: return "debug exit";
        case machine::RunResult::Outcome::Fault: return "CPU fault";
        case machine::RunResult::Outcome::TimeLimit: return "--max-seconds reached";
        case machine::RunResult::Outcome::HaltedForever: return "halted with nothing to wake it";
        case machine::RunResult::Outcome::Stopped: return "stopped";
    }
    return "stopped";
}

int run_guest(const RunOptions& o) {
    if (o.no_client && o.headless) return fail("--no-client and --headless exclude each other");

    machine::BoardConfig cfg;
    cfg.ram_size_bytes = std::uint64_t{o.memory_mib} << 20;
    cfg.max_seconds = o.max_seconds;
    if (o.clock == "virtual") {
        cfg.clock = machine::ClockMode::Virtual;
    } else if (o.clock == "realtime") {
        cfg.clock = machine::ClockMode::Realtime;
    } else {
        return fail("unknown --clock '" + o.clock + "' (use virtual or realtime)");
    }
    std::string error;
    if (!o.trace.empty() && !machine::parse_trace_list(o.trace, cfg.trace, error)) return fail(error);
    if (!machine::Board::validate(cfg, error)) return fail(error);

    EmulatorOptions eo;
    if (!o.qxl.empty()) {
        const hw::qxl::QxlConfigResult qxl = hw::qxl::parse_qxl_options(o.qxl);
        if (!qxl.config) return fail("--qxl: " + qxl.error);
        eo.qxl = *qxl.config;
    }
    if (!o.password.empty() && o.disable_ticketing) return fail("--password and --disable-ticketing exclude each other");
    if (!o.spice.empty()) {
        eo.spice_requested = true;
        if (!parse_spice_options(o.spice, eo.spice, error)) return fail(error);
    }
    if (!o.password.empty()) eo.spice.password = o.password;
    // Without --spice the only peer is the built-in client; its connects are not news.
    if (!eo.spice_requested && !cfg.trace.spice) eo.spice.log = [](const std::string&) {};

    machine::MultibootImage image;
    if (!machine::read_file_bytes(o.kernel, cfg.ram_size_bytes, image.kernel, error)) return fail(error);
    // As QEMU's -kernel/-append: the guest sees "KERNEL APPEND".
    image.cmdline = o.kernel + " " + o.append;
    for (const std::string& spec : o.modules) {
        const std::size_t comma = spec.find(',');
        machine::MultibootModule m;
        const std::string path = spec.substr(0, comma);
        if (path.empty()) return fail("--module needs a file name: '" + spec + "'");
        // As one item of QEMU's -initrd "FILE ARGS": the module string is the whole item.
        m.cmdline = comma == std::string::npos ? path : path + " " + spec.substr(comma + 1);
        if (!machine::read_file_bytes(path, cfg.ram_size_bytes, m.data, error)) return fail(error);
        image.modules.push_back(std::move(m));
    }
    if (!o.scenario.empty()) {
        // Compiled on the fly into the first module, as `qxlbox scenario compile` would.
        const auto compiled = scenario::compile_file(o.scenario);
        if (!compiled.ok()) {
            for (const auto& e : compiled.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
            return machine::kExitStatusBadInput;
        }
        machine::MultibootModule m;
        m.cmdline = o.scenario;
        m.data = compiled.module;
        image.modules.insert(image.modules.begin(), std::move(m));
    }

    if (!o.snapshot_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(o.snapshot_dir, ec);
        if (ec || !std::filesystem::is_directory(o.snapshot_dir)) {
            return fail("--snapshot-dir: cannot create '" + o.snapshot_dir + "'" + (ec ? ": " + ec.message() : ""));
        }
    }

    ByteSink serial;
    ByteSink debugcon;
    if (!serial.open(o.serial, error) || !debugcon.open(o.debugcon, error)) return fail(error);
    // The tap exists once the emulator does; the guest cannot print before that.
    CheckpointTap* tap = nullptr;
    cfg.serial_out = [&serial, &tap](std::uint8_t b) {
        serial.put(b);
        if (tap) tap->serial_byte(b);
    };
    cfg.debugcon_out = [&debugcon](std::uint8_t b) { debugcon.put(b); };
    cfg.serial_input = o.serial == "stdio" && isatty(STDIN_FILENO);

    eo.board = cfg;
    std::unique_ptr<Emulator> emu = Emulator::create(eo, error);
    if (!emu) return fail(error);
    machine::Board& board = emu->board();
    if (eo.spice_requested) {
        std::fprintf(stderr, "qxlbox: SPICE server at spice://%s:%u%s\n", eo.spice.addr.c_str(), emu->spice_port(),
                     eo.spice.password ? " (password required)" : "");
    }
    const machine::MultibootLoadResult loaded = board.load_multiboot(image);
    if (!loaded.ok) return fail("'" + o.kernel + "': " + loaded.error);

    if (cfg.serial_input) {
        // The reader blocks in read(); it is detached and only touches the shared queue, which
        // outlives the board.
        std::thread([queue = board.serial_input_queue()] {
            char buf[256];
            for (;;) {
                const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
                if (n <= 0) return;
                queue->push(std::string_view(buf, static_cast<std::size_t>(n)));
            }
        }).detach();
    }

    // --trace-hash: fold the QXL device-boundary events into one hash (virtual time only).
    std::FILE* hash_out = nullptr;
    if (!o.trace_hash.empty()) {
        hash_out = o.trace_hash == "-" ? stdout : std::fopen(o.trace_hash.c_str(), "w");
        if (!hash_out) return fail("cannot open '" + o.trace_hash + "' for writing");
    }
    auto hasher = std::make_shared<hw::qxl::QxlTraceHasher>();
    if (hash_out) emu->qxl().set_trace_events([hasher](const hw::qxl::QxlTraceEvent& e) { hasher->add(e); });

    // The built-in client runs on its own thread; the emulation stays on this one.
    std::unique_ptr<BuiltinClient> client;
    std::thread client_thread;
    if (!o.no_client) {
        BuiltinClientOptions co;
        co.port = emu->spice_port();
        co.front_end = o.headless ? ClientFrontEnd::Headless : ClientFrontEnd::Auto;
        client = std::make_unique<BuiltinClient>(co);
        client_thread = std::thread([&client, &emu] {
            std::string why;
            if (!client->run(why) && !why.empty()) std::fprintf(stderr, "qxlbox run: client: %s\n", why.c_str());
            // Closing the window ends the run, as closing QEMU's window does.
            if (client->window_closed()) emu->request_stop();
        });
    }
    if (client && !wait_for_display_client(emu->server(), *client, std::chrono::seconds(10))) {
        std::fprintf(stderr, "qxlbox run: the built-in client has not connected; starting the guest anyway\n");
    }
    std::unique_ptr<CheckpointTap> snapshots;
    if (!o.snapshot_dir.empty()) {
        snapshots = std::make_unique<CheckpointTap>(*emu, client ? &client->mirror() : nullptr,
                                                    snapshot_writer(o.snapshot_dir));
        tap = snapshots.get();
    }

    const machine::RunResult result = emu->run();
    if (hash_out) {
        emu->qxl().set_trace_events(nullptr);
        std::fprintf(hash_out, "%s\n", hasher->hex().c_str());
        if (hash_out != stdout) std::fclose(hash_out);
        else std::fflush(stdout);
    }
    serial.flush();
    debugcon.flush();
    if (result.outcome != machine::RunResult::Outcome::DebugExit) {
        std::fprintf(stderr, "qxlbox run: %s\n", result.message.c_str());
    }
    if (o.linger && !(client && client->window_closed())) {
        catch_stop_signals();
        std::fprintf(stderr, "qxlbox: guest stopped (%s); serving until interrupted\n", stop_reason(result));
        while (!stop_signalled() && !(client && client->window_closed())) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    if (client) {
        client->stop();
        client_thread.join();
    }
    return result.exit_status;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("run", "Boot a multiboot guest on the emulated PC with the QXL device");
    auto o = std::make_shared<RunOptions>();
    cmd->add_option("--kernel", o->kernel, "Multiboot ELF32 kernel to boot")->required()->type_name("G.elf");
    cmd->add_option("--append", o->append, "Kernel command line (the guest sees \"KERNEL CMDLINE\", as on QEMU)")
        ->type_name("CMDLINE");
    cmd->add_option("--module", o->modules, "Multiboot module (repeatable); its string is \"FILE STRING\", as one item of QEMU's -initrd")
        ->type_name("FILE[,STRING]")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
    cmd->add_option("--memory", o->memory_mib, "Guest RAM in MiB (2-2048)")->type_name("MiB")->capture_default_str();
    cmd->add_option("--serial", o->serial, "Where COM1 output goes: stdio, or a file (stdin feeds COM1 when it is a terminal)")
        ->type_name("stdio|FILE")
        ->capture_default_str();
    cmd->add_option("--debugcon", o->debugcon, "Where port 0xe9 output goes: stderr, stdio, none or a file")
        ->type_name("stderr|stdio|none|FILE")
        ->capture_default_str();
    cmd->add_option("--clock", o->clock, "virtual: reproducible, never reads host time; realtime: paced to the host")
        ->type_name("virtual|realtime")
        ->capture_default_str();
    cmd->add_option("--trace", o->trace, "Trace categories, comma separated: cpu, io, pci, qxl, spice (to stderr)")
        ->type_name("LIST");
    cmd->add_option("--max-seconds", o->max_seconds, "Stop after N seconds of virtual time (0: no limit)")
        ->type_name("N")
        ->capture_default_str();
    cmd->add_option("--scenario", o->scenario, "Compile a scenario script and pass it as the first module")
        ->type_name("S.scn");
    cmd->add_option("--spice", o->spice, "Listen for SPICE clients (keys: port, addr, password, disable-ticketing=on)")
        ->type_name("port=5900,addr=127.0.0.1");
    cmd->add_option("--password", o->password, "SPICE ticket password (default with --spice: ticketing disabled)")->type_name("P");
    cmd->add_flag("--disable-ticketing", o->disable_ticketing, "Accept SPICE clients without a password");
    cmd->add_flag("--no-client", o->no_client, "Do not start the built-in SPICE client (default: an SDL window with $DISPLAY, headless without)");
    cmd->add_flag("--headless", o->headless, "Run the built-in client without a window (default without $DISPLAY)");
    cmd->add_flag("--linger", o->linger, "When the guest stops, keep serving the final display (SPICE server and client) until SIGINT/SIGTERM");
    cmd->add_option("--snapshot-dir", o->snapshot_dir, "At each CHECKPOINT line and at DONE write the server's rendering of the primary surface (and the client's frame) as checkpoint_NNNN.server.png / .client.png, done.server.png / .client.png")
        ->type_name("DIR");
    cmd->add_option("--qxl", o->qxl, "QXL device properties (also vram64, vgamem, surfaces, max_outputs, xres, yres, guestdebug)")->type_name("ram=MiB,vram=MiB,revision=N");
    cmd->add_option("--trace-hash", o->trace_hash, "Write a 64-bit FNV-1a hash (hex) of the QXL device-boundary events (port writes, commands handed on, releases, IRQ levels, each with its virtual time) to FILE, or - for stdout")
        ->type_name("FILE");
    cmd->footer(
        "Exit status: (V << 1) | 1 when the guest writes V to isa-debug-exit (port 0xf4), as on QEMU;\n"
        "2 bad arguments or a bad kernel/module, 4 CPU fault, 6 --max-seconds reached,\n"
        "8 guest halted with nothing left to wake it, 10 stopped.");
    cmd->callback([o, &exit_code] { exit_code = run_guest(*o); });
}

}  // namespace qxlbox::app
