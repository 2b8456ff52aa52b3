#include "machine/scenario/scenario_compiler.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>

#include "machine/scenario/scenario_format.h"

namespace qxlbox::scenario {

namespace {

enum class Kind {
    Int,         // one slot; decimal, 0x hex or negative
    Color,       // one slot; #rrggbb, #aarrggbb or an integer
    Rect,        // four slots x,y,w,h
    Point,       // two slots x,y
    Enum,        // one slot; a name from the parameter's table
    IrqMask,     // one slot; interrupt names joined with '|'
    Name,        // the step's text: a check/checkpoint name
    Text,        // the step's text: a quoted string
    Surface,     // one slot; surface id (0 = primary) that must exist
    SrcSurface,  // one slot; source surface id, stored as QXSC_SRC_SURFACE | id
    Image,       // one slot; image slot that must be defined
};

struct EnumValue {
    const char* name = nullptr;
    std::uint32_t value = 0;
};

struct Param {
    const char* name = nullptr;
    Kind kind = Kind::Int;
    std::array<int, 4> slots{-1, -1, -1, -1};
    bool positional = false;
    bool required = false;
    std::vector<EnumValue> values{};
    std::int64_t min = INT32_MIN;
    std::int64_t max = UINT32_MAX;
    int present_slot = -1;  // set to 1 when the parameter is given (check_crc expect=)
};

struct Command {
    const char* word = nullptr;
    std::uint32_t op = 0;
    std::vector<std::uint32_t> defaults;  // one per argument slot
    std::vector<Param> params;
    bool needs_vdiport = false;
    bool needs_source = false;  // draws reading an image or a surface
};

constexpr std::uint32_t kNone = 0xFFFFFFFFu;

const std::vector<EnumValue> kRops = {
    {"put", 0x8},          {"or", 0x10},         {"and", 0x20},         {"xor", 0x40},
    {"blackness", 0x80},   {"whiteness", 0x100}, {"invers", 0x200},     {"invers_src", 0x1},
    {"invers_brush", 0x2}, {"invers_dest", 0x4}, {"invers_res", 0x400},
};
const std::vector<EnumValue> kCompositeOps = {
    {"clear", 0x00}, {"src", 0x01}, {"dst", 0x02}, {"over", 0x03},     {"in", 0x05},           {"out", 0x07},
    {"atop", 0x09},  {"xor", 0x0b}, {"add", 0x0c}, {"saturate", 0x0d}, {"over_reverse", 0x04},
};
const std::vector<EnumValue> kIrqs = {
    {"display", 0x01}, {"cursor", 0x02}, {"io_cmd", 0x04}, {"error", 0x08}, {"client", 0x10}, {"client_monitors", 0x20},
};
const std::vector<EnumValue> kYesNo = {{"yes", 1}, {"no", 0}};

Param rect_param(bool required = true) {
    return Param{
        "rect", Kind::Rect, {QXSC_DRAW_ARG_X, QXSC_DRAW_ARG_Y, QXSC_DRAW_ARG_W, QXSC_DRAW_ARG_H}, true, required};
}
Param clip_param() {
    return Param{
        "clip", Kind::Rect, {QXSC_DRAW_ARG_CLIP_X, QXSC_DRAW_ARG_CLIP_Y, QXSC_DRAW_ARG_CLIP_W, QXSC_DRAW_ARG_CLIP_H}};
}
Param surface_param(int slot = QXSC_DRAW_ARG_SURFACE) {
    return Param{"surface", Kind::Surface, {slot}};
}
Param image_param() {
    return Param{"image", Kind::Image, {QXSC_DRAW_ARG_SRC}};
}
Param from_surface_param() {
    return Param{"from_surface", Kind::SrcSurface, {QXSC_DRAW_ARG_SRC}};
}
Param srcpos_param(bool required = false) {
    return Param{"srcpos", Kind::Point, {QXSC_DRAW_ARG_SX, QXSC_DRAW_ARG_SY}, false, required};
}
Param color_param(const char* name = "color", int slot = QXSC_DRAW_ARG_COLOR, bool required = false) {
    return Param{name, Kind::Color, {slot}, false, required};
}
Param rop_param() {
    return Param{"rop", Kind::Enum, {QXSC_DRAW_ARG_ROP}, false, false, kRops};
}

std::vector<std::uint32_t> draw_defaults() {
    std::vector<std::uint32_t> d(QXSC_DRAW_ARGC, 0);
    d[QXSC_DRAW_ARG_SRC] = QXSC_SRC_NONE;
    d[QXSC_DRAW_ARG_ROP] = 0x8;
    d[QXSC_DRAW_ARG_COLOR2] = kNone;
    return d;
}

Command draw_command(const char* word, std::uint32_t op, std::vector<Param> extra, bool needs_source) {
    std::vector<Param> params{rect_param(), surface_param(), clip_param()};
    for (auto& p : extra) params.push_back(std::move(p));
    return Command{word, op, draw_defaults(), std::move(params), false, needs_source};
}

const std::vector<Command>& commands() {
    static const std::vector<Command> table = [] {
        std::vector<Command> t;
        t.push_back({"primary",
                     QXSC_OP_PRIMARY,
                     {0, 0, 32, 0},
                     {{"width", Kind::Int, {0}, true, true, {}, 1, 8192},
                      {"height", Kind::Int, {1}, true, true, {}, 1, 8192},
                      {"depth", Kind::Enum, {2}, true, false, {{"32", 32}, {"16", 16}}},
                      {"stride", Kind::Int, {3}, false, false, {}, -65536, 65536}}});
        t.push_back({"image",
                     QXSC_OP_IMAGE,
                     {0, 0, 0, 0, 0xFFFFFFFFu, 0xFF000000u, 0, 8},
                     {{"slot", Kind::Int, {0}, true, true, {}, 0, QXSC_MAX_IMAGES - 1},
                      {"kind",
                       Kind::Enum,
                       {1},
                       true,
                       true,
                       {{"solid", QXSC_IMAGE_SOLID},
                        {"gradient", QXSC_IMAGE_GRADIENT},
                        {"checker", QXSC_IMAGE_CHECKER},
                        {"noise", QXSC_IMAGE_NOISE},
                        {"text", QXSC_IMAGE_TEXT}}},
                      {"w", Kind::Int, {2}, false, true, {}, 1, 512},
                      {"h", Kind::Int, {3}, false, true, {}, 1, 512},
                      color_param("color", 4),
                      color_param("color2", 5),
                      {"seed", Kind::Int, {6}, false, false, {}, 0, UINT32_MAX},
                      {"cell", Kind::Int, {6}, false, false, {}, 1, 512},
                      {"format", Kind::Enum, {7}, false, false, {{"xrgb", 8}, {"argb", 9}}},
                      {"text", Kind::Text, {}}}});
        t.push_back(draw_command("fill", QXSC_OP_FILL, {color_param(), rop_param()}, false));
        t.push_back(draw_command("opaque", QXSC_OP_OPAQUE,
                                 {image_param(), from_surface_param(), srcpos_param(), color_param(), rop_param()},
                                 true));
        t.push_back(draw_command("copy", QXSC_OP_COPY,
                                 {image_param(), from_surface_param(), srcpos_param(), rop_param()}, true));
        t.push_back(draw_command("blend", QXSC_OP_BLEND,
                                 {image_param(), from_surface_param(), srcpos_param(), rop_param()}, true));
        t.push_back(draw_command(
            "transparent", QXSC_OP_TRANSPARENT,
            {image_param(), from_surface_param(), srcpos_param(), color_param("key", QXSC_DRAW_ARG_COLOR, true)},
            true));
        {
            Command c = draw_command("alpha", QXSC_OP_ALPHA,
                                     {image_param(),
                                      from_surface_param(),
                                      srcpos_param(),
                                      {"alpha", Kind::Int, {QXSC_DRAW_ARG_PARAM}, false, false, {}, 0, 255},
                                      {"flags", Kind::Int, {QXSC_DRAW_ARG_ROP}, false, false, {}, 0, 3}},
                                     true);
            c.defaults[QXSC_DRAW_ARG_PARAM] = 255;
            c.defaults[QXSC_DRAW_ARG_ROP] = 0;
            t.push_back(std::move(c));
        }
        {
            Command c = draw_command(
                "rop3", QXSC_OP_ROP3,
                {image_param(),
                 from_surface_param(),
                 srcpos_param(),
                 color_param(),
                 {"rop3", Kind::Int, {QXSC_DRAW_ARG_ROP}, false, false, {}, 0, 255},
                 {"brush", Kind::Enum, {QXSC_DRAW_ARG_COLOR2}, false, false, {{"solid", kNone}, {"none", 0}}}},
                true);
            c.defaults[QXSC_DRAW_ARG_ROP] = 0xCC;
            t.push_back(std::move(c));
        }
        t.push_back(draw_command("blackness", QXSC_OP_BLACKNESS, {}, false));
        t.push_back(draw_command("whiteness", QXSC_OP_WHITENESS, {}, false));
        t.push_back(draw_command("invers", QXSC_OP_INVERS, {}, false));
        t.push_back(draw_command("copybits", QXSC_OP_COPYBITS, {srcpos_param(true)}, false));
        {
            Command c{"stroke",
                      QXSC_OP_STROKE,
                      draw_defaults(),
                      {{"line",
                        Kind::Rect,
                        {QXSC_DRAW_ARG_X, QXSC_DRAW_ARG_Y, QXSC_DRAW_ARG_SX, QXSC_DRAW_ARG_SY},
                        true,
                        true},
                       surface_param(),
                       clip_param(),
                       color_param(),
                       {"width", Kind::Int, {QXSC_DRAW_ARG_PARAM}, false, false, {}, 0, 64},
                       rop_param()}};
            c.defaults[QXSC_DRAW_ARG_PARAM] = 1;
            t.push_back(std::move(c));
        }
        t.push_back({"text",
                     QXSC_OP_TEXT,
                     draw_defaults(),
                     {{"at", Kind::Point, {QXSC_DRAW_ARG_X, QXSC_DRAW_ARG_Y}, true, true},
                      {"string", Kind::Text, {}, true, true},
                      surface_param(),
                      clip_param(),
                      color_param(),
                      color_param("back", QXSC_DRAW_ARG_COLOR2)}});
        {
            Command c = draw_command("composite", QXSC_OP_COMPOSITE,
                                     {image_param(),
                                      from_surface_param(),
                                      srcpos_param(),
                                      {"op", Kind::Enum, {QXSC_DRAW_ARG_ROP}, false, false, kCompositeOps},
                                      {"filter", Kind::Int, {QXSC_DRAW_ARG_PARAM}, false, false, {}, 0, 0x7FF}},
                                     true);
            c.defaults[QXSC_DRAW_ARG_ROP] = 0x03;
            t.push_back(std::move(c));
        }
        t.push_back(
            {"surface_create",
             QXSC_OP_SURFACE_CREATE,
             {0, 0, 0, 0, 32},
             {{"id", Kind::Int, {0}, true, true, {}, 1, 15},
              {"w", Kind::Int, {1}, false, true, {}, 1, 2048},
              {"h", Kind::Int, {2}, false, true, {}, 1, 2048},
              {"stride", Kind::Int, {3}, false, false, {}, -65536, 65536},
              {"format", Kind::Enum, {4}, false, false, {{"xrgb", 32}, {"argb", 96}, {"r5g6b5", 80}, {"a8", 8}}}}});
        t.push_back({"surface_destroy", QXSC_OP_SURFACE_DESTROY, {0}, {{"id", Kind::Int, {0}, true, true, {}, 1, 15}}});
        t.push_back({"cursor_set",
                     QXSC_OP_CURSOR_SET,
                     {0, 32, 32, 0, 0, 0, 0},
                     {{"shape",
                       Kind::Enum,
                       {0},
                       true,
                       true,
                       {{"arrow", QXSC_CURSOR_ARROW}, {"box", QXSC_CURSOR_BOX}, {"cross", QXSC_CURSOR_CROSS}}},
                      {"w", Kind::Int, {1}, false, false, {}, 1, 256},
                      {"h", Kind::Int, {2}, false, false, {}, 1, 256},
                      {"hot", Kind::Point, {3, 4}},
                      {"at", Kind::Point, {5, 6}}}});
        t.push_back({"cursor_move", QXSC_OP_CURSOR_MOVE, {0, 0}, {{"at", Kind::Point, {0, 1}, true, true}}});
        t.push_back({"cursor_hide", QXSC_OP_CURSOR_HIDE, {}, {}});
        t.push_back({"update",
                     QXSC_OP_UPDATE,
                     {0, 0, 0, 0, 0, 0},
                     {{"rect", Kind::Rect, {1, 2, 3, 4}, true, true},
                      surface_param(0),
                      {"mode", Kind::Enum, {5}, false, false, {{"sync", 0}, {"async", 1}}}}});
        t.push_back({"check_pixel",
                     QXSC_OP_CHECK_PIXEL,
                     {0, 0, 0, 0},
                     {{"name", Kind::Name, {}, true, true},
                      {"at", Kind::Point, {1, 2}, true, true},
                      color_param("color", 3, true),
                      surface_param(0)}});
        t.push_back({"check_rect",
                     QXSC_OP_CHECK_RECT,
                     {0, 0, 0, 0, 0, 0},
                     {{"name", Kind::Name, {}, true, true},
                      {"rect", Kind::Rect, {1, 2, 3, 4}, true, true},
                      color_param("color", 5, true),
                      surface_param(0)}});
        t.push_back({"check_image",
                     QXSC_OP_CHECK_IMAGE,
                     {0, 0, 0, 0, 0, 0, 0, 0},
                     {{"name", Kind::Name, {}, true, true},
                      {"rect", Kind::Rect, {1, 2, 3, 4}, true, true},
                      {"image", Kind::Image, {5}, false, true},
                      {"srcpos", Kind::Point, {6, 7}},
                      surface_param(0)}});
        t.push_back({"check_crc",
                     QXSC_OP_CHECK_CRC,
                     {0, 0, 0, 0, 0, 0, 0},
                     {{"name", Kind::Name, {}, true, true},
                      {"rect", Kind::Rect, {1, 2, 3, 4}, true, true},
                      {"expect", Kind::Int, {5}, false, false, {}, 0, UINT32_MAX, 6},
                      surface_param(0)}});
        t.push_back({"wait_irq",
                     QXSC_OP_WAIT_IRQ,
                     {0, 1000},
                     {{"irq", Kind::IrqMask, {0}, true, true, kIrqs},
                      {"timeout", Kind::Int, {1}, false, false, {}, 1, 60000}}});
        t.push_back({"wait_releases",
                     QXSC_OP_WAIT_RELEASES,
                     {0, 2000},
                     {{"count", Kind::Int, {0}, true, true, {}, 0, 1000000},
                      {"timeout", Kind::Int, {1}, false, false, {}, 1, 60000}}});
        t.push_back({"wait_ticks", QXSC_OP_WAIT_TICKS, {0}, {{"ticks", Kind::Int, {0}, true, true, {}, 0, 60000}}});
        t.push_back({"expect_irq",
                     QXSC_OP_EXPECT_IRQ,
                     {0, 1},
                     {{"name", Kind::Name, {}, true, true},
                      {"irq", Kind::IrqMask, {0}, true, true, kIrqs},
                      {"seen", Kind::Enum, {1}, false, false, kYesNo}}});
        t.push_back({"expect_releases",
                     QXSC_OP_EXPECT_RELEASES,
                     {0},
                     {{"name", Kind::Name, {}, true, true}, {"min", Kind::Int, {0}, true, true, {}, 0, 1000000}}});
        t.push_back({"clear_irqs", QXSC_OP_CLEAR_IRQS, {}, {}});
        t.push_back({"checkpoint", QXSC_OP_CHECKPOINT, {}, {{"name", Kind::Name, {}, true, true}}});
        t.push_back({"fault",
                     QXSC_OP_FAULT,
                     {0},
                     {{"kind",
                       Kind::Enum,
                       {0},
                       true,
                       true,
                       {{"bad_memslot", QXSC_FAULT_BAD_MEMSLOT},
                        {"bad_surface", QXSC_FAULT_BAD_SURFACE},
                        {"circular_chunks", QXSC_FAULT_CIRCULAR_CHUNKS},
                        {"stride_too_small", QXSC_FAULT_STRIDE_TOO_SMALL},
                        {"oversize_cursor", QXSC_FAULT_OVERSIZE_CURSOR},
                        {"memslot_outside_bar", QXSC_FAULT_MEMSLOT_OUTSIDE_BAR},
                        {"primary_bad_stride", QXSC_FAULT_PRIMARY_BAD_STRIDE},
                        {"double_async", QXSC_FAULT_DOUBLE_ASYNC},
                        {"guest_exception", QXSC_FAULT_GUEST_EXCEPTION},
                        {"bbox_outside", QXSC_FAULT_BBOX_OUTSIDE}}}}});
        t.push_back({"reset", QXSC_OP_RESET, {}, {}});
        t.push_back({"monitors",
                     QXSC_OP_MONITORS,
                     {1, 0, 0},
                     {{"count", Kind::Int, {0}, true, true, {}, 1, 4},
                      {"w", Kind::Int, {1}, false, true, {}, 1, 8192},
                      {"h", Kind::Int, {2}, false, true, {}, 1, 8192}}});
        t.push_back({"notify_oom", QXSC_OP_NOTIFY_OOM, {}, {}});
        t.push_back({"flush_release", QXSC_OP_FLUSH_RELEASE, {}, {}});
        t.push_back({"flush_surfaces", QXSC_OP_FLUSH_SURFACES, {}, {}});
        t.push_back({"destroy_all", QXSC_OP_DESTROY_ALL, {}, {}});
        t.push_back({"log", QXSC_OP_LOG, {}, {{"message", Kind::Text, {}, true, true}}});
        t.push_back({"pool", QXSC_OP_POOL, {0}, {{"bytes", Kind::Int, {0}, true, true, {}, 0, UINT32_MAX}}});
        t.push_back({"expect_device",
                     QXSC_OP_EXPECT_DEVICE,
                     {0, 1},
                     {{"name", Kind::Name, {}, true, true},
                      {"device", Kind::Enum, {0}, true, true, {{"qxl", 0}, {"vdiport", 1}}},
                      {"present", Kind::Enum, {1}, false, false, kYesNo}}});
        t.push_back({"agent_connect", QXSC_OP_AGENT_CONNECT, {}, {}, true});
        t.push_back(
            {"agent_caps", QXSC_OP_AGENT_CAPS, {1}, {{"request", Kind::Enum, {0}, false, false, kYesNo}}, true});
        t.push_back({"agent_monitors",
                     QXSC_OP_AGENT_MONITORS,
                     {1, 0, 0},
                     {{"w", Kind::Int, {1}, false, true, {}, 1, 8192}, {"h", Kind::Int, {2}, false, true, {}, 1, 8192}},
                     true});
        t.push_back({"agent_mouse",
                     QXSC_OP_AGENT_MOUSE,
                     {0, 0, 0},
                     {{"at", Kind::Point, {0, 1}, true, true}, {"buttons", Kind::Int, {2}, false, false, {}, 0, 0xFF}},
                     true});
        const std::vector<EnumValue> clip_types = {{"utf8", 1}, {"png", 2}, {"bmp", 3}, {"tiff", 4}, {"jpg", 5}};
        t.push_back({"agent_clipboard_grab",
                     QXSC_OP_AGENT_CLIPBOARD_GRAB,
                     {1},
                     {{"type", Kind::Enum, {0}, false, false, clip_types}},
                     true});
        t.push_back({"agent_clipboard_data",
                     QXSC_OP_AGENT_CLIPBOARD_DATA,
                     {1},
                     {{"data", Kind::Text, {}, true, true}, {"type", Kind::Enum, {0}, false, false, clip_types}},
                     true});
        t.push_back({"agent_expect",
                     QXSC_OP_AGENT_EXPECT,
                     {0, 0},
                     {{"name", Kind::Name, {}, true, true},
                      {"counter",
                       Kind::Enum,
                       {0},
                       true,
                       true,
                       {{"messages", 0},
                        {"last_type", 1},
                        {"clipboard_requests", 2},
                        {"file_bytes", 3},
                        {"file_done", 4},
                        {"protocol_errors", 5}}},
                      {"value", Kind::Int, {1}, true, true, {}, 0, UINT32_MAX}},
                     true});
        return t;
    }();
    return table;
}

struct Token {
    std::string text;
    int column = 0;        // 1-based column of the token's first character
    int value_column = 0;  // column where the value starts (after key=)
    std::string key;       // empty for positional tokens
    bool quoted = false;   // the value was a quoted string
};

class Compiler {
public:
    Compiler(std::string_view source, std::string_view file) : source_(source), file_(file) {}

