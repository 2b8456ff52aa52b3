// Every SPICE 2.2 message of the base, main, display, cursor and inputs channels, in both
// directions, defined once (spec §3-§7; names follow spice.proto: Msg = server to client,
// Msgc = client to server). Each definition drives both marshal and demarshal (body_io.h);
// the MessageSets at the end are the per-channel, per-direction dispatch tables.
//
// Display draw messages carry a protocol::DrawCommand (surface_id, bbox, clip and the op
// alternative matching the message type); cursor messages carry a CursorShape. Not here:
// playback/record/smartcard/usbredir/port messages (other channels), SASL.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/draw.h"
#include "protocol/wire/draw_codec.h"
#include "protocol/wire/enums.h"
#include "protocol/wire/message_set.h"

namespace qxlbox::proto::wire {

// ---------------------------------------------------------------- shared pieces

struct ChannelWait {
    std::uint8_t channel_type = 0;
    std::uint8_t channel_id = 0;
    std::uint64_t message_serial = 0;
    template <class Io>
    void fields(Io& io) {
        io(channel_type);
        io(channel_id);
        io(message_serial);
    }
};

struct ChannelId {
    std::uint8_t type = 0;
    std::uint8_t id = 0;
    friend bool operator==(const ChannelId&, const ChannelId&) = default;
};

// One entry of a SpiceSubMessageList (spec §2).
struct SubMessage {
    std::uint16_t type = 0;
    Bytes data;
};

// DstInfo of the migration messages: strings are NUL-terminated, sizes include the NUL.
struct MigrationDstInfo {
    std::uint16_t port = 0;
    std::uint16_t sport = 0;
    Bytes host;
    Bytes cert_subject;
    template <class Io>
    void fields(Io& io) {
        io(port);
        io(sport);
        auto host_n = io.template count<std::uint32_t>(host.size());
        io.pointer(true, true, "host_data", [h = &host, host_n](auto& s) { s.bytes(*h, host_n); });
        auto cert_n = io.template count<std::uint32_t>(cert_subject.size());
        io.pointer(!cert_subject.empty(), false, "cert_subject_data",
                   [c = &cert_subject, cert_n](auto& s) { s.bytes(*c, cert_n); });
    }
};

// ---------------------------------------------------------------- base, server -> client

struct MsgMigrate {
    static constexpr std::uint16_t kType = 1;
    static constexpr std::string_view kName = "MIGRATE";
    std::uint32_t flags = 0;
    template <class Io>
    void fields(Io& io) {
        io(flags);
    }
};
struct MsgMigrateData : RawBody<2> {
    static constexpr std::string_view kName = "MIGRATE_DATA";
};
struct MsgSetAck {
    static constexpr std::uint16_t kType = 3;
    static constexpr std::string_view kName = "SET_ACK";
    std::uint32_t generation = 0;
    std::uint32_t window = 0;
    template <class Io>
    void fields(Io& io) {
        io(generation);
        io(window);
    }
};
struct MsgPing {
    static constexpr std::uint16_t kType = 4;
    static constexpr std::string_view kName = "PING";
    std::uint32_t id = 0;
    std::uint64_t timestamp = 0;
    Bytes padding;  // the network test sends zeros to measure bandwidth
    template <class Io>
    void fields(Io& io) {
        io(id);
        io(timestamp);
        io.rest(padding);
    }
};
struct MsgWaitForChannels {
    static constexpr std::uint16_t kType = 5;
    static constexpr std::string_view kName = "WAIT_FOR_CHANNELS";
    std::vector<ChannelWait> waits;
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint8_t>(waits.size());
        io.array(waits, n, 10, [](auto& s, ChannelWait& w) { w.fields(s); });
    }
};
struct MsgDisconnecting {
    static constexpr std::uint16_t kType = 6;
    static constexpr std::string_view kName = "DISCONNECTING";
    std::uint64_t time_stamp = 0;
    std::uint32_t reason = 0;  // LinkError
    template <class Io>
    void fields(Io& io) {
        io(time_stamp);
        io(reason);
    }
};
struct MsgNotify {
    static constexpr std::uint16_t kType = 7;
    static constexpr std::string_view kName = "NOTIFY";
    std::uint64_t time_stamp = 0;
    std::uint32_t severity = 0;    // INFO 0, WARN 1, ERROR 2
    std::uint32_t visibility = 0;  // LOW 0, MEDIUM 1, HIGH 2
    std::uint32_t what = 0;
    Bytes message;
    template <class Io>
    void fields(Io& io) {
        io(time_stamp);
        io(severity);
        io(visibility);
        io(what);
        auto n = io.template count<std::uint32_t>(message.size());
        io.bytes(message, n);
    }
};
// SPICE_MSG_LIST: in mini-header mode, a message made only of a sub-message list (spec §2).
// The same layout is what a full header's sub_list offset points at.
struct MsgList {
    static constexpr std::uint16_t kType = 8;
    static constexpr std::string_view kName = "LIST";
    std::vector<SubMessage> items;
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint16_t>(items.size());
        io.array(items, n, 4, [](auto& s, SubMessage& m) {
            s.pointer(true, true, "sub-message", [mp = &m](auto& sub) {
                sub(mp->type);
                auto size = sub.template count<std::uint32_t>(mp->data.size());
                sub.bytes(mp->data, size);
            });
        });
    }
};

