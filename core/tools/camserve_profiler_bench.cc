// camserve-profiler-bench: what the profiler and the metrics cost per
// request, measured in-process: the stage timers of one computed request
// (10 stages: 20 clock reads) or of a cache hit (cache_get, total), and the
// metrics it records (requests_total, the stage histograms, the in-flight
// gauge); compared with the same work with profiling off (timers that never
// read the clock, no histograms).
//
//   camserve-profiler-bench [--iterations 200000] [--threads 1]
//
// With --threads N, N threads record at once into the same series (the
// contended case: every request of a busy server lands in the same
// histograms).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "core/metrics/server_metrics.h"
#include "core/util/command_line.h"

namespace camserve {
namespace {

using Clock = std::chrono::steady_clock;

// One request's profiler and metrics work, as the server does it.
void OneRequest(ServerMetrics& metrics, bool profile) {
  metrics.RequestStarted();
  StageTimings computation(profile);
  StageTimings request(profile);
  for (Stage stage : {Stage::kDecode, Stage::kPreprocess, Stage::kQueue, Stage::kForward, Stage::kBackward, Stage::kCam,
                      Stage::kEncode, Stage::kCachePut}) {
    StageTimer timer(&computation, stage);
  }
  { StageTimer timer(&request, Stage::kCacheGet); }
  request.Set(Stage::kTotal, 1000);
  metrics.RecordStages("resnet50", CamMethodKind::kGradCam, computation);
  metrics.RecordStages("resnet50", CamMethodKind::kGradCam, request);
  metrics.RecordRequest("resnet50", CamMethodKind::kGradCam, StatusCode::kOk);
  metrics.RequestFinished();
}

// A cache hit's: only cache_get and total.
void OneHit(ServerMetrics& metrics, bool profile) {
  metrics.RequestStarted();
  StageTimings request(profile);
  { StageTimer timer(&request, Stage::kCacheGet); }
  request.Set(Stage::kTotal, 80);
  metrics.RecordStages("resnet50", CamMethodKind::kGradCam, request);
  metrics.RecordRequest("resnet50", CamMethodKind::kGradCam, StatusCode::kOk);
  metrics.RequestFinished();
}

// Nanoseconds per request, over `iterations` per thread.
double NanosPerRequest(ServerMetrics& metrics, bool profile, int iterations, int threads, bool hit) {
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < iterations; ++i) hit ? OneHit(metrics, profile) : OneRequest(metrics, profile);
    });
  }
  for (std::thread& worker : workers) worker.join();
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
}

struct ProfilerBenchOptions {
  // --iterations: requests per thread per run.
  int iterations = 200000;
  // --threads: threads recording at once into the same series.
  int threads = 1;
};

void AddFlags(CLI::App& app, ProfilerBenchOptions* options) {
  app.add_option("--iterations", options->iterations, "requests per thread per run")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--threads", options->threads, "threads recording at once")->check(Positive())->capture_default_str();
}

Status Run(const ProfilerBenchOptions& bench) {
  const int iterations = bench.iterations, threads = bench.threads;
  ServerMetrics::Options options;
  options.model_names = {"resnet50"};
  StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create(options, {});
  if (!metrics.ok()) return metrics.status();
  NanosPerRequest(**metrics, true, 1000, 1, false);  // creates the series
  std::printf(
      "threads %d, %d requests per thread per run, median of 5 alternating runs "
      "(wall time / requests per thread)\n",
      threads, iterations);
  for (bool hit : {false, true}) {
    // Alternating runs, median of 5 each: the machine's speed drifts.
    std::vector<double> on, off;
    for (int run = 0; run < 5; ++run) {
      on.push_back(NanosPerRequest(**metrics, true, iterations, threads, hit));
      off.push_back(NanosPerRequest(**metrics, false, iterations, threads, hit));
    }
    std::sort(on.begin(), on.end());
    std::sort(off.begin(), off.end());
    std::printf("%-9s profiling on %6.0f ns, off %6.0f ns: profiler cost %6.0f ns per request (%s)\n",
                hit ? "cache hit" : "computed", on[2], off[2], on[2] - off[2],
                hit ? "2 stages: cache_get, total" : "10 stages, 20 clock reads, 10 histogram observations");
  }
  return Status::Ok();
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  return camserve::RunCommandLineTool<camserve::ProfilerBenchOptions>(
      "camserve-profiler-bench", "camserve-profiler-bench: what the profiler and the metrics cost per request",
      camserve::AddFlags, argc, argv, camserve::Run);
}
