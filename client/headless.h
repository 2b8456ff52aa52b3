// Headless front end: connect, wait for the display to be ready (N MARKs, optionally until
// the primary surface has not changed for a while), and hand back the primary surface as RGB
// (and write it as PNG). Used by `qxlbox view --headless` and in-process by tests.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "client/png_io.h"
#include "client/session.h"

namespace qxlbox::client {

struct HeadlessOptions {
    unsigned after_marks = 1;
    // After the marks: wait until no update touched the primary surface for this long.
    int settle_ms = 0;
    double timeout_s = 30;
    std::string screenshot_path;  // empty: no file
    // Test hook, as Session::connect_with.
    std::function<std::unique_ptr<Socket>(std::uint8_t type, std::uint8_t id)> open_channel;
};

struct HeadlessResult {
    bool ok = false;
    std::string error;
    RgbImage image;
    unsigned marks = 0;
    SessionStats stats;
};

HeadlessResult run_headless(const SessionOptions& session_options, const HeadlessOptions& options);

}  // namespace qxlbox::client