// ---------------------------------------------------------------- base, client -> server

struct MsgcAckSync {
    static constexpr std::uint16_t kType = 1;
    static constexpr std::string_view kName = "ACK_SYNC";
    std::uint32_t generation = 0;
    template <class Io>
    void fields(Io& io) {
        io(generation);
    }
};
struct MsgcAck : EmptyBody<2> {
    static constexpr std::string_view kName = "ACK";
};
struct MsgcPong {
    static constexpr std::uint16_t kType = 3;
    static constexpr std::string_view kName = "PONG";
    std::uint32_t id = 0;
    std::uint64_t timestamp = 0;
    template <class Io>
    void fields(Io& io) {
        io(id);
        io(timestamp);
    }
};
struct MsgcMigrateFlushMark : EmptyBody<4> {
    static constexpr std::string_view kName = "MIGRATE_FLUSH_MARK";
};
struct MsgcMigrateData : RawBody<5> {
    static constexpr std::string_view kName = "MIGRATE_DATA";
};
struct MsgcDisconnecting {
    static constexpr std::uint16_t kType = 6;
    static constexpr std::string_view kName = "DISCONNECTING";
    std::uint64_t time_stamp = 0;
    std::uint32_t reason = 0;
    template <class Io>
    void fields(Io& io) {
        io(time_stamp);
        io(reason);
    }
};

// ---------------------------------------------------------------- main, server -> client

struct MsgMainMigrateBegin {
    static constexpr std::uint16_t kType = 101;
    static constexpr std::string_view kName = "MAIN_MIGRATE_BEGIN";
    MigrationDstInfo dst_info;
    template <class Io>
    void fields(Io& io) {
        dst_info.fields(io);
    }
};
struct MsgMainMigrateCancel : EmptyBody<102> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_CANCEL";
};
struct MsgMainInit {
    static constexpr std::uint16_t kType = 103;
    static constexpr std::string_view kName = "MAIN_INIT";
    std::uint32_t session_id = 0;
    std::uint32_t display_channels_hint = 0;
    std::uint32_t supported_mouse_modes = 0;
    std::uint32_t current_mouse_mode = 0;
    std::uint32_t agent_connected = 0;
    std::uint32_t agent_tokens = 0;
    std::uint32_t multi_media_time = 0;
    std::uint32_t ram_hint = 0;
    template <class Io>
    void fields(Io& io) {
        io(session_id);
        io(display_channels_hint);
        io(supported_mouse_modes);
        io(current_mouse_mode);
        io(agent_connected);
        io(agent_tokens);
        io(multi_media_time);
        io(ram_hint);
    }
};
struct MsgMainChannelsList {
    static constexpr std::uint16_t kType = 104;
    static constexpr std::string_view kName = "MAIN_CHANNELS_LIST";
    std::vector<ChannelId> channels;
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint32_t>(channels.size());
        io.array(channels, n, 2, [](auto& s, ChannelId& c) {
            s(c.type);
            s(c.id);
        });
    }
};
struct MsgMainMouseMode {
    static constexpr std::uint16_t kType = 105;
    static constexpr std::string_view kName = "MAIN_MOUSE_MODE";
    std::uint16_t supported_modes = 0;
    std::uint16_t current_mode = 0;
    template <class Io>
    void fields(Io& io) {
        io(supported_modes);
        io(current_mode);
    }
};
struct MsgMainMultiMediaTime {
    static constexpr std::uint16_t kType = 106;
    static constexpr std::string_view kName = "MAIN_MULTI_MEDIA_TIME";
    std::uint32_t time = 0;
    template <class Io>
    void fields(Io& io) {
        io(time);
    }
};
struct MsgMainAgentConnected : EmptyBody<107> {
    static constexpr std::string_view kName = "MAIN_AGENT_CONNECTED";
};
struct MsgMainAgentDisconnected {
    static constexpr std::uint16_t kType = 108;
    static constexpr std::string_view kName = "MAIN_AGENT_DISCONNECTED";
    std::uint32_t error_code = 0;
    template <class Io>
    void fields(Io& io) {
        io(error_code);
    }
};
struct MsgMainAgentData : RawBody<109> {
    static constexpr std::string_view kName = "MAIN_AGENT_DATA";
};
struct MsgMainAgentToken {
    static constexpr std::uint16_t kType = 110;
    static constexpr std::string_view kName = "MAIN_AGENT_TOKEN";
    std::uint32_t num_tokens = 0;
    template <class Io>
    void fields(Io& io) {
        io(num_tokens);
    }
};
struct MsgMainMigrateSwitchHost {
    static constexpr std::uint16_t kType = 111;
    static constexpr std::string_view kName = "MAIN_MIGRATE_SWITCH_HOST";
    MigrationDstInfo info;  // same layout as DstInfo
    template <class Io>
    void fields(Io& io) {
        info.fields(io);
    }
};
struct MsgMainMigrateEnd : EmptyBody<112> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_END";
};
struct MsgMainName {
    static constexpr std::uint16_t kType = 113;
    static constexpr std::string_view kName = "MAIN_NAME";
    Bytes name;  // includes the terminating NUL
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint32_t>(name.size());
        io.bytes(name, n);
    }
};
struct MsgMainUuid {
    static constexpr std::uint16_t kType = 114;
    static constexpr std::string_view kName = "MAIN_UUID";
    std::array<std::uint8_t, 16> uuid{};
    template <class Io>
    void fields(Io& io) {
        for (auto& b : uuid) io(b);
    }
};
struct MsgMainAgentConnectedTokens {
    static constexpr std::uint16_t kType = 115;
    static constexpr std::string_view kName = "MAIN_AGENT_CONNECTED_TOKENS";
    std::uint32_t num_tokens = 0;
    template <class Io>
    void fields(Io& io) {
        io(num_tokens);
    }
};
struct MsgMainMigrateBeginSeamless {
    static constexpr std::uint16_t kType = 116;
    static constexpr std::string_view kName = "MAIN_MIGRATE_BEGIN_SEAMLESS";
    MigrationDstInfo dst_info;
    std::uint32_t src_mig_version = 0;
    template <class Io>
    void fields(Io& io) {
        dst_info.fields(io);
        io(src_mig_version);
    }
};
struct MsgMainMigrateDstSeamlessAck : EmptyBody<117> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_DST_SEAMLESS_ACK";
};
struct MsgMainMigrateDstSeamlessNack : EmptyBody<118> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_DST_SEAMLESS_NACK";
};

