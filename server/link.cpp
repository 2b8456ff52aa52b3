#include "server/link.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "server/byte_io.h"

namespace qxlbox::server {

LinkHeader parse_link_header(std::span<const std::uint8_t, spice::kLinkHeaderSize> bytes) {
    ByteReader r(bytes);
    LinkHeader h;
    h.magic = r.u32();
    h.major_version = r.u32();
    h.minor_version = r.u32();
    h.size = r.u32();
    return h;
}

std::optional<LinkMess> parse_link_mess(std::span<const std::uint8_t> body) {
    constexpr std::uint32_t kMaxCapWords = 1024;
    ByteReader r(body);
    LinkMess m;
    m.connection_id = r.u32();
    m.channel_type = r.u8();
    m.channel_id = r.u8();
    std::uint32_t n_common = r.u32();
    std::uint32_t n_channel = r.u32();
    std::uint32_t caps_offset = r.u32();
    if (!r.ok() || n_common > kMaxCapWords || n_channel > kMaxCapWords) return std::nullopt;
    if (caps_offset < spice::kLinkMessSize || caps_offset > body.size()) return std::nullopt;
    std::uint64_t caps_bytes = (std::uint64_t{n_common} + n_channel) * 4;
    if (caps_bytes > body.size() - caps_offset) return std::nullopt;
    ByteReader caps(body.subspan(caps_offset));
    for (std::uint32_t i = 0; i < n_common; ++i) m.common_caps.push_back(caps.u32());
    for (std::uint32_t i = 0; i < n_channel; ++i) m.channel_caps.push_back(caps.u32());
    return m;
}

bool has_cap(const std::vector<std::uint32_t>& words, unsigned cap) {
    unsigned word = cap / 32;
    return word < words.size() && (words[word] >> (cap % 32)) & 1u;
}

void set_cap(std::vector<std::uint32_t>& words, unsigned cap) {
    if (words.size() <= cap / 32) words.resize(cap / 32 + 1, 0);
    words[cap / 32] |= 1u << (cap % 32);
}

std::vector<std::uint8_t> build_link_reply(spice::LinkError error, std::span<const std::uint8_t> pub_key,
                                           const std::vector<std::uint32_t>& common_caps,
                                           const std::vector<std::uint32_t>& channel_caps) {
    bool ok = error == spice::LinkError::Ok;
    std::size_t n_caps = ok ? common_caps.size() + channel_caps.size() : 0;
    ByteWriter w;
    w.u32(spice::kLinkMagic);
    w.u32(spice::kVersionMajor);
    w.u32(spice::kVersionMinor);
    w.u32(static_cast<std::uint32_t>(spice::kLinkReplySize + 4 * n_caps));
    w.u32(static_cast<std::uint32_t>(error));
    if (ok && pub_key.size() == spice::kPubKeySize) {
        w.bytes(pub_key);
    } else {
        w.zeros(spice::kPubKeySize);
    }
    w.u32(ok ? static_cast<std::uint32_t>(common_caps.size()) : 0);
    w.u32(ok ? static_cast<std::uint32_t>(channel_caps.size()) : 0);
    w.u32(ok ? static_cast<std::uint32_t>(spice::kLinkReplySize) : 0);
    if (ok) {
        for (auto c : common_caps) w.u32(c);
        for (auto c : channel_caps) w.u32(c);
    }
    return w.take();
}

std::vector<std::uint8_t> build_link_mess(std::uint32_t connection_id, spice::ChannelType type,
                                          std::uint8_t channel_id, const std::vector<std::uint32_t>& common_caps,
                                          const std::vector<std::uint32_t>& channel_caps) {
    ByteWriter w;
    w.u32(spice::kLinkMagic);
    w.u32(spice::kVersionMajor);
    w.u32(spice::kVersionMinor);
    w.u32(static_cast<std::uint32_t>(spice::kLinkMessSize + 4 * (common_caps.size() + channel_caps.size())));
    w.u32(connection_id);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(channel_id);
    w.u32(static_cast<std::uint32_t>(common_caps.size()));
    w.u32(static_cast<std::uint32_t>(channel_caps.size()));
    w.u32(static_cast<std::uint32_t>(spice::kLinkMessSize));
    for (auto c : common_caps) w.u32(c);
    for (auto c : channel_caps) w.u32(c);
    return w.take();
}

std::unique_ptr<TicketKey> TicketKey::generate() {
    std::unique_ptr<TicketKey> k(new TicketKey());
    k->key_ = EVP_RSA_gen(1024);
    if (!k->key_) return nullptr;
    int len = i2d_PUBKEY(k->key_, nullptr);
    if (len != static_cast<int>(spice::kPubKeySize)) return nullptr;
    unsigned char* out = k->der_.data();
    if (i2d_PUBKEY(k->key_, &out) != len) return nullptr;
    return k;
}

TicketKey::~TicketKey() { EVP_PKEY_free(key_); }

std::optional<std::string> TicketKey::decrypt(std::span<const std::uint8_t> ticket) const {
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key_, nullptr),
                                                                     EVP_PKEY_CTX_free);
    if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0) {
        return std::nullopt;
    }
    std::vector<unsigned char> out(spice::kTicketSize);
    std::size_t out_len = out.size();
    if (EVP_PKEY_decrypt(ctx.get(), out.data(), &out_len, ticket.data(), ticket.size()) <= 0) return std::nullopt;
    std::string text(reinterpret_cast<const char*>(out.data()), out_len);
    // The client sends the password plus a NUL; anything after the first NUL is not password.
    auto nul = text.find('\0');
    if (nul != std::string::npos) text.resize(nul);
    return text;
}

std::vector<std::uint8_t> encrypt_ticket(std::span<const std::uint8_t> pub_der, const std::string& password) {
    const unsigned char* p = pub_der.data();
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(pub_der.size())),
                                                            EVP_PKEY_free);
    if (!key) return {};
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr),
                                                                     EVP_PKEY_CTX_free);
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0) {
        return {};
    }
    std::vector<unsigned char> plain(password.begin(), password.end());
    plain.push_back(0);
    std::size_t out_len = 0;
    if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, plain.data(), plain.size()) <= 0) return {};
    std::vector<std::uint8_t> out(out_len);
    if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, plain.data(), plain.size()) <= 0) return {};
    out.resize(out_len);
    return out;
}

}  // namespace qxlbox::server
