// LoadGenerator: drives one load level at a time against an
// ExplainTransport, in the manner of Triton's perf_analyzer, and returns the
// answers that arrived inside the level's measurement window.
//
//  - Closed loop (LoadLevel::concurrency = N): N requests are outstanding at
//    all times; each answer lets the next request go. Latency runs from the
//    actual send.
//  - Open loop (LoadLevel::rate_rps = R): requests start at R per second,
//    Poisson (exponential gaps) or evenly spaced, however many are still
//    outstanding. Latency runs from the *scheduled* send time, so a client
//    that falls behind shows up as latency instead of hiding it
//    (coordinated omission).
//
// Each level runs warmup_s seconds unmeasured, then duration_s seconds in
// which every answer that arrives is a sample; after the window no new
// requests start, and the level returns once the outstanding ones are
// answered (at most the transport's deadline later). Requests send the
// images in order, images[k % images.size()] for the k-th request since the
// generator was made, continuing across levels.
//
// Thread-safety: RunLevel is called from one thread at a time; it sends from
// that thread and collects answers from the transport's threads.
// Ownership: borrows the transport and the images; both must outlive the
// generator.
// Errors: Create returns INVALID_ARGUMENT for options out of range or no
// images; RunLevel's failed requests are samples with their status code.
// Cost: one lock and one condition-variable signal per request, on top of
// the transport's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/bench/explain_transport.h"
#include "client/bench/latency_stats.h"
#include "core/util/status.h"

namespace camserve {

enum class Arrivals { kPoisson, kConstant };

class LoadGenerator {
 public:
  struct Options {
    // Unmeasured time at the start of each level, seconds. Must be >= 0.
    // Default: 2.
    double warmup_s = 2;
    // Measurement window of each level, seconds. Must be > 0. Default: 10.
    double duration_s = 10;
    // Open loop only: how the gaps between sends are drawn.
    // Default: kPoisson.
    Arrivals arrivals = Arrivals::kPoisson;
    // Seed of the Poisson gaps, so that runs are repeatable. Default: 1.
    uint64_t seed = 1;
  };

  static StatusOr<std::unique_ptr<LoadGenerator>> Create(const Options& options, ExplainTransport* transport,
                                                         const std::vector<std::string>* images);

  // Runs `level` (warm-up, window, drain) and returns the window's samples.
  // REQUIRES: exactly one of level.concurrency and level.rate_rps is > 0.
  std::vector<LatencySample> RunLevel(const LoadLevel& level);

  // Requests started so far over all levels, warm-ups included.
  uint64_t requests_sent() const { return requests_sent_; }

  // -- implementation details follow ---------------------------------------
 private:
  struct LevelState;

  LoadGenerator(const Options& options, ExplainTransport* transport, const std::vector<std::string>* images);

  void RunClosedLoop(int concurrency, const std::shared_ptr<LevelState>& state);
  void RunOpenLoop(double rate_rps, const std::shared_ptr<LevelState>& state);
  // Sends the next image; its latency is counted from `latency_from`.
  void SendNext(const std::shared_ptr<LevelState>& state, std::chrono::steady_clock::time_point latency_from);

  const Options options_;
  ExplainTransport* const transport_;
  const std::vector<std::string>* const images_;
  uint64_t requests_sent_ = 0;
};

}  // namespace camserve
