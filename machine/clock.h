// Virtual clock and event scheduler.
//
// Theory of operation: time in a qxlbox machine is a count of CPU cycles (default 100 MHz
// virtual clock). Nothing in machine/ or hw/ reads host time; devices ask the scheduler to
// call them back at a cycle count. Events due at the same cycle run in the order they were
// scheduled, so a run is reproducible bit for bit. The CPU runs until the next deadline,
// then the board runs every due event. HLT simply lets the board jump to the next deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

namespace qxlbox::machine {

using Cycles = std::uint64_t;

inline constexpr std::uint64_t kDefaultCpuHz = 100'000'000;
inline constexpr std::uint64_t kPitHz = 1'193'182;

class Scheduler {
public:
    using Callback = std::function<void()>;
    using EventId = std::uint64_t;
    static constexpr EventId kNoEvent = 0;
    static constexpr Cycles kNever = ~Cycles{0};

    explicit Scheduler(std::uint64_t cpu_hz = kDefaultCpuHz) : cpu_hz_(cpu_hz) {}

    Cycles now() const { return now_cycles_; }
    std::uint64_t cpu_hz() const { return cpu_hz_; }

    // Converts a duration in nanoseconds to cycles of this clock (rounded up, at least 1
    // for a non-zero duration so an event is never due "now" by accident).
    Cycles ns_to_cycles(std::uint64_t duration_ns) const;
    std::uint64_t cycles_to_ns(Cycles c) const;

    // Schedules `cb` at absolute cycle `when` (clamped to now). Returns a handle for cancel().
    EventId schedule_at(Cycles when, Callback cb);
    EventId schedule_in(Cycles delay, Callback cb) { return schedule_at(now_cycles_ + delay, std::move(cb)); }
    // Returns true when the event was still pending.
    bool cancel(EventId id);
    bool pending(EventId id) const;

    // Cycle of the earliest pending event, or kNever.
    Cycles next_deadline() const;

    // Moves the clock forward (never backward) without running events.
    void advance_to(Cycles when);

    // Runs every event due at or before now(), in (cycle, scheduling order). Events scheduled
    // by a callback for a time <= now() run in the same call. Returns the number run.
    std::size_t run_due();

    std::size_t pending_count() const { return events_.size(); }

private:
    struct Key {
        Cycles when;
        EventId seq;
        bool operator<(const Key& o) const { return when != o.when ? when < o.when : seq < o.seq; }
    };
    std::uint64_t cpu_hz_;
    Cycles now_cycles_ = 0;
    EventId next_id_ = 1;
    std::map<Key, Callback> events_;
    std::map<EventId, Cycles> by_id_;
};

}  // namespace qxlbox::machine
