#include "tests/cpu/cpu_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

namespace qxlbox::cputest {

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string guest_path(const std::string& name) { return std::string(CPU_GUEST_DIR) + "/" + name + ".elf"; }

bool run_qemu(const std::string& elf, double timeout_s, std::string& serial, int& exit_status, std::string& error) {
    char dir_template[] = "/tmp/qxlbox-cpu-qemu-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (!dir) { error = "mkdtemp failed"; return false; }
    const std::string out = std::string(dir) + "/serial.txt";
    const std::string serial_arg = "file:" + out;
    const pid_t pid = fork();
    if (pid < 0) { error = "fork failed"; return false; }
    if (pid == 0) {
        const int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
        execlp("qemu-system-i386", "qemu-system-i386", "-kernel", elf.c_str(), "-display", "none", "-serial",
               serial_arg.c_str(), "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot", "-monitor", "none",
               "-m", "32", static_cast<char*>(nullptr));
        _exit(127);
    }
    const auto start = std::chrono::steady_clock::now();
    int status = 0;
    bool finished = false;
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < timeout_s) {
        const pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) { finished = true; break; }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!finished) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        error = "qemu-system-i386 did not finish in time";
    }
    std::ifstream f(out, std::ios::binary);
    serial.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    std::remove(out.c_str());
    rmdir(dir);
    if (!finished) return false;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) { error = "qemu-system-i386 could not be run"; return false; }
    exit_status = WEXITSTATUS(status);
    return true;
}

}  // namespace qxlbox::cputest
