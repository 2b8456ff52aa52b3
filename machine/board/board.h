// The PC board: RAM, the address and port spaces, the virtual clock, the CPU and the
// devices every guest sees, wired in one place, plus the main loop.
//
// Theory of operation: the board owns the machine. Power-on plays the firmware's part of a
// QEMU `-kernel` boot (SeaBIOS on the "pc" machine): PCI BARs and interrupt lines are
// assigned, decoding enabled, and the PCI interrupt lines are switched to level mode in the
// ELCR; the PIC and PIT are left as after reset (the guest programs them). The multiboot
// loader then puts the kernel and its modules in RAM and the CPU starts at the entry point.
//
// Fixed wiring (as on QEMU's pc machine): PIT channel 0 on IRQ0, COM1 at 0x3f8 on IRQ4, the
// debug console at 0xe9, isa-debug-exit at 0xf4-0xf7, the i8042 keyboard/mouse controller at
// 0x60/0x64 on IRQ1/IRQ12 (its host input is picked up only once a source is connected), PCI configuration at 0xcf8/0xcfc,
// 00:00.0 host bridge, 00:01.0 ISA bridge; further PCI devices are added by slot (the QXL
// display at 00:02.0). Port 0x80 (POST codes, used by guests as an I/O delay) swallows
// writes so that it does not clutter `--trace io`.
//
// The main loop (MachineLoop) runs the CPU until the scheduler's next deadline, then the
// due events. When the CPU halts it jumps the clock to the next deadline; with
// `--clock realtime` it first sleeps until the host clock has caught up with that virtual
// time (the only place host time is read, and never by a device). The run ends on a debug
// exit, a CPU fault, the `--max-seconds` limit of virtual time, a halt with nothing left to
// wake the CPU, or request_stop() from another thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hw/debug/debug_ports.h"
#include "hw/i8042/i8042.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pci_host.h"
#include "hw/pic/pic.h"
#include "hw/pit/pit.h"
#include "hw/uart/uart.h"
#include "machine/bus.h"
#include "machine/clock.h"
#include "machine/cpu/cpu.h"
#include "machine/loader/multiboot.h"

namespace qxlbox::machine {

enum class ClockMode { Virtual, Realtime };

// `--trace` categories.
struct TraceOptions {
    bool cpu = false;
    bool io = false;
    bool pci = false;
    bool qxl = false;
    bool spice = false;
};
// Parses "cpu,io,pci"; an unknown or empty category is an error naming it.
bool parse_trace_list(const std::string& list, TraceOptions& out, std::string& error);

// Exit statuses of a run. A debug exit gives (V << 1) | 1, always odd; the board's own
// outcomes are even so the two never collide. 2 is bad usage or bad input (the CLI's).
inline constexpr int kExitStatusBadInput = 2;
inline constexpr int kExitStatusFault = 4;
inline constexpr int kExitStatusTimeLimit = 6;
inline constexpr int kExitStatusHaltedForever = 8;
inline constexpr int kExitStatusStopped = 10;

inline constexpr std::uint64_t kMinRamBytes = 2ull << 20;
inline constexpr std::uint64_t kMaxRamBytes = 2048ull << 20;  // below the PCI memory window

struct RunResult {
    enum class Outcome { DebugExit, Fault, TimeLimit, HaltedForever, Stopped } outcome = Outcome::Stopped;
    int exit_status = kExitStatusStopped;
    std::string message;  // for the user (fault report, why the run ended)
};

// The run loop, independent of the board so tests can drive it with a fake CPU.
class MachineLoop {
public:
    using RunCpu = std::function<Cpu::Stop()>;
    using FaultReport = std::function<std::string()>;

    MachineLoop(Scheduler& clock, ClockMode mode) : clock_(clock), mode_(mode) {}

    // Ends the run once `limit` cycles of virtual time have passed (kNever: no limit).
    void set_time_limit(Cycles limit) { time_limit_ = limit; }
    // Emulation thread (a device): end the run with this status at the next boundary.
    void request_exit(int status);
    // Any thread.
    void request_stop() { stop_requested_ = true; }

    RunResult run(const RunCpu& run_cpu, const FaultReport& fault_report);