    CompileResult run() {
        int line_no = 0;
        std::size_t pos = 0;
        while (pos <= source_.size()) {
            std::size_t end = source_.find('\n', pos);
            if (end == std::string_view::npos) end = source_.size();
            line_no++;
            compile_line(source_.substr(pos, end - pos), line_no);
            if (end == source_.size()) break;
            pos = end + 1;
        }
        for (const auto& l : loops_) error(l.line, l.column, "'repeat' is never closed by 'end'");
        if (requires_qemu_line_ && (result_.flags & (QXSC_FLAG_NEEDS_VDIPORT | QXSC_FLAG_QXLBOX_ONLY)))
            error(requires_qemu_line_, 1, "'requires qemu' contradicts a qxlbox-only command or 'requires'");
        if (result_.errors.empty() && steps_.empty()) error(1, 1, "scenario has no steps");
        if (result_.errors.empty()) emit();
        return std::move(result_);
    }

private:
    void error(int line, int column, std::string message) {
        result_.errors.push_back(CompileError{std::string(file_), line, column, std::move(message)});
    }

    // Splits a line into tokens; returns false after reporting a lexical error.
    bool tokenize(std::string_view line, int line_no, std::vector<Token>& out) {
        std::size_t i = 0;
        while (i < line.size()) {
            char c = line[i];
            if (c == ' ' || c == '\t' || c == '\r') {
                i++;
                continue;
            }
            // '#' starts a comment unless it begins a colour such as #ff0000.
            if (c == '#' && !(i + 1 < line.size() && std::isxdigit(static_cast<unsigned char>(line[i + 1])))) break;
            Token tok;
            tok.column = static_cast<int>(i) + 1;
            tok.value_column = tok.column;
            std::string raw;
            bool in_string = false;
            std::size_t string_start = 0;
            while (i < line.size()) {
                c = line[i];
                if (!in_string && (c == ' ' || c == '\t' || c == '\r')) break;
                if (c == '"') {
                    if (!in_string) {
                        in_string = true;
                        string_start = i;
                        tok.quoted = true;
                        if (tok.key.empty() && !raw.empty() && raw.back() == '=') {
                            tok.key = raw.substr(0, raw.size() - 1);
                            raw.clear();
                            tok.value_column = static_cast<int>(i) + 1;
                        } else if (!raw.empty()) {
                            error(line_no, static_cast<int>(i) + 1, "unexpected quote inside a word");
                            return false;
                        }
                    } else {
                        in_string = false;
                        i++;
                        if (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
                            error(line_no, static_cast<int>(i) + 1, "text after a closing quote");
                            return false;
                        }
                        break;
                    }
                    i++;
                    continue;
                }
                if (in_string && c == '\\') {
                    if (i + 1 >= line.size()) break;
                    char e = line[i + 1];
                    if (e == 'n')
                        raw += '\n';
                    else if (e == '"' || e == '\\')
                        raw += e;
                    else {
                        error(line_no, static_cast<int>(i) + 1, std::string("unknown escape \\") + e);
                        return false;
                    }
                    i += 2;
                    continue;
                }
                raw += c;
                i++;
            }
            if (in_string) {
                error(line_no, static_cast<int>(string_start) + 1, "unterminated string");
                return false;
            }
            if (!tok.quoted) {
                std::size_t eq = raw.find('=');
                if (eq != std::string::npos) {
                    tok.key = raw.substr(0, eq);
                    tok.value_column = tok.column + static_cast<int>(eq) + 1;
                    raw = raw.substr(eq + 1);
                    if (tok.key.empty()) {
                        error(line_no, tok.column, "missing option name before '='");
                        return false;
                    }
                }
            }
            tok.text = std::move(raw);
            out.push_back(std::move(tok));
        }
        return true;
    }

