// The SPICE link stage (spec §1): what runs on every new channel connection before data
// messages flow. Sans-IO: LinkServer and LinkClient are state machines that take the bytes the
// socket delivered (any split), produce the bytes to send, and end Linked or Failed; the
// server and client code only move bytes between them and the socket.
//
// Sequence: C->S SpiceLinkHeader + SpiceLinkMess + caps; S->C SpiceLinkHeader + SpiceLinkReply
// (error code, 162-byte DER SubjectPublicKeyInfo of an RSA-1024 key, caps); C->S a u32 auth
// mechanism iff both sides advertised PROTOCOL_AUTH_SELECTION, then the 128-byte RSA-OAEP
// (SHA-1) encrypted ticket (password + NUL); S->C a u32 link result. Every size, caps count
// (<= 1024) and caps offset is checked on both sides. Not supported: SASL, TLS, migration.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/wire/bytes.h"
#include "protocol/wire/enums.h"
#include "protocol/wire/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace qxlbox::proto::wire {

inline constexpr std::size_t kLinkHeaderBytes = 16;
inline constexpr std::size_t kLinkMessBytes = 18;
inline constexpr std::size_t kLinkReplyBytes = 178;
inline constexpr std::size_t kTicketPubkeyBytes = 162;  // DER SubjectPublicKeyInfo, RSA-1024
inline constexpr std::size_t kEncryptedTicketBytes = 128;
inline constexpr std::size_t kMaxPasswordBytes = 60;
inline constexpr std::uint32_t kMaxLinkSizeBytes = 4096;
inline constexpr std::uint32_t kMaxCapsWords = 1024;

using PublicKeyDer = std::array<std::uint8_t, kTicketPubkeyBytes>;

// Capability words: capability N is bit N%32 of word N/32.
class CapabilitySet {
public:
    CapabilitySet() = default;
    explicit CapabilitySet(std::vector<std::uint32_t> words) : words_(std::move(words)) {}
    static CapabilitySet of(std::initializer_list<unsigned> bits);

    void set(unsigned bit);
    bool has(unsigned bit) const;
    const std::vector<std::uint32_t>& words() const { return words_; }
    friend bool operator==(const CapabilitySet&, const CapabilitySet&) = default;

private:
    std::vector<std::uint32_t> words_;
};

// AUTH_SELECTION | AUTH_SPICE | MINI_HEADER (0x0B), what spice-server advertises.
CapabilitySet default_common_caps();
// The channel capabilities qxlbox's server and client advertise for each channel type.
CapabilitySet default_server_channel_caps(ChannelType channel);
CapabilitySet default_client_channel_caps(ChannelType channel);

struct LinkHeader {
    std::uint32_t magic = kLinkMagic;
    std::uint32_t major_version = kVersionMajor;
    std::uint32_t minor_version = kVersionMinor;
    std::uint32_t size = 0;
};

struct LinkMess {
    std::uint32_t connection_id = 0;
    ChannelType channel_type = ChannelType::Main;
    std::uint8_t channel_id = 0;
    CapabilitySet common_caps;
    CapabilitySet channel_caps;
};

struct LinkReply {
    LinkError error = LinkError::Ok;
    PublicKeyDer pub_key{};
    CapabilitySet common_caps;
    CapabilitySet channel_caps;
};

// Parses the 16-byte header (magic and major version checked; size bounds are the caller's).
Result<LinkHeader> parse_link_header(ByteView bytes);
// Header + LinkMess + caps.
Bytes marshal_link_mess(const LinkMess& mess);
// `body` is the header's `size` bytes. Checks caps counts, caps_offset and that caps fit.
Result<LinkMess> parse_link_mess(ByteView body);
// Header + LinkReply + caps. With an error code, spice-server sends the bare 178-byte reply.
Bytes marshal_link_reply(const LinkReply& reply);
Bytes marshal_link_error_reply(LinkError error);
Result<LinkReply> parse_link_reply(ByteView body);

// An RSA-1024 key pair (e = 65537) for ticket decryption.
class RsaKeyPair {
public:
    static Result<RsaKeyPair> generate();
    RsaKeyPair(RsaKeyPair&& other) noexcept;
    RsaKeyPair& operator=(RsaKeyPair&& other) noexcept;
    RsaKeyPair(const RsaKeyPair&) = delete;
    RsaKeyPair& operator=(const RsaKeyPair&) = delete;
    ~RsaKeyPair();

