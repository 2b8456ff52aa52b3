// Scenario compiler: turns the line-oriented scenario language (docs/scenarios.md) into the
// binary module the guest interpreter runs (machine/scenario/scenario_format.h).
//
// Theory of operation: each non-empty line is one command word followed by positional
// arguments and key=value options. A table describes every command's parameters (kind,
// argument slot, default, whether required); the parser fills a fixed argument vector per
// step, so the module layout is the same for every instance of an op. Semantic checks that
// need no device (image slots defined before use, surfaces created before use, rectangles
// non-empty, unique check names) happen here, so a scenario that compiles can only fail at
// run time for device reasons. Errors carry file:line:col and never stop at the first one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qxlbox::scenario {

struct CompileError {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;

    // "file:line:col: message"
    std::string to_string() const;
};

struct CompileResult {
    std::vector<std::uint8_t> module;  // empty when errors is non-empty
    std::vector<CompileError> errors;
    std::uint32_t flags = 0;  // QXSC_FLAG_*
    std::uint32_t step_count = 0;
    std::vector<std::string> check_names;  // in order of appearance
    bool runs_forever = false;  // has a `repeat 0` loop: the guest never reaches DONE

    bool ok() const { return errors.empty(); }
};

// Compiles `source`; `file_name` only labels error messages.
CompileResult compile(std::string_view source, std::string_view file_name);

// Reads and compiles a file; an unreadable file is reported as an error at line 0.
CompileResult compile_file(const std::string& path);

// CRC-32 (reflected, polynomial 0xEDB88320) as used for the module body checksum.
std::uint32_t crc32(const std::uint8_t* data, std::size_t size);

}  // namespace qxlbox::scenario
