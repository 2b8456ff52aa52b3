#include "client/link.h"

#include <array>

namespace qxlbox::client {

bool link_channel(Socket& socket, const LinkRequest& request, Clock::time_point deadline, LinkResult& result,
                  std::string& error) {
    if (request.password.size() > wire::kMaxPasswordBytes) {
        error = "password longer than " + std::to_string(wire::kMaxPasswordBytes) + " bytes";
        return false;
    }
    wire::LinkClientConfig config;
    config.connection_id = request.connection_id;
    config.channel_type = request.channel_type;
    config.channel_id = request.channel_id;
    config.channel_caps = wire::default_client_channel_caps(request.channel_type);
    config.password = request.password;
    wire::LinkClient link(std::move(config));
    std::array<std::uint8_t, 4096> buffer{};
    for (;;) {
        // One write per link-stage message, as spice-gtk does (see take_output_messages).
        for (const auto& message : link.take_output_messages()) {
            if (!socket.write_all(message, deadline, error)) {
                error = "link: " + error;
                return false;
            }
        }
        if (link.state() == wire::LinkClient::State::Failed) {
            error = "link refused: " + link.failure_reason();
            if (link.failure() == wire::LinkError::PermissionDenied) error += " (wrong password?)";
            return false;
        }
        if (link.state() == wire::LinkClient::State::Linked) break;
        const long n = socket.read_some_until(buffer, deadline, error);
        if (n < 0) {
            error = "link: " + error;
            return false;
        }
        link.feed(wire::ByteView(buffer.data(), static_cast<std::size_t>(n)));
    }
    result.mini_header = link.mini_header();
    result.server_common_caps = link.reply().common_caps;
    result.server_channel_caps = link.reply().channel_caps;
    result.leftover = link.take_leftover();
    return true;
}

}  // namespace qxlbox::client
