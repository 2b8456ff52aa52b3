// LinkServerConfig options the in-process server relies on (server/reds.cpp).
#include <gtest/gtest.h>

#include <memory>

#include "protocol/wire/link.h"

namespace qxlbox::proto::wire {
namespace {

std::shared_ptr<const RsaKeyPair> options_key() {
    static std::shared_ptr<const RsaKeyPair> key = [] {
        auto k = RsaKeyPair::generate();
        EXPECT_TRUE(k.ok());
        return std::make_shared<const RsaKeyPair>(std::move(k).value());
    }();
    return key;
}

LinkServerConfig main_only_config(bool silent) {
    LinkServerConfig cfg;
    cfg.ticketing_enabled = false;
    cfg.key = options_key();
    cfg.silent_on_unavailable_channel = silent;
    cfg.channel_caps = [](ChannelType t, std::uint8_t id) -> std::optional<CapabilitySet> {
        if (t == ChannelType::Main && id == 0) return CapabilitySet{};
        return std::nullopt;
    };
    return cfg;
}

Bytes link_bytes(ChannelType type, std::uint8_t id) {
    LinkMess mess;
    mess.channel_type = type;
    mess.channel_id = id;
    mess.common_caps = default_common_caps();
    return marshal_link_mess(mess);
}

TEST(WireLinkServerOptions, SilentModeClosesUnavailableChannelWithoutAnyReply) {
    LinkServer server(main_only_config(true));
    server.feed(link_bytes(ChannelType::Playback, 0));
    EXPECT_EQ(server.state(), LinkServer::State::Failed);
    EXPECT_EQ(server.failure(), LinkError::ChannelNotAvailable);
    EXPECT_TRUE(server.take_output().empty());
    EXPECT_NE(server.failure_reason().find("playback"), std::string::npos);
}

TEST(WireLinkServerOptions, SilentModeAppliesToUnknownChannelIds) {
    LinkServer server(main_only_config(true));
    server.feed(link_bytes(ChannelType::Main, 1));
    EXPECT_EQ(server.state(), LinkServer::State::Failed);
    EXPECT_TRUE(server.take_output().empty());
}

TEST(WireLinkServerOptions, SilentModeStillRepliesToAvailableChannels) {
    LinkServer server(main_only_config(true));
    server.feed(link_bytes(ChannelType::Main, 0));
    EXPECT_EQ(server.state(), LinkServer::State::ReadingMechanism);
    auto out = server.take_output();
    ASSERT_GE(out.size(), kLinkHeaderBytes + kLinkReplyBytes);
    EXPECT_EQ(load_le<std::uint32_t>(out.data() + kLinkHeaderBytes), 0u);
}

TEST(WireLinkServerOptions, DefaultModeRepliesChannelNotAvailable) {
    LinkServer server(main_only_config(false));
    server.feed(link_bytes(ChannelType::Playback, 0));
    EXPECT_EQ(server.state(), LinkServer::State::Failed);
    auto out = server.take_output();
    ASSERT_EQ(out.size(), kLinkHeaderBytes + kLinkReplyBytes);
    EXPECT_EQ(load_le<std::uint32_t>(out.data() + kLinkHeaderBytes),
              static_cast<std::uint32_t>(LinkError::ChannelNotAvailable));
}

}  // namespace
}  // namespace qxlbox::proto::wire
