// Hostile clients: each is cut off with a log line, and the server still serves the next one.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <random>

#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

namespace wire = proto::wire;
using namespace std::chrono_literals;
using test::RawClient;

ServerConfig quick_config() {
    ServerConfig cfg;
    cfg.stall_timeout = 400ms;
    cfg.link_timeout = 400ms;
    cfg.display_init_timeout = 400ms;
    return cfg;
}

// The server still completes a whole session after the bad client.
void expect_next_client_works(const test::LoggedServer& s) {
    RawClient next;
    EXPECT_NE(test::open_session(next, s.server->port()), 0u);
}

// A link header with chosen fields, as a hostile client may send it.
std::vector<std::uint8_t> link_header(std::uint32_t magic, std::uint32_t major, std::uint32_t size) {
    std::vector<std::uint8_t> out;
    wire::put_le(out, magic);
    wire::put_le(out, major);
    wire::put_le<std::uint32_t>(out, 2);
    wire::put_le(out, size);
    return out;
}

std::vector<std::uint8_t> main_link_mess() {
    wire::LinkMess mess;
    mess.channel_type = wire::ChannelType::Main;
    mess.common_caps = wire::default_common_caps();
    return wire::marshal_link_mess(mess);
}

// Reads the whole link reply (header, reply, caps) and returns its error code.
std::uint32_t reply_error(RawClient& c) {
    auto hdr = c.read_exact(wire::kLinkHeaderBytes, 2s);
    if (!hdr) return 0xffffffff;
    auto header = wire::parse_link_header(*hdr);
    if (!header || header->size > wire::kMaxLinkSizeBytes) return 0xfffffffc;
    auto body = c.read_exact(header->size, 2s);
    if (!body) return 0xfffffffe;
    auto reply = wire::parse_link_reply(*body);
    return reply ? static_cast<std::uint32_t>(reply->error) : 0xfffffffd;
}

TEST(HostileClient, TruncatedLinkIsDroppedAfterTimeout) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    auto hdr = link_header(wire::kLinkMagic, 2, 30);
    hdr.resize(10);
    ASSERT_TRUE(c.send_bytes(hdr));
    EXPECT_TRUE(c.wait_closed(3s));
    EXPECT_TRUE(s.wait_log("link not completed in time", 1s));
    expect_next_client_works(s);
}

TEST(HostileClient, TruncatedLinkFollowedByCloseIsLogged) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    {
        RawClient c;
        ASSERT_TRUE(c.connect(s.server->port()));
        auto mess = main_link_mess();
        mess.resize(mess.size() - 5);
        ASSERT_TRUE(c.send_bytes(mess));
    }
    EXPECT_TRUE(s.wait_log("peer closed", 2s));
    expect_next_client_works(s);
}

TEST(HostileClient, WrongMagicGetsInvalidMagicReply) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(link_header(0x50545448, 2, 18)));  // "HTTP"
    EXPECT_EQ(reply_error(c), static_cast<std::uint32_t>(wire::LinkError::InvalidMagic));
    EXPECT_TRUE(c.wait_closed(2s));
    EXPECT_TRUE(s.log_contains("link refused (INVALID_MAGIC)"));
    expect_next_client_works(s);
}

TEST(HostileClient, WrongMajorVersionGetsVersionMismatch) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(link_header(wire::kLinkMagic, 1, 18)));
    EXPECT_EQ(reply_error(c), static_cast<std::uint32_t>(wire::LinkError::VersionMismatch));
    EXPECT_TRUE(c.wait_closed(2s));
    expect_next_client_works(s);
}

TEST(HostileClient, InconsistentCapsGetInvalidData) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    auto mess = main_link_mess();
    mess[16 + 6] = 0xff;  // num_common_caps far beyond the message
    ASSERT_TRUE(c.send_bytes(mess));
    EXPECT_EQ(reply_error(c), static_cast<std::uint32_t>(wire::LinkError::InvalidData));
    expect_next_client_works(s);
}

TEST(HostileClient, UndecryptableTicketIsPermissionDenied) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(main_link_mess()));
    ASSERT_EQ(reply_error(c), 0u);
    std::vector<std::uint8_t> ticket;
    wire::put_le(ticket, wire::kAuthMechanismSpice);
    std::mt19937 rng(1);
    for (std::size_t i = 0; i < wire::kEncryptedTicketBytes; ++i) ticket.push_back(static_cast<std::uint8_t>(rng()));
    ASSERT_TRUE(c.send_bytes(ticket));
    auto result = c.read_exact(4, 2s);
    ASSERT_TRUE(result);
    EXPECT_EQ((*result)[0], 7);
    EXPECT_TRUE(c.wait_closed(2s));
    EXPECT_TRUE(s.log_contains("ticket does not decrypt"));
    expect_next_client_works(s);
}

TEST(HostileClient, WrongPasswordIsPermissionDenied) {
    auto cfg = quick_config();
    cfg.password = "right";
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    EXPECT_EQ(c.link(wire::ChannelType::Main, 0, "wrong"), 7u);
    EXPECT_TRUE(s.wait_log("wrong password", 2s));
    RawClient next;
    EXPECT_NE(test::open_session(next, s.server->port(), "right"), 0u);
}

TEST(HostileClient, UnknownAuthMechanismIsRefused) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(main_link_mess()));
    ASSERT_EQ(reply_error(c), 0u);
    ASSERT_TRUE(c.send_bytes({2, 0, 0, 0}));  // SASL
    auto result = c.read_exact(4, 2s);
    ASSERT_TRUE(result);
    EXPECT_EQ((*result)[0], 3);
    EXPECT_TRUE(c.wait_closed(2s));
    expect_next_client_works(s);
}

