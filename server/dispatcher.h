// The dispatcher: one typed queue from the device side (emulation thread) and the network
// thread to the display worker, in the spirit of spice-server's red dispatcher.
//
// Theory of operation: producers post items; the worker pops them in order. Items that carry
// device commands are "bounded": once `limit` of them wait, post_bounded() refuses and the
// device keeps the command in its ring (the guest waits), and the refusal is remembered so the
// worker can call DisplayDevice::wakeup() when room appears. Control items (synchronous
// requests, client events) are never refused: they are few and a producer waits for each.
// The worker may also hold back bounded items (take_bounded = false) while its client pipe
// is full; control items still get through, so a synchronous request cannot starve.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace qxlbox::server {

template <class Item>
class Dispatcher {
public:
    explicit Dispatcher(std::size_t limit) : limit_(limit) {}

    // False (item untouched) when `limit` bounded items already wait.
    bool post_bounded(Item& item) {
        std::lock_guard lock(m_);
        if (bounded_ >= limit_) {
            refused_ = true;
            return false;
        }
        q_.push_back({std::move(item), true});
        ++bounded_;
        cv_.notify_one();
        return true;
    }
    void post_control(Item item) {
        std::lock_guard lock(m_);
        q_.push_back({std::move(item), false});
        ++control_;
        cv_.notify_one();
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
        if (refused_ && bounded_ < limit_) {
            refused_ = false;
            return true;
        }
        return false;
    }
    void stop() {
        std::lock_guard lock(m_);
        stop_ = true;
        cv_.notify_all();
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
    std::deque<Entry> q_;
    std::size_t limit_;
    std::size_t bounded_ = 0;
    std::size_t control_ = 0;
    bool refused_ = false;
    bool stop_ = false;
};

}  // namespace qxlbox::server
