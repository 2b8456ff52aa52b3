// A scripted SPICE server for client tests: listens on 127.0.0.1 (ephemeral port), links each
// connection with protocol/wire's LinkServer, runs the main channel (INIT, then CHANNELS_LIST
// after ATTACH_CHANNELS) and hands display/cursor/inputs connections to per-test handlers.
// Every wait is bounded; the destructor stops all threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/net.h"
#include "protocol/wire/header.h"
#include "protocol/wire/link.h"
#include "protocol/wire/messages.h"

namespace qxlbox::client::test {

namespace wire = qxlbox::proto::wire;

// The server end of one linked channel connection.
class FakePeer {
public:
    FakePeer(int fd, bool mini_header, const std::atomic<bool>& stop);
    bool mini_header() const { return mini_header_; }

    bool send_raw(wire::ByteView bytes);
    bool send(std::uint16_t type, wire::ByteView body);
    template <class M>
    bool send(const M& message) {
        auto body = wire::marshal(message);
        return body && send(M::kType, *body);
    }
    // Feeds bytes that arrived with the ticket.
    void feed(wire::ByteView bytes) { framer_.feed(bytes); }
    // The next client message, or nullopt on timeout, close or a framing error.
    std::optional<wire::Frame> receive(int timeout_ms);
    // Waits for a message of `type`, collecting the types of all messages seen on the way.
    std::optional<wire::Frame> receive_type(std::uint16_t type, int timeout_ms, std::vector<std::uint16_t>* seen);
    // Reads until the client closes (true) or the timeout passes; records message types.
    bool drain_until_closed(int timeout_ms, std::vector<std::uint16_t>* seen = nullptr);

private:
    int fd_ = -1;
    bool mini_header_ = true;
    const std::atomic<bool>& stop_;
    wire::MessageFramer framer_;
    bool closed_ = false;
};

struct FakeServerOptions {
    bool ticketing = false;
    std::string password;
    bool mini_header = true;
    std::uint32_t session_id = 0x5eed;
    std::vector<wire::ChannelId> channels{{2, 0}};
    wire::CapabilitySet display_caps;
    // Runs on the server's thread for that connection; the peer closes when it returns.
    std::function<void(FakePeer&)> display;
    std::function<void(FakePeer&)> cursor;
    std::function<void(FakePeer&)> inputs;
    // Replaces the whole main channel script (after the link).
    std::function<void(FakePeer&)> main;
};

class FakeServer {
public:
    explicit FakeServer(FakeServerOptions options);
    ~FakeServer();
    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    std::uint16_t port() const { return port_; }
    Endpoint endpoint() const { return {"127.0.0.1", port_}; }

    // What the main channel received (message types, in order).
    std::vector<std::uint16_t> main_received() const;
    // Link results the server gave (channel type, result), in order.
    std::vector<std::pair<int, wire::LinkError>> link_results() const;

    static std::shared_ptr<const wire::RsaKeyPair> shared_key();

private:
    void accept_loop();
    void serve(int fd);
    void run_main(FakePeer& peer);

    FakeServerOptions options_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::vector<std::thread> workers_;
    std::vector<int> fds_;
    std::vector<std::uint16_t> main_received_;
    std::vector<std::pair<int, wire::LinkError>> link_results_;
};

}  // namespace qxlbox::client::test
