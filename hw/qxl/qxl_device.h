// QXL paravirtual display device, PCI 1b36:0100 (shared/spec/qxl-device.md §1-§9).
//
// Theory of operation: the device owns three host buffers, exposed as host-backed BARs so
// the CPU reads and writes them directly: BAR0 RAM (surface0 area, command pages, and the
// QXLRam header in its last 8 KiB), BAR1 VRAM (with an optional larger 64-bit BAR4 over the
// same buffer) and BAR2 ROM (read-only). BAR3 is the byte-wide I/O block; a write there is a
// command to the device (§4), executed as QEMU's ioport_write does, including revision
// gating, VGA-mode filtering, the one-outstanding-async rule and the guest-bug latch (§0.1).
//
// Timing: everything the device does on its own happens at scheduled virtual times
// (machine::Scheduler). A NOTIFY port write starts a ring poll after notify_latency; each
// poll pops at most one command per ring, parses it once into owned proto:: objects and
// offers it to the DisplayConsumer; polls repeat every command_interval until the rings are
// empty (then notify_on_prod is armed, as spice's req_cmd_notification) or the consumer
// refuses (back-pressure: wait for wakeup()). Async ports complete after async_latency with
// QXL_INTERRUPT_IO_CMD. Interrupt bits are ORed into int_pending at once; the INTx level
// follows after irq_latency (QEMU's bottom half). Same inputs, same timeline.
//
// Releases: in ReleasePolicy::Immediate the command is released as soon as it is copied; in
// ReleasePolicy::Deferred the consumer holds a proto::ReleaseRef and dropping its last copy
// (on any thread) queues the id under a mutex; the emulation thread moves queued ids into
// the release ring at its next poll or service tick, chaining them through
// release_info.next in bunches of 32 exactly like QEMU's interface_release_resource.
//
// Not modelled: legacy VGA registers and VGA-mode rendering (the device starts in VGA mode
// after reset, as qxl-vga does, but draws nothing there), the expansion ROM, migration
// of in-flight consumer state (a restored device re-announces its surfaces instead).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hw/pci/pci_device.h"
#include "hw/qxl/qxl_config.h"
#include "hw/qxl/qxl_defs.h"
#include "hw/qxl/qxl_memslot.h"
#include "hw/qxl/qxl_parser.h"
#include "machine/clock.h"
#include "protocol/display_interface.h"

namespace qxlbox::hw::qxl {

struct QxlTiming {
    std::uint64_t notify_latency_ns = 1000;    // NOTIFY_CMD/CURSOR write -> first ring poll
    std::uint64_t command_interval_ns = 500;   // between successive ring polls
    std::uint64_t async_latency_ns = 20000;    // async port -> QXL_INTERRUPT_IO_CMD
    std::uint64_t irq_latency_ns = 0;          // int_pending change -> INTx level (0 = at once)
    std::uint64_t service_period_ns = 100000;  // pick-up of cross-thread releases and requests
};

enum class ReleasePolicy { Immediate, Deferred };

// Device-boundary events for determinism checks (`--trace-hash`): what the guest wrote, what
// the device handed on, gave back and signalled, each stamped with virtual time in cycles.
// Only emitted while a sink is subscribed; with none the cost is one empty-function test.
enum class QxlTraceKind : std::uint8_t {
    PortWrite = 1,      // a = port, b = value
    Command = 2,        // a = sequence, b = ring type; text = description + content digest
    CursorCommand = 3,  // a = sequence, b = ring type; text = description + content digest
    Dropped = 4,        // a = sequence; text = reason (server-side content check)
    Release = 5,        // a = release id
    IrqLevel = 6,       // a = new level (0 or 1)
    Delivered = 7,      // a = sequence (the consumer accepted the command)
};
struct QxlTraceEvent {
    QxlTraceKind kind = QxlTraceKind::PortWrite;
    std::uint64_t cycles = 0;
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::string_view text;
};

class QxlDevice : public PciDevice, public proto::DisplayDevice {
public:
    using TraceSink = std::function<void(const std::string& line)>;

    QxlDevice(machine::Scheduler& scheduler, const QxlConfig& config, QxlTiming timing = {},
              ReleasePolicy policy = ReleasePolicy::Deferred);
    ~QxlDevice() override;

