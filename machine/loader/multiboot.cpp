#include "machine/loader/multiboot.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "machine/cpu/cpu.h"

namespace qxlbox::machine {

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kLowMemoryTop = 0x9fc00;  // EBDA below 640 KiB stays reserved
constexpr std::uint64_t kHighMemoryStart = 0x100000;
// SeaBIOS under QEMU keeps the top 128 KiB of RAM for its tables and reports it reserved;
// QEMU's multiboot ROM derives mem_upper from that map. We reserve the same so a guest sees
// the same numbers on both.
constexpr std::uint64_t kFirmwareReservedTopBytes = 128 * 1024;
constexpr std::uint32_t kBootDeviceNone = 0x8000ffff;  // what QEMU passes: BIOS drive 0x80, no partition
constexpr std::uint32_t kPtLoad = 1;
constexpr std::size_t kElfHeaderBytes = 52;
constexpr std::size_t kPhdrBytes = 32;
constexpr std::size_t kMbiBytes = 120;
constexpr std::size_t kModuleEntryBytes = 16;
constexpr std::size_t kMmapEntryBytes = 24;
constexpr const char* kBootLoaderName = "qxlbox";

std::uint16_t le16(const std::vector<std::uint8_t>& b, std::size_t off) {
    return static_cast<std::uint16_t>(b[off] | (b[off + 1] << 8));
}
std::uint32_t le32(const std::vector<std::uint8_t>& b, std::size_t off) {
    return static_cast<std::uint32_t>(b[off] | (b[off + 1] << 8) | (b[off + 2] << 16)) |
           (static_cast<std::uint32_t>(b[off + 3]) << 24);
}
void put32(std::vector<std::uint8_t>& b, std::size_t off, std::uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) b[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(std::vector<std::uint8_t>& b, std::size_t off, std::uint64_t v) {
    for (unsigned i = 0; i < 8; ++i) b[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) & ~(a - 1); }

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

MultibootLoadResult fail(std::string message) {
    MultibootLoadResult r;
    r.error = std::move(message);
    return r;
}

struct Segment {
    std::uint64_t paddr = 0;
    std::uint64_t vaddr = 0;
    std::uint64_t offset = 0;
    std::uint64_t filesz = 0;
    std::uint64_t memsz = 0;
};

}  // namespace

MultibootLoadResult load_multiboot(AddressSpace& memory, std::uint64_t ram_size_bytes, const MultibootImage& image) {
    const std::vector<std::uint8_t>& k = image.kernel;
    if (ram_size_bytes < kHighMemoryStart + 2 * kFirmwareReservedTopBytes || ram_size_bytes > (1ull << 32)) {
        return fail("RAM size " + hex(ram_size_bytes) + " is outside what a multiboot machine can have");
    }
    const std::uint64_t usable_top = ram_size_bytes - kFirmwareReservedTopBytes;

    // 1. The multiboot header.
    bool found = false;
    std::uint32_t flags = 0;
    const std::size_t search_end = std::min<std::size_t>(k.size(), kMultibootSearchBytes);
    for (std::size_t off = 0; off + 12 <= search_end; off += 4) {
        if (le32(k, off) != kMultibootHeaderMagic) continue;
        flags = le32(k, off + 4);
        if (static_cast<std::uint32_t>(kMultibootHeaderMagic + flags + le32(k, off + 8)) != 0) continue;
        found = true;
        break;
    }
    if (!found) return fail("not a multiboot kernel: no multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8192 bytes");
    if (flags & 0xfff8u) {
        return fail("the kernel requires multiboot features this loader does not provide (header flags " + hex(flags) + ")");
    }

    // 2. The ELF32 header.
    if (k.size() < kElfHeaderBytes || k[0] != 0x7f || k[1] != 'E' || k[2] != 'L' || k[3] != 'F') {
        return fail("not an ELF file (a.out-kludge multiboot images are not supported)");
    }
    if (k[4] != 1) return fail("not an ELF32 file (ELF class " + std::to_string(k[4]) + ")");
    if (k[5] != 1) return fail("not a little-endian ELF file");
    if (le16(k, 16) != 2) return fail("ELF file is not an executable (e_type " + std::to_string(le16(k, 16)) + ")");
    if (le16(k, 18) != 3) return fail("ELF file is not for i386 (e_machine " + std::to_string(le16(k, 18)) + ")");
    const std::uint64_t entry_v = le32(k, 24);
    const std::uint64_t phoff = le32(k, 28);
    const std::uint64_t phentsize = le16(k, 42);
    const std::uint64_t phnum = le16(k, 44);
    if (phnum == 0) return fail("ELF file has no program headers");
    if (phentsize < kPhdrBytes) return fail("ELF program header size " + std::to_string(phentsize) + " is too small");
    if (phoff + phnum * phentsize > k.size()) return fail("ELF program headers lie beyond the end of the file");

    // 3. Loadable segments: inside the file, inside RAM, not overlapping.
    std::vector<Segment> segs;
    for (std::uint64_t i = 0; i < phnum; ++i) {
        const std::size_t p = static_cast<std::size_t>(phoff + i * phentsize);
        if (le32(k, p) != kPtLoad) continue;
        Segment s;
        s.offset = le32(k, p + 4);
        s.vaddr = le32(k, p + 8);
        s.paddr = le32(k, p + 12);
        s.filesz = le32(k, p + 16);
        s.memsz = le32(k, p + 20);
        const std::string name = "segment " + std::to_string(i);
        if (s.filesz > s.memsz) return fail(name + ": file size is larger than memory size");
        if (s.offset + s.filesz > k.size()) return fail(name + ": file data lies beyond the end of the file");
        if (s.memsz == 0) continue;
        if (s.paddr + s.memsz > usable_top) {
            return fail(name + " at " + hex(s.paddr) + "-" + hex(s.paddr + s.memsz) + " lies outside RAM (" +
                        hex(usable_top) + " bytes usable)");
        }
        for (const Segment& o : segs) {
            if (s.paddr < o.paddr + o.memsz && o.paddr < s.paddr + s.memsz) {
                return fail(name + " at " + hex(s.paddr) + "-" + hex(s.paddr + s.memsz) +
                            " overlaps another segment at " + hex(o.paddr) + "-" + hex(o.paddr + o.memsz));
            }
        }
        segs.push_back(s);
    }
    if (segs.empty()) return fail("ELF file has no loadable segment");

    // The entry point is a virtual address; translate it through the segment holding it.
    std::uint64_t entry = 0;
    bool entry_found = false;
    for (const Segment& s : segs) {
        if (entry_v >= s.vaddr && entry_v < s.vaddr + s.memsz) {
            entry = entry_v - s.vaddr + s.paddr;
            entry_found = true;
            break;
        }
    }
    if (!entry_found) return fail("ELF entry point " + hex(entry_v) + " is outside every loadable segment");

    // 4. Layout: modules page aligned after the kernel, then the boot information.
    std::uint64_t kernel_end = 0;
    for (const Segment& s : segs) kernel_end = std::max(kernel_end, s.paddr + s.memsz);
    std::uint64_t next = align_up(std::max(kernel_end, kHighMemoryStart), kPage);
    std::vector<LoadedSegment> mods;
    for (std::size_t i = 0; i < image.modules.size(); ++i) {
        const auto size = static_cast<std::uint64_t>(image.modules[i].data.size());
        if (next + size > usable_top) {
            return fail("module " + std::to_string(i + 1) + " ('" + image.modules[i].cmdline + "', " +
                        std::to_string(size) + " bytes) does not fit in RAM: it would end at " + hex(next + size) +
                        ", usable RAM ends at " + hex(usable_top));
        }
        mods.push_back({static_cast<std::uint32_t>(next), static_cast<std::uint32_t>(size)});
        next = align_up(next + size, kPage);
    }

    struct Range {
        std::uint64_t base, length;
        std::uint32_t type;
    };
    std::vector<Range> mmap = {{0, kLowMemoryTop, 1}, {kLowMemoryTop, 0xa0000 - kLowMemoryTop, 2}, {0xf0000, 0x10000, 2}};
    mmap.push_back({kHighMemoryStart, usable_top - kHighMemoryStart, 1});
    mmap.push_back({usable_top, kFirmwareReservedTopBytes, 2});
    mmap.push_back({0xfffc0000, 0x40000, 2});

    const std::uint64_t info = next;
    const std::uint64_t mods_at = info + kMbiBytes;
    const std::uint64_t mmap_at = mods_at + kModuleEntryBytes * mods.size();
    const std::uint64_t strings_at = mmap_at + kMmapEntryBytes * mmap.size();
    std::vector<std::uint8_t> blob(static_cast<std::size_t>(strings_at - info), 0);
    auto add_string = [&](const std::string& s) {
        const auto at = static_cast<std::uint32_t>(info + blob.size());
        blob.insert(blob.end(), s.begin(), s.end());
        blob.push_back(0);
        return at;
    };
    const std::uint32_t cmdline_at = add_string(image.cmdline);
    for (std::size_t i = 0; i < mods.size(); ++i) {
        const std::size_t e = static_cast<std::size_t>(mods_at - info + i * kModuleEntryBytes);
        put32(blob, e, mods[i].address);
        put32(blob, e + 4, mods[i].address + mods[i].size_bytes);
        put32(blob, e + 8, add_string(image.modules[i].cmdline));
    }
    for (std::size_t i = 0; i < mmap.size(); ++i) {
        const std::size_t e = static_cast<std::size_t>(mmap_at - info + i * kMmapEntryBytes);
        put32(blob, e, kMmapEntryBytes - 4);
        put64(blob, e + 4, mmap[i].base);
        put64(blob, e + 12, mmap[i].length);
        put32(blob, e + 20, mmap[i].type);
    }
    const std::uint32_t name_at = add_string(kBootLoaderName);
    if (info + blob.size() > usable_top) {
        return fail("the multiboot information (" + std::to_string(blob.size()) + " bytes) does not fit in RAM after the modules");
    }
    put32(blob, 0, kMbiMemory | kMbiBootDevice | kMbiCmdline | kMbiMods | kMbiMmap | kMbiBootLoaderName);
    put32(blob, 4, static_cast<std::uint32_t>(kLowMemoryTop / 1024));
    put32(blob, 8, static_cast<std::uint32_t>((usable_top - kHighMemoryStart) / 1024));
    put32(blob, 12, kBootDeviceNone);
    put32(blob, 16, cmdline_at);
    put32(blob, 20, static_cast<std::uint32_t>(mods.size()));
    put32(blob, 24, static_cast<std::uint32_t>(mods_at));
    put32(blob, 44, static_cast<std::uint32_t>(kMmapEntryBytes * mmap.size()));
    put32(blob, 48, static_cast<std::uint32_t>(mmap_at));
    put32(blob, 64, name_at);

    // 5. Everything is valid: write it.
    static const std::uint8_t kZeros[4096] = {};
    bool ok = true;
    MultibootLoadResult r;
    // The flat GDT that Cpu::reset_to_multiboot points GDTR at, as QEMU's multiboot option ROM
    // leaves one. Written first so that a kernel segment loaded over it wins; a board without
    // RAM there simply has no table (GDTR is architecturally undefined on entry anyway).
    if (ram_size_bytes >= kMultibootGdtAddress + kMultibootGdtLimit + 1u) write_multiboot_gdt(memory);
    for (const Segment& s : segs) {
        ok &= memory.write_block(s.paddr, k.data() + s.offset, static_cast<std::size_t>(s.filesz));
        for (std::uint64_t done = s.filesz; done < s.memsz;) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof kZeros, s.memsz - done));
            ok &= memory.write_block(s.paddr + done, kZeros, n);
            done += n;
        }
        r.segments.push_back({static_cast<std::uint32_t>(s.paddr), static_cast<std::uint32_t>(s.memsz)});
    }
    for (std::size_t i = 0; i < mods.size(); ++i) {
        ok &= memory.write_block(mods[i].address, image.modules[i].data.data(), image.modules[i].data.size());
    }
    ok &= memory.write_block(info, blob.data(), blob.size());
    if (!ok) return fail("RAM is not mapped where the image must go");
    r.ok = true;
    r.entry = static_cast<std::uint32_t>(entry);
    r.info_address = static_cast<std::uint32_t>(info);
    r.modules = std::move(mods);
    return r;
}

bool read_file_bytes(const std::string& path, std::uint64_t max_bytes, std::vector<std::uint8_t>& out,
                     std::string& error) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
        error = "cannot open '" + path + "': no such file";
        return false;
    }
    if (!std::filesystem::is_regular_file(status)) {
        error = "'" + path + "' is not a regular file";
        return false;
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
        error = "cannot read '" + path + "': " + ec.message();
        return false;
    }
    if (size > max_bytes) {
        error = "'" + path + "' is " + std::to_string(size) + " bytes, larger than guest RAM";
        return false;
    }
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        error = "cannot open '" + path + "': " + std::strerror(errno);
        return false;
    }
    out.assign(static_cast<std::size_t>(size), 0);
    const std::size_t got = size == 0 ? 0 : std::fread(out.data(), 1, out.size(), f);
    std::fclose(f);
    if (got != out.size()) {
        error = "cannot read '" + path + "': short read";
        return false;
    }
    return true;
}

}  // namespace qxlbox::machine
