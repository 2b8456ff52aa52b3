// Hostile clients: each is cut off with a log line, and the server still serves the next one.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <random>

#include "server/byte_io.h"
#include "server/spice_constants.h"
#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

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

std::vector<std::uint8_t> link_header(std::uint32_t magic, std::uint32_t major, std::uint32_t size) {
    ByteWriter w;
    w.u32(magic);
    w.u32(major);
    w.u32(2);
    w.u32(size);
    return w.take();
}

std::uint32_t reply_error(RawClient& c) {
    auto hdr = c.read_exact(16, 2s);
    if (!hdr) return 0xffffffff;
    auto body = c.read_exact(178, 2s);
    if (!body) return 0xfffffffe;
    ByteReader r(*body);
    return r.u32();
}

TEST(HostileClient, TruncatedLinkIsDroppedAfterTimeout) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    auto hdr = link_header(spice::kLinkMagic, 2, 30);
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
        auto mess = build_link_mess(0, spice::ChannelType::Main, 0, {0xb}, {});
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
    EXPECT_EQ(reply_error(c), static_cast<std::uint32_t>(spice::LinkError::InvalidMagic));
    EXPECT_TRUE(c.wait_closed(2s));
    EXPECT_TRUE(s.log_contains("bad link magic"));
    expect_next_client_works(s);
}

TEST(HostileClient, WrongMajorVersionGetsVersionMismatch) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(link_header(spice::kLinkMagic, 1, 18)));
    EXPECT_EQ(reply_error(c), static_cast<std::uint32_t>(spice::LinkError::VersionMismatch));
    EXPECT_TRUE(c.wait_closed(2s));
    expect_next_client_works(s);
}

TEST(HostileClient, InconsistentCapsGetInvalidData) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    auto mess = build_link_mess(0, spice::ChannelType::Main, 0, {0xb}, {});
    mess[16 + 6] = 0xff;  // num_common_caps far beyond the message
    ASSERT_TRUE(c.send_bytes(mess));
    EXPECT_EQ(reply_error(c), static_cast<std::uint32_t>(spice::LinkError::InvalidData));
    expect_next_client_works(s);
}

TEST(HostileClient, UndecryptableTicketIsPermissionDenied) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(build_link_mess(0, spice::ChannelType::Main, 0, {0xb}, {})));
    ASSERT_EQ(reply_error(c), 0u);
    c.read_exact(4 * 2, 2s);  // the reply's caps
    ByteWriter w;
    w.u32(1);
    std::mt19937 rng(1);
    for (int i = 0; i < 128; ++i) w.u8(static_cast<std::uint8_t>(rng()));
    ASSERT_TRUE(c.send_bytes(w.take()));
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
    EXPECT_EQ(c.link(spice::ChannelType::Main, 0, "wrong"), 7u);
    EXPECT_TRUE(s.wait_log("wrong password", 2s));
    RawClient next;
    EXPECT_NE(test::open_session(next, s.server->port(), "right"), 0u);
}

TEST(HostileClient, UnknownAuthMechanismIsRefused) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(build_link_mess(0, spice::ChannelType::Main, 0, {0xb}, {})));
    ASSERT_EQ(reply_error(c), 0u);
    c.read_exact(8, 2s);
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
    EXPECT_EQ(c.link(spice::ChannelType::Display, 12345, ""), 8u);
    expect_next_client_works(s);
}

TEST(HostileClient, UnavailableChannelIsClosedWithoutReply) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient c;
    ASSERT_TRUE(c.connect(s.server->port()));
    ASSERT_TRUE(c.send_bytes(build_link_mess(0, static_cast<spice::ChannelType>(5), 0, {0xb}, {})));
    EXPECT_TRUE(c.wait_closed(2s));
    EXPECT_TRUE(s.log_contains("unavailable channel"));
    expect_next_client_works(s);
}

TEST(HostileClient, OversizeMessageDisconnects) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    ByteWriter w;
    w.u16(spice::main_msgc::kAgentData);
    w.u32(1u << 30);
    ASSERT_TRUE(main.send_bytes(w.take()));
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
    ASSERT_EQ(display.link(spice::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display.send_msg(spice::display_msgc::kInit, std::vector<std::uint8_t>(1025, 0)));
    EXPECT_TRUE(display.wait_closed(2s));
    EXPECT_TRUE(s.wait_log("limit 1024", 1s));
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

TEST(HostileClient, TruncatedMessageBodyDisconnects) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    ASSERT_TRUE(main.send_msg(spice::main_msgc::kMouseModeRequest, {1}));  // needs 2 bytes
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
    ASSERT_EQ(display.link(spice::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display.send_msg(spice::display_msgc::kInit, std::vector<std::uint8_t>(14, 0)));
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
    ASSERT_EQ(display2.link(spice::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display2.send_msg(spice::display_msgc::kInit, std::vector<std::uint8_t>(14, 0)));
    EXPECT_TRUE(display2.wait_msg(spice::display_msg::kSurfaceCreate, 5s));
}

TEST(HostileClient, DisplayWithoutInitIsDropped) {
    auto s = test::start_server(quick_config());
    ASSERT_TRUE(s.server);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    ASSERT_EQ(display.link(spice::ChannelType::Display, sid, ""), 0u);
    EXPECT_TRUE(display.wait_closed(3s));
    EXPECT_TRUE(s.log_contains("no DISPLAY_INIT"));
}

}  // namespace
}  // namespace qxlbox::server
