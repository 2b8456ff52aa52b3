#include "machine/loader/multiboot.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

using namespace qxlbox::machine;

namespace {

constexpr std::uint64_t kRam = 8u << 20;

struct Seg {
    std::uint32_t paddr;
    std::uint32_t vaddr;
    std::vector<std::uint8_t> data;
    std::uint32_t memsz;
    std::uint32_t type = 1;
};

void put16(std::vector<std::uint8_t>& b, std::size_t off, std::uint16_t v) {
    b[off] = static_cast<std::uint8_t>(v);
    b[off + 1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(std::vector<std::uint8_t>& b, std::size_t off, std::uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) b[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// A minimal ELF32 i386 executable: header, program headers, then the multiboot header and the
// segment data.
std::vector<std::uint8_t> make_elf(const std::vector<Seg>& segs, std::uint32_t entry, std::uint32_t mb_flags = 0x3,
                                   bool with_header = true) {
    const std::size_t phoff = 52;
    const std::size_t mb_at = phoff + 32 * segs.size();
    std::size_t data_at = mb_at + 12;
    std::vector<std::uint8_t> f(data_at, 0);
    f[0] = 0x7f;
    f[1] = 'E';
    f[2] = 'L';
    f[3] = 'F';
    f[4] = 1;
    f[5] = 1;
    f[6] = 1;
    put16(f, 16, 2);
    put16(f, 18, 3);
    put32(f, 20, 1);
    put32(f, 24, entry);
    put32(f, 28, static_cast<std::uint32_t>(phoff));
    put16(f, 40, 52);
    put16(f, 42, 32);
    put16(f, 44, static_cast<std::uint16_t>(segs.size()));
    if (with_header) {
        put32(f, mb_at, kMultibootHeaderMagic);
        put32(f, mb_at + 4, mb_flags);
        put32(f, mb_at + 8, 0u - (kMultibootHeaderMagic + mb_flags));
    }
    for (std::size_t i = 0; i < segs.size(); ++i) {
        const std::size_t p = phoff + 32 * i;
        put32(f, p, segs[i].type);
        put32(f, p + 4, static_cast<std::uint32_t>(data_at));
        put32(f, p + 8, segs[i].vaddr);
        put32(f, p + 12, segs[i].paddr);
        put32(f, p + 16, static_cast<std::uint32_t>(segs[i].data.size()));
        put32(f, p + 20, segs[i].memsz);
        put32(f, p + 28, 0x1000);
        f.insert(f.end(), segs[i].data.begin(), segs[i].data.end());
        data_at += segs[i].data.size();
    }
    return f;
}

struct LoaderFixture : ::testing::Test {
    std::vector<std::uint8_t> ram = std::vector<std::uint8_t>(kRam, 0xcc);
    AddressSpace memory;
    LoaderFixture() { memory.map_host("ram", 0, ram.size(), ram.data(), true); }
    std::uint32_t r32(std::uint32_t a) { return memory.read32(a); }
    std::string str(std::uint32_t a) {
        std::string s;
        while (ram[a] != 0) s.push_back(static_cast<char>(ram[a++]));
        return s;
    }
    MultibootLoadResult load(std::vector<std::uint8_t> kernel, std::string cmdline = "k",
                             std::vector<MultibootModule> mods = {}) {
        MultibootImage img;
        img.kernel = std::move(kernel);
        img.cmdline = std::move(cmdline);
        img.modules = std::move(mods);
        return load_multiboot(memory, kRam, img);
    }
    bool ram_untouched() {
        for (std::uint8_t b : ram) {
            if (b != 0xcc) return false;
        }
        return true;
    }
};

std::vector<std::uint8_t> code() { return {0xf4, 0xeb, 0xfd, 0x90}; }

}  // namespace

TEST_F(LoaderFixture, LoadsSegmentsAndZeroFillsBss) {
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x2000}}, 0x100000));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry, 0x100000u);
    EXPECT_EQ(r.eax, 0x2BADB002u);
    EXPECT_EQ(ram[0x100000], 0xf4);
    EXPECT_EQ(ram[0x100004], 0x00);
    EXPECT_EQ(ram[0x101fff], 0x00);
    EXPECT_EQ(r.info_address, 0x102000u);  // boot information follows the kernel
}

