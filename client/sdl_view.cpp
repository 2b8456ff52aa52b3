#include "client/sdl_view.h"

#include <SDL.h>

#include <algorithm>

#include "client/png_io.h"
#include "client/scancode.h"

namespace qxlbox::client {

namespace {
proto::Rect unite(const proto::Rect& a, const proto::Rect& b) {
    if (a.empty()) return b;
    return {std::min(a.top, b.top), std::min(a.left, b.left), std::max(a.bottom, b.bottom),
            std::max(a.right, b.right)};
}
}  // namespace

SdlView::~SdlView() {
    if (sdl_cursor_) SDL_FreeCursor(sdl_cursor_);
    if (cursor_texture_) SDL_DestroyTexture(cursor_texture_);
    if (texture_) SDL_DestroyTexture(texture_);
    if (renderer_) SDL_DestroyRenderer(renderer_);
    if (window_) SDL_DestroyWindow(window_);
    if (sdl_ready_) SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

bool SdlView::init(std::string& error) {
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
        error = std::string("cannot start SDL video: ") + SDL_GetError();
        return false;
    }
    sdl_ready_ = true;
    window_ = SDL_CreateWindow("qxlbox view", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 640, 480,
                               SDL_WINDOW_RESIZABLE);
    if (!window_) {
        error = std::string("cannot create a window: ") + SDL_GetError();
        return false;
    }
    renderer_ = SDL_CreateRenderer(window_, -1, 0);
    if (!renderer_) {
        error = std::string("cannot create a renderer: ") + SDL_GetError();
        return false;
    }
    update_title();
    return true;
}

void SdlView::update_title() {
    if (!window_) return;
    std::string title = "qxlbox view";
    if (!server_name_.empty()) title += " - " + server_name_;
    title += " (" + status_ + ")";
    SDL_SetWindowTitle(window_, title.c_str());
}

void SdlView::on_server_name(const std::string& name) {
    server_name_ = name;
    update_title();
}

void SdlView::on_primary_created(const proto::Surface& surface) {
    width_ = surface.width();
    height_ = surface.height();
    need_texture_ = true;
    dirty_ = true;
    dirty_rect_ = {0, 0, static_cast<std::int32_t>(height_), static_cast<std::int32_t>(width_)};
    if (window_) {
        SDL_SetWindowSize(window_, static_cast<int>(width_), static_cast<int>(height_));
        SDL_RenderSetLogicalSize(renderer_, static_cast<int>(width_), static_cast<int>(height_));
    }
    status_ = std::to_string(width_) + "x" + std::to_string(height_);
    update_title();
}

void SdlView::on_primary_updated(const proto::Rect& area) {
    dirty_rect_ = dirty_ ? unite(dirty_rect_, area) : area;
    dirty_ = true;
}

void SdlView::on_mark(unsigned) { dirty_ = true; }

void SdlView::on_cursor_changed() { cursor_dirty_ = true; }

void SdlView::on_mouse_mode(MouseMode mode) {
    mouse_mode_ = mode;
    if (mode == MouseMode::Client) set_grab(false);
    cursor_dirty_ = true;
}

void SdlView::set_grab(bool grab) {
    if (grab == grabbed_ || !window_) return;
    grabbed_ = grab;
    SDL_SetRelativeMouseMode(grab ? SDL_TRUE : SDL_FALSE);
    status_ = grab ? "mouse grabbed, Ctrl+Alt releases" : std::to_string(width_) + "x" + std::to_string(height_);
    update_title();
}

void SdlView::apply_cursor() {
    cursor_dirty_ = false;
    if (!session_ || !window_) return;
    const CursorState& c = session_->cursor();
    if (cursor_texture_) {
        SDL_DestroyTexture(cursor_texture_);
        cursor_texture_ = nullptr;
    }
    if (sdl_cursor_) {
        SDL_SetCursor(SDL_GetDefaultCursor());
        SDL_FreeCursor(sdl_cursor_);
        sdl_cursor_ = nullptr;
    }
    if (!c.shape || !c.argb || c.shape->width == 0 || c.shape->height == 0) {
        SDL_ShowCursor(mouse_mode_ == MouseMode::Client && c.visible ? SDL_ENABLE : SDL_DISABLE);
        return;
    }
    auto* pixels = const_cast<std::uint32_t*>(c.argb->data());
    SDL_Surface* s = SDL_CreateRGBSurfaceWithFormatFrom(pixels, c.shape->width, c.shape->height, 32,
                                                        c.shape->width * 4, SDL_PIXELFORMAT_ARGB8888);
    if (!s) return;
    if (mouse_mode_ == MouseMode::Client) {
        sdl_cursor_ = SDL_CreateColorCursor(s, c.shape->hot_spot_x, c.shape->hot_spot_y);
        if (sdl_cursor_) SDL_SetCursor(sdl_cursor_);
        SDL_ShowCursor(c.visible ? SDL_ENABLE : SDL_DISABLE);
    } else {
        cursor_texture_ = SDL_CreateTextureFromSurface(renderer_, s);
        if (cursor_texture_) SDL_SetTextureBlendMode(cursor_texture_, SDL_BLENDMODE_BLEND);
        SDL_ShowCursor(SDL_DISABLE);
    }
    SDL_FreeSurface(s);
    dirty_ = true;
}

void SdlView::upload(const proto::Surface& surface) {
    const bool is32 =
        surface.format() == proto::SurfaceFormat::XRGB32 || surface.format() == proto::SurfaceFormat::ARGB32;
    if (need_texture_ || !texture_) {
        if (texture_) SDL_DestroyTexture(texture_);
        texture_ = SDL_CreateTexture(renderer_, is32 ? SDL_PIXELFORMAT_RGB888 : SDL_PIXELFORMAT_RGB24,
                                     SDL_TEXTUREACCESS_STREAMING, static_cast<int>(surface.width()),
                                     static_cast<int>(surface.height()));
        need_texture_ = false;
        dirty_rect_ = {0, 0, static_cast<std::int32_t>(surface.height()), static_cast<std::int32_t>(surface.width())};
    }
    if (!texture_) return;
    if (is32) {
        proto::Rect r = dirty_rect_;
        r.left = std::clamp<std::int32_t>(r.left, 0, surface.width());
        r.right = std::clamp<std::int32_t>(r.right, 0, surface.width());
        r.top = std::clamp<std::int32_t>(r.top, 0, surface.height());
        r.bottom = std::clamp<std::int32_t>(r.bottom, 0, surface.height());
        if (r.empty()) return;
        const SDL_Rect rect{r.left, r.top, r.width(), r.height()};
        SDL_UpdateTexture(texture_, &rect, surface.data() + std::size_t(r.top) * surface.stride() + 4 * r.left,
                          static_cast<int>(surface.stride()));
    } else {
        const RgbImage rgb = surface_to_rgb(surface);
        SDL_UpdateTexture(texture_, nullptr, rgb.rgb.data(), static_cast<int>(rgb.width * 3));
    }
}

void SdlView::present() {
    const proto::Surface* primary = session_->primary_surface();
    if (primary) upload(*primary);
    SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 255);
    SDL_RenderClear(renderer_);
    if (primary && texture_) SDL_RenderCopy(renderer_, texture_, nullptr, nullptr);
    const CursorState& c = session_->cursor();
    if (mouse_mode_ == MouseMode::Server && cursor_texture_ && c.visible && c.shape) {
        const SDL_Rect dst{c.position.x - c.shape->hot_spot_x, c.position.y - c.shape->hot_spot_y, c.shape->width,
                           c.shape->height};
        SDL_RenderCopy(renderer_, cursor_texture_, nullptr, &dst);
    }
    SDL_RenderPresent(renderer_);
    ++frames_presented_;
    dirty_ = false;
    dirty_rect_ = {};
}

