#include "machine/clock.h"

namespace qxlbox::machine {

namespace {
__extension__ typedef unsigned __int128 Wide;
}

Cycles Scheduler::ns_to_cycles(std::uint64_t duration_ns) const {
    if (duration_ns == 0) return 0;
    const Wide prod = static_cast<Wide>(duration_ns) * cpu_hz_;
    Cycles c = static_cast<Cycles>((prod + 999'999'999u) / 1'000'000'000u);
    return c == 0 ? 1 : c;
}

std::uint64_t Scheduler::cycles_to_ns(Cycles c) const {
    const Wide prod = static_cast<Wide>(c) * 1'000'000'000u;
    return static_cast<std::uint64_t>(prod / cpu_hz_);
}

Scheduler::EventId Scheduler::schedule_at(Cycles when, Callback cb) {
    if (when < now_cycles_) when = now_cycles_;
    const EventId id = next_id_++;
    events_.emplace(Key{when, id}, std::move(cb));
    by_id_.emplace(id, when);
    return id;
}

bool Scheduler::cancel(EventId id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return false;
    events_.erase(Key{it->second, id});
    by_id_.erase(it);
    return true;
}

bool Scheduler::pending(EventId id) const { return by_id_.count(id) != 0; }

Cycles Scheduler::next_deadline() const {
    return events_.empty() ? kNever : events_.begin()->first.when;
}

void Scheduler::advance_to(Cycles when) {
    if (when > now_cycles_) now_cycles_ = when;
}

std::size_t Scheduler::run_due() {
    std::size_t ran = 0;
    while (!events_.empty() && events_.begin()->first.when <= now_cycles_) {
        auto node = events_.extract(events_.begin());
        by_id_.erase(node.key().seq);
        node.mapped()();
        ++ran;
    }
    return ran;
}

}  // namespace qxlbox::machine
