#include "client/scancode.h"

#include <array>

namespace qxlbox::client {

namespace {

constexpr std::uint32_t e0(std::uint32_t code) { return 0xe0 | code << 8; }

constexpr std::array<std::uint32_t, 232> make_table() {
    std::array<std::uint32_t, 232> t{};
    // Letters a..z (usage 4..29).
    constexpr std::uint8_t letters[26] = {0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17,
                                          0x24, 0x25, 0x26, 0x32, 0x31, 0x18, 0x19, 0x10, 0x13,
                                          0x1f, 0x14, 0x16, 0x2f, 0x11, 0x2d, 0x15, 0x2c};
    for (int i = 0; i < 26; ++i) t[4 + i] = letters[i];
    // Digits 1..9, 0 (usage 30..39) are set 1 codes 2..11.
    for (int i = 0; i < 10; ++i) t[30 + i] = static_cast<std::uint32_t>(2 + i);
    t[40] = 0x1c;  // Return
    t[41] = 0x01;  // Escape
    t[42] = 0x0e;  // Backspace
    t[43] = 0x0f;  // Tab
    t[44] = 0x39;  // Space
    t[45] = 0x0c;  // -
    t[46] = 0x0d;  // =
    t[47] = 0x1a;  // [
    t[48] = 0x1b;  // ]
    t[49] = 0x2b;  // backslash
    t[50] = 0x2b;  // non-US #
    t[51] = 0x27;  // ;
    t[52] = 0x28;  // '
    t[53] = 0x29;  // `
    t[54] = 0x33;  // ,
    t[55] = 0x34;  // .
    t[56] = 0x35;  // /
    t[57] = 0x3a;  // Caps Lock
    for (int i = 0; i < 10; ++i) t[58 + i] = static_cast<std::uint32_t>(0x3b + i);  // F1..F10
    t[68] = 0x57;     // F11
    t[69] = 0x58;     // F12
    t[70] = e0(0x37); // Print Screen
    t[71] = 0x46;     // Scroll Lock
    t[73] = e0(0x52); // Insert
    t[74] = e0(0x47); // Home
    t[75] = e0(0x49); // Page Up
    t[76] = e0(0x53); // Delete
    t[77] = e0(0x4f); // End
    t[78] = e0(0x51); // Page Down
    t[79] = e0(0x4d); // Right
    t[80] = e0(0x4b); // Left
    t[81] = e0(0x50); // Down
    t[82] = e0(0x48); // Up
    t[83] = 0x45;     // Num Lock
    t[84] = e0(0x35); // keypad /
    t[85] = 0x37;     // keypad *
    t[86] = 0x4a;     // keypad -
    t[87] = 0x4e;     // keypad +
    t[88] = e0(0x1c); // keypad Enter
    constexpr std::uint8_t keypad[10] = {0x4f, 0x50, 0x51, 0x4b, 0x4c, 0x4d, 0x47, 0x48, 0x49, 0x52};
    for (int i = 0; i < 10; ++i) t[89 + i] = keypad[i];  // keypad 1..9, 0
    t[99] = 0x53;      // keypad .
    t[100] = 0x56;     // non-US backslash
    t[101] = e0(0x5d); // Application (menu)
    t[224] = 0x1d;     // Left Ctrl
    t[225] = 0x2a;     // Left Shift
    t[226] = 0x38;     // Left Alt
    t[227] = e0(0x5b); // Left GUI
    t[228] = e0(0x1d); // Right Ctrl
    t[229] = 0x36;     // Right Shift
    t[230] = e0(0x38); // Right Alt
    t[231] = e0(0x5c); // Right GUI
    return t;
}

constexpr auto kTable = make_table();

}  // namespace

std::uint32_t spice_scancode_from_usb(int usb_usage) {
    if (usb_usage < 0 || static_cast<std::size_t>(usb_usage) >= kTable.size()) return 0;
    return kTable[static_cast<std::size_t>(usb_usage)];
}

}  // namespace qxlbox::client
