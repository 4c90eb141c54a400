// ServerMetrics: the exposition's exact values, bounded labels, state read
// at scrape time, option checks; MetricsEndpoint: a real HTTP GET /metrics.
#include "core/metrics/server_metrics.h"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "core/metrics/metrics_endpoint.h"
#include "tests/http_get.h"
#include "tests/prometheus_text.h"

namespace camserve {
namespace {

using testing::CountLines;
using testing::SampleValue;

std::unique_ptr<ServerMetrics> MakeMetrics(ServerMetrics::StateSources sources = {}, int max_batch_size = 8) {
  ServerMetrics::Options options;
  options.model_names = {"resnet50", "digits"};
  options.max_batch_size = max_batch_size;
  StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create(options, std::move(sources));
  REQUIRE(metrics.ok());
  return std::move(metrics).value();
}

TEST_CASE("requests are counted by model, method and status; unknown names share one label") {
  std::unique_ptr<ServerMetrics> metrics = MakeMetrics();
  for (int i = 0; i < 3; ++i) metrics->RecordRequest("resnet50", CamMethodKind::kGradCam, StatusCode::kOk);
  metrics->RecordRequest("resnet50", CamMethodKind::kEigenCam, StatusCode::kOk);
  metrics->RecordRequest("digits", CamMethodKind::kGradCam, StatusCode::kUnavailable);
  metrics->RecordRequest("no-such-model-1", CamMethodKind::kGradCam, StatusCode::kNotFound);
  metrics->RecordRequest("no-such-model-2", CamMethodKind::kGradCam, StatusCode::kNotFound);
  metrics->RecordRequest("resnet50", std::nullopt, StatusCode::kInvalidArgument);
  const std::string text = metrics->ScrapeText();
  CHECK(SampleValue(text, R"(camserve_requests_total{method="gradcam",model="resnet50",status="OK"})") == 3);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="eigencam",model="resnet50",status="OK"})") == 1);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="gradcam",model="digits",status="UNAVAILABLE"})") == 1);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="gradcam",model="unknown",status="NOT_FOUND"})") == 2);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="unknown",model="resnet50",status="INVALID_ARGUMENT"})") ==
        1);
  // Only the label sets used exist, and no client string became a label.
  CHECK(CountLines(text, "camserve_requests_total{") == 5);
  CHECK(text.find("no-such-model") == std::string::npos);
}

TEST_CASE("stage durations land in the 50 us .. 30 s buckets, in seconds") {
  std::unique_ptr<ServerMetrics> metrics = MakeMetrics();
  StageTimings timings;
  timings.Set(Stage::kForward, 40);    // <= 50 us
  timings.Set(Stage::kTotal, 60'000);  // 60 ms: <= 100 ms
  metrics->RecordStages("resnet50", CamMethodKind::kGradCam, timings);
  timings.Set(Stage::kTotal, 45'000'000);  // 45 s: only +Inf
  metrics->RecordStages("resnet50", CamMethodKind::kGradCam, timings);
  const std::string text = metrics->ScrapeText();
  const std::string total =
      R"(camserve_stage_duration_seconds_bucket{method="gradcam",model="resnet50",stage="total",le=")";
  CHECK(SampleValue(text, total + R"(0.05"})") == 0);
  CHECK(SampleValue(text, total + R"(0.1"})") == 1);
  CHECK(SampleValue(text, total + R"(30"})") == 1);
  CHECK(SampleValue(text, total + R"(+Inf"})") == 2);
  CHECK(SampleValue(text, R"(camserve_stage_duration_seconds_sum{method="gradcam",model="resnet50",stage="total"})") ==
        Approx(45.06));
  const std::string forward =
      R"(camserve_stage_duration_seconds_bucket{method="gradcam",model="resnet50",stage="forward",le=")";
  CHECK(SampleValue(text, forward + R"(5e-05"})") == 2);
  // 18 bounds + Inf per series; stages never recorded have no series.
  CHECK(CountLines(text, total) == 19);
  CHECK(text.find(R"(stage="decode")") == std::string::npos);
}

