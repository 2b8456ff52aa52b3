#include "hw/vdiport/agent_stream.h"

#include <algorithm>

#include "protocol/agent_interface.h"

namespace qxlbox::hw::vdiport {

namespace {
std::uint32_t le32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
}  // namespace

void AgentStreamChecker::reset() {
    header_have_ = 0;
    chunk_port_ = 0;
    chunk_left_ = 0;
    message_left_ = {};
    msg_header_have_ = {};
    error_.clear();
}

bool AgentStreamChecker::feed(const std::uint8_t* data, std::size_t size) {
    std::size_t i = 0;
    while (i < size) {
        if (chunk_left_ == 0) {
            header_[header_have_++] = data[i++];
            if (header_have_ < header_.size()) continue;
            header_have_ = 0;
            chunk_port_ = le32(header_.data());
            const std::uint32_t chunk_size = le32(header_.data() + 4);
            if (chunk_port_ != proto::VDP_CLIENT_PORT && chunk_port_ != proto::VDP_SERVER_PORT) {
                error_ = "agent chunk: invalid port " + std::to_string(chunk_port_);
                return false;
            }
            if (chunk_size == 0 || chunk_size > max_chunk_bytes_) {
                error_ = "agent chunk: size " + std::to_string(chunk_size) + " outside 1.." +
                         std::to_string(max_chunk_bytes_);
                return false;
            }
            chunk_left_ = chunk_size;
            continue;
        }
        // Payload bytes: walk message boundaries of this port.
        const std::uint32_t port = chunk_port_;
        if (message_left_[port] == 0) {
            auto& mh = msg_header_[port];
            mh[msg_header_have_[port]++] = data[i++];
            --chunk_left_;
            if (msg_header_have_[port] < mh.size()) {
                if (chunk_left_ == 0) {
                    error_ = "agent message: header split across chunks";
                    return false;
                }
                continue;
            }
            msg_header_have_[port] = 0;
            const std::uint32_t protocol = le32(mh.data());
            const std::uint32_t msg_size = le32(mh.data() + 16);
            if (protocol != proto::VD_AGENT_PROTOCOL) {
                error_ = "agent message: protocol " + std::to_string(protocol) + " != 1";
                return false;
            }
            if (msg_size > max_message_bytes_) {
                error_ =
                    "agent message: size " + std::to_string(msg_size) + " above " + std::to_string(max_message_bytes_);
                return false;
            }
            message_left_[port] = msg_size;
            continue;
        }
        const std::uint64_t n = std::min<std::uint64_t>({chunk_left_, message_left_[port], size - i});
        i += static_cast<std::size_t>(n);
        chunk_left_ -= n;
        message_left_[port] -= n;
    }
    return true;
}

}  // namespace qxlbox::hw::vdiport
