#include "core/serving/completion_pool.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <string>

#include "core/util/thread_name.h"

namespace camserve {

CompletionPool::CompletionPool(int thread_count) {
  for (int i = 0; i < thread_count; ++i) {
    threads_.emplace_back([this, i] {
      SetCurrentThreadName("completion-" + std::to_string(i));
      RunUntilStopped();
    });
  }
}

CompletionPool::~CompletionPool() { Shutdown(); }

void CompletionPool::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void CompletionPool::Post(std::function<void()> work) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(work));
      return;
    }
  }
  work();
}

int CompletionPool::QueueDepth() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

void CompletionPool::RunUntilStopped() {
  for (;;) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_, absl::Condition(this, &CompletionPool::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping, and everything posted has run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      work();
    } catch (const std::exception& e) {
      spdlog::error("completion pool: a completion threw: {}", e.what());
    } catch (...) {
      spdlog::error("completion pool: a completion threw an exception of unknown type");
    }
  }
}

}  // namespace camserve
