// Client-side link against a real QEMU (libspice-server): the main-channel link with an OAEP
// ticket, then MAIN_INIT demarshalled with our definitions. QEMU runs paused (-S) with only a
// qxl-vga device; every wait is bounded and the process is killed by PID.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec/lz.h"
#include "protocol/wire/header.h"
#include "protocol/wire/link.h"
#include "protocol/wire/messages.h"

extern char** environ;

namespace qxlbox::proto::wire {
namespace {

using Clock = std::chrono::steady_clock;

int free_tcp_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

class QemuSpice {
public:
    explicit QemuSpice(const std::string& spice_opts, bool paused = true) {
        char tmpl[] = "/tmp/qxlbox-wire-qemu-XXXXXX";
        if (mkdtemp(tmpl)) dir_ = tmpl;
        port_ = free_tcp_port();
        const std::string spice = "port=" + std::to_string(port_) + ",addr=127.0.0.1," + spice_opts;
        std::vector<std::string> args = {"qemu-system-x86_64", "-nodefaults", "-vga", "none", "-device", "qxl-vga",
                                         "-spice", spice, "-display", "none", "-m", "64",
                                         "-chardev", "file,id=log,path=" + dir_ + "/qemu.log", "-monitor", "none"};
        if (paused) args.push_back("-S");
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, (dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, (dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (posix_spawnp(&pid_, "qemu-system-x86_64", &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    ~QemuSpice() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (!dir_.empty()) {
            for (const char* f : {"/stdout", "/stderr", "/qemu.log"}) unlink((dir_ + f).c_str());
            rmdir(dir_.c_str());
        }
    }
    bool started() const { return pid_ > 0 && port_ > 0; }

    int port() const { return port_; }

    // A connected socket, retrying while QEMU starts up (bounded).
    int connect_main(std::chrono::seconds limit = std::chrono::seconds(20)) {
        const auto deadline = Clock::now() + limit;
        while (Clock::now() < deadline) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return -1;
            }
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(static_cast<std::uint16_t>(port_));
            if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
            close(fd);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return -1;
    }

private:
    pid_t pid_ = -1;
    int port_ = -1;
    std::string dir_;
};

// Reads whatever arrives within the time left; empty on timeout or EOF.
Bytes read_some(int fd, Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return {};
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return {};
    Bytes buf(65536);
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) return {};
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

bool write_all(int fd, const Bytes& b) {
    std::size_t done = 0;
    while (done < b.size()) {
        const ssize_t n = write(fd, b.data() + done, b.size() - done);
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

struct LinkRun {
    LinkClient::State state = LinkClient::State::Failed;
    LinkError failure = LinkError::Ok;
    std::optional<MsgMainInit> init;
    std::string note;
};

LinkRun link_main(int fd, const std::string& password) {
    LinkClientConfig cfg;
    cfg.password = password;
    cfg.channel_caps = default_client_channel_caps(ChannelType::Main);
    LinkClient client(cfg);
    LinkRun run;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (client.state() != LinkClient::State::Linked && client.state() != LinkClient::State::Failed) {
        if (!write_all(fd, client.take_output())) break;
        auto in = read_some(fd, deadline);
        if (in.empty()) break;
        client.feed(in);
    }
    run.state = client.state();
    run.failure = client.failure();
    run.note = client.failure_reason();
    if (client.state() != LinkClient::State::Linked) return run;

    MessageFramer framer(client.mini_header(), kMaxServerMessageBytes);
    framer.feed(client.take_leftover());
    while (Clock::now() < deadline) {
        auto frame = framer.next();
        if (!frame) {
            auto in = read_some(fd, deadline);
            if (in.empty()) break;
            framer.feed(in);
            continue;
        }
        if (!frame->ok()) {
            run.note = frame->error().to_string();
            break;
        }
        auto msg = MainServerMessages::demarshal((*frame)->type, (*frame)->body);
        if (!msg.ok()) {
            run.note = msg.error().to_string();
            break;
        }
        if (auto* init = std::get_if<MsgMainInit>(&*msg)) {
            run.init = *init;
            break;
        }
    }
    return run;
}

TEST(WireQemuInterop, ClientLinksToQemuWithoutTicketingAndDemarshalsMainInit) {
    QemuSpice qemu("disable-ticketing=on");
    ASSERT_TRUE(qemu.started());
    const int fd = qemu.connect_main();
    ASSERT_GE(fd, 0) << "QEMU did not accept a connection";
    auto run = link_main(fd, "ignored");
    close(fd);
    ASSERT_EQ(run.state, LinkClient::State::Linked) << run.note;
    ASSERT_TRUE(run.init.has_value()) << run.note;
    EXPECT_NE(run.init->session_id, 0u);
    EXPECT_EQ(run.init->display_channels_hint, 1u);
    EXPECT_NE(run.init->supported_mouse_modes & kMouseModeServer, 0u);
    EXPECT_EQ(run.init->agent_tokens, 10u);
}

TEST(WireQemuInterop, QemuAcceptsTheRightPasswordAndRefusesAWrongOne) {
    QemuSpice qemu("password=secret");
    ASSERT_TRUE(qemu.started());
    int fd = qemu.connect_main();
    ASSERT_GE(fd, 0);
    auto good = link_main(fd, "secret");
    close(fd);
    EXPECT_EQ(good.state, LinkClient::State::Linked) << good.note;
    EXPECT_TRUE(good.init.has_value()) << good.note;

    fd = qemu.connect_main();
    ASSERT_GE(fd, 0);
    auto bad = link_main(fd, "wrong");
    close(fd);
    EXPECT_EQ(bad.state, LinkClient::State::Failed);
    EXPECT_EQ(bad.failure, LinkError::PermissionDenied) << bad.note;
}

}  // namespace
}  // namespace qxlbox::proto::wire

namespace qxlbox::proto::wire {
namespace {

// A linked channel connection: link state, then framed messages.
struct Channel {
    int fd = -1;
    bool mini = true;
    std::uint64_t serial = 0;
    std::unique_ptr<MessageFramer> framer;
    CapabilitySet server_caps;

    template <class M>
    bool send(const M& m) {
        auto bytes = frame(mini, ++serial, m);
        return bytes.ok() && write_all(fd, *bytes);
    }
    // Next frame, or nullopt on timeout/EOF/error.
    std::optional<Frame> next(Clock::time_point deadline) {
        for (;;) {
            if (auto f = framer->next()) {
                if (!f->ok()) return std::nullopt;
                return std::move(f->value());
            }
            auto in = read_some(fd, deadline);
            if (in.empty()) return std::nullopt;
            framer->feed(in);
        }
    }
};

std::optional<Channel> link_channel(int fd, LinkClientConfig cfg) {
    LinkClient client(std::move(cfg));
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (client.state() != LinkClient::State::Linked && client.state() != LinkClient::State::Failed) {
        if (!write_all(fd, client.take_output())) return std::nullopt;
        auto in = read_some(fd, deadline);
        if (in.empty()) return std::nullopt;
        client.feed(in);
    }
    if (client.state() != LinkClient::State::Linked) return std::nullopt;
    Channel ch;
    ch.fd = fd;
    ch.mini = client.mini_header();
    ch.server_caps = client.reply().channel_caps;
    ch.framer = std::make_unique<MessageFramer>(ch.mini, kMaxServerMessageBytes);
    ch.framer->feed(client.take_leftover());
    return ch;
}

// Flattens a LIST into its sub-messages; other frames pass through.
std::vector<std::pair<std::uint16_t, Bytes>> expand(const Frame& f, std::string& error) {
    std::vector<std::pair<std::uint16_t, Bytes>> out;
    if (f.type == MsgList::kType || f.sub_list != 0) {
        auto items = parse_sub_message_list(f.body, f.type == MsgList::kType ? 0 : f.sub_list);
        if (!items.ok()) {
            error = items.error().to_string();
            return out;
        }
        for (auto& i : *items) out.emplace_back(i.type, std::move(i.data));
        if (f.type == MsgList::kType) return out;
    }
    out.emplace_back(f.type, f.body);
    return out;
}

TEST(WireQemuInterop, EveryDisplayMessageFromQemuDemarshalsAndItsLzImagesDecode) {
    QemuSpice qemu("disable-ticketing=on", /*paused=*/false);
    ASSERT_TRUE(qemu.started());
    const int main_fd = qemu.connect_main();
    ASSERT_GE(main_fd, 0);
    LinkClientConfig main_cfg;
    main_cfg.channel_caps = default_client_channel_caps(ChannelType::Main);
    auto main = link_channel(main_fd, main_cfg);
    ASSERT_TRUE(main.has_value());
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    std::uint32_t session_id = 0;
    while (session_id == 0) {
        auto f = main->next(deadline);
        ASSERT_TRUE(f.has_value()) << "no MAIN_INIT";
        auto m = MainServerMessages::demarshal(f->type, f->body);
        ASSERT_TRUE(m.ok()) << m.error().to_string();
        if (auto* init = std::get_if<MsgMainInit>(&*m)) session_id = init->session_id;
    }
    ASSERT_TRUE(main->send(MsgcMainAttachChannels{}));

    const int display_fd = qemu.connect_main();
    ASSERT_GE(display_fd, 0);
    LinkClientConfig display_cfg;
    display_cfg.connection_id = session_id;
    display_cfg.channel_type = ChannelType::Display;
    display_cfg.channel_caps = default_client_channel_caps(ChannelType::Display);
    auto display = link_channel(display_fd, display_cfg);
    ASSERT_TRUE(display.has_value()) << "display link failed";
    MsgcDisplayInit init;
    init.pixmap_cache_id = 1;
    init.pixmap_cache_size = 20971520;
    init.glz_dictionary_id = 1;
    init.glz_dictionary_window_size = 0x5ffc00;
    ASSERT_TRUE(display->send(init));
    if (display->server_caps.has(display_cap::kPrefCompression)) {
        MsgcDisplayPreferredCompression pref;
        pref.image_compression = 6;  // LZ, so that we get images our codec decodes
        ASSERT_TRUE(display->send(pref));
    }

    int surfaces = 0, draws = 0, lz_images = 0, messages = 0;
    bool mark = false;
    std::uint32_t ack_window = 0, since_ack = 0;
    while (!mark || lz_images == 0) {
        auto f = display->next(deadline);
        if (!f) break;
        std::string error;
        for (auto& [type, body] : expand(*f, error)) {
            ++messages;
            auto m = DisplayServerMessages::demarshal(type, body);
            ASSERT_TRUE(m.ok()) << "type " << type << ": " << m.error().to_string();
            if (auto* ack = std::get_if<MsgSetAck>(&*m)) {
                ack_window = ack->window;
                since_ack = 0;
                ASSERT_TRUE(display->send(MsgcAckSync{ack->generation}));
                continue;
            }
            if (auto* ping = std::get_if<MsgPing>(&*m)) {
                ASSERT_TRUE(display->send(MsgcPong{ping->id, ping->timestamp}));
            }
            if (std::holds_alternative<MsgDisplaySurfaceCreate>(*m)) ++surfaces;
            if (std::holds_alternative<MsgDisplayMark>(*m)) mark = true;
            if (auto* copy = std::get_if<MsgDisplayDrawCopy>(&*m)) {
                ++draws;
                const auto& img = *std::get<Copy>(copy->cmd.op).src_bitmap;
                if (img.type == ImageType::LzRgb) {
                    auto dec = codec::lz_decode(std::get<EncodedImage>(img.content).data);
                    ASSERT_TRUE(dec.ok()) << dec.error().to_string();
                    EXPECT_EQ(dec->header.width, img.width);
                    EXPECT_EQ(dec->header.height, img.height);
                    ++lz_images;
                }
            }
        }
        ASSERT_TRUE(error.empty()) << error;
        if (ack_window && ++since_ack >= ack_window) {
            since_ack = 0;
            ASSERT_TRUE(display->send(MsgcAck{}));
        }
    }
    close(display_fd);
    close(main_fd);
    EXPECT_GE(surfaces, 1);
    EXPECT_GE(draws, 1);
    EXPECT_TRUE(mark);
    EXPECT_GE(lz_images, 1) << messages << " messages, none an LZ_RGB image";
}

}  // namespace
}  // namespace qxlbox::proto::wire
