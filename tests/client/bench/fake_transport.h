// Fake ExplainTransports for the load generator's tests: one answers from
// its own thread after a delay, the other inline, inside Send.
//
// Thread-safety: Send may be called from any thread; accessors lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/bench/explain_transport.h"

namespace camserve {

// The outcome of the k-th request (from 0).
using OutcomeFor = std::function<CallOutcome(uint64_t k)>;

inline CallOutcome AlwaysOk(uint64_t) {
  CallOutcome outcome;
  outcome.batch_size = 1;
  return outcome;
}

// Answers requests in order from one thread, each `answer_delay` after the
// previous answer (or after its send, whichever is later).
class ThreadedFakeTransport : public ExplainTransport {
 public:
  ThreadedFakeTransport(std::chrono::microseconds answer_delay, OutcomeFor outcome_for)
      : answer_delay_(answer_delay), outcome_for_(std::move(outcome_for)), worker_([this] { AnswerUntilStopped(); }) {}

  ~ThreadedFakeTransport() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  void Send(const std::string& image, DoneCallback done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back({sent_images_.size(), std::move(done)});
      sent_images_.push_back(image);
      max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
    }
    changed_.notify_all();
  }

  std::vector<std::string> sent_images() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_images_;
  }
  int in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_;
  }
  int max_in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }

 private:
  struct Pending {
    uint64_t k;
    DoneCallback done;
  };

  void AnswerUntilStopped() {
    while (true) {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      lock.unlock();
      std::this_thread::sleep_for(answer_delay_);
      lock.lock();
      Pending pending = std::move(queue_.front());
      queue_.pop_front();
      --in_flight_;
      lock.unlock();
      pending.done(outcome_for_(pending.k));
    }
  }

  const std::chrono::microseconds answer_delay_;
  const OutcomeFor outcome_for_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Pending> queue_;             // guarded by mu_
  std::vector<std::string> sent_images_;  // guarded by mu_
  int in_flight_ = 0;                     // guarded by mu_
  int max_in_flight_ = 0;                 // guarded by mu_
  bool stopping_ = false;                 // guarded by mu_
  std::thread worker_;
};

// Answers inside Send, before it returns (which gRPC may also do).
class InlineFakeTransport : public ExplainTransport {
 public:
  void Send(const std::string& image, DoneCallback done) override {
    ++sent_;
    done(AlwaysOk(sent_ - 1));
  }
  uint64_t sent() const { return sent_; }

 private:
  uint64_t sent_ = 0;
};

}  // namespace camserve
