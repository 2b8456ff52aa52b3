// VDIPort: the historic spice-0.4-era agent transport, PCI 1b36:0105
// (shared/spec/qxl-device.md §11.1).
//
// Theory of operation: BAR1 is 64 KiB of plain RAM holding VDIPortRam: magic "VDIP", a
// connection generation, int_pending/int_mask, and two 32-entry rings of 512-byte packets
// (gen u32, size u32 <= 504, data). The guest produces the input ring (guest -> host) and
// consumes the output ring (host -> guest); ring headers are QXL's (free-running prod/cons,
// notify_on_prod/notify_on_cons). BAR0 has three 32-bit I/O registers: CONNECTION (read =
// open: bump the generation, skipping 0, and return it, or 0 if already open; write =
// close), NOTIFY (the guest added input or freed output) and UPDATE_IRQ. INTA follows
// (int_pending & int_mask) != 0.
//
// The device moves bytes at scheduled virtual times: a NOTIFY write schedules a service pass
// after notify_latency, and a periodic pass picks up work from other threads. A pass fills
// the output ring from the host buffer (arming notify_on_cons when full), drains the input
// ring into the guest buffer (dropping packets of an old generation, rejecting oversize
// ones), validates the chunk stream and offers it to the AgentPeer. Both directions are
// bounded and flow controlled (protocol/agent_interface.h), so no byte is ever dropped
// except ones the device rejects as malformed, each with a logged reason.
//
// Not modelled: save/restore of this device.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "hw/pci/pci_device.h"
#include "hw/vdiport/agent_stream.h"
#include "machine/clock.h"
#include "protocol/agent_interface.h"

namespace qxlbox::hw::vdiport {

inline constexpr std::uint16_t kVdiPortDeviceId = 0x0105;
inline constexpr std::uint32_t VDI_PORT_MAGIC = 0x50494456;  // "VDIP"
inline constexpr std::uint32_t VDI_PORT_INTERRUPT = 1;
inline constexpr std::uint32_t kVdiPortRamBytes = 64 * 1024;
inline constexpr std::uint32_t kVdiPortIoBytes = 16;
inline constexpr std::uint32_t kVdiRingSize = 32;
inline constexpr std::uint32_t kVdiPacketBytes = 512;
inline constexpr std::uint32_t kVdiPacketDataBytes = 504;

namespace vdi_io {
inline constexpr unsigned VDI_PORT_IO_CONNECTION = 0;
inline constexpr unsigned VDI_PORT_IO_NOTIFY = 4;
inline constexpr unsigned VDI_PORT_IO_UPDATE_IRQ = 8;
}  // namespace vdi_io

namespace vdi_ram {
inline constexpr std::size_t magic = 0;
inline constexpr std::size_t generation = 4;
inline constexpr std::size_t int_pending = 8;
inline constexpr std::size_t int_mask = 12;
inline constexpr std::size_t input = 16;
inline constexpr std::size_t output = 16420;
inline constexpr std::size_t ring_items = 20;  // after the QXL ring header
}  // namespace vdi_ram

struct VdiPortTiming {
    std::uint64_t notify_latency_ns = 1000;
    std::uint64_t service_period_ns = 100000;
};

class VdiPortDevice : public PciDevice, public proto::AgentPort {
public:
    using LogSink = std::function<void(const std::string&)>;
    // Guest -> host chunks may hold whole messages (the agent sends one chunk per message);
    // host -> guest chunks are at most VD_AGENT_MAX_DATA_SIZE, as the Linux agent requires.
    static constexpr std::uint32_t kMaxGuestChunkBytes = 1u << 20;
    static constexpr std::uint32_t kMaxMessageBytes = 64u << 20;
    static constexpr std::size_t kHostBufferBytes = 64 * 1024;

    VdiPortDevice(machine::Scheduler& scheduler, VdiPortTiming timing = {});
    ~VdiPortDevice() override;

    void set_peer(proto::AgentPeer* peer);
    void set_log(LogSink sink) { log_ = std::move(sink); }
    void reset();

    std::uint8_t* ram() { return ram_.get(); }
    std::uint32_t generation() const { return generation_; }
    std::uint64_t rejected_bytes() const { return rejected_bytes_; }
    const std::string& last_error() const { return last_error_; }

    // proto::AgentPort (thread-safe).
    std::size_t write(const std::uint8_t* data, std::size_t size) override;
    void read_ready() override;
    bool guest_connected() const override { return connected_; }

private:
    std::uint32_t io_read(unsigned offset);
    void io_write(unsigned offset, std::uint32_t value);
    void init_ram();
    void update_irq();
    void raise();
    void schedule_service(std::uint64_t delay_ns);
    void service();
    void tick();
    bool fill_output();
    bool drain_input();
    void offer_to_peer();
    void reject(const std::string& reason);
    void bump_generation();
    std::uint8_t* at(std::size_t off) { return ram_.get() + off; }

    machine::Scheduler& scheduler_;
    VdiPortTiming timing_;
    std::unique_ptr<std::uint8_t[]> ram_;
    proto::AgentPeer* peer_ = nullptr;
    LogSink log_;
    bool connected_ = false;
    std::uint32_t generation_ = 0;

    std::mutex host_mutex_;  // guards to_guest_, host_checker_, want_writable_, read_ready_
    std::deque<std::uint8_t> to_guest_;
    AgentStreamChecker host_checker_{proto::VD_AGENT_MAX_DATA_SIZE, kMaxMessageBytes};
    bool want_writable_ = false;
    bool read_ready_ = false;

    std::deque<std::uint8_t> from_guest_;  // validated, not yet taken by the peer
    AgentStreamChecker guest_checker_{kMaxGuestChunkBytes, kMaxMessageBytes};
    bool peer_blocked_ = false;
    std::uint64_t rejected_bytes_ = 0;
    std::string last_error_;

    machine::Scheduler::EventId service_event_ = machine::Scheduler::kNoEvent;
    machine::Scheduler::EventId tick_event_ = machine::Scheduler::kNoEvent;
};

}  // namespace qxlbox::hw::vdiport
