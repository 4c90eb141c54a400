// camserve-cache-bench: how the time of a cache hit splits inside the server,
// measured in-process on a real RocksDB directory: hashing the request into
// its key, the RocksDB read, and checking + parsing the stored value.
//
//   camserve-cache-bench --image build/bench/bench224.jpg --dir /tmp/cache-bench
//
// The value is a FLOAT32 heatmap of --heatmap-size squared pixels (default
// 224: 200 KB), as camserve stores for a 224x224 request at input resolution.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/cache/heatmap_cache.h"
#include "core/util/command_line.h"
#include "core/util/file_io.h"

namespace camserve {
namespace {

using Clock = std::chrono::steady_clock;

struct Summary {
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
};

template <typename Fn>
Summary Measure(int iterations, Fn&& fn) {
  std::vector<double> samples;
  samples.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    fn();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(samples.begin(), samples.end());
  Summary summary;
  summary.p50_us = samples[samples.size() / 2];
  summary.p99_us = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  for (double sample : samples) summary.mean_us += sample / samples.size();
  return summary;
}

void Print(const char* stage, const Summary& summary) {
  std::printf("%-34s p50 %8.1f us   p99 %8.1f us   mean %8.1f us\n", stage, summary.p50_us, summary.p99_us,
              summary.mean_us);
}

struct CacheBenchOptions {
  // --image: the request bytes that are hashed. Required.
  std::string image_path;
  // --dir: the cache folder (created; existing entries stay). Required.
  std::string cache_dir;
  // --heatmap-size: side of the stored FLOAT32 heatmap, pixels.
  int heatmap_size_px = 224;
  // --iterations: timed runs per stage.
  int iterations = 2000;
};

void AddFlags(CLI::App& app, CacheBenchOptions* options) {
  app.add_option("--image", options->image_path, "JPEG or PNG: the request bytes that are hashed")->required();
  app.add_option("--dir", options->cache_dir, "cache directory (created; existing entries stay)")->required();
  app.add_option("--heatmap-size", options->heatmap_size_px, "side of the stored FLOAT32 heatmap, pixels")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--iterations", options->iterations, "timed runs per stage")->check(Positive())->capture_default_str();
}

Status Run(const CacheBenchOptions& bench) {
  const int side = bench.heatmap_size_px, iterations = bench.iterations;
  StatusOr<std::string> image = ReadFileBytes(bench.image_path);
  if (!image.ok()) return image.status();

  HeatmapCacheKeyFields fields;
  fields.model_fingerprint = "sha256:" + std::string(64, '0');
  fields.method = "gradcam";
  fields.target_layer = "layer4";
  fields.top_k = 5;
  fields.image_bytes = *image;
  CachedExplanation value;
  value.width_px = value.height_px = side;
  value.data.assign(static_cast<size_t>(side) * side * 4, '\x3f');
  value.target = ClassScore{1, "label", 0.5f};
  value.top_k.assign(5, value.target);
  const std::string serialized = SerializeCachedExplanation(value);

  HeatmapCache::Options options;
  options.dir = bench.cache_dir;
  StatusOr<std::unique_ptr<HeatmapCache>> cache = HeatmapCache::Open(options);
  if (!cache.ok()) return cache.status();
  const HeatmapCacheKey key = MakeHeatmapCacheKey(fields);
  (*cache)->Store(key, "bench", value);

  std::printf("request %zu bytes, stored value %zu bytes, %d iterations\n", image->size(), serialized.size(),
              iterations);
  Print("key: SHA-256 over the request", Measure(iterations, [&] { MakeHeatmapCacheKey(fields); }));
  Print("value: checksum + parse", Measure(iterations, [&] { (void)ParseCachedExplanation(serialized); }));
  Print("Lookup: RocksDB read + check + parse", Measure(iterations, [&] {
          if (!(*cache)->Lookup(key).has_value()) std::abort();
        }));
  Print("Store (for comparison)", Measure(std::min(iterations, 200), [&] { (*cache)->Store(key, "bench", value); }));
  return Status::Ok();
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  return camserve::RunCommandLineTool<camserve::CacheBenchOptions>(
      "camserve-cache-bench", "camserve-cache-bench: how the time of a cache hit splits inside the server",
      camserve::AddFlags, argc, argv, camserve::Run);
}