    // Attaches the consumer (nullptr detaches). The device calls it on the emulation thread.
    void set_consumer(proto::DisplayConsumer* consumer);
    void set_release_policy(ReleasePolicy policy) { policy_ = policy; }
    // `--trace qxl`: one line per port access and per decoded command.
    void set_trace(TraceSink sink) { trace_ = std::move(sink); }
    void set_trace_file(std::FILE* file);
    // Device-boundary event stream (see QxlTraceEvent); called on the emulation thread.
    using TraceEventSink = std::function<void(const QxlTraceEvent& event)>;
    void set_trace_events(TraceEventSink sink) { trace_events_ = std::move(sink); }
    // Guest-bug and protocol messages ("qxl-0: guest bug: ..."); silent when unset.
    void set_log(TraceSink sink) { log_ = std::move(sink); }
    // Test hook forwarded to the command parser (see ParserEnv::on_read).
    void set_read_hook(std::function<void(std::uint64_t, std::uint64_t, std::uint64_t)> hook) {
        read_hook_ = std::move(hook);
    }

    // Emulation thread, guest paused (golden-image checkpoints): hands every command still in
    // the outbox and in both rings to the consumer now instead of at the scheduled polls.
    // True when nothing is left; false when the consumer refused one (the caller lets the
    // consumer catch up and calls again) or there is no consumer. Commands are parsed, traced
    // and released exactly as the scheduled polls would.
    bool hand_over_commands();

    // Power-on / PCI reset (QEMU's qxl_reset_handler: a hard reset).
    void reset();
    // The I/O BAR write path (port offset within BAR3, byte value).
    void io_write(std::uint8_t port, std::uint8_t value);

    // Inspection (tests, trace, board).
    const QxlConfig& config() const { return config_; }
    std::uint8_t* ram() { return ram_.get(); }
    std::uint8_t* vram() { return vram_.get(); }
    const std::uint8_t* rom() const { return rom_.get(); }
    std::uint32_t ram_header_offset() const {
        return static_cast<std::uint32_t>(config_.ram_size_bytes - kRamHeaderReserveBytes);
    }
    QxlMode mode() const { return mode_; }
    bool guest_bug() const { return guest_bug_; }
    const std::string& last_guest_bug() const { return last_guest_bug_; }
    std::uint64_t guest_bug_count() const { return guest_bug_count_; }
    // Commands rejected by a server-side content check (dropped, released, no ERROR).
    std::uint64_t dropped_command_count() const { return dropped_command_count_; }
    const std::string& last_dropped_command() const { return last_dropped_command_; }
    std::uint32_t current_async() const { return current_async_; }
    std::uint32_t cmdflags() const { return cmdflags_; }
    std::uint32_t num_free_res() const { return num_free_res_; }
    const MemSlotTable& memslots() const { return slots_; }
    bool surface_exists(std::uint32_t id) const;
    std::uint64_t commands_parsed() const { return sequence_; }

    // Device state save/restore (two-way). A loaded state is untrusted: every slot, surface
    // and pointer is re-validated; on error the device keeps its state and returns the reason.
    std::vector<std::uint8_t> save_state();
    std::optional<std::string> load_state(const std::vector<std::uint8_t>& state);

    // proto::DisplayDevice (thread-safe).
    std::optional<proto::SurfacePixels> read_surface(std::uint32_t surface_id) override;
    void write_surface_area(std::uint32_t surface_id, const proto::SurfacePixels& pixels) override;
    void set_client_capabilities(bool client_present, const std::vector<std::uint8_t>& caps) override;
    bool client_monitors_config(const std::vector<proto::MonitorHead>& heads) override;
    void wakeup() override;

private:
    struct ReleaseEntry {
        std::uint64_t id = 0;
        GuestLoc loc;
        std::uint64_t epoch = 0;
    };
    struct ReleaseQueue {
        std::mutex mutex;
        std::vector<ReleaseEntry> entries;
    };
    struct CrossThread {
        std::mutex mutex;
        std::optional<std::pair<bool, std::vector<std::uint8_t>>> client_caps;
        std::optional<std::vector<proto::MonitorHead>> client_monitors;
    };
    template <typename S>
    friend void serialize_device(S& s, QxlDevice& d);

    // Ports (qxl_io.cpp).
    void io_write_impl(std::uint8_t port, std::uint8_t value);
    void set_guest_bug(const std::string& reason);
    void reject_command(const ParsedCommand& p);
    std::string traced_command(const ParsedCommand& p, bool cursor) const;
    void emit(QxlTraceKind kind, std::uint64_t a, std::uint64_t b = 0, std::string_view text = {});
    void hard_reset();
    void reset_state();
    void init_ram();
    void cancel_async();
    void complete_async_later();
    void complete_async();
    bool add_memslot(unsigned slot_id, std::uint64_t delta);
    void set_mode(std::uint32_t mode_index);
    bool create_primary();
    bool destroy_primary();
    void destroy_surface(std::uint32_t id);
    void destroy_all_surfaces();
    void update_area();
    void monitors_config_async();
    void notify_oom();