// ---------------------------------------------------------------- main, client -> server

struct MsgcMainClientInfo {
    static constexpr std::uint16_t kType = 101;
    static constexpr std::string_view kName = "MAIN_CLIENT_INFO";  // spice-server 0.15 disconnects on it
    std::uint64_t cache_size = 0;
    template <class Io>
    void fields(Io& io) {
        io(cache_size);
    }
};
struct MsgcMainMigrateConnected : EmptyBody<102> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_CONNECTED";
};
struct MsgcMainMigrateConnectError : EmptyBody<103> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_CONNECT_ERROR";
};
struct MsgcMainAttachChannels : EmptyBody<104> {
    static constexpr std::string_view kName = "MAIN_ATTACH_CHANNELS";
};
struct MsgcMainMouseModeRequest {
    static constexpr std::uint16_t kType = 105;
    static constexpr std::string_view kName = "MAIN_MOUSE_MODE_REQUEST";
    std::uint16_t mode = 0;
    template <class Io>
    void fields(Io& io) {
        io(mode);
    }
};
struct MsgcMainAgentStart {
    static constexpr std::uint16_t kType = 106;
    static constexpr std::string_view kName = "MAIN_AGENT_START";
    std::uint32_t num_tokens = 0;
    template <class Io>
    void fields(Io& io) {
        io(num_tokens);
    }
};
struct MsgcMainAgentData : RawBody<107> {
    static constexpr std::string_view kName = "MAIN_AGENT_DATA";
};
struct MsgcMainAgentToken {
    static constexpr std::uint16_t kType = 108;
    static constexpr std::string_view kName = "MAIN_AGENT_TOKEN";
    std::uint32_t num_tokens = 0;
    template <class Io>
    void fields(Io& io) {
        io(num_tokens);
    }
};
struct MsgcMainMigrateEnd : EmptyBody<109> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_END";
};
struct MsgcMainMigrateDstDoSeamless {
    static constexpr std::uint16_t kType = 110;
    static constexpr std::string_view kName = "MAIN_MIGRATE_DST_DO_SEAMLESS";
    std::uint32_t src_version = 0;
    template <class Io>
    void fields(Io& io) {
        io(src_version);
    }
};
struct MsgcMainMigrateConnectedSeamless : EmptyBody<111> {
    static constexpr std::string_view kName = "MAIN_MIGRATE_CONNECTED_SEAMLESS";
};

