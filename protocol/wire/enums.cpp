#include "protocol/wire/enums.h"

namespace qxlbox::proto::wire {

const char* channel_type_name(ChannelType type) {
    switch (type) {
    case ChannelType::Main: return "main";
    case ChannelType::Display: return "display";
    case ChannelType::Inputs: return "inputs";
    case ChannelType::Cursor: return "cursor";
    case ChannelType::Playback: return "playback";
    case ChannelType::Record: return "record";
    case ChannelType::Tunnel: return "tunnel";
    case ChannelType::Smartcard: return "smartcard";
    case ChannelType::Usbredir: return "usbredir";
    case ChannelType::Port: return "port";
    case ChannelType::Webdav: return "webdav";
    }
    return "unknown";
}

const char* link_error_name(LinkError e) {
    switch (e) {
    case LinkError::Ok: return "OK";
    case LinkError::Error: return "ERROR";
    case LinkError::InvalidMagic: return "INVALID_MAGIC";
    case LinkError::InvalidData: return "INVALID_DATA";
    case LinkError::VersionMismatch: return "VERSION_MISMATCH";
    case LinkError::NeedSecured: return "NEED_SECURED";
    case LinkError::NeedUnsecured: return "NEED_UNSECURED";
    case LinkError::PermissionDenied: return "PERMISSION_DENIED";
    case LinkError::BadConnectionId: return "BAD_CONNECTION_ID";
    case LinkError::ChannelNotAvailable: return "CHANNEL_NOT_AVAILABLE";
    }
    return "UNKNOWN";
}

}  // namespace qxlbox::proto::wire
