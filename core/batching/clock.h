// Clock: the time source of the batcher, injected so tests can use a fake one.
//
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace camserve {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time in microseconds.
  virtual int64_t NowMicros() const = 0;
  // Blocks on `cv` (REQUIRES: `lock` held) until notified or until NowMicros()
  // may have reached `deadline_us`. May return early (spurious wake-up);
  // callers re-check their condition.
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t deadline_us) = 0;
};

// std::chrono::steady_clock.
class SystemClock : public Clock {
 public:
  int64_t NowMicros() const override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t deadline_us) override;
};

// A clock that moves only when Advance is called. Waiters poll every
// millisecond of real time, so decisions depend on fake time alone.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_us = 1'000'000) : now_us_(start_us) {}
  int64_t NowMicros() const override { return now_us_.load(); }
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, int64_t deadline_us) override;
  void Advance(int64_t micros) { now_us_ += micros; }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace camserve
