// libFuzzer target over client-to-server bytes of the SPICE server (server/).
//
// One server runs for the whole process (short timeouts, a small primary surface behind a
// minimal in-memory device). Each input opens fresh connections and is read as:
//   byte 0 % 6 = mode: 0 raw bytes from the very first link byte on; 1 raw bytes after a
//   valid main link; 2..5 a valid link to main/display/inputs/cursor (the latter three after
//   a main link for the session id), then records {type u16, len u8, len body bytes}, each
//   framed with a correct mini header, so random inputs reach the message handlers.
// The client then half-closes and drains until the server closes or goes quiet. The server
// must neither crash nor hang; sanitizers report the rest.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "protocol/wire/header.h"
#include "protocol/wire/link.h"
#include "protocol/wire/messages.h"
#include "server/spice_server.h"

namespace {

using namespace qxlbox;
using namespace qxlbox::server;
namespace wire = qxlbox::proto::wire;

class TinyDevice final : public proto::DisplayDevice {
public:
    std::optional<proto::SurfacePixels> read_surface(std::uint32_t surface_id) override {
        if (surface_id != 0) return std::nullopt;
        proto::SurfacePixels p;
        p.area = proto::Rect{0, 0, 16, 16};
        p.stride = 64;
        p.data.assign(64 * 16, 0x5a);
        return p;
    }
    void write_surface_area(std::uint32_t, const proto::SurfacePixels&) override {}
    void set_client_capabilities(bool, const std::vector<std::uint8_t>&) override {}
    bool client_monitors_config(const std::vector<proto::MonitorHead>&) override { return false; }
    void wakeup() override {}
};

struct Harness {
    TinyDevice device;
    std::unique_ptr<SpiceServer> server;
    Harness() {
        ServerConfig cfg;
        cfg.port = 0;
        cfg.stall_timeout = std::chrono::milliseconds(200);
        cfg.link_timeout = std::chrono::milliseconds(200);
        cfg.display_init_timeout = std::chrono::milliseconds(200);
        cfg.log = [](const std::string&) {};
        server = SpiceServer::start(cfg, nullptr);
        if (!server) return;
        server->attach(device, proto::DeviceInfo{1, 1 << 20, "fuzz"});
        proto::SurfaceCreate c;
        c.surface_id = 0;
        c.width = 16;
        c.height = 16;
        c.stride = 64;
        c.primary = true;
        proto::DisplayCommand cmd;
        cmd.body = c;
        server->push_command(cmd);
    }
};

Harness& harness() {
    static Harness h;
    return h;
}

int connect_to(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

bool read_exact(int fd, std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        pollfd pf{fd, POLLIN, 0};
        if (::poll(&pf, 1, 500) <= 0) return false;
        ssize_t r = ::recv(fd, p, n, 0);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

// A valid link of `type`; returns the session id for main (1 for other channels), 0 on failure.
std::uint32_t link(int fd, wire::ChannelType type, std::uint32_t session) {
    wire::LinkMess mess;
    mess.connection_id = session;
    mess.channel_type = type;
    mess.common_caps = wire::default_common_caps();
    mess.channel_caps = wire::CapabilitySet(std::vector<std::uint32_t>{0x3});
    auto mess_bytes = wire::marshal_link_mess(mess);
    if (!send_all(fd, mess_bytes.data(), mess_bytes.size())) return 0;
    std::uint8_t hdr[wire::kLinkHeaderBytes];
    if (!read_exact(fd, hdr, sizeof hdr)) return 0;
    auto header = wire::parse_link_header(wire::ByteView(hdr, sizeof hdr));
    if (!header || header->size < wire::kLinkReplyBytes || header->size > 1024) return 0;
    std::vector<std::uint8_t> reply_bytes(header->size);
    if (!read_exact(fd, reply_bytes.data(), reply_bytes.size())) return 0;
    auto reply = wire::parse_link_reply(reply_bytes);
    if (!reply || reply->error != wire::LinkError::Ok) return 0;
    auto ticket = wire::encrypt_ticket(reply->pub_key, "");
    if (!ticket) return 0;
    std::vector<std::uint8_t> auth;
    wire::put_le(auth, wire::kAuthMechanismSpice);
    auth.insert(auth.end(), ticket->begin(), ticket->end());
    if (!send_all(fd, auth.data(), auth.size())) return 0;
    std::uint8_t result[4];
    if (!read_exact(fd, result, 4) || wire::load_le<std::uint32_t>(result) != 0) return 0;
    if (type != wire::ChannelType::Main) return 1;
    // MAIN_INIT comes first, behind a mini header.
    std::uint8_t header_bytes[wire::kMiniHeaderBytes];
    if (!read_exact(fd, header_bytes, sizeof header_bytes)) return 0;
    auto size = wire::load_le<std::uint32_t>(header_bytes + 2);
    if (wire::load_le<std::uint16_t>(header_bytes) != wire::MsgMainInit::kType || size > 1024) return 0;
    std::vector<std::uint8_t> body(size);
    if (!read_exact(fd, body.data(), body.size())) return 0;
    auto init = wire::demarshal_as<wire::MsgMainInit>(body);
    return init ? init->session_id : 0;
}

void drain_and_close(int fd) {
    ::shutdown(fd, SHUT_WR);
    std::uint8_t buf[65536];
    for (int i = 0; i < 50; ++i) {
        pollfd pf{fd, POLLIN, 0};
        if (::poll(&pf, 1, 20) <= 0) break;
        if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
    }
    ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto& h = harness();
    if (!h.server || size == 0) return 0;
    const std::uint16_t port = h.server->port();
    const int mode = data[0] % 6;
    ++data;
    --size;
    if (mode == 0) {
        int fd = connect_to(port);
        if (fd < 0) return 0;
        send_all(fd, data, size);
        drain_and_close(fd);
        return 0;
    }
    int main_fd = connect_to(port);
    if (main_fd < 0) return 0;
    std::uint32_t session = link(main_fd, wire::ChannelType::Main, 0);
    if (session == 0) {
        ::close(main_fd);
        return 0;
    }
    int fd = main_fd;
    if (mode >= 3) {
        static constexpr wire::ChannelType kTypes[] = {wire::ChannelType::Display, wire::ChannelType::Inputs,
                                                       wire::ChannelType::Cursor};
        fd = connect_to(port);
        if (fd < 0 || link(fd, kTypes[mode - 3], session) == 0) {
            if (fd >= 0) ::close(fd);
            ::close(main_fd);
            return 0;
        }
    }
    if (mode == 1) {
        send_all(fd, data, size);
    } else {
        std::vector<std::uint8_t> stream;
        std::size_t i = 0;
        while (i + 3 <= size) {
            std::uint16_t type = static_cast<std::uint16_t>(data[i] | (data[i + 1] << 8));
            std::size_t len = std::min<std::size_t>(data[i + 2], size - i - 3);
            auto framed = wire::frame_message(true, 0, type, wire::ByteView(data + i + 3, len));
            stream.insert(stream.end(), framed.begin(), framed.end());
            i += 3 + len;
        }
        send_all(fd, stream.data(), stream.size());
    }
    drain_and_close(fd);
    if (fd != main_fd) drain_and_close(main_fd);
    return 0;
}