    // Interrupts.
    void send_events(std::uint32_t bits);
    void update_irq();

    // Rings and commands.
    std::uint8_t* ram_header() { return ram_.get() + ram_header_offset(); }
    std::uint8_t* ring(std::size_t ring_offset) { return ram_header() + ring_offset; }
    std::uint8_t* ring_item(std::size_t ring_offset, std::uint32_t counter, std::uint32_t item_bytes,
                            std::uint32_t capacity, const char* name);
    void schedule_poll(std::uint64_t delay_ns);
    void poll();
    bool poll_display();
    bool poll_cursor();
    bool arm_notification(std::size_t ring_offset);
    void deliver_outbox();
    ParserEnv parser_env();
    proto::ReleaseRef make_release(const ParsedCommand& p);
    void release_now(std::uint64_t id, const GuestLoc& loc);
    void release_resource(std::uint64_t id, const GuestLoc& loc);
    void push_free_res(bool flush);
    void drain_releases();
    void service_tick();
    void apply_cross_thread();
    void apply_client_caps(bool present, const std::vector<std::uint8_t>& caps);
    void apply_client_monitors(const std::vector<proto::MonitorHead>& heads);
    void trace(const std::string& line);
    std::string describe(const ParsedCommand& p, bool cursor) const;
    void add_surface(std::uint32_t id, const SurfaceInfo& info);
    void remove_surface(std::uint32_t id);
    std::optional<SurfaceInfo> find_surface(std::uint32_t id) const;
    std::uint8_t* backing(Backing b) { return b == Backing::Ram ? ram_.get() : vram_.get(); }
    bool on_emulation_thread() const { return std::this_thread::get_id() == emulation_thread_; }
    void write_pixels(const SurfaceInfo& s, const proto::SurfacePixels& px);
    void announce_surfaces();

    struct FreeDeleter {
        void operator()(std::uint8_t* p) const;
    };
    using Buffer = std::unique_ptr<std::uint8_t[], FreeDeleter>;

    machine::Scheduler& scheduler_;
    QxlConfig config_;
    QxlTiming timing_;
    ReleasePolicy policy_ = ReleasePolicy::Deferred;
    Buffer ram_;
    Buffer vram_;
    Buffer rom_;
    std::vector<std::uint8_t> shadow_rom_;
    proto::DisplayConsumer* consumer_ = nullptr;
    TraceSink trace_;
    TraceSink log_;
    std::function<void(std::uint64_t, std::uint64_t, std::uint64_t)> read_hook_;
    std::thread::id emulation_thread_;

    QxlMode mode_ = QxlMode::Vga;
    std::uint32_t cmdflags_ = 0;
    bool guest_bug_ = false;
    std::string last_guest_bug_;
    std::uint64_t guest_bug_count_ = 0;
    std::uint64_t dropped_command_count_ = 0;
    TraceEventSink trace_events_;
    bool traced_irq_level_ = false;
    static constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
    static constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;
    std::uint64_t content_digest_ = kFnvOffset;  // FNV-1a of the bytes the current parse copied
    std::string last_dropped_command_;
    std::uint32_t current_async_ = kNoAsyncIo;
    bool async_waits_for_outbox_ = false;
    MemSlotTable slots_;
    mutable std::mutex surfaces_mutex_;
    std::map<std::uint32_t, SurfaceInfo> surfaces_;

    std::uint32_t num_free_res_ = 0;
    std::optional<GuestLoc> last_release_;
    bool oom_running_ = false;
    std::uint64_t epoch_ = 1;
    std::shared_ptr<ReleaseQueue> release_queue_ = std::make_shared<ReleaseQueue>();
    CrossThread cross_;
    std::atomic<bool> wakeup_requested_{false};
    std::atomic<bool> cross_pending_{false};

    std::deque<proto::DisplayCommand> outbox_;
    std::optional<proto::CursorCommand> cursor_pending_;
    bool display_blocked_ = false;
    bool cursor_blocked_ = false;
    std::uint64_t sequence_ = 0;

    machine::Scheduler::EventId poll_event_ = machine::Scheduler::kNoEvent;
    machine::Scheduler::EventId async_event_ = machine::Scheduler::kNoEvent;
    machine::Scheduler::EventId irq_event_ = machine::Scheduler::kNoEvent;
    machine::Scheduler::EventId service_event_ = machine::Scheduler::kNoEvent;
};

// Name of an I/O port for traces ("NOTIFY_CMD").
const char* qxl_io_port_name(unsigned port);

}  // namespace qxlbox::hw::qxl
