// The virtual-clock handshake between the QXL device and a threaded consumer: what the guest
// sees (release ring, ring progress, interrupts, pixels the consumer writes back) depends on
// virtual time only, however fast or slow the consumer's own thread runs.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "hw/qxl/qxl_trace_hash.h"
#include "qxl_harness.h"

using namespace qxl_test;

namespace {

// A consumer shaped like the SPICE server: pushes go into a bounded queue that a worker
// thread drains. Its processing is a pure function of the command stream: a draw is kept
// until `keep_draws` later draws were processed (as a display tree holds drawables), its
// sequence number is written into pixel (n % 64, 0) of surface 0 (as rendering writes
// guest memory), and surface and cursor commands are released once processed. Only its
// speed varies: a random host delay before each item, or a gate that holds every item.
class ThreadedConsumer final : public proto::DisplayConsumer {
public:
    struct Options {
        std::uint32_t max_delay_us = 0;
        bool gated = false;
        std::size_t queue_limit = 64;
        std::size_t keep_draws = 2;
        unsigned seed = 1;
    };

    explicit ThreadedConsumer(Options options)
        : options_(options), gate_open_(!options.gated), random_(options.seed), worker_([this] { run(); }) {}
    ~ThreadedConsumer() override {
        {
            std::lock_guard lock(m_);
            stop_ = true;
        }
        cv_.notify_all();
        worker_.join();
    }

    void open_gate() {
        {
            std::lock_guard lock(m_);
            gate_open_ = true;
        }
        cv_.notify_all();
    }
    int quiesce_calls() const {
        std::lock_guard lock(m_);
        return quiesce_calls_;
    }

    void attach(proto::DisplayDevice& device, const proto::DeviceInfo&) override {
        std::lock_guard lock(m_);
        device_ = &device;
    }
    void detach() override {
        open_gate();
        quiesce();
        std::lock_guard lock(m_);
        kept_.clear();
        device_ = nullptr;
    }
    bool push_command(proto::DisplayCommand& cmd) override { return post(Item{std::move(cmd)}, cmd); }
    bool push_cursor_command(proto::CursorCommand& cmd) override { return post(Item{std::move(cmd)}, cmd); }
    std::optional<proto::SurfacePixels> update_area(std::uint32_t, const proto::Rect&) override {
        quiesce();
        return std::nullopt;
    }
    void flush_surfaces() override { quiesce(); }
    void quiesce() override {
        std::unique_lock lock(m_);
        ++quiesce_calls_;
        idle_cv_.wait(lock, [&] { return stop_ || processed_ == pushed_; });
    }
    void reset() override {
        quiesce();
        std::lock_guard lock(m_);
        kept_.clear();
    }
    void oom() override { reset(); }
    void monitors_config(const proto::MonitorsConfig&) override {}

private:
    using Item = std::variant<proto::DisplayCommand, proto::CursorCommand>;

    template <typename Cmd>
    bool post(Item item, Cmd& original) {
        std::lock_guard lock(m_);
        if (queue_.size() >= options_.queue_limit) {
            original = std::move(std::get<Cmd>(item));  // refused: the device keeps it
            return false;
        }
        queue_.push_back(std::move(item));
        ++pushed_;
        cv_.notify_all();
        return true;
    }

    void run() {
        for (;;) {
            Item item;
            std::uint32_t delay_us = 0;
            {
                std::unique_lock lock(m_);
                cv_.wait(lock, [&] { return stop_ || (gate_open_ && !queue_.empty()); });
                if (stop_) return;
                item = std::move(queue_.front());
                queue_.pop_front();
                if (options_.max_delay_us > 0) delay_us = random_() % (options_.max_delay_us + 1);
            }
            if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
            process(item);
            {
                std::lock_guard lock(m_);
                item = Item{};  // whatever the item still holds is released before it counts as done
                ++processed_;
            }
            idle_cv_.notify_all();
        }
    }

