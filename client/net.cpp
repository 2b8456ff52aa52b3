#include "client/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace qxlbox::client {

namespace {

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

bool wait_for(int fd, short events, Clock::time_point deadline, std::string& error, const char* what) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc > 0) return true;
        if (rc == 0) {
            error = std::string("timed out while ") + what;
            return false;
        }
        if (errno != EINTR) {
            error = std::string("poll failed: ") + std::strerror(errno);
            return false;
        }
    }
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

bool parse_spice_uri(const std::string& uri, Endpoint& out, std::string& error) {
    std::string rest = uri;
    if (rest.rfind("spice://", 0) == 0) rest = rest.substr(8);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    std::string host, port;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            error = "bad address in '" + uri + "' (expected spice://[ADDR]:PORT)";
            return false;
        }
        host = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string::npos) {
            error = "no port in '" + uri + "' (expected spice://HOST:PORT)";
            return false;
        }
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
        error = "bad host or port in '" + uri + "' (expected spice://HOST:PORT)";
        return false;
    }
    out.host = host;
    out.port = static_cast<std::uint16_t>(value);
    return true;
}

std::unique_ptr<Socket> Socket::connect(const Endpoint& ep, Clock::time_point deadline, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const std::string port = std::to_string(ep.port);
    if (const int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &list); rc != 0) {
        error = "cannot resolve " + ep.host + ": " + ::gai_strerror(rc);
        return nullptr;
    }
    error = "no address for " + ep.host;
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        set_nonblocking(fd);
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            std::string why;
            if (wait_for(fd, POLLOUT, deadline, why, "connecting")) {
                int so_error = 0;
                socklen_t len = sizeof so_error;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
                rc = so_error == 0 ? 0 : -1;
                errno = so_error;
            } else {
                errno = ETIMEDOUT;
            }
        }
        if (rc == 0) {
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ::freeaddrinfo(list);
            error.clear();
            return std::unique_ptr<Socket>(new Socket(fd));
        }
        error = "cannot connect to " + ep.host + ":" + port + ": " + std::strerror(errno);
        ::close(fd);
    }
    ::freeaddrinfo(list);
    return nullptr;
}

std::unique_ptr<Socket> Socket::adopt(int fd) {
    set_nonblocking(fd);
    return std::unique_ptr<Socket>(new Socket(fd));
}

Socket::~Socket() {
    if (fd_ >= 0) ::close(fd_);
}

bool Socket::write_all(std::span<const std::uint8_t> data, Clock::time_point deadline, std::string& error) {
    while (!data.empty()) {
        const long n = write_some(data, error);
        if (n < 0) return false;
        if (n == 0 && !wait_for(fd_, POLLOUT, deadline, error, "sending")) return false;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool Socket::read_exact(std::span<std::uint8_t> out, Clock::time_point deadline, std::string& error) {
    while (!out.empty()) {
        const long n = read_some(out, error);
        if (n < 0) return false;
        if (n == 0 && !wait_for(fd_, POLLIN, deadline, error, "waiting for the server")) return false;
        out = out.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

long Socket::read_some_until(std::span<std::uint8_t> out, Clock::time_point deadline, std::string& error) {
    for (;;) {
        const long n = read_some(out, error);
        if (n != 0) return n;
        if (!wait_for(fd_, POLLIN, deadline, error, "waiting for the server")) return -1;
    }
}

long Socket::read_some(std::span<std::uint8_t> out, std::string& error) {
    for (;;) {
        const ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
        if (n > 0) return static_cast<long>(n);
        if (n == 0) {
            error = "server closed the connection";
            return -1;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        error = std::string("receive failed: ") + std::strerror(errno);
        return -1;
    }
}

long Socket::write_some(std::span<const std::uint8_t> data, std::string& error) {
    for (;;) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) return static_cast<long>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        error = std::string("send failed: ") + std::strerror(errno);
        return -1;
    }
}

}  // namespace qxlbox::client
