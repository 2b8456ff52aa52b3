// Multiboot (version 0.6.96) loader for ELF32 kernels.
//
// Theory of operation (Multiboot Specification 0.6.96 §3): the kernel carries a multiboot
// header (magic 0x1BADB002, flags, checksum) 32-bit aligned in its first 8192 bytes. Flags
// bits 0-15 are requirements; a loader must refuse an image with one it does not meet, so we
// refuse bits 3-15 and meet bit 0 (modules page aligned), bit 1 (memory information) and
// bit 2 (video mode: we give none, which the spec allows since the field is only a
// preference). The kernel is loaded from its ELF32 PT_LOAD program headers at their physical
// addresses (p_paddr), the tail beyond p_filesz zero filled; the a.out kludge (bit 16) is not
// supported. Modules are placed page aligned after the kernel, then the boot information:
// the multiboot_info structure with mem_lower/mem_upper, the command line, the module list,
// the BIOS-style memory map and the boot loader name. On entry EAX = 0x2BADB002 and EBX = the
// info address; the CPU state itself (flat segments, CR0.PE, GDTR) is Cpu::reset_to_multiboot's
// job. The loader writes the flat GDT that GDTR then points at (kMultibootGdtAddress, in the
// reserved BIOS area), as QEMU's multiboot option ROM leaves one.
//
// As on QEMU's -kernel (checked against qemu-system-i386 with SeaBIOS): the kernel command line
// is "KERNEL_PATH APPEND", mem_lower is 639, boot_device 0x8000ffff, the top 128 KiB of RAM is
// reserved (SeaBIOS's tables) and mem_upper counts the usable RAM above 1 MiB in KiB; the
// kernel, modules and boot information must fit below that reserved top. Everything is validated before the first byte reaches guest memory,
// so a rejected image leaves RAM untouched. Errors are values with a message for the user.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "machine/bus.h"

namespace qxlbox::machine {

inline constexpr std::uint32_t kMultibootHeaderMagic = 0x1BADB002;
inline constexpr std::uint32_t kMultibootBootloaderMagic = 0x2BADB002;
inline constexpr std::uint32_t kMultibootSearchBytes = 8192;

// multiboot_info flags.
inline constexpr std::uint32_t kMbiMemory = 1u << 0;
inline constexpr std::uint32_t kMbiBootDevice = 1u << 1;
inline constexpr std::uint32_t kMbiCmdline = 1u << 2;
inline constexpr std::uint32_t kMbiMods = 1u << 3;
inline constexpr std::uint32_t kMbiMmap = 1u << 6;
inline constexpr std::uint32_t kMbiBootLoaderName = 1u << 9;

struct MultibootModule {
    std::vector<std::uint8_t> data;
    std::string cmdline;
};

struct MultibootImage {
    std::vector<std::uint8_t> kernel;
    std::string cmdline;  // the full string the guest sees
    std::vector<MultibootModule> modules;
};

struct LoadedSegment {
    std::uint32_t address = 0;
    std::uint32_t size_bytes = 0;
};

struct MultibootLoadResult {
    bool ok = false;
    std::string error;  // set when !ok
    std::uint32_t entry = 0;
    std::uint32_t eax = kMultibootBootloaderMagic;
    std::uint32_t info_address = 0;  // EBX
    std::vector<LoadedSegment> segments;
    std::vector<LoadedSegment> modules;
};

// Parses and validates `image`, then writes kernel, modules and boot information into RAM at
// [0, ram_size_bytes) of `memory`.
MultibootLoadResult load_multiboot(AddressSpace& memory, std::uint64_t ram_size_bytes, const MultibootImage& image);

// Reads a whole file of at most `max_bytes`; false with a message on any error.
bool read_file_bytes(const std::string& path, std::uint64_t max_bytes, std::vector<std::uint8_t>& out,
                     std::string& error);

}  // namespace qxlbox::machine
