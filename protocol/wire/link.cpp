#include "protocol/wire/link.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

namespace qxlbox::proto::wire {

// ------------------------------------------------------------------ capabilities

CapabilitySet CapabilitySet::of(std::initializer_list<unsigned> bits) {
    CapabilitySet s;
    for (unsigned b : bits) s.set(b);
    return s;
}

void CapabilitySet::set(unsigned bit) {
    const std::size_t word = bit / 32;
    if (words_.size() <= word) words_.resize(word + 1, 0);
    words_[word] |= 1u << (bit % 32);
}

bool CapabilitySet::has(unsigned bit) const {
    const std::size_t word = bit / 32;
    return word < words_.size() && (words_[word] & (1u << (bit % 32))) != 0;
}

CapabilitySet default_common_caps() {
    return CapabilitySet::of({common_cap::kProtocolAuthSelection, common_cap::kAuthSpice, common_cap::kMiniHeader});
}

CapabilitySet default_server_channel_caps(ChannelType channel) {
    switch (channel) {
    case ChannelType::Main: return CapabilitySet::of({main_cap::kNameAndUuid, main_cap::kAgentConnectedTokens});
    case ChannelType::Display: return CapabilitySet::of({display_cap::kMonitorsConfig});
    case ChannelType::Inputs: return CapabilitySet::of({inputs_cap::kKeyScancode});
    default: return {};
    }
}

CapabilitySet default_client_channel_caps(ChannelType channel) {
    switch (channel) {
    case ChannelType::Main: return CapabilitySet::of({main_cap::kNameAndUuid, main_cap::kAgentConnectedTokens});
    case ChannelType::Display:
        return CapabilitySet::of({display_cap::kMonitorsConfig, display_cap::kComposite, display_cap::kA8Surface});
    default: return {};
    }
}

// ------------------------------------------------------------------ link messages

namespace {

// What may pile up before the link completes: a link message, a mechanism and a ticket, plus
// generous room for data pipelined behind them. More means a peer that is not speaking SPICE.
constexpr std::size_t kMaxPendingLinkBytes = 64 * 1024;

void put_header(Bytes& out, std::uint32_t size) {
    put_le(out, kLinkMagic);
    put_le(out, kVersionMajor);
    put_le(out, kVersionMinor);
    put_le(out, size);
}

void put_caps(Bytes& out, const CapabilitySet& common, const CapabilitySet& channel) {
    for (auto w : common.words()) put_le(out, w);
    for (auto w : channel.words()) put_le(out, w);
}

// Reads the caps of a LinkMess/LinkReply whose counts and offset sit at `counts_at`.
Result<std::pair<CapabilitySet, CapabilitySet>> parse_caps(ByteView body, std::size_t counts_at,
                                                           std::size_t fixed_bytes) {
    const auto num_common = load_le<std::uint32_t>(body.data() + counts_at);
    const auto num_channel = load_le<std::uint32_t>(body.data() + counts_at + 4);
    const auto caps_offset = load_le<std::uint32_t>(body.data() + counts_at + 8);
    if (num_common > kMaxCapsWords || num_channel > kMaxCapsWords)
        return make_error(ErrorCode::TooLarge, "more than 1024 capability words");
    if (caps_offset < fixed_bytes) return make_error(ErrorCode::BadPointer, "caps_offset inside the fixed part");
    const std::uint64_t caps_end = caps_offset + 4ull * (static_cast<std::uint64_t>(num_common) + num_channel);
    if (caps_end > body.size()) return make_error(ErrorCode::Truncated, "capabilities past the end of the link message");
    std::vector<std::uint32_t> common(num_common), channel(num_channel);
    const std::uint8_t* p = body.data() + caps_offset;
    for (auto& w : common) {
        w = load_le<std::uint32_t>(p);
        p += 4;
    }
    for (auto& w : channel) {
        w = load_le<std::uint32_t>(p);
        p += 4;
    }
    return std::pair{CapabilitySet(std::move(common)), CapabilitySet(std::move(channel))};
}

std::uint32_t caps_bytes(const CapabilitySet& a, const CapabilitySet& b) {
    return static_cast<std::uint32_t>(4 * (a.words().size() + b.words().size()));
}

}  // namespace

Result<LinkHeader> parse_link_header(ByteView bytes) {
    if (bytes.size() < kLinkHeaderBytes) return make_error(ErrorCode::Truncated, "link header");
    LinkHeader h;
    h.magic = load_le<std::uint32_t>(bytes.data());
    h.major_version = load_le<std::uint32_t>(bytes.data() + 4);
    h.minor_version = load_le<std::uint32_t>(bytes.data() + 8);
    h.size = load_le<std::uint32_t>(bytes.data() + 12);
    if (h.magic != kLinkMagic) return make_error(ErrorCode::BadMagic, "link magic is not REDQ");
    if (h.major_version != kVersionMajor)
        return make_error(ErrorCode::VersionMismatch, "protocol major " + std::to_string(h.major_version));
    return h;
}

Bytes marshal_link_mess(const LinkMess& mess) {
    Bytes out;
    put_header(out, static_cast<std::uint32_t>(kLinkMessBytes) + caps_bytes(mess.common_caps, mess.channel_caps));
    put_le(out, mess.connection_id);
    put_le(out, static_cast<std::uint8_t>(mess.channel_type));
    put_le(out, mess.channel_id);
    put_le(out, static_cast<std::uint32_t>(mess.common_caps.words().size()));
    put_le(out, static_cast<std::uint32_t>(mess.channel_caps.words().size()));
    put_le(out, static_cast<std::uint32_t>(kLinkMessBytes));
    put_caps(out, mess.common_caps, mess.channel_caps);
    return out;
}

Result<LinkMess> parse_link_mess(ByteView body) {
    if (body.size() < kLinkMessBytes) return make_error(ErrorCode::Truncated, "link message shorter than 18 bytes");
    LinkMess m;
    m.connection_id = load_le<std::uint32_t>(body.data());
    m.channel_type = static_cast<ChannelType>(body[4]);
    m.channel_id = body[5];
    auto caps = parse_caps(body, 6, kLinkMessBytes);
    if (!caps) return caps.error();
    m.common_caps = std::move(caps->first);
    m.channel_caps = std::move(caps->second);
    return m;
}

Bytes marshal_link_reply(const LinkReply& reply) {
    Bytes out;
    put_header(out, static_cast<std::uint32_t>(kLinkReplyBytes) + caps_bytes(reply.common_caps, reply.channel_caps));
    put_le(out, static_cast<std::uint32_t>(reply.error));
    out.insert(out.end(), reply.pub_key.begin(), reply.pub_key.end());
    put_le(out, static_cast<std::uint32_t>(reply.common_caps.words().size()));
    put_le(out, static_cast<std::uint32_t>(reply.channel_caps.words().size()));
    put_le(out, static_cast<std::uint32_t>(kLinkReplyBytes));
    put_caps(out, reply.common_caps, reply.channel_caps);
    return out;
}

Bytes marshal_link_error_reply(LinkError error) {
    Bytes out;
    put_header(out, static_cast<std::uint32_t>(kLinkReplyBytes));
    put_le(out, static_cast<std::uint32_t>(error));
    out.resize(kLinkHeaderBytes + kLinkReplyBytes, 0);
    return out;
}

Result<LinkReply> parse_link_reply(ByteView body) {
    if (body.size() < kLinkReplyBytes) return make_error(ErrorCode::Truncated, "link reply shorter than 178 bytes");
    LinkReply r;
    r.error = static_cast<LinkError>(load_le<std::uint32_t>(body.data()));
    std::copy_n(body.data() + 4, kTicketPubkeyBytes, r.pub_key.begin());
    if (r.error != LinkError::Ok) return r;  // error replies carry zeros; nothing else to check
    auto caps = parse_caps(body, 4 + kTicketPubkeyBytes, kLinkReplyBytes);
    if (!caps) return caps.error();
    r.common_caps = std::move(caps->first);
    r.channel_caps = std::move(caps->second);
    return r;
}

// ------------------------------------------------------------------ RSA

namespace {
struct PkeyCtx {
    EVP_PKEY_CTX* ctx = nullptr;
    ~PkeyCtx() { EVP_PKEY_CTX_free(ctx); }
};
}  // namespace

Result<RsaKeyPair> RsaKeyPair::generate() {
    PkeyCtx c{EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr)};
    if (!c.ctx || EVP_PKEY_keygen_init(c.ctx) <= 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(c.ctx, 1024) <= 0)
        return make_error(ErrorCode::Crypto, "RSA keygen setup failed");
    // OpenSSL's default public exponent is 65537, the one the 162-byte key format assumes.
    RsaKeyPair pair;
    if (EVP_PKEY_keygen(c.ctx, &pair.key_) <= 0) return make_error(ErrorCode::Crypto, "RSA keygen failed");
    const int der_len = i2d_PUBKEY(pair.key_, nullptr);
    if (der_len != static_cast<int>(kTicketPubkeyBytes))
        return make_error(ErrorCode::Crypto, "public key DER is " + std::to_string(der_len) + " bytes, not 162");
    unsigned char* p = pair.public_der_.data();
    i2d_PUBKEY(pair.key_, &p);
    return pair;
}

