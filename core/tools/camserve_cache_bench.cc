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
#include "core/util/file_io.h"
#include "core/util/flag_parser.h"

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

Status Run(int argc, char** argv) {
  FlagParser flags({{"image", "JPEG or PNG: the request bytes that are hashed"},
                    {"dir", "cache directory (created; existing entries stay)"},
                    {"heatmap-size", "side of the stored FLOAT32 heatmap in pixels (default 224)"},
                    {"iterations", "timed runs per stage (default 2000)"}});
  CAMSERVE_RETURN_IF_ERROR(flags.Parse(argc, argv));
  if (flags.help_requested() || !flags.Has("image") || !flags.Has("dir")) {
    std::printf("%s", flags.Usage("camserve-cache-bench").c_str());
    return flags.help_requested() ? Status::Ok() : InvalidArgumentError("--image and --dir are required");
  }
  StatusOr<int> side = flags.GetInt("heatmap-size", 224);
  StatusOr<int> iterations = flags.GetInt("iterations", 2000);
  if (!side.ok()) return side.status();
  if (!iterations.ok()) return iterations.status();
  StatusOr<std::string> image = ReadFileBytes(flags.GetString("image", ""));
  if (!image.ok()) return image.status();

  HeatmapCacheKeyFields fields;
  fields.model_fingerprint = "sha256:" + std::string(64, '0');
  fields.method = "gradcam";
  fields.target_layer = "layer4";
  fields.top_k = 5;
  fields.image_bytes = *image;
  CachedExplanation value;
  value.width_px = value.height_px = *side;
  value.data.assign(static_cast<size_t>(*side) * *side * 4, '\x3f');
  value.target = ClassScore{1, "label", 0.5f};
  value.top_k.assign(5, value.target);
  const std::string serialized = SerializeCachedExplanation(value);

  HeatmapCache::Options options;
  options.dir = flags.GetString("dir", "");
  StatusOr<std::unique_ptr<HeatmapCache>> cache = HeatmapCache::Open(options);
  if (!cache.ok()) return cache.status();
  const HeatmapCacheKey key = MakeHeatmapCacheKey(fields);
  (*cache)->Store(key, "bench", value);

  std::printf("request %zu bytes, stored value %zu bytes, %d iterations\n", image->size(), serialized.size(),
              *iterations);
  Print("key: SHA-256 over the request", Measure(*iterations, [&] { MakeHeatmapCacheKey(fields); }));
  Print("value: checksum + parse", Measure(*iterations, [&] { (void)ParseCachedExplanation(serialized); }));
  Print("Lookup: RocksDB read + check + parse", Measure(*iterations, [&] {
          if (!(*cache)->Lookup(key).has_value()) std::abort();
        }));
  Print("Store (for comparison)", Measure(std::min(*iterations, 200), [&] { (*cache)->Store(key, "bench", value); }));
  return Status::Ok();
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  const camserve::Status status = camserve::Run(argc, argv);
  if (!status.ok()) {
    std::fprintf(stderr, "camserve-cache-bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