// ---------------------------------------------------------------- display, server -> client

struct MsgDisplayMode {
    static constexpr std::uint16_t kType = 101;
    static constexpr std::string_view kName = "DISPLAY_MODE";
    std::uint32_t x_res = 0;
    std::uint32_t y_res = 0;
    std::uint32_t bits = 0;
    template <class Io>
    void fields(Io& io) {
        io(x_res);
        io(y_res);
        io(bits);
    }
};
struct MsgDisplayMark : EmptyBody<102> {
    static constexpr std::string_view kName = "DISPLAY_MARK";
};
struct MsgDisplayReset : EmptyBody<103> {
    static constexpr std::string_view kName = "DISPLAY_RESET";
};

// A draw message: SpiceMsgDisplayBase, then the layout of Op. Marshalling a DrawCommand whose
// op is not Op is an error.
template <std::uint16_t T, class Op>
struct DrawMessage {
    static constexpr std::uint16_t kType = T;
    using OpType = Op;
    DrawCommand cmd;
    template <class Io>
    void fields(Io& io) {
        wirecodec::display_base(io, cmd);
        if (Op* op = alternative<Op>(io, cmd.op, "draw message")) wirecodec::draw_op(io, *op);
    }
};
struct MsgDisplayCopyBits : DrawMessage<104, CopyBits> {
    static constexpr std::string_view kName = "DISPLAY_COPY_BITS";
};

