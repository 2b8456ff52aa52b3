#include "app/emulator.h"

#include <atomic>
#include <charconv>
#include <vector>

#include "server/input_sink.h"

namespace qxlbox::app {

// Delivers the inputs channel to the board's i8042 (server mouse mode). Client mouse mode
// positions go through the agent, which the server handles itself.
class Emulator::InputBridge final : public server::InputSink {
public:
    explicit InputBridge(hw::I8042& kbc) : kbc_(kbc) {
        kbc_.set_led_handler([this](std::uint8_t leds) { leds_ = leds; });
    }
    void key_scancodes(std::span<const std::uint8_t> bytes) override {
        kbc_.inject_scancodes(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    }
    void key_modifiers(std::uint16_t modifiers) override {
        // As spice-server does: toggle each lock whose state differs by pressing its key.
        struct Lock {
            std::uint16_t bit;
            std::uint8_t scancode;
        };
        constexpr Lock locks[] = {{server::kModifierScrollLock, 0x46}, {server::kModifierNumLock, 0x45},
                                  {server::kModifierCapsLock, 0x3a}};
        const std::uint16_t current = leds_.load();
        std::vector<std::uint8_t> bytes;
        for (const Lock& l : locks) {
            if ((modifiers ^ current) & l.bit) {
                bytes.push_back(l.scancode);
                bytes.push_back(static_cast<std::uint8_t>(l.scancode | 0x80));
            }
        }
        if (!bytes.empty()) kbc_.inject_scancodes(bytes);
    }
    void mouse_motion(std::int32_t dx, std::int32_t dy, std::uint16_t buttons) override {
        kbc_.inject_mouse(dx, dy, 0, buttons & 7u);
    }
    void mouse_position(std::uint32_t, std::uint32_t, std::uint16_t, std::uint8_t) override {}
    void mouse_button(std::uint8_t button, bool pressed, std::uint16_t buttons) override {
        std::int32_t dz = 0;
        if (pressed && button == 4) dz = -1;  // wheel up
        if (pressed && button == 5) dz = 1;   // wheel down
        kbc_.inject_mouse(0, 0, dz, buttons & 7u);
    }
    std::uint16_t keyboard_leds() override { return leds_.load(); }

private:
    hw::I8042& kbc_;
    std::atomic<std::uint16_t> leds_{0};
};

std::unique_ptr<Emulator> Emulator::create(EmulatorOptions options, std::string& error) {
    if (!machine::Board::validate(options.board, error)) return nullptr;
    std::unique_ptr<Emulator> emu(new Emulator());
    emu->board_ = std::make_unique<machine::Board>(options.board);
    machine::Board& board = *emu->board_;

    auto qxl = std::make_unique<hw::qxl::QxlDevice>(board.scheduler(), options.qxl);
    if (options.board.trace.qxl) qxl->set_trace_file(options.board.trace_out);
    emu->qxl_ = qxl.get();
    if (!board.add_pci_device(2, std::move(qxl))) {
        error = "cannot plug the QXL device at 00:02.0";
        return nullptr;
    }
    if (options.vdiport) {
        auto vdi = std::make_unique<hw::vdiport::VdiPortDevice>(board.scheduler());
        emu->vdiport_ = vdi.get();
        if (!board.add_pci_device(5, std::move(vdi))) {
            error = "cannot plug the VDIPort device at 00:05.0";
            return nullptr;
        }
    }
    board.power_on();

    server::ServerConfig spice = options.spice;
    if (!options.spice_requested) {
        spice.addr = "127.0.0.1";
        spice.port = 0;
        spice.listen = options.builtin_client;
    }
    emu->server_ = server::SpiceServer::start(spice, &error);
    if (!emu->server_) return nullptr;
    emu->input_ = std::make_unique<InputBridge>(board.i8042());
    emu->server_->set_input_sink(emu->input_.get());
    board.i8042().enable_host_input();
    emu->qxl_->set_consumer(emu->server_.get());
    if (emu->vdiport_) emu->vdiport_->set_peer(emu->server_.get());
    return emu;
}

Emulator::~Emulator() {
    // The devices must stop talking to the server before it goes away.
    if (qxl_) qxl_->set_consumer(nullptr);
    if (vdiport_) vdiport_->set_peer(nullptr);
    if (server_) {
        server_->set_input_sink(nullptr);
        server_->stop();
    }
}

std::uint16_t Emulator::spice_port() const { return server_ ? server_->port() : 0; }

machine::RunResult Emulator::run() { return board_->run(); }

bool parse_spice_options(const std::string& text, server::ServerConfig& config, std::string& error) {
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t comma = text.find(',', pos);
        const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
        if (item.empty()) continue;
        const std::size_t eq = item.find('=');
        if (eq == std::string::npos) {
            error = "--spice: expected key=value, got '" + item + "'";
            return false;
        }
        const std::string key = item.substr(0, eq);
        const std::string value = item.substr(eq + 1);
        if (key == "port") {
            unsigned port = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
            if (ec != std::errc() || end != value.data() + value.size() || port > 65535) {
                error = "--spice: port must be a number from 0 to 65535, got '" + value + "'";
                return false;
            }
            config.port = static_cast<std::uint16_t>(port);
        } else if (key == "addr") {
            if (value.empty()) {
                error = "--spice: addr must not be empty";
                return false;
            }
            config.addr = value;
        } else if (key == "password") {
            config.password = value;
        } else if (key == "disable-ticketing") {
            if (value == "on" || value == "yes" || value == "true") {
                config.password.reset();
            } else if (value != "off" && value != "no" && value != "false") {
                error = "--spice: disable-ticketing takes on or off, got '" + value + "'";
                return false;
            }
        } else {
            error = "--spice: unknown key '" + key + "' (port, addr, password, disable-ticketing)";
            return false;
        }
    }
    return true;
}

}  // namespace qxlbox::app
