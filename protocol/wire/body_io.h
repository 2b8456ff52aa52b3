// The two directions of one message definition.
//
// Theory of operation: every SPICE message body is described exactly once, as a function
// template `fields(Io& io)` (messages.h, draw_codec.h) that names the wire fields in order.
// Instantiated with BodyReader it demarshals, with BodyWriter it marshals; there is no second,
// hand-written copy of any layout (the role spice-common's generated marshallers and
// demarshallers play, spec §0 "conventions of the .proto language").
//
// The primitives map the .proto constructs:
//   io(x)                   integer or enum field of its C++ width, little-endian
//   io.count<W>(n)          a count field of wire width W (writer: checks that n fits)
//   io.array(v, n, min, f)  n inline elements; the reader first checks n*min <= bytes left
//   io.bytes(v, n)/rest(v)  inline byte arrays (length-prefixed / to the end of the body)
//   io.pointer(...)         a u32 offset from the body start (0 = NULL); the writer appends the
//                           target after the fixed part, in the order pointers appear, as
//                           spice-server does; the reader checks the offset against the body
//   io.check(c, code, why)  a validation rule, enforced when reading and when writing
//
// The reader never reads outside the body and bounds what it allocates: every array must fit in
// the remaining bytes, and the total it materialises (pointers may alias) is capped at a small
// multiple of the body size. Errors are sticky: after the first, every primitive is a no-op.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "protocol/wire/bytes.h"
#include "protocol/wire/result.h"

namespace qxlbox::proto::wire {

template <class T>
concept WireScalar = std::is_integral_v<T> || std::is_enum_v<T>;

class BodyReader {
public:
    static constexpr bool kReading = true;
    // Pointer targets may nest this deep (Image -> Palette is two; nothing legal needs more).
    static constexpr int kMaxPointerDepth = 4;

    explicit BodyReader(ByteView body, std::size_t pos = 0);

    bool ok() const { return !state_->error.has_value(); }
    const Error& error() const { return *state_->error; }
    std::size_t position() const { return pos_; }
    std::size_t remaining() const { return pos_ <= body_.size() ? body_.size() - pos_ : 0; }

    void fail(ErrorCode code, std::string what) {
        if (ok()) state_->error = Error{code, std::move(what)};
    }
    void check(bool cond, ErrorCode code, const char* what) {
        if (!cond) fail(code, what);
    }

    template <WireScalar T>
    void operator()(T& v) {
        if (!ok()) return;
        if (remaining() < sizeof(T)) return fail(ErrorCode::Truncated, "field past end of body");
        v = static_cast<T>(load_le<std::make_unsigned_t<underlying<T>>>(body_.data() + pos_));
        pos_ += sizeof(T);
    }

    template <class W>
    std::uint64_t count(std::size_t /*writer side only*/) {
        W n{};
        (*this)(n);
        return ok() ? static_cast<std::uint64_t>(n) : 0;
    }

    template <class T, class F>
    void array(std::vector<T>& v, std::uint64_t n, std::size_t min_elem_bytes, F&& each) {
        if (!ok()) return;
        if (min_elem_bytes == 0 || n > remaining() / min_elem_bytes)
            return fail(ErrorCode::Truncated, "array count exceeds the body");
        if (!charge(n * sizeof(T))) return;
        v.clear();
        v.resize(static_cast<std::size_t>(n));
        for (auto& e : v) {
            each(*this, e);
            if (!ok()) return;
        }
    }

    void bytes(Bytes& v, std::uint64_t n);
    void rest(Bytes& v);

    template <class F>
    void pointer(bool /*present*/, bool required, const char* what, F&& target) {
        std::uint32_t offset = 0;
        (*this)(offset);
        if (!ok()) return;
        if (offset == 0) {
            if (required) fail(ErrorCode::BadPointer, std::string("NULL ") + what);
            return;
        }
        if (offset > body_.size()) return fail(ErrorCode::BadPointer, std::string(what) + " offset past end");
        if (depth_ >= kMaxPointerDepth) return fail(ErrorCode::BadPointer, "pointers nested too deep");
        BodyReader sub(*this, offset);
        target(sub);
    }

private:
    template <class T>
    using underlying = typename std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>,
                                                   std::type_identity<T>>::type;
    struct Shared {
        std::optional<Error> error;
        std::uint64_t budget_bytes = 0;
    };
    BodyReader(const BodyReader& parent, std::size_t pos)
        : body_(parent.body_), pos_(pos), depth_(parent.depth_ + 1), state_(parent.state_) {}
    bool charge(std::uint64_t n);

    ByteView body_;
    std::size_t pos_ = 0;
    int depth_ = 0;
    std::shared_ptr<Shared> state_;
};

class BodyWriter {
public:
    static constexpr bool kReading = false;

    bool ok() const { return !error_.has_value(); }
    void fail(ErrorCode code, std::string what) {
        if (ok()) error_ = Error{code, std::move(what)};
    }
    void check(bool cond, ErrorCode code, const char* what) {
        if (!cond) fail(code, what);
    }

    template <WireScalar T>
    void operator()(const T& v) {
        put_le(out_, v);
    }

    template <class W>
    std::uint64_t count(std::size_t n) {
        if (n > std::numeric_limits<W>::max()) {
            fail(ErrorCode::InternalError, "count does not fit its wire field");
            return 0;
        }
        put_le(out_, static_cast<W>(n));
        return n;
    }

    template <class T, class F>
    void array(std::vector<T>& v, std::uint64_t n, std::size_t /*min*/, F&& each) {
        if (n != v.size()) return fail(ErrorCode::InternalError, "array size differs from its count");
        for (auto& e : v) each(*this, e);
    }

    void bytes(const Bytes& v, std::uint64_t n) {
        if (n != v.size()) return fail(ErrorCode::InternalError, "byte array size differs from its length");
        out_.insert(out_.end(), v.begin(), v.end());
    }
    void rest(const Bytes& v) { out_.insert(out_.end(), v.begin(), v.end()); }

    // `target` runs later, after the fixed part: it must capture only what outlives marshal().
    template <class F>
    void pointer(bool present, bool required, const char* what, F&& target) {
        if (!present) {
            if (required) fail(ErrorCode::InternalError, std::string("missing required ") + what);
            put_le<std::uint32_t>(out_, 0);
            return;
        }
        deferred_.push_back({out_.size(), std::function<void(BodyWriter&)>(std::forward<F>(target))});
        put_le<std::uint32_t>(out_, 0);
    }

    // Appends the pointer targets and returns the body.
    Result<Bytes> finish();

private:
    struct Deferred {
        std::size_t patch_at = 0;
        std::function<void(BodyWriter&)> write;
    };
    Bytes out_;
    std::deque<Deferred> deferred_;
    std::optional<Error> error_;
};

// Reader-side: the variant alternative T (created); writer-side: the alternative T if the
// variant holds it, else an error. Returns nullptr after an error.
template <class T, class Io, class V>
T* alternative(Io& io, V& v, const char* what) {
    if constexpr (Io::kReading) {
        return &v.template emplace<T>();
    } else {
        T* p = std::get_if<T>(&v);
        if (!p) io.fail(ErrorCode::InternalError, std::string(what) + ": content does not match its type");
        return p;
    }
}

}  // namespace qxlbox::proto::wire
