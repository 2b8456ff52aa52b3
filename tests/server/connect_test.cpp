// Protocol behaviour of a whole session, seen by a raw client over a real socket.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/server/server_test_support.h"

namespace qxlbox::server {
namespace {

namespace wire = proto::wire;
using namespace std::chrono_literals;
using test::FakeDevice;
using test::RawClient;
using test::rect_ltrb;

wire::CapabilitySet caps(std::initializer_list<unsigned> bits) { return wire::CapabilitySet::of(bits); }

// A device end of the agent pipe that takes at most `room` bytes per write.
class RecordingAgent final : public proto::AgentPort {
public:
    std::size_t write(const std::uint8_t* data, std::size_t size) override {
        std::lock_guard lock(m);
        std::size_t n = std::min(size, room);
        got.insert(got.end(), data, data + n);
        room -= n;
        return n;
    }
    void read_ready() override { ++ready_calls; }
    bool guest_connected() const override { return true; }
    std::mutex m;
    std::vector<std::uint8_t> got;
    std::size_t room = 1 << 20;
    std::atomic<int> ready_calls{0};
};

// A VDIChunk (VDIChunkHeader + data) for the client port.
std::vector<std::uint8_t> client_chunk(const std::vector<std::uint8_t>& payload) {
    std::vector<std::uint8_t> out;
    wire::put_le(out, proto::VDP_CLIENT_PORT);
    wire::put_le(out, static_cast<std::uint32_t>(payload.size()));
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

TEST(MainChannel, InitCarriesSessionMouseModesTokensAndRamHint) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{1, 32u << 20, "t"});
    RawClient main;
    ASSERT_TRUE(main.connect(s.server->port()));
    ASSERT_EQ(main.link(wire::ChannelType::Main, 0, "", caps({wire::main_cap::kNameAndUuid})), 0u);
    auto raw = main.wait_msg(wire::MsgMainInit::kType, 5s);
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->body.size(), 32u);
    auto init = wire::demarshal_as<wire::MsgMainInit>(raw->body);
    ASSERT_TRUE(init.ok());
    EXPECT_NE(init->session_id, 0u);
    EXPECT_EQ(init->display_channels_hint, 1u);
    EXPECT_EQ(init->supported_mouse_modes, wire::kMouseModeServer);
    EXPECT_EQ(init->current_mouse_mode, wire::kMouseModeServer);
    EXPECT_EQ(init->agent_connected, 0u);
    EXPECT_EQ(init->agent_tokens, 10u);
    EXPECT_EQ(init->ram_hint, 32u << 20);
    auto name = main.read_msg(5s);
    ASSERT_TRUE(name);
    EXPECT_EQ(name->type, wire::MsgMainName::kType);
    auto parsed_name = wire::demarshal_as<wire::MsgMainName>(name->body);
    ASSERT_TRUE(parsed_name.ok());
    EXPECT_EQ(parsed_name->name, (wire::Bytes{'q', 'x', 'l', 'b', 'o', 'x', 0}));
    auto uuid = main.read_msg(5s);
    ASSERT_TRUE(uuid);
    EXPECT_EQ(uuid->type, wire::MsgMainUuid::kType);
    EXPECT_EQ(uuid->body.size(), 16u);
}

TEST(MainChannel, AttachChannelsListsDisplayCursorInputs) {
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    ASSERT_TRUE(main.send_msg(wire::MsgcMainAttachChannels::kType, {}));
    auto list = main.wait_msg(wire::MsgMainChannelsList::kType, 5s);
    ASSERT_TRUE(list);
    EXPECT_EQ(list->body, (std::vector<std::uint8_t>{3, 0, 0, 0, 2, 0, 4, 0, 3, 0}));
}