struct InvalResource {
    std::uint8_t type = 1;  // SPICE_RES_TYPE_PIXMAP
    std::uint64_t id = 0;
};
struct MsgDisplayInvalList {
    static constexpr std::uint16_t kType = 105;
    static constexpr std::string_view kName = "DISPLAY_INVAL_LIST";
    std::vector<InvalResource> resources;
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint16_t>(resources.size());
        io.array(resources, n, 9, [](auto& s, InvalResource& r) {
            s(r.type);
            s(r.id);
        });
    }
};
struct MsgDisplayInvalAllPixmaps {
    static constexpr std::uint16_t kType = 106;
    static constexpr std::string_view kName = "DISPLAY_INVAL_ALL_PIXMAPS";
    std::vector<ChannelWait> waits;
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint8_t>(waits.size());
        io.array(waits, n, 10, [](auto& s, ChannelWait& w) { w.fields(s); });
    }
};
struct MsgDisplayInvalPalette {
    static constexpr std::uint16_t kType = 107;
    static constexpr std::string_view kName = "DISPLAY_INVAL_PALETTE";
    std::uint64_t id = 0;
    template <class Io>
    void fields(Io& io) {
        io(id);
    }
};
struct MsgDisplayInvalAllPalettes : EmptyBody<108> {
    static constexpr std::string_view kName = "DISPLAY_INVAL_ALL_PALETTES";
};
struct MsgDisplayStreamCreate {
    static constexpr std::uint16_t kType = 122;
    static constexpr std::string_view kName = "DISPLAY_STREAM_CREATE";
    std::uint32_t surface_id = 0;
    std::uint32_t id = 0;
    std::uint8_t flags = 0;       // TOP_DOWN 1
    std::uint8_t codec_type = 0;  // MJPEG 1, VP8 2, H264 3, VP9 4, H265 5
    std::uint64_t stamp = 0;
    std::uint32_t stream_width = 0;
    std::uint32_t stream_height = 0;
    std::uint32_t src_width = 0;
    std::uint32_t src_height = 0;
    Rect dest;
    Clip clip;
    template <class Io>
    void fields(Io& io) {
        io(surface_id);
        io(id);
        io(flags);
        io(codec_type);
        io(stamp);
        io(stream_width);
        io(stream_height);
        io(src_width);
        io(src_height);
        wirecodec::rect(io, dest);
        wirecodec::clip(io, clip);
    }
};
struct MsgDisplayStreamData {
    static constexpr std::uint16_t kType = 123;
    static constexpr std::string_view kName = "DISPLAY_STREAM_DATA";
    std::uint32_t id = 0;
    std::uint32_t multi_media_time = 0;
    Bytes data;
    template <class Io>
    void fields(Io& io) {
        io(id);
        io(multi_media_time);
        wirecodec::sized_data(io, data);
    }
};
struct MsgDisplayStreamClip {
    static constexpr std::uint16_t kType = 124;
    static constexpr std::string_view kName = "DISPLAY_STREAM_CLIP";
    std::uint32_t id = 0;
    Clip clip;
    template <class Io>
    void fields(Io& io) {
        io(id);
        wirecodec::clip(io, clip);
    }
};
struct MsgDisplayStreamDestroy {
    static constexpr std::uint16_t kType = 125;
    static constexpr std::string_view kName = "DISPLAY_STREAM_DESTROY";
    std::uint32_t id = 0;
    template <class Io>
    void fields(Io& io) {
        io(id);
    }
};
struct MsgDisplayStreamDestroyAll : EmptyBody<126> {
    static constexpr std::string_view kName = "DISPLAY_STREAM_DESTROY_ALL";
};
struct MsgDisplayDrawFill : DrawMessage<302, Fill> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_FILL";
};
struct MsgDisplayDrawOpaque : DrawMessage<303, Opaque> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_OPAQUE";
};
struct MsgDisplayDrawCopy : DrawMessage<304, Copy> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_COPY";
};
struct MsgDisplayDrawBlend : DrawMessage<305, Blend> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_BLEND";
};
struct MsgDisplayDrawBlackness : DrawMessage<306, Blackness> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_BLACKNESS";
};
struct MsgDisplayDrawWhiteness : DrawMessage<307, Whiteness> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_WHITENESS";
};
struct MsgDisplayDrawInvers : DrawMessage<308, Invers> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_INVERS";
};
struct MsgDisplayDrawRop3 : DrawMessage<309, Rop3> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_ROP3";
};
struct MsgDisplayDrawStroke : DrawMessage<310, Stroke> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_STROKE";
};
struct MsgDisplayDrawText : DrawMessage<311, Text> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_TEXT";
};
struct MsgDisplayDrawTransparent : DrawMessage<312, Transparent> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_TRANSPARENT";
};
struct MsgDisplayDrawAlphaBlend : DrawMessage<313, AlphaBlend> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_ALPHA_BLEND";
};
struct MsgDisplaySurfaceCreate {
    static constexpr std::uint16_t kType = 314;
    static constexpr std::string_view kName = "DISPLAY_SURFACE_CREATE";
    static constexpr std::uint32_t kFlagPrimary = 1;
    static constexpr std::uint32_t kFlagStreamingMode = 2;  // only for clients with MULTI_CODEC
    std::uint32_t surface_id = 0;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    SurfaceFormat format = SurfaceFormat::XRGB32;
    std::uint32_t flags = 0;
    template <class Io>
    void fields(Io& io) {
        io(surface_id);
        io(width);
        io(height);
        io(format);
        io(flags);
        io.check(surface_format_valid(static_cast<std::uint32_t>(format)), ErrorCode::BadValue, "surface format");
    }
};
struct MsgDisplaySurfaceDestroy {
    static constexpr std::uint16_t kType = 315;
    static constexpr std::string_view kName = "DISPLAY_SURFACE_DESTROY";
    std::uint32_t surface_id = 0;
    template <class Io>
    void fields(Io& io) {
        io(surface_id);
    }
};
struct MsgDisplayStreamDataSized {
    static constexpr std::uint16_t kType = 316;
    static constexpr std::string_view kName = "DISPLAY_STREAM_DATA_SIZED";
    std::uint32_t id = 0;
    std::uint32_t multi_media_time = 0;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    Rect dest;
    Bytes data;
    template <class Io>
    void fields(Io& io) {
        io(id);
        io(multi_media_time);
        io(width);
        io(height);
        wirecodec::rect(io, dest);
        wirecodec::sized_data(io, data);
    }
};
struct MsgDisplayMonitorsConfig {
    static constexpr std::uint16_t kType = 317;
    static constexpr std::string_view kName = "DISPLAY_MONITORS_CONFIG";
    MonitorsConfig config;
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint16_t>(config.heads.size());
        io(config.max_allowed);
        io.array(config.heads, n, 28, [](auto& s, MonitorHead& h) {
            s(h.id);
            s(h.surface_id);
            s(h.width);
            s(h.height);
            s(h.x);
            s(h.y);
            s(h.flags);
        });
    }
};
struct MsgDisplayDrawComposite : DrawMessage<318, Composite> {
    static constexpr std::string_view kName = "DISPLAY_DRAW_COMPOSITE";
};
struct MsgDisplayStreamActivateReport {
    static constexpr std::uint16_t kType = 319;
    static constexpr std::string_view kName = "DISPLAY_STREAM_ACTIVATE_REPORT";
    std::uint32_t stream_id = 0;
    std::uint32_t unique_id = 0;
    std::uint32_t max_window_size = 0;
    std::uint32_t timeout_ms = 0;
    template <class Io>
    void fields(Io& io) {
        io(stream_id);
        io(unique_id);
        io(max_window_size);
        io(timeout_ms);
    }
};
// The fd travels as SCM_RIGHTS ancillary data and takes no body bytes.
struct MsgDisplayGlScanoutUnix {
    static constexpr std::uint16_t kType = 320;
    static constexpr std::string_view kName = "DISPLAY_GL_SCANOUT_UNIX";
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t stride = 0;
    std::uint32_t drm_fourcc_format = 0;
    std::uint32_t flags = 0;
    template <class Io>
    void fields(Io& io) {
        io(width);
        io(height);
        io(stride);
        io(drm_fourcc_format);
        io(flags);
    }
};
struct MsgDisplayGlDraw {
    static constexpr std::uint16_t kType = 321;
    static constexpr std::string_view kName = "DISPLAY_GL_DRAW";
    std::uint32_t x = 0;
    std::uint32_t y = 0;
    std::uint32_t w = 0;
    std::uint32_t h = 0;
    template <class Io>
    void fields(Io& io) {
        io(x);
        io(y);
        io(w);
        io(h);
    }
};

