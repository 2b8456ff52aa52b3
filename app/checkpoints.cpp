#include "app/checkpoints.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

namespace qxlbox::app {

namespace {

// A guest line longer than this is not a checkpoint line.
constexpr std::size_t kMaxLineBytes = 256;
// How long the server may take to make room for the commands still in the rings.
constexpr auto kHandOverTimeout = std::chrono::seconds(10);

client::RgbImage pixels_to_rgb(const proto::SurfacePixels& px, std::string& error) {
    const auto width = static_cast<std::uint32_t>(px.area.width());
    const auto height = static_cast<std::uint32_t>(px.area.height());
    auto surface = proto::Surface::create(px.format, width, height);
    if (!surface) {
        error = "the server returned an unusable primary surface (" + std::to_string(width) + "x" +
                std::to_string(height) + ")";
        return {};
    }
    const std::size_t row_bytes = std::min<std::size_t>(surface->stride(), px.stride);
    for (std::uint32_t y = 0; y < height; ++y) {
        const std::size_t from = std::size_t{y} * px.stride;
        if (from + row_bytes > px.data.size()) break;
        std::memcpy(surface->data() + std::size_t{y} * surface->stride(), px.data.data() + from, row_bytes);
    }
    return client::surface_to_rgb(*surface);
}

}  // namespace

std::string checkpoint_number(unsigned index) {
    char text[16];
    std::snprintf(text, sizeof text, "%04u", index);
    return text;
}

std::optional<client::RgbImage> render_primary(Emulator& emulator, std::string& error) {
    const auto give_up = std::chrono::steady_clock::now() + kHandOverTimeout;
    while (!emulator.qxl().hand_over_commands()) {
        if (std::chrono::steady_clock::now() >= give_up) {
            // Capture what the server has; the comparison will show what is missing.
            std::fprintf(stderr, "qxlbox: the server did not take every queued QXL command within %lld s\n",
                         static_cast<long long>(kHandOverTimeout.count()));
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // The whole surface: the server clips the request to the surface's bounds.
    constexpr std::int32_t kHuge = std::numeric_limits<std::int16_t>::max();
    const proto::Rect everything{0, 0, kHuge, kHuge};
    const std::optional<proto::SurfacePixels> px = emulator.server().update_area(0, everything);
    if (!px || px->area.empty()) {
        error = "no primary surface";
        return std::nullopt;
    }
    // The server's worker has already written what it rendered into guest memory before
    // answering (its connect invariant), so nothing is written back here.
    client::RgbImage image = pixels_to_rgb(*px, error);
    if (image.width == 0) return std::nullopt;
    return image;
}

bool write_png_atomically(const client::RgbImage& image, const std::string& path, std::string& error) {
    const std::string temporary = path + ".tmp";
    if (!client::write_png(image, temporary, error)) return false;
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) {
        error = "cannot rename " + temporary + " to " + path + ": " + ec.message();
        std::filesystem::remove(temporary, ec);
        return false;
    }
    return true;
}

void CheckpointTap::serial_byte(std::uint8_t byte) {
    if (byte != '\n') {
        if (byte == '\r') return;
        if (line_.size() >= kMaxLineBytes) {
            line_overflow_ = true;
            return;
        }
        line_.push_back(static_cast<char>(byte));
        return;
    }
    const std::string line = std::move(line_);
    const bool overflow = line_overflow_;
    line_.clear();
    line_overflow_ = false;
    if (overflow) return;
    constexpr std::string_view kCheckpoint = "CHECKPOINT ";
    if (line.rfind(kCheckpoint, 0) == 0 && line.size() > kCheckpoint.size()) {
        ++checkpoints_;
        capture(checkpoints_, line.substr(kCheckpoint.size()), false);
    } else if (line == "DONE" && !done_) {
        done_ = true;
        capture(0, std::string(), true);
    }
}

void CheckpointTap::capture(unsigned index, std::string name, bool done) {
    CheckpointFrame frame;
    frame.index = index;
    frame.name = std::move(name);
    frame.done = done;
    std::string error;
    if (std::optional<client::RgbImage> server = render_primary(emulator_, error)) {
        frame.server.emplace(std::move(*server));
    } else {
        frame.server_error = error;
    }
    frame.client_running = mirror_ != nullptr;
    if (mirror_) {
        std::optional<client::RgbImage> client =
            frame.server ? mirror_->wait_for(*frame.server, client_quiet) : mirror_->frame();
        if (client) frame.client.emplace(std::move(*client));
    }
    if (sink_) sink_(frame);
}

}  // namespace qxlbox::app
