// Client side of the SPICE link stage (spice-protocol.md §1): SpiceLinkHeader + SpiceLinkMess
// with our capability words, the server's SpiceLinkReply (RSA-1024 public key and caps), the
// auth mechanism word when both sides offer AUTH_SELECTION, the RSA-OAEP(SHA-1) encrypted
// ticket, and the link result. libspice-server decrypts the ticket even with ticketing
// disabled (§10c), so a correct OAEP ticket is always sent, an empty password as one NUL byte.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "client/net.h"

namespace qxlbox::client {

namespace caps {
inline constexpr std::uint32_t kCommonAuthSelection = 0;
inline constexpr std::uint32_t kCommonAuthSpice = 1;
inline constexpr std::uint32_t kCommonAuthSasl = 2;
inline constexpr std::uint32_t kCommonMiniHeader = 3;
inline constexpr std::uint32_t kMainNameAndUuid = 1;
inline constexpr std::uint32_t kDisplayPrefCompression = 6;
inline constexpr std::uint32_t kDisplayMultiCodec = 8;
}  // namespace caps

bool has_cap(const std::vector<std::uint32_t>& words, std::uint32_t cap);
void set_cap(std::vector<std::uint32_t>& words, std::uint32_t cap);

// SPICE_MAX_PASSWORD_LENGTH: spice-gtk refuses longer passwords; OAEP could carry 86 bytes.
inline constexpr std::size_t kMaxPasswordLength = 60;

struct LinkRequest {
    std::uint32_t connection_id = 0;
    std::uint8_t channel_type = 0;
    std::uint8_t channel_id = 0;
    std::vector<std::uint32_t> channel_caps;
    std::string password;
};

struct LinkResult {
    bool mini_header = false;
    std::vector<std::uint32_t> server_common_caps;
    std::vector<std::uint32_t> server_channel_caps;
};

// Runs the whole link exchange on a connected socket. On failure `error` says why (including
// the server's link error name).
bool link_channel(Socket& socket, const LinkRequest& request, Clock::time_point deadline, LinkResult& result,
                  std::string& error);

// RSAES-OAEP (SHA-1, MGF1-SHA-1, empty label) of password + NUL under a DER
// SubjectPublicKeyInfo key. False with a reason for an unusable key or an over-long password.
bool encrypt_ticket(std::span<const std::uint8_t> der_public_key, const std::string& password,
                    std::vector<std::uint8_t>& ticket, std::string& error);

const char* link_error_name(std::uint32_t code);

}  // namespace qxlbox::client