// ---------------------------------------------------------------- display, client -> server

struct MsgcDisplayInit {
    static constexpr std::uint16_t kType = 101;
    static constexpr std::string_view kName = "DISPLAY_INIT";
    std::uint8_t pixmap_cache_id = 0;
    std::int64_t pixmap_cache_size = 0;  // pixels
    std::uint8_t glz_dictionary_id = 0;
    std::int32_t glz_dictionary_window_size = 0;  // pixels
    template <class Io>
    void fields(Io& io) {
        io(pixmap_cache_id);
        io(pixmap_cache_size);
        io(glz_dictionary_id);
        io(glz_dictionary_window_size);
    }
};
struct MsgcDisplayStreamReport {
    static constexpr std::uint16_t kType = 102;
    static constexpr std::string_view kName = "DISPLAY_STREAM_REPORT";
    std::uint32_t stream_id = 0;
    std::uint32_t unique_id = 0;
    std::uint32_t start_frame_mm_time = 0;
    std::uint32_t end_frame_mm_time = 0;
    std::uint32_t num_frames = 0;
    std::uint32_t num_drops = 0;
    std::int32_t last_frame_delay = 0;
    std::uint32_t audio_delay = 0;
    template <class Io>
    void fields(Io& io) {
        io(stream_id);
        io(unique_id);
        io(start_frame_mm_time);
        io(end_frame_mm_time);
        io(num_frames);
        io(num_drops);
        io(last_frame_delay);
        io(audio_delay);
    }
};
struct MsgcDisplayPreferredCompression {
    static constexpr std::uint16_t kType = 103;
    static constexpr std::string_view kName = "DISPLAY_PREFERRED_COMPRESSION";
    std::uint8_t image_compression = 0;
    template <class Io>
    void fields(Io& io) {
        io(image_compression);
    }
};
struct MsgcDisplayGlDrawDone : EmptyBody<104> {
    static constexpr std::string_view kName = "DISPLAY_GL_DRAW_DONE";
};
struct MsgcDisplayPreferredVideoCodecType {
    static constexpr std::uint16_t kType = 105;
    static constexpr std::string_view kName = "DISPLAY_PREFERRED_VIDEO_CODEC_TYPE";
    std::vector<std::uint8_t> codecs;
    template <class Io>
    void fields(Io& io) {
        auto n = io.template count<std::uint8_t>(codecs.size());
        io.bytes(codecs, n);
    }
};

// ---------------------------------------------------------------- cursor, server -> client

struct MsgCursorInit {
    static constexpr std::uint16_t kType = 101;
    static constexpr std::string_view kName = "CURSOR_INIT";
    Point16 position;
    std::uint16_t trail_length = 0;
    std::uint16_t trail_frequency = 0;
    std::uint8_t visible = 0;
    std::uint16_t cursor_flags = wirecodec::kCursorNone;
    CursorShapePtr shape;  // null iff cursor_flags has NONE
    template <class Io>
    void fields(Io& io) {
        wirecodec::point16(io, position);
        io(trail_length);
        io(trail_frequency);
        io(visible);
        wirecodec::cursor(io, cursor_flags, shape);
    }
};
struct MsgCursorReset : EmptyBody<102> {
    static constexpr std::string_view kName = "CURSOR_RESET";
};
struct MsgCursorSet {
    static constexpr std::uint16_t kType = 103;
    static constexpr std::string_view kName = "CURSOR_SET";
    Point16 position;
    std::uint8_t visible = 1;
    std::uint16_t cursor_flags = 0;
    CursorShapePtr shape;
    template <class Io>
    void fields(Io& io) {
        wirecodec::point16(io, position);
        io(visible);
        wirecodec::cursor(io, cursor_flags, shape);
    }
};
struct MsgCursorMove {
    static constexpr std::uint16_t kType = 104;
    static constexpr std::string_view kName = "CURSOR_MOVE";
    Point16 position;
    template <class Io>
    void fields(Io& io) {
        wirecodec::point16(io, position);
    }
};
struct MsgCursorHide : EmptyBody<105> {
    static constexpr std::string_view kName = "CURSOR_HIDE";
};
struct MsgCursorTrail {
    static constexpr std::uint16_t kType = 106;
    static constexpr std::string_view kName = "CURSOR_TRAIL";
    std::uint16_t length = 0;
    std::uint16_t frequency = 0;
    template <class Io>
    void fields(Io& io) {
        io(length);
        io(frequency);
    }
};
struct MsgCursorInvalOne {
    static constexpr std::uint16_t kType = 107;
    static constexpr std::string_view kName = "CURSOR_INVAL_ONE";
    std::uint64_t id = 0;
    template <class Io>
    void fields(Io& io) {
        io(id);
    }
};
struct MsgCursorInvalAll : EmptyBody<108> {
    static constexpr std::string_view kName = "CURSOR_INVAL_ALL";
};

