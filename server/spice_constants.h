// SPICE 2.2 numbers the server uses: channel types, message types, capabilities, link errors.
//
// Theory of operation: these restate spice-protocol.md §1-§7 as named constants so the channel
// code reads like the spec. Server-to-client ("Msg") and client-to-server ("Msgc") numbering
// are separate spaces. This is the server's local copy until protocol/wire provides the shared
// definitions; the values are fixed by the protocol and cannot drift.
#pragma once

#include <cstdint>

namespace qxlbox::server::spice {

inline constexpr std::uint32_t kLinkMagic = 0x51444552;  // "REDQ"
inline constexpr std::uint32_t kVersionMajor = 2;
inline constexpr std::uint32_t kVersionMinor = 2;
inline constexpr std::size_t kLinkHeaderSize = 16;
inline constexpr std::size_t kLinkMessSize = 18;
inline constexpr std::size_t kLinkReplySize = 178;
inline constexpr std::size_t kPubKeySize = 162;
inline constexpr std::size_t kTicketSize = 128;
inline constexpr std::size_t kMiniHeaderSize = 6;
inline constexpr std::size_t kFullHeaderSize = 18;

enum class ChannelType : std::uint8_t { Main = 1, Display = 2, Inputs = 3, Cursor = 4 };

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

// Common capabilities (bit numbers).
inline constexpr unsigned kCapAuthSelection = 0;
inline constexpr unsigned kCapAuthSpice = 1;
inline constexpr unsigned kCapAuthSasl = 2;
inline constexpr unsigned kCapMiniHeader = 3;
// Channel capabilities.
inline constexpr unsigned kMainCapNameAndUuid = 1;
inline constexpr unsigned kMainCapAgentConnectedTokens = 2;
inline constexpr unsigned kDisplayCapMonitorsConfig = 1;
inline constexpr unsigned kInputsCapKeyScancode = 0;

inline constexpr std::uint32_t kAuthMechanismSpice = 1;

// Common messages.
namespace msg {
inline constexpr std::uint16_t kSetAck = 3;
inline constexpr std::uint16_t kPing = 4;
inline constexpr std::uint16_t kDisconnecting = 6;
inline constexpr std::uint16_t kNotify = 7;
inline constexpr std::uint16_t kList = 8;
}  // namespace msg
namespace msgc {
inline constexpr std::uint16_t kAckSync = 1;
inline constexpr std::uint16_t kAck = 2;
inline constexpr std::uint16_t kPong = 3;
inline constexpr std::uint16_t kMigrateFlushMark = 4;
inline constexpr std::uint16_t kMigrateData = 5;
inline constexpr std::uint16_t kDisconnecting = 6;
}  // namespace msgc

namespace main_msg {
inline constexpr std::uint16_t kInit = 103;
inline constexpr std::uint16_t kChannelsList = 104;
inline constexpr std::uint16_t kMouseMode = 105;
inline constexpr std::uint16_t kMultiMediaTime = 106;
inline constexpr std::uint16_t kAgentConnected = 107;
inline constexpr std::uint16_t kAgentDisconnected = 108;
inline constexpr std::uint16_t kAgentData = 109;
inline constexpr std::uint16_t kAgentToken = 110;
inline constexpr std::uint16_t kName = 113;
inline constexpr std::uint16_t kUuid = 114;
inline constexpr std::uint16_t kAgentConnectedTokens = 115;
}  // namespace main_msg
namespace main_msgc {
inline constexpr std::uint16_t kClientInfo = 101;
inline constexpr std::uint16_t kMigrateConnected = 102;
inline constexpr std::uint16_t kMigrateConnectError = 103;
inline constexpr std::uint16_t kAttachChannels = 104;
inline constexpr std::uint16_t kMouseModeRequest = 105;
inline constexpr std::uint16_t kAgentStart = 106;
inline constexpr std::uint16_t kAgentData = 107;
inline constexpr std::uint16_t kAgentToken = 108;
}  // namespace main_msgc

inline constexpr std::uint32_t kMouseModeServer = 1;
inline constexpr std::uint32_t kMouseModeClient = 2;

namespace display_msg {
inline constexpr std::uint16_t kMark = 102;
inline constexpr std::uint16_t kReset = 103;
inline constexpr std::uint16_t kCopyBits = 104;
inline constexpr std::uint16_t kInvalList = 105;
inline constexpr std::uint16_t kInvalAllPixmaps = 106;
inline constexpr std::uint16_t kInvalPalette = 107;
inline constexpr std::uint16_t kInvalAllPalettes = 108;
inline constexpr std::uint16_t kDrawFill = 302;
inline constexpr std::uint16_t kDrawOpaque = 303;
inline constexpr std::uint16_t kDrawCopy = 304;
inline constexpr std::uint16_t kDrawBlend = 305;
inline constexpr std::uint16_t kDrawBlackness = 306;
inline constexpr std::uint16_t kDrawWhiteness = 307;
inline constexpr std::uint16_t kDrawInvers = 308;
inline constexpr std::uint16_t kDrawRop3 = 309;
inline constexpr std::uint16_t kDrawStroke = 310;
inline constexpr std::uint16_t kDrawText = 311;
inline constexpr std::uint16_t kDrawTransparent = 312;
inline constexpr std::uint16_t kDrawAlphaBlend = 313;
inline constexpr std::uint16_t kSurfaceCreate = 314;
inline constexpr std::uint16_t kSurfaceDestroy = 315;
inline constexpr std::uint16_t kMonitorsConfig = 317;
inline constexpr std::uint16_t kDrawComposite = 318;
}  // namespace display_msg
namespace display_msgc {
inline constexpr std::uint16_t kInit = 101;
inline constexpr std::uint16_t kStreamReport = 102;
inline constexpr std::uint16_t kPreferredCompression = 103;
inline constexpr std::uint16_t kPreferredVideoCodecType = 105;
}  // namespace display_msgc

namespace cursor_msg {
inline constexpr std::uint16_t kInit = 101;
inline constexpr std::uint16_t kReset = 102;
inline constexpr std::uint16_t kSet = 103;
inline constexpr std::uint16_t kMove = 104;
inline constexpr std::uint16_t kHide = 105;
inline constexpr std::uint16_t kTrail = 106;
inline constexpr std::uint16_t kInvalOne = 107;
inline constexpr std::uint16_t kInvalAll = 108;
}  // namespace cursor_msg
inline constexpr std::uint16_t kCursorFlagNone = 1;
inline constexpr std::uint16_t kCursorFlagCacheMe = 2;
inline constexpr std::uint16_t kCursorFlagFromCache = 4;

namespace inputs_msg {
inline constexpr std::uint16_t kInit = 101;
inline constexpr std::uint16_t kKeyModifiers = 102;
inline constexpr std::uint16_t kMouseMotionAck = 111;
}  // namespace inputs_msg
namespace inputs_msgc {
inline constexpr std::uint16_t kKeyDown = 101;
inline constexpr std::uint16_t kKeyUp = 102;
inline constexpr std::uint16_t kKeyModifiers = 103;
inline constexpr std::uint16_t kKeyScancode = 104;
inline constexpr std::uint16_t kMouseMotion = 111;
inline constexpr std::uint16_t kMousePosition = 112;
inline constexpr std::uint16_t kMousePress = 113;
inline constexpr std::uint16_t kMouseRelease = 114;
}  // namespace inputs_msgc
inline constexpr unsigned kMotionAckBunch = 4;

// Receive limits per channel (spice-protocol.md §10c); larger messages disconnect.
inline constexpr std::uint32_t kMaxDisplayMsgBytes = 1024;
inline constexpr std::uint32_t kMaxCursorMsgBytes = 1024;
inline constexpr std::uint32_t kMaxInputsMsgBytes = 2048;
inline constexpr std::uint32_t kMaxMainMsgBytes = 4096 + 11 * 2048;

inline constexpr std::uint32_t kAgentMaxDataSize = 2048;
inline constexpr std::uint32_t kAgentClientTokens = 10;
inline constexpr std::uint32_t kAgentTokensToSend = 5;

}  // namespace qxlbox::server::spice
