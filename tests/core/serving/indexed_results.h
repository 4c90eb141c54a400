// IndexedResults: what asynchronous callbacks delivered, by the index each
// was given, for the serving tests.
//
// Thread-safety: Store, WaitFor and Clear may be called from any thread.
#pragma once

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace camserve {

template <typename Result>
class IndexedResults {
 public:
  void Store(int index, Result result) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (all_.size() <= static_cast<size_t>(index)) all_.resize(index + 1);
    all_[index] = std::move(result);
    ++count_;
  }
  // Waits until `n` results arrived; returns every result so far, by index.
  std::vector<Result> WaitFor(int n) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= n; };
    mu_.Await(absl::Condition(&arrived));
    return all_;
  }
  // Drops the results kept so far (what they hold with them).
  void Clear() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    all_.clear();
  }

 private:
  absl::Mutex mu_;
  std::vector<Result> all_ ABSL_GUARDED_BY(mu_);
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace camserve
