#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hw/vdiport/agent_stream.h"
#include "hw/vdiport/vdiport.h"
#include "machine/bus.h"
#include "machine/clock.h"

using namespace qxlbox;
using namespace qxlbox::hw::vdiport;

namespace {

constexpr std::uint64_t kRamBase = 0xd8000000;
constexpr std::uint16_t kIo = 0xd000;

struct Peer : proto::AgentPeer {
    proto::AgentPort* port = nullptr;
    int connects = 0, disconnects = 0, writables = 0;
    std::vector<std::uint8_t> received;
    std::size_t accept_limit = SIZE_MAX;
    void agent_connected(proto::AgentPort& p) override {
        port = &p;
        ++connects;
    }
    void agent_disconnected() override { ++disconnects; }
    std::size_t agent_data(const std::uint8_t* d, std::size_t n) override {
        const std::size_t take = std::min(n, accept_limit);
        received.insert(received.end(), d, d + take);
        accept_limit -= take;
        return take;
    }
    void agent_writable() override { ++writables; }
};

struct Irq : machine::IrqSink {
    bool level = false;
    void set_irq_level(unsigned, bool l) override { level = l; }
};

// One agent message wrapped in one chunk.
std::vector<std::uint8_t> message(std::uint32_t port, std::uint32_t type, std::size_t data_bytes,
                                  std::uint32_t protocol = 1) {
    std::vector<std::uint8_t> m(8 + 20 + data_bytes);
    auto put = [&](std::size_t off, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) m[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    put(0, port);
    put(4, static_cast<std::uint32_t>(20 + data_bytes));
    put(8, protocol);
    put(12, type);
    put(24, static_cast<std::uint32_t>(data_bytes));
    for (std::size_t i = 0; i < data_bytes; ++i) m[28 + i] = static_cast<std::uint8_t>(i * 3);
    return m;
}

class VdiHarness {
public:
    VdiHarness() {
        dev.attach(&mem, &ports);
        dev.connect_irq(machine::IrqLine(&irq, 10));
        dev.config_write(0x10, 4, kIo);
        dev.config_write(0x14, 4, static_cast<std::uint32_t>(kRamBase));
        dev.config_write(0x04, 2, 0x3);
        dev.set_peer(&peer);
        dev.set_log([this](const std::string& l) { log.push_back(l); });
    }
    ~VdiHarness() { dev.set_peer(nullptr); }
    void run_ns(std::uint64_t ns) {
        const machine::Cycles target = sched.now() + sched.ns_to_cycles(ns);
        while (sched.next_deadline() <= target) {
            sched.advance_to(sched.next_deadline());
            sched.run_due();
        }
        sched.advance_to(target);
    }
    std::uint32_t r32(std::size_t off) { return mem.read32(kRamBase + off); }
    void w32(std::size_t off, std::uint32_t v) { mem.write32(kRamBase + off, v); }
    std::uint32_t connect() { return ports.in(kIo + vdi_io::VDI_PORT_IO_CONNECTION, 4); }
    void notify() { ports.out(kIo + vdi_io::VDI_PORT_IO_NOTIFY, 4, 0); }

    // Guest writes bytes into the input ring in 504-byte packets; returns bytes queued.
    std::size_t guest_send(const std::vector<std::uint8_t>& bytes, std::uint32_t gen) {
        std::size_t at = 0;
        while (at < bytes.size()) {
            const std::uint32_t prod = r32(vdi_ram::input + 4), cons = r32(vdi_ram::input + 12);
            if (prod - cons >= 32) break;
            const std::size_t pkt = vdi_ram::input + 20 + (prod & 31) * 512;
            const std::size_t n = std::min<std::size_t>(504, bytes.size() - at);
            w32(pkt, gen);
            w32(pkt + 4, static_cast<std::uint32_t>(n));
            for (std::size_t i = 0; i < n; ++i) mem.write8(kRamBase + pkt + 8 + i, bytes[at + i]);
            w32(vdi_ram::input + 4, prod + 1);
            at += n;
        }
        notify();
        return at;
    }
    // Guest pops every output packet.
    std::vector<std::uint8_t> guest_receive() {
        std::vector<std::uint8_t> out;
        bool popped = false;
        for (;;) {
            const std::uint32_t prod = r32(vdi_ram::output + 4), cons = r32(vdi_ram::output + 12);
            if (prod == cons) break;
            const std::size_t pkt = vdi_ram::output + 20 + (cons & 31) * 512;
            const std::uint32_t n = r32(pkt + 4);
            for (std::uint32_t i = 0; i < n && i < 504; ++i) out.push_back(mem.read8(kRamBase + pkt + 8 + i));
            w32(vdi_ram::output + 12, cons + 1);
            popped = true;
        }
        w32(vdi_ram::output + 8, r32(vdi_ram::output + 12) + 1);  // wake me on the next packet
        if (popped) notify();
        return out;
    }

    machine::Scheduler sched;
    machine::AddressSpace mem;
    machine::PortSpace ports;
    Irq irq;
    Peer peer;
    VdiPortDevice dev{sched};
    std::vector<std::string> log;
};

}  // namespace

TEST(VdiPort, IdentityAndBars) {
    VdiHarness h;
    EXPECT_EQ(h.dev.config_read(0, 2), 0x1b36u);
    EXPECT_EQ(h.dev.config_read(2, 2), 0x0105u);
    EXPECT_EQ(h.dev.config_read(8, 1), 1u);
    EXPECT_EQ(h.dev.config_read(8, 4) >> 8, 0x078000u);
    EXPECT_EQ(h.dev.config_read(0x3d, 1), 1u);
    EXPECT_EQ(h.dev.bar_size(0), 16u);
    EXPECT_EQ(h.dev.bar_size(1), 65536u);
}

TEST(VdiPort, ResetLayout) {
    VdiHarness h;
    EXPECT_EQ(h.r32(vdi_ram::magic), VDI_PORT_MAGIC);
    EXPECT_EQ(h.r32(vdi_ram::generation), 0u);
    EXPECT_EQ(h.r32(vdi_ram::input), 32u);
    EXPECT_EQ(h.r32(vdi_ram::output), 32u);
    EXPECT_EQ(h.r32(vdi_ram::output + 8), 1u);
}

TEST(VdiPort, ConnectionBumpsGenerationOncePerOpen) {
    VdiHarness h;
    EXPECT_EQ(h.connect(), 1u);
    EXPECT_EQ(h.peer.connects, 1);
    EXPECT_EQ(h.connect(), 0u);  // already open
    EXPECT_EQ(h.r32(vdi_ram::generation), 1u);
    h.ports.out(kIo, 4, 0);
    EXPECT_EQ(h.peer.disconnects, 1);
    EXPECT_EQ(h.connect(), 2u);
    EXPECT_TRUE(h.dev.guest_connected());
}

TEST(VdiPort, OnlyDwordAccessesReachTheRegisters) {
    VdiHarness h;
    EXPECT_EQ(h.ports.in(kIo, 1), 0xffu);
    EXPECT_FALSE(h.dev.guest_connected());
}

TEST(VdiPort, GuestToHostBytesArriveIntactAcrossPackets) {
    VdiHarness h;
    const std::uint32_t gen = h.connect();
    const auto msg = message(proto::VDP_CLIENT_PORT, 3, 1500);
    EXPECT_EQ(h.guest_send(msg, gen), msg.size());
    h.run_ns(5000);
    EXPECT_EQ(h.peer.received, msg);
    EXPECT_EQ(h.r32(vdi_ram::input + 12), 4u);  // 4 packets consumed
}

TEST(VdiPort, StaleGenerationPacketsAreDropped) {
    VdiHarness h;
    const std::uint32_t gen = h.connect();
    h.guest_send(message(1, 3, 10), gen + 7);
    h.run_ns(5000);
    EXPECT_TRUE(h.peer.received.empty());
    EXPECT_EQ(h.r32(vdi_ram::input + 12), 1u);
    const auto ok = message(1, 3, 10);
    h.guest_send(ok, gen);
    h.run_ns(5000);
    EXPECT_EQ(h.peer.received, ok);
}

TEST(VdiPort, HostToGuestPacketsCarryGenerationAndInterrupt) {
    VdiHarness h;
    const std::uint32_t gen = h.connect();
    h.w32(vdi_ram::int_mask, VDI_PORT_INTERRUPT);
    const auto msg = message(proto::VDP_SERVER_PORT, 1, 13);
    EXPECT_EQ(h.dev.write(msg.data(), msg.size()), msg.size());
    h.notify();
    h.run_ns(5000);
    EXPECT_EQ(h.r32(vdi_ram::output + 20), gen);
    EXPECT_EQ(h.r32(vdi_ram::int_pending), VDI_PORT_INTERRUPT);
    EXPECT_TRUE(h.irq.level);
    EXPECT_EQ(h.guest_receive(), msg);
    h.w32(vdi_ram::int_pending, 0);
    h.ports.out(kIo + vdi_io::VDI_PORT_IO_UPDATE_IRQ, 4, 0);
    EXPECT_FALSE(h.irq.level);
}

TEST(VdiPort, HostToGuestFlowControlDropsNothing) {
    VdiHarness h;
    h.connect();
    std::vector<std::uint8_t> all;
    for (int i = 0; i < 200; ++i) {
        auto m = message(1, 4, 2000);
        m[28] = static_cast<std::uint8_t>(i);
        all.insert(all.end(), m.begin(), m.end());
    }
    std::size_t written = 0;
    std::vector<std::uint8_t> got;
    int short_writes = 0;
    for (int round = 0; round < 400 && got.size() < all.size(); ++round) {
        if (written < all.size()) {
            const std::size_t n = h.dev.write(all.data() + written, all.size() - written);
            if (n < all.size() - written) ++short_writes;
            written += n;
        }
        h.run_ns(150000);
        auto part = h.guest_receive();
        got.insert(got.end(), part.begin(), part.end());
    }
    EXPECT_GT(short_writes, 0);
    EXPECT_GT(h.peer.writables, 0);
    EXPECT_EQ(got, all);
}

TEST(VdiPort, GuestToHostFlowControlWaitsForThePeer) {
    VdiHarness h;
    const std::uint32_t gen = h.connect();
    h.peer.accept_limit = 100;
    std::vector<std::uint8_t> all;
    for (int i = 0; i < 30; ++i) {
        auto m = message(1, 4, 1000);
        all.insert(all.end(), m.begin(), m.end());
    }
    std::size_t sent = 0;
    for (int round = 0; round < 200 && sent < all.size(); ++round) {
        sent +=
            h.guest_send(std::vector<std::uint8_t>(all.begin() + static_cast<std::ptrdiff_t>(sent), all.end()), gen);
        h.run_ns(150000);
        if (round == 3) {
            // The peer took only 100 bytes; the ring backed up instead of losing data.
            EXPECT_EQ(h.peer.received.size(), 100u);
            EXPECT_EQ(h.r32(vdi_ram::input + 4) - h.r32(vdi_ram::input + 12), 32u);
            h.peer.accept_limit = SIZE_MAX;
            h.dev.read_ready();
        }
    }
    h.run_ns(500000);
    EXPECT_EQ(h.peer.received, all);
}

TEST(VdiPort, MalformedGuestChunksAreRejectedWithAReason) {
    struct Case {
        std::vector<std::uint8_t> bytes;
        const char* reason;
    };
    auto bad_port = message(3, 1, 4);
    auto bad_protocol = message(1, 1, 4, 2);
    auto oversize = message(1, 1, 4);
    oversize[4] = 0, oversize[5] = 0, oversize[6] = 0x20, oversize[7] = 0;  // 2 MiB chunk
    auto empty = message(1, 1, 0);
    empty[4] = 0;  // size 0
    auto split_header = message(1, 1, 4);
    split_header[4] = 10;  // chunk ends inside the 20-byte message header
    for (const Case& c : {Case{bad_port, "invalid port 3"}, Case{bad_protocol, "protocol 2"},
                          Case{oversize, "outside 1.."}, Case{empty, "size 0"}, Case{split_header, "header split"}}) {
        VdiHarness h;
        const std::uint32_t gen = h.connect();
        h.guest_send(c.bytes, gen);
        h.run_ns(5000);
        EXPECT_NE(h.dev.last_error().find(c.reason), std::string::npos) << h.dev.last_error();
        EXPECT_FALSE(h.log.empty());
        EXPECT_GT(h.dev.rejected_bytes(), 0u);
        // Nothing of the bad chunk reached the peer beyond its valid prefix.
        EXPECT_LT(h.peer.received.size(), c.bytes.size());
        // The stream recovers at the next packet.
        const auto ok = message(2, 1, 4);
        h.peer.received.clear();
        h.guest_send(ok, gen);
        h.run_ns(5000);
        EXPECT_EQ(h.peer.received, ok);
    }
}

TEST(VdiPort, OversizePacketIsDropped) {
    VdiHarness h;
    const std::uint32_t gen = h.connect();
    h.guest_send(message(1, 1, 4), gen);
    h.w32(vdi_ram::input + 20 + 0 * 512 + 4, 5000);  // rewrite packet 0's size before the device looks
    h.run_ns(5000);
    EXPECT_NE(h.dev.last_error().find("> 504"), std::string::npos);
    EXPECT_TRUE(h.peer.received.empty());
}

TEST(VdiPort, MalformedHostChunkIsRejected) {
    VdiHarness h;
    h.connect();
    auto big = message(1, 1, 3000);  // > VD_AGENT_MAX_DATA_SIZE toward the guest
    EXPECT_EQ(h.dev.write(big.data(), big.size()), big.size());
    h.run_ns(200000);
    EXPECT_NE(h.dev.last_error().find("host -> guest"), std::string::npos);
    EXPECT_TRUE(h.guest_receive().empty());
}

TEST(VdiPort, PeerGoingAwayBumpsGenerationAndInterrupts) {
    VdiHarness h;
    h.connect();
    h.w32(vdi_ram::int_mask, ~0u);
    h.dev.set_peer(nullptr);
    EXPECT_EQ(h.r32(vdi_ram::generation), 2u);
    EXPECT_TRUE(h.irq.level);
    EXPECT_EQ(h.peer.disconnects, 1);
}

TEST(VdiPort, NotifyIgnoredWhileNotConnected) {
    VdiHarness h;
    h.guest_send(message(1, 1, 4), 0);
    h.run_ns(300000);
    EXPECT_TRUE(h.peer.received.empty());
    EXPECT_EQ(h.r32(vdi_ram::input + 12), 0u);
}

TEST(AgentStream, AcceptsMessagesSplitAcrossChunksAndFeeds) {
    AgentStreamChecker c(2048, 1 << 20);
    auto m = message(1, 4, 3000);
    // Re-chunk one 3020-byte message into two chunks.
    std::vector<std::uint8_t> s;
    auto chunk = [&](const std::uint8_t* p, std::uint32_t n) {
        const std::uint8_t hdr[8] = {1, 0, 0, 0, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8), 0, 0};
        s.insert(s.end(), hdr, hdr + 8);
        s.insert(s.end(), p, p + n);
    };
    chunk(m.data() + 8, 2000);
    chunk(m.data() + 8 + 2000, 1020);
    for (std::size_t i = 0; i < s.size(); i += 7)
        ASSERT_TRUE(c.feed(s.data() + i, std::min<std::size_t>(7, s.size() - i))) << c.error();
    EXPECT_TRUE(c.at_chunk_boundary());
    AgentStreamChecker strict(2048, 1 << 20);
    EXPECT_FALSE(strict.feed(m.data(), m.size()));  // one 3020-byte chunk is too big here
}