TEST_F(LoaderFixture, InfoStructureHasMemoryCmdlineMmapAndName) {
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000), "guest.elf console=ttyS0");
    ASSERT_TRUE(r.ok) << r.error;
    const std::uint32_t mbi = r.info_address;
    EXPECT_EQ(mbi % 4096, 0u);
    EXPECT_GE(mbi, 0x101000u);
    const std::uint32_t flags = r32(mbi);
    EXPECT_EQ(flags & (kMbiMemory | kMbiCmdline | kMbiMods | kMbiMmap | kMbiBootLoaderName),
              kMbiMemory | kMbiCmdline | kMbiMods | kMbiMmap | kMbiBootLoaderName);
    EXPECT_EQ(r32(mbi + 4), 639u);
    EXPECT_EQ(r32(mbi + 8), (kRam - 0x100000 - 0x20000) / 1024);
    EXPECT_EQ(r32(mbi + 12), 0x8000ffffu);
    EXPECT_EQ(str(r32(mbi + 16)), "guest.elf console=ttyS0");
    EXPECT_EQ(r32(mbi + 20), 0u);
    EXPECT_EQ(str(r32(mbi + 64)), "qxlbox");
    // Memory map: entries of size 20 (+4); RAM above 1 MiB is available.
    const std::uint32_t len = r32(mbi + 44);
    const std::uint32_t at = r32(mbi + 48);
    bool found_high = false;
    bool found_reserved_top = false;
    for (std::uint32_t p = at; p < at + len; p += r32(p) + 4) {
        const std::uint64_t base = memory.read(p + 4, 8);
        const std::uint64_t length = memory.read(p + 12, 8);
        if (base == 0x100000 && length == kRam - 0x100000 - 0x20000 && r32(p + 20) == 1) found_high = true;
        if (base == kRam - 0x20000 && length == 0x20000 && r32(p + 20) == 2) found_reserved_top = true;
    }
    EXPECT_TRUE(found_high);
    EXPECT_TRUE(found_reserved_top);
}

TEST_F(LoaderFixture, ModulesArePageAlignedWithStrings) {
    MultibootModule a{{1, 2, 3, 4, 5}, "scenario.bin"};
    MultibootModule b{std::vector<std::uint8_t>(5000, 7), "blob.bin extra"};
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x1800}}, 0x100000), "k", {a, b});
    ASSERT_TRUE(r.ok) << r.error;
    const std::uint32_t mbi = r.info_address;
    ASSERT_EQ(r32(mbi + 20), 2u);
    const std::uint32_t mods = r32(mbi + 24);
    EXPECT_EQ(r32(mods), 0x102000u);
    EXPECT_EQ(r32(mods + 4), 0x102005u);
    EXPECT_EQ(str(r32(mods + 8)), "scenario.bin");
    EXPECT_EQ(r32(mods + 16), 0x103000u);
    EXPECT_EQ(r32(mods + 20), 0x103000u + 5000);
    EXPECT_EQ(str(r32(mods + 24)), "blob.bin extra");
    EXPECT_EQ(ram[0x102004], 5);
    EXPECT_EQ(ram[0x103000 + 4999], 7);
    EXPECT_GE(mbi, 0x103000u + 5000);
}

TEST_F(LoaderFixture, EntryIsTranslatedFromVirtualToPhysical) {
    auto r = load(make_elf({{0x200000, 0xc0200000, code(), 0x1000}}, 0xc0200002));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.entry, 0x200002u);
}

TEST_F(LoaderFixture, NonLoadSegmentsAreSkipped) {
    Seg note{0x7000000, 0x7000000, {1, 2}, 2, 4};  // PT_NOTE outside RAM: ignored
    auto r = load(make_elf({note, {0x100000, 0x100000, code(), 0x1000}}, 0x100000));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.segments.size(), 1u);
}

TEST_F(LoaderFixture, RejectsFileWithoutMultibootHeader) {
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000, 0x3, false));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("no multiboot header"), std::string::npos) << r.error;
    EXPECT_TRUE(ram_untouched());
}

TEST_F(LoaderFixture, RejectsBadChecksum) {
    auto k = make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000);
    k[52 + 32 + 8] ^= 1;
    EXPECT_FALSE(load(k).ok);
}

TEST_F(LoaderFixture, RejectsUnsupportedRequiredFlags) {
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000, 0x3 | 0x8));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("requires"), std::string::npos) << r.error;
}