void SdlView::handle_events(bool& quit) {
    SDL_Event e;
    while (SDL_PollEvent(&e)) {
        switch (e.type) {
            case SDL_QUIT:
                quit = true;
                break;
            case SDL_WINDOWEVENT:
                if (e.window.event == SDL_WINDOWEVENT_EXPOSED || e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED ||
                    e.window.event == SDL_WINDOWEVENT_SHOWN || e.window.event == SDL_WINDOWEVENT_RESIZED)
                    dirty_ = true;
                if (e.window.event == SDL_WINDOWEVENT_FOCUS_LOST) set_grab(false);
                break;
            case SDL_KEYDOWN:
            case SDL_KEYUP: {
                const bool down = e.type == SDL_KEYDOWN;
                const SDL_Keymod mods = SDL_GetModState();
                if (down && grabbed_ && (mods & KMOD_CTRL) && (mods & KMOD_ALT) &&
                    (e.key.keysym.scancode == SDL_SCANCODE_LCTRL || e.key.keysym.scancode == SDL_SCANCODE_LALT ||
                     e.key.keysym.scancode == SDL_SCANCODE_RCTRL || e.key.keysym.scancode == SDL_SCANCODE_RALT)) {
                    set_grab(false);
                }
                const std::uint32_t code = spice_scancode_from_usb(e.key.keysym.scancode);
                if (code == 0) break;
                if (down) {
                    session_->key_down(code);
                } else {
                    session_->key_up(code);
                }
                break;
            }
            case SDL_MOUSEMOTION:
                if (mouse_mode_ == MouseMode::Client) {
                    session_->mouse_position(e.motion.x, e.motion.y);
                } else if (grabbed_) {
                    session_->mouse_motion(e.motion.xrel, e.motion.yrel);
                }
                break;
            case SDL_MOUSEBUTTONDOWN:
            case SDL_MOUSEBUTTONUP: {
                const bool pressed = e.type == SDL_MOUSEBUTTONDOWN;
                if (mouse_mode_ == MouseMode::Server && !grabbed_) {
                    if (pressed) set_grab(true);
                    break;
                }
                MouseButton b = MouseButton::Left;
                switch (e.button.button) {
                    case SDL_BUTTON_LEFT: b = MouseButton::Left; break;
                    case SDL_BUTTON_MIDDLE: b = MouseButton::Middle; break;
                    case SDL_BUTTON_RIGHT: b = MouseButton::Right; break;
                    case SDL_BUTTON_X1: b = MouseButton::Side; break;
                    case SDL_BUTTON_X2: b = MouseButton::Extra; break;
                    default: continue;
                }
                session_->mouse_button(b, pressed);
                break;
            }
            case SDL_MOUSEWHEEL:
                if (mouse_mode_ == MouseMode::Client || grabbed_) {
                    const int steps = e.wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -e.wheel.y : e.wheel.y;
                    if (steps != 0) session_->mouse_wheel(steps);
                }
                break;
            default:
                break;
        }
    }
}

bool SdlView::run(Session& session, std::string& error, double max_seconds) {
    session_ = &session;
    const auto start = Clock::now();
    // Window systems without backing store may drop a frame presented before the window was
    // mapped; repainting now and then costs little and keeps the window right.
    auto last_present = start;
    bool quit = false;
    while (!quit) {
        handle_events(quit);
        if (quit) break;
        if (!session.poll(10)) {
            error = session.error();
            return false;
        }
        if (cursor_dirty_) apply_cursor();
        if (mouse_mode_ == MouseMode::Server && cursor_texture_) dirty_ = true;
        if (Clock::now() - last_present > std::chrono::milliseconds(500)) dirty_ = true;
        if (dirty_) {
            present();
            last_present = Clock::now();
        }
        if (max_seconds > 0 && std::chrono::duration<double>(Clock::now() - start).count() >= max_seconds) break;
    }
    set_grab(false);
    session.close("window closed");
    return true;
}

}  // namespace qxlbox::client