    const PublicKeyDer& public_der() const { return public_der_; }
    // Decrypts a 128-byte OAEP-SHA1 ticket; returns the plaintext up to its first NUL.
    Result<std::string> decrypt_ticket(ByteView ticket) const;

private:
    RsaKeyPair() = default;
    EVP_PKEY* key_ = nullptr;
    PublicKeyDer public_der_{};
};

// Client side: RSA-OAEP(SHA-1, MGF1-SHA-1) of password + NUL under the server's key.
Result<Bytes> encrypt_ticket(ByteView public_der, std::string_view password);

// A random non-zero id for MAIN_INIT.session_id (the connection_id other channels link with).
std::uint32_t random_connection_id();

// ------------------------------------------------------------------ server side

struct LinkServerConfig {
    // With ticketing disabled any ticket that decrypts is accepted (spice's disable-ticketing).
    bool ticketing_enabled = true;
    std::string password;  // ticketing enabled and empty password: every ticket is refused
    CapabilitySet common_caps = default_common_caps();
    // Channel caps to advertise for a requested channel; nullopt = no such channel (the reply
    // then carries CHANNEL_NOT_AVAILABLE). Unset: every channel with our default caps.
    std::function<std::optional<CapabilitySet>(ChannelType, std::uint8_t)> channel_caps;
    // A key shared by connections; null: a fresh key per connection, as spice-server does.
    std::shared_ptr<const RsaKeyPair> key;
    // libspice-server closes a link to a channel it does not have without any reply (spec
    // §10c); with this set LinkServer fails the same way (no output) instead of replying
    // CHANNEL_NOT_AVAILABLE.
    bool silent_on_unavailable_channel = false;
};

class LinkServer {
public:
    enum class State { ReadingHeader, ReadingMess, ReadingMechanism, ReadingTicket, AwaitingDecision, Linked, Failed };

    explicit LinkServer(LinkServerConfig config);

    void feed(ByteView bytes);
    Bytes take_output();
    State state() const { return state_; }

    // In AwaitingDecision the ticket was good; the caller checks the rest (e.g. that a
    // non-main channel's connection_id is the session id) and sends the link result.
    void accept();
    void reject(LinkError error);

    const LinkMess& peer() const { return peer_; }
    bool mini_header() const;
    LinkError failure() const { return failure_; }
    const std::string& failure_reason() const { return failure_reason_; }
    // Bytes that arrived after the ticket: the start of the data stream.
    Bytes take_leftover();

private:
    void step();
    void fail_with_reply(LinkError error, std::string why);
    void fail_with_result(LinkError error, std::string why);

    LinkServerConfig config_;
    State state_ = State::ReadingHeader;
    Bytes in_;
    Bytes out_;
    LinkHeader header_;
    LinkMess peer_;
    CapabilitySet channel_caps_;
    std::shared_ptr<const RsaKeyPair> key_;
    LinkError failure_ = LinkError::Ok;
    std::string failure_reason_;
};

// ------------------------------------------------------------------ client side

struct LinkClientConfig {
    std::uint32_t connection_id = 0;  // 0 for main; MAIN_INIT.session_id for the others
    ChannelType channel_type = ChannelType::Main;
    std::uint8_t channel_id = 0;
    CapabilitySet common_caps = default_common_caps();
    CapabilitySet channel_caps;
    std::string password;  // sent even when the server has ticketing disabled (spec §10c)
};

class LinkClient {
public:
    enum class State { ReadingReplyHeader, ReadingReply, ReadingResult, Linked, Failed };

    // The link message is queued in the output at once.
    explicit LinkClient(LinkClientConfig config);

    void feed(ByteView bytes);
    Bytes take_output();
    // The same bytes as take_output(), one element per link-stage message (link message,
    // auth mechanism, ticket). spice-gtk writes each on its own, and Wireshark's SPICE
    // dissector expects one link-stage message per TCP segment.
    std::vector<Bytes> take_output_messages();
    State state() const { return state_; }

    const LinkReply& reply() const { return reply_; }
    bool mini_header() const;
    // The server's error or link result (Ok if the failure was ours, see failure_reason()).
    LinkError failure() const { return failure_; }
    const std::string& failure_reason() const { return failure_reason_; }
    Bytes take_leftover();

private:
    void step();
    void fail(LinkError error, std::string why);

    LinkClientConfig config_;
    State state_ = State::ReadingReplyHeader;
    Bytes in_;
    Bytes out_;
    std::vector<std::size_t> out_message_ends_;  // offsets in out_ where a message ends
    LinkHeader header_;
    LinkReply reply_;
    LinkError failure_ = LinkError::Ok;
    std::string failure_reason_;
};

}  // namespace qxlbox::proto::wire
