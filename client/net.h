// TCP transport of the client: one non-blocking socket per SPICE channel. The link stage uses
// the blocking-with-deadline helpers (it is a short fixed exchange); the data stage uses
// read_some()/write_some() from the session's poll loop. Nothing here blocks without a bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace qxlbox::client {

using Clock = std::chrono::steady_clock;

struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
};

// Accepts spice://HOST:PORT, HOST:PORT and spice://[V6ADDR]:PORT. Returns false with a
// reason in `error` for anything else.
bool parse_spice_uri(const std::string& uri, Endpoint& out, std::string& error);

class Socket {
public:
    static std::unique_ptr<Socket> connect(const Endpoint& ep, Clock::time_point deadline, std::string& error);
    // Wraps an already connected descriptor (tests use socketpair()); takes ownership.
    static std::unique_ptr<Socket> adopt(int fd);
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    int fd() const { return fd_; }

    bool write_all(std::span<const std::uint8_t> data, Clock::time_point deadline, std::string& error);
    bool read_exact(std::span<std::uint8_t> out, Clock::time_point deadline, std::string& error);
    // Waits up to the deadline for at least one byte: the count, or -1 with `error`.
    long read_some_until(std::span<std::uint8_t> out, Clock::time_point deadline, std::string& error);

    // Non-blocking: bytes transferred (0 = would block), or -1 with `error` set (EOF included).
    long read_some(std::span<std::uint8_t> out, std::string& error);
    long write_some(std::span<const std::uint8_t> data, std::string& error);

private:
    explicit Socket(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace qxlbox::client
