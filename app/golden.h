// `qxlbox scenario check tests/scenario/NAME [--out DIR] [--rebaseline]`: the golden-image
// runner (docs/scenarios.md, "Golden images").
//
// It runs NAME.scn on the built-in guest (virtual clock, headless built-in client) and at the
// k-th `checkpoint` compares, exactly, the server's rendering of the primary surface and the
// client's frame with NAME/baseline_<k as 4 digits>.png. The run ends after the last
// checkpoint, so scenarios that loop forever (`repeat 0`) are checked too. Exit status: 0 all
// frames match, 1 a frame differs or is missing (one line each; result_/expected_/diff_ PNGs
// in the output folder), 2 bad input (no scenario, compile errors, unreadable baseline, a
// baseline of another size).
#pragma once

#include <cstdint>
#include <string>

#include "client/png_io.h"

namespace qxlbox::app {

struct GoldenOptions {
    std::string scenario;   // the scenario's folder (or its .scn file)
    std::string out;        // empty: ./golden-results/NAME
    bool rebaseline = false;
};

int check_scenario(const GoldenOptions& options);

// Pixels that differ between two images of the same size, and the first one.
struct ImageDifference {
    std::uint64_t pixels = 0;
    std::uint32_t first_x = 0, first_y = 0;
};
ImageDifference compare_images(const client::RgbImage& a, const client::RgbImage& b);

// `expected` dimmed to grey, red where `server` differs from it, yellow where only `client`
// differs from `server` (`client` may be null).
client::RgbImage difference_image(const client::RgbImage& expected, const client::RgbImage& server,
                                  const client::RgbImage* client);

}  // namespace qxlbox::app
