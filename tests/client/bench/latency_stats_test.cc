// Tests for the latency statistics: nearest-rank percentiles on known
// inputs, and SummarizeLevel's counts, means and error tallies.
#include "client/bench/latency_stats.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace camserve {
namespace {

std::vector<double> OneTo(int n) {
  std::vector<double> values;
  for (int i = 1; i <= n; ++i) values.push_back(i);
  return values;
}

LatencySample OkSample(double latency_ms, int batch_size, bool cache_hit, int64_t stage_base_us) {
  LatencySample sample;
  sample.latency_ms = latency_ms;
  sample.outcome.batch_size = batch_size;
  sample.outcome.cache_hit = cache_hit;
  for (int s = 0; s < kServerStageCount; ++s) sample.outcome.stage_us[s] = stage_base_us * (s + 1);
  return sample;
}

LatencySample ErrorSample(StatusCode code, const std::string& message) {
  LatencySample sample;
  sample.latency_ms = 0.5;
  sample.outcome.code = code;
  sample.outcome.error_message = message;
  return sample;
}

TEST_CASE("Nearest-rank percentiles of 1..100 are the values themselves", "[latency_stats]") {
  const std::vector<double> values = OneTo(100);
  CHECK(NearestRankPercentile(values, 50) == 50);
  CHECK(NearestRankPercentile(values, 90) == 90);
  CHECK(NearestRankPercentile(values, 99) == 99);
  CHECK(NearestRankPercentile(values, 100) == 100);
  CHECK(NearestRankPercentile(values, 1) == 1);
  CHECK(NearestRankPercentile(values, 0.5) == 1);
  CHECK(NearestRankPercentile(values, 99.5) == 100);
}

TEST_CASE("Nearest-rank percentiles round the rank up", "[latency_stats]") {
  // n = 10: p50 -> rank 5, p90 -> rank 9, p99 -> rank ceil(9.9) = 10.
  const std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(NearestRankPercentile(ten, 50) == 5);
  CHECK(NearestRankPercentile(ten, 90) == 9);
  CHECK(NearestRankPercentile(ten, 99) == 10);
  CHECK(NearestRankPercentile(ten, 51) == 6);
  // n = 1000: p99.9 is rank 999 exactly, though 99.9 is not exact in binary.
  CHECK(NearestRankPercentile(OneTo(1000), 99.9) == 999);
  // One value is every percentile.
  CHECK(NearestRankPercentile({7.25}, 50) == 7.25);
  CHECK(NearestRankPercentile({7.25}, 99) == 7.25);
  // Four values: p50 rank 2, p90 and p99 rank 4.
  const std::vector<double> four = {10, 20, 30, 40};
  CHECK(NearestRankPercentile(four, 50) == 20);
  CHECK(NearestRankPercentile(four, 90) == 40);
  CHECK(NearestRankPercentile(four, 25) == 10);
}

TEST_CASE("SummarizeLevel computes percentiles, throughput and means of OK answers", "[latency_stats]") {
  std::vector<LatencySample> samples;
  // Latencies 10..1 (unsorted on purpose), batch sizes 1 and 3, every
  // other answer a cache hit, stage s of sample i = 100 * (i + 1) * (s + 1) us.
  for (int i = 0; i < 10; ++i) {
    samples.push_back(OkSample(10 - i, i % 2 == 0 ? 1 : 3, i % 2 == 1, 100 * (i + 1)));
  }
  samples.push_back(ErrorSample(StatusCode::kUnavailable, "queue full"));
  samples.push_back(ErrorSample(StatusCode::kUnavailable, "shutting down"));
  samples.push_back(ErrorSample(StatusCode::kDeadlineExceeded, "too slow"));
  const LevelReport report = SummarizeLevel({4, 0}, 2.0, samples);

  CHECK(report.level.concurrency == 4);
  CHECK(report.duration_s == 2.0);
  CHECK(report.ok == 10);
  CHECK(report.errors == 3);
  CHECK(report.throughput_rps == 5.0);
  CHECK(report.p50_ms == 5);
  CHECK(report.p90_ms == 9);
  CHECK(report.p99_ms == 10);
  CHECK(report.max_ms == 10);
  CHECK(report.mean_ms == Approx(5.5));
  CHECK(report.mean_batch_size == Approx(2.0));
  CHECK(report.cache_hit_fraction == Approx(0.5));
  // Mean of 100 * (i + 1) over i = 0..9 is 550 us, times (s + 1), in ms.
  for (int s = 0; s < kServerStageCount; ++s) {
    CHECK(report.mean_stage_ms[s] == Approx(0.55 * (s + 1)));
  }
  REQUIRE(report.errors_by_code.size() == 2);
  CHECK(report.errors_by_code.at("UNAVAILABLE").count == 2);
  CHECK(report.errors_by_code.at("UNAVAILABLE").first_message == "queue full");
  CHECK(report.errors_by_code.at("DEADLINE_EXCEEDED").count == 1);
}

TEST_CASE("A level without OK answers has NaN statistics and zero throughput", "[latency_stats]") {
  const LevelReport report = SummarizeLevel({0, 5.0}, 1.0, {ErrorSample(static_cast<StatusCode>(7), "no")});
  CHECK(report.ok == 0);
  CHECK(report.errors == 1);
  CHECK(report.errors_by_code.count("PERMISSION_DENIED") == 1);
  CHECK(report.throughput_rps == 0);
  CHECK(std::isnan(report.p50_ms));
  CHECK(std::isnan(report.p99_ms));
  CHECK(std::isnan(report.max_ms));
  CHECK(std::isnan(report.mean_ms));
  CHECK(std::isnan(report.mean_batch_size));
  CHECK(std::isnan(report.cache_hit_fraction));
  CHECK(std::isnan(report.mean_stage_ms[kForward]));
}

TEST_CASE("LoadLevel describes itself", "[latency_stats]") {
  CHECK(LoadLevel{8, 0}.Describe() == "concurrency 8");
  CHECK(LoadLevel{0, 12.5}.Describe() == "rate 12.5 req/s");
  CHECK(LoadLevel{0, 12.5}.is_open_loop());
  CHECK_FALSE(LoadLevel{8, 0}.is_open_loop());
}

}  // namespace
}  // namespace camserve
