// Bounds-checked little-endian reading of a SPICE message body. Every accessor returns a
// value (0 past the end) and latches a failure flag, so a parser reads a whole structure and
// checks ok() once; nothing ever reads outside the span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace qxlbox::client {

class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> body, std::size_t pos = 0) : body_(body), pos_(pos) {
        if (pos_ > body_.size()) fail();
    }

    bool ok() const { return ok_; }
    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return ok_ ? body_.size() - pos_ : 0; }
    std::span<const std::uint8_t> body() const { return body_; }

    std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(take(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(take(4)); }
    std::uint64_t u64() { return take(8); }
    std::int16_t i16() { return static_cast<std::int16_t>(u16()); }
    std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
    std::int64_t i64() { return static_cast<std::int64_t>(u64()); }

    // `n` bytes at the cursor; an empty span (and failure) if fewer remain.
    std::span<const std::uint8_t> bytes(std::size_t n) {
        if (!ok_ || n > body_.size() - pos_) {
            fail();
            return {};
        }
        auto out = body_.subspan(pos_, n);
        pos_ += n;
        return out;
    }
    std::span<const std::uint8_t> rest() { return bytes(remaining()); }
    void skip(std::size_t n) { bytes(n); }

    // A reader positioned at a body offset (SPICE pointers are offsets from the body start).
    Reader at(std::uint32_t offset) const {
        Reader r(body_, offset);
        if (!ok_) r.fail();
        return r;
    }

    void fail() { ok_ = false; }

private:
    std::uint64_t take(unsigned n) {
        if (!ok_ || n > body_.size() - pos_) {
            fail();
            return 0;
        }
        std::uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= std::uint64_t{body_[pos_ + i]} << (8 * i);
        pos_ += n;
        return v;
    }

    std::span<const std::uint8_t> body_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

// Little-endian appends for client->server messages.
class Writer {
public:
    Writer& u8(std::uint8_t v) { return put(v, 1); }
    Writer& u16(std::uint16_t v) { return put(v, 2); }
    Writer& u32(std::uint32_t v) { return put(v, 4); }
    Writer& u64(std::uint64_t v) { return put(v, 8); }
    Writer& i32(std::int32_t v) { return put(static_cast<std::uint32_t>(v), 4); }
    Writer& i64(std::int64_t v) { return put(static_cast<std::uint64_t>(v), 8); }
    Writer& bytes(std::span<const std::uint8_t> b) {
        out_.insert(out_.end(), b.begin(), b.end());
        return *this;
    }
    const std::vector<std::uint8_t>& data() const { return out_; }
    std::span<const std::uint8_t> span() const { return {out_.data(), out_.size()}; }

private:
    Writer& put(std::uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
        return *this;
    }
    std::vector<std::uint8_t> out_;
};

}  // namespace qxlbox::client