TEST(MainChannel, PingIsAnsweredAndClientModeNeedsAnAgent) {
    RecordingAgent agent;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    auto ping = main.wait_msg(wire::MsgPing::kType, 5s);
    ASSERT_TRUE(ping);
    ASSERT_GE(ping->body.size(), 12u);
    ASSERT_TRUE(main.send_msg(wire::MsgcPong::kType, std::vector<std::uint8_t>(ping->body.begin(), ping->body.begin() + 12)));
    ASSERT_TRUE(main.send(wire::MsgcMainMouseModeRequest{wire::kMouseModeClient}));
    auto mode = main.wait_msg(wire::MsgMainMouseMode::kType, 5s);
    ASSERT_TRUE(mode);
    EXPECT_EQ(mode->body, (std::vector<std::uint8_t>{1, 0, 1, 0}));  // server mode only, still server
    for (int i = 0; i < 100 && s.server->stats().pongs == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(s.server->stats().pongs, 1u);
    s.server->agent_connected(agent);
    auto connected = main.wait_msg(wire::MsgMainAgentConnected::kType, 5s);
    ASSERT_TRUE(connected);
    ASSERT_TRUE(main.send(wire::MsgcMainMouseModeRequest{wire::kMouseModeClient}));
    // The agent's arrival itself announced {client+server, server}; the request's answer follows.
    auto announced = main.wait_msg(wire::MsgMainMouseMode::kType, 5s);
    ASSERT_TRUE(announced);
    EXPECT_EQ(announced->body, (std::vector<std::uint8_t>{3, 0, 1, 0}));
    auto mode2 = main.wait_msg(wire::MsgMainMouseMode::kType, 5s);
    ASSERT_TRUE(mode2);
    EXPECT_EQ(mode2->body, (std::vector<std::uint8_t>{3, 0, 2, 0}));
}

TEST(MainChannel, ClientAgentDataReachesTheDeviceAsChunksAndTokensReturn) {
    RecordingAgent agent;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->agent_connected(agent);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(main.send_msg(wire::MsgcMainAgentData::kType, {1, 2, 3}));
    auto token = main.wait_msg(wire::MsgMainAgentToken::kType, 5s);
    ASSERT_TRUE(token);
    EXPECT_EQ(token->body, (std::vector<std::uint8_t>{5, 0, 0, 0}));
    std::lock_guard lock(agent.m);
    ASSERT_EQ(agent.got.size(), 5u * (8 + 3));
    EXPECT_EQ(std::vector<std::uint8_t>(agent.got.begin(), agent.got.begin() + 11), client_chunk({1, 2, 3}));
}

TEST(MainChannel, TokensAreHeldWhileTheDeviceCannotTakeAgentData) {
    RecordingAgent agent;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    agent.room = 0;
    s.server->agent_connected(agent);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(main.send_msg(wire::MsgcMainAgentData::kType, {9}));
    EXPECT_FALSE(main.wait_msg(wire::MsgMainAgentToken::kType, 300ms));
    {
        std::lock_guard lock(agent.m);
        agent.room = 1 << 20;
    }
    s.server->agent_writable();
    EXPECT_TRUE(main.wait_msg(wire::MsgMainAgentToken::kType, 5s));
    std::lock_guard lock(agent.m);
    EXPECT_EQ(agent.got.size(), 5u * 9);
}

TEST(MainChannel, GuestAgentDataReachesTheClientWithinItsTokens) {
    RecordingAgent agent;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->agent_connected(agent);
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    std::vector<std::uint8_t> payload(3000, 0x5a);
    auto chunk = client_chunk(payload);
    // Offered in two pieces, splitting the chunk header, as a device may.
    EXPECT_EQ(s.server->agent_data(chunk.data(), 5), 5u);
    EXPECT_EQ(s.server->agent_data(chunk.data() + 5, chunk.size() - 5), chunk.size() - 5);
    ASSERT_TRUE(main.send(wire::MsgcMainAgentStart{1}));
    auto data = main.wait_msg(wire::MsgMainAgentData::kType, 5s);
    ASSERT_TRUE(data);
    EXPECT_EQ(data->body.size(), 2048u);
    EXPECT_FALSE(main.wait_msg(wire::MsgMainAgentData::kType, 300ms));  // out of tokens
    ASSERT_TRUE(main.send(wire::MsgcMainAgentToken{1}));
    auto rest = main.wait_msg(wire::MsgMainAgentData::kType, 5s);
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->body.size(), 3000u - 2048u);
}

TEST(MainChannel, GuestAgentBacklogIsBoundedAndReadReadyFollows) {
    RecordingAgent agent;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->agent_connected(agent);
    std::vector<std::uint8_t> payload(2048, 1);
    auto chunk = client_chunk(payload);
    std::size_t offered = 0, taken = 0;
    for (int i = 0; i < 1000; ++i) {
        offered += chunk.size();
        taken += s.server->agent_data(chunk.data(), chunk.size());
    }
    EXPECT_LT(taken, offered);
    EXPECT_LE(taken, 300u * 1024);
    // A client that takes the data lets the device continue.
    RawClient main;
    ASSERT_NE(test::open_session(main, s.server->port()), 0u);
    ASSERT_TRUE(main.send(wire::MsgcMainAgentStart{0xffffffff}));
    for (int i = 0; i < 500 && agent.ready_calls.load() == 0; ++i) {
        main.read_msg(10ms);
    }
    EXPECT_GE(agent.ready_calls.load(), 1);
}

