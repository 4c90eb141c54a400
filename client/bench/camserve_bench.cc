// camserve-bench: a load generator for camserve in the spirit of Triton's
// perf_analyzer. It sweeps load levels (closed-loop concurrency or
// open-loop request rates), measures client-side latency and throughput per
// level, averages the server's per-stage timings, and prints a table; CSV,
// JSON and a latency-throughput chart (matplotlib, through
// client/bench/plot_latency.py) on request. docs/bench.md has every flag and
// column.
//
// Exit codes: 0 when every level got at least one OK answer and every
// report was written (levels may still contain errors; they are reported);
// 1 for bad flags, an unreadable image, a server that cannot be reached or
// rejects the first request, a report or chart that cannot be written, or a
// level without any OK answer (its reports are written first).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "client/bench/bench_options.h"
#include "client/bench/bench_report.h"
#include "client/bench/grpc_explain_transport.h"
#include "client/bench/image_pool.h"
#include "client/bench/latency_chart.h"
#include "client/bench/latency_stats.h"
#include "client/bench/load_generator.h"
#include "client/common/grpc_channel.h"
#include "core/util/file_io.h"
#include "core/util/status.h"

namespace camserve {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

StatusOr<std::vector<std::string>> LoadRequestImages(const BenchOptions& options, const std::string& file_bytes) {
  const auto start = std::chrono::steady_clock::now();
  UniquePoolOptions pool = options.pool;
  pool.salt = std::random_device{}();
  StatusOr<std::vector<std::string>> images = MakeRequestImages(file_bytes, options.image_mode, pool);
  if (!images.ok()) {
    return InvalidArgumentError("--image '" + options.image_path + "': " + images.status().message());
  }
  size_t total_bytes = 0;
  for (const std::string& image : *images) total_bytes += image.size();
  std::fprintf(stderr, "images: %zu distinct, %.1f KiB on average, made in %.2f s\n", images->size(),
               total_bytes / 1024.0 / images->size(), SecondsSince(start));
  return images;
}

// One request with the file's own bytes (never in the unique pool, so it
// warms the model without caching a measured image). Fails fast with a clear
// message when the server is down or rejects the request options.
Status ProbeServer(const BenchOptions& options, ExplainTransport* transport, const std::string& file_bytes) {
  const CallOutcome outcome = SendAndWait(transport, file_bytes);
  if (outcome.code == StatusCode::kOk) return Status::Ok();
  const std::string detail = StatusCodeLabel(outcome.code) + ": " + outcome.error_message;
  if (outcome.code == StatusCode::kUnavailable || outcome.code == StatusCode::kDeadlineExceeded) {
    return UnavailableError("cannot reach camserve at " + options.request.address + " (" + detail + ")");
  }
  return Status(outcome.code, "the first request to " + options.request.address + " failed: " + detail);
}

std::string RunDescription(const BenchOptions& options, size_t image_count) {
  const v1::ExplainRequest request = options.RequestTemplate();
  const std::string mode =
      options.image_mode == ImageMode::kUnique ? "unique (" + std::to_string(image_count) + " images)" : "repeated";
  char window[96];
  std::snprintf(window, sizeof(window), "warm-up %g s, window %g s per level", options.load.warmup_s,
                options.load.duration_s);
  return "camserve-bench: " + options.request.address + ", model " +
         (request.model().empty() ? "(default)" : request.model()) + ", method " +
         (request.method().empty() ? "(default)" : request.method()) + ", encoding " +
         EncodingFlagName(request.encoding()) + ", mode " + mode + ", " + window + "\n";
}

std::vector<LevelReport> RunLevels(const BenchOptions& options, LoadGenerator* generator) {
  const std::vector<LoadLevel> levels = options.Levels();
  std::vector<LevelReport> reports;
  for (size_t i = 0; i < levels.size(); ++i) {
    const LoadLevel& level = levels[i];
    std::fprintf(stderr, "[%zu/%zu] %s ...\n", i + 1, levels.size(), level.Describe().c_str());
    const std::vector<LatencySample> samples = generator->RunLevel(level);
    reports.push_back(SummarizeLevel(level, options.load.duration_s, samples));
    const LevelReport& r = reports.back();
    std::fprintf(stderr, "        %.2f req/s, p50 %.2f ms, p99 %.2f ms, %lld errors\n", r.throughput_rps, r.p50_ms,
                 r.p99_ms, static_cast<long long>(r.errors));
  }
  return reports;
}

std::string PoolReuseNote(const BenchOptions& options, uint64_t requests_sent, size_t image_count) {
  if (options.image_mode != ImageMode::kUnique || requests_sent <= image_count) return "";
  return "note: " + std::to_string(requests_sent) + " requests were sent (warm-ups included) but " +
         "the unique pool has " + std::to_string(image_count) + " images, so images were reused " +
         "in order from request " + std::to_string(image_count + 1) +
         " on and the server's cache may have answered some (see hit%); raise --unique-images " + "to avoid that\n";
}

Status WriteReports(const BenchOptions& options, const std::vector<LevelReport>& reports) {
  if (!options.csv_path.empty()) {
    CAMSERVE_RETURN_IF_ERROR(WriteFileBytes(options.csv_path, FormatCsv(reports)));
  }
  if (!options.json_path.empty()) {
    CAMSERVE_RETURN_IF_ERROR(WriteFileBytes(options.json_path, FormatJson(reports)));
  }
  if (options.plot_path.empty()) return Status::Ok();
  return DrawLatencyChart(FormatJson(reports), options.plot_path, LatencyChartOptions{});
}

// A level without a single OK answer means the server went away or rejects
// everything; the reports are still written, but the run fails.
Status CheckEveryLevelAnswered(const std::vector<LevelReport>& reports) {
  std::string unanswered;
  for (const LevelReport& r : reports) {
    if (r.ok == 0) unanswered += (unanswered.empty() ? "" : ", ") + r.level.Describe();
  }
  if (unanswered.empty()) return Status::Ok();
  return UnavailableError("no OK answer at " + unanswered + " (see the errors above)");
}

Status RunBenchmark(const BenchOptions& options) {
  StatusOr<std::string> file_bytes = ReadFileBytes(options.image_path);
  if (!file_bytes.ok()) return file_bytes.status();
  StatusOr<std::vector<std::string>> images = LoadRequestImages(options, *file_bytes);
  if (!images.ok()) return images.status();

  StatusOr<ClientChannelOptions> channel_options =
      ChannelOptionsFromFlags(options.request.connection, std::getenv(kTokenEnvironmentVariable));
  if (!channel_options.ok()) return channel_options.status();
  GrpcExplainTransport transport(MakeExplainerChannel(options.request.address, *channel_options),
                                 options.RequestTemplate(), options.request.deadline_ms);
  CAMSERVE_RETURN_IF_ERROR(ProbeServer(options, &transport, *file_bytes));
  StatusOr<std::unique_ptr<LoadGenerator>> generator = LoadGenerator::Create(options.load, &transport, &images.value());
  if (!generator.ok()) return generator.status();

  const std::vector<LevelReport> reports = RunLevels(options, generator->get());
  std::cout << RunDescription(options, images->size()) << "\n"
            << FormatTable(reports) << PoolReuseNote(options, (*generator)->requests_sent(), images->size());
  std::cout.flush();
  CAMSERVE_RETURN_IF_ERROR(WriteReports(options, reports));
  return CheckEveryLevelAnswered(reports);
}

int Fail(const std::string& message) {
  std::cerr << "camserve-bench: " << message << "\n";
  return 1;
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  using namespace camserve;
  StatusOr<ParsedCommandLine<BenchOptions>> command_line = ParseBenchCommandLine(argc, argv);
  if (!command_line.ok()) return Fail(command_line.status().message() + " (--help lists the flags)");
  if (command_line->help.has_value()) {
    std::cout << *command_line->help;
    return 0;
  }
  const Status run = RunBenchmark(command_line->options);
  return run.ok() ? 0 : Fail(run.message());
}
