// Scenario compiler: module layout, defaults, the library under tests/scenario/, and every
// error path with its file:line:col position.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "machine/scenario/scenario_compiler.h"
#include "machine/scenario/scenario_format.h"

namespace qxlbox::scenario {
namespace {

std::uint32_t le32(const std::vector<std::uint8_t>& m, std::size_t off) {
    return m[off] | (m[off + 1] << 8) | (m[off + 2] << 16) | (static_cast<std::uint32_t>(m[off + 3]) << 24);
}
std::uint16_t le16(const std::vector<std::uint8_t>& m, std::size_t off) {
    return static_cast<std::uint16_t>(m[off] | (m[off + 1] << 8));
}

// Compiles and expects exactly one error; returns it as "file:line:col: message".
std::string single_error(std::string_view source) {
    auto r = compile(source, "t.scn");
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.module.empty());
    if (r.errors.size() != 1) {
        std::string all;
        for (const auto& e : r.errors) all += e.to_string() + "\n";
        ADD_FAILURE() << "expected one error, got " << r.errors.size() << ":\n" << all;
        return r.errors.empty() ? "" : r.errors[0].to_string();
    }
    return r.errors[0].to_string();
}

TEST(ScenarioModule, HeaderCarriesMagicVersionSizesAndChecksum) {
    auto r = compile("primary 640 480\nfill 1,2,3,4 color=#102030\n", "t.scn");
    ASSERT_TRUE(r.ok());
    const auto& m = r.module;
    ASSERT_GE(m.size(), QXSC_HEADER_SIZE);
    EXPECT_EQ(le32(m, 0), QXSC_MAGIC);
    EXPECT_EQ(le16(m, 4), QXSC_VERSION);
    EXPECT_EQ(le16(m, 6), QXSC_HEADER_SIZE);
    EXPECT_EQ(le32(m, 8), m.size());
    EXPECT_EQ(le32(m, 12), 2u);
    EXPECT_EQ(le32(m, 16), 0u);
    EXPECT_EQ(le32(m, 20), crc32(m.data() + QXSC_HEADER_SIZE, m.size() - QXSC_HEADER_SIZE));
}

TEST(ScenarioModule, StepsUseTheFixedArgumentLayout) {
    auto r = compile("primary 640 480 depth=16\nfill 1,2,3,4 color=#102030 clip=5,6,7,8 rop=xor\n", "t.scn");
    ASSERT_TRUE(r.ok());
    const auto& m = r.module;
    std::size_t off = QXSC_HEADER_SIZE;
    EXPECT_EQ(le16(m, off), QXSC_OP_PRIMARY);
    EXPECT_EQ(le16(m, off + 2), 4u);
    EXPECT_EQ(le32(m, off + 8), 640u);
    EXPECT_EQ(le32(m, off + 12), 480u);
    EXPECT_EQ(le32(m, off + 16), 16u);
    EXPECT_EQ(le32(m, off + 20), 0u);  // stride defaults to "derive from width"
    off += 8 + 4 * 4;
    EXPECT_EQ(le16(m, off), QXSC_OP_FILL);
    EXPECT_EQ(le16(m, off + 2), static_cast<unsigned>(QXSC_DRAW_ARGC));
    const std::size_t a = off + 8;
    EXPECT_EQ(le32(m, a + 4 * QXSC_DRAW_ARG_X), 1u);
    EXPECT_EQ(le32(m, a + 4 * QXSC_DRAW_ARG_H), 4u);
    EXPECT_EQ(le32(m, a + 4 * QXSC_DRAW_ARG_COLOR), 0xFF102030u);
    EXPECT_EQ(le32(m, a + 4 * QXSC_DRAW_ARG_ROP), 0x40u);
    EXPECT_EQ(le32(m, a + 4 * QXSC_DRAW_ARG_CLIP_W), 7u);
    EXPECT_EQ(le32(m, a + 4 * QXSC_DRAW_ARG_SRC), QXSC_SRC_NONE);
}

TEST(ScenarioModule, NamesArePaddedToFourBytes) {
    auto r = compile("primary 8 8\ncheckpoint abcde\n", "t.scn");
    ASSERT_TRUE(r.ok());
    const std::size_t step = QXSC_HEADER_SIZE + 8 + 16;
    EXPECT_EQ(le16(r.module, step + 4), 5u);
    EXPECT_EQ(std::memcmp(r.module.data() + step + 8, "abcde\0\0\0", 8), 0);
    EXPECT_EQ(r.module.size(), step + 16);
}

TEST(ScenarioModule, CombinedRopsAndIrqMasksAreOred) {
    auto r = compile("primary 8 8\nfill 0,0,1,1 rop=put+invers_src\nexpect_irq e display|error\n", "t.scn");
    ASSERT_TRUE(r.ok());
    const std::size_t fill_args = QXSC_HEADER_SIZE + 8 + 16 + 8;
    EXPECT_EQ(le32(r.module, fill_args + 4 * QXSC_DRAW_ARG_ROP), 0x9u);
    const std::size_t irq_args = fill_args + 4 * QXSC_DRAW_ARGC + 8;
    EXPECT_EQ(le32(r.module, irq_args), 0x9u);
}

TEST(ScenarioModule, ChecksumIsStandardCrc32) {
    const std::uint8_t text[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    EXPECT_EQ(crc32(text, sizeof text), 0xCBF43926u);
}

TEST(ScenarioModule, RequiresAndAgentCommandsSetFlags) {
    auto a = compile("requires qxlbox\nprimary 8 8\n", "t.scn");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.flags, QXSC_FLAG_QXLBOX_ONLY);
    auto b = compile("primary 8 8\nagent_connect\n", "t.scn");
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b.flags, QXSC_FLAG_NEEDS_VDIPORT);
    EXPECT_EQ(le32(b.module, 16), QXSC_FLAG_NEEDS_VDIPORT);
    auto c = compile("requires qemu\nprimary 8 8\n", "t.scn");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(le32(c.module, 16), QXSC_FLAG_QEMU_ONLY);
}