    static std::optional<std::int64_t> parse_int(std::string_view s) {
        bool neg = false;
        if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
            neg = s[0] == '-';
            s.remove_prefix(1);
        }
        int base = 10;
        if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s.remove_prefix(2);
        }
        if (s.empty()) return std::nullopt;
        std::uint64_t v = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
        if (ec != std::errc() || ptr != s.data() + s.size() || v > 0xFFFFFFFFull) return std::nullopt;
        return neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    }

    static std::vector<std::string_view> split(std::string_view s, char sep) {
        std::vector<std::string_view> parts;
        std::size_t pos = 0;
        for (;;) {
            std::size_t e = s.find(sep, pos);
            parts.push_back(s.substr(pos, e == std::string_view::npos ? std::string_view::npos : e - pos));
            if (e == std::string_view::npos) break;
            pos = e + 1;
        }
        return parts;
    }

    // A value that is not a plain integer but uses loop counters, operators or parentheses.
    static bool looks_like_expression(std::string_view s) {
        if (parse_int(s)) return false;
        return s.find_first_of("$()+-*/%") != std::string_view::npos;
    }

    // Recursive-descent parser for loop expressions; emits postfix code (scenario_format.h).
    class ExprParser {
    public:
        ExprParser(std::string_view text, int loop_depth) : text_(text), loop_depth_(loop_depth) {}

