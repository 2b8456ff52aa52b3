// Replay driver for the QXL fuzz target when libFuzzer is not available (the gcc/ASan
// build): runs a fixed, seeded set of generated inputs through LLVMFuzzerTestOneInput, so
// the same code paths run under the sanitizers in every test run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" std::uint64_t qxl_fuzz_commands_parsed, qxl_fuzz_guest_bugs, qxl_fuzz_offered;

int main(int argc, char** argv) {
    const int runs = argc > 1 ? std::atoi(argv[1]) : 300;
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    std::vector<std::uint8_t> input;
    for (int r = 0; r < runs; ++r) {
        input.resize(16 + next() % 4080);
        for (auto& b : input) b = static_cast<std::uint8_t>(next());
        // Bias towards the structured operations: every few bytes, an op byte that pushes.
        for (std::size_t i = 1; i + 8 < input.size(); i += 1 + next() % 24) {
            const std::uint64_t pick = next() % 8;
            if (pick < 3) input[i] = static_cast<std::uint8_t>((pick == 0 ? 3 : 12) + 13 * (next() % 19));
            if (pick == 3) input[i] = 13, input[i + 1] = 5;  // port write: RESET, then re-boot
        }
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("replayed %d generated inputs: %llu commands parsed, %llu offered to the consumer, %llu guest bugs\n",
                runs, static_cast<unsigned long long>(qxl_fuzz_commands_parsed),
                static_cast<unsigned long long>(qxl_fuzz_offered),
                static_cast<unsigned long long>(qxl_fuzz_guest_bugs));
    return 0;
}