TEST(ScenarioModule, HashStartsACommentUnlessItIsAColour) {
    auto r = compile("# heading\nprimary 8 8 # trailing\nfill 0,0,1,1 color=#00ff00 #note\n", "t.scn");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    EXPECT_EQ(r.step_count, 2u);
}

TEST(ScenarioModule, QuotedStringsKeepSpacesAndEscapes) {
    auto r = compile("primary 8 8\nlog \"a \\\"b\\\" c\"\n", "t.scn");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    const std::size_t step = QXSC_HEADER_SIZE + 8 + 16;
    EXPECT_EQ(le16(r.module, step + 4), 7u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.module.data()) + step + 8, 7), "a \"b\" c");
}

TEST(ScenarioModule, CheckNamesAreListedInOrder) {
    auto r = compile("primary 8 8\ncheck_pixel one 0,0 color=#000000\nexpect_releases two 0\n", "t.scn");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.check_names, (std::vector<std::string>{"one", "two"}));
}

// ---- every error path, with its position ----

struct ErrorCase {
    const char* source;
    const char* expected;  // "line:col: message"
};

class ScenarioErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ScenarioErrors, ReportsFileLineColumnAndMessage) {
    EXPECT_EQ(single_error(GetParam().source), std::string("t.scn:") + GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Compiler, ScenarioErrors,
    ::testing::Values(
        ErrorCase{"frobnicate 1\n", "1:1: unknown command 'frobnicate'"},
        ErrorCase{"primary 8 8\n  fill 0,0,1,1 colour=#000000\n", "2:16: unknown option 'colour' for 'fill'"},
        ErrorCase{"primary 8 8 8\n", "1:13: 'depth' must be one of: 32, 16 (got '8')"},
        ErrorCase{"primary 8 8 32 4\n", "1:16: too many arguments for 'primary'"},
        ErrorCase{"primary 8\n", "1:1: 'primary' needs 'height'"},
        ErrorCase{"primary 8 x\n", "1:11: 'height' expects an integer, got 'x'"},
        ErrorCase{"primary 0 8\n", "1:9: 'width' value 0 out of range [1, 8192]"},
        ErrorCase{"primary 8 8 depth=32 depth=16\n", "1:22: 'depth' given twice"},
        ErrorCase{"primary 8 8\nfill 0,0,1 color=#000000\n", "2:6: 'rect' expects x,y,w,h, got '0,0,1'"},
        ErrorCase{"primary 8 8\nfill 0,0,0,1\n", "2:6: 'rect' must have x,y >= 0 and w,h > 0"},
        ErrorCase{"primary 8 8\nfill 0,0,a,1\n", "2:6: 'rect' has a bad number 'a'"},
        ErrorCase{"primary 8 8\nfill 0,0,1,1 color=#12345\n", "2:20: bad colour '#12345' (use #rrggbb or #aarrggbb)"},
        ErrorCase{"primary 8 8\nfill 0,0,1,1 rop=put+nope\n", "2:18: unknown rop 'nope'"},
        ErrorCase{"primary 8 8\nfill 0,0,1,1 color=\"red\"\n", "2:20: 'color' does not take a quoted string"},
        ErrorCase{"fill 0,0,1,1\n", "1:1: 'fill' draws on the primary surface before 'primary'"},
        ErrorCase{"primary 8 8\ncopy 0,0,1,1\n", "2:1: 'copy' needs 'image' or 'from_surface'"},
        ErrorCase{"primary 8 8\ncopy 0,0,1,1 image=3\n", "2:20: image slot 3 is not defined yet"},
        ErrorCase{"primary 8 8\ncopy 0,0,1,1 image=99\n", "2:20: 'image' expects an image slot 0..15, got '99'"},
        ErrorCase{"primary 8 8\ncopy 0,0,1,1 from_surface=2\n", "2:27: surface 2 does not exist here"},
        ErrorCase{"primary 8 8\nfill 0,0,1,1 surface=x\n", "2:22: 'surface' expects a surface id 0..15, got 'x'"},
        ErrorCase{"primary 8 8\nimage 0 solid w=2 h=2\nsurface_create 1 w=4 h=4\n"
                  "copy 0,0,1,1 image=0 from_surface=1\n",
                  "4:1: give either 'image' or 'from_surface', not both"},
        ErrorCase{"primary 8 8\nimage 0 text w=8 h=8\n", "2:1: text images need text=\"...\""},
        ErrorCase{"primary 8 8\nimage 0 solid w=600 h=2\n", "2:17: 'w' value 600 out of range [1, 512]"},
        ErrorCase{"primary 8 8\nimage 0 plaid w=2 h=2\n",
                  "2:9: 'kind' must be one of: solid, gradient, checker, noise, text (got 'plaid')"},
        ErrorCase{"primary 8 8\nsurface_create 1 w=4 h=4\nsurface_create 1 w=4 h=4\n", "3:1: surface 1 already exists"},
        ErrorCase{"primary 8 8\nsurface_destroy 2\n", "2:1: surface 2 does not exist here"},
        ErrorCase{"primary 8 8\ncheck_pixel a 0,0 color=#000000\ncheck_pixel a 1,1 color=#000000\n",
                  "3:1: check name 'a' used twice"},
        ErrorCase{"primary 8 8\ncheckpoint bad/name\n",
                  "2:12: name 'bad/name' may only use letters, digits, '_', '-' and '.'"},
        ErrorCase{"primary 8 8\ncheckpoint \"\"\n", "2:12: name must be 1..63 characters"},
        ErrorCase{"primary 8 8\nlog unquoted\n", "2:5: 'message' expects a quoted string"},
        ErrorCase{"primary 8 8\nlog \"abc\n", "2:5: unterminated string"},
        ErrorCase{"primary 8 8\nlog \"a\\qb\"\n", "2:7: unknown escape \\q"},
        ErrorCase{"primary 8 8\nlog \"abc\"def\n", "2:10: text after a closing quote"},
        ErrorCase{"primary 8 8\nlog ab\"c\"\n", "2:7: unexpected quote inside a word"},
        ErrorCase{"primary 8 8\nfill =1\n", "2:6: missing option name before '='"},
        ErrorCase{"primary 8 8\nwait_irq display|bogus\n", "2:10: unknown interrupt 'bogus'"},
        ErrorCase{
            "primary 8 8\nfault melt\n",
            "2:7: 'kind' must be one of: bad_memslot, bad_surface, circular_chunks, stride_too_small, "
            "oversize_cursor, memslot_outside_bar, primary_bad_stride, double_async, guest_exception, bbox_outside "
            "(got 'melt')"},
        ErrorCase{"requires nothing\n", "1:10: usage: requires vdiport | requires qxlbox | requires qemu"},
        ErrorCase{"x=1\n", "1:1: a line must start with a command word"},
        ErrorCase{"requires qemu\nprimary 8 8\nagent_connect\n",
                  "1:1: 'requires qemu' contradicts a qxlbox-only command or 'requires'"},
        ErrorCase{"requires qxlbox\nrequires qemu\nprimary 8 8\n",
                  "2:1: 'requires qemu' contradicts a qxlbox-only command or 'requires'"},
        ErrorCase{"# only a comment\n", "1:1: scenario has no steps"}));

TEST(ScenarioErrors, KeepsGoingAfterTheFirstError) {
    auto r = compile("bogus\nprimary 8 8\nfill 0,0,1,1 color=nope\nalso_bogus\n", "t.scn");
    ASSERT_EQ(r.errors.size(), 3u);
    EXPECT_EQ(r.errors[0].line, 1);
    EXPECT_EQ(r.errors[1].line, 3);
    EXPECT_EQ(r.errors[2].line, 4);
    EXPECT_TRUE(r.module.empty());
}

TEST(ScenarioErrors, UnreadableFileIsAnError) {
    auto r = compile_file("/nonexistent/dir/none.scn");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].to_string(), "/nonexistent/dir/none.scn:0:0: cannot open file");
}

