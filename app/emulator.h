// The whole emulator as `qxlbox run` and the demo use it: the board, the QXL display at
// 00:02.0, the VDIPort agent device at 00:05.0, and the SPICE server that consumes both.
//
// The server is always there, as libspice-server always is behind QEMU's qxl: it renders
// UPDATE_AREA for the guest even when no client is connected. Without `--spice` it listens
// only for the built-in client (an ephemeral loopback port); with neither it opens no socket.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "hw/qxl/qxl_config.h"
#include "hw/qxl/qxl_device.h"
#include "hw/vdiport/vdiport.h"
#include "machine/board/board.h"
#include "server/spice_server.h"

namespace qxlbox::app {

struct EmulatorOptions {
    machine::BoardConfig board;
    hw::qxl::QxlConfig qxl;
    bool vdiport = true;
    server::ServerConfig spice;
    bool spice_requested = false;  // --spice given: listen where asked and say so
    bool builtin_client = false;   // the in-process client will connect (needs a listener)
};

class Emulator {
public:
    // nullptr and `error` when the server cannot start or a device cannot be plugged.
    static std::unique_ptr<Emulator> create(EmulatorOptions options, std::string& error);
    ~Emulator();

    machine::Board& board() { return *board_; }
    hw::qxl::QxlDevice& qxl() { return *qxl_; }
    server::SpiceServer& server() { return *server_; }
    std::uint16_t spice_port() const;

    machine::RunResult run();
    void request_stop() { board_->request_stop(); }

    class InputBridge;

private:
    Emulator() = default;
    std::unique_ptr<machine::Board> board_;
    hw::qxl::QxlDevice* qxl_ = nullptr;
    hw::vdiport::VdiPortDevice* vdiport_ = nullptr;
    std::unique_ptr<server::SpiceServer> server_;
    std::unique_ptr<InputBridge> input_;
};

// Parses `--spice port=5900,addr=127.0.0.1` into `config`; false with a message.
bool parse_spice_options(const std::string& text, server::ServerConfig& config, std::string& error);

}  // namespace qxlbox::app
