#include <gtest/gtest.h>

#include <memory>

#include "protocol/wire/link.h"

namespace qxlbox::proto::wire {
namespace {

// One key for the whole suite: RSA keygen is the slow part of every link.
std::shared_ptr<const RsaKeyPair> shared_key() {
    static std::shared_ptr<const RsaKeyPair> key = [] {
        auto k = RsaKeyPair::generate();
        EXPECT_TRUE(k.ok());
        return std::make_shared<const RsaKeyPair>(std::move(k).value());
    }();
    return key;
}

LinkServerConfig server_config(bool ticketing, std::string password) {
    LinkServerConfig c;
    c.ticketing_enabled = ticketing;
    c.password = std::move(password);
    c.key = shared_key();
    return c;
}

// Moves bytes between the two machines, one byte at a time to exercise partial reads.
void pump(LinkClient& client, LinkServer& server, bool byte_by_byte = true) {
    for (int round = 0; round < 16; ++round) {
        auto c2s = client.take_output();
        auto s2c = server.take_output();
        if (c2s.empty() && s2c.empty()) return;
        if (byte_by_byte) {
            for (auto b : c2s) server.feed(ByteView(&b, 1));
            for (auto b : s2c) client.feed(ByteView(&b, 1));
        } else {
            server.feed(c2s);
            client.feed(s2c);
        }
        if (server.state() == LinkServer::State::AwaitingDecision) server.accept();
    }
}

Bytes link_mess_bytes(std::uint32_t num_common, std::uint32_t num_channel, std::uint32_t caps_offset,
                      std::uint32_t declared_size, std::size_t actual_caps_words) {
    Bytes b;
    put_le(b, kLinkMagic);
    put_le(b, kVersionMajor);
    put_le(b, kVersionMinor);
    put_le(b, declared_size);
    put_le<std::uint32_t>(b, 0);
    put_le<std::uint8_t>(b, 1);
    put_le<std::uint8_t>(b, 0);
    put_le(b, num_common);
    put_le(b, num_channel);
    put_le(b, caps_offset);
    for (std::size_t i = 0; i < actual_caps_words; ++i) put_le<std::uint32_t>(b, 0xb);
    return b;
}

LinkError server_reply_error(const Bytes& reply) {
    EXPECT_GE(reply.size(), kLinkHeaderBytes + 4);
    if (reply.size() < kLinkHeaderBytes + 4) return LinkError::Ok;
    return static_cast<LinkError>(load_le<std::uint32_t>(reply.data() + kLinkHeaderBytes));
}

TEST(WireCapabilities, BitNumbersMapToWordsAndBits) {
    auto caps = CapabilitySet::of({0, 1, 3, 33});
    ASSERT_EQ(caps.words().size(), 2u);
    EXPECT_EQ(caps.words()[0], 0x0Bu);
    EXPECT_EQ(caps.words()[1], 0x2u);
    EXPECT_TRUE(caps.has(33));
    EXPECT_FALSE(caps.has(2));
    EXPECT_FALSE(caps.has(200));
    EXPECT_EQ(default_common_caps().words(), std::vector<std::uint32_t>{0x0B});
}

TEST(WireRsa, PublicKeyIsThe162ByteSubjectPublicKeyInfoWithExponent65537) {
    const auto& der = shared_key()->public_der();
    const std::uint8_t prefix[] = {0x30, 0x81, 0x9f, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
                                   0x01, 0x05, 0x00, 0x03, 0x81, 0x8d, 0x00, 0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00};
    const std::uint8_t suffix[] = {0x02, 0x03, 0x01, 0x00, 0x01};
    EXPECT_TRUE(std::equal(std::begin(prefix), std::end(prefix), der.begin()));
    EXPECT_TRUE(std::equal(std::begin(suffix), std::end(suffix), der.end() - 5));
    EXPECT_NE(der[29] & 0x80, 0) << "modulus top bit";
}

TEST(WireRsa, TicketRoundTripsAndWrongKeyFails) {
    auto ticket = encrypt_ticket(shared_key()->public_der(), "secret");
    ASSERT_TRUE(ticket.ok()) << ticket.error().to_string();
    EXPECT_EQ(ticket->size(), kEncryptedTicketBytes);
    auto plain = shared_key()->decrypt_ticket(*ticket);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(*plain, "secret");

    auto other = RsaKeyPair::generate();
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->decrypt_ticket(*ticket).ok());
}

TEST(WireRsa, RejectsLongPasswordsAndNonKeyBytes) {
    EXPECT_FALSE(encrypt_ticket(shared_key()->public_der(), std::string(61, 'x')).ok());
    PublicKeyDer zeros{};
    EXPECT_FALSE(encrypt_ticket(zeros, "").ok());
    Bytes garbage(128, 0x5a);
    EXPECT_FALSE(shared_key()->decrypt_ticket(garbage).ok());
    EXPECT_FALSE(shared_key()->decrypt_ticket(Bytes(127, 0)).ok());
}

TEST(WireLink, ClientAndServerLinkWithPasswordOverSingleBytes) {
    LinkClientConfig cc;
    cc.password = "secret";
    cc.channel_caps = default_client_channel_caps(ChannelType::Main);
    LinkClient client(cc);
    LinkServer server(server_config(true, "secret"));
    pump(client, server);
    EXPECT_EQ(server.state(), LinkServer::State::Linked) << server.failure_reason();
    EXPECT_EQ(client.state(), LinkClient::State::Linked) << client.failure_reason();
    EXPECT_TRUE(client.mini_header());
    EXPECT_TRUE(server.mini_header());
    EXPECT_EQ(server.peer().channel_type, ChannelType::Main);
    EXPECT_TRUE(client.reply().channel_caps.has(main_cap::kNameAndUuid));
}

TEST(WireLink, WrongPasswordGivesPermissionDenied) {
    LinkClientConfig cc;
    cc.password = "guess";
    LinkClient client(cc);
    LinkServer server(server_config(true, "secret"));
    pump(client, server, false);
    EXPECT_EQ(server.state(), LinkServer::State::Failed);
    EXPECT_EQ(client.state(), LinkClient::State::Failed);
    EXPECT_EQ(client.failure(), LinkError::PermissionDenied);
}

TEST(WireLink, TicketingEnabledWithEmptyPasswordRefusesEveryone) {
    LinkClient client(LinkClientConfig{});
    LinkServer server(server_config(true, ""));
    pump(client, server, false);
    EXPECT_EQ(client.failure(), LinkError::PermissionDenied);
}

TEST(WireLink, TicketingDisabledIgnoresPasswordContent) {
    LinkClientConfig cc;
    cc.password = "anything";
    LinkClient client(cc);
    LinkServer server(server_config(false, "secret"));
    pump(client, server, false);
    EXPECT_EQ(client.state(), LinkClient::State::Linked);
}

TEST(WireLink, NoMiniHeaderUnlessBothAdvertiseIt) {
    LinkClientConfig cc;
    cc.common_caps = CapabilitySet::of({common_cap::kProtocolAuthSelection, common_cap::kAuthSpice});
    LinkClient client(cc);
    LinkServer server(server_config(false, ""));
    pump(client, server, false);
    ASSERT_EQ(client.state(), LinkClient::State::Linked);
    EXPECT_FALSE(client.mini_header());
    EXPECT_FALSE(server.mini_header());
}

TEST(WireLink, WithoutAuthSelectionTheTicketComesDirectly) {
    LinkClientConfig cc;
    cc.common_caps = CapabilitySet::of({common_cap::kMiniHeader});
    LinkClient client(cc);
    LinkServer server(server_config(false, ""));
    pump(client, server, false);
    EXPECT_EQ(client.state(), LinkClient::State::Linked) << client.failure_reason();
}

TEST(WireLink, ClientOutputComesAsOneBufferPerLinkStageMessage) {
    LinkClient client(LinkClientConfig{});
    LinkServer server(server_config(false, ""));
    const std::vector<Bytes> first = client.take_output_messages();
    ASSERT_EQ(first.size(), 1u);
    ASSERT_GE(first[0].size(), kLinkHeaderBytes);
    EXPECT_EQ(load_le<std::uint32_t>(first[0].data()), kLinkMagic);
    server.feed(first[0]);
    client.feed(server.take_output());
    // Auth mechanism selection, then the 128-byte RSA ticket, each on its own.
    const std::vector<Bytes> second = client.take_output_messages();
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(second[0].size(), 4u);
    EXPECT_EQ(second[1].size(), 128u);
    EXPECT_TRUE(client.take_output_messages().empty());
    for (const Bytes& m : second) server.feed(m);
    if (server.state() == LinkServer::State::AwaitingDecision) server.accept();
    client.feed(server.take_output());
    EXPECT_EQ(client.state(), LinkClient::State::Linked) << client.failure_reason();
}

TEST(WireLink, WithoutAuthSelectionOnlyTheTicketFollows) {
    LinkClientConfig cc;
    cc.common_caps = CapabilitySet::of({common_cap::kMiniHeader});
    LinkClient client(cc);
    LinkServer server(server_config(false, ""));
    server.feed(client.take_output());
    client.feed(server.take_output());
    const std::vector<Bytes> messages = client.take_output_messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].size(), 128u);
}

