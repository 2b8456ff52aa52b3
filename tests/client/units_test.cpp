// Client pieces on their own (scancodes, URIs, cursor shapes, PNG files) and the inputs and
// cursor channels against the scripted server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "client/channels.h"
#include "client/scancode.h"
#include "tests/client/test_util.h"

namespace qxlbox::client::test {
namespace {

namespace wire = qxlbox::proto::wire;
using SteadyClock = std::chrono::steady_clock;
constexpr int kWaitMs = 5000;

TEST(ClientScancode, MapsPlainKeysToSet1) {
    EXPECT_EQ(spice_scancode_from_usb(4), 0x1eu);    // A
    EXPECT_EQ(spice_scancode_from_usb(29), 0x2cu);   // Z
    EXPECT_EQ(spice_scancode_from_usb(39), 0x0bu);   // 0
    EXPECT_EQ(spice_scancode_from_usb(40), 0x1cu);   // Return
    EXPECT_EQ(spice_scancode_from_usb(225), 0x2au);  // Left Shift
    EXPECT_EQ(spice_scancode_from_usb(69), 0x58u);   // F12
}

TEST(ClientScancode, MapsExtendedKeysWithE0Prefix) {
    EXPECT_EQ(spice_scancode_from_usb(82), 0x48e0u);   // Up, spec §7 example
    EXPECT_EQ(spice_scancode_from_usb(228), 0x1de0u);  // Right Ctrl
    EXPECT_EQ(spice_scancode_from_usb(88), 0x1ce0u);   // keypad Enter
    EXPECT_EQ(spice_scancode_from_usb(76), 0x53e0u);   // Delete
}

TEST(ClientScancode, RejectsUnknownUsages) {
    EXPECT_EQ(spice_scancode_from_usb(-1), 0u);
    EXPECT_EQ(spice_scancode_from_usb(0), 0u);
    EXPECT_EQ(spice_scancode_from_usb(72), 0u);  // Pause needs an E1 sequence
    EXPECT_EQ(spice_scancode_from_usb(100000), 0u);
}

TEST(ClientUri, ParsesHostAndPort) {
    Endpoint ep;
    std::string error;
    ASSERT_TRUE(parse_spice_uri("spice://127.0.0.1:5930", ep, error)) << error;
    EXPECT_EQ(ep.host, "127.0.0.1");
    EXPECT_EQ(ep.port, 5930);
    ASSERT_TRUE(parse_spice_uri("localhost:1", ep, error));
    EXPECT_EQ(ep.host, "localhost");
    ASSERT_TRUE(parse_spice_uri("spice://[::1]:5900/", ep, error));
    EXPECT_EQ(ep.host, "::1");
    EXPECT_EQ(ep.port, 5900);
}

TEST(ClientUri, RejectsMalformedUris) {
    Endpoint ep;
    std::string error;
    for (const char* bad : {"spice://host", "spice://:5900", "spice://host:0", "spice://host:65536",
                            "spice://host:12x", "spice://[::1]5900", ""}) {
        EXPECT_FALSE(parse_spice_uri(bad, ep, error)) << bad;
        EXPECT_FALSE(error.empty());
    }
}

proto::CursorShape shape(proto::CursorType type, std::uint16_t w, std::uint16_t h, std::vector<std::uint8_t> data) {
    proto::CursorShape s;
    s.type = type;
    s.width = w;
    s.height = h;
    s.data = std::move(data);
    return s;
}

TEST(ClientCursor, ConvertsAlphaShapes) {
    std::vector<std::uint32_t> argb;
    std::string error;
    ASSERT_TRUE(cursor_to_argb(shape(proto::CursorType::Alpha, 2, 1, {1, 2, 3, 4, 5, 6, 7, 8}), argb, error));
    EXPECT_EQ(argb, (std::vector<std::uint32_t>{0x04030201u, 0x08070605u}));
}

TEST(ClientCursor, ConvertsMonoShapesByAndXorPlanes) {
    // 4 pixels: AND bits 1,0,0,1 and XOR bits 0,0,1,1 -> transparent, black, white, inverted.
    std::vector<std::uint32_t> argb;
    std::string error;
    ASSERT_TRUE(cursor_to_argb(shape(proto::CursorType::Mono, 4, 1, {0x90, 0x30}), argb, error));
    EXPECT_EQ(argb, (std::vector<std::uint32_t>{0u, 0xff000000u, 0xffffffffu, 0xff000000u}));
}

TEST(ClientCursor, AppliesMaskToColor32Shapes) {
    std::vector<std::uint32_t> argb;
    std::string error;
    ASSERT_TRUE(cursor_to_argb(shape(proto::CursorType::Color32, 2, 1, {0x10, 0x20, 0x30, 0, 1, 2, 3, 0, 0x40}), argb,
                               error));
    EXPECT_EQ(argb, (std::vector<std::uint32_t>{0xff302010u, 0u}));
}

TEST(ClientCursor, RejectsShortDataAndUnsupportedTypes) {
    std::vector<std::uint32_t> argb;
    std::string error;
    EXPECT_FALSE(cursor_to_argb(shape(proto::CursorType::Alpha, 4, 4, {1, 2, 3}), argb, error));
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(cursor_to_argb(shape(proto::CursorType::Color8, 1, 1, std::vector<std::uint8_t>(64)), argb, error));
}

TEST(ClientPng, RoundTripsPixels) {
    const auto path = std::filesystem::temp_directory_path() / ("qxlbox-client-png-" + std::to_string(::getpid()));
    const RgbImage image = pattern_rgb(13, 7, 9);
    std::string error;
    ASSERT_TRUE(write_png(image, path.string(), error)) << error;
    RgbImage back;
    ASSERT_TRUE(read_png(path.string(), back, error)) << error;
    std::filesystem::remove(path);
    EXPECT_EQ(back, image);
}

TEST(ClientPng, RejectsFilesThatAreNotImages) {
    const auto path = std::filesystem::temp_directory_path() / ("qxlbox-client-bad-" + std::to_string(::getpid()));
    std::ofstream(path) << "P6\n99999 2\n255\nshort";
    RgbImage out;
    std::string error;
    EXPECT_FALSE(read_png(path.string(), out, error));
    EXPECT_FALSE(read_ppm(path.string(), out, error));
    std::filesystem::remove(path);
    EXPECT_FALSE(write_png(RgbImage{}, path.string(), error));
}

TEST(ClientPng, ConvertsRgb565Surfaces) {
    auto s = proto::Surface::create(proto::SurfaceFormat::RGB565, 1, 1);
    ASSERT_TRUE(s);
    s->data()[0] = 0x00;
    s->data()[1] = 0xf8;  // pure red in 5:6:5
    const RgbImage rgb = surface_to_rgb(*s);
    EXPECT_EQ(rgb.rgb, (std::vector<std::uint8_t>{0xff, 0, 0}));
}

// Runs a Session (display with one MARK) until `ready`, then `act`, then polls for `linger_ms`.
void drive_session(FakeServerOptions opts, const std::function<bool(Session&)>& ready,
                   const std::function<void(Session&)>& act, int linger_ms, std::string* error = nullptr) {
    opts.channels = {{2, 0}, {4, 0}, {3, 0}};
    if (!opts.display) {
        opts.display = [](FakePeer& p) {
            p.receive(kWaitMs);
            p.send(primary_surface(64, 64));
            p.send(wire::MsgDisplayMark{});
            p.drain_until_closed(kWaitMs);
        };
    }
    const auto drain = [](FakePeer& p) { p.drain_until_closed(kWaitMs); };
    if (!opts.inputs) opts.inputs = drain;
    if (!opts.cursor) opts.cursor = drain;
    FakeServer server(opts);
    SessionOptions s;
    s.endpoint = server.endpoint();
    s.log = [](const std::string&) {};
    Session session(s);
    ASSERT_TRUE(session.connect()) << session.error();
    const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
    while (!ready(session) && SteadyClock::now() < deadline && session.poll(20)) {
    }
    ASSERT_TRUE(ready(session)) << session.error();
    act(session);
    const auto end = SteadyClock::now() + std::chrono::milliseconds(linger_ms);
    while (SteadyClock::now() < end && session.poll(20)) {
    }
    if (error) *error = session.error();
    session.close("test done");
}

TEST(ClientInputs, SendsKeysAsScancodesWithReleaseBit) {
    std::vector<std::pair<std::uint16_t, std::uint32_t>> keys;
    FakeServerOptions opts;
    opts.inputs = [&](FakePeer& p) {
        p.send(wire::MsgInputsInit{});
        while (keys.size() < 4) {
            auto f = p.receive(kWaitMs);
            if (!f) break;
            if (f->type == wire::MsgcInputsKeyDown::kType || f->type == wire::MsgcInputsKeyUp::kType) {
                keys.emplace_back(f->type, wire::load_le<std::uint32_t>(f->body.data()));
            }
        }
        p.drain_until_closed(kWaitMs);
    };
    drive_session(
        opts, [](Session& s) { return s.inputs_linked() && s.marks() > 0; },
        [](Session& s) {
            s.key_down(0x1e);
            s.key_up(0x1e);
            s.key_down(0x48e0);
            s.key_up(0x48e0);
        },
        300);
    const std::vector<std::pair<std::uint16_t, std::uint32_t>> want = {
        {wire::MsgcInputsKeyDown::kType, 0x1eu},
        {wire::MsgcInputsKeyUp::kType, 0x9eu},
        {wire::MsgcInputsKeyDown::kType, 0x48e0u},
        {wire::MsgcInputsKeyUp::kType, 0xc8e0u},
    };
    EXPECT_EQ(keys, want);
}

TEST(ClientInputs, HoldsMotionUntilTheServerAcknowledges) {
    std::vector<wire::MsgcInputsMouseMotion> motions;
    std::size_t before_ack = 0;
    FakeServerOptions opts;
    opts.inputs = [&](FakePeer& p) {
        p.send(wire::MsgInputsInit{});
        const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
        bool acked = false;
        while (SteadyClock::now() < deadline && motions.size() < 9) {
            auto f = p.receive(acked ? kWaitMs : 400);
            if (!f) {
                if (acked || motions.empty()) continue;
                // Quiet for 400 ms with motions pending: the client is holding back. Ack once.
                before_ack = motions.size();
                p.send(wire::MsgInputsMouseMotionAck{});
                acked = true;
                continue;
            }
            if (f->type == wire::MsgcInputsMouseMotion::kType) {
                if (auto m = wire::demarshal_as<wire::MsgcInputsMouseMotion>(f->body)) motions.push_back(*m);
            }
        }
        p.drain_until_closed(kWaitMs);
    };
    drive_session(
        opts, [](Session& s) { return s.inputs_linked() && s.marks() > 0; },
        [](Session& s) {
            for (int i = 0; i < 20; ++i) s.mouse_motion(1, 2);
        },
        1500);
    EXPECT_EQ(before_ack, 2 * kMotionAckBunch);
    ASSERT_EQ(motions.size(), 2 * kMotionAckBunch + 1);
    EXPECT_EQ(motions.back().dx, 12);  // the 12 held-back motions, merged
    EXPECT_EQ(motions.back().dy, 24);
}

TEST(ClientInputs, SendsButtonStateWithPressAndRelease) {
    std::vector<std::pair<std::uint8_t, std::uint16_t>> presses;
    FakeServerOptions opts;
    opts.inputs = [&](FakePeer& p) {
        p.send(wire::MsgInputsInit{});
        while (presses.size() < 4) {
            auto f = p.receive(kWaitMs);
            if (!f) break;
            if (f->type == wire::MsgcInputsMousePress::kType || f->type == wire::MsgcInputsMouseRelease::kType) {
                presses.emplace_back(f->body[0], wire::load_le<std::uint16_t>(f->body.data() + 1));
            }
        }
        p.drain_until_closed(kWaitMs);
    };
    drive_session(
        opts, [](Session& s) { return s.inputs_linked() && s.marks() > 0; },
        [](Session& s) {
            s.mouse_button(MouseButton::Left, true);
            s.mouse_button(MouseButton::Right, true);
            s.mouse_button(MouseButton::Left, false);
            s.mouse_wheel(-1);
        },
        300);
    ASSERT_GE(presses.size(), 4u);
    EXPECT_EQ(presses[0], (std::pair<std::uint8_t, std::uint16_t>{1, 0x1}));
    EXPECT_EQ(presses[1], (std::pair<std::uint8_t, std::uint16_t>{3, 0x5}));
    EXPECT_EQ(presses[2], (std::pair<std::uint8_t, std::uint16_t>{1, 0x4}));
    EXPECT_EQ(presses[3], (std::pair<std::uint8_t, std::uint16_t>{5, 0x14}));
}

wire::MsgCursorSet alpha_cursor(std::uint64_t unique, std::uint16_t flags) {
    wire::MsgCursorSet set;
    set.position = {10, 20};
    set.visible = 1;
    set.cursor_flags = flags;
    auto s = std::make_shared<proto::CursorShape>();
    s->unique = unique;
    s->type = proto::CursorType::Alpha;
    s->width = 2;
    s->height = 2;
    s->hot_spot_x = 1;
    s->hot_spot_y = 9;  // beyond the shape: clamped
    s->data = {1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, 10, 11, 12, 0};
    set.shape = s;
    return set;
}

TEST(ClientCursor, TracksShapeMoveHideAndCache) {
    std::vector<CursorState> states;
    FakeServerOptions opts;
    std::atomic<int> step{0};
    opts.cursor = [&](FakePeer& p) {
        p.send(alpha_cursor(7, wire::wirecodec::kCursorCacheMe));
        const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
        while (step < 1 && SteadyClock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        p.send(wire::MsgCursorHide{});
        auto from_cache = alpha_cursor(7, wire::wirecodec::kCursorFromCache);
        std::const_pointer_cast<proto::CursorShape>(from_cache.shape)->data.clear();
        from_cache.position = {30, 40};
        p.send(from_cache);
        p.send(wire::MsgCursorMove{{31, 41}});
        p.drain_until_closed(kWaitMs);
    };
    drive_session(
        opts, [](Session& s) { return s.cursor().shape != nullptr && s.marks() > 0; },
        [&](Session& s) {
            states.push_back(s.cursor());
            step = 1;
            const auto deadline = SteadyClock::now() + std::chrono::seconds(3);
            while (s.cursor().position.x != 31 && SteadyClock::now() < deadline && s.poll(20)) {
            }
            states.push_back(s.cursor());
        },
        0);
    ASSERT_EQ(states.size(), 2u);
    EXPECT_TRUE(states[0].visible);
    EXPECT_EQ(states[0].position, (proto::Point16{10, 20}));
    ASSERT_TRUE(states[0].argb);
    EXPECT_EQ((*states[0].argb)[0], 0xff030201u);
    EXPECT_EQ(states[0].shape->hot_spot_y, 2);
    EXPECT_EQ(states[1].position, (proto::Point16{31, 41}));
    EXPECT_TRUE(states[1].visible);
    EXPECT_EQ(states[1].argb, states[0].argb) << "FROM_CACHE reuses the cached shape";
}

TEST(ClientCursor, CursorCacheMissEndsTheSession) {
    FakeServerOptions opts;
    opts.cursor = [&](FakePeer& p) {
        auto from_cache = alpha_cursor(99, wire::wirecodec::kCursorFromCache);
        std::const_pointer_cast<proto::CursorShape>(from_cache.shape)->data.clear();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        p.send(from_cache);
        p.drain_until_closed(kWaitMs);
    };
    std::string error;
    drive_session(
        opts, [](Session& s) { return s.marks() > 0; }, [](Session&) {}, 1000, &error);
    EXPECT_NE(error.find("cursor cache"), std::string::npos) << error;
}

}  // namespace
}  // namespace qxlbox::client::test
