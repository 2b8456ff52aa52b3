// The server side of the agent char device (VDIPort), spice-protocol.md §4 "Agent data".
//
// Theory of operation: the client and the guest agent exchange a byte stream of VDAgentMessage
// records. Client AGENT_DATA bytes go to the device through AgentPort::to_agent (the device
// queues them for the guest); bytes the guest writes come back through
// SpiceServer::agent_to_client and are split into AGENT_DATA messages of at most 2048 bytes,
// spent against the client's tokens. This is the server's own definition; it adapts to
// protocol/agent_interface.h (branch qxl) once that lands.
#pragma once

#include <cstdint>
#include <span>

namespace qxlbox::server {

class AgentPort {
public:
    virtual ~AgentPort() = default;
    // Client-to-guest agent bytes. Returns false if the device cannot take them now; the
    // server then keeps the client's token unspent until a later retry.
    virtual bool to_agent(std::span<const std::uint8_t> bytes) = 0;
};

}  // namespace qxlbox::server