TEST(WireLink, ServerRejectDecisionSendsResultCode) {
    LinkClientConfig cc;
    cc.connection_id = 1234;
    cc.channel_type = ChannelType::Display;
    LinkClient client(cc);
    LinkServer server(server_config(false, ""));
    server.feed(client.take_output());
    client.feed(server.take_output());
    server.feed(client.take_output());
    ASSERT_EQ(server.state(), LinkServer::State::AwaitingDecision);
    EXPECT_EQ(server.peer().connection_id, 1234u);
    server.reject(LinkError::BadConnectionId);
    client.feed(server.take_output());
    EXPECT_EQ(client.failure(), LinkError::BadConnectionId);
}

TEST(WireLink, BytesAfterTheTicketAreLeftOverForTheDataStream) {
    LinkClient client(LinkClientConfig{});
    LinkServer server(server_config(false, ""));
    server.feed(client.take_output());
    client.feed(server.take_output());
    auto ticket = client.take_output();
    ticket.push_back(0x65);
    ticket.push_back(0x00);
    server.feed(ticket);
    server.accept();
    auto result = server.take_output();
    result.push_back(0x77);
    client.feed(result);
    EXPECT_EQ(server.take_leftover(), (Bytes{0x65, 0x00}));
    EXPECT_EQ(client.take_leftover(), (Bytes{0x77}));
}

