#include "client/session.h"

#include <poll.h>

#include <cstdio>

#include "client/channels.h"
#include "client/display_channel.h"

namespace qxlbox::client {

Session::Session(SessionOptions options, SessionObserver* observer)
    : options_(std::move(options)), observer_(observer ? observer : &default_observer_) {
    if (!options_.log) {
        options_.log = [](const std::string& line) { std::fprintf(stderr, "qxlbox view: %s\n", line.c_str()); };
    }
}

Session::~Session() = default;

void Session::log(const std::string& line) { options_.log(line); }

void Session::close(const std::string& why) {
    if (error_.empty()) error_ = why.empty() ? "closed" : why;
    inputs_.reset();
    cursor_.reset();
    display_.reset();
    main_.reset();
}

std::vector<Channel*> Session::channels() {
    std::vector<Channel*> out;
    for (Channel* c : {static_cast<Channel*>(main_.get()), static_cast<Channel*>(display_.get()),
                       static_cast<Channel*>(cursor_.get()), static_cast<Channel*>(inputs_.get())}) {
        if (c) out.push_back(c);
    }
    return out;
}

std::uint64_t Session::received_serial(std::uint8_t type, std::uint8_t id) {
    for (Channel* c : channels()) {
        if (static_cast<std::uint8_t>(c->type()) == type && c->id() == id) return c->received_serial();
    }
    return 0;
}

std::unique_ptr<Socket> Session::open_socket(ChannelType type, std::uint8_t id, std::string& error) {
    if (open_override_) {
        auto s = open_override_(static_cast<std::uint8_t>(type), id);
        if (!s) error = std::string("cannot open the ") + wire::channel_type_name(type) + " channel";
        return s;
    }
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.link_timeout_ms);
    return Socket::connect(options_.endpoint, deadline, error);
}

std::unique_ptr<Socket> Session::open_linked(ChannelType type, std::uint8_t id, LinkResult& result,
                                             std::string& error) {
    auto socket = open_socket(type, id, error);
    if (!socket) return nullptr;
    LinkRequest request;
    request.connection_id = type == ChannelType::Main ? 0 : session_id_;
    request.channel_type = type;
    request.channel_id = id;
    request.password = options_.password;
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.link_timeout_ms);
    if (!link_channel(*socket, request, deadline, result, error)) {
        error = std::string(wire::channel_type_name(type)) + " channel: " + error;
        return nullptr;
    }
    return socket;
}

bool Session::connect() { return connect_with(nullptr); }

bool Session::connect_with(std::function<std::unique_ptr<Socket>(std::uint8_t, std::uint8_t)> open_channel) {
    open_override_ = std::move(open_channel);
    LinkResult result;
    std::string why;
    auto socket = open_linked(ChannelType::Main, 0, result, why);
    if (!socket) {
        close(why);
        return false;
    }
    main_ = std::make_unique<MainChannel>(std::move(socket), result.mini_header, *this);
    main_->receive(result.leftover);
    if (main_->failed()) close(main_->error());
    return !ended();
}

void Session::on_main_init(std::uint32_t session_id, std::uint32_t supported_modes, std::uint32_t current_mode) {
    session_id_ = session_id;
    on_mouse_mode(supported_modes, current_mode);
}

void Session::on_mouse_mode(std::uint32_t supported_modes, std::uint32_t current_mode) {
    supported_mouse_modes_ = supported_modes;
    mouse_mode_ = current_mode == static_cast<std::uint32_t>(MouseMode::Client) ? MouseMode::Client : MouseMode::Server;
    if (options_.prefer_client_mouse && mouse_mode_ == MouseMode::Server &&
        (supported_modes & static_cast<std::uint32_t>(MouseMode::Client)) &&
        !mouse_mode_requested_ && main_) {
        mouse_mode_requested_ = true;
        main_->request_mouse_mode(MouseMode::Client);
    }
    observer_->on_mouse_mode(mouse_mode_);
}

void Session::on_server_name(std::string name) {
    server_name_ = std::move(name);
    observer_->on_server_name(server_name_);
}

