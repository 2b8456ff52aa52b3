// Client side of the SPICE link stage (spice-protocol.md §1): drives protocol/wire's sans-IO
// LinkClient over a socket with a deadline. libspice-server decrypts the ticket even with
// ticketing disabled (§10c), so LinkClient always sends a proper RSA-OAEP ticket (an empty
// password as one NUL byte).
#pragma once

#include <cstdint>
#include <string>

#include "client/net.h"
#include "protocol/wire/link.h"

namespace qxlbox::client {

namespace wire = qxlbox::proto::wire;

struct LinkRequest {
    std::uint32_t connection_id = 0;
    wire::ChannelType channel_type = wire::ChannelType::Main;
    std::uint8_t channel_id = 0;
    std::string password;
};

struct LinkResult {
    bool mini_header = false;
    wire::CapabilitySet server_common_caps;
    wire::CapabilitySet server_channel_caps;
    wire::Bytes leftover;  // data-stage bytes that arrived with the link result
};

// Runs the whole link exchange on a connected socket, advertising the client capabilities
// of protocol/wire for the channel. On failure `error` says why (with the server's link error).
bool link_channel(Socket& socket, const LinkRequest& request, Clock::time_point deadline, LinkResult& result,
                  std::string& error);

}  // namespace qxlbox::client
