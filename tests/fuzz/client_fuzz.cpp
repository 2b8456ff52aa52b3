// libFuzzer target: arbitrary server-to-client bytes on one client channel.
//
// Input byte 0 picks the channel (bits 0-1: main, display, cursor, inputs) and the header
// form (bit 2: full headers); the rest is the data stream after a successful link. The
// channel must turn every input into drawing, an ignored message or an error value: no
// crash, no sanitizer report, no unbounded allocation. Nothing is linked (the channel list is
// not followed); replies go to a socket pair nobody reads, which the client's own output
// limit bounds.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "client/channels.h"
#include "client/display_channel.h"
#include "client/session.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace qxlbox::client;
    if (size < 1) return 0;
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 0;
    SessionOptions options;
    options.follow_channels_list = false;
    options.log = [](const std::string&) {};
    Session session(options);
    const bool mini_header = (data[0] & 4) == 0;
    auto socket = Socket::adopt(fds[0]);
    std::unique_ptr<Channel> channel;
    switch (data[0] & 3) {
        case 0: channel = std::make_unique<MainChannel>(std::move(socket), mini_header, session); break;
        case 1: channel = std::make_unique<DisplayChannel>(0, std::move(socket), mini_header, session); break;
        case 2: channel = std::make_unique<CursorChannel>(0, std::move(socket), mini_header, session); break;
        default: channel = std::make_unique<InputsChannel>(std::move(socket), mini_header, session); break;
    }
    // Split the stream in two so partial messages across reads are exercised too.
    const std::size_t half = (size - 1) / 2;
    channel->receive(qxlbox::proto::wire::ByteView(data + 1, half));
    channel->receive(qxlbox::proto::wire::ByteView(data + 1 + half, size - 1 - half));
    channel.reset();
    ::close(fds[1]);
    return 0;
}
