// Tests for camserve-bench's flags: defaults, every option, the help, and
// errors that name the flag.
#include "client/bench/bench_options.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace camserve {
namespace {

StatusOr<ParsedCommandLine<BenchOptions>> ParseArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "camserve-bench");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseBenchCommandLine(static_cast<int>(argv.size()), argv.data());
}

// The options of a command line that must parse and not ask for help.
BenchOptions Parse(const std::vector<std::string>& args) {
  StatusOr<ParsedCommandLine<BenchOptions>> parsed = ParseArgs(args);
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  REQUIRE_FALSE(parsed->help.has_value());
  return parsed->options;
}

TEST_CASE("Defaults", "[bench_options]") {
  const BenchOptions options = Parse({"--image", "cat.jpg"});
  CHECK(options.request.address == "127.0.0.1:50051");
  CHECK(options.image_path == "cat.jpg");
  const std::vector<LoadLevel> levels = options.Levels();
  REQUIRE(levels.size() == 1);
  CHECK(levels[0].concurrency == 1);
  CHECK_FALSE(levels[0].is_open_loop());
  CHECK(options.load.duration_s == 10);
  CHECK(options.load.warmup_s == 2);
  CHECK(options.load.arrivals == Arrivals::kPoisson);
  CHECK(options.load.seed == 1);
  CHECK(options.image_mode == ImageMode::kUnique);
  CHECK(options.pool.count == 2048);
  CHECK(options.request.deadline_ms == 30000);
  const v1::ExplainRequest request = options.RequestTemplate();
  CHECK(request.encoding() == v1::HEATMAP_ENCODING_FLOAT32);
  CHECK(request.resolution() == v1::HEATMAP_RESOLUTION_INPUT);
  CHECK(request.top_k() == 0);
  CHECK_FALSE(request.has_target_class());
  CHECK_FALSE(request.bypass_cache());
  CHECK(options.csv_path.empty());
  CHECK(options.json_path.empty());
  CHECK(options.plot_path.empty());
}

TEST_CASE("Every flag is read", "[bench_options]") {
  const BenchOptions options = Parse({"--addr",
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
  CHECK(options.request.address == "10.0.0.1:9000");
  const std::vector<LoadLevel> levels = options.Levels();
  REQUIRE(levels.size() == 4);
  CHECK(levels[0].concurrency == 1);
  CHECK(levels[1].concurrency == 2);
  CHECK(levels[2].concurrency == 4);
  CHECK(levels[3].concurrency == 8);
  CHECK_FALSE(levels[3].is_open_loop());
  CHECK(options.load.duration_s == 1.5);
  CHECK(options.load.warmup_s == 0);
  CHECK(options.pool.count == 100);
  CHECK(options.request.deadline_ms == 500);
  CHECK(options.csv_path == "o.csv");
  CHECK(options.json_path == "o.json");
  CHECK(options.plot_path == "o.png");
  const v1::ExplainRequest request = options.RequestTemplate();
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
  const BenchOptions options = Parse({"--image", "x.png", "--rate", "5,12.5", "--arrivals", "constant", "--seed", "7",
                                      "--mode", "repeated", "--encoding", "uint8"});
  const std::vector<LoadLevel> levels = options.Levels();
  REQUIRE(levels.size() == 2);
  CHECK(levels[0].rate_rps == 5);
  CHECK(levels[0].concurrency == 0);
  CHECK(levels[1].rate_rps == 12.5);
  CHECK(levels[1].is_open_loop());
  CHECK(options.load.arrivals == Arrivals::kConstant);
  CHECK(options.load.seed == 7);
  CHECK(options.image_mode == ImageMode::kRepeated);
  CHECK(options.RequestTemplate().encoding() == v1::HEATMAP_ENCODING_UINT8);
}

TEST_CASE("Bad flags are INVALID_ARGUMENT naming the flag and value", "[bench_options]") {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "--image is required"},
      {{"--image", "x", "--addr", ""}, "--addr: must not be empty"},
      {{"--image", "x", "--concurrency", "0"}, "--concurrency: must be > 0; was 0"},
      {{"--image", "x", "--concurrency", "1,x"}, "--concurrency: 'x' is not a number"},
      {{"--image", "x", "--concurrency", "1.5"}, "Could not convert: --concurrency = 1.5"},
      {{"--image", "x", "--concurrency", "2", "--rate", "3"}, "--concurrency excludes --rate"},
      {{"--image", "x", "--rate", "0"}, "--rate: must be > 0; was 0"},
      {{"--image", "x", "--rate", "5,-1"}, "--rate: must be > 0; was -1"},
      {{"--image", "x", "--rate", "fast"}, "--rate: 'fast' is not a number"},
      {{"--image", "x", "--rate", ""}, "--rate: '' is not a number"},
      {{"--image", "x", "--arrivals", "poisson"}, "--arrivals requires --rate"},
      {{"--image", "x", "--rate", "2", "--arrivals", "bursty"}, "--arrivals: bursty not in {poisson,constant}"},
      {{"--image", "x", "--duration-s", "0"}, "--duration-s: must be > 0; was 0"},
      {{"--image", "x", "--duration-s", "abc"}, "--duration-s: 'abc' is not a number"},
      {{"--image", "x", "--duration-s", "nan"}, "--duration-s: 'nan' is not a number"},
      {{"--image", "x", "--duration-s", "inf"}, "--duration-s: 'inf' is not a number"},
      {{"--image", "x", "--warmup-s", "-1"}, "--warmup-s: must be >= 0; was -1"},
      {{"--image", "x", "--mode", "random"}, "--mode: random not in {unique,repeated}"},
      {{"--image", "x", "--unique-images", "0"}, "--unique-images: must be > 0; was 0"},
      {{"--image", "x", "--mode", "repeated", "--unique-images", "5"}, "--unique-images: needs --mode unique"},
      {{"--image", "x", "--encoding", "jpeg"}, "--encoding: jpeg not in {float32,uint8,png_heatmap,png_overlay}"},
      {{"--image", "x", "--deadline-ms", "0"}, "--deadline-ms: must be > 0; was 0"},
      {{"--image", "x", "--seed", "-3"}, "--seed: must be >= 0; was -3"},
      {{"--image", "x", "--top-k", "-1"}, "--top-k: must be >= 0; was -1"},
      {{"--image", "x", "--resolution", "huge"}, "--resolution: huge not in {input,feature,original}"},
      {{"--image", "x", "--speed", "9"}, "unknown flag --speed"},
      {{"--image", "x", "extra"}, "unexpected argument 'extra'"},
      {{"--image"}, "--image: 1 required TEXT missing"},
  };
  for (const Case& c : cases) {
    const Status status = ParseArgs(c.args).status();
    INFO(status.ToString());
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message() == c.message);
  }
}