RsaKeyPair::RsaKeyPair(RsaKeyPair&& other) noexcept : key_(other.key_), public_der_(other.public_der_) {
    other.key_ = nullptr;
}

RsaKeyPair& RsaKeyPair::operator=(RsaKeyPair&& other) noexcept {
    if (this != &other) {
        EVP_PKEY_free(key_);
        key_ = other.key_;
        public_der_ = other.public_der_;
        other.key_ = nullptr;
    }
    return *this;
}

RsaKeyPair::~RsaKeyPair() { EVP_PKEY_free(key_); }

Result<std::string> RsaKeyPair::decrypt_ticket(ByteView ticket) const {
    if (ticket.size() != kEncryptedTicketBytes) return make_error(ErrorCode::Crypto, "ticket is not 128 bytes");
    PkeyCtx c{EVP_PKEY_CTX_new(key_, nullptr)};
    if (!c.ctx || EVP_PKEY_decrypt_init(c.ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(c.ctx, RSA_PKCS1_OAEP_PADDING) <= 0)
        return make_error(ErrorCode::Crypto, "RSA decrypt setup failed");
    std::array<unsigned char, kEncryptedTicketBytes> plain{};
    std::size_t plain_len = plain.size();
    if (EVP_PKEY_decrypt(c.ctx, plain.data(), &plain_len, ticket.data(), ticket.size()) <= 0)
        return make_error(ErrorCode::Crypto, "ticket does not decrypt");
    const auto* end = std::find(plain.data(), plain.data() + plain_len, 0);
    return std::string(reinterpret_cast<const char*>(plain.data()), static_cast<std::size_t>(end - plain.data()));
}

Result<Bytes> encrypt_ticket(ByteView public_der, std::string_view password) {
    if (password.size() > kMaxPasswordBytes) return make_error(ErrorCode::TooLarge, "password longer than 60 bytes");
    const unsigned char* p = public_der.data();
    EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(public_der.size()));
    if (!key) return make_error(ErrorCode::Crypto, "server public key is not a DER SubjectPublicKeyInfo");
    PkeyCtx c{EVP_PKEY_CTX_new(key, nullptr)};
    EVP_PKEY_free(key);  // the context holds its own reference
    if (!c.ctx || EVP_PKEY_encrypt_init(c.ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(c.ctx, RSA_PKCS1_OAEP_PADDING) <= 0)
        return make_error(ErrorCode::Crypto, "RSA encrypt setup failed");
    Bytes plain(password.begin(), password.end());
    plain.push_back(0);
    std::size_t out_len = 0;
    if (EVP_PKEY_encrypt(c.ctx, nullptr, &out_len, plain.data(), plain.size()) <= 0)
        return make_error(ErrorCode::Crypto, "RSA encrypt sizing failed");
    Bytes out(out_len);
    if (EVP_PKEY_encrypt(c.ctx, out.data(), &out_len, plain.data(), plain.size()) <= 0)
        return make_error(ErrorCode::Crypto, "RSA encrypt failed");
    out.resize(out_len);
    if (out.size() != kEncryptedTicketBytes) return make_error(ErrorCode::Crypto, "server key is not RSA-1024");
    return out;
}

std::uint32_t random_connection_id() {
    std::uint32_t id = 0;
    while (id == 0) {
        unsigned char b[4] = {};
        if (RAND_bytes(b, sizeof b) != 1) return 1;  // no entropy source: any non-zero id links
        id = load_le<std::uint32_t>(b);
    }
    return id;
}

// ------------------------------------------------------------------ server state machine

LinkServer::LinkServer(LinkServerConfig config) : config_(std::move(config)) {}

void LinkServer::feed(ByteView bytes) {
    if (state_ == State::Failed) return;
    in_.insert(in_.end(), bytes.begin(), bytes.end());
    step();
    if (state_ != State::Linked && state_ != State::Failed && in_.size() > kMaxPendingLinkBytes)
        fail_with_result(LinkError::InvalidData, "peer sent far more than a link stage before linking");
}

Bytes LinkServer::take_output() { return std::exchange(out_, {}); }

Bytes LinkServer::take_leftover() {
    if (state_ != State::Linked) return {};
    return std::exchange(in_, {});
}

bool LinkServer::mini_header() const {
    return config_.common_caps.has(common_cap::kMiniHeader) && peer_.common_caps.has(common_cap::kMiniHeader);
}

void LinkServer::fail_with_reply(LinkError error, std::string why) {
    auto reply = marshal_link_error_reply(error);
    out_.insert(out_.end(), reply.begin(), reply.end());
    state_ = State::Failed;
    failure_ = error;
    failure_reason_ = std::move(why);
    in_.clear();
}

void LinkServer::fail_with_result(LinkError error, std::string why) {
    put_le(out_, static_cast<std::uint32_t>(error));
    state_ = State::Failed;
    failure_ = error;
    failure_reason_ = std::move(why);
    in_.clear();
}

void LinkServer::accept() {
    if (state_ != State::AwaitingDecision) return;
    put_le(out_, static_cast<std::uint32_t>(LinkError::Ok));
    state_ = State::Linked;
}

void LinkServer::reject(LinkError error) {
    if (state_ != State::AwaitingDecision) return;
    fail_with_result(error, std::string("rejected: ") + link_error_name(error));
}

void LinkServer::step() {
    for (;;) {
        switch (state_) {
        case State::ReadingHeader: {
            if (in_.size() < kLinkHeaderBytes) return;
            auto h = parse_link_header(in_);
            if (!h) {
                const bool magic = h.error().code == ErrorCode::BadMagic;
                return fail_with_reply(magic ? LinkError::InvalidMagic : LinkError::VersionMismatch, h.error().what);
            }
            if (h->size < kLinkMessBytes || h->size > kMaxLinkSizeBytes)
                return fail_with_reply(LinkError::InvalidData, "link size " + std::to_string(h->size) + " out of range");
            header_ = *h;
            in_.erase(in_.begin(), in_.begin() + kLinkHeaderBytes);
            state_ = State::ReadingMess;
            break;
        }
        case State::ReadingMess: {
            if (in_.size() < header_.size) return;
            auto m = parse_link_mess(ByteView(in_.data(), header_.size));
            if (!m) return fail_with_reply(LinkError::InvalidData, m.error().to_string());
            peer_ = std::move(*m);
            in_.erase(in_.begin(), in_.begin() + header_.size);
            std::optional<CapabilitySet> caps = config_.channel_caps
                                                    ? config_.channel_caps(peer_.channel_type, peer_.channel_id)
                                                    : std::optional(default_server_channel_caps(peer_.channel_type));
            if (!caps) {
                std::string why = std::string("no ") + channel_type_name(peer_.channel_type) + " channel " +
                                  std::to_string(peer_.channel_id);
                if (!config_.silent_on_unavailable_channel) return fail_with_reply(LinkError::ChannelNotAvailable, why);
                state_ = State::Failed;
                failure_ = LinkError::ChannelNotAvailable;
                failure_reason_ = std::move(why);
                in_.clear();
                return;
            }
            channel_caps_ = std::move(*caps);
            key_ = config_.key;
            if (!key_) {
                auto k = RsaKeyPair::generate();
                if (!k) return fail_with_reply(LinkError::Error, k.error().to_string());
                key_ = std::make_shared<const RsaKeyPair>(std::move(k).value());
            }
            LinkReply reply;
            reply.pub_key = key_->public_der();
            reply.common_caps = config_.common_caps;
            reply.channel_caps = channel_caps_;
            auto bytes = marshal_link_reply(reply);
            out_.insert(out_.end(), bytes.begin(), bytes.end());
            const bool selection = config_.common_caps.has(common_cap::kProtocolAuthSelection) &&
                                   peer_.common_caps.has(common_cap::kProtocolAuthSelection);
            state_ = selection ? State::ReadingMechanism : State::ReadingTicket;
            break;
        }
        case State::ReadingMechanism: {
            if (in_.size() < 4) return;
            const auto mechanism = load_le<std::uint32_t>(in_.data());
            in_.erase(in_.begin(), in_.begin() + 4);
            if (mechanism != kAuthMechanismSpice)
                return fail_with_result(LinkError::InvalidData, "auth mechanism " + std::to_string(mechanism));
            state_ = State::ReadingTicket;
            break;
        }
        case State::ReadingTicket: {
            if (in_.size() < kEncryptedTicketBytes) return;
            auto plain = key_->decrypt_ticket(ByteView(in_.data(), kEncryptedTicketBytes));
            in_.erase(in_.begin(), in_.begin() + kEncryptedTicketBytes);
            if (!plain) return fail_with_result(LinkError::PermissionDenied, plain.error().what);
            if (config_.ticketing_enabled) {
                const bool match = !config_.password.empty() && plain->size() == config_.password.size() &&
                                   CRYPTO_memcmp(plain->data(), config_.password.data(), plain->size()) == 0;
                if (!match) return fail_with_result(LinkError::PermissionDenied, "wrong password");
            }
            state_ = State::AwaitingDecision;
            return;
        }
        case State::AwaitingDecision:
        case State::Linked:
        case State::Failed: return;
        }
    }
}

// ------------------------------------------------------------------ client state machine

LinkClient::LinkClient(LinkClientConfig config) : config_(std::move(config)) {
    LinkMess mess;
    mess.connection_id = config_.connection_id;
    mess.channel_type = config_.channel_type;
    mess.channel_id = config_.channel_id;
    mess.common_caps = config_.common_caps;
    mess.channel_caps = config_.channel_caps;
    out_ = marshal_link_mess(mess);
    out_message_ends_.push_back(out_.size());
}

void LinkClient::feed(ByteView bytes) {
    if (state_ == State::Failed) return;
    in_.insert(in_.end(), bytes.begin(), bytes.end());
    step();
    if (state_ != State::Linked && state_ != State::Failed && in_.size() > kMaxPendingLinkBytes)
        fail(LinkError::Ok, "peer sent far more than a link stage before linking");
}

Bytes LinkClient::take_output() {
    out_message_ends_.clear();
    return std::exchange(out_, {});
}

std::vector<Bytes> LinkClient::take_output_messages() {
    std::vector<Bytes> messages;
    std::size_t begin = 0;
    for (const std::size_t end : out_message_ends_) {
        messages.emplace_back(out_.begin() + static_cast<std::ptrdiff_t>(begin),
                              out_.begin() + static_cast<std::ptrdiff_t>(end));
        begin = end;
    }
    if (begin < out_.size()) messages.emplace_back(out_.begin() + static_cast<std::ptrdiff_t>(begin), out_.end());
    out_.clear();
    out_message_ends_.clear();
    return messages;
}

Bytes LinkClient::take_leftover() {
    if (state_ != State::Linked) return {};
    return std::exchange(in_, {});
}

bool LinkClient::mini_header() const {
    return config_.common_caps.has(common_cap::kMiniHeader) && reply_.common_caps.has(common_cap::kMiniHeader);
}

void LinkClient::fail(LinkError error, std::string why) {
    state_ = State::Failed;
    failure_ = error;
    failure_reason_ = std::move(why);
    in_.clear();
}

void LinkClient::step() {
    for (;;) {
        switch (state_) {
        case State::ReadingReplyHeader: {
            if (in_.size() < kLinkHeaderBytes) return;
            auto h = parse_link_header(in_);
            if (!h) return fail(LinkError::Ok, h.error().to_string());
            if (h->size < kLinkReplyBytes || h->size > kMaxLinkSizeBytes + kLinkReplyBytes)
                return fail(LinkError::Ok, "link reply size " + std::to_string(h->size) + " out of range");
            header_ = *h;
            in_.erase(in_.begin(), in_.begin() + kLinkHeaderBytes);
            state_ = State::ReadingReply;
            break;
        }
        case State::ReadingReply: {
            if (in_.size() < header_.size) return;
            auto r = parse_link_reply(ByteView(in_.data(), header_.size));
            if (!r) return fail(LinkError::Ok, r.error().to_string());
            reply_ = std::move(*r);
            in_.erase(in_.begin(), in_.begin() + header_.size);
            if (reply_.error != LinkError::Ok)
                return fail(reply_.error, std::string("server replied ") + link_error_name(reply_.error));
            const bool selection = config_.common_caps.has(common_cap::kProtocolAuthSelection) &&
                                   reply_.common_caps.has(common_cap::kProtocolAuthSelection);
            if (selection && !reply_.common_caps.has(common_cap::kAuthSpice))
                return fail(LinkError::Ok, "no compatible auth mechanism (server lacks AUTH_SPICE)");
            auto ticket = encrypt_ticket(reply_.pub_key, config_.password);
            if (!ticket) return fail(LinkError::Ok, ticket.error().to_string());
            if (selection) {
                put_le(out_, kAuthMechanismSpice);
                out_message_ends_.push_back(out_.size());
            }
            out_.insert(out_.end(), ticket->begin(), ticket->end());
            out_message_ends_.push_back(out_.size());
            state_ = State::ReadingResult;
            break;
        }
        case State::ReadingResult: {
            if (in_.size() < 4) return;
            const auto result = static_cast<LinkError>(load_le<std::uint32_t>(in_.data()));
            in_.erase(in_.begin(), in_.begin() + 4);
            if (result != LinkError::Ok)
                return fail(result, std::string("link result ") + link_error_name(result));
            state_ = State::Linked;
            return;
        }
        case State::Linked:
        case State::Failed: return;
        }
    }
}

}  // namespace qxlbox::proto::wire