TEST_CASE("batch sizes: every size up to 16, then 24, 32, 48, 64; in-flight gauge") {
  std::unique_ptr<ServerMetrics> metrics = MakeMetrics({}, 64);
  metrics->RecordBatch("resnet50", 1);
  metrics->RecordBatch("resnet50", 8);
  metrics->RecordBatch("resnet50", 30);
  metrics->RecordBatch("not-served", 2);  // ignored
  metrics->RequestStarted();
  metrics->RequestStarted();
  metrics->RequestFinished();
  const std::string text = metrics->ScrapeText();
  const std::string bucket = R"(camserve_batch_size_bucket{model="resnet50",le=")";
  CHECK(SampleValue(text, bucket + R"(1"})") == 1);
  CHECK(SampleValue(text, bucket + R"(7"})") == 1);
  CHECK(SampleValue(text, bucket + R"(8"})") == 2);
  CHECK(SampleValue(text, bucket + R"(24"})") == 2);
  CHECK(SampleValue(text, bucket + R"(32"})") == 3);
  CHECK(SampleValue(text, bucket + R"(64"})") == 3);
  CHECK(CountLines(text, bucket) == 16 + 4 + 1);
  CHECK(SampleValue(text, R"(camserve_batch_size_count{model="resnet50"})") == 3);
  CHECK(SampleValue(text, R"(camserve_batch_size_count{model="digits"})") == 0);
  CHECK(SampleValue(text, "camserve_requests_in_flight") == 1);
}

TEST_CASE("state metrics are read from their sources at every scrape") {
  int64_t depth = 3;
  std::optional<CacheState> cache = CacheState{10, 4, 2, 1, 3, 2, 7, 7000, 1 << 20, true};
  ServerMetrics::StateSources sources;
  sources.models = [&] { return std::vector<ModelState>{{"resnet50", "sha256:ab", "cuda:0", depth, 256}}; };
  sources.cache = [&] { return cache; };
  sources.coalesced_requests = [] { return int64_t{5}; };
  sources.gpu_memory = [] { return std::vector<GpuMemoryState>{{"cuda:0", 1000, 4096}}; };
  std::unique_ptr<ServerMetrics> metrics = MakeMetrics(std::move(sources));
  std::string text = metrics->ScrapeText();
  CHECK(SampleValue(text, R"(camserve_queue_depth{model="resnet50"})") == 3);
  CHECK(SampleValue(text, R"(camserve_queue_capacity{model="resnet50"})") == 256);
  CHECK(SampleValue(text, R"(camserve_model_info{device="cuda:0",model="resnet50",version="sha256:ab"})") == 1);
  CHECK(SampleValue(text, "camserve_cache_hits_total") == 10);
  CHECK(SampleValue(text, "camserve_cache_misses_total") == 4);
  CHECK(SampleValue(text, "camserve_cache_evictions_total") == 2);
  CHECK(SampleValue(text, R"(camserve_cache_errors_total{op="read"})") == 1);
  CHECK(SampleValue(text, R"(camserve_cache_errors_total{op="write"})") == 3);
  CHECK(SampleValue(text, R"(camserve_cache_errors_total{op="damaged"})") == 2);
  CHECK(SampleValue(text, "camserve_cache_writes_paused") == 1);
  CHECK(SampleValue(text, "camserve_cache_entries") == 7);
  CHECK(SampleValue(text, "camserve_cache_bytes") == 7000);
  CHECK(SampleValue(text, "camserve_cache_capacity_bytes") == 1 << 20);
  CHECK(SampleValue(text, "camserve_cache_coalesced_requests_total") == 5);
  CHECK(SampleValue(text, R"(camserve_gpu_memory_allocated_bytes{device="cuda:0"})") == 1000);
  CHECK(SampleValue(text, R"(camserve_gpu_memory_reserved_bytes{device="cuda:0"})") == 4096);
  CHECK(SampleValue(text, "camserve_process_resident_memory_bytes").value_or(0) > 1e6);
  CHECK(SampleValue(text, "camserve_process_cpu_seconds_total").value_or(-1) >= 0);
  CHECK(text.find("# TYPE camserve_cache_hits_total counter") != std::string::npos);
  CHECK(text.find("# TYPE camserve_cache_bytes gauge") != std::string::npos);

  depth = 9;
  cache.reset();  // the cache disabled: its metrics disappear
  text = metrics->ScrapeText();
  CHECK(SampleValue(text, R"(camserve_queue_depth{model="resnet50"})") == 9);
  CHECK_FALSE(SampleValue(text, "camserve_cache_hits_total").has_value());
  CHECK(SampleValue(text, "camserve_cache_coalesced_requests_total") == 5);
}

