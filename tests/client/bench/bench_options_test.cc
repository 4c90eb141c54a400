// Tests for camserve-bench's flags: defaults, every option, and errors that
// name the flag.
#include "client/bench/bench_options.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace camserve {
namespace {

StatusOr<BenchOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "camserve-bench");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  FlagParser flags(BenchFlagHelp());
  const Status parsed = flags.Parse(static_cast<int>(argv.size()), argv.data());
  if (!parsed.ok()) return parsed;
  return BenchOptionsFromFlags(flags);
}

TEST_CASE("Defaults", "[bench_options]") {
  const StatusOr<BenchOptions> options = Parse({"--image", "cat.jpg"});
  INFO(options.status().ToString());
  REQUIRE(options.ok());
  CHECK(options->address == "127.0.0.1:50051");
  CHECK(options->image_path == "cat.jpg");
  REQUIRE(options->levels.size() == 1);
  CHECK(options->levels[0].concurrency == 1);
  CHECK(options->load.duration_s == 10);
  CHECK(options->load.warmup_s == 2);
  CHECK(options->image_mode == ImageMode::kUnique);
  CHECK(options->pool.count == 2048);
  CHECK(options->deadline_ms == 30000);
  CHECK(options->request_template.encoding() == v1::HEATMAP_ENCODING_FLOAT32);
  CHECK(options->csv_path.empty());
  CHECK(options->json_path.empty());
  CHECK(options->plot_path.empty());
}

TEST_CASE("Every flag is read", "[bench_options]") {
  const StatusOr<BenchOptions> options = Parse({"--addr",
                                                "10.0.0.1:9000",
                                                "--image",
                                                "x.png",
                                                "--concurrency",
                                                "1,2,4,8",
                                                "--duration-s",
                                                "1.5",
                                                "--warmup-s",
                                                "0",
                                                "--mode",
                                                "unique",
                                                "--unique-images",
                                                "100",
                                                "--encoding",
                                                "png_overlay",
                                                "--csv",
                                                "o.csv",
                                                "--json=o.json",
                                                "--plot",
                                                "o.png",
                                                "--deadline-ms",
                                                "500",
                                                "--model",
                                                "resnet18",
                                                "--method",
                                                "layercam",
                                                "--layer",
                                                "layer3",
                                                "--class",
                                                "207",
                                                "--top-k",
                                                "3",
                                                "--resolution",
                                                "feature",
                                                "--bypass-cache",
                                                "true"});
  INFO(options.status().ToString());
  REQUIRE(options.ok());
  CHECK(options->address == "10.0.0.1:9000");
  REQUIRE(options->levels.size() == 4);
  CHECK(options->levels[3].concurrency == 8);
  CHECK_FALSE(options->levels[3].is_open_loop());
  CHECK(options->load.duration_s == 1.5);
  CHECK(options->load.warmup_s == 0);
  CHECK(options->pool.count == 100);
  CHECK(options->deadline_ms == 500);
  CHECK(options->csv_path == "o.csv");
  CHECK(options->json_path == "o.json");
  CHECK(options->plot_path == "o.png");
  const v1::ExplainRequest& request = options->request_template;
  CHECK(request.encoding() == v1::HEATMAP_ENCODING_PNG_OVERLAY);
  CHECK(request.model() == "resnet18");
  CHECK(request.method() == "layercam");
  CHECK(request.target_layer() == "layer3");
  CHECK(request.target_class() == 207);
  CHECK(request.top_k() == 3);
  CHECK(request.resolution() == v1::HEATMAP_RESOLUTION_FEATURE);
  CHECK(request.bypass_cache());
  CHECK(request.image().empty());
}

