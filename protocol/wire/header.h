// SPICE data headers and message framing on a byte stream (spec §2).
//
// After a successful link each channel connection carries messages behind either the full
// 18-byte SpiceDataHeader (serial, type, size, sub_list) or the 6-byte mini header (type,
// size), mini iff both peers advertised the MINI_HEADER common capability. With mini headers
// serials are implicit: both ends count messages from 1. MessageFramer is an incremental
// parser: feed it whatever a read() returned and pull complete messages out; a declared body
// size above the channel's limit is an error before any of the body is buffered.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/wire/bytes.h"
#include "protocol/wire/enums.h"
#include "protocol/wire/messages.h"
#include "protocol/wire/result.h"

namespace qxlbox::proto::wire {

inline constexpr std::size_t kMiniHeaderBytes = 6;
inline constexpr std::size_t kFullHeaderBytes = 18;

// Largest client->server body spice-server accepts per channel (spec §10c); ours uses the same.
std::uint32_t max_client_message_bytes(ChannelType channel);
// Largest server->client body our client accepts: a raw 4K 32-bit frame plus headroom.
inline constexpr std::uint32_t kMaxServerMessageBytes = 64u * 1024 * 1024;

struct DataHeader {
    std::uint64_t serial = 0;  // full header only
    std::uint16_t type = 0;
    std::uint32_t size = 0;
    std::uint32_t sub_list = 0;  // full header only; 0 = none
};

// Appends a header to `out`.
void append_header(Bytes& out, bool mini_header, const DataHeader& h);
// Header plus body, ready to write.
Bytes frame_message(bool mini_header, std::uint64_t serial, std::uint16_t type, ByteView body,
                    std::uint32_t sub_list = 0);

// Marshals `msg` and puts a header in front of it.
template <MessageDef M>
Result<Bytes> frame(bool mini_header, std::uint64_t serial, const M& msg) {
    auto body = marshal(msg);
    if (!body) return body.error();
    return frame_message(mini_header, serial, M::kType, *body);
}

struct Frame {
    std::uint64_t serial = 0;  // from the full header, or counted (mini)
    std::uint16_t type = 0;
    std::uint32_t sub_list = 0;
    Bytes body;
};

class MessageFramer {
public:
    MessageFramer(bool mini_header, std::uint32_t max_body_bytes)
        : mini_header_(mini_header), max_body_bytes_(max_body_bytes) {}

    void feed(ByteView bytes);
    // A complete message, nullopt if more bytes are needed, or an Error (sticky: the stream
    // cannot be resynchronised after a bad header).
    std::optional<Result<Frame>> next();

    std::size_t buffered_bytes() const { return buffer_.size() - read_pos_; }
    bool failed() const { return error_.has_value(); }

private:
    bool mini_header_ = true;
    std::uint32_t max_body_bytes_ = 0;
    std::uint64_t implicit_serial_ = 0;
    Bytes buffer_;
    std::size_t read_pos_ = 0;
    std::optional<Error> error_;
};

// The sub-messages a full header's sub_list offset points at (or a LIST body, offset 0).
Result<std::vector<SubMessage>> parse_sub_message_list(ByteView body, std::uint32_t offset);

}  // namespace qxlbox::proto::wire
