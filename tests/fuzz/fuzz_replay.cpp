// Generic replay driver for a fuzz target when libFuzzer is not available (the gcc/ASan
// build): runs a fixed, seeded set of random inputs through LLVMFuzzerTestOneInput so the
// same code paths run under the sanitizers in every test run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    const int runs = argc > 1 ? std::atoi(argv[1]) : 300;
    std::uint64_t state = 0x2545f4914f6cdd1dull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    std::vector<std::uint8_t> input;
    for (int r = 0; r < runs; ++r) {
        input.resize(1 + next() % 2048);
        for (auto& b : input) b = static_cast<std::uint8_t>(next());
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("replayed %d generated inputs\n", runs);
    return 0;
}
