// Shared helpers of the CPU tests: files, running qemu-system-i386 on a guest, and a tiny
// machine (flat RAM) to run byte sequences on our CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "machine/cpu/flat_machine.h"

namespace qxlbox::cputest {

std::vector<std::uint8_t> read_file(const std::string& path);
std::string guest_path(const std::string& name);

// Runs `elf` under qemu-system-i386 (TCG) with COM1 to a file and isa-debug-exit at 0xf4.
// Returns false (and sets `error`) when QEMU could not run or did not finish in time.
bool run_qemu(const std::string& elf, double timeout_s, std::string& serial, int& exit_status, std::string& error);

}  // namespace qxlbox::cputest
