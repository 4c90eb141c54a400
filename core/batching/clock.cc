#include "core/batching/clock.h"

namespace camserve {

int64_t SystemClock::NowMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SystemClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t deadline_us) {
  const int64_t wait_us = deadline_us - NowMicros();
  if (wait_us <= 0) return;
  cv.wait_for(lock, std::chrono::microseconds(wait_us));
}

void FakeClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t deadline_us) {
  if (deadline_us <= NowMicros()) return;
  cv.wait_for(lock, std::chrono::milliseconds(1));
}

}  // namespace camserve
