// ServerConfig::listen = false: the server renders for the device but opens no socket.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

using test::FakeDevice;
using test::rect_ltrb;
using test::solid_fill;

// Sockets this process has open, from /proc/self/fd.
int open_sockets() {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(entry.path(), ec);
        if (!ec && target.string().rfind("socket:", 0) == 0) ++n;
    }
    return n;
}

ServerConfig quiet(bool listen) {
    ServerConfig cfg;
    cfg.listen = listen;
    cfg.port = 0;
    cfg.log = [](const std::string&) {};
    return cfg;
}

TEST(ServerWithoutListener, OpensNoSocketAndReportsPortZero) {
    const int before = open_sockets();
    std::string error;
    auto server = SpiceServer::start(quiet(false), &error);
    ASSERT_TRUE(server) << error;
    EXPECT_EQ(server->port(), 0u);
    EXPECT_EQ(open_sockets(), before);
    server->stop();
}

TEST(ServerWithoutListener, ListeningServerDoesOpenOneSocket) {
    // The counterpart, so that the socket count above is known to see a listener.
    const int before = open_sockets();
    std::string error;
    auto server = SpiceServer::start(quiet(true), &error);
    ASSERT_TRUE(server) << error;
    EXPECT_NE(server->port(), 0u);
    EXPECT_EQ(open_sockets(), before + 1);
}

TEST(ServerWithoutListener, StillRendersUpdateArea) {
    FakeDevice dev;
    auto server = SpiceServer::start(quiet(false), nullptr);
    ASSERT_TRUE(server);
    server->attach(dev, proto::DeviceInfo{1, 1 << 20, "test"});
    dev.create_surface(*server, 0, 32, 16, true);
    ASSERT_TRUE(dev.push(*server, test::draw_cmd(solid_fill(0, rect_ltrb(0, 0, 8, 8), 0x123456))));
    auto px = server->update_area(0, rect_ltrb(0, 0, 32, 16));
    ASSERT_TRUE(px);
    std::uint32_t v = 0;
    std::memcpy(&v, px->data.data() + 4 * px->stride + 4 * 4, 4);
    EXPECT_EQ(v & 0xffffff, 0x123456u);
    std::memcpy(&v, px->data.data() + 4 * px->stride + 20 * 4, 4);
    EXPECT_EQ(v & 0xffffff, 0u);
    server->detach();
}

}  // namespace
}  // namespace qxlbox::server
