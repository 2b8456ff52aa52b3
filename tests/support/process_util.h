// Child processes, temporary directories and loopback ports for tests that run real peers
// (QEMU, spicy-screenshot, remote-viewer, Xvfb, tshark); shared by tests/client and
// tests/interop. Every child is killed by its PID and every wait has a limit.
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" char** environ;

namespace qxlbox::test {

class TempDir {
public:
    explicit TempDir(const std::string& prefix = "qxlbox-client") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (::mkdtemp(tmpl.data())) path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// Where a child's standard output and standard error go when they are kept apart: each path
// is created or truncated (mode 0600); an empty path is /dev/null.
struct ChildOutput {
    std::filesystem::path stdout_path;
    std::filesystem::path stderr_path;
};

// How a child ended under ChildProcess::wait_exit().
struct ChildExit {
    bool timed_out = false;    // still running at the deadline, so killed (SIGKILL) by its PID
    bool wait_failed = false;  // waitpid failed: the status is unknown
    int exit_code = -1;        // its exit status when it exited; -1 otherwise
    int signal = 0;            // the signal that ended it (not ours at the deadline); 0 otherwise
};

class ChildProcess {
public:
    // Starts argv[0] (looked up in PATH) with stdout and stderr appended to `log_path`, stdin
    // from /dev/null, `env` added to the environment ("NAME=value"; a bare "NAME" removes that
    // variable) and, when `keep_fd` >= 0, that descriptor left open as descriptor 3 (Xvfb
    // -displayfd 3). A program that cannot be executed leaves started() false.
    ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
                 const std::vector<std::string>& env = {}, int keep_fd = -1) {
        const std::string log = log_path.string();
        start(argv, log, kAppend, log, kAppend, true, env, keep_fd);
    }
    // Same, with stdout and stderr in separate files (or /dev/null), each truncated first.
    ChildProcess(const std::vector<std::string>& argv, const ChildOutput& output,
                 const std::vector<std::string>& env = {}) {
        const auto target = [](const std::filesystem::path& p) { return p.empty() ? std::string("/dev/null") : p.string(); };
        start(argv, target(output.stdout_path), kTruncate, target(output.stderr_path), kTruncate, false, env, -1);
    }
    ~ChildProcess() { kill(); }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    bool started() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    // Sends `signal` and waits up to `timeout` for the exit status (nullopt: killed after it).
    std::optional<int> stop(int signal, std::chrono::milliseconds timeout) {
        if (pid_ <= 0) return std::nullopt;
        ::kill(pid_, signal);
        return wait(timeout);
    }
    // Exit status, or nullopt if still running after `timeout` (the child is then killed).
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (pid_ > 0) {
            int status = 0;
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (std::chrono::steady_clock::now() >= deadline) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        kill();
        return std::nullopt;
    }
    // Waits until `deadline` and kills the child by its PID (SIGKILL, no grace) if it is still
    // running then.
    ChildExit wait_exit(std::chrono::steady_clock::time_point deadline) {
        ChildExit result;
        if (pid_ <= 0) {
            result.wait_failed = true;
            return result;
        }
        int status = 0;
        for (;;) {
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) break;
            if (r < 0) {
                pid_ = -1;
                result.wait_failed = true;
                return result;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                pid_ = -1;
                result.timed_out = true;
                return result;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        pid_ = -1;
        if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
        return result;
    }
    ChildExit wait_exit(std::chrono::milliseconds timeout) {
        return wait_exit(std::chrono::steady_clock::now() + timeout);
    }
    bool running() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 100; ++i) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    static constexpr int kAppend = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    static constexpr int kTruncate = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;

    // Everything the child needs is built before fork: tests start children from several
    // threads, and only async-signal-safe calls are allowed between fork and exec. A
    // close-on-exec pipe tells the parent whether exec succeeded.
    void start(const std::vector<std::string>& argv, const std::string& out_path, int out_flags,
               const std::string& err_path, int err_flags, bool shared_log, const std::vector<std::string>& env,
               int keep_fd) {
        if (argv.empty()) return;
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        std::vector<std::string> env_strings;
        std::vector<std::string> env_names;  // "NAME=" of every variable `env` sets or removes
        for (const auto& mine : env) {
            const auto eq = mine.find('=');
            env_names.push_back(eq == std::string::npos ? mine + "=" : mine.substr(0, eq + 1));
            if (eq != std::string::npos) env_strings.push_back(mine);
        }
        for (char** e = environ; e && *e; ++e) {
            const std::string entry(*e);
            bool overridden = false;
            for (const auto& name : env_names) overridden = overridden || entry.rfind(name, 0) == 0;
            if (!overridden) env_strings.push_back(entry);
        }
        std::vector<char*> envp;
        for (auto& e : env_strings) envp.push_back(e.data());
        envp.push_back(nullptr);
        const mode_t mode = out_flags == kAppend ? 0644 : 0600;
        int exec_pipe[2] = {-1, -1};
        if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            ::close(exec_pipe[0]);
            const int out_fd = ::open(out_path.c_str(), out_flags, mode);
            if (out_fd >= 0) ::dup2(out_fd, 1);
            const int err_fd = shared_log ? out_fd : ::open(err_path.c_str(), err_flags, mode);
            if (err_fd >= 0) ::dup2(err_fd, 2);
            const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (null_fd >= 0) ::dup2(null_fd, 0);
            if (keep_fd == 3) ::fcntl(3, F_SETFD, 0);
            else if (keep_fd >= 0) ::dup2(keep_fd, 3);
            ::execvpe(args[0], args.data(), envp.data());
            const int error = errno;
            [[maybe_unused]] const auto written = ::write(exec_pipe[1], &error, sizeof error);
            ::_exit(127);
        }
        ::close(exec_pipe[1]);
        if (pid_ > 0) {
            int error = 0;
            ssize_t got = 0;
            do {
                got = ::read(exec_pipe[0], &error, sizeof error);
            } while (got < 0 && errno == EINTR);
            if (got > 0) {
                ::waitpid(pid_, nullptr, 0);
                pid_ = -1;
            }
        }
        ::close(exec_pipe[0]);
    }

    pid_t pid_ = -1;
};

// A loopback TCP port that was free a moment ago (the kernel picks it); 0 on failure.
inline std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

inline bool port_open(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

inline std::string read_text_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Polls `ready` every 20 ms until it holds (true) or `timeout` passes (false).
inline bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (ready()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace qxlbox::test
