// Differential testing against the host CPU: snippet cases are run natively by the 32-bit
// helper (native_runner.c) and on our CPU, and registers, defined flags and memory compared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "machine/cpu/cpu.h"
#include "tests/cpu/native_case.h"

namespace qxlbox::cputest {

inline constexpr std::uint32_t kFlagsAll = 0x8d5;  // CF PF AF ZF SF OF
inline constexpr std::uint32_t kCF = 0x1, kPF = 0x4, kAF = 0x10, kZF = 0x40, kSF = 0x80, kDF = 0x400, kOF = 0x800;

// Our CPU with the three test pages at the native addresses, a flat GDT and an IDT whose
// gates lead to one HLT per vector, so an exception shows up as its vector.
class EmuEnv {
public:
    EmuEnv();
    // Runs a case; returns the exception vector, or -1 when the snippet completed.
    int run(const NativeCase& c, NativeResult& out);
    // Runs raw code at the code page with the given registers; for system tests.
    machine::Cpu& cpu() { return *cpu_; }
    machine::AddressSpace& memory() { return mem_; }
    machine::PortSpace& ports() { return ports_; }
    machine::Scheduler& clock() { return clock_; }
    std::uint8_t* data() { return data_.data(); }
    std::uint8_t* stack() { return stack_.data(); }
    std::uint8_t* code() { return code_.data(); }
    std::uint8_t* tables() { return tables_.data(); }
    static constexpr std::uint32_t kTables = 0x10003000u;   // GDT at +0, IDT at +0x200
    static constexpr std::uint32_t kHandlers = 0x10004000u; // HLT at kHandlers + vector
    static constexpr std::uint32_t kIdt = kTables + 0x200;
    void set_gate(unsigned vector, std::uint32_t target, std::uint16_t selector, std::uint8_t type_attr);

private:
    machine::AddressSpace mem_;
    machine::PortSpace ports_;
    machine::Scheduler clock_;
    std::unique_ptr<machine::Cpu> cpu_;
    std::vector<std::uint8_t> data_, stack_, code_, tables_, handlers_;
};

// A test instruction form: how to build a snippet and which flags are defined afterwards.
struct Form {
    std::string name;
    std::function<void(std::mt19937&, NativeCase&)> make;  // fills code and inputs
    std::function<std::uint32_t(const NativeCase&)> flags_mask;
};

// Runs `per_form` random cases of every form natively and on our CPU; returns a description of
// the mismatches (empty when everything matched).
std::string run_differential(const std::vector<Form>& forms, unsigned per_form, std::uint32_t seed);

std::uint32_t random_value(std::mt19937& rng);
std::string describe_code(const std::uint8_t* code, std::size_t len);

}  // namespace qxlbox::cputest
