// Generic replay driver for a fuzz target when libFuzzer is not available (the gcc/ASan
// build): runs a fixed, seeded set of generated inputs through LLVMFuzzerTestOneInput so the
// same code paths run under the sanitizers in every test run (see fuzz_replay.h for hooks).
#include "tests/fuzz/fuzz_replay.h"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

__attribute__((weak)) const ReplayHooks& fuzz_replay_hooks() {
    static const ReplayHooks defaults;
    return defaults;
}

int main(int argc, char** argv) {
    const int runs = argc > 1 ? std::atoi(argv[1]) : 300;
    const ReplayHooks& hooks = fuzz_replay_hooks();
    ReplayRng rng{hooks.seed};
    std::vector<std::uint8_t> input;
    for (int r = 0; r < runs; ++r) {
        input.resize(hooks.min_bytes + rng.next() % hooks.size_spread);
        for (auto& b : input) b = static_cast<std::uint8_t>(rng.next());
        if (hooks.shape) hooks.shape(input, rng);
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    if (hooks.report) {
        hooks.report(runs);
    } else {
        std::printf("replayed %d generated inputs\n", runs);
    }
    return 0;
}