TEST(ScenarioErrors, OverlongStringIsRejected) {
    const std::string source = "primary 8 8\nlog \"" + std::string(256, 'a') + "\"\n";
    EXPECT_EQ(single_error(source), "t.scn:2:5: string longer than 255 bytes");
}

// ---- the scenario library ----

std::vector<std::string> library() {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(QXLBOX_SCENARIO_DIR)) {
        if (!entry.is_directory()) continue;
        const auto name = entry.path().filename().string();
        if (std::filesystem::exists(entry.path() / (name + ".scn"))) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

TEST(ScenarioLibrary, EveryScenarioCompiles) {
    const auto names = library();
    ASSERT_GE(names.size(), 10u);
    for (const auto& name : names) {
        const auto path = std::string(QXLBOX_SCENARIO_DIR) + "/" + name + "/" + name + ".scn";
        auto r = compile_file(path);
        EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
        EXPECT_FALSE(r.check_names.empty()) << name << " checks nothing";
    }
}

TEST(ScenarioLibrary, CoversEveryDrawType) {
    std::set<std::uint32_t> seen;
    for (const auto& name : library()) {
        auto r = compile_file(std::string(QXLBOX_SCENARIO_DIR) + "/" + name + "/" + name + ".scn");
        ASSERT_TRUE(r.ok());
        std::size_t off = QXSC_HEADER_SIZE;
        for (std::uint32_t i = 0; i < r.step_count; i++) {
            const auto op = le16(r.module, off);
            seen.insert(op);
            off += 8 + 4 * le16(r.module, off + 2) + ((le16(r.module, off + 4) + 3u) & ~3u);
        }
    }
    for (std::uint32_t op = QXSC_OP_FILL; op <= QXSC_OP_COMPOSITE; op++) EXPECT_TRUE(seen.count(op)) << "op " << op;
    for (std::uint32_t op : {QXSC_OP_SURFACE_CREATE, QXSC_OP_SURFACE_DESTROY, QXSC_OP_CURSOR_SET, QXSC_OP_CURSOR_MOVE,
                             QXSC_OP_CURSOR_HIDE, QXSC_OP_FAULT, QXSC_OP_MONITORS, QXSC_OP_WAIT_RELEASES})
        EXPECT_TRUE(seen.count(op)) << "op " << op;
}

}  // namespace
}  // namespace qxlbox::scenario
