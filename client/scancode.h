// Keyboard mapping: SDL scancodes (USB HID usage ids) to the PC/AT set 1 scancodes SPICE
// KEY_DOWN/KEY_UP carry (spice-protocol.md §7). Extended keys are E0-prefixed and travel as
// the u32 0xE0 | code << 8 (release: the code byte gets bit 7).
#pragma once

#include <cstdint>

namespace qxlbox::client {

// 0 for keys with no set 1 code we send (e.g. Pause, which needs an E1 sequence).
std::uint32_t spice_scancode_from_usb(int usb_usage);

}  // namespace qxlbox::client
