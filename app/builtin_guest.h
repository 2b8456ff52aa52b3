// The reference guest (roms/qxlbox-guest.elf) embedded in the executable at build time, so the
// demo and `qxlbox scenario check` run without a build folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "machine/board/board.h"

namespace qxlbox::app {

// The built-in guest with `module` (a compiled scenario) as its first multiboot module.
machine::MultibootImage builtin_guest_image(std::vector<std::uint8_t> module, const std::string& module_name);

}  // namespace qxlbox::app
