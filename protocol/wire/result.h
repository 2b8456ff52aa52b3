// Error values for everything that parses bytes from a peer: demarshalling, framing, link,
// codecs. A malformed message is an expected event, not a bug, so it is a value the caller
// inspects (and usually turns into a disconnect with a log line), never an exception or abort.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace qxlbox::proto::wire {

enum class ErrorCode {
    Truncated,        // a length, offset or count points past the end of the input
    BadValue,         // an enum, flag combination or switch value we do not accept
    BadPointer,       // a NULL offset where one is required, or an offset outside the body
    TooLarge,         // a message or count above the configured limit
    UnknownMessage,   // a type number the channel does not define
    Unsupported,      // a valid construct this implementation does not handle
    BadMagic,
    VersionMismatch,
    Crypto,           // RSA key or ticket operation failed
    PermissionDenied,
    InternalError,    // marshalling input that cannot be represented (e.g. a count too big)
};

const char* error_code_name(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::BadValue;
    std::string what;
    std::string to_string() const { return std::string(error_code_name(code)) + ": " + what; }
};

// Either a value or an Error (std::expected is C++23; this is the small subset we need).
template <class T>
class Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string what) { return Error{code, std::move(what)}; }

}  // namespace qxlbox::proto::wire
