// RequestCoalescer: concurrent identical requests are computed once.
//
// The first request for a key leads: Join returns true and the caller starts
// the computation, then hands its result to Finish. Requests for the same key
// that Join before Finish follow: they are not computed; Finish delivers the
// leader's result to every waiter (the leader included), each exactly once.
//
// A waiter that gives up (deadline passed, client cancelled) stays in the
// list but reports itself abandoned; AnyoneWaiting tells the computation
// whether a live waiter remains, so a computation nobody waits for can be
// dropped while queued, and one waiter's cancellation never cancels the
// others' answer.
//
// Thread-safety: all methods may be called from any thread. `deliver` runs
// on the thread that calls Finish, outside the coalescer's lock;
// `is_abandoned` runs under it and must not call into the coalescer.
// Lock order: AnyoneWaiting is called from a queued task's IsCancelled,
// under the DynamicBatcher's lock (batcher before coalescer); nothing here
// calls into the batcher while holding the coalescer's lock.
// Cost: one hash-map operation under a mutex per call.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/cache/heatmap_cache_key.h"

namespace camserve {

template <typename Result>
class RequestCoalescer {
 public:
  struct Waiter {
    // Called exactly once, from Finish; `followed` is false for the leader
    // and true for the requests that joined its computation.
    std::function<void(const Result& result, bool followed)> deliver;
    // True once the waiter no longer wants the answer. May be empty.
    std::function<bool()> is_abandoned;
    // When the waiter stops wanting the answer at the latest (the clock of
    // the caller's choice). Default: never.
    int64_t deadline_us = std::numeric_limits<int64_t>::max();
  };

  // Registers `waiter` for `key`. Returns true when the caller leads and must
  // call Finish(key, ...) exactly once.
  bool Join(const HeatmapCacheKey& key, Waiter waiter) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto [flight, created] = flights_.try_emplace(key);
    flight->second.push_back(std::move(waiter));
    if (!created) coalesced_.fetch_add(1);
    return created;
  }

  // Whether some waiter of `key` still wants the answer.
  bool AnyoneWaiting(const HeatmapCacheKey& key) const ABSL_LOCKS_EXCLUDED(mu_) {
    return LatestLiveDeadline(key).has_value();
  }

  // The latest deadline among the waiters of `key` that still want the
  // answer; nullopt when none does.
  std::optional<int64_t> LatestLiveDeadline(const HeatmapCacheKey& key) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const auto flight = flights_.find(key);
    if (flight == flights_.end()) return std::nullopt;
    std::optional<int64_t> latest;
    for (const Waiter& waiter : flight->second) {
      if (waiter.is_abandoned && waiter.is_abandoned()) continue;
      latest = std::max(latest.value_or(waiter.deadline_us), waiter.deadline_us);
    }
    return latest;
  }

  // Delivers `result` to every waiter of `key` and ends the flight; a later
  // Join for the key leads a new one.
  void Finish(const HeatmapCacheKey& key, const Result& result) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<Waiter> waiters;
    {
      absl::MutexLock lock(&mu_);
      const auto flight = flights_.find(key);
      if (flight == flights_.end()) return;
      waiters = std::move(flight->second);
      flights_.erase(flight);
    }
    for (size_t i = 0; i < waiters.size(); ++i) waiters[i].deliver(result, i > 0);
  }

  // Requests that followed a leader instead of being computed, since
  // construction.
  int64_t coalesced() const { return coalesced_.load(); }

  // -- implementation details follow ---------------------------------------
 private:
  mutable absl::Mutex mu_;
  std::unordered_map<HeatmapCacheKey, std::vector<Waiter>, HeatmapCacheKeyHash> flights_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> coalesced_{0};
};

}  // namespace camserve
