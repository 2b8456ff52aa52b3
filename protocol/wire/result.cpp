#include "protocol/wire/result.h"

namespace qxlbox::proto::wire {

const char* error_code_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::Truncated: return "truncated";
    case ErrorCode::BadValue: return "bad value";
    case ErrorCode::BadPointer: return "bad pointer";
    case ErrorCode::TooLarge: return "too large";
    case ErrorCode::UnknownMessage: return "unknown message";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::BadMagic: return "bad magic";
    case ErrorCode::VersionMismatch: return "version mismatch";
    case ErrorCode::Crypto: return "crypto";
    case ErrorCode::PermissionDenied: return "permission denied";
    case ErrorCode::InternalError: return "internal error";
    }
    return "?";
}

}  // namespace qxlbox::proto::wire
