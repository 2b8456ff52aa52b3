// SPICE 2.2 constants shared by the link stage and the channels (spec §1-§7): channel types,
// capability bit numbers, link error codes. Message type numbers live with the message
// definitions (messages.h) as each struct's kType.
#pragma once

#include <cstdint>

namespace qxlbox::proto::wire {

inline constexpr std::uint32_t kLinkMagic = 0x51444552;  // "REDQ"
inline constexpr std::uint32_t kVersionMajor = 2;
inline constexpr std::uint32_t kVersionMinor = 2;

enum class ChannelType : std::uint8_t {
    Main = 1,
    Display = 2,
    Inputs = 3,
    Cursor = 4,
    Playback = 5,
    Record = 6,
    Tunnel = 7,
    Smartcard = 8,
    Usbredir = 9,
    Port = 10,
    Webdav = 11,
};
const char* channel_type_name(ChannelType type);

enum class Direction : std::uint8_t { ServerToClient, ClientToServer };

enum class LinkError : std::uint32_t {
    Ok = 0,
    Error = 1,
    InvalidMagic = 2,
    InvalidData = 3,
    VersionMismatch = 4,
    NeedSecured = 5,
    NeedUnsecured = 6,
    PermissionDenied = 7,
    BadConnectionId = 8,
    ChannelNotAvailable = 9,
};
const char* link_error_name(LinkError e);

// Common capabilities (bit numbers).
namespace common_cap {
inline constexpr unsigned kProtocolAuthSelection = 0;
inline constexpr unsigned kAuthSpice = 1;
inline constexpr unsigned kAuthSasl = 2;
inline constexpr unsigned kMiniHeader = 3;
}  // namespace common_cap

namespace main_cap {
inline constexpr unsigned kSemiSeamlessMigrate = 0;
inline constexpr unsigned kNameAndUuid = 1;
inline constexpr unsigned kAgentConnectedTokens = 2;
inline constexpr unsigned kSeamlessMigrate = 3;
}  // namespace main_cap

namespace display_cap {
inline constexpr unsigned kSizedStream = 0;
inline constexpr unsigned kMonitorsConfig = 1;
inline constexpr unsigned kComposite = 2;
inline constexpr unsigned kA8Surface = 3;
inline constexpr unsigned kStreamReport = 4;
inline constexpr unsigned kLz4Compression = 5;
inline constexpr unsigned kPrefCompression = 6;
inline constexpr unsigned kGlScanout = 7;
inline constexpr unsigned kMultiCodec = 8;
inline constexpr unsigned kCodecMjpeg = 9;
inline constexpr unsigned kCodecVp8 = 10;
inline constexpr unsigned kCodecH264 = 11;
inline constexpr unsigned kPrefVideoCodecType = 12;
inline constexpr unsigned kCodecVp9 = 13;
inline constexpr unsigned kCodecH265 = 14;
}  // namespace display_cap

namespace inputs_cap {
inline constexpr unsigned kKeyScancode = 0;
}

// SpiceLinkAuthMechanism values.
inline constexpr std::uint32_t kAuthMechanismSpice = 1;
inline constexpr std::uint32_t kAuthMechanismSasl = 2;

// Mouse modes (MAIN_INIT, MOUSE_MODE).
inline constexpr std::uint32_t kMouseModeServer = 1;
inline constexpr std::uint32_t kMouseModeClient = 2;

}  // namespace qxlbox::proto::wire
