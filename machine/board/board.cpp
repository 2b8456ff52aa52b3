#include "machine/board/board.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

namespace qxlbox::machine {

namespace {

std::int64_t host_now_ns() {
    // Realtime pacing is the one reader of host time; devices never see it.
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

const char* kind_name(BusTraceEvent::Kind k) {
    switch (k) {
        case BusTraceEvent::Kind::UnmappedRead: return "unmapped read";
        case BusTraceEvent::Kind::UnmappedWrite: return "unmapped write";
        case BusTraceEvent::Kind::BadWidthRead: return "bad-width read";
        case BusTraceEvent::Kind::BadWidthWrite: return "bad-width write";
        case BusTraceEvent::Kind::PortUnmappedRead: return "unmapped port read";
        case BusTraceEvent::Kind::PortUnmappedWrite: return "unmapped port write";
    }
    return "?";
}

}  // namespace

bool parse_trace_list(const std::string& list, TraceOptions& out, std::string& error) {
    TraceOptions t = out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t comma = list.find(',', start);
        const std::string word = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (word == "cpu") {
            t.cpu = true;
        } else if (word == "io") {
            t.io = true;
        } else if (word == "pci") {
            t.pci = true;
        } else if (word == "qxl") {
            t.qxl = true;
        } else if (word == "spice") {
            t.spice = true;
        } else {
            error = word.empty() ? "empty --trace category in '" + list + "'"
                                 : "unknown --trace category '" + word + "' (known: cpu, io, pci, qxl, spice)";
            return false;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    out = t;
    return true;
}

void MachineLoop::request_exit(int status) {
    if (!exit_status_) exit_status_ = status;
}

void MachineLoop::pace_to(Cycles target) {
    if (mode_ != ClockMode::Realtime) return;
    const auto target_ns = static_cast<std::int64_t>(clock_.cycles_to_ns(target - virtual_start_));
    for (;;) {
        const std::int64_t ahead_ns = target_ns - (host_now_ns() - host_start_ns_);
        if (ahead_ns <= 0 || stop_requested_) return;
        // Short naps so that a stop request is seen promptly.
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(ahead_ns, 20'000'000)));
    }
}

RunResult MachineLoop::run(const RunCpu& run_cpu, const FaultReport& fault_report) {
    host_start_ns_ = mode_ == ClockMode::Realtime ? host_now_ns() : 0;
    virtual_start_ = clock_.now();
    std::optional<Scheduler::EventId> limit_event;
    bool time_up = false;
    if (time_limit_ != Scheduler::kNever) {
        limit_event = clock_.schedule_at(time_limit_, [&time_up] { time_up = true; });
    }
    RunResult result;
    for (;;) {
        if (exit_status_) {
            result = {RunResult::Outcome::DebugExit, *exit_status_, "guest requested exit through isa-debug-exit"};
            break;
        }
        if (stop_requested_) {
            result = {RunResult::Outcome::Stopped, kExitStatusStopped, "stopped"};
            break;
        }
        if (time_up) {
            result = {RunResult::Outcome::TimeLimit, kExitStatusTimeLimit, "virtual time limit reached"};
            break;
        }
        const Cpu::Stop stop = run_cpu();
        if (stop == Cpu::Stop::Fault) {
            result = {RunResult::Outcome::Fault, kExitStatusFault, fault_report ? fault_report() : "CPU fault"};
            break;
        }
        if (stop == Cpu::Stop::Halted) {
            const Cycles next = clock_.next_deadline();
            if (next == Scheduler::kNever) {
                result = {RunResult::Outcome::HaltedForever, kExitStatusHaltedForever,
                          "guest halted with no pending event to wake it"};
                break;
            }
            pace_to(next);
            clock_.advance_to(next);
            ++halts_skipped_;
        } else if (stop == Cpu::Stop::Deadline) {
            pace_to(clock_.now());
        }
        clock_.run_due();
    }
    if (limit_event) clock_.cancel(*limit_event);
    return result;
}

void Board::FreeDeleter::operator()(std::uint8_t* p) const { std::free(p); }

bool Board::validate(const BoardConfig& config, std::string& error) {
    if (config.ram_size_bytes < kMinRamBytes || config.ram_size_bytes > kMaxRamBytes ||
        config.ram_size_bytes % (1u << 20) != 0) {
        error = "memory size must be a whole number of MiB from " + std::to_string(kMinRamBytes >> 20) + " to " +
                std::to_string(kMaxRamBytes >> 20);
        return false;
    }
    if (config.cpu_hz == 0) {
        error = "CPU clock must be above 0 Hz";
        return false;
    }
    if (!(config.max_seconds >= 0) || !std::isfinite(config.max_seconds) || config.max_seconds > 1e9) {
        error = "--max-seconds must be a non-negative number of seconds";
        return false;
    }
    return true;
}

Board::Board(BoardConfig config)
    : config_(std::move(config)),
      ram_(static_cast<std::uint8_t*>(std::calloc(static_cast<std::size_t>(config_.ram_size_bytes), 1))),
      clock_(config_.cpu_hz),
      loop_(clock_, config_.clock),
      cpu_(std::make_unique<Cpu>(memory_, ports_, clock_)),
      serial_input_(std::make_shared<hw::SerialInput>()) {
    if (ram_) {
        memory_.map_host("ram", 0, config_.ram_size_bytes, ram_.get(), true);
    } else {
        wiring_ok_ = false;
    }
    cpu_->set_interrupt_controller(&pic_);
    wiring_ok_ &= pic_.attach(ports_);
    pit_ = std::make_unique<hw::Pit8254>(clock_, IrqLine(&pic_, 0));
    wiring_ok_ &= pit_->attach(ports_);
    uart_ = std::make_unique<hw::Uart16550>(clock_, IrqLine(&pic_, hw::kCom1Irq), config_.serial_out);
    wiring_ok_ &= uart_->attach(ports_);
    debugcon_ = std::make_unique<hw::DebugConsole>(config_.debugcon_out);
    wiring_ok_ &= debugcon_->attach(ports_);
    debug_exit_ = std::make_unique<hw::DebugExit>([this](int status) {
        loop_.request_exit(status);
        cpu_->request_stop();
    });
    wiring_ok_ &= debug_exit_->attach(ports_);
    i8042_ = std::make_unique<hw::I8042>(ports_, clock_, IrqLine(&pic_, 1), IrqLine(&pic_, 12));
    // A guest that pulses the reset line (0xFE) stops the run, as -no-reboot does on QEMU.
    i8042_->set_reset_handler([this] {
        loop_.request_stop();
        cpu_->request_stop();
    });
    pci_ = std::make_unique<hw::PciHost>(memory_, ports_);
    pci_->set_irq_target(&pic_);
    wiring_ok_ &= pci_->attach();
    PortOps post;
    post.allowed_sizes = kAccess8;
    post.write = [](std::uint16_t, unsigned, std::uint32_t) {};
    post_port_ = ports_.register_ports("post", 0x80, 1, post);
    if (config_.max_seconds > 0) {
        loop_.set_time_limit(static_cast<Cycles>(config_.max_seconds * static_cast<double>(config_.cpu_hz)));
    }
    install_traces();
    if (config_.serial_input) schedule_serial_poll();
}

Board::~Board() = default;

void Board::install_traces() {
    std::FILE* out = config_.trace_out ? config_.trace_out : stderr;
    if (config_.trace.io) {
        auto hook = [out](const BusTraceEvent& e) {
            std::fprintf(out, "io: %s %#llx/%u", kind_name(e.kind), static_cast<unsigned long long>(e.address),
                         e.size_bytes);
            if (e.kind == BusTraceEvent::Kind::UnmappedWrite || e.kind == BusTraceEvent::Kind::BadWidthWrite ||
                e.kind == BusTraceEvent::Kind::PortUnmappedWrite) {
                std::fprintf(out, " value %#llx", static_cast<unsigned long long>(e.value));
            }
            if (!e.region.empty()) std::fprintf(out, " (%s)", e.region.c_str());
            std::fputc('\n', out);
        };
        memory_.set_trace_hook(hook);
        ports_.set_trace_hook(hook);
    }
    if (config_.trace.pci) {
        pci_->set_trace_hook([out](const std::string& line) { std::fprintf(out, "%s\n", line.c_str()); });
    }
    if (config_.trace.cpu) cpu_->set_trace(out);
}

void Board::schedule_serial_poll() {
    clock_.schedule_in(clock_.ns_to_cycles(config_.serial_poll_ns), [this] {
        uart_->drain(*serial_input_);
        schedule_serial_poll();
    });
}

hw::PciDevice* Board::add_pci_device(unsigned slot, std::unique_ptr<hw::PciDevice> device, unsigned function) {
    if (!device) return nullptr;
    if (!pci_->plug(slot, function, *device)) return nullptr;
    pci_devices_.push_back(std::move(device));
    return pci_devices_.back().get();
}

const hw::PciAssignReport& Board::power_on() {
    if (!firmware_) {
        firmware_ = pci_->assign_resources();
        // As SeaBIOS does on the PIIX3: every line a PIRQ is routed to becomes level-triggered.
        std::uint8_t elcr[2] = {0, 0};
        for (std::uint8_t irq : hw::kPirqIrqs) elcr[irq >> 3] |= static_cast<std::uint8_t>(1u << (irq & 7));
        pic_.write_elcr(0, elcr[0]);
        pic_.write_elcr(1, elcr[1]);
    }
    return *firmware_;
}

MultibootLoadResult Board::load_multiboot(const MultibootImage& image) {
    MultibootLoadResult r = machine::load_multiboot(memory_, config_.ram_size_bytes, image);
    if (r.ok) cpu_->reset_to_multiboot(r.entry, r.eax, r.info_address);
    return r;
}

RunResult Board::run() {
    if (!wiring_ok_) {
        return {RunResult::Outcome::Fault, kExitStatusFault, "board wiring failed (RAM allocation or a port conflict)"};
    }
    power_on();
    return loop_.run([this] { return cpu_->run(); }, [this] { return cpu_->fault_report(); });
}

}  // namespace qxlbox::machine
