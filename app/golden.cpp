#include "app/golden.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "app/builtin_client.h"
#include "app/builtin_guest.h"
#include "app/checkpoints.h"
#include "app/emulator.h"
#include "machine/scenario/scenario_compiler.h"
#include "machine/scenario/scenario_format.h"

namespace qxlbox::app {

namespace fs = std::filesystem;

namespace {

// Virtual seconds a scenario may take to reach its last checkpoint.
constexpr double kMaxVirtualSeconds = 60;
// Guest output kept for the report when the guest stops early.
constexpr std::size_t kSerialTailBytes = 2048;
// Host time the built-in client may take to connect before the guest starts anyway.
constexpr auto kClientConnectTimeout = std::chrono::seconds(10);

constexpr int kExitMismatch = 1;
constexpr int kExitBadInput = 2;

int bad_input(const std::string& message) {
    std::fprintf(stderr, "qxlbox scenario check: %s\n", message.c_str());
    return kExitBadInput;
}

// Checkpoint steps in a compiled module. The compiler rejects them inside loops, so each one
// prints exactly once.
unsigned count_checkpoints(const std::vector<std::uint8_t>& module) {
    const auto u16 = [&](std::size_t at) {
        return static_cast<unsigned>(module[at] | (module[at + 1] << 8));
    };
    unsigned count = 0;
    std::size_t at = QXSC_HEADER_SIZE;
    while (at + QXSC_STEP_HEADER_SIZE <= module.size()) {
        const unsigned op = u16(at), argc = u16(at + 2), text_len = u16(at + 4);
        if (op == QXSC_OP_CHECKPOINT) ++count;
        at += QXSC_STEP_HEADER_SIZE + std::size_t{argc} * 4 + ((text_len + 3u) & ~3u);
    }
    return count;
}

std::string size_text(const client::RgbImage& image) {
    return std::to_string(image.width) + "x" + std::to_string(image.height);
}

struct Baseline {
    fs::path path;
    std::optional<client::RgbImage> image;  // nullopt: missing (or unreadable with --rebaseline)
    std::string problem;                    // why it could not be read
};

struct Run {
    std::vector<CheckpointFrame> frames;
    machine::RunResult result;
    std::string serial_tail;
    std::string error;  // the emulator could not start
};

Run run_scenario(const scenario::CompileResult& compiled, const std::string& module_name, unsigned checkpoints) {
    Run run;
    CheckpointTap* tap = nullptr;
    EmulatorOptions eo;
    eo.board.clock = machine::ClockMode::Virtual;
    eo.board.max_seconds = kMaxVirtualSeconds;
    eo.board.serial_out = [&run, &tap](std::uint8_t b) {
        run.serial_tail.push_back(static_cast<char>(b));
        if (run.serial_tail.size() > 2 * kSerialTailBytes) run.serial_tail.erase(0, kSerialTailBytes);
        if (tap) tap->serial_byte(b);
    };
    eo.board.debugcon_out = [](std::uint8_t) {};
    eo.spice.log = [](const std::string&) {};
    std::unique_ptr<Emulator> emu = Emulator::create(eo, run.error);
    if (!emu) return run;
    const machine::MultibootLoadResult loaded = emu->board().load_multiboot(builtin_guest_image(compiled.module, module_name));
    if (!loaded.ok) {
        run.error = "built-in guest: " + loaded.error;
        return run;
    }

    BuiltinClientOptions co;
    co.port = emu->spice_port();
    co.front_end = ClientFrontEnd::Headless;
    BuiltinClient client(co);
    std::string client_error;
    std::thread client_thread([&client, &client_error] { client.run(client_error); });
    if (!wait_for_display_client(emu->server(), client, kClientConnectTimeout)) {
        // The client's error is only settled once its thread has finished.
        const std::string why = client.finished() ? client_error : std::string();
        std::fprintf(stderr, "qxlbox scenario check: warning: the built-in client has not connected%s%s\n",
                     why.empty() ? "" : ": ", why.c_str());
    }

    CheckpointTap checkpoint_tap(*emu, &client.mirror(), [&](const CheckpointFrame& frame) {
        if (frame.done) return;
        run.frames.push_back(frame);
        // Scenarios that loop forever never print DONE; nothing after the last checkpoint is compared.
        if (frame.index >= checkpoints) emu->request_stop();
    });
    tap = &checkpoint_tap;
    run.result = emu->run();
    tap = nullptr;
    client.stop();
    client_thread.join();
    if (run.serial_tail.size() > kSerialTailBytes) run.serial_tail.erase(0, run.serial_tail.size() - kSerialTailBytes);
    return run;
}

// Removes result files of an earlier check, so the folder only shows this run's failures.
void clear_old_results(const fs::path& out) {
    std::error_code ec;
    if (!fs::is_directory(out, ec)) return;
    for (const auto& entry : fs::directory_iterator(out, ec)) {
        const std::string name = entry.path().filename().string();
        const bool ours = name.ends_with(".png") &&
                          (name.starts_with("result_") || name.starts_with("expected_") || name.starts_with("diff_"));
        if (ours) fs::remove(entry.path(), ec);
    }
}

}  // namespace

ImageDifference compare_images(const client::RgbImage& a, const client::RgbImage& b) {
    ImageDifference d;
    if (a.width != b.width || a.height != b.height || a.rgb.size() != b.rgb.size()) {
        d.pixels = std::uint64_t{std::max(a.width, b.width)} * std::max(a.height, b.height);
        return d;
    }
    for (std::size_t i = 0; i + 2 < a.rgb.size(); i += 3) {
        if (std::memcmp(&a.rgb[i], &b.rgb[i], 3) == 0) continue;
        if (d.pixels == 0) {
            const std::size_t pixel = i / 3;
            d.first_x = static_cast<std::uint32_t>(pixel % a.width);
            d.first_y = static_cast<std::uint32_t>(pixel / a.width);
        }
        ++d.pixels;
    }
    return d;
}

client::RgbImage difference_image(const client::RgbImage& expected, const client::RgbImage& server,
                                  const client::RgbImage* client) {
    client::RgbImage out = expected;
    const auto differs = [](const client::RgbImage& a, const client::RgbImage& b, std::size_t i) {
        return i + 2 >= a.rgb.size() || i + 2 >= b.rgb.size() || std::memcmp(&a.rgb[i], &b.rgb[i], 3) != 0;
    };
    for (std::size_t i = 0; i + 2 < out.rgb.size(); i += 3) {
        if (differs(server, expected, i)) {
            out.rgb[i] = 255, out.rgb[i + 1] = 0, out.rgb[i + 2] = 0;
        } else if (client && differs(*client, server, i)) {
            out.rgb[i] = 255, out.rgb[i + 1] = 255, out.rgb[i + 2] = 0;
        } else {
            // Dimmed grey keeps the picture recognisable without competing with the marks.
            const unsigned grey = (expected.rgb[i] * 30u + expected.rgb[i + 1] * 59u + expected.rgb[i + 2] * 11u) / 100u;
            const auto dim = static_cast<std::uint8_t>(64 + grey / 4);
            out.rgb[i] = out.rgb[i + 1] = out.rgb[i + 2] = dim;
        }
    }
    return out;
}

int check_scenario(const GoldenOptions& options) {
    // The scenario: a folder NAME holding NAME.scn, or the .scn file itself.
    fs::path given = fs::path(options.scenario).lexically_normal();
    if (given.has_relative_path() && given.filename().empty()) given = given.parent_path();
    std::error_code ec;
    fs::path folder, source;
    if (fs::is_directory(given, ec)) {
        folder = given;
        fs::path absolute = fs::absolute(folder, ec).lexically_normal();
        if (absolute.filename().empty()) absolute = absolute.parent_path();
        source = folder / (absolute.filename().string() + ".scn");
    } else if (given.extension() == ".scn" && fs::is_regular_file(given, ec)) {
        source = given;
        folder = given.parent_path().empty() ? fs::path(".") : given.parent_path();
    } else {
        return bad_input("no scenario at '" + options.scenario + "' (expected a folder NAME holding NAME.scn)");
    }
    if (!fs::is_regular_file(source, ec)) {
        return bad_input("'" + folder.string() + "' holds no " + source.filename().string());
    }
    const std::string name = source.stem().string();

    const scenario::CompileResult compiled = scenario::compile_file(source.string());
    if (!compiled.ok()) {
        for (const auto& e : compiled.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return bad_input(source.string() + " does not compile");
    }
    const unsigned checkpoints = count_checkpoints(compiled.module);
    if (checkpoints == 0) {
        return bad_input(source.string() + " has no checkpoint step; add `checkpoint NAME` after the draws to compare");
    }

    // Baselines are read before the run, so bad files are reported without waiting for it.
    std::vector<Baseline> baselines(checkpoints + 1);
    for (unsigned k = 1; k <= checkpoints; ++k) {
        Baseline& b = baselines[k];
        b.path = folder / ("baseline_" + checkpoint_number(k) + ".png");
        if (!fs::exists(b.path, ec)) continue;
        client::RgbImage image;
        std::string why;
        if (client::read_png(b.path.string(), image, why)) {
            b.image = std::move(image);
        } else if (options.rebaseline) {
            b.problem = why;
        } else {
            return bad_input("cannot read " + b.path.string() + ": " + why);
        }
    }
    for (unsigned k = checkpoints + 1; k < checkpoints + 100; ++k) {
        const fs::path stale = folder / ("baseline_" + checkpoint_number(k) + ".png");
        if (fs::exists(stale, ec)) {
            std::fprintf(stderr, "qxlbox scenario check: warning: %s belongs to no checkpoint (%s has %u)\n",
                         stale.string().c_str(), source.filename().string().c_str(), checkpoints);
        }
    }

    const Run run = run_scenario(compiled, source.string(), checkpoints);
    if (!run.error.empty()) {
        std::fprintf(stderr, "qxlbox scenario check: cannot start the emulator: %s\n", run.error.c_str());
        return kExitMismatch;
    }

    const fs::path out = options.out.empty() ? fs::current_path() / "golden-results" / name : fs::path(options.out);
    bool out_ready = false;
    const auto prepare_out = [&]() {
        if (out_ready) return true;
        fs::create_directories(out, ec);
        if (ec || !fs::is_directory(out)) {
            std::fprintf(stderr, "qxlbox scenario check: cannot create %s\n", out.string().c_str());
            return false;
        }
        out_ready = true;
        return true;
    };
    const auto save = [&](const client::RgbImage& image, const fs::path& path) {
        std::string why;
        if (!write_png_atomically(image, path.string(), why)) {
            std::fprintf(stderr, "qxlbox scenario check: %s\n", why.c_str());
        }
    };
    clear_old_results(out);

    unsigned failures = 0, rewritten = 0, matched = 0;
    bool bad_size = false;
    for (unsigned k = 1; k <= checkpoints; ++k) {
        const Baseline& b = baselines[k];
        const std::string label = name + ": checkpoint " + std::to_string(k);
        if (k > run.frames.size()) {
            std::printf("%s: never reached; the guest stopped first (%s)\n", label.c_str(), run.result.message.c_str());
            ++failures;
            continue;
        }
        const CheckpointFrame& f = run.frames[k - 1];
        const std::string title = label + " '" + f.name + "'";
        if (!f.server) {
            std::printf("%s: %s at this checkpoint\n", title.c_str(), f.server_error.c_str());
            ++failures;
            continue;
        }
        const client::RgbImage& server = *f.server;
        const std::string num = checkpoint_number(k);

        // The server's rendering against the baseline.
        bool server_ok = false;
        const unsigned rewritten_before = rewritten;
        if (!b.image) {
            if (options.rebaseline) {
                save(server, b.path);
                std::printf("%s: %s %s\n", title.c_str(), b.problem.empty() ? "created" : "rewrote unreadable",
                            b.path.string().c_str());
                ++rewritten;
                server_ok = true;
            } else {
                std::printf("%s: %s is missing; create it with: qxlbox scenario check %s --rebaseline\n", title.c_str(),
                            b.path.string().c_str(), folder.string().c_str());
                if (prepare_out()) save(server, out / ("result_" + num + ".png"));
                ++failures;
                continue;
            }
        } else if (b.image->width != server.width || b.image->height != server.height) {
            if (options.rebaseline) {
                save(server, b.path);
                std::printf("%s: rewrote %s (was %s, the primary is %s)\n", title.c_str(), b.path.string().c_str(),
                            size_text(*b.image).c_str(), size_text(server).c_str());
                ++rewritten;
                server_ok = true;
            } else {
                std::fprintf(stderr, "qxlbox scenario check: %s is %s but the primary surface at checkpoint %u is %s\n",
                             b.path.string().c_str(), size_text(*b.image).c_str(), k, size_text(server).c_str());
                bad_size = true;
                continue;
            }
        } else {
            const ImageDifference d = compare_images(server, *b.image);
            if (d.pixels == 0) {
                server_ok = true;
            } else if (options.rebaseline) {
                save(server, b.path);
                std::printf("%s: rewrote %s (%llu pixels differed)\n", title.c_str(), b.path.string().c_str(),
                            static_cast<unsigned long long>(d.pixels));
                ++rewritten;
                server_ok = true;
            } else {
                std::printf("%s: server rendering differs from %s in %llu pixels (first at %u,%u)\n", title.c_str(),
                            b.path.string().c_str(), static_cast<unsigned long long>(d.pixels), d.first_x, d.first_y);
            }
        }
        const bool rewrote = rewritten != rewritten_before;
        const client::RgbImage& expected = server_ok ? server : *b.image;

        // The client's frame against the server's rendering (which the baseline judged).
        bool client_ok = true;
        if (!f.client) {
            std::printf("%s: the client never showed a primary surface\n", title.c_str());
            client_ok = false;
        } else if (f.client->width != server.width || f.client->height != server.height) {
            std::printf("%s: the client's frame is %s, the server's rendering %s\n", title.c_str(),
                        size_text(*f.client).c_str(), size_text(server).c_str());
            client_ok = false;
        } else if (const ImageDifference d = compare_images(*f.client, server); d.pixels != 0) {
            std::printf("%s: client frame differs from the server's rendering in %llu pixels (first at %u,%u)\n",
                        title.c_str(), static_cast<unsigned long long>(d.pixels), d.first_x, d.first_y);
            client_ok = false;
        }

        if (server_ok && client_ok) {
            if (!rewrote) ++matched;
            continue;
        }
        ++failures;
        if (!prepare_out()) continue;
        save(server, out / ("result_" + num + ".png"));
        save(expected, out / ("expected_" + num + ".png"));
        const bool client_comparable = f.client && f.client->width == server.width && f.client->height == server.height;
        if (!client_ok && f.client) save(*f.client, out / ("result_" + num + ".client.png"));
        save(difference_image(expected, server, client_comparable ? &*f.client : nullptr),
             out / ("diff_" + num + ".png"));
    }

    if (bad_size) return kExitBadInput;
    if (out_ready) {
        std::printf("%s: result_, expected_ and diff_ PNGs are in %s\n", name.c_str(), out.string().c_str());
    }
    if (failures != 0) {
        std::printf("%s: %u of %u checkpoints failed\n", name.c_str(), failures, checkpoints);
        if (run.result.outcome == machine::RunResult::Outcome::Fault ||
            run.frames.size() < checkpoints) {
            std::printf("%s: guest output before it stopped:\n%s\n", name.c_str(), run.serial_tail.c_str());
        }
        return kExitMismatch;
    }
    if (rewritten != 0) {
        std::printf("%s: %u baselines written, %u already matched\n", name.c_str(), rewritten, matched);
    } else {
        std::printf("%s: %u checkpoints match their baselines (server and client)\n", name.c_str(), checkpoints);
    }
    return 0;
}

}  // namespace qxlbox::app
