#include "core/batching/clock.h"

#include <chrono>

#include "absl/time/time.h"

namespace camserve {

int64_t SystemClock::NowMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SystemClock::WaitUntil(absl::Mutex* mu, absl::CondVar* cv, int64_t deadline_us) {
  const int64_t wait_us = deadline_us - NowMicros();
  if (wait_us <= 0) return;
  cv->WaitWithTimeout(mu, absl::Microseconds(wait_us));
}

}  // namespace camserve