TEST_CASE("--rate makes open-loop levels", "[bench_options]") {
  const StatusOr<BenchOptions> options = Parse({"--image", "x.png", "--rate", "5,12.5", "--arrivals", "constant",
                                                "--seed", "7", "--mode", "repeated", "--encoding", "uint8"});
  INFO(options.status().ToString());
  REQUIRE(options.ok());
  REQUIRE(options->levels.size() == 2);
  CHECK(options->levels[0].rate_rps == 5);
  CHECK(options->levels[1].rate_rps == 12.5);
  CHECK(options->levels[1].is_open_loop());
  CHECK(options->load.arrivals == Arrivals::kConstant);
  CHECK(options->load.seed == 7);
  CHECK(options->image_mode == ImageMode::kRepeated);
  CHECK(options->request_template.encoding() == v1::HEATMAP_ENCODING_UINT8);
}

TEST_CASE("Bad flags are INVALID_ARGUMENT naming the flag and value", "[bench_options]") {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {{}, "--image: is required"},
      {{"--image", "x", "--addr", ""}, "--addr"},
      {{"--image", "x", "--concurrency", "0"}, "--concurrency: each level must be >= 1; was 0"},
      {{"--image", "x", "--concurrency", "1,x"}, "--concurrency"},
      {{"--image", "x", "--concurrency", "2", "--rate", "3"}, "--concurrency and --rate"},
      {{"--image", "x", "--rate", "0"}, "--rate: each rate must be > 0; was 0"},
      {{"--image", "x", "--rate", "fast"}, "--rate: needs a number; was 'fast'"},
      {{"--image", "x", "--rate", ""}, "--rate"},
      {{"--image", "x", "--arrivals", "poisson"}, "--arrivals needs --rate"},
      {{"--image", "x", "--rate", "2", "--arrivals", "bursty"}, "--arrivals: 'bursty'"},
      {{"--image", "x", "--duration-s", "0"}, "--duration-s: must be > 0; was 0"},
      {{"--image", "x", "--duration-s", "abc"}, "--duration-s: needs a number; was 'abc'"},
      {{"--image", "x", "--duration-s", "nan"}, "--duration-s: needs a number"},
      {{"--image", "x", "--warmup-s", "-1"}, "--warmup-s: must be >= 0; was -1"},
      {{"--image", "x", "--mode", "random"}, "--mode: 'random' is not one of unique, repeated"},
      {{"--image", "x", "--unique-images", "0"}, "--unique-images: must be >= 1; was 0"},
      {{"--image", "x", "--mode", "repeated", "--unique-images", "5"}, "--unique-images needs"},
      {{"--image", "x", "--encoding", "jpeg"}, "--encoding: 'jpeg'"},
      {{"--image", "x", "--deadline-ms", "0"}, "--deadline-ms: must be >= 1; was 0"},
      {{"--image", "x", "--seed", "-3"}, "--seed: must be >= 0; was -3"},
      {{"--image", "x", "--top-k", "-1"}, "--top-k"},
      {{"--image", "x", "--resolution", "huge"}, "--resolution"},
      {{"--image", "x", "--speed", "9"}, "unknown flag --speed"},
  };
  for (const Case& c : cases) {
    const StatusOr<BenchOptions> options = Parse(c.args);
    INFO("mentions: " << c.mentions << "; got " << options.status().ToString());
    CHECK(options.status().code() == StatusCode::kInvalidArgument);
    CHECK(options.status().message().find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("Encodings round-trip through their flag names", "[bench_options]") {
  for (const char* name : {"float32", "uint8", "png_heatmap", "png_overlay"}) {
    const StatusOr<BenchOptions> options = Parse({"--image", "x", "--encoding", name});
    REQUIRE(options.ok());
    CHECK(std::string(EncodingFlagName(options->request_template.encoding())) == name);
  }
}

TEST_CASE("Help lists the shared request flags and the bench's own", "[bench_options]") {
  const auto help = BenchFlagHelp();
  for (const char* flag : {"addr",          "image",    "concurrency", "rate",  "duration-s", "warmup-s",    "mode",
                           "unique-images", "encoding", "csv",         "json",  "plot",       "deadline-ms", "model",
                           "method",        "layer",    "class",       "top-k", "resolution", "bypass-cache"}) {
    CHECK(help.count(flag) == 1);
  }
}

}  // namespace
}  // namespace camserve