// ---------------------------------------------------------------- inputs

inline constexpr std::uint32_t kInputMotionAckBunch = 4;

struct MsgInputsInit {
    static constexpr std::uint16_t kType = 101;
    static constexpr std::string_view kName = "INPUTS_INIT";
    std::uint16_t keyboard_modifiers = 0;
    template <class Io>
    void fields(Io& io) {
        io(keyboard_modifiers);
    }
};
struct MsgInputsKeyModifiers {
    static constexpr std::uint16_t kType = 102;
    static constexpr std::string_view kName = "INPUTS_KEY_MODIFIERS";
    std::uint16_t modifiers = 0;
    template <class Io>
    void fields(Io& io) {
        io(modifiers);
    }
};
struct MsgInputsMouseMotionAck : EmptyBody<111> {
    static constexpr std::string_view kName = "INPUTS_MOUSE_MOTION_ACK";
};

struct MsgcInputsKeyDown {
    static constexpr std::uint16_t kType = 101;
    static constexpr std::string_view kName = "INPUTS_KEY_DOWN";
    std::uint32_t code = 0;
    template <class Io>
    void fields(Io& io) {
        io(code);
    }
};
struct MsgcInputsKeyUp {
    static constexpr std::uint16_t kType = 102;
    static constexpr std::string_view kName = "INPUTS_KEY_UP";
    std::uint32_t code = 0;
    template <class Io>
    void fields(Io& io) {
        io(code);
    }
};
struct MsgcInputsKeyModifiers {
    static constexpr std::uint16_t kType = 103;
    static constexpr std::string_view kName = "INPUTS_KEY_MODIFIERS";
    std::uint16_t modifiers = 0;
    template <class Io>
    void fields(Io& io) {
        io(modifiers);
    }
};
struct MsgcInputsKeyScancode : RawBody<104> {
    static constexpr std::string_view kName = "INPUTS_KEY_SCANCODE";
};
struct MsgcInputsMouseMotion {
    static constexpr std::uint16_t kType = 111;
    static constexpr std::string_view kName = "INPUTS_MOUSE_MOTION";
    std::int32_t dx = 0;
    std::int32_t dy = 0;
    std::uint16_t buttons_state = 0;
    template <class Io>
    void fields(Io& io) {
        io(dx);
        io(dy);
        io(buttons_state);
    }
};
struct MsgcInputsMousePosition {
    static constexpr std::uint16_t kType = 112;
    static constexpr std::string_view kName = "INPUTS_MOUSE_POSITION";
    std::uint32_t x = 0;
    std::uint32_t y = 0;
    std::uint16_t buttons_state = 0;
    std::uint8_t display_id = 0;
    template <class Io>
    void fields(Io& io) {
        io(x);
        io(y);
        io(buttons_state);
        io(display_id);
    }
};
struct MsgcInputsMousePress {
    static constexpr std::uint16_t kType = 113;
    static constexpr std::string_view kName = "INPUTS_MOUSE_PRESS";
    std::uint8_t button = 0;
    std::uint16_t buttons_state = 0;
    template <class Io>
    void fields(Io& io) {
        io(button);
        io(buttons_state);
    }
};
struct MsgcInputsMouseRelease {
    static constexpr std::uint16_t kType = 114;
    static constexpr std::string_view kName = "INPUTS_MOUSE_RELEASE";
    std::uint8_t button = 0;
    std::uint16_t buttons_state = 0;
    template <class Io>
    void fields(Io& io) {
        io(button);
        io(buttons_state);
    }
};

// ---------------------------------------------------------------- dispatch tables

using BaseServerMessages =
    MessageSet<MsgMigrate, MsgMigrateData, MsgSetAck, MsgPing, MsgWaitForChannels, MsgDisconnecting, MsgNotify, MsgList>;
