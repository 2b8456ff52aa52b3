// Server-side check against the real spice-gtk client: a minimal server built only from
// protocol/wire and protocol/codec serves one LZ_RGB image (spec §10a sequence) to
// spicy-screenshot, and the PPM it writes must equal the source pixels. This proves the link
// (key, reply, ticket), the framing, the DRAW_COPY layout and the LZ encoder against spice-gtk.
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
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/codec/lz.h"
#include "protocol/wire/header.h"
#include "protocol/wire/link.h"
#include "protocol/wire/messages.h"

extern char** environ;

namespace qxlbox::proto::wire {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint32_t kSessionId = 0x51c0ffee;

struct Connection {
    int fd = -1;
    std::unique_ptr<LinkServer> link;
    std::unique_ptr<MessageFramer> framer;
    bool mini = true;
    std::uint64_t serial = 0;
    ChannelType type = ChannelType::Main;
};

void send_bytes(int fd, const Bytes& b) {
    std::size_t done = 0;
    while (done < b.size()) {
        const ssize_t n = write(fd, b.data() + done, b.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

template <class M>
void send_message(Connection& c, const M& m) {
    auto body = marshal(m);
    ASSERT_TRUE(body.ok()) << body.error().to_string();
    send_bytes(c.fd, frame_message(c.mini, ++c.serial, M::kType, *body));
}

struct Picture {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    Bytes bgrx;
};

Picture make_picture() {
    Picture p{96, 64, {}};
    p.bgrx.resize(p.width * p.height * 4);
    for (std::uint32_t y = 0; y < p.height; ++y)
        for (std::uint32_t x = 0; x < p.width; ++x) {
            std::uint8_t* px = &p.bgrx[(y * p.width + x) * 4];
            px[0] = static_cast<std::uint8_t>(x * 2);                 // B: gradient
            px[1] = static_cast<std::uint8_t>(((x / 8 + y / 8) % 2) ? 0xc0 : 0x30);  // G: checker
            px[2] = static_cast<std::uint8_t>(y < 32 ? 0x20 : 0xe0);  // R: two bands
            px[3] = 0;
        }
    return p;
}

void serve_display(Connection& c, const Picture& pic) {
    MsgDisplaySurfaceCreate create;
    create.surface_id = 0;
    create.width = pic.width;
    create.height = pic.height;
    create.format = SurfaceFormat::XRGB32;
    create.flags = MsgDisplaySurfaceCreate::kFlagPrimary;
    send_message(c, create);

    auto lz = codec::lz_encode(codec::LzImageType::Rgb32, pic.width, pic.height, true, pic.bgrx, pic.width * 4);
    ASSERT_TRUE(lz.ok());
    auto image = std::make_shared<Image>();
    image->id = 1;
    image->type = ImageType::LzRgb;
    image->width = pic.width;
    image->height = pic.height;
    image->content = EncodedImage{std::move(*lz), nullptr, 0, 0};
    MsgDisplayDrawCopy draw;
    draw.cmd.surface_id = 0;
    draw.cmd.bbox = Rect{0, 0, static_cast<std::int32_t>(pic.height), static_cast<std::int32_t>(pic.width)};
    Copy copy;
    copy.src_bitmap = image;
    copy.src_area = draw.cmd.bbox;
    copy.rop_descriptor = rop::kOpPut;
    draw.cmd.op = copy;
    send_message(c, draw);
    send_message(c, MsgDisplayMark{});
}

// Runs the server until spicy-screenshot exits or the deadline passes; returns its status.
int run_server(int listen_fd, pid_t client, const Picture& pic, std::string& log) {
    std::vector<Connection> conns;
    auto key = RsaKeyPair::generate();
    if (!key.ok()) return -1;
    auto shared_key = std::make_shared<const RsaKeyPair>(std::move(key).value());
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
        int status = 0;
        if (waitpid(client, &status, WNOHANG) == client) {
            for (auto& c : conns) close(c.fd);
            return status;
        }
        std::vector<pollfd> fds{{listen_fd, POLLIN, 0}};
        for (auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
        poll(fds.data(), fds.size(), 50);
        if (fds[0].revents & POLLIN) {
            int fd = accept(listen_fd, nullptr, nullptr);
            if (fd >= 0) {
                LinkServerConfig cfg;
                cfg.ticketing_enabled = false;
                cfg.key = shared_key;
                cfg.channel_caps = [](ChannelType t, std::uint8_t id) -> std::optional<CapabilitySet> {
                    if ((t == ChannelType::Main || t == ChannelType::Display) && id == 0) return CapabilitySet{};
                    return std::nullopt;
                };
                conns.push_back({fd, std::make_unique<LinkServer>(cfg), nullptr, true, 0, ChannelType::Main});
            }
        }
        // Connections accepted just now have no pollfd yet; they are polled next round.
        for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
            if (!(fds[i + 1].revents & (POLLIN | POLLHUP))) continue;
            auto& c = conns[i];
            Bytes buf(65536);
            const ssize_t n = read(c.fd, buf.data(), buf.size());
            if (n <= 0) continue;
            buf.resize(static_cast<std::size_t>(n));
            if (!c.framer) {
                c.link->feed(buf);
                if (c.link->state() == LinkServer::State::AwaitingDecision) {
                    const auto& peer = c.link->peer();
                    const bool ok = peer.channel_type == ChannelType::Main ? peer.connection_id == 0
                                                                           : peer.connection_id == kSessionId;
                    ok ? c.link->accept() : c.link->reject(LinkError::BadConnectionId);
                }
                send_bytes(c.fd, c.link->take_output());
                if (c.link->state() != LinkServer::State::Linked) continue;
                c.type = c.link->peer().channel_type;
                c.mini = c.link->mini_header();
                log += std::string("linked ") + channel_type_name(c.type) + (c.mini ? " mini\n" : " full\n");
                c.framer = std::make_unique<MessageFramer>(c.mini, max_client_message_bytes(c.type));
                buf = c.link->take_leftover();
                if (c.type == ChannelType::Main) {
                    MsgMainInit init;
                    init.session_id = kSessionId;
                    init.display_channels_hint = 1;
                    init.supported_mouse_modes = kMouseModeServer;
                    init.current_mouse_mode = kMouseModeServer;
                    init.agent_tokens = 10;
                    send_message(c, init);
                } else {
                    serve_display(c, pic);
                }
            }
            c.framer->feed(buf);
            while (auto f = c.framer->next()) {
                if (!f->ok()) break;
                log += std::string(channel_type_name(c.type)) + " got " +
                       std::string(message_name(c.type, Direction::ClientToServer, (*f)->type)) + "\n";
                if (c.type == ChannelType::Main && (*f)->type == MsgcMainAttachChannels::kType) {
                    MsgMainChannelsList list;
                    list.channels = {{static_cast<std::uint8_t>(ChannelType::Display), 0}};
                    send_message(c, list);
                }
            }
        }
    }
    kill(client, SIGKILL);
    waitpid(client, nullptr, 0);
    for (auto& c : conns) close(c.fd);
    return -1;
}

bool read_ppm(const std::string& path, Picture& out) {
    std::ifstream f(path, std::ios::binary);
    std::string magic;
    unsigned maxval = 0;
    if (!(f >> magic >> out.width >> out.height >> maxval) || magic != "P6" || maxval != 255) return false;
    f.get();
    Bytes rgb(out.width * out.height * 3);
    if (!f.read(reinterpret_cast<char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()))) return false;
    out.bgrx.assign(out.width * out.height * 4, 0);
    for (std::size_t i = 0; i < out.width * out.height; ++i) {
        out.bgrx[4 * i] = rgb[3 * i + 2];
        out.bgrx[4 * i + 1] = rgb[3 * i + 1];
        out.bgrx[4 * i + 2] = rgb[3 * i];
    }
    return true;
}

TEST(WireSpicyInterop, SpicyScreenshotDecodesOurLzImageExactly) {
    const int listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(listen_fd, 8), 0);
    ASSERT_EQ(getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    const std::string port = std::to_string(ntohs(a.sin_port));

    char tmpl[] = "/tmp/qxlbox-wire-spicy-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    const std::string out = dir + "/out.ppm";
    std::vector<std::string> args = {"spicy-screenshot", "-h", "127.0.0.1", "-p", port, "-o", out};
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, (dir + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    ASSERT_EQ(posix_spawnp(&pid, "spicy-screenshot", &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);

    const Picture pic = make_picture();
    std::string log;
    const int status = run_server(listen_fd, pid, pic, log);
    close(listen_fd);
    std::stringstream err;
    err << std::ifstream(dir + "/stderr").rdbuf();

    Picture got;
    const bool have_ppm = read_ppm(out, got);
    for (const char* f : {"/stdout", "/stderr", "/out.ppm"}) unlink((dir + f).c_str());
    rmdir(dir.c_str());

    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n" << log << err.str();
    ASSERT_TRUE(have_ppm) << log << err.str();
    EXPECT_EQ(got.width, pic.width);
    EXPECT_EQ(got.height, pic.height);
    EXPECT_TRUE(got.bgrx == pic.bgrx) << "pixels differ";
}

}  // namespace
}  // namespace qxlbox::proto::wire
