// A loopback TCP relay that records every byte it forwards as a pcap capture, so that a
// whole SPICE session can be decoded by tshark's SPICE dissector without capture privileges
// (dumpcap on `lo` needs CAP_NET_RAW). The capture is synthetic but well formed: each
// relayed connection becomes one IPv4/TCP conversation between the client's port and the
// relay's port, opened with SYN, SYN/ACK, ACK, carrying the payload in order with correct
// sequence and acknowledgement numbers, and closed with FIN from each side. Link type
// LINKTYPE_RAW (101): packets start with the IPv4 header. Checksums are left zero (tshark
// does not verify them unless asked). Segment boundaries: SPICE link-phase messages (link
// message, auth mechanism, ticket; link reply, link result) are recorded one per segment,
// because Wireshark's SPICE dissector reads one of them per segment and a relay's recv() may
// join two; anything else (data messages, non-SPICE bytes) is recorded as it was read.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qxlbox::interop {

class PcapWriter {
public:
    PcapWriter() = default;
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Creates the file and writes the pcap global header; false with `error` set on failure.
    bool open(const std::string& path, std::string& error);
    // A new conversation (handshake written); the id for data() and finish().
    int begin_connection(std::uint16_t client_port, std::uint16_t server_port);
    // Payload bytes in one direction, split into segments of at most kMaxSegmentBytes.
    void data(int connection, bool from_client, const std::uint8_t* bytes, std::size_t size);
    // FIN from the given side (each side once).
    void finish(int connection, bool from_client);
    void close();
    std::uint64_t packets() const { return packets_; }

    static constexpr std::size_t kMaxSegmentBytes = 32768;

private:
    struct Conversation {
        std::uint16_t client_port = 0;
        std::uint16_t server_port = 0;
        std::uint32_t client_seq = 0;  // next sequence number the client sends
        std::uint32_t server_seq = 0;
        bool client_fin = false;
        bool server_fin = false;
    };
    void write_packet_locked(const Conversation& c, bool from_client, std::uint8_t tcp_flags,
                             const std::uint8_t* payload, std::size_t size);

    std::mutex mutex_;
    std::FILE* file_ = nullptr;
    std::vector<Conversation> conversations_;
    std::uint16_t ip_id_ = 1;
    std::uint64_t packets_ = 0;
};

class TcpRelay {
public:
    // Forwards connections on a free loopback port to 127.0.0.1:`upstream_port`, recording
    // into `writer` (which must outlive the relay).
    TcpRelay(std::uint16_t upstream_port, PcapWriter& writer);
    ~TcpRelay();
    TcpRelay(const TcpRelay&) = delete;
    TcpRelay& operator=(const TcpRelay&) = delete;

    bool start(std::string& error);
    std::uint16_t port() const { return port_; }
    // Closes the listener and every relayed connection and joins the threads.
    void stop();
    int connections() const { return connections_; }

private:
    struct Link;
    void accept_loop();
    void pump(const std::shared_ptr<Link>& link, bool from_client);

    std::uint16_t upstream_port_ = 0;
    PcapWriter& writer_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    std::mutex mutex_;
    std::vector<std::shared_ptr<Link>> links_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

}  // namespace qxlbox::interop
