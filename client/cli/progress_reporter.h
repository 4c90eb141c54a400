// ProgressReporter: what camserve-client prints while it explains images
// concurrently. Each finished image's report goes to `out` as one block, so
// reports of different images never interleave; failures go to `err` as
//   camserve-client: PATH: CODE: message
// A run of more than one image also shows progress on `err`:
//   - interactive (`err` is a terminal): one bar line, redrawn in place,
//       [###############---------------]  5/10  1 failed
//     and cleared before anything else is printed;
//   - otherwise one line per finished image instead of the failure line:
//       [5/10] PATH: ok    or    [5/10] PATH: failed: CODE: message
// and Finish() then prints a summary that lists every failure again.
//
// Thread-safety: Finished() may be called from any number of threads at once;
// mu_ serializes the printing. Finish() after every Finished() call.
// Ownership: does not own the streams; they must outlive the reporter.
// Errors: none; write errors on the streams are ignored.
// Cost: a few small writes per image, under the lock.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/util/status.h"

namespace camserve {

class ProgressReporter {
 public:
  // `total`: how many images the run explains; `interactive`: whether `err`
  // is a terminal (isatty), which selects the bar.
  ProgressReporter(int total, bool interactive, std::FILE* out, std::FILE* err);

  // Records that `image` is done: on success prints `report` (newline
  // terminated) to `out`, and the progress or failure line to `err`.
  void Finished(const std::string& image, const Status& status, const std::string& report) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends the progress display and prints the summary; returns the number of
  // failed images.
  int Finish() ABSL_LOCKS_EXCLUDED(mu_);

  // -- implementation details follow ---------------------------------------
 private:
  bool ShowsProgress() const { return total_ > 1; }
  void ClearBar() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DrawBar() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int total_;
  const bool interactive_;
  std::FILE* const out_;
  std::FILE* const err_;
  absl::Mutex mu_;
  int finished_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<std::string, Status>> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace camserve
