#include "protocol/wire/header.h"

#include <string>

namespace qxlbox::proto::wire {

std::uint32_t max_client_message_bytes(ChannelType channel) {
    switch (channel) {
    case ChannelType::Display:
    case ChannelType::Cursor: return 1024;
    case ChannelType::Inputs: return 2048;
    case ChannelType::Main: return 4096 + 11 * 2048;  // AGENT_DATA chunks are up to 2048 bytes
    default: return 4096;
    }
}

void append_header(Bytes& out, bool mini_header, const DataHeader& h) {
    if (mini_header) {
        put_le(out, h.type);
        put_le(out, h.size);
    } else {
        put_le(out, h.serial);
        put_le(out, h.type);
        put_le(out, h.size);
        put_le(out, h.sub_list);
    }
}

Bytes frame_message(bool mini_header, std::uint64_t serial, std::uint16_t type, ByteView body, std::uint32_t sub_list) {
    Bytes out;
    out.reserve((mini_header ? kMiniHeaderBytes : kFullHeaderBytes) + body.size());
    append_header(out, mini_header, DataHeader{serial, type, static_cast<std::uint32_t>(body.size()), sub_list});
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

void MessageFramer::feed(ByteView bytes) {
    if (error_) return;
    if (read_pos_ > 0 && read_pos_ >= buffer_.size() / 2) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_pos_));
        read_pos_ = 0;
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

std::optional<Result<Frame>> MessageFramer::next() {
    if (error_) return Result<Frame>(*error_);
    const std::size_t header_bytes = mini_header_ ? kMiniHeaderBytes : kFullHeaderBytes;
    if (buffered_bytes() < header_bytes) return std::nullopt;
    const std::uint8_t* p = buffer_.data() + read_pos_;
    Frame f;
    std::uint32_t size = 0;
    if (mini_header_) {
        f.type = load_le<std::uint16_t>(p);
        size = load_le<std::uint32_t>(p + 2);
    } else {
        f.serial = load_le<std::uint64_t>(p);
        f.type = load_le<std::uint16_t>(p + 8);
        size = load_le<std::uint32_t>(p + 10);
        f.sub_list = load_le<std::uint32_t>(p + 14);
    }
    if (size > max_body_bytes_) {
        error_ = Error{ErrorCode::TooLarge, "message type " + std::to_string(f.type) + " of " + std::to_string(size) +
                                                " bytes exceeds the limit of " + std::to_string(max_body_bytes_)};
        return Result<Frame>(*error_);
    }
    if (!mini_header_ && f.sub_list != 0 && f.sub_list >= size) {
        error_ = Error{ErrorCode::BadPointer, "sub_list offset outside the message body"};
        return Result<Frame>(*error_);
    }
    if (buffered_bytes() - header_bytes < size) return std::nullopt;
    f.body.assign(p + header_bytes, p + header_bytes + size);
    read_pos_ += header_bytes + size;
    ++implicit_serial_;
    if (mini_header_) f.serial = implicit_serial_;
    return Result<Frame>(std::move(f));
}

Result<std::vector<SubMessage>> parse_sub_message_list(ByteView body, std::uint32_t offset) {
    if (offset > body.size()) return make_error(ErrorCode::BadPointer, "sub-message list offset past end");
    BodyReader r(body, offset);
    MsgList list;
    list.fields(r);
    if (!r.ok()) return r.error();
    return std::move(list.items);
}

}  // namespace qxlbox::proto::wire