using BaseClientMessages =
    MessageSet<MsgcAckSync, MsgcAck, MsgcPong, MsgcMigrateFlushMark, MsgcMigrateData, MsgcDisconnecting>;

using MainServerMessages = BaseServerMessages::Plus<
    MsgMainMigrateBegin, MsgMainMigrateCancel, MsgMainInit, MsgMainChannelsList, MsgMainMouseMode,
    MsgMainMultiMediaTime, MsgMainAgentConnected, MsgMainAgentDisconnected, MsgMainAgentData, MsgMainAgentToken,
    MsgMainMigrateSwitchHost, MsgMainMigrateEnd, MsgMainName, MsgMainUuid, MsgMainAgentConnectedTokens,
    MsgMainMigrateBeginSeamless, MsgMainMigrateDstSeamlessAck, MsgMainMigrateDstSeamlessNack>;
using MainClientMessages = BaseClientMessages::Plus<
    MsgcMainClientInfo, MsgcMainMigrateConnected, MsgcMainMigrateConnectError, MsgcMainAttachChannels,
    MsgcMainMouseModeRequest, MsgcMainAgentStart, MsgcMainAgentData, MsgcMainAgentToken, MsgcMainMigrateEnd,
    MsgcMainMigrateDstDoSeamless, MsgcMainMigrateConnectedSeamless>;

using DisplayServerMessages = BaseServerMessages::Plus<
    MsgDisplayMode, MsgDisplayMark, MsgDisplayReset, MsgDisplayCopyBits, MsgDisplayInvalList,
    MsgDisplayInvalAllPixmaps, MsgDisplayInvalPalette, MsgDisplayInvalAllPalettes, MsgDisplayStreamCreate,
    MsgDisplayStreamData, MsgDisplayStreamClip, MsgDisplayStreamDestroy, MsgDisplayStreamDestroyAll,
    MsgDisplayDrawFill, MsgDisplayDrawOpaque, MsgDisplayDrawCopy, MsgDisplayDrawBlend, MsgDisplayDrawBlackness,
    MsgDisplayDrawWhiteness, MsgDisplayDrawInvers, MsgDisplayDrawRop3, MsgDisplayDrawStroke, MsgDisplayDrawText,
    MsgDisplayDrawTransparent, MsgDisplayDrawAlphaBlend, MsgDisplaySurfaceCreate, MsgDisplaySurfaceDestroy,
    MsgDisplayStreamDataSized, MsgDisplayMonitorsConfig, MsgDisplayDrawComposite, MsgDisplayStreamActivateReport,
    MsgDisplayGlScanoutUnix, MsgDisplayGlDraw>;
using DisplayClientMessages =
    BaseClientMessages::Plus<MsgcDisplayInit, MsgcDisplayStreamReport, MsgcDisplayPreferredCompression,
                             MsgcDisplayGlDrawDone, MsgcDisplayPreferredVideoCodecType>;

using CursorServerMessages =
    BaseServerMessages::Plus<MsgCursorInit, MsgCursorReset, MsgCursorSet, MsgCursorMove, MsgCursorHide,
                             MsgCursorTrail, MsgCursorInvalOne, MsgCursorInvalAll>;
using CursorClientMessages = BaseClientMessages;

using InputsServerMessages = BaseServerMessages::Plus<MsgInputsInit, MsgInputsKeyModifiers, MsgInputsMouseMotionAck>;
using InputsClientMessages =
    BaseClientMessages::Plus<MsgcInputsKeyDown, MsgcInputsKeyUp, MsgcInputsKeyModifiers, MsgcInputsKeyScancode,
                             MsgcInputsMouseMotion, MsgcInputsMousePosition, MsgcInputsMousePress,
                             MsgcInputsMouseRelease>;

using MainServerMessage = MainServerMessages::Variant;
using MainClientMessage = MainClientMessages::Variant;
using DisplayServerMessage = DisplayServerMessages::Variant;
using DisplayClientMessage = DisplayClientMessages::Variant;
using CursorServerMessage = CursorServerMessages::Variant;
using CursorClientMessage = CursorClientMessages::Variant;
using InputsServerMessage = InputsServerMessages::Variant;
using InputsClientMessage = InputsClientMessages::Variant;

// Marshals a DrawCommand as the display message its op selects; `type_out` receives the
// message type number.
Result<Bytes> marshal_draw(const DrawCommand& cmd, std::uint16_t& type_out);

// Name of a message type for logs ("UNKNOWN" if the channel does not define it).
std::string_view message_name(ChannelType channel, Direction dir, std::uint16_t type);
// Whether the channel defines that type in that direction.
bool message_known(ChannelType channel, Direction dir, std::uint16_t type);

}  // namespace qxlbox::proto::wire
