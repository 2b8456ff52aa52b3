// One SPICE channel connection after a successful link (spice-protocol.md §2, §3): data
// message framing (mini or full headers) and sub-message lists through protocol/wire, and the
// common messages every channel shares: SET_ACK/ACK_SYNC/ACK windows, PING/PONG (id and
// timestamp echoed, padding dropped), WAIT_FOR_CHANNELS, NOTIFY, DISCONNECTING. Channel types
// derive from it and handle their own messages, demarshalled with the shared definitions of
// protocol/wire/messages.h. All input is bounded: a header announcing more than
// wire::kMaxServerMessageBytes ends the channel with an error.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "client/net.h"
#include "protocol/wire/header.h"
#include "protocol/wire/messages.h"

namespace qxlbox::client {

namespace wire = qxlbox::proto::wire;
using wire::ChannelType;
// Client output waiting for a server that does not read: beyond this the channel fails.
inline constexpr std::size_t kMaxPendingOutputBytes = 1u << 20;
// How long WAIT_FOR_CHANNELS may hold a channel before we give up on the server.
inline constexpr int kWaitForChannelsLimitMs = 10000;

// What a channel needs from the session that owns it.
class ChannelHost {
public:
    virtual ~ChannelHost() = default;
    virtual void log(const std::string& line) = 0;
    // Number of messages received so far on channel (type, id); 0 if it does not exist.
    virtual std::uint64_t received_serial(std::uint8_t type, std::uint8_t id) = 0;
};

class Channel {
public:
    Channel(ChannelType type, std::uint8_t id, std::unique_ptr<Socket> socket, bool mini_header, ChannelHost& host);
    // Takes bytes as if read from the socket (the link leftover, and the fuzz target).
    void receive(wire::ByteView bytes);
    virtual ~Channel() = default;
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    ChannelType type() const { return type_; }
    std::uint8_t id() const { return id_; }
    std::string name() const;
    int fd() const { return socket_->fd(); }
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    std::uint64_t received_serial() const { return received_serial_; }
    std::uint64_t acks_sent() const { return acks_sent_; }
    std::uint64_t pongs_sent() const { return pongs_sent_; }

    bool wants_read() const { return !failed() && !waiting(); }
    bool wants_write() const { return !failed() && !out_.empty(); }
    // Poll-loop entry points; after an error the channel stays failed with a reason.
    void on_readable();
    void on_writable();
    // Re-runs buffered messages held by WAIT_FOR_CHANNELS.
    void resume();

    // Queues one client->server message (a definition from protocol/wire/messages.h).
    template <class M>
    void send_message(const M& message) {
        auto body = wire::marshal(message);
        if (!body) {
            fail("cannot marshal " + std::string(M::kName) + ": " + body.error().to_string());
            return;
        }
        send_raw(M::kType, *body);
    }

protected:
    // A channel-specific message (everything but the common ones). Return false after fail()
    // for a fatal problem; an unknown type should call report_unknown() and return true.
    virtual bool handle_message(std::uint16_t type, wire::ByteView body) = 0;
    void fail(const std::string& why);
    void report_once(const std::string& key, const std::string& text);
    void report_unknown(std::uint16_t type);
    ChannelHost& host() { return host_; }

private:
    bool waiting() const { return !waits_.empty(); }
    bool waits_satisfied();
    void process_buffer();
    void send_raw(std::uint16_t type, wire::ByteView body);
    bool dispatch(std::uint16_t type, wire::ByteView body);
    bool dispatch_list(wire::ByteView body, std::uint32_t offset);
    bool handle_common(std::uint16_t type, wire::ByteView body);

    ChannelType type_;
    std::uint8_t id_ = 0;
    std::unique_ptr<Socket> socket_;
    bool mini_header_ = true;
    ChannelHost& host_;
    std::string error_;

    wire::MessageFramer framer_;
    std::vector<std::uint8_t> out_;
    std::uint64_t send_serial_ = 0;
    // While a batch of received messages is handled, replies are written once at the end.
    bool batching_ = false;
    std::uint64_t received_serial_ = 0;

    std::uint32_t ack_window_ = 0;
    std::uint32_t ack_countdown_ = 0;
    std::uint64_t acks_sent_ = 0;
    std::uint64_t pongs_sent_ = 0;

    std::vector<wire::ChannelWait> waits_;
    Clock::time_point wait_deadline_{};
    std::set<std::string> reported_;
};

}  // namespace qxlbox::client
