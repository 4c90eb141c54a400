// FakeClock: a Clock that moves only when Advance is called, for tests of
// the batcher and the model runner. Waiters poll every millisecond of real
// time, so decisions depend on fake time alone.
//
// Thread-safety: NowMicros, Advance and WaitUntil may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "core/batching/clock.h"

namespace camserve {

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_us = 1'000'000) : now_us_(start_us) {}
  int64_t NowMicros() const override { return now_us_.load(); }
  void WaitUntil(absl::Mutex* mu, absl::CondVar* cv, int64_t deadline_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) override {
    if (deadline_us <= NowMicros()) return;
    cv->WaitWithTimeout(mu, absl::Milliseconds(1));
  }
  void Advance(int64_t micros) { now_us_ += micros; }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace camserve
