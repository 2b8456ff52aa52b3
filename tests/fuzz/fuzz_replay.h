// The seeded replay driver (fuzz_replay.cpp) runs a fuzz target without libFuzzer. A target
// may shape the generated inputs and report what they reached by defining
// fuzz_replay_hooks(); without it every input is plain random bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

struct ReplayRng {
    std::uint64_t state = 0;
    std::uint64_t next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    }
};

struct ReplayHooks {
    std::uint64_t seed = 0x2545f4914f6cdd1dull;
    std::size_t min_bytes = 1;
    std::size_t size_spread = 2048;  // input size = min_bytes + next() % size_spread
    void (*shape)(std::vector<std::uint8_t>& input, ReplayRng& rng) = nullptr;
    void (*report)(int runs) = nullptr;
};

// Weak in fuzz_replay.cpp (returns the defaults); a target's replay file overrides it.
const ReplayHooks& fuzz_replay_hooks();
