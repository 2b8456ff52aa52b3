// The dispatcher: one typed queue from the device side (emulation thread) and the network
// thread to the display worker, in the spirit of spice-server's red dispatcher.
//
// Theory of operation: producers post items; the worker pops them in order and reports each
// one finished once it is handled and destroyed. Items that carry device commands are
// "bounded": post_bounded() refuses once `limit` of them wait, or while the worker holds
// the queue (set_held: its client pipe is full), and the device keeps the command in its
// ring (the guest waits). A held queue gets a grace period first, so a client that falls
// behind for a moment (a descheduled process) slows the host run instead of changing the
// guest's timeline. A refusal is remembered so the worker can call
// DisplayDevice::wakeup() when room appears. Control items (synchronous requests, client
// events) are never refused: they are few and a producer waits for each.
//
// wait_idle() is the consumer side of the virtual-clock handshake (display_interface.h):
// it returns once every item posted before the call is finished, so whatever the worker's
// processing released is back with the device. It costs one lock when nothing is in flight.
// pop() can also hold back bounded items (take_bounded = false) while still delivering
// control items, for a worker that wants to stop taking commands without starving
// synchronous requests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace qxlbox::server {

template <class Item>
class Dispatcher {
public:
    explicit Dispatcher(std::size_t limit) : limit_(limit) {}

    // False (item untouched) when `limit` bounded items already wait or the queue is held.
    // A held queue is first given the hold grace to be let go, once per episode: after a
    // refusal, posts are refused at once until take_wakeup() has reported room again.
    bool post_bounded(Item& item) {
        std::unique_lock lock(m_);
        if (held_ && !refused_ && hold_grace_.count() > 0) {
            held_cv_.wait_for(lock, hold_grace_, [&] { return stop_ || !held_; });
        }
        if (bounded_ >= limit_ || held_) {
            refused_ = true;
            return false;
        }
        q_.push_back({std::move(item), true});
        ++bounded_;
        ++posted_;
        cv_.notify_one();
        return true;
    }
    void post_control(Item item) {
        std::lock_guard lock(m_);
        q_.push_back({std::move(item), false});
        ++control_;
        ++posted_;
        cv_.notify_one();
    }

    // Worker: the item last popped is handled and destroyed.
    void finish_one() {
        std::lock_guard lock(m_);
        ++finished_;
        if (idle_waiters_ > 0) idle_cv_.notify_all();
    }
    // Blocks until every item posted before the call is finished, or stop().
    void wait_idle() {
        std::unique_lock lock(m_);
        const std::uint64_t target = posted_;
        ++idle_waiters_;
        idle_cv_.wait(lock, [&] { return stop_ || finished_ >= target; });
        --idle_waiters_;
    }
    // While held, post_bounded() refuses (the worker's client pipe is full).
    void set_held(bool held) {
        {
            std::lock_guard lock(m_);
            held_ = held;
        }
        if (!held) held_cv_.notify_all();
    }
    // How long post_bounded() waits for a held queue to be let go before refusing.
    void set_hold_grace(std::chrono::milliseconds grace) {
        std::lock_guard lock(m_);
        hold_grace_ = grace;
    }

    // Next item, waiting up to `timeout`. With take_bounded false only control items are
    // returned, but a control item never overtakes a bounded one queued before it: the worker
    // must then take the bounded ones anyway (they are bounded in number).
    std::optional<Item> pop(std::chrono::milliseconds timeout, bool take_bounded) {
        std::unique_lock lock(m_);
        cv_.wait_for(lock, timeout, [&] { return stop_ || control_ > 0 || (take_bounded && bounded_ > 0); });
        if (q_.empty()) return std::nullopt;
        if (!take_bounded && control_ == 0) return std::nullopt;
        Entry e = std::move(q_.front());
        q_.pop_front();
        if (e.bounded) {
            --bounded_;
        } else {
            --control_;
        }
        return std::move(e.item);
    }

    // True once after a refusal if there is room again; the caller then wakes the device.
    bool take_wakeup() {
        std::lock_guard lock(m_);
        if (refused_ && bounded_ < limit_ && !held_) {
            refused_ = false;
            return true;
        }
        return false;
    }
    void stop() {
        std::lock_guard lock(m_);
        stop_ = true;
        cv_.notify_all();
        idle_cv_.notify_all();
        held_cv_.notify_all();
    }
    void notify() { cv_.notify_all(); }
    std::size_t bounded_size() const {
        std::lock_guard lock(m_);
        return bounded_;
    }
    std::size_t limit() const { return limit_; }

private:
    struct Entry {
        Item item;
        bool bounded = false;
    };
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::condition_variable idle_cv_;
    std::condition_variable held_cv_;
    std::deque<Entry> q_;
    std::size_t limit_;
    std::size_t bounded_ = 0;
    std::size_t control_ = 0;
    std::uint64_t posted_ = 0;
    std::uint64_t finished_ = 0;
    int idle_waiters_ = 0;
    bool refused_ = false;
    bool held_ = false;
    std::chrono::milliseconds hold_grace_{0};
    bool stop_ = false;
};

}  // namespace qxlbox::server
