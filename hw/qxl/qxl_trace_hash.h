// Hash of the QXL device-boundary event stream (QxlTraceEvent), for `qxlbox run
// --trace-hash`: two runs of one guest under the virtual clock must give the same value.
//
// Theory of operation: every event is folded into a 64-bit FNV-1a hash as a fixed,
// host-independent byte encoding (kind, then cycles, a, b and the text length as
// little-endian 64-bit words, then the text bytes), so the value only depends on the events,
// never on host time, pointers or struct padding. FNV-1a is not collision resistant; it is a
// determinism check, not a security one.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "hw/qxl/qxl_device.h"

namespace qxlbox::hw::qxl {

class QxlTraceHasher {
public:
    void add(const QxlTraceEvent& e) {
        byte(static_cast<std::uint8_t>(e.kind));
        word(e.cycles);
        word(e.a);
        word(e.b);
        word(e.text.size());
        for (char c : e.text) byte(static_cast<std::uint8_t>(c));
        ++events_;
    }
    std::uint64_t value() const { return hash_; }
    std::uint64_t events() const { return events_; }
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
        return buf;
    }

private:
    void byte(std::uint8_t b) {
        hash_ ^= b;
        hash_ *= 0x100000001b3ull;
    }
    void word(std::uint64_t w) {
        for (int i = 0; i < 8; ++i) byte(static_cast<std::uint8_t>(w >> (8 * i)));
    }
    std::uint64_t hash_ = 0xcbf29ce484222325ull;
    std::uint64_t events_ = 0;
};

}  // namespace qxlbox::hw::qxl