TEST(WireLinkServer, UnavailableChannelGetsErrorReply) {
    auto cfg = server_config(false, "");
    cfg.channel_caps = [](ChannelType t, std::uint8_t) -> std::optional<CapabilitySet> {
        if (t == ChannelType::Main) return CapabilitySet{};
        return std::nullopt;
    };
    LinkClientConfig cc;
    cc.channel_type = ChannelType::Playback;
    LinkClient client(cc);
    LinkServer server(cfg);
    pump(client, server, false);
    EXPECT_EQ(client.failure(), LinkError::ChannelNotAvailable);
}

TEST(WireLinkServer, RejectsBadMagicWithInvalidMagicReply) {
    LinkServer server(server_config(false, ""));
    auto bytes = link_mess_bytes(1, 0, 18, 22, 1);
    bytes[0] = 'X';
    server.feed(bytes);
    EXPECT_EQ(server.state(), LinkServer::State::Failed);
    auto out = server.take_output();
    EXPECT_EQ(out.size(), kLinkHeaderBytes + kLinkReplyBytes);
    EXPECT_EQ(server_reply_error(out), LinkError::InvalidMagic);
}

TEST(WireLinkServer, RejectsWrongMajorVersion) {
    LinkServer server(server_config(false, ""));
    auto bytes = link_mess_bytes(1, 0, 18, 22, 1);
    bytes[4] = 1;
    server.feed(bytes);
    EXPECT_EQ(server_reply_error(server.take_output()), LinkError::VersionMismatch);
}

TEST(WireLinkServer, RejectsSizesOutsideBounds) {
    for (std::uint32_t size : {0u, 17u, 4097u, 0xffffffffu}) {
        LinkServer server(server_config(false, ""));
        server.feed(link_mess_bytes(0, 0, 18, size, 0));
        EXPECT_EQ(server.state(), LinkServer::State::Failed) << size;
        EXPECT_EQ(server_reply_error(server.take_output()), LinkError::InvalidData) << size;
    }
}

TEST(WireLinkServer, RejectsTooManyCapsWords) {
    LinkServer server(server_config(false, ""));
    server.feed(link_mess_bytes(1025, 0, 18, 22, 1));
    EXPECT_EQ(server_reply_error(server.take_output()), LinkError::InvalidData);
}

TEST(WireLinkServer, RejectsCapsOffsetInsideFixedPart) {
    LinkServer server(server_config(false, ""));
    server.feed(link_mess_bytes(1, 0, 17, 22, 1));
    EXPECT_EQ(server_reply_error(server.take_output()), LinkError::InvalidData);
}

TEST(WireLinkServer, RejectsCapsBeyondDeclaredSize) {
    LinkServer server(server_config(false, ""));
    server.feed(link_mess_bytes(2, 1, 18, 22, 3));  // 3 words declared, size covers one
    EXPECT_EQ(server_reply_error(server.take_output()), LinkError::InvalidData);
}

TEST(WireLinkServer, WaitsForTruncatedLinkWithoutReplying) {
    LinkServer server(server_config(false, ""));
    auto bytes = link_mess_bytes(1, 0, 18, 22, 1);
    server.feed(ByteView(bytes.data(), bytes.size() - 3));
    EXPECT_EQ(server.state(), LinkServer::State::ReadingMess);
    EXPECT_TRUE(server.take_output().empty());
}

