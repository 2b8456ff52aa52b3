// The agent char-device interface: the byte pipe between a guest agent transport (the
// VDIPort device, hw/vdiport) and the SPICE server's agent channel (server/).
//
// Theory of operation (shared/spec/qxl-device.md §11): both directions carry the same byte
// stream, a sequence of chunks, each a VDIChunkHeader {u32 port, u32 size} followed by
// `size` payload bytes; payloads of one port concatenate into VDAgentMessages (20-byte
// header {u32 protocol = 1, u32 type, u64 opaque, u32 size} + data). Neither side may drop
// bytes, so both directions are flow controlled:
// - host -> guest: AgentPort::write() takes as many bytes as the device can buffer and
//   returns that count; when it took fewer than offered, the device later calls
//   AgentPeer::agent_writable() once it has room again.
// - guest -> host: the device offers bytes with AgentPeer::agent_data(), which returns how
//   many it took; the device keeps the rest (and stops draining the guest's ring, so the
//   guest waits) until the peer calls AgentPort::read_ready().
// The device validates the guest's chunk stream (port, size, message header) before any
// byte reaches the peer, and rejects malformed host chunks, logging the reason either way.
// AgentPort methods are thread-safe; AgentPeer methods are called on the emulation thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qxlbox::proto {

inline constexpr std::uint32_t VDP_CLIENT_PORT = 1;
inline constexpr std::uint32_t VDP_SERVER_PORT = 2;
inline constexpr std::uint32_t VDP_END_PORT = 3;
inline constexpr std::uint32_t VD_AGENT_PROTOCOL = 1;
inline constexpr std::uint32_t VD_AGENT_MAX_DATA_SIZE = 2048;
inline constexpr std::size_t kVdiChunkHeaderBytes = 8;
inline constexpr std::size_t kVdAgentMessageHeaderBytes = 20;

// Implemented by the device (the guest end of the pipe).
class AgentPort {
public:
    virtual ~AgentPort() = default;
    // Host -> guest bytes; returns how many were taken (0..size).
    virtual std::size_t write(const std::uint8_t* data, std::size_t size) = 0;
    // The peer can take guest -> host bytes again after refusing some.
    virtual void read_ready() = 0;
    // True while a guest driver has the port open.
    virtual bool guest_connected() const = 0;
};

// Implemented by the server's agent char device (the host end of the pipe).
class AgentPeer {
public:
    virtual ~AgentPeer() = default;
    // The guest opened (connected) or closed the port.
    virtual void agent_connected(AgentPort& port) = 0;
    virtual void agent_disconnected() = 0;
    // Guest -> host bytes, already validated as a chunk stream; returns how many were taken.
    virtual std::size_t agent_data(const std::uint8_t* data, std::size_t size) = 0;
    // The device has room for host -> guest bytes again after a short write().
    virtual void agent_writable() = 0;
};

}  // namespace qxlbox::proto