    void process(Item& item) {
        auto* cmd = std::get_if<proto::DisplayCommand>(&item);
        if (!cmd || !std::holds_alternative<proto::DrawCommand>(cmd->body)) return;
        proto::DisplayDevice* device = nullptr;
        {
            std::lock_guard lock(m_);
            device = device_;
            kept_.push_back(std::move(cmd->release));
            while (kept_.size() > options_.keep_draws) kept_.pop_front();
        }
        if (!device) return;
        proto::SurfacePixels px;
        px.format = proto::SurfaceFormat::XRGB32;
        const auto x = static_cast<std::int32_t>(draws_++ % 64);
        px.area = proto::Rect{0, x, 1, x + 1};
        px.stride = 4;
        const auto value = static_cast<std::uint32_t>(cmd->sequence);
        px.data.resize(4);
        std::memcpy(px.data.data(), &value, 4);
        device->write_surface_area(0, px);
    }

    Options options_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::condition_variable idle_cv_;
    std::deque<Item> queue_;
    std::deque<proto::ReleaseRef> kept_;
    std::uint64_t pushed_ = 0;
    std::uint64_t processed_ = 0;
    std::uint64_t draws_ = 0;  // worker thread only
    int quiesce_calls_ = 0;
    bool stop_ = false;
    bool gate_open_ = true;
    proto::DisplayDevice* device_ = nullptr;
    std::mt19937 random_;
    std::thread worker_;
};

struct Observed {
    std::vector<std::string> steps;  // what the guest can read after each step
    std::string hash;                // device-boundary trace (--trace-hash)
    std::uint64_t events = 0;
};

std::string guest_view(QxlHarness& h) {
    const std::uint32_t prod = h.ram32(ram::release_ring + ring::prod);
    const std::size_t head = ram::release_ring + ring::items + (prod & (kReleaseRingSize - 1)) * 8;
    std::string s = "cmd_cons=" + std::to_string(h.ram32(ram::cmd_ring + ring::cons)) +
                    " cursor_cons=" + std::to_string(h.ram32(ram::cursor_ring + ring::cons)) +
                    " release_prod=" + std::to_string(prod) + " head=" + std::to_string(h.ram32(head)) +
                    " free_res=" + std::to_string(h.dev->num_free_res()) +
                    " int_pending=" + std::to_string(h.int_pending()) + " irq=" + std::to_string(h.irq.level) +
                    " pixels=";
    for (int x = 0; x < 64; ++x) {
        std::uint32_t v = 0;
        std::memcpy(&v, h.ram_ptr(std::uint64_t(x) * 4), 4);
        s += std::to_string(v) + ",";
    }
    return s;
}

// One fixed guest session: 24 commands (draws with every fifth a cursor move), the clock
// stepped by less than a service period between them, the guest's view recorded each time.
Observed run_session(ThreadedConsumer& consumer, bool handshake, bool open_gate_before_flush = false) {
    Observed out;
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Deferred);
    h.dev->set_quiesce_handshake(handshake);
    h.dev->set_consumer(&consumer);
    QxlTraceHasher hasher;
    h.dev->set_trace_events([&hasher](const QxlTraceEvent& e) { hasher.add(e); });
    h.boot();
    for (int i = 0; i < 24; ++i) {
        if (i % 5 == 4) {
            const std::uint64_t c = h.alloc(150);
            std::memset(h.ram_ptr(c), 0, 150);
            h.put64(c, 5000 + static_cast<std::uint64_t>(i));
            h.put8(c + 8, 1);  // MOVE
            h.put16(c + 9, static_cast<std::uint16_t>(i));
            h.push_cursor(h.phys(c));
        } else {
            h.push_cmd(h.phys(h.copy_drawable()));
        }
        h.run_ns(1500 + static_cast<std::uint64_t>(i % 3) * 700);
        out.steps.push_back(guest_view(h));
    }
    if (open_gate_before_flush) consumer.open_gate();
    h.run_ns(300000);  // several service ticks
    out.steps.push_back(guest_view(h));
    h.out(QXL_IO_FLUSH_RELEASE);
    h.run_ns(5000);
    out.steps.push_back(guest_view(h));
    h.dev->set_trace_events(nullptr);
    out.hash = hasher.hex();
    out.events = hasher.events();
    h.dev->set_consumer(nullptr);
    return out;
}