TEST_CASE("bad options are refused with a message") {
  ServerMetrics::Options options;
  CHECK(ServerMetrics::Create(options, {}).status().message() == "ServerMetrics needs at least one model name");
  options.model_names = {"a", "a"};
  CHECK(ServerMetrics::Create(options, {}).status().message() == "model names must be unique");
  options.model_names = {"unknown"};
  CHECK(ServerMetrics::Create(options, {}).status().code() == StatusCode::kInvalidArgument);
  options.model_names = {"a"};
  options.stage_bucket_bounds_seconds = {0.1, 0.1};
  CHECK(ServerMetrics::Create(options, {}).status().message() ==
        "stage_bucket_bounds_seconds must be non-empty and strictly increasing");
  options.stage_bucket_bounds_seconds = {0.1};
  options.max_batch_size = 0;
  CHECK(ServerMetrics::Create(options, {}).status().message() == "max_batch_size must be >= 1; was 0");
}

TEST_CASE("recording from 8 threads loses no count") {
  std::unique_ptr<ServerMetrics> metrics = MakeMetrics();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&metrics, t] {
      StageTimings timings;
      timings.Set(Stage::kTotal, 100);
      for (int i = 0; i < 1000; ++i) {
        metrics->RecordRequest(t % 2 == 0 ? "resnet50" : "digits", CamMethodKind::kGradCam, StatusCode::kOk);
        metrics->RecordStages("resnet50", CamMethodKind::kHiResCam, timings);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string text = metrics->ScrapeText();
  CHECK(SampleValue(text, R"(camserve_requests_total{method="gradcam",model="resnet50",status="OK"})") == 4000);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="gradcam",model="digits",status="OK"})") == 4000);
  CHECK(
      SampleValue(text, R"(camserve_stage_duration_seconds_count{method="hirescam",model="resnet50",stage="total"})") ==
      8000);
}

TEST_CASE("the endpoint serves the exposition over HTTP; a taken port is an error naming the address") {
  std::unique_ptr<ServerMetrics> metrics = MakeMetrics();
  metrics->RecordRequest("digits", CamMethodKind::kLayerCam, StatusCode::kOk);
  StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint = MetricsEndpoint::Start("127.0.0.1:0", *metrics);
  REQUIRE(endpoint.ok());
  const int port = (*endpoint)->port();
  REQUIRE(port > 0);
  StatusOr<testing::HttpResponse> scrape = testing::HttpGet(port, "/metrics");
  REQUIRE(scrape.ok());
  CHECK(scrape->status == 200);
  CHECK(SampleValue(scrape->body, R"(camserve_requests_total{method="layercam",model="digits",status="OK"})") == 1);
  CHECK(SampleValue(scrape->body, "camserve_requests_in_flight") == 0);
  StatusOr<testing::HttpResponse> other = testing::HttpGet(port, "/other");
  REQUIRE(other.ok());
  CHECK(other->status == 404);

  StatusOr<std::unique_ptr<MetricsEndpoint>> second =
      MetricsEndpoint::Start("127.0.0.1:" + std::to_string(port), *metrics);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(second.status().message(), Catch::StartsWith("cannot serve metrics on 127.0.0.1:" + std::to_string(port)));
  CHECK(MetricsEndpoint::Start("not-an-address", *metrics).status().code() == StatusCode::kUnavailable);
}

}  // namespace
}  // namespace camserve