TEST(HostileClient, ChannelLinkWithUnknownSessionIdIsRefused) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    EXPECT_EQ(c.link(wire::ChannelType::Display, 12345, ""), 8u);
    expect_next_client_works(s);
}

TEST(HostileClient, UnavailableChannelIsClosedWithoutReply) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    wire::LinkMess mess;
    mess.channel_type = wire::ChannelType::Playback;
    mess.common_caps = wire::default_common_caps();
    ASSERT_TRUE(c.send_bytes(wire::marshal_link_mess(mess)));
    // Closed without a link reply, as spice-server does (spec §10c).
    EXPECT_FALSE(c.read_exact(1, 2s));
    EXPECT_TRUE(c.wait_closed(2s));
    EXPECT_TRUE(s.log_contains("unavailable channel"));
    expect_next_client_works(s);
}

TEST(HostileClient, OversizeMessageDisconnects) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    std::vector<std::uint8_t> header;
    wire::append_header(header, true, wire::DataHeader{0, wire::MsgcMainAgentData::kType, 1u << 30, 0});
    ASSERT_TRUE(main.send_bytes(header));
    EXPECT_TRUE(main.wait_closed(2s));
    EXPECT_TRUE(s.wait_log("oversize message", 1s));
    expect_next_client_works(s);
}

TEST(HostileClient, DisplayMessageOverTheDisplayLimitDisconnects) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    ASSERT_EQ(display.link(wire::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display.send_msg(wire::MsgcDisplayInit::kType, std::vector<std::uint8_t>(1025, 0)));
    EXPECT_TRUE(display.wait_closed(2s));
    EXPECT_TRUE(s.wait_log("limit of 1024", 1s));
}

TEST(HostileClient, UnknownMessageTypeDisconnects) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    ASSERT_TRUE(main.send_msg(999, {1, 2, 3}));
    EXPECT_TRUE(main.wait_closed(2s));
    EXPECT_TRUE(s.wait_log("unhandled main message type 999", 1s));
    expect_next_client_works(s);
}

TEST(HostileClient, DefinedButUnservedMessageDisconnects) {
    // MAIN_CLIENT_INFO is in the protocol, but spice-server drops clients that send it (§10c).
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    ASSERT_TRUE(main.send(wire::MsgcMainClientInfo{1 << 20}));
    EXPECT_TRUE(main.wait_closed(2s));
    EXPECT_TRUE(s.wait_log("unhandled main message type 101 (MAIN_CLIENT_INFO)", 1s));
    expect_next_client_works(s);
}

TEST(HostileClient, ArrayCountBeyondTheBodyDisconnects) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    ASSERT_EQ(display.link(wire::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display.send(wire::MsgcDisplayInit{}));
    // PREFERRED_VIDEO_CODEC_TYPE claiming 200 codecs in a 3-byte body.
    ASSERT_TRUE(display.send_msg(wire::MsgcDisplayPreferredVideoCodecType::kType, {200, 1, 2}));
    EXPECT_TRUE(display.wait_closed(2s));
    EXPECT_TRUE(s.wait_log("truncated message type 105", 1s));
    expect_next_client_works(s);
}

TEST(HostileClient, TruncatedMessageBodyDisconnects) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    ASSERT_TRUE(main.send_msg(wire::MsgcMainMouseModeRequest::kType, {1}));  // needs 2 bytes
    EXPECT_TRUE(main.wait_closed(2s));
    EXPECT_TRUE(s.wait_log("truncated message", 1s));
    expect_next_client_works(s);
}

TEST(HostileClient, ClientThatNeverReadsIsDropped) {
    auto cfg = quick_config();
    cfg.lz_images = false;
    test::FakeDevice dev;
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    // A noisy surface so the connect image (16 MiB as BITMAP) outgrows every socket buffer.
    const std::uint32_t w = 2048, h = 2048;
    dev.create_surface(*s.server, 0, w, h, true);
    dev.fill_noise(0, 3);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    int small = 4096;
    ::setsockopt(display.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ASSERT_EQ(display.link(wire::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display.send_msg(wire::MsgcDisplayInit::kType, std::vector<std::uint8_t>(14, 0)));
    EXPECT_TRUE(s.wait_log("client does not read", 5s));
    EXPECT_TRUE(display.wait_closed(5s)) << [&] {
        std::lock_guard lock(*s.log_m);
        std::string all;
        for (const auto& l : *s.lines) all += l + "\n";
        return all;
    }();
    // The session's main channel is unaffected, and a new display link works.
    RawClient display2;
    ASSERT_TRUE(display2.connect(s.server->port()));
    ASSERT_EQ(display2.link(wire::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display2.send_msg(wire::MsgcDisplayInit::kType, std::vector<std::uint8_t>(14, 0)));
    EXPECT_TRUE(display2.wait_msg(wire::MsgDisplaySurfaceCreate::kType, 5s));
}

TEST(HostileClient, DisplayWithoutInitIsDropped) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    ASSERT_EQ(display.link(wire::ChannelType::Display, sid, ""), 0u);
    EXPECT_TRUE(display.wait_closed(3s));
    EXPECT_TRUE(s.log_contains("no DISPLAY_INIT"));
}

}  // namespace
}  // namespace qxlbox::server