TEST(DisplayChannel, ConnectSendsSurfaceImageMonitorsAndMarkInOrder) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 32, 16, true);
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(test::solid_fill(0, rect_ltrb(0, 0, 8, 8), 0xff0000))));
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    ASSERT_NE(sid, 0u);
    RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    ASSERT_EQ(display.link(wire::ChannelType::Display, sid, "", caps({wire::display_cap::kMonitorsConfig})), 0u);
    auto set_ack = display.read_msg(5s);
    ASSERT_TRUE(set_ack);
    EXPECT_EQ(set_ack->type, wire::MsgSetAck::kType);
    ASSERT_TRUE(display.send(wire::MsgcDisplayInit{1, 1000, 1, 0}));
    std::vector<std::uint16_t> types;
    for (int i = 0; i < 5; ++i) {
        auto m = display.read_msg(5s);
        ASSERT_TRUE(m);
        types.push_back(m->type);
        if (m->type == wire::MsgDisplayDrawCopy::kType) {
            auto copy = wire::demarshal_as<wire::MsgDisplayDrawCopy>(m->body);
            ASSERT_TRUE(copy.ok());
            EXPECT_EQ(copy->cmd.surface_id, 0u);
            EXPECT_EQ(copy->cmd.bbox, (proto::Rect{0, 0, 16, 32}));
        }
    }
    EXPECT_EQ(types, (std::vector<std::uint16_t>{108, 314, 304, 317, 102}));
    // A later draw arrives as its own message.
    ASSERT_TRUE(dev.push(*s.server, test::draw_cmd(test::solid_fill(0, rect_ltrb(1, 1, 3, 3), 0x00ff00))));
    auto fill = display.read_msg(5s);
    ASSERT_TRUE(fill);
    EXPECT_EQ(fill->type, wire::MsgDisplayDrawFill::kType);
}

TEST(DisplayChannel, ClientWithoutMonitorsCapGetsNoMonitorsConfig) {
    FakeDevice dev;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->attach(dev, proto::DeviceInfo{});
    dev.create_surface(*s.server, 0, 8, 8, true);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient display;
    ASSERT_TRUE(display.connect(s.server->port()));
    ASSERT_EQ(display.link(wire::ChannelType::Display, sid, ""), 0u);
    ASSERT_TRUE(display.send_msg(wire::MsgcDisplayInit::kType, std::vector<std::uint8_t>(14, 0)));
    std::vector<std::uint16_t> types;
    for (int i = 0; i < 5; ++i) {
        auto m = display.read_msg(5s);
        ASSERT_TRUE(m);
        types.push_back(m->type);
    }
    EXPECT_EQ(types, (std::vector<std::uint16_t>{3, 108, 314, 304, 102}));
}

TEST(Session, NewMainConnectionReplacesTheOldSession) {
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    RawClient first;
    auto sid1 = test::open_session(first, s.server->port());
    ASSERT_NE(sid1, 0u);
    RawClient second;
    auto sid2 = test::open_session(second, s.server->port());
    ASSERT_NE(sid2, 0u);
    EXPECT_NE(sid1, sid2);
    EXPECT_TRUE(first.wait_msg(wire::MsgNotify::kType, 5s));
    EXPECT_TRUE(first.wait_closed(5s));
    // The old session id no longer links channels; the new one does.
    RawClient stale;
    ASSERT_TRUE(stale.connect(s.server->port()));
    EXPECT_EQ(stale.link(wire::ChannelType::Inputs, sid1, ""), 8u);
    RawClient inputs;
    ASSERT_TRUE(inputs.connect(s.server->port()));
    EXPECT_EQ(inputs.link(wire::ChannelType::Inputs, sid2, ""), 0u);
}

class RecordingSink final : public InputSink {
public:
    void key_scancodes(std::span<const std::uint8_t> b) override {
        std::lock_guard lock(m);
        keys.insert(keys.end(), b.begin(), b.end());
    }
    void key_modifiers(std::uint16_t) override {}
    void mouse_motion(std::int32_t dx, std::int32_t, std::uint16_t) override {
        std::lock_guard lock(m);
        motion_dx += dx;
    }
    void mouse_position(std::uint32_t, std::uint32_t, std::uint16_t, std::uint8_t) override {}
    std::uint16_t keyboard_leds() override { return leds.load(); }
    std::atomic<std::uint16_t> leds{0};
    void mouse_button(std::uint8_t button, bool pressed, std::uint16_t) override {
        std::lock_guard lock(m);
        buttons.push_back(pressed ? button : static_cast<std::uint8_t>(0x80 | button));
    }
    std::mutex m;
    std::vector<std::uint8_t> keys;
    std::vector<std::uint8_t> buttons;
    std::int32_t motion_dx = 0;
};