TEST_CASE("Encodings round-trip through their flag names", "[bench_options]") {
  for (const char* name : {"float32", "uint8", "png_heatmap", "png_overlay"}) {
    const BenchOptions options = Parse({"--image", "x", "--encoding", name});
    CHECK(std::string(EncodingFlagName(options.RequestTemplate().encoding())) == name);
  }
}

TEST_CASE("--help lists every flag with the defaults of BenchOptions", "[bench_options]") {
  // No --image: help comes before the required flags.
  const StatusOr<ParsedCommandLine<BenchOptions>> parsed = ParseArgs({"--help"});
  REQUIRE(parsed.ok());
  REQUIRE(parsed->help.has_value());
  const std::string& help = *parsed->help;
  using Catch::Matchers::Contains;
  CHECK_THAT(help, Contains("Usage: camserve-bench [OPTIONS]"));
  CHECK_THAT(help, Contains("--image TEXT REQUIRED"));
  CHECK_THAT(help, Contains("--concurrency INT:POSITIVE=[1] ... Excludes: --rate"));
  CHECK_THAT(help, Contains("--rate FLOAT:POSITIVE ... Excludes: --concurrency"));
  CHECK_THAT(help, Contains("--arrivals TEXT:{poisson,constant}=poisson Needs: --rate"));
  CHECK_THAT(help, Contains("--seed UINT:NONNEGATIVE=1"));
  CHECK_THAT(help, Contains("--duration-s FLOAT:POSITIVE=10"));
  CHECK_THAT(help, Contains("--warmup-s FLOAT:NONNEGATIVE=2"));
  CHECK_THAT(help, Contains("--mode TEXT:{unique,repeated}=unique"));
  CHECK_THAT(help, Contains("--unique-images INT:POSITIVE=2048"));
  CHECK_THAT(help, Contains("--encoding TEXT:{float32,uint8,png_heatmap,png_overlay}=float32"));
  CHECK_THAT(help, Contains("--deadline-ms INT:POSITIVE=30000"));
  CHECK_THAT(help, Contains("--addr TEXT=127.0.0.1:50051"));
  CHECK_THAT(help, Contains("--resolution TEXT:{input,feature,original}=input"));
  CHECK_THAT(help, Contains("--top-k INT:NONNEGATIVE=0"));
  for (const char* flag :
       {"--csv", "--json", "--plot", "--model", "--method", "--layer", "--class", "--bypass-cache"}) {
    CHECK_THAT(help, Contains(flag));
  }
}

}  // namespace
}  // namespace camserve
