// Scenario loops: `repeat N` ... `end` blocks, loop-counter expressions in integer, point and
// rectangle arguments, their module encoding (REPEAT/END/EXPR steps) and every loop error
// with its file:line:col position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

struct DecodedStep {
    std::uint32_t op = 0;
    std::vector<std::uint32_t> args;
    std::string text;
};

std::vector<DecodedStep> decode(const CompileResult& r) {
    std::vector<DecodedStep> steps;
    std::size_t off = QXSC_HEADER_SIZE;
    for (std::uint32_t i = 0; i < r.step_count; i++) {
        DecodedStep s;
        s.op = le16(r.module, off);
        const std::uint32_t argc = le16(r.module, off + 2), text_len = le16(r.module, off + 4);
        for (std::uint32_t k = 0; k < argc; k++) s.args.push_back(le32(r.module, off + 8 + 4 * k));
        s.text.assign(reinterpret_cast<const char*>(r.module.data() + off + 8 + 4 * argc), text_len);
        steps.push_back(std::move(s));
        off += 8 + 4 * argc + ((text_len + 3u) & ~3u);
    }
    return steps;
}

std::string k(std::int32_t v) {
    std::string s = "k";
    for (int b = 0; b < 4; b++) s += static_cast<char>((static_cast<std::uint32_t>(v) >> (8 * b)) & 0xFF);
    return s;
}
std::string var(int level) { return std::string("v") + static_cast<char>(level); }

TEST(ScenarioLoops, RepeatAndEndBecomeSteps) {
    auto r = compile("primary 8 8\nrepeat 3\nwait_ticks 2\nend\n", "t.scn");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    const auto steps = decode(r);
    ASSERT_EQ(steps.size(), 4u);
    EXPECT_EQ(steps[1].op, QXSC_OP_REPEAT);
    EXPECT_EQ(steps[1].args, (std::vector<std::uint32_t>{3}));
    EXPECT_FALSE(r.runs_forever);
    EXPECT_EQ(steps[2].op, QXSC_OP_WAIT_TICKS);
    EXPECT_EQ(steps[3].op, QXSC_OP_END);
}

TEST(ScenarioLoops, CounterExpressionPrecedesItsStepAsPostfixCode) {
    auto r = compile("primary 64 64\nrepeat 0\nfill $i*4+1,2,3,4 color=#ffffff\nend\n", "t.scn");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    const auto steps = decode(r);
    ASSERT_EQ(steps.size(), 5u);
    EXPECT_EQ(steps[1].args[0], 0u);  // forever
    EXPECT_TRUE(r.runs_forever);
    EXPECT_EQ(steps[2].op, QXSC_OP_EXPR);
    EXPECT_EQ(steps[2].args, (std::vector<std::uint32_t>{QXSC_DRAW_ARG_X, 0, 32767}));
    EXPECT_EQ(steps[2].text, var(0) + k(4) + "*" + k(1) + "+");
    EXPECT_EQ(steps[3].op, QXSC_OP_FILL);
    EXPECT_EQ(steps[3].args[QXSC_DRAW_ARG_Y], 2u);
}

TEST(ScenarioLoops, OuterCountersAndRangesFollowTheParameter) {
    auto r = compile("primary 64 64\nrepeat 2\nrepeat 2\ncursor_move $j-$i,-(($i))\nwait_ticks $j%3\nend\nend\n",
                     "t.scn");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    const auto steps = decode(r);
    ASSERT_EQ(steps.size(), 10u);
    EXPECT_EQ(steps[3].args, (std::vector<std::uint32_t>{0, static_cast<std::uint32_t>(-32768), 32767}));
    EXPECT_EQ(steps[3].text, var(1) + var(0) + "-");
    EXPECT_EQ(steps[4].args[0], 1u);
    EXPECT_EQ(steps[4].text, k(0) + var(0) + "-");
    EXPECT_EQ(steps[5].op, QXSC_OP_CURSOR_MOVE);
    EXPECT_EQ(steps[6].args, (std::vector<std::uint32_t>{0, 0, 60000}));
    EXPECT_EQ(steps[6].text, var(1) + k(3) + "%");
}