    std::uint64_t halts_skipped() const { return halts_skipped_; }

private:
    void pace_to(Cycles target);

    Scheduler& clock_;
    ClockMode mode_;
    Cycles time_limit_ = Scheduler::kNever;
    std::optional<int> exit_status_;
    std::atomic<bool> stop_requested_{false};
    std::uint64_t halts_skipped_ = 0;
    std::int64_t host_start_ns_ = 0;
    Cycles virtual_start_ = 0;
};

struct BoardConfig {
    std::uint64_t ram_size_bytes = 128ull << 20;
    std::uint64_t cpu_hz = kDefaultCpuHz;
    ClockMode clock = ClockMode::Virtual;
    double max_seconds = 0;  // virtual seconds; 0 = no limit
    // Bytes the guest writes to COM1 and to the debug console (null: dropped).
    std::function<void(std::uint8_t)> serial_out;
    std::function<void(std::uint8_t)> debugcon_out;
    // Drain host input into COM1 every `serial_poll_ns` of virtual time.
    bool serial_input = false;
    std::uint64_t serial_poll_ns = 1'000'000;
    TraceOptions trace;
    std::FILE* trace_out = stderr;
};

class Board {
public:
    explicit Board(BoardConfig config);
    ~Board();
    Board(const Board&) = delete;
    Board& operator=(const Board&) = delete;

    // Checks a config before constructing a board; false with a message.
    static bool validate(const BoardConfig& config, std::string& error);

    AddressSpace& memory() { return memory_; }
    PortSpace& ports() { return ports_; }
    Scheduler& scheduler() { return clock_; }
    Cpu& cpu() { return *cpu_; }
    hw::PicPair& pic() { return pic_; }
    hw::Pit8254& pit() { return *pit_; }
    hw::Uart16550& uart() { return *uart_; }
    hw::SerialInput& serial_input() { return *serial_input_; }
    std::shared_ptr<hw::SerialInput> serial_input_queue() { return serial_input_; }
    hw::DebugExit& debug_exit() { return *debug_exit_; }
    hw::I8042& i8042() { return *i8042_; }
    hw::PciHost& pci() { return *pci_; }
    MachineLoop& loop() { return loop_; }
    std::uint8_t* ram() { return ram_.get(); }
    std::uint64_t ram_size_bytes() const { return config_.ram_size_bytes; }
    const BoardConfig& config() const { return config_; }

    // Plugs a PCI function the board then owns; nullptr when the slot is taken or invalid.
    // Call before power_on() so the firmware step assigns its BARs.
    hw::PciDevice* add_pci_device(unsigned slot, std::unique_ptr<hw::PciDevice> device, unsigned function = 0);

    // Firmware step (idempotent): assigns PCI resources. run() calls it if needed.
    const hw::PciAssignReport& power_on();

    // Loads a multiboot kernel and points the CPU at it.
    MultibootLoadResult load_multiboot(const MultibootImage& image);

    RunResult run();
    void request_stop() { loop_.request_stop(); cpu_->request_stop(); }

private:
    void install_traces();
    void schedule_serial_poll();

    struct FreeDeleter {
        void operator()(std::uint8_t* p) const;
    };

    BoardConfig config_;
    std::unique_ptr<std::uint8_t, FreeDeleter> ram_;
    AddressSpace memory_;
    PortSpace ports_;
    Scheduler clock_;
    MachineLoop loop_;
    std::unique_ptr<Cpu> cpu_;
    hw::PicPair pic_;
    std::unique_ptr<hw::Pit8254> pit_;
    std::shared_ptr<hw::SerialInput> serial_input_;
    std::unique_ptr<hw::Uart16550> uart_;
    std::unique_ptr<hw::DebugConsole> debugcon_;
    std::unique_ptr<hw::DebugExit> debug_exit_;
    std::unique_ptr<hw::I8042> i8042_;
    std::unique_ptr<hw::PciHost> pci_;
    std::vector<std::unique_ptr<hw::PciDevice>> pci_devices_;
    PortHandle post_port_;
    std::optional<hw::PciAssignReport> firmware_;
    bool wiring_ok_ = true;
};

}  // namespace qxlbox::machine
