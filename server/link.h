// The link stage of a SPICE connection, server side (spice-protocol.md §1).
//
// Theory of operation: a client opens every channel with SpiceLinkHeader + SpiceLinkMess and
// its capability words; the server answers with SpiceLinkReply carrying a DER RSA-1024 public
// key and its own capabilities; the client then sends the auth mechanism (only when both sides
// set AUTH_SELECTION) and a 128-byte RSA-OAEP(SHA-1) ticket; the server answers a u32 result.
// This unit parses and builds those structures and decrypts tickets; the connection state
// machine that drives it lives in spice_server.cpp. Parsers return error values, never throw.
// Not modelled: SASL, TLS, migration (a non-zero connection id on main is treated as a new
// session, as there is nothing to migrate from).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/spice_constants.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace qxlbox::server {

struct LinkHeader {
    std::uint32_t magic = 0;
    std::uint32_t major_version = 0;
    std::uint32_t minor_version = 0;
    std::uint32_t size = 0;
};
LinkHeader parse_link_header(std::span<const std::uint8_t, spice::kLinkHeaderSize> bytes);

struct LinkMess {
    std::uint32_t connection_id = 0;
    std::uint8_t channel_type = 0;
    std::uint8_t channel_id = 0;
    std::vector<std::uint32_t> common_caps;
    std::vector<std::uint32_t> channel_caps;
};
// nullopt when counts, offset or sizes are inconsistent (INVALID_DATA).
std::optional<LinkMess> parse_link_mess(std::span<const std::uint8_t> body);

bool has_cap(const std::vector<std::uint32_t>& words, unsigned cap);
void set_cap(std::vector<std::uint32_t>& words, unsigned cap);

// Header + SpiceLinkReply + caps, ready to send. An error reply carries zeros besides `error`.
std::vector<std::uint8_t> build_link_reply(spice::LinkError error, std::span<const std::uint8_t> pub_key,
                                           const std::vector<std::uint32_t>& common_caps,
                                           const std::vector<std::uint32_t>& channel_caps);
// Client side of the same (used by tests and the fuzz harness to talk to the server).
std::vector<std::uint8_t> build_link_mess(std::uint32_t connection_id, spice::ChannelType type,
                                          std::uint8_t channel_id, const std::vector<std::uint32_t>& common_caps,
                                          const std::vector<std::uint32_t>& channel_caps);

// One RSA-1024 key pair (e = 65537) for ticket encryption.
class TicketKey {
public:
    // nullptr if OpenSSL cannot generate a key.
    static std::unique_ptr<TicketKey> generate();
    ~TicketKey();
    TicketKey(const TicketKey&) = delete;
    TicketKey& operator=(const TicketKey&) = delete;

    // 162-byte DER SubjectPublicKeyInfo.
    const std::array<std::uint8_t, spice::kPubKeySize>& public_der() const { return der_; }
    // The NUL-terminated plaintext of a ticket, without the NUL; nullopt if it does not decrypt.
    std::optional<std::string> decrypt(std::span<const std::uint8_t> ticket) const;

private:
    TicketKey() = default;
    EVP_PKEY* key_ = nullptr;
    std::array<std::uint8_t, spice::kPubKeySize> der_{};
};

// Encrypts `password` + NUL with the peer's DER key as a client does; empty on failure.
std::vector<std::uint8_t> encrypt_ticket(std::span<const std::uint8_t> pub_der, const std::string& password);

}  // namespace qxlbox::server