Observed early_reference() {
    ThreadedConsumer early({});
    return run_session(early, true);
}

void expect_same(const Observed& a, const Observed& b) {
    ASSERT_EQ(a.steps.size(), b.steps.size());
    for (std::size_t i = 0; i < a.steps.size(); ++i) EXPECT_EQ(a.steps[i], b.steps[i]) << "step " << i;
    EXPECT_EQ(a.hash, b.hash);
    EXPECT_EQ(a.events, b.events);
}

}  // namespace

TEST(QxlDeterminism, LateConsumerThreadGivesTheGuestTheSameViewAsAnEarlyOne) {
    const Observed early = early_reference();
    // The session is not vacuous: releases, ring progress and written pixels change over time.
    ASSERT_NE(early.steps.front(), early.steps[early.steps.size() - 3]);
    EXPECT_NE(early.steps.back().find("release_prod=1"), std::string::npos) << early.steps.back();
    EXPECT_EQ(early.steps.front().find("pixels=0,"), std::string::npos) << "the first draw's pixel is written at its poll";
    for (unsigned seed = 1; seed <= 3; ++seed) {
        ThreadedConsumer::Options late;
        late.max_delay_us = 400;
        late.seed = seed;
        ThreadedConsumer consumer(late);
        const Observed observed = run_session(consumer, true);
        SCOPED_TRACE("seed " + std::to_string(seed));
        expect_same(early, observed);
    }
}

TEST(QxlDeterminism, RefusalFromAnUndrainedQueueNeverReachesTheGuest) {
    const Observed early = early_reference();
    ThreadedConsumer::Options tight;
    tight.queue_limit = 1;  // the display and the cursor push of one poll collide
    tight.max_delay_us = 300;
    ThreadedConsumer consumer(tight);
    expect_same(early, run_session(consumer, true));
}

TEST(QxlDeterminism, WithoutTheHandshakeTheGuestSeesTheConsumerThreadsTiming) {
    // Why the handshake exists: the same guest session, with a consumer thread that has not
    // got round to any command yet, shows the guest no releases and no pixels at the points
    // where the prompt consumer's did.
    const Observed early = early_reference();
    ThreadedConsumer::Options held;
    held.gated = true;
    ThreadedConsumer consumer(held);
    const Observed observed = run_session(consumer, false, true);
    ASSERT_EQ(early.steps.size(), observed.steps.size());
    EXPECT_NE(early.steps[10], observed.steps[10]);
    EXPECT_NE(observed.steps[10].find("pixels=0,0,"), std::string::npos) << observed.steps[10];
    EXPECT_NE(early.hash, observed.hash);
}

TEST(QxlDeterminism, WithoutTheHandshakeABusyQueueRefusesAndTheRingBacksUp) {
    const Observed early = early_reference();
    ThreadedConsumer::Options held;
    held.gated = true;
    held.queue_limit = 1;
    ThreadedConsumer consumer(held);
    const Observed observed = run_session(consumer, false, true);
    // The prompt consumer took every command; the busy one still holds the primary's
    // SURFACE_CREATE, refused the first draw, and the guest's ring stopped being consumed.
    EXPECT_NE(early.steps[3].find("cmd_cons=4 "), std::string::npos) << early.steps[3];
    EXPECT_NE(observed.steps[3].find("cmd_cons=1 "), std::string::npos) << observed.steps[3];
}

TEST(QxlDeterminism, QuiescesOnlyAfterHandingOverWork) {
    ThreadedConsumer consumer({});
    QxlHarness h(QxlHarness::small_config(), ReleasePolicy::Deferred);
    h.dev->set_consumer(&consumer);
    h.boot();
    h.run_ns(300000);
    const int settled = consumer.quiesce_calls();
    h.run_ns(1000000);  // ten idle service ticks and no port writes: nothing in flight
    EXPECT_EQ(consumer.quiesce_calls(), settled);
    h.push_cmd(h.phys(h.copy_drawable()));
    h.run_ns(5000);
    EXPECT_GT(consumer.quiesce_calls(), settled);
    h.dev->set_consumer(nullptr);
}
