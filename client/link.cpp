#include "client/link.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

#include "client/reader.h"

namespace qxlbox::client {

namespace {

constexpr std::uint32_t kLinkMagic = 0x51444552;  // "REDQ"
constexpr std::uint32_t kMajor = 2;
constexpr std::uint32_t kMinor = 2;
constexpr std::size_t kLinkMessSize = 18;
constexpr std::size_t kLinkReplySize = 178;
constexpr std::size_t kPubKeyBytes = 162;
constexpr std::uint32_t kMaxReplySize = 4096;
constexpr std::uint32_t kAuthSpice = 1;

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

}  // namespace

bool has_cap(const std::vector<std::uint32_t>& words, std::uint32_t cap) {
    const std::size_t word = cap / 32;
    return word < words.size() && (words[word] >> (cap % 32)) & 1;
}

void set_cap(std::vector<std::uint32_t>& words, std::uint32_t cap) {
    const std::size_t word = cap / 32;
    if (words.size() <= word) words.resize(word + 1, 0);
    words[word] |= 1u << (cap % 32);
}

const char* link_error_name(std::uint32_t code) {
    switch (code) {
        case 0: return "OK";
        case 1: return "ERROR";
        case 2: return "INVALID_MAGIC";
        case 3: return "INVALID_DATA";
        case 4: return "VERSION_MISMATCH";
        case 5: return "NEED_SECURED";
        case 6: return "NEED_UNSECURED";
        case 7: return "PERMISSION_DENIED";
        case 8: return "BAD_CONNECTION_ID";
        case 9: return "CHANNEL_NOT_AVAILABLE";
        default: return "unknown link error";
    }
}

bool encrypt_ticket(std::span<const std::uint8_t> der_public_key, const std::string& password,
                    std::vector<std::uint8_t>& ticket, std::string& error) {
    if (password.size() > kMaxPasswordLength) {
        error = "password longer than " + std::to_string(kMaxPasswordLength) + " bytes";
        return false;
    }
    const unsigned char* p = der_public_key.data();
    std::unique_ptr<EVP_PKEY, PkeyFree> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der_public_key.size())));
    if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
        error = "server sent an unusable public key";
        return false;
    }
    std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) <= 0) {
        error = "cannot set up RSA-OAEP";
        return false;
    }
    // The plaintext includes the terminating NUL, as spice-gtk sends it.
    const auto* plain = reinterpret_cast<const unsigned char*>(password.c_str());
    std::size_t out_len = 0;
    if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, plain, password.size() + 1) <= 0) {
        error = "RSA-OAEP sizing failed";
        return false;
    }
    ticket.assign(out_len, 0);
    if (EVP_PKEY_encrypt(ctx.get(), ticket.data(), &out_len, plain, password.size() + 1) <= 0) {
        error = "RSA-OAEP encryption failed (password too long for the key?)";
        return false;
    }
    ticket.resize(out_len);
    return true;
}

bool link_channel(Socket& socket, const LinkRequest& request, Clock::time_point deadline, LinkResult& result,
                  std::string& error) {
    std::vector<std::uint32_t> common;
    set_cap(common, caps::kCommonAuthSelection);
    set_cap(common, caps::kCommonAuthSpice);
    set_cap(common, caps::kCommonMiniHeader);

    Writer w;
    const auto ncaps = static_cast<std::uint32_t>(common.size() + request.channel_caps.size());
    w.u32(kLinkMagic).u32(kMajor).u32(kMinor).u32(static_cast<std::uint32_t>(kLinkMessSize + 4 * ncaps));
    w.u32(request.connection_id).u8(request.channel_type).u8(request.channel_id);
    w.u32(static_cast<std::uint32_t>(common.size())).u32(static_cast<std::uint32_t>(request.channel_caps.size()));
    w.u32(kLinkMessSize);
    for (auto c : common) w.u32(c);
    for (auto c : request.channel_caps) w.u32(c);
    if (!socket.write_all(w.span(), deadline, error)) return false;

    std::uint8_t header[16];
    if (!socket.read_exact(header, deadline, error)) {
        error = "link: " + error;
        return false;
    }
    Reader h(header);
    const std::uint32_t magic = h.u32(), major = h.u32();
    h.u32();
    const std::uint32_t size = h.u32();
    if (magic != kLinkMagic) {
        error = "link: the peer is not a SPICE server (bad magic)";
        return false;
    }
    if (major != kMajor) {
        error = "link: server speaks protocol major " + std::to_string(major) + ", not 2";
        return false;
    }
    if (size < 4 || size > kMaxReplySize) {
        error = "link: reply size " + std::to_string(size) + " out of range";
        return false;
    }
    std::vector<std::uint8_t> reply(size);
    if (!socket.read_exact(reply, deadline, error)) {
        error = "link: " + error;
        return false;
    }
    Reader r(reply);
    const std::uint32_t link_error = r.u32();
    if (link_error != 0) {
        error = std::string("link refused by the server: ") + link_error_name(link_error);
        return false;
    }
    if (size < kLinkReplySize) {
        error = "link: reply too short (" + std::to_string(size) + " bytes)";
        return false;
    }
    const auto pub_key = r.bytes(kPubKeyBytes);
    const std::uint32_t num_common = r.u32(), num_channel = r.u32(), caps_offset = r.u32();
    if (num_common > 1024 || num_channel > 1024 || caps_offset < kLinkReplySize ||
        caps_offset > size || (size - caps_offset) / 4 < num_common + num_channel) {
        error = "link: capability list outside the reply";
        return false;
    }
    Reader c(reply, caps_offset);
    result.server_common_caps.clear();
    result.server_channel_caps.clear();
    for (std::uint32_t i = 0; i < num_common; ++i) result.server_common_caps.push_back(c.u32());
    for (std::uint32_t i = 0; i < num_channel; ++i) result.server_channel_caps.push_back(c.u32());

    std::vector<std::uint8_t> ticket;
    if (!encrypt_ticket(pub_key, request.password, ticket, error)) {
        error = "link: " + error;
        return false;
    }
    Writer auth;
    if (has_cap(result.server_common_caps, caps::kCommonAuthSelection)) {
        if (!has_cap(result.server_common_caps, caps::kCommonAuthSpice)) {
            error = "link: server offers no SPICE ticket authentication (SASL only?)";
            return false;
        }
        auth.u32(kAuthSpice);
    }
    auth.bytes(ticket);
    if (!socket.write_all(auth.span(), deadline, error)) return false;

    std::uint8_t outcome[4];
    if (!socket.read_exact(outcome, deadline, error)) {
        error = "link: no link result: " + error;
        return false;
    }
    const std::uint32_t code = Reader(outcome).u32();
    if (code != 0) {
        error = std::string("link refused: ") + link_error_name(code) +
                (code == 7 ? " (wrong password?)" : "");
        return false;
    }
    result.mini_header = has_cap(result.server_common_caps, caps::kCommonMiniHeader);
    return true;
}

}  // namespace qxlbox::client
