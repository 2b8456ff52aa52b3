#include "tests/interop/pcap_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <utility>

namespace qxlbox::interop {

namespace {

constexpr std::uint32_t kPcapMagic = 0xa1b2c3d4;
constexpr std::uint32_t kLinktypeRaw = 101;
constexpr std::uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpPsh = 0x08, kTcpAck = 0x10;
constexpr std::uint32_t kClientIsn = 1000, kServerIsn = 500000;

void put16be(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32be(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

std::uint16_t ipv4_checksum(const std::uint8_t* header, std::size_t size) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < size; i += 2) sum += static_cast<std::uint32_t>(header[i] << 8 | header[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

}  // namespace

PcapWriter::~PcapWriter() { close(); }

bool PcapWriter::open(const std::string& path, std::string& error) {
    std::lock_guard lock(mutex_);
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) {
        error = "cannot create " + path;
        return false;
    }
    // Global header in host order (readers detect the byte order from the magic).
    const std::uint32_t header[6] = {kPcapMagic, 2u | (4u << 16), 0, 0, 65535, kLinktypeRaw};
    if (std::fwrite(header, sizeof header, 1, file_) != 1) {
        error = "cannot write " + path;
        return false;
    }
    return true;
}

void PcapWriter::write_packet_locked(const Conversation& c, bool from_client, std::uint8_t tcp_flags,
                                     const std::uint8_t* payload, std::size_t size) {
    if (!file_) return;
    std::array<std::uint8_t, 40> h{};
    const auto total = static_cast<std::uint16_t>(h.size() + size);
    h[0] = 0x45;
    put16be(&h[2], total);
    put16be(&h[4], ip_id_++);
    put16be(&h[6], 0x4000);  // don't fragment
    h[8] = 64;
    h[9] = 6;  // TCP
    put32be(&h[12], 0x7f000001);
    put32be(&h[16], 0x7f000001);
    put16be(&h[10], ipv4_checksum(h.data(), 20));
    put16be(&h[20], from_client ? c.client_port : c.server_port);
    put16be(&h[22], from_client ? c.server_port : c.client_port);
    put32be(&h[24], from_client ? c.client_seq : c.server_seq);
    put32be(&h[28], (tcp_flags & kTcpAck) ? (from_client ? c.server_seq : c.client_seq) : 0);
    h[32] = 5 << 4;
    h[33] = tcp_flags;
    put16be(&h[34], 65535);
    timeval now{};
    ::gettimeofday(&now, nullptr);
    const std::uint32_t record[4] = {static_cast<std::uint32_t>(now.tv_sec), static_cast<std::uint32_t>(now.tv_usec),
                                     total, total};
    std::fwrite(record, sizeof record, 1, file_);
    std::fwrite(h.data(), h.size(), 1, file_);
    if (size > 0) std::fwrite(payload, size, 1, file_);
    ++packets_;
}

int PcapWriter::begin_connection(std::uint16_t client_port, std::uint16_t server_port) {
    std::lock_guard lock(mutex_);
    Conversation c;
    c.client_port = client_port;
    c.server_port = server_port;
    c.client_seq = kClientIsn;
    c.server_seq = kServerIsn;
    write_packet_locked(c, true, kTcpSyn, nullptr, 0);
    c.client_seq++;
    write_packet_locked(c, false, kTcpSyn | kTcpAck, nullptr, 0);
    c.server_seq++;
    write_packet_locked(c, true, kTcpAck, nullptr, 0);
    conversations_.push_back(c);
    return static_cast<int>(conversations_.size() - 1);
}

void PcapWriter::data(int connection, bool from_client, const std::uint8_t* bytes, std::size_t size) {
    std::lock_guard lock(mutex_);
    if (connection < 0 || static_cast<std::size_t>(connection) >= conversations_.size()) return;
    auto& c = conversations_[static_cast<std::size_t>(connection)];
    while (size > 0) {
        const std::size_t n = size < kMaxSegmentBytes ? size : kMaxSegmentBytes;
        write_packet_locked(c, from_client, kTcpPsh | kTcpAck, bytes, n);
        (from_client ? c.client_seq : c.server_seq) += static_cast<std::uint32_t>(n);
        bytes += n;
        size -= n;
    }
}

void PcapWriter::finish(int connection, bool from_client) {
    std::lock_guard lock(mutex_);
    if (connection < 0 || static_cast<std::size_t>(connection) >= conversations_.size()) return;
    auto& c = conversations_[static_cast<std::size_t>(connection)];
    bool& fin = from_client ? c.client_fin : c.server_fin;
    if (fin) return;
    fin = true;
    write_packet_locked(c, from_client, kTcpFin | kTcpAck, nullptr, 0);
    (from_client ? c.client_seq : c.server_seq) += 1;
}

void PcapWriter::close() {
    std::lock_guard lock(mutex_);
    if (file_) std::fclose(file_);
    file_ = nullptr;
}

// Splits one direction of a SPICE connection's link phase into its messages (client:
// SpiceLinkMess, the auth mechanism when both sides announced AUTH_SELECTION, the 128-byte
// ticket; server: SpiceLinkReply, the link result), so that each is recorded as its own
// segment. Wireshark's SPICE dissector reads one link-phase message per segment; spice-gtk
// and libspice-server write each separately and wait for the answer, so this is what their
// captures look like, whereas a relay's recv() may join two of them. After the link phase
// the bytes are recorded as they come (the dissector reassembles data messages).
class LinkPhaseSplitter {
public:
    explicit LinkPhaseSplitter(bool from_client) : from_client_(from_client) {}

    static constexpr std::uint32_t kSpiceMagic = 0x51444552;  // "REDQ"
    static constexpr std::uint32_t kMaxLinkBytes = 4096;

    // Whatever is still held back (the connection ended inside the link phase).
    std::vector<std::uint8_t> rest() { return std::exchange(pending_, {}); }

    // Appends `bytes` and returns the segments to record now.
    std::vector<std::vector<std::uint8_t>> feed(const std::uint8_t* bytes, std::size_t size,
                                                const std::atomic<int>& peer_auth_selection,
                                                std::atomic<int>& own_auth_selection) {
        std::vector<std::vector<std::uint8_t>> out;
        pending_.insert(pending_.end(), bytes, bytes + size);
        while (!pending_.empty()) {
            std::size_t need = 0;
            if (done_) {
                need = pending_.size();
            } else if (step_ == 0) {
                if (pending_.size() < 16) break;
                // Not a SPICE link message (or an absurd one): record the bytes as they come.
                if (le32(0) != kSpiceMagic || le32(12) > kMaxLinkBytes) {
                    done_ = true;
                    continue;
                }
                need = 16 + le32(12);
                if (pending_.size() >= need) own_auth_selection = auth_selection_bit();
            } else if (from_client_) {
                const bool selecting = own_auth_selection == 1 && peer_auth_selection == 1;
                need = (step_ == 1 && selecting) ? 4 : 128;
                if (need == 128 || step_ == 2) done_after_this_ = true;
            } else {
                need = 4;
                done_after_this_ = true;
            }
            if (pending_.size() < need) break;
            out.emplace_back(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(need));
            pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(need));
            ++step_;
            if (done_after_this_) done_ = true;
        }
        return out;
    }

private:
    std::uint32_t le32(std::size_t at) const {
        std::uint32_t v = 0;
        for (int i = 3; i >= 0; i--) v = v << 8 | pending_[at + static_cast<std::size_t>(i)];
        return v;
    }
    // Bit 0 (AUTH_SELECTION) of the first common capability word, or 0 when absent or out of
    // range (a malformed link message is passed on as is; the peer rejects it).
    int auth_selection_bit() const {
        // SpiceLinkMess: conn id 4, type 1, id 1, common caps count 4, channel caps 4, caps offset 4.
        // SpiceLinkReply: error 4, public key 162, common caps count 4, channel caps 4, caps offset 4.
        const std::size_t counts_at = 16 + (from_client_ ? 6 : 166);
        const std::size_t size = pending_.size();
        if (counts_at + 12 > size) return 0;
        if (le32(counts_at) == 0) return 0;
        const std::size_t caps_at = 16 + std::size_t{le32(counts_at + 8)};
        if (caps_at + 4 > size) return 0;
        return static_cast<int>(le32(caps_at) & 1u);
    }

    bool from_client_ = false;
    std::vector<std::uint8_t> pending_;
    int step_ = 0;
    bool done_ = false;
    bool done_after_this_ = false;
};

struct TcpRelay::Link {
    int client_fd = -1;
    int server_fd = -1;
    int id = -1;
    std::atomic<int> client_auth_selection{0};
    std::atomic<int> server_auth_selection{0};
    ~Link() {
        if (client_fd >= 0) ::close(client_fd);
        if (server_fd >= 0) ::close(server_fd);
    }
};

TcpRelay::TcpRelay(std::uint16_t upstream_port, PcapWriter& writer) : upstream_port_(upstream_port), writer_(writer) {}

TcpRelay::~TcpRelay() { stop(); }

bool TcpRelay::start(std::string& error) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        error = "relay: cannot listen on loopback";
        return false;
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
    return true;
}

void TcpRelay::accept_loop() {
    while (!stopping_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const int client = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (client < 0) continue;
        auto link = std::make_shared<Link>();
        link->client_fd = client;
        link->server_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in up{};
        up.sin_family = AF_INET;
        up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        up.sin_port = htons(upstream_port_);
        if (link->server_fd < 0 || ::connect(link->server_fd, reinterpret_cast<sockaddr*>(&up), sizeof up) != 0)
            continue;  // the client sees its connection closed, as with a dead server
        link->id = writer_.begin_connection(ntohs(peer.sin_port), port_);
        ++connections_;
        std::lock_guard lock(mutex_);
        links_.push_back(link);
        threads_.emplace_back([this, link] { pump(link, true); });
        threads_.emplace_back([this, link] { pump(link, false); });
    }
}

void TcpRelay::pump(const std::shared_ptr<Link>& link, bool from_client) {
    const int src = from_client ? link->client_fd : link->server_fd;
    const int dst = from_client ? link->server_fd : link->client_fd;
    std::vector<std::uint8_t> buffer(65536);
    LinkPhaseSplitter splitter(from_client);
    auto& own = from_client ? link->client_auth_selection : link->server_auth_selection;
    const auto& peer = from_client ? link->server_auth_selection : link->client_auth_selection;
    while (!stopping_) {
        pollfd p{src, POLLIN, 0};
        const int r = ::poll(&p, 1, 50);
        if (r == 0) continue;
        if (r < 0) break;
        const ssize_t n = ::recv(src, buffer.data(), buffer.size(), 0);
        if (n <= 0) break;
        // Recorded before forwarding, so the capture holds a message before any answer to it.
        for (const auto& segment : splitter.feed(buffer.data(), static_cast<std::size_t>(n), peer, own))
            writer_.data(link->id, from_client, segment.data(), segment.size());
        if (!write_all(dst, buffer.data(), static_cast<std::size_t>(n))) break;
    }
    if (const auto rest = splitter.rest(); !rest.empty()) writer_.data(link->id, from_client, rest.data(), rest.size());
    writer_.finish(link->id, from_client);
    ::shutdown(dst, SHUT_WR);
}

void TcpRelay::stop() {
    stopping_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    std::lock_guard lock(mutex_);
    links_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
}

}  // namespace qxlbox::interop
