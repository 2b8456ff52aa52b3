// `qxlbox bench cpu [kernel ELF] [no-qemu]`: runs a CPU-bound multiboot guest (integer
// loops, memcpy/memset, CRC-32, branchy code; tests/cpu/guest/bench.c) on our CPU and reports
// guest MIPS (instructions retired per host second), then runs the same guest under
// qemu-system-i386 (TCG) and reports its wall time side by side.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "machine/cpu/flat_machine.h"

namespace qxlbox::app {

namespace {

std::string default_kernel() {
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return "tests/cpu/guest/bench.elf";
    std::string dir(exe, static_cast<std::size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    return dir + "/../tests/cpu/guest/bench.elf";
}

// Wall time of the guest under QEMU; negative when QEMU could not run it.
double qemu_seconds(const std::string& elf, std::string& serial) {
    char dir_template[] = "/tmp/qxlbox-bench-cpu-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (!dir) return -1;
    const std::string out = std::string(dir) + "/serial.txt";
    const std::string serial_arg = "file:" + out;
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
        execlp("qemu-system-i386", "qemu-system-i386", "-kernel", elf.c_str(), "-display", "none", "-serial",
               serial_arg.c_str(), "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot", "-monitor", "none",
               "-m", "32", "-accel", "tcg", static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    bool finished = false;
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 300.0) {
        if (waitpid(pid, &status, WNOHANG) == pid) { finished = true; break; }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!finished) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    std::ifstream f(out, std::ios::binary);
    serial.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    std::remove(out.c_str());
    rmdir(dir);
    if (!finished || !WIFEXITED(status) || WEXITSTATUS(status) == 127) return -1;
    return seconds;
}

}  // namespace

int bench_cpu(const std::vector<std::string>& args) {
    std::string kernel = default_kernel();
    bool with_qemu = true;
    for (std::size_t i = 0; i < args.size(); ++i) {
        // Plain words, since the bench subcommand passes only positional arguments through
        // (the dashed spellings work after `--`).
        if ((args[i] == "kernel" || args[i] == "--kernel") && i + 1 < args.size()) kernel = args[++i];
        else if (args[i] == "no-qemu" || args[i] == "--no-qemu") with_qemu = false;
        else {
            std::fprintf(stderr, "qxlbox bench cpu: unknown argument '%s' (use: kernel ELF, no-qemu)\n", args[i].c_str());
            return 2;
        }
    }
    std::ifstream f(kernel, std::ios::binary);
    const std::vector<std::uint8_t> image((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (image.empty()) {
        std::fprintf(stderr, "qxlbox bench cpu: cannot read guest '%s' (build it with ninja, or pass --kernel)\n", kernel.c_str());
        return 1;
    }
    machine::FlatMachine m;
    const std::string err = m.load_elf(image);
    if (!err.empty()) {
        std::fprintf(stderr, "qxlbox bench cpu: %s: %s\n", kernel.c_str(), err.c_str());
        return 1;
    }
    timespec cpu0{}, cpu1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    const auto start = std::chrono::steady_clock::now();
    const auto outcome = m.run(100'000'000'000ull);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    // CPU time as well as wall time: on a shared machine the wall time includes waiting.
    const double cpu_seconds = static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) + static_cast<double>(cpu1.tv_nsec - cpu0.tv_nsec) * 1e-9;
    if (outcome != machine::FlatMachine::Outcome::Exited) {
        std::fprintf(stderr, "qxlbox bench cpu: guest did not exit (%s)\n%s", machine::outcome_name(outcome),
                     m.cpu.fault_report().c_str());
        return 1;
    }
    const double retired = static_cast<double>(m.cpu.instructions_retired());
    std::printf("guest:  %s\n", kernel.c_str());
    std::printf("output: %s", m.serial.c_str());
    std::printf("qxlbox: %.0f instructions in %.3f s wall = %.1f MIPS (%.3f s CPU time = %.1f MIPS)\n", retired, seconds,
                retired / seconds / 1e6, cpu_seconds, retired / cpu_seconds / 1e6);
    if (with_qemu) {
        std::string qemu_serial;
        const double qs = qemu_seconds(kernel, qemu_serial);
        if (qs < 0) {
            std::printf("qemu-system-i386: could not run\n");
        } else {
            std::printf("qemu-system-i386 (TCG): %.3f s wall (including start-up) = ~%.1f MIPS equivalent%s\n", qs,
                        retired / qs / 1e6, qemu_serial == m.serial ? "" : "  [OUTPUT DIFFERS]");
        }
    }
    return 0;
}

}  // namespace qxlbox::app