void Session::on_channels_list(const std::vector<std::pair<std::uint8_t, std::uint8_t>>& list) {
    if (!options_.follow_channels_list) return;
    for (const auto& [raw_type, id] : list) {
        if (id != 0) continue;  // one monitor: display 0 and its companions
        const auto type = static_cast<ChannelType>(raw_type);
        const bool wanted = (type == ChannelType::Display && !display_) ||
                            (type == ChannelType::Cursor && options_.connect_cursor && !cursor_) ||
                            (type == ChannelType::Inputs && options_.connect_inputs && !inputs_);
        if (!wanted) continue;
        LinkResult result;
        std::string why;
        auto socket = open_linked(type, id, result, why);
        if (!socket && type == ChannelType::Display) {
            close(why);
            return;
        }
        if (!socket) {
            log(why + (type == ChannelType::Cursor ? " (continuing without a cursor)" : " (continuing without input)"));
            continue;
        }
        Channel* channel = nullptr;
        if (type == ChannelType::Display) {
            display_ = std::make_unique<DisplayChannel>(id, std::move(socket), result.mini_header, *this);
            display_->start(result.server_channel_caps);
            channel = display_.get();
        } else if (type == ChannelType::Cursor) {
            cursor_ = std::make_unique<CursorChannel>(id, std::move(socket), result.mini_header, *this);
            channel = cursor_.get();
        } else {
            inputs_ = std::make_unique<InputsChannel>(std::move(socket), result.mini_header, *this);
            channel = inputs_.get();
        }
        channel->receive(result.leftover);
    }
}

bool Session::poll(int timeout_ms) {
    if (ended()) return false;
    auto list = channels();
    std::vector<pollfd> fds;
    bool any_waiting = false;
    for (Channel* c : list) {
        short events = 0;
        if (c->wants_read()) events |= POLLIN;
        if (c->wants_write()) events |= POLLOUT;
        if (!c->wants_read()) any_waiting = true;
        fds.push_back({c->fd(), events, 0});
    }
    const int rc = ::poll(fds.data(), fds.size(), any_waiting ? std::min(timeout_ms, 10) : timeout_ms);
    if (rc > 0) {
        for (std::size_t i = 0; i < list.size() && !ended(); ++i) {
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) list[i]->on_readable();
            if (fds[i].revents & POLLOUT) list[i]->on_writable();
        }
    }
    for (Channel* c : channels()) {
        if (ended()) break;
        c->resume();
        if (c->failed()) close(c->error());
    }
    return !ended();
}

const proto::Surface* Session::primary_surface() const { return display_ ? display_->primary() : nullptr; }

unsigned Session::marks() const { return display_ ? display_->marks() : 0; }

const CursorState& Session::cursor() const {
    static const CursorState kNone;
    return cursor_ ? cursor_->state() : kNone;
}

SessionStats Session::stats() const {
    SessionStats s;
    if (display_) {
        s.draws = display_->draws();
        s.draws_rejected = display_->draws_rejected();
    }
    for (Channel* c : const_cast<Session*>(this)->channels()) {
        s.pongs_sent += c->pongs_sent();
        s.acks_sent += c->acks_sent();
    }
    if (inputs_) s.motion_acks = inputs_->motion_acks();
    return s;
}

void Session::key_down(std::uint32_t spice_scancode) {
    if (inputs_) inputs_->key(spice_scancode, true);
}
void Session::key_up(std::uint32_t spice_scancode) {
    if (inputs_) inputs_->key(spice_scancode, false);
}
void Session::mouse_motion(std::int32_t dx, std::int32_t dy) {
    if (inputs_) inputs_->motion(dx, dy);
}
void Session::mouse_position(std::int32_t x, std::int32_t y) {
    if (inputs_) inputs_->position(x, y, 0);
}
void Session::mouse_button(MouseButton button, bool pressed) {
    if (inputs_) inputs_->button(static_cast<std::uint8_t>(button), pressed);
}
void Session::mouse_wheel(int steps) {
    const MouseButton b = steps > 0 ? MouseButton::WheelUp : MouseButton::WheelDown;
    for (int i = 0; i < std::abs(steps) && i < 16; ++i) {
        mouse_button(b, true);
        mouse_button(b, false);
    }
}

}  // namespace qxlbox::client
