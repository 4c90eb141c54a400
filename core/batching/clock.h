// Clock: the time source of the batcher, injected so tests can use a fake one
// (tests/core/batching/fake_clock.h).
//
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace camserve {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time in microseconds.
  virtual int64_t NowMicros() const = 0;
  // Blocks on `cv` until notified or until NowMicros() may have reached
  // `deadline_us`, releasing `mu` while it waits. May return early (spurious
  // wake-up); callers re-check their condition.
  virtual void WaitUntil(absl::Mutex* mu, absl::CondVar* cv, int64_t deadline_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
};

// std::chrono::steady_clock.
class SystemClock : public Clock {
 public:
  int64_t NowMicros() const override;
  void WaitUntil(absl::Mutex* mu, absl::CondVar* cv, int64_t deadline_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) override;
};

}  // namespace camserve
