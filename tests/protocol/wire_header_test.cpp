#include <gtest/gtest.h>

#include "protocol/wire/header.h"

namespace qxlbox::proto::wire {
namespace {

TEST(WireHeader, MiniAndFullHeadersHaveTheSpecLayout) {
    const Bytes body = {0xaa, 0xbb};
    EXPECT_EQ(frame_message(true, 9, 103, body), (Bytes{103, 0, 2, 0, 0, 0, 0xaa, 0xbb}));
    auto full = frame_message(false, 0x0102030405060708ull, 304, body, 1);
    ASSERT_EQ(full.size(), kFullHeaderBytes + 2);
    EXPECT_EQ(load_le<std::uint64_t>(full.data()), 0x0102030405060708ull);
    EXPECT_EQ(load_le<std::uint16_t>(full.data() + 8), 304);
    EXPECT_EQ(load_le<std::uint32_t>(full.data() + 10), 2u);
    EXPECT_EQ(load_le<std::uint32_t>(full.data() + 14), 1u);
}

TEST(WireFramer, ReassemblesMessagesFromSingleBytesAndCountsMiniSerials) {
    Bytes stream;
    for (std::uint16_t t = 1; t <= 3; ++t) {
        auto m = frame_message(true, 0, t, Bytes(t * 3u, static_cast<std::uint8_t>(t)));
        stream.insert(stream.end(), m.begin(), m.end());
    }
    MessageFramer f(true, 1024);
    std::vector<Frame> got;
    for (auto b : stream) {
        f.feed(ByteView(&b, 1));
        while (auto r = f.next()) {
            ASSERT_TRUE(r->ok());
            got.push_back(std::move(r->value()));
        }
    }
    ASSERT_EQ(got.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(got[i].type, i + 1);
        EXPECT_EQ(got[i].serial, i + 1);
        EXPECT_EQ(got[i].body, Bytes((i + 1) * 3, static_cast<std::uint8_t>(i + 1)));
    }
    EXPECT_EQ(f.buffered_bytes(), 0u);
}

TEST(WireFramer, FullHeaderKeepsSerialAndSubList) {
    MessageFramer f(false, 1024);
    f.feed(frame_message(false, 77, 5, Bytes(8, 0), 4));
    auto r = f.next();
    ASSERT_TRUE(r && r->ok());
    EXPECT_EQ((*r)->serial, 77u);
    EXPECT_EQ((*r)->sub_list, 4u);
}

TEST(WireFramer, OversizeMessageIsAnErrorBeforeItsBodyArrives) {
    MessageFramer f(true, 1024);
    Bytes header;
    append_header(header, true, DataHeader{0, 101, 1025, 0});
    f.feed(header);
    auto r = f.next();
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, ErrorCode::TooLarge);
    EXPECT_TRUE(f.failed());
    f.feed(Bytes(10, 0));
    EXPECT_FALSE(f.next()->ok()) << "errors are sticky";
}

TEST(WireFramer, SubListOffsetOutsideBodyIsAnError) {
    MessageFramer f(false, 1024);
    f.feed(frame_message(false, 1, 5, Bytes(4, 0), 4));
    auto r = f.next();
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->ok());
}

TEST(WireFramer, ChannelLimitsFollowSpiceServer) {
    EXPECT_EQ(max_client_message_bytes(ChannelType::Display), 1024u);
    EXPECT_EQ(max_client_message_bytes(ChannelType::Cursor), 1024u);
    EXPECT_EQ(max_client_message_bytes(ChannelType::Inputs), 2048u);
    EXPECT_GE(max_client_message_bytes(ChannelType::Main), 4096u + 2048u);
}

TEST(WireSubMessages, ListRoundTripsAndFullHeaderSubListParses) {
    MsgList list;
    list.items = {SubMessage{105, Bytes{1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}, SubMessage{102, {}}};
    auto body = marshal(list).value();
    auto items = parse_sub_message_list(body, 0);
    ASSERT_TRUE(items.ok());
    ASSERT_EQ(items->size(), 2u);
    EXPECT_EQ((*items)[0].type, 105);
    EXPECT_EQ((*items)[0].data, list.items[0].data);
    EXPECT_EQ((*items)[1].type, 102);

    // The same list appended to a draw body, addressed by offset as a full header's sub_list.
    Bytes draw(21, 0);
    const auto offset = static_cast<std::uint32_t>(draw.size());
    // Offsets inside a list are from the start of the whole body, so rebuild them.
    Bytes with_list = draw;
    put_le<std::uint16_t>(with_list, 1);
    put_le<std::uint32_t>(with_list, offset + 6);
    put_le<std::uint16_t>(with_list, 102);
    put_le<std::uint32_t>(with_list, 0);
    auto sub = parse_sub_message_list(with_list, offset);
    ASSERT_TRUE(sub.ok()) << sub.error().to_string();
    ASSERT_EQ(sub->size(), 1u);
    EXPECT_EQ((*sub)[0].type, 102);

    EXPECT_FALSE(parse_sub_message_list(with_list, 1000).ok());
    with_list[offset] = 2;  // count says two entries, only one offset present
    EXPECT_FALSE(parse_sub_message_list(with_list, offset).ok());
}

TEST(WireSubMessages, SubMessageSizePastBodyIsAnError) {
    Bytes body;
    put_le<std::uint16_t>(body, 1);
    put_le<std::uint32_t>(body, 6);
    put_le<std::uint16_t>(body, 102);
    put_le<std::uint32_t>(body, 100);
    EXPECT_FALSE(parse_sub_message_list(body, 0).ok());
}

}  // namespace
}  // namespace qxlbox::proto::wire
