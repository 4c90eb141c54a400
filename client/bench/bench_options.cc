#include "client/bench/bench_options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "client/common/request_flags.h"

namespace camserve {
namespace {

std::string FlagError(const std::string& flag, const std::string& problem) { return "--" + flag + ": " + problem; }

// A finite decimal number, all of `text`.
StatusOr<double> ParseNumber(const std::string& flag, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value)) {
    return InvalidArgumentError(FlagError(flag, "needs a number; was '" + text + "'"));
  }
  return value;
}

std::string FormatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A number flag that must be > 0, or >= 0 when `zero_ok`.
StatusOr<double> GetPositiveNumber(const FlagParser& flags, const std::string& flag, double fallback, bool zero_ok) {
  if (!flags.Has(flag)) return fallback;
  StatusOr<double> value = ParseNumber(flag, flags.GetString(flag, ""));
  if (!value.ok()) return value.status();
  if (*value < 0 || (*value == 0 && !zero_ok)) {
    return InvalidArgumentError(
        FlagError(flag, std::string("must be ") + (zero_ok ? ">= 0" : "> 0") + "; was " + FormatNumber(*value)));
  }
  return value;
}

// An integer flag that must be >= `minimum`.
StatusOr<int> GetIntAtLeast(const FlagParser& flags, const std::string& flag, int fallback, int minimum) {
  StatusOr<int> value = flags.GetInt(flag, fallback);
  if (!value.ok()) return value.status();
  if (*value < minimum) {
    return InvalidArgumentError(
        FlagError(flag, "must be >= " + std::to_string(minimum) + "; was " + std::to_string(*value)));
  }
  return value;
}

StatusOr<std::vector<LoadLevel>> ConcurrencyLevels(const FlagParser& flags) {
  StatusOr<std::vector<int>> values = flags.GetIntList("concurrency", {1});
  if (!values.ok()) return values.status();
  if (values->empty()) return InvalidArgumentError(FlagError("concurrency", "needs a level"));
  std::vector<LoadLevel> levels;
  for (int concurrency : *values) {
    if (concurrency < 1) {
      return InvalidArgumentError(
          FlagError("concurrency", "each level must be >= 1; was " + std::to_string(concurrency)));
    }
    levels.push_back({concurrency, 0});
  }
  return levels;
}

StatusOr<std::vector<LoadLevel>> RateLevels(const FlagParser& flags) {
  std::vector<LoadLevel> levels;
  std::stringstream list(flags.GetString("rate", ""));
  for (std::string part; std::getline(list, part, ',');) {
    StatusOr<double> rate = ParseNumber("rate", part);
    if (!rate.ok()) return rate.status();
    if (*rate <= 0) {
      return InvalidArgumentError(FlagError("rate", "each rate must be > 0; was " + part));
    }
    levels.push_back({0, *rate});
  }
  if (levels.empty()) return InvalidArgumentError(FlagError("rate", "needs a rate"));
  return levels;
}

StatusOr<std::vector<LoadLevel>> LevelsFromFlags(const FlagParser& flags) {
  if (flags.Has("concurrency") && flags.Has("rate")) {
    return InvalidArgumentError("--concurrency and --rate exclude each other; give one");
  }
  if (flags.Has("arrivals") && !flags.Has("rate")) {
    return InvalidArgumentError("--arrivals needs --rate (it shapes open-loop sends)");
  }
  return flags.Has("rate") ? RateLevels(flags) : ConcurrencyLevels(flags);
}

StatusOr<Arrivals> ArrivalsFromFlags(const FlagParser& flags) {
  const std::string name = flags.GetString("arrivals", "poisson");
  if (name == "poisson") return Arrivals::kPoisson;
  if (name == "constant") return Arrivals::kConstant;
  return InvalidArgumentError(FlagError("arrivals", "'" + name + "' is not one of poisson, constant"));
}

StatusOr<ImageMode> ImageModeFromFlags(const FlagParser& flags) {
  const std::string name = flags.GetString("mode", "unique");
  if (name == "unique") return ImageMode::kUnique;
  if (name == "repeated") return ImageMode::kRepeated;
  return InvalidArgumentError(FlagError("mode", "'" + name + "' is not one of unique, repeated"));
}

struct EncodingName {
  const char* name;
  v1::HeatmapEncoding encoding;
};

constexpr EncodingName kEncodingNames[] = {
    {"float32", v1::HEATMAP_ENCODING_FLOAT32},
    {"uint8", v1::HEATMAP_ENCODING_UINT8},
    {"png_heatmap", v1::HEATMAP_ENCODING_PNG_HEATMAP},
    {"png_overlay", v1::HEATMAP_ENCODING_PNG_OVERLAY},
};

StatusOr<v1::HeatmapEncoding> EncodingFromFlags(const FlagParser& flags) {
  const std::string name = flags.GetString("encoding", "float32");
  for (const EncodingName& known : kEncodingNames) {
    if (name == known.name) return known.encoding;
  }
  return InvalidArgumentError(
      FlagError("encoding", "'" + name + "' is not one of float32, uint8, png_heatmap, png_overlay"));
}

