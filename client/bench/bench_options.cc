#include "client/bench/bench_options.h"

#include <utility>

namespace camserve {
namespace {

using EncodingNames = std::vector<std::pair<std::string, v1::HeatmapEncoding>>;

const EncodingNames& KnownEncodings() {
  static const EncodingNames kNames = {
      {"float32", v1::HEATMAP_ENCODING_FLOAT32},
      {"uint8", v1::HEATMAP_ENCODING_UINT8},
      {"png_heatmap", v1::HEATMAP_ENCODING_PNG_HEATMAP},
      {"png_overlay", v1::HEATMAP_ENCODING_PNG_OVERLAY},
  };
  return kNames;
}

void AddLoadFlags(CLI::App& app, BenchOptions* options) {
  CLI::Option* concurrency = app.add_option("--concurrency", options->concurrency_levels,
                                            "closed loop: comma-separated levels of outstanding requests, e.g. 1,2,4,8")
                                 ->delimiter(',')
                                 ->check(Positive())
                                 ->capture_default_str();
  CLI::Option* rate = app.add_option("--rate", options->rate_levels_rps,
                                     "open loop instead: comma-separated request rates in req/s, e.g. 5,10,20")
                          ->delimiter(',')
                          ->check(Positive());
  concurrency->excludes(rate);
  AddChoiceOption<Arrivals>(app, "--arrivals", &options->load.arrivals,
                            {{"poisson", Arrivals::kPoisson}, {"constant", Arrivals::kConstant}},
                            "gaps between open-loop sends: exponential or equal")
      ->needs(rate);
  app.add_option("--seed", options->load.seed, "seed of the Poisson gaps")->check(NonNegative())->capture_default_str();
  app.add_option("--duration-s", options->load.duration_s, "measurement window per level, seconds")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--warmup-s", options->load.warmup_s, "unmeasured load before each window, seconds")
      ->check(NonNegative())
      ->capture_default_str();
}

void AddImageFlags(CLI::App& app, BenchOptions* options) {
  app.add_option("--image", options->image_path, "JPEG or PNG file the requests are made from")->required();
  AddChoiceOption<ImageMode>(app, "--mode", &options->image_mode,
                             {{"unique", ImageMode::kUnique}, {"repeated", ImageMode::kRepeated}},
                             "unique: a different JPEG per request (the cache misses); repeated: the file's bytes");
  app.add_option("--unique-images", options->pool.count,
                 "with --mode unique: distinct images made before measuring, reused in order after that")
      ->check(Positive())
      ->capture_default_str();
}

void AddReportFlags(CLI::App& app, BenchOptions* options) {
  app.add_option("--csv", options->csv_path, "write one CSV row per level to this file");
  app.add_option("--json", options->json_path, "write a JSON array, one object per level, to this file");
  app.add_option("--plot", options->plot_path,
                 "draw p50/p99 latency against throughput into this PNG file (python3 with matplotlib)");
}

}  // namespace

std::vector<LoadLevel> BenchOptions::Levels() const {
  std::vector<LoadLevel> levels;
  for (double rate_rps : rate_levels_rps) levels.push_back({0, rate_rps});
  if (!levels.empty()) return levels;
  for (int concurrency : concurrency_levels) levels.push_back({concurrency, 0});
  return levels;
}

v1::ExplainRequest BenchOptions::RequestTemplate() const {
  v1::ExplainRequest request_template = RequestTemplateFromFlags(request);
  request_template.set_encoding(encoding);
  return request_template;
}

void AddBenchFlags(CLI::App& app, BenchOptions* options) {
  AddImageFlags(app, options);
  AddLoadFlags(app, options);
  AddRequestFlags(app, &options->request);
  AddChoiceOption<v1::HeatmapEncoding>(app, "--encoding", &options->encoding, KnownEncodings(),
                                       "heatmap encoding asked for");
  AddReportFlags(app, options);
  const CLI::Option* unique_images = app.get_option("--unique-images");
  app.callback([options, unique_images] {
    if (unique_images->count() > 0 && options->image_mode != ImageMode::kUnique) {
      throw CLI::ValidationError("--unique-images", "needs --mode unique");
    }
  });
}

StatusOr<ParsedCommandLine<BenchOptions>> ParseBenchCommandLine(int argc, const char* const* argv) {
  return ParseOptions<BenchOptions>("camserve-bench", "camserve-bench: a load generator for camserve", AddBenchFlags,
                                    argc, argv);
}

const char* EncodingFlagName(v1::HeatmapEncoding encoding) {
  for (const auto& [name, known] : KnownEncodings()) {
    if (encoding == known) return name.c_str();
  }
  return "unknown";
}

}  // namespace camserve
