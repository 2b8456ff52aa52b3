// Replay hooks for the QXL fuzz target (driver: fuzz_replay.cpp): longer inputs, biased
// towards the structured operations, and a report of what the inputs reached.
#include <cstdio>

#include "tests/fuzz/fuzz_replay.h"

extern "C" std::uint64_t qxl_fuzz_commands_parsed, qxl_fuzz_guest_bugs, qxl_fuzz_offered;

namespace {

void shape(std::vector<std::uint8_t>& input, ReplayRng& rng) {
    // Every few bytes, an op byte that pushes a command, or a RESET port write and re-boot.
    for (std::size_t i = 1; i + 8 < input.size(); i += 1 + rng.next() % 24) {
        const std::uint64_t pick = rng.next() % 8;
        if (pick < 3) input[i] = static_cast<std::uint8_t>((pick == 0 ? 3 : 12) + 13 * (rng.next() % 19));
        if (pick == 3) input[i] = 13, input[i + 1] = 5;
    }
}

void report(int runs) {
    std::printf("replayed %d generated inputs: %llu commands parsed, %llu offered to the consumer, %llu guest bugs\n",
                runs, static_cast<unsigned long long>(qxl_fuzz_commands_parsed),
                static_cast<unsigned long long>(qxl_fuzz_offered),
                static_cast<unsigned long long>(qxl_fuzz_guest_bugs));
}

}  // namespace

const ReplayHooks& fuzz_replay_hooks() {
    static const ReplayHooks hooks{0x9e3779b97f4a7c15ull, 16, 4080, shape, report};
    return hooks;
}