Status SetLoadOptions(const FlagParser& flags, LoadGenerator::Options* load) {
  StatusOr<double> duration_s = GetPositiveNumber(flags, "duration-s", load->duration_s, false);
  if (!duration_s.ok()) return duration_s.status();
  StatusOr<double> warmup_s = GetPositiveNumber(flags, "warmup-s", load->warmup_s, true);
  if (!warmup_s.ok()) return warmup_s.status();
  StatusOr<Arrivals> arrivals = ArrivalsFromFlags(flags);
  if (!arrivals.ok()) return arrivals.status();
  StatusOr<int> seed = GetIntAtLeast(flags, "seed", static_cast<int>(load->seed), 0);
  if (!seed.ok()) return seed.status();
  load->duration_s = *duration_s;
  load->warmup_s = *warmup_s;
  load->arrivals = *arrivals;
  load->seed = static_cast<uint64_t>(*seed);
  return Status::Ok();
}

Status SetRequestTemplate(const FlagParser& flags, v1::ExplainRequest* request) {
  StatusOr<v1::ExplainRequest> shared = RequestTemplateFromFlags(flags);
  if (!shared.ok()) return shared.status();
  StatusOr<v1::HeatmapEncoding> encoding = EncodingFromFlags(flags);
  if (!encoding.ok()) return encoding.status();
  *request = std::move(shared).value();
  request->set_encoding(*encoding);
  return Status::Ok();
}

}  // namespace

const char* EncodingFlagName(v1::HeatmapEncoding encoding) {
  for (const EncodingName& known : kEncodingNames) {
    if (encoding == known.encoding) return known.name;
  }
  return "unknown";
}

std::map<std::string, std::string> BenchFlagHelp() {
  std::map<std::string, std::string> help = RequestFlagHelp();
  help.insert({
      {"addr", "camserve's address HOST:PORT (default 127.0.0.1:50051)"},
      {"image", "JPEG or PNG file the requests are made from (required)"},
      {"concurrency",
       "closed loop: comma-separated outstanding-request levels, e.g. 1,2,4,8 "
       "(default 1)"},
      {"rate", "open loop instead: comma-separated request rates in req/s, e.g. 5,10,20"},
      {"arrivals", "with --rate: poisson (default) or constant gaps between sends"},
      {"seed", "seed of the Poisson gaps (default 1)"},
      {"duration-s", "measurement window per level, seconds (default 10)"},
      {"warmup-s", "unmeasured time before each window, seconds (default 2)"},
      {"mode",
       "unique (default: every request a different JPEG, the cache misses) or "
       "repeated (the file's bytes every time)"},
      {"unique-images",
       "with --mode unique: distinct images made before measuring, reused in "
       "order after that (default 2048)"},
      {"encoding", "heatmap encoding: float32 (default), uint8, png_heatmap, png_overlay"},
      {"deadline-ms", "per-request deadline, milliseconds (default 30000)"},
      {"csv", "write one CSV row per level to this file"},
      {"json", "write a JSON array, one object per level, to this file"},
      {"plot", "write a PNG chart of p50/p99 latency against throughput to this file"},
  });
  return help;
}

StatusOr<BenchOptions> BenchOptionsFromFlags(const FlagParser& flags) {
  BenchOptions options;
  options.address = flags.GetString("addr", options.address);
  if (options.address.empty()) return InvalidArgumentError("--addr: must not be empty");
  options.image_path = flags.GetString("image", "");
  if (options.image_path.empty()) return InvalidArgumentError("--image: is required");
  CAMSERVE_RETURN_IF_ERROR(SetRequestTemplate(flags, &options.request_template));
  StatusOr<std::vector<LoadLevel>> levels = LevelsFromFlags(flags);
  if (!levels.ok()) return levels.status();
  options.levels = std::move(levels).value();
  CAMSERVE_RETURN_IF_ERROR(SetLoadOptions(flags, &options.load));
  StatusOr<ImageMode> mode = ImageModeFromFlags(flags);
  if (!mode.ok()) return mode.status();
  options.image_mode = *mode;
  if (flags.Has("unique-images") && options.image_mode != ImageMode::kUnique) {
    return InvalidArgumentError("--unique-images needs --mode unique");
  }
  StatusOr<int> unique_images = GetIntAtLeast(flags, "unique-images", options.pool.count, 1);
  if (!unique_images.ok()) return unique_images.status();
  options.pool.count = *unique_images;
  StatusOr<int> deadline_ms = GetIntAtLeast(flags, "deadline-ms", options.deadline_ms, 1);
  if (!deadline_ms.ok()) return deadline_ms.status();
  options.deadline_ms = *deadline_ms;
  options.csv_path = flags.GetString("csv", "");
  options.json_path = flags.GetString("json", "");
  options.plot_path = flags.GetString("plot", "");
  return options;
}

}  // namespace camserve