TEST(InputsChannel, KeysAndMouseReachTheSinkAndMotionIsAckedEveryFour) {
    RecordingSink sink;
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    s.server->set_input_sink(&sink);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient inputs;
    ASSERT_TRUE(inputs.connect(s.server->port()));
    ASSERT_EQ(inputs.link(wire::ChannelType::Inputs, sid, ""), 0u);
    auto init = inputs.read_msg(5s);
    ASSERT_TRUE(init);
    EXPECT_EQ(init->type, wire::MsgInputsInit::kType);
    ASSERT_TRUE(inputs.send(wire::MsgcInputsKeyDown{0x48E0}));  // Up arrow: E0 48
    ASSERT_TRUE(inputs.send_msg(wire::MsgcInputsKeyScancode::kType, {0x1e, 0x9e}));
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(inputs.send(wire::MsgcInputsMouseMotion{2, 0, 0}));
    }
    ASSERT_TRUE(inputs.send(wire::MsgcInputsMousePress{1, 1}));
    EXPECT_TRUE(inputs.wait_msg(wire::MsgInputsMouseMotionAck::kType, 5s));
    EXPECT_TRUE(inputs.wait_msg(wire::MsgInputsMouseMotionAck::kType, 5s));
    EXPECT_FALSE(inputs.wait_msg(wire::MsgInputsMouseMotionAck::kType, 200ms));
    sink.leds.store(kModifierCapsLock);
    auto mods = inputs.wait_msg(wire::MsgInputsKeyModifiers::kType, 5s);
    ASSERT_TRUE(mods);
    EXPECT_EQ(mods->body, (std::vector<std::uint8_t>{4, 0}));
    std::lock_guard lock(sink.m);
    EXPECT_EQ(sink.keys, (std::vector<std::uint8_t>{0xe0, 0x48, 0x1e, 0x9e}));
    EXPECT_EQ(sink.motion_dx, 16);
    EXPECT_EQ(sink.buttons, (std::vector<std::uint8_t>{1}));
}

TEST(CursorChannel, InitThenSetWithCacheThenMoveAndHide) {
    auto s = test::start_server();
    ASSERT_TRUE(s.server);
    RawClient main;
    auto sid = test::open_session(main, s.server->port());
    RawClient cursor;
    ASSERT_TRUE(cursor.connect(s.server->port()));
    ASSERT_EQ(cursor.link(wire::ChannelType::Cursor, sid, ""), 0u);
    auto init = cursor.wait_msg(wire::MsgCursorInit::kType, 5s);
    ASSERT_TRUE(init);
    auto shape = std::make_shared<proto::CursorShape>();
    shape->unique = 99;
    shape->type = proto::CursorType::Alpha;
    shape->width = 2;
    shape->height = 2;
    shape->data.assign(16, 0xff);
    for (int i = 0; i < 2; ++i) {
        proto::CursorCommand set;
        set.op = proto::CursorSet{proto::Point16{5, 6}, true, shape};
        ASSERT_TRUE(s.server->push_cursor_command(set));
    }
    auto first = cursor.wait_msg(wire::MsgCursorSet::kType, 5s);
    auto second = cursor.wait_msg(wire::MsgCursorSet::kType, 5s);
    ASSERT_TRUE(first && second);
    auto set1 = wire::demarshal_as<wire::MsgCursorSet>(first->body);
    ASSERT_TRUE(set1.ok());
    EXPECT_EQ(set1->cursor_flags, wire::wirecodec::kCursorCacheMe);
    EXPECT_EQ(set1->position, (proto::Point16{5, 6}));
    EXPECT_EQ(first->body.size(), 4u + 1 + 2 + 17 + 16);
    auto set2 = wire::demarshal_as<wire::MsgCursorSet>(second->body);
    ASSERT_TRUE(set2.ok());
    EXPECT_EQ(set2->cursor_flags, wire::wirecodec::kCursorFromCache);
    EXPECT_EQ(second->body.size(), 4u + 1 + 2 + 17);
    proto::CursorCommand move;
    move.op = proto::CursorMove{proto::Point16{7, 8}};
    ASSERT_TRUE(s.server->push_cursor_command(move));
    proto::CursorCommand hide;
    hide.op = proto::CursorHide{};
    ASSERT_TRUE(s.server->push_cursor_command(hide));
    auto mv = cursor.wait_msg(wire::MsgCursorMove::kType, 5s);
    ASSERT_TRUE(mv);
    EXPECT_EQ(mv->body, (std::vector<std::uint8_t>{7, 0, 8, 0}));
    EXPECT_TRUE(cursor.wait_msg(wire::MsgCursorHide::kType, 5s));
}

TEST(Ticketing, CorrectPasswordLinksAndWrongOneIsRefused) {
    ServerConfig cfg;
    cfg.password = "s3cret";
    auto s = test::start_server(cfg);
    ASSERT_TRUE(s.server);
    RawClient bad;
    ASSERT_TRUE(bad.connect(s.server->port()));
    EXPECT_EQ(bad.link(wire::ChannelType::Main, 0, "guess"), 7u);
    EXPECT_TRUE(bad.wait_closed(5s));
    RawClient good;
    EXPECT_NE(test::open_session(good, s.server->port(), "s3cret"), 0u);
}

}  // namespace
}  // namespace qxlbox::server