        // Returns false with message()/offset() describing the first problem.
        bool parse() {
            if (!sum()) return false;
            if (pos_ != text_.size()) return fail("unexpected '" + std::string(1, text_[pos_]) + "'");
            return true;
        }
        const std::string& code() const { return code_; }
        bool uses_counter() const { return uses_counter_; }
        const std::string& message() const { return message_; }
        int offset() const { return static_cast<int>(error_pos_); }
        int max_stack() const { return max_stack_; }

        // Evaluates code without counters (constant folding); false on a zero divisor.
        static bool evaluate_constant(const std::string& code, std::int64_t& out) {
            std::vector<std::int32_t> st;
            for (std::size_t i = 0; i < code.size();) {
                const char op = code[i++];
                if (op == 'k') {
                    std::uint32_t v = 0;
                    for (int b = 0; b < 4; b++) v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(code[i + b])) << (8 * b);
                    i += 4;
                    st.push_back(static_cast<std::int32_t>(v));
                    continue;
                }
                const std::int32_t b = st.back();
                st.pop_back();
                const std::int32_t a = st.back();
                st.pop_back();
                const auto ua = static_cast<std::uint32_t>(a), ub = static_cast<std::uint32_t>(b);
                std::int32_t r = 0;
                switch (op) {
                    case '+': r = static_cast<std::int32_t>(ua + ub); break;
                    case '-': r = static_cast<std::int32_t>(ua - ub); break;
                    case '*': r = static_cast<std::int32_t>(ua * ub); break;
                    default: {
                        if (b == 0) return false;
                        std::int64_t q = static_cast<std::int64_t>(a) / b, m = static_cast<std::int64_t>(a) % b;
                        if (m != 0 && ((m < 0) != (b < 0))) q--, m += b;
                        r = static_cast<std::int32_t>(static_cast<std::uint32_t>(op == '/' ? q : m));
                        break;
                    }
                }
                st.push_back(r);
            }
            out = st.back();
            return true;
        }

