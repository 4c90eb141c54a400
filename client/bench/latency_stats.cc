#include "client/bench/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace camserve {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Mean(double sum, int64_t count) { return count > 0 ? sum / static_cast<double>(count) : kNaN; }

void CountError(const CallOutcome& outcome, LevelReport* report) {
  ++report->errors;
  ErrorCount& entry = report->errors_by_code[StatusCodeLabel(outcome.code)];
  if (entry.count++ == 0) entry.first_message = outcome.error_message;
}

void SetLatencyPercentiles(std::vector<double> latencies_ms, LevelReport* report) {
  if (latencies_ms.empty()) {
    report->p50_ms = report->p90_ms = report->p99_ms = report->max_ms = report->mean_ms = kNaN;
    return;
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  report->p50_ms = NearestRankPercentile(latencies_ms, 50);
  report->p90_ms = NearestRankPercentile(latencies_ms, 90);
  report->p99_ms = NearestRankPercentile(latencies_ms, 99);
  report->max_ms = latencies_ms.back();
  double sum = 0;
  for (double latency : latencies_ms) sum += latency;
  report->mean_ms = Mean(sum, static_cast<int64_t>(latencies_ms.size()));
}

}  // namespace

std::string LoadLevel::Describe() const {
  std::ostringstream out;
  if (is_open_loop()) {
    out << "rate " << rate_rps << " req/s";
  } else {
    out << "concurrency " << concurrency;
  }
  return out.str();
}

double NearestRankPercentile(const std::vector<double>& sorted, double p) {
  const double n = static_cast<double>(sorted.size());
  // Multiplying first keeps integer p * n / 100 exact; the slack keeps a
  // fractional p (99.9) whose exact rank is an integer from rounding up.
  const double rank = std::ceil(p * n / 100.0 - 1e-9);
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, n)) - 1;
  return sorted[index];
}

LevelReport SummarizeLevel(const LoadLevel& level, double duration_s, const std::vector<LatencySample>& samples) {
  LevelReport report;
  report.level = level;
  report.duration_s = duration_s;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(samples.size());
  double batch_sum = 0;
  int64_t cache_hits = 0;
  std::array<double, kServerStageCount> stage_sum_us{};
  for (const LatencySample& sample : samples) {
    const CallOutcome& outcome = sample.outcome;
    if (outcome.code != StatusCode::kOk) {
      CountError(outcome, &report);
      continue;
    }
    latencies_ms.push_back(sample.latency_ms);
    batch_sum += outcome.batch_size;
    cache_hits += outcome.cache_hit ? 1 : 0;
    for (int s = 0; s < kServerStageCount; ++s) stage_sum_us[s] += outcome.stage_us[s];
  }
  report.ok = static_cast<int64_t>(latencies_ms.size());
  report.throughput_rps = static_cast<double>(report.ok) / duration_s;
  report.mean_batch_size = Mean(batch_sum, report.ok);
  report.cache_hit_fraction = Mean(static_cast<double>(cache_hits), report.ok);
  for (int s = 0; s < kServerStageCount; ++s) {
    report.mean_stage_ms[s] = Mean(stage_sum_us[s] / 1000.0, report.ok);
  }
  SetLatencyPercentiles(std::move(latencies_ms), &report);
  return report;
}

}  // namespace camserve
