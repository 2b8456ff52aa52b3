// Validator for the agent byte stream (VDIChunkHeader + VDAgentMessage, §11.3).
//
// Theory of operation: bytes are fed in arbitrary pieces; the checker tracks where each
// chunk header and each message header lies and rejects a stream whose chunk port is not
// CLIENT or SERVER, whose chunk is empty or larger than the direction's limit, or whose
// message starts without a complete header, with a protocol other than 1, or with a size
// above the limit. After an error the caller discards what it buffered and calls reset().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace qxlbox::hw::vdiport {

class AgentStreamChecker {
public:
    AgentStreamChecker(std::uint32_t max_chunk_bytes, std::uint32_t max_message_bytes)
        : max_chunk_bytes_(max_chunk_bytes), max_message_bytes_(max_message_bytes) {}

    // Checks `size` more bytes; returns false (and sets error()) at the first bad byte.
    bool feed(const std::uint8_t* data, std::size_t size);
    void reset();
    const std::string& error() const { return error_; }
    // True when the stream ends on a chunk boundary.
    bool at_chunk_boundary() const { return header_have_ == 0 && chunk_left_ == 0; }

private:
    std::uint32_t max_chunk_bytes_;
    std::uint32_t max_message_bytes_;
    std::array<std::uint8_t, 8> header_{};
    std::size_t header_have_ = 0;
    std::uint32_t chunk_port_ = 0;
    std::uint64_t chunk_left_ = 0;
    // Per port (1 and 2): bytes left of the current message, and its partial header.
    std::array<std::uint64_t, 3> message_left_{};
    std::array<std::array<std::uint8_t, 20>, 3> msg_header_{};
    std::array<std::size_t, 3> msg_header_have_{};
    std::string error_;
};

}  // namespace qxlbox::hw::vdiport