    private:
        bool fail(std::string m) {
            if (message_.empty()) {
                message_ = std::move(m);
                error_pos_ = pos_;
            }
            return false;
        }
        void push(int n) {
            depth_ += n;
            max_stack_ = std::max(max_stack_, depth_);
        }
        bool sum() {
            if (!product()) return false;
            while (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
                const char op = text_[pos_++];
                if (!product()) return false;
                code_ += op;
                push(-1);
            }
            return true;
        }
        bool product() {
            if (!factor()) return false;
            while (pos_ < text_.size() && (text_[pos_] == '*' || text_[pos_] == '/' || text_[pos_] == '%')) {
                const char op = text_[pos_++];
                if (!factor()) return false;
                code_ += op;
                push(-1);
            }
            return true;
        }
        void constant(std::uint32_t v) {
            code_ += 'k';
            for (int b = 0; b < 4; b++) code_ += static_cast<char>((v >> (8 * b)) & 0xFF);
            push(1);
        }
        bool factor() {
            if (++nesting_ > 16) return fail("expression nested too deeply");
            const bool ok = factor_inner();
            nesting_--;
            return ok;
        }
        bool factor_inner() {
            if (pos_ >= text_.size()) return fail("expression ends early");
            const char c = text_[pos_];
            if (c == '-') {
                pos_++;
                constant(0);
                if (!factor()) return false;
                code_ += '-';
                push(-1);
                return true;
            }
            if (c == '(') {
                pos_++;
                if (!sum()) return false;
                if (pos_ >= text_.size() || text_[pos_] != ')') return fail("missing ')'");
                pos_++;
                return true;
            }
            if (c == '$') {
                static constexpr std::string_view kNames = "ijkl";
                const std::size_t level = pos_ + 1 < text_.size() ? kNames.find(text_[pos_ + 1]) : std::string_view::npos;
                if (level == std::string_view::npos) return fail("loop counters are $i, $j, $k and $l");
                if (static_cast<int>(level) >= loop_depth_) {
                    return fail("'$" + std::string(1, text_[pos_ + 1]) + "' needs " + std::to_string(level + 1) +
                                " enclosing 'repeat' loop" + (level ? "s" : ""));
                }
                pos_ += 2;
                code_ += 'v';
                code_ += static_cast<char>(level);
                push(1);
                uses_counter_ = true;
                return true;
            }
            std::size_t end = pos_;
            while (end < text_.size() && std::isalnum(static_cast<unsigned char>(text_[end]))) end++;
            if (end == pos_) return fail("expected a number, a loop counter or '('");
            auto v = parse_int(text_.substr(pos_, end - pos_));
            if (!v) return fail("bad number '" + std::string(text_.substr(pos_, end - pos_)) + "'");
            constant(static_cast<std::uint32_t>(*v));
            pos_ = end;
            return true;
        }

