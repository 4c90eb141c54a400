// CompletionPool: a few threads that finish requests after their batch ran
// (encoding the heatmap, storing it in the cache, answering the waiters), so
// that the batch worker goes on to the next batch at once.
//
// Thread-safety: Post may be called from any thread, also from the pool's
// own threads. Ownership: posted work is moved in and run exactly once:
// Shutdown (or the destructor) runs what is still queued, joins the threads,
// and from then on Post runs the work on the caller's thread.
// Errors: none; an exception that escapes a posted function is caught and
// logged, and the thread lives on.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace camserve {

class CompletionPool {
 public:
  // REQUIRES: thread_count >= 1.
  explicit CompletionPool(int thread_count);
  ~CompletionPool();
  CompletionPool(const CompletionPool&) = delete;
  CompletionPool& operator=(const CompletionPool&) = delete;

  void Post(std::function<void()> work) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs what is queued, joins the threads. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Functions posted and not yet started.
  int QueueDepth() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void RunUntilStopped() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); }

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace camserve
