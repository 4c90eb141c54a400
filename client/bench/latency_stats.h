// Latency statistics for camserve-bench: the samples one load level
// collects, and their summary (percentiles, throughput, server-side stage
// means, errors by code) that the reports print.
//
// Thread-safety: free functions on values.
// Cost: SummarizeLevel sorts the latencies, O(n log n).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/bench/explain_transport.h"

namespace camserve {

// One load level: closed loop with `concurrency` requests always
// outstanding, or open loop with requests started at `rate_rps` per second.
// Exactly one of the two is > 0.
struct LoadLevel {
  int concurrency = 0;
  double rate_rps = 0;

  bool is_open_loop() const { return rate_rps > 0; }
  // "concurrency 4" or "rate 20 req/s".
  std::string Describe() const;
};

// One request answered inside a level's measurement window.
struct LatencySample {
  // Client side, end to end: from sending (closed loop) or from the
  // scheduled send time (open loop) until the answer arrived.
  double latency_ms = 0;
  CallOutcome outcome;
};

struct ErrorCount {
  int64_t count = 0;
  // The message of the first such error, to show the user.
  std::string first_message;
};

// Every statistic is over the OK requests only (errors are often fast
// rejections and would make latency look better); those that need at least
// one OK request are NaN without one.
struct LevelReport {
  LoadLevel level;
  // The measurement window, seconds.
  double duration_s = 0;
  int64_t ok = 0;
  int64_t errors = 0;
  // By gRPC status code name ("UNAVAILABLE").
  std::map<std::string, ErrorCount> errors_by_code;
  // OK responses per second of the window.
  double throughput_rps = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  double mean_batch_size = 0;
  // Share of OK responses served from the server's cache, in [0, 1].
  double cache_hit_fraction = 0;
  // Mean server-side time per stage, milliseconds, indexed by ServerStage.
  std::array<double, kServerStageCount> mean_stage_ms{};
};

// The nearest-rank percentile: the smallest value v such that at least
// p percent of the values are <= v, i.e. sorted[ceil(p / 100 * n) - 1].
// Always one of the values, never an interpolation.
// REQUIRES: `sorted` ascending and non-empty; 0 < p <= 100.
double NearestRankPercentile(const std::vector<double>& sorted, double p);

// Summarizes the samples of one level measured over `duration_s` seconds.
// REQUIRES: duration_s > 0.
LevelReport SummarizeLevel(const LoadLevel& level, double duration_s, const std::vector<LatencySample>& samples);

}  // namespace camserve