TEST(ScenarioLoops, ConstantExpressionsAreFoldedWithFlooredModulo) {
    auto r = compile("primary 64 64\nfill (2+3)*4,-7%4,10/3,-7/2+5 color=#ffffff\n", "t.scn");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    const auto steps = decode(r);
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_EQ(steps[1].args[QXSC_DRAW_ARG_X], 20u);
    EXPECT_EQ(steps[1].args[QXSC_DRAW_ARG_Y], 1u);  // floored: -7 mod 4 = 1
    EXPECT_EQ(steps[1].args[QXSC_DRAW_ARG_W], 3u);
    EXPECT_EQ(steps[1].args[QXSC_DRAW_ARG_H], 1u);  // floor(-3.5) = -4, + 5
}

struct LoopError {
    const char* source;
    const char* expected;  // "line:col: message"
};

class ScenarioLoopErrors : public ::testing::TestWithParam<LoopError> {};

TEST_P(ScenarioLoopErrors, ReportsFileLineColumnAndMessage) {
    auto r = compile(GetParam().source, "t.scn");
    ASSERT_EQ(r.errors.size(), 1u) << (r.errors.empty() ? "no error" : r.errors[1].to_string());
    EXPECT_TRUE(r.module.empty());
    EXPECT_EQ(r.errors[0].to_string(), std::string("t.scn:") + GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Compiler, ScenarioLoopErrors,
    ::testing::Values(
        LoopError{"primary 8 8\n  repeat 2\nwait_ticks 1\n", "2:3: 'repeat' is never closed by 'end'"},
        LoopError{"primary 8 8\nwait_ticks 1\n end\n", "3:2: 'end' without a matching 'repeat'"},
        LoopError{"primary 8 8\nrepeat 1\nrepeat 1\nrepeat 1\nrepeat 1\nrepeat 1\nwait_ticks 1\nend\nend\nend\nend\nend\n",
                  "6:1: 'repeat' nested deeper than 4 levels"},
        LoopError{"primary 8 8\nrepeat\nwait_ticks 1\nend\n", "2:1: usage: repeat N (N = 0 repeats forever)"},
        LoopError{"primary 8 8\nrepeat -1\nwait_ticks 1\nend\n",
                  "2:8: 'repeat' count must be 0..1000000 (0 = forever), got '-1'"},
        LoopError{"primary 8 8\nrepeat 2\nend\n", "3:1: empty 'repeat' body"},
        LoopError{"primary 8 8\nrepeat 2\nwait_ticks 1\nend now\n", "4:5: 'end' takes no arguments"},
        LoopError{"primary 8 8\nrepeat 2\ncheck_pixel a 0,0 color=#000000\nend\n",
                  "3:1: 'check_pixel' is not allowed inside 'repeat' (only draws, update, cursor, wait, log and "
                  "agent_mouse steps repeat; checks report once)"},
        LoopError{"primary 8 8\nrepeat 2\nsurface_create 1 w=4 h=4\nend\n",
                  "3:1: 'surface_create' is not allowed inside 'repeat' (only draws, update, cursor, wait, log and "
                  "agent_mouse steps repeat; checks report once)"},
        LoopError{"primary 8 8\nfill $i,0,1,1\n", "2:6: 'rect': '$i' needs 1 enclosing 'repeat' loop"},
        LoopError{"primary 8 8\nrepeat 2\nfill 0,$j,1,1\nend\n", "3:8: 'rect': '$j' needs 2 enclosing 'repeat' loops"},
        LoopError{"primary 8 8\nrepeat 2\nfill 0,0,1,$q\nend\n", "3:12: 'rect': loop counters are $i, $j, $k and $l"},
        LoopError{"primary 8 8\nrepeat 2\nfill 1+$i*,0,1,1\nend\n", "3:11: 'rect': expression ends early"},
        LoopError{"primary 8 8\nrepeat 2\nfill (1+$i,0,1,1\nend\n", "3:11: 'rect': missing ')'"},
        LoopError{"primary 8 8\nrepeat 2\nfill $i)1,0,1,1\nend\n", "3:8: 'rect': unexpected ')'"},
        LoopError{"primary 8 8\nrepeat 2\nfill $i+zz,0,1,1\nend\n", "3:9: 'rect': bad number 'zz'"},
        LoopError{"primary 8 8\nfill 4/(2-2),0,1,1\n", "2:6: 'rect': division by zero"},
        LoopError{"primary 8 8\nfill 0,0,1-1,1\n", "2:10: 'rect' value 0 out of range [1, 32767]"},
        LoopError{"primary 8 8\nrepeat 2\nwait_ticks 1+(1+(1+(1+(1+(1+(1+(1+$i)))))))\nend\n",
                  "3:12: 'ticks': expression too complex"}));

}  // namespace
}  // namespace qxlbox::scenario
