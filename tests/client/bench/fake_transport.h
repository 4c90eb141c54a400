// Fake ExplainTransports for the load generator's tests: one answers from
// its own thread after a delay, the other inline, inside Send.
//
// Thread-safety: Send may be called from any thread; accessors lock.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    worker_.join();
  }

  void Send(const std::string& image, DoneCallback done) override {
    absl::MutexLock lock(&mu_);
    queue_.push_back({sent_images_.size(), std::move(done)});
    sent_images_.push_back(image);
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
  }

  std::vector<std::string> sent_images() const {
    absl::MutexLock lock(&mu_);
    return sent_images_;
  }
  int in_flight() const {
    absl::MutexLock lock(&mu_);
    return in_flight_;
  }
  int max_in_flight() const {
    absl::MutexLock lock(&mu_);
    return max_in_flight_;
  }

 private:
  struct Pending {
    uint64_t k;
    DoneCallback done;
  };

  void AnswerUntilStopped() ABSL_LOCKS_EXCLUDED(mu_) {
    while (true) {
      mu_.LockWhen(absl::Condition(this, &ThreadedFakeTransport::HasWorkOrStopping));
      const bool stop = queue_.empty();
      mu_.Unlock();
      if (stop) return;
      std::this_thread::sleep_for(answer_delay_);
      mu_.Lock();
      Pending pending = std::move(queue_.front());
      queue_.pop_front();
      --in_flight_;
      mu_.Unlock();
      pending.done(outcome_for_(pending.k));
    }
  }
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); }

  const std::chrono::microseconds answer_delay_;
  const OutcomeFor outcome_for_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> sent_images_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
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
