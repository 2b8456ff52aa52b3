#include "client/headless.h"

namespace qxlbox::client {

namespace {
class UpdateClock final : public SessionObserver {
public:
    void on_primary_created(const proto::Surface&) override { last_change = Clock::now(); }
    void on_primary_updated(const proto::Rect&) override { last_change = Clock::now(); }
    Clock::time_point last_change = Clock::now();
};
}  // namespace

HeadlessResult run_headless(const SessionOptions& session_options, const HeadlessOptions& options) {
    HeadlessResult result;
    UpdateClock clock;
    Session session(session_options, &clock);
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_s * 1000.0));
    const bool connected = options.open_channel ? session.connect_with(options.open_channel) : session.connect();
    if (!connected) {
        result.error = session.error();
        return result;
    }
    for (;;) {
        const auto now = Clock::now();
        const bool marks_done = session.marks() >= options.after_marks && session.primary_surface();
        const bool settled = now - clock.last_change >= std::chrono::milliseconds(options.settle_ms);
        if (marks_done && settled) break;
        if (now >= deadline) {
            result.marks = session.marks();
            result.error = "timed out after " + std::to_string(options.timeout_s) + " s with " +
                           std::to_string(session.marks()) + " of " + std::to_string(options.after_marks) +
                           " display marks" + (marks_done ? " (the screen kept changing)" : "");
            result.stats = session.stats();
            return result;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        if (!session.poll(static_cast<int>(std::clamp<std::int64_t>(left, 1, 50)))) {
            result.error = session.error();
            result.marks = session.marks();
            result.stats = session.stats();
            return result;
        }
    }
    result.marks = session.marks();
    result.stats = session.stats();
    result.image = surface_to_rgb(*session.primary_surface());
    session.close("done");
    if (!options.screenshot_path.empty() && !write_png(result.image, options.screenshot_path, result.error)) {
        return result;
    }
    result.ok = true;
    return result;
}

}  // namespace qxlbox::client