        std::string_view text_;
        int loop_depth_ = 0;
        std::size_t pos_ = 0;
        std::size_t error_pos_ = 0;
        std::string code_;
        std::string message_;
        bool uses_counter_ = false;
        int depth_ = 0;
        int max_stack_ = 0;
        int nesting_ = 0;
    };

    // Parses `s` (one argument, or one component of a point/rect) as an expression. A constant
    // expression is folded into args[slot]; one using loop counters becomes an EXPR step that
    // the guest evaluates before each run of the step, with the same [lo, hi] bounds.
    bool value_or_expression(std::string_view s, const char* name, int slot, std::int64_t lo, std::int64_t hi, int line,
                             int col, std::vector<std::uint32_t>& args) {
        ExprParser parser(s, static_cast<int>(loops_.size()));
        if (!parser.parse()) {
            error(line, col + parser.offset(), std::string("'") + name + "': " + parser.message());
            return false;
        }
        if (parser.max_stack() > QXSC_EXPR_STACK) {
            error(line, col, std::string("'") + name + "': expression too complex");
            return false;
        }
        if (!parser.uses_counter()) {
            std::int64_t v = 0;
            if (!ExprParser::evaluate_constant(parser.code(), v)) {
                error(line, col, std::string("'") + name + "': division by zero");
                return false;
            }
            if (v < lo || v > hi) {
                std::ostringstream m;
                m << "'" << name << "' value " << v << " out of range [" << lo << ", " << hi << "]";
                error(line, col, m.str());
                return false;
            }
            args[slot] = static_cast<std::uint32_t>(v);
            return true;
        }
        if (parser.code().size() > QXSC_MAX_TEXT) {
            error(line, col, std::string("'") + name + "': expression too long");
            return false;
        }
        if (expressions_.size() >= QXSC_EXPR_MAX_PER_STEP) {
            error(line, col, "too many expressions in one step");
            return false;
        }
        const auto clamp32 = [](std::int64_t v) {
            return static_cast<std::uint32_t>(static_cast<std::int32_t>(std::clamp<std::int64_t>(v, INT32_MIN, INT32_MAX)));
        };
        expressions_.push_back(Step{QXSC_OP_EXPR, {static_cast<std::uint32_t>(slot), clamp32(lo), clamp32(hi)}, parser.code()});
        args[slot] = 0;
        return true;
    }

    // Parses one parameter value into args/text; reports and returns false on error.
    bool parse_value(const Command& cmd, const Param& p, const Token& tok, int line, std::vector<std::uint32_t>& args,
                     std::string& text) {
        const int col = tok.value_column;
        auto want_unquoted = [&]() {
            if (tok.quoted) {
                error(line, col, std::string("'") + p.name + "' does not take a quoted string");
                return false;
            }
            return true;
        };
        auto int_in_range = [&](std::string_view s, std::int64_t& out) {
            auto v = parse_int(s);
            if (!v) {
                error(line, col, std::string("'") + p.name + "' expects an integer, got '" + std::string(s) + "'");
                return false;
            }
            if (*v < p.min || *v > p.max) {
                std::ostringstream m;
                m << "'" << p.name << "' value " << *v << " out of range [" << p.min << ", " << p.max << "]";
                error(line, col, m.str());
                return false;
            }
            out = *v;
            return true;
        };
        switch (p.kind) {
            case Kind::Int: {
                if (!want_unquoted()) return false;
                if (looks_like_expression(tok.text)) {
                    if (!value_or_expression(tok.text, p.name, p.slots[0], p.min, p.max, line, col, args)) return false;
                    if (p.present_slot >= 0) args[p.present_slot] = 1;
                    return true;
                }
                std::int64_t v;
                if (!int_in_range(tok.text, v)) return false;
                args[p.slots[0]] = static_cast<std::uint32_t>(v);
                if (p.present_slot >= 0) args[p.present_slot] = 1;
                return true;
            }
            case Kind::Surface:
            case Kind::SrcSurface: {
                if (!want_unquoted()) return false;
                auto v = parse_int(tok.text);
                if (!v || *v < 0 || *v > 15) {
                    error(line, col,
                          std::string("'") + p.name + "' expects a surface id 0..15, got '" + tok.text + "'");
                    return false;
                }
                const bool exists = *v == 0 ? has_primary_ : live_surfaces_.count(static_cast<std::uint32_t>(*v)) > 0;
                if (!exists) {
                    error(line, col, "surface " + tok.text + " does not exist here");
                    return false;
                }
                args[p.slots[0]] =
                    static_cast<std::uint32_t>(*v) | (p.kind == Kind::SrcSurface ? QXSC_SRC_SURFACE : 0u);
                return true;
            }
            case Kind::Image: {
                if (!want_unquoted()) return false;
                auto v = parse_int(tok.text);
                if (!v || *v < 0 || *v >= QXSC_MAX_IMAGES) {
                    error(line, col, "'image' expects an image slot 0..15, got '" + tok.text + "'");
                    return false;
                }
                if (!images_.count(static_cast<std::uint32_t>(*v))) {
                    error(line, col, "image slot " + tok.text + " is not defined yet");
                    return false;
                }
                args[p.slots[0]] = static_cast<std::uint32_t>(*v);
                return true;
            }
            case Kind::Color: {
                if (!want_unquoted()) return false;
                const std::string& s = tok.text;
                if (!s.empty() && s[0] == '#') {
                    auto hex = std::string_view(s).substr(1);
                    std::uint32_t v = 0;
                    auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), v, 16);
                    if ((hex.size() != 6 && hex.size() != 8) || ec != std::errc() || ptr != hex.data() + hex.size()) {
                        error(line, col, "bad colour '" + s + "' (use #rrggbb or #aarrggbb)");
                        return false;
                    }
                    args[p.slots[0]] = hex.size() == 6 ? (v | 0xFF000000u) : v;
                    return true;
                }
                std::int64_t v;
                if (!int_in_range(s, v)) return false;
                args[p.slots[0]] = static_cast<std::uint32_t>(v);
                return true;
            }
            case Kind::Rect:
            case Kind::Point: {
                if (!want_unquoted()) return false;
                const std::size_t n = p.kind == Kind::Rect ? 4 : 2;
                auto parts = split(tok.text, ',');
                if (parts.size() != n) {
                    error(line, col,
                          std::string("'") + p.name + "' expects " + (n == 4 ? "x,y,w,h" : "x,y") + ", got '" +
                              tok.text + "'");
                    return false;
                }
                // Rectangles are x,y,w,h and must be non-empty and start inside the first quadrant;
                // the stroke 'line' parameter reuses the Rect kind for two end points. A component
                // given as a loop expression is checked against the same bounds when it runs.
                const bool is_box = p.kind == Kind::Rect && std::string_view(p.name) != "line";
                bool constant_bad = false;
                int part_col = col;
                for (std::size_t k = 0; k < n; k++) {
                    const std::int64_t lo = is_box ? (k < 2 ? 0 : 1) : -32768;
                    if (looks_like_expression(parts[k])) {
                        if (!value_or_expression(parts[k], p.name, p.slots[k], lo, 32767, line, part_col, args))
                            return false;
                    } else {
                        auto v = parse_int(parts[k]);
                        if (!v || *v < -32768 || *v > 32767) {
                            error(line, col,
                                  std::string("'") + p.name + "' has a bad number '" + std::string(parts[k]) + "'");
                            return false;
                        }
                        args[p.slots[k]] = static_cast<std::uint32_t>(*v);
                        if (*v < lo) constant_bad = true;
                    }
                    part_col += static_cast<int>(parts[k].size()) + 1;
                }
                if (is_box && constant_bad) {
                    error(line, col, std::string("'") + p.name + "' must have x,y >= 0 and w,h > 0");
                    return false;
                }
                return true;
            }
            case Kind::Enum: {
                if (!want_unquoted()) return false;
                for (const auto& e : p.values) {
                    if (tok.text == e.name) {
                        args[p.slots[0]] = e.value;
                        return true;
                    }
                }
                // ROP descriptors combine with '+' (e.g. put+invers_src).
                if (std::string_view(p.name) == "rop" && tok.text.find('+') != std::string::npos) {
                    std::uint32_t v = 0;
                    for (auto part : split(tok.text, '+')) {
                        bool found = false;
                        for (const auto& e : p.values)
                            if (part == e.name) v |= e.value, found = true;
                        if (!found) {
                            error(line, col, "unknown rop '" + std::string(part) + "'");
                            return false;
                        }
                    }
                    args[p.slots[0]] = v;
                    return true;
                }
                std::string names;
                for (const auto& e : p.values) names += (names.empty() ? "" : ", ") + std::string(e.name);
                error(line, col,
                      std::string("'") + p.name + "' must be one of: " + names + " (got '" + tok.text + "')");
                return false;
            }
            case Kind::IrqMask: {
                if (!want_unquoted()) return false;
                std::uint32_t mask = 0;
                for (auto part : split(tok.text, '|')) {
                    bool found = false;
                    for (const auto& e : p.values)
                        if (part == e.name) mask |= e.value, found = true;
                    if (!found) {
                        error(line, col, "unknown interrupt '" + std::string(part) + "'");
                        return false;
                    }
                }
                args[p.slots[0]] = mask;
                return true;
            }
            case Kind::Name: {
                if (tok.text.empty() || tok.text.size() > 63) {
                    error(line, col, "name must be 1..63 characters");
                    return false;
                }
                for (char ch : tok.text) {
                    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.')) {
                        error(line, col, "name '" + tok.text + "' may only use letters, digits, '_', '-' and '.'");
                        return false;
                    }
                }
                text = tok.text;
                return true;
            }
            case Kind::Text: {
                if (!tok.quoted) {
                    error(line, col, std::string("'") + p.name + "' expects a quoted string");
                    return false;
                }
                if (tok.text.size() > QXSC_MAX_TEXT) {
                    error(line, col, "string longer than 255 bytes");
                    return false;
                }
                text = tok.text;
                return true;
            }
        }
        (void)cmd;
        return false;
    }

    void compile_line(std::string_view line, int line_no) {
        std::vector<Token> tokens;
        if (!tokenize(line, line_no, tokens) || tokens.empty()) return;
        const Token& head = tokens[0];
        if (!head.key.empty() || head.quoted) {
            error(line_no, head.column, "a line must start with a command word");
            return;
        }
        if (head.text == "requires") {
            const bool one_word = tokens.size() == 2 && tokens[1].key.empty() && !tokens[1].quoted;
            if (one_word && tokens[1].text == "vdiport") {
                result_.flags |= QXSC_FLAG_NEEDS_VDIPORT;
            } else if (one_word && tokens[1].text == "qxlbox") {
                result_.flags |= QXSC_FLAG_QXLBOX_ONLY;
            } else if (one_word && tokens[1].text == "qemu") {
                result_.flags |= QXSC_FLAG_QEMU_ONLY;
                requires_qemu_line_ = line_no;
            } else {
                error(line_no, tokens.size() > 1 ? tokens[1].column : head.column,
                      "usage: requires vdiport | requires qxlbox | requires qemu");
            }
            return;
        }
        if (head.text == "end") {
            if (tokens.size() != 1) error(line_no, tokens[1].column, "'end' takes no arguments");
            if (loops_.empty()) {
                error(line_no, head.column, "'end' without a matching 'repeat'");
                return;
            }
            if (loops_.back().body_lines == 0) error(line_no, head.column, "empty 'repeat' body");
            loops_.pop_back();
            steps_.push_back(Step{QXSC_OP_END, {}, {}});
            return;
        }
        // Every other line, even a wrong one, is part of the enclosing loop body.
        if (!loops_.empty()) loops_.back().body_lines++;
        if (head.text == "repeat") {
            // A wrong 'repeat' still opens a loop, so that its 'end' matches and only one error shows.
            std::uint32_t count = 0;
            if (tokens.size() != 2 || !tokens[1].key.empty() || tokens[1].quoted) {
                error(line_no, tokens.size() > 1 ? tokens[1].column : head.column,
                      "usage: repeat N (N = 0 repeats forever)");
            } else if (auto n = parse_int(tokens[1].text); !n || *n < 0 || *n > 1000000) {
                error(line_no, tokens[1].column,
                      "'repeat' count must be 0..1000000 (0 = forever), got '" + tokens[1].text + "'");
            } else {
                count = static_cast<std::uint32_t>(*n);
                if (count == 0) result_.runs_forever = true;
            }
            if (loops_.size() >= QXSC_MAX_LOOP_DEPTH)
                error(line_no, head.column,
                      "'repeat' nested deeper than " + std::to_string(QXSC_MAX_LOOP_DEPTH) + " levels");
            loops_.push_back(LoopStart{line_no, head.column});
            steps_.push_back(Step{QXSC_OP_REPEAT, {count}, {}});
            return;
        }
        const Command* cmd = nullptr;
        for (const auto& c : commands())
            if (head.text == c.word) cmd = &c;
        if (!cmd) {
            error(line_no, head.column, "unknown command '" + head.text + "'");
            return;
        }
        if (!loops_.empty() && !allowed_in_loop(cmd->op)) {
            error(line_no, head.column,
                  "'" + head.text + "' is not allowed inside 'repeat' (only draws, update, cursor, wait, log and "
                  "agent_mouse steps repeat; checks report once)");
            return;
        }
        expressions_.clear();
        std::vector<std::uint32_t> args = cmd->defaults;
        std::string text;
        std::set<std::string> given;
        std::size_t next_positional = 0;
        std::vector<const Param*> positional;
        for (const auto& p : cmd->params)
            if (p.positional) positional.push_back(&p);
        bool ok = true;
        for (std::size_t i = 1; i < tokens.size(); i++) {
            const Token& tok = tokens[i];
            const Param* p = nullptr;
            if (tok.key.empty()) {
                while (next_positional < positional.size() && given.count(positional[next_positional]->name))
                    next_positional++;
                if (next_positional >= positional.size()) {
                    error(line_no, tok.column, "too many arguments for '" + head.text + "'");
                    ok = false;
                    break;
                }
                p = positional[next_positional++];
            } else {
                for (const auto& cand : cmd->params)
                    if (tok.key == cand.name) p = &cand;
                if (!p) {
                    error(line_no, tok.column, "unknown option '" + tok.key + "' for '" + head.text + "'");
                    ok = false;
                    continue;
                }
            }
            if (given.count(p->name)) {
                error(line_no, tok.column, std::string("'") + p->name + "' given twice");
                ok = false;
                continue;
            }
            given.insert(p->name);
            if (!parse_value(*cmd, *p, tok, line_no, args, text)) ok = false;
        }
        if (!ok) return;
        for (const auto& p : cmd->params) {
            if (p.required && !given.count(p.name)) {
                error(line_no, head.column, "'" + head.text + "' needs '" + p.name + "'");
                ok = false;
            }
        }
        if (!ok) return;
        if (!semantic_checks(*cmd, args, text, given, line_no, head.column)) return;
        if (cmd->needs_vdiport) result_.flags |= QXSC_FLAG_NEEDS_VDIPORT;
        for (auto& e : expressions_) steps_.push_back(std::move(e));
        expressions_.clear();
        steps_.push_back(Step{cmd->op, std::move(args), std::move(text)});
    }

    // Steps that may repeat: they neither create state the compiler tracks (surfaces, images,
    // the primary) nor report a named result, so every iteration is as valid as the first.
    static bool allowed_in_loop(std::uint32_t op) {
        if (op >= QXSC_OP_FILL && op <= QXSC_OP_COMPOSITE) return true;
        switch (op) {
            case QXSC_OP_CURSOR_SET:
            case QXSC_OP_CURSOR_MOVE:
            case QXSC_OP_CURSOR_HIDE:
            case QXSC_OP_UPDATE:
            case QXSC_OP_WAIT_IRQ:
            case QXSC_OP_WAIT_RELEASES:
            case QXSC_OP_WAIT_TICKS:
            case QXSC_OP_CLEAR_IRQS:
            case QXSC_OP_NOTIFY_OOM:
            case QXSC_OP_FLUSH_RELEASE:
            case QXSC_OP_LOG:
            case QXSC_OP_AGENT_MOUSE:
                return true;
            default:
                return false;
        }
    }

    bool semantic_checks(const Command& cmd, const std::vector<std::uint32_t>& args, const std::string& text,
                         const std::set<std::string>& given, int line, int col) {
        const bool is_draw = cmd.op >= QXSC_OP_FILL && cmd.op <= QXSC_OP_COMPOSITE;
        if (is_draw && !given.count("surface") && !has_primary_) {
            error(line, col, "'" + std::string(cmd.word) + "' draws on the primary surface before 'primary'");
            return false;
        }
        if (cmd.needs_source && args[QXSC_DRAW_ARG_SRC] == QXSC_SRC_NONE) {
            error(line, col, "'" + std::string(cmd.word) + "' needs 'image' or 'from_surface'");
            return false;
        }
        if (cmd.needs_source && given.count("image") && given.count("from_surface")) {
            error(line, col, "give either 'image' or 'from_surface', not both");
            return false;
        }
        switch (cmd.op) {
            case QXSC_OP_PRIMARY:
                has_primary_ = true;
                break;
            case QXSC_OP_IMAGE:
                if (args[1] == QXSC_IMAGE_TEXT && text.empty()) {
                    error(line, col, "text images need text=\"...\"");
                    return false;
                }
                images_.insert(args[0]);
                break;
            case QXSC_OP_SURFACE_CREATE:
                if (live_surfaces_.count(args[0])) {
                    error(line, col, "surface " + std::to_string(args[0]) + " already exists");
                    return false;
                }
                live_surfaces_.insert(args[0]);
                break;
            case QXSC_OP_SURFACE_DESTROY:
                if (!live_surfaces_.erase(args[0])) {
                    error(line, col, "surface " + std::to_string(args[0]) + " does not exist here");
                    return false;
                }
                break;
            case QXSC_OP_DESTROY_ALL:
                live_surfaces_.clear();
                has_primary_ = false;
                break;
            case QXSC_OP_CHECK_PIXEL:
            case QXSC_OP_CHECK_RECT:
            case QXSC_OP_CHECK_IMAGE:
            case QXSC_OP_CHECK_CRC:
            case QXSC_OP_EXPECT_IRQ:
            case QXSC_OP_EXPECT_RELEASES:
            case QXSC_OP_EXPECT_DEVICE:
            case QXSC_OP_AGENT_EXPECT:
                if (check_names_.count(text)) {
                    error(line, col, "check name '" + text + "' used twice");
                    return false;
                }
                check_names_.insert(text);
                result_.check_names.push_back(text);
                break;
            default:
                break;
        }
        return true;
    }

    static void put16(std::vector<std::uint8_t>& out, std::uint32_t v) {
        out.push_back(static_cast<std::uint8_t>(v));
        out.push_back(static_cast<std::uint8_t>(v >> 8));
    }
    static void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
        put16(out, v & 0xFFFF);
        put16(out, v >> 16);
    }

    void emit() {
        std::vector<std::uint8_t> body;
        for (const auto& s : steps_) {
            put16(body, s.op);
            put16(body, static_cast<std::uint32_t>(s.args.size()));
            put16(body, static_cast<std::uint32_t>(s.text.size()));
            put16(body, 0);
            for (auto a : s.args) put32(body, a);
            body.insert(body.end(), s.text.begin(), s.text.end());
            while (body.size() % 4) body.push_back(0);
        }
        const std::size_t total = QXSC_HEADER_SIZE + body.size();
        if (total > QXSC_MAX_MODULE_BYTES) {
            error(0, 0, "module larger than 1 MiB");
            return;
        }
        std::vector<std::uint8_t> out;
        put32(out, QXSC_MAGIC);
        put16(out, QXSC_VERSION);
        put16(out, QXSC_HEADER_SIZE);
        put32(out, static_cast<std::uint32_t>(total));
        put32(out, static_cast<std::uint32_t>(steps_.size()));
        put32(out, result_.flags);
        put32(out, crc32(body.data(), body.size()));
        out.insert(out.end(), body.begin(), body.end());
        result_.module = std::move(out);
        result_.step_count = static_cast<std::uint32_t>(steps_.size());
    }

    struct Step {
        std::uint32_t op = 0;
        std::vector<std::uint32_t> args;
        std::string text;
    };

    std::string_view source_;
    std::string_view file_;
    CompileResult result_;
    std::vector<Step> steps_;
    bool has_primary_ = false;
    std::set<std::uint32_t> images_;
    std::set<std::uint32_t> live_surfaces_;
    std::set<std::string> check_names_;
    struct LoopStart {
        int line = 0;
        int column = 0;
        int body_lines = 0;  // command lines seen inside, so far
    };
    std::vector<LoopStart> loops_;      // open 'repeat' lines, innermost last
    std::vector<Step> expressions_;     // EXPR steps of the line being compiled
    int requires_qemu_line_ = 0;        // line of `requires qemu`, 0 if none
};

}  // namespace

std::string CompileError::to_string() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

CompileResult compile(std::string_view source, std::string_view file_name) {
    return Compiler(source, file_name).run();
}

CompileResult compile_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        CompileResult r;
        r.errors.push_back(CompileError{path, 0, 0, "cannot open file"});
        return r;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.size() > (4u << 20)) {
        CompileResult r;
        r.errors.push_back(CompileError{path, 0, 0, "file larger than 4 MiB"});
        return r;
    }
    return compile(text, path);
}

}  // namespace qxlbox::scenario