TEST(WireLinkServer, UnknownAuthMechanismGivesInvalidDataResult) {
    LinkClient client(LinkClientConfig{});
    LinkServer server(server_config(false, ""));
    server.feed(client.take_output());
    server.take_output();
    Bytes mech;
    put_le<std::uint32_t>(mech, kAuthMechanismSasl);
    server.feed(mech);
    EXPECT_EQ(server.state(), LinkServer::State::Failed);
    auto out = server.take_output();
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(load_le<std::uint32_t>(out.data()), static_cast<std::uint32_t>(LinkError::InvalidData));
}

TEST(WireLinkServer, GarbageTicketIsPermissionDeniedEvenWithoutTicketing) {
    LinkClient client(LinkClientConfig{});
    LinkServer server(server_config(false, ""));
    server.feed(client.take_output());
    server.take_output();
    Bytes bytes;
    put_le<std::uint32_t>(bytes, kAuthMechanismSpice);
    bytes.resize(4 + kEncryptedTicketBytes, 0x42);
    server.feed(bytes);
    EXPECT_EQ(server.failure(), LinkError::PermissionDenied);
}

Bytes reply_bytes(std::uint32_t declared_size, std::uint32_t error, std::uint32_t num_common, std::uint32_t caps_offset,
                  const PublicKeyDer& key, std::uint32_t common_word = 0x0B) {
    Bytes b;
    put_le(b, kLinkMagic);
    put_le(b, kVersionMajor);
    put_le(b, kVersionMinor);
    put_le(b, declared_size);
    put_le(b, error);
    b.insert(b.end(), key.begin(), key.end());
    put_le(b, num_common);
    put_le<std::uint32_t>(b, 0);
    put_le(b, caps_offset);
    put_le(b, common_word);
    return b;
}

TEST(WireLinkClient, AcceptsWellFormedReplyAndSendsMechanismAndTicket) {
    LinkClient client(LinkClientConfig{});
    client.take_output();
    client.feed(reply_bytes(182, 0, 1, 178, shared_key()->public_der()));
    EXPECT_EQ(client.state(), LinkClient::State::ReadingResult);
    auto out = client.take_output();
    ASSERT_EQ(out.size(), 4 + kEncryptedTicketBytes);
    EXPECT_EQ(load_le<std::uint32_t>(out.data()), kAuthMechanismSpice);
    auto plain = shared_key()->decrypt_ticket(ByteView(out.data() + 4, kEncryptedTicketBytes));
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(*plain, "");
}

TEST(WireLinkClient, RejectsMalformedReplies) {
    const auto& key = shared_key()->public_der();
    struct Case {
        const char* what;
        Bytes bytes;
    };
    auto bad_magic = reply_bytes(182, 0, 1, 178, key);
    bad_magic[3] = 0;
    auto bad_major = reply_bytes(182, 0, 1, 178, key);
    bad_major[4] = 3;
    PublicKeyDer zero_key{};
    const Case cases[] = {
        {"magic", bad_magic},
        {"major", bad_major},
        {"size below 178", reply_bytes(100, 0, 1, 178, key)},
        {"caps past end", reply_bytes(182, 0, 2, 178, key)},
        {"caps offset inside", reply_bytes(182, 0, 1, 20, key)},
        {"caps count", reply_bytes(182, 0, 5000, 178, key)},
        {"zero key", reply_bytes(182, 0, 1, 178, zero_key)},
        {"no AUTH_SPICE", reply_bytes(182, 0, 1, 178, key, 0x9)},
    };
    for (const auto& c : cases) {
        LinkClient client(LinkClientConfig{});
        client.take_output();
        client.feed(c.bytes);
        EXPECT_EQ(client.state(), LinkClient::State::Failed) << c.what;
        EXPECT_TRUE(client.take_output().empty()) << c.what;
    }
}

TEST(WireLinkClient, ReportsServerErrorReply) {
    LinkClient client(LinkClientConfig{});
    client.feed(marshal_link_error_reply(LinkError::NeedSecured));
    EXPECT_EQ(client.state(), LinkClient::State::Failed);
    EXPECT_EQ(client.failure(), LinkError::NeedSecured);
}

}  // namespace
}  // namespace qxlbox::proto::wire

namespace qxlbox::proto::wire {
namespace {

TEST(WireLinkServer, PeerFloodingBeforeTheLinkCompletesIsCutOff) {
    LinkClient client(LinkClientConfig{});
    LinkServer server(server_config(false, ""));
    server.feed(client.take_output());
    client.feed(server.take_output());
    Bytes flood = client.take_output();  // mechanism + a valid ticket
    flood.resize(flood.size() + 200000, 0x11);
    server.feed(flood);
    EXPECT_EQ(server.state(), LinkServer::State::Failed);
    EXPECT_EQ(server.failure(), LinkError::InvalidData);
}

}  // namespace
}  // namespace qxlbox::proto::wire
