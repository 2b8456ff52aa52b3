// Turning message definitions into marshal/demarshal functions and per-channel dispatch tables.
//
// A message definition is a struct with `static constexpr std::uint16_t kType`, a
// `static constexpr std::string_view kName` and a `fields(Io&)` template (body_io.h). A
// MessageSet is the compile-time table of the messages one channel accepts in one direction;
// demarshal() looks the type number up in it (duplicate numbers are a compile error).
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

#include "protocol/wire/body_io.h"

namespace qxlbox::proto::wire {

template <class M>
concept MessageDef = requires(M m, BodyReader& r) {
    { M::kType } -> std::convertible_to<std::uint16_t>;
    { M::kName } -> std::convertible_to<std::string_view>;
    m.fields(r);
};

// Marshals one message body (without the data header).
template <MessageDef M>
Result<Bytes> marshal(const M& msg) {
    BodyWriter w;
    // The writer only reads through the reference; fields() is shared with the reader, which
    // is why it is not const.
    const_cast<M&>(msg).fields(w);
    return w.finish();
}

// Demarshals a body as message M. Trailing bytes after the described fields are allowed (as
// in spice-common: pointer targets and padding live there).
template <MessageDef M>
Result<M> demarshal_as(ByteView body) {
    M msg{};
    BodyReader r(body);
    msg.fields(r);
    if (!r.ok()) return Error{r.error().code, std::string(M::kName) + ": " + r.error().what};
    return msg;
}

template <class... Ms>
struct MessageSet {
    using Variant = std::variant<Ms...>;
    template <class... More>
    using Plus = MessageSet<Ms..., More...>;

    static constexpr bool unique_types() {
        constexpr std::uint16_t types[] = {Ms::kType...};
        for (std::size_t i = 0; i < sizeof...(Ms); ++i)
            for (std::size_t j = i + 1; j < sizeof...(Ms); ++j)
                if (types[i] == types[j]) return false;
        return true;
    }

    static constexpr bool knows(std::uint16_t type) { return ((Ms::kType == type) || ...); }

    static constexpr std::string_view name(std::uint16_t type) {
        std::string_view n = "UNKNOWN";
        ((Ms::kType == type ? (n = Ms::kName, true) : false) || ...);
        return n;
    }

    static Result<Variant> demarshal(std::uint16_t type, ByteView body) {
        static_assert(unique_types(), "two messages of one set share a type number");
        std::optional<Result<Variant>> out;
        ((Ms::kType == type ? (out.emplace(demarshal_one<Ms>(body)), true) : false) || ...);
        if (!out) return make_error(ErrorCode::UnknownMessage, "message type " + std::to_string(type));
        return std::move(*out);
    }

    static std::uint16_t type_of(const Variant& v) {
        return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, v);
    }

    static Result<Bytes> marshal(const Variant& v) {
        return std::visit([](const auto& m) { return wire::marshal(m); }, v);
    }

private:
    template <class M>
    static Result<Variant> demarshal_one(ByteView body) {
        auto r = demarshal_as<M>(body);
        if (!r) return r.error();
        return Variant{std::in_place_type<M>, std::move(r).value()};
    }
};

// Fixed-body helpers for the many messages whose body is empty or just raw bytes.
template <std::uint16_t T>
struct EmptyBody {
    static constexpr std::uint16_t kType = T;
    template <class Io>
    void fields(Io&) {}
};

template <std::uint16_t T>
struct RawBody {
    static constexpr std::uint16_t kType = T;
    Bytes data;  // to the end of the message
    template <class Io>
    void fields(Io& io) {
        io.rest(data);
    }
};

}  // namespace qxlbox::proto::wire
