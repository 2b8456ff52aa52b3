// Little-endian byte writer and bounds-checked reader for SPICE message bodies.
//
// Theory of operation: every SPICE integer is little-endian and packed (spice-protocol.md §0).
// The writer appends to a growing vector and can patch a u32 later (pointer fields are body
// offsets that are known only once the pointed-to data is appended). The reader never reads
// past its end: a short read latches `ok() == false` and yields zeros, so a parser checks once
// at the end instead of after every field. This is the server's local marshalling helper
// until protocol/wire provides the shared message definitions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace qxlbox::server {

class ByteWriter {
public:
    void u8(std::uint8_t v) { buf_.push_back(v); }
    void u16(std::uint16_t v) { put(v, 2); }
    void u32(std::uint32_t v) { put(v, 4); }
    void u64(std::uint64_t v) { put(v, 8); }
    void i32(std::int32_t v) { put(static_cast<std::uint32_t>(v), 4); }
    void i16(std::int16_t v) { put(static_cast<std::uint16_t>(v), 2); }
    void bytes(std::span<const std::uint8_t> b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
    void zeros(std::size_t n) { buf_.insert(buf_.end(), n, 0); }
    // Reserves a u32 to fill in later; returns its position.
    std::size_t reserve_u32() {
        std::size_t pos = buf_.size();
        u32(0);
        return pos;
    }
    void patch_u32(std::size_t pos, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) buf_[pos + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    std::size_t size() const { return buf_.size(); }
    std::vector<std::uint8_t>& data() { return buf_; }
    std::vector<std::uint8_t> take() { return std::move(buf_); }

private:
    void put(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) buf_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    std::vector<std::uint8_t> buf_;
};

class ByteReader {
public:
    explicit ByteReader(std::span<const std::uint8_t> data) : data_(data) {}
    std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
    std::uint64_t u64() { return get(8); }
    std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
    std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
    std::span<const std::uint8_t> rest() {
        auto r = data_.subspan(pos_);
        pos_ = data_.size();
        return r;
    }
    std::size_t remaining() const { return data_.size() - pos_; }
    bool ok() const { return ok_; }

private:
    std::uint64_t get(std::size_t n) {
        if (data_.size() - pos_ < n) {
            ok_ = false;
            pos_ = data_.size();
            return 0;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
        pos_ += n;
        return v;
    }
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

}  // namespace qxlbox::server