TEST_F(LoaderFixture, RejectsNonElfAndElf64AndWrongMachine) {
    std::vector<std::uint8_t> aout(64, 0);
    put32(aout, 0, kMultibootHeaderMagic);
    put32(aout, 4, 0x10003);
    put32(aout, 8, 0u - (kMultibootHeaderMagic + 0x10003));
    auto r = load(aout);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("not an ELF"), std::string::npos) << r.error;

    auto k64 = make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000);
    k64[4] = 2;
    r = load(k64);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("ELF32"), std::string::npos) << r.error;

    auto arm = make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000);
    put16(arm, 18, 40);
    EXPECT_FALSE(load(arm).ok);
    EXPECT_TRUE(ram_untouched());
}

TEST_F(LoaderFixture, RejectsSegmentOutsideRam) {
    auto r = load(make_elf({{0x7ff000, 0x7ff000, code(), 0x2000}}, 0x7ff000));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("outside RAM"), std::string::npos) << r.error;
    EXPECT_TRUE(ram_untouched());
}

TEST_F(LoaderFixture, RejectsSegmentInFirmwareReservedTop) {
    auto r = load(make_elf({{0x7f0000, 0x7f0000, code(), 0x1000}}, 0x7f0000));
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(ram_untouched());
}

TEST_F(LoaderFixture, RejectsRamTooSmall) {
    MultibootImage img;
    img.kernel = make_elf({{0x1000, 0x1000, code(), 0x1000}}, 0x1000);
    img.cmdline = "k";
    EXPECT_FALSE(load_multiboot(memory, 0x100000, img).ok);
}

TEST_F(LoaderFixture, RejectsOverlappingSegments) {
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x2000}, {0x101000, 0x101000, code(), 0x1000}}, 0x100000));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("overlaps"), std::string::npos) << r.error;
    EXPECT_TRUE(ram_untouched());
}

TEST_F(LoaderFixture, RejectsTruncatedSegmentData) {
    auto k = make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000);
    k.resize(k.size() - 2);
    auto r = load(k);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("beyond the end"), std::string::npos) << r.error;
}

TEST_F(LoaderFixture, RejectsProgramHeadersBeyondFile) {
    auto k = make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000);
    put16(k, 44, 2000);
    EXPECT_FALSE(load(k).ok);
}

TEST_F(LoaderFixture, RejectsFileSizeLargerThanMemorySize) {
    auto r = load(make_elf({{0x100000, 0x100000, code(), 2}}, 0x100000));
    EXPECT_FALSE(r.ok);
}

TEST_F(LoaderFixture, RejectsEntryOutsideSegments) {
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x300000));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("entry point"), std::string::npos) << r.error;
}

TEST_F(LoaderFixture, RejectsModuleThatDoesNotFit) {
    MultibootModule big{std::vector<std::uint8_t>(kRam - 0x110000, 1), "big.bin"};
    auto r = load(make_elf({{0x100000, 0x100000, code(), 0x1000}}, 0x100000), "k", {big});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("does not fit"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("big.bin"), std::string::npos) << r.error;
    EXPECT_TRUE(ram_untouched());
}

TEST_F(LoaderFixture, RejectsEmptyAndTinyFiles) {
    EXPECT_FALSE(load({}).ok);
    EXPECT_FALSE(load({0x7f, 'E', 'L', 'F'}).ok);
}

TEST(LoaderFile, ReadsFileAndReportsMissingOrTooLarge) {
    std::vector<std::uint8_t> bytes;
    std::string error;
    EXPECT_FALSE(read_file_bytes("/nonexistent/qxlbox-test", 100, bytes, error));
    EXPECT_NE(error.find("no such file"), std::string::npos) << error;
    EXPECT_FALSE(read_file_bytes("/", 100, bytes, error));
    EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
    char name[] = "/tmp/qxlbox-loader-XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    std::FILE* f = fdopen(fd, "wb");
    std::fputs("hello", f);
    std::fclose(f);
    EXPECT_TRUE(read_file_bytes(name, 100, bytes, error)) << error;
    EXPECT_EQ(bytes.size(), 5u);
    EXPECT_FALSE(read_file_bytes(name, 4, bytes, error));
    std::remove(name);
}
