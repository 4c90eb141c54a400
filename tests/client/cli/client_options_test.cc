// Tests for camserve-client's command line: defaults, flags among the
// IMAGE_OR_FOLDER arguments, the --info switch, "--", the help and errors
// that name the flag.
#include "client/cli/client_options.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace camserve {
namespace {

using Strings = std::vector<std::string>;

StatusOr<ParsedCommandLine<ClientOptions>> ParseArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "camserve-client");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseClientCommandLine(static_cast<int>(argv.size()), argv.data());
}

// The options of a command line that must parse and not ask for help.
ClientOptions Parse(const std::vector<std::string>& args) {
  StatusOr<ParsedCommandLine<ClientOptions>> parsed = ParseArgs(args);
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  REQUIRE_FALSE(parsed->help.has_value());
  return parsed->options;
}

Status ParseError(const std::vector<std::string>& args) { return ParseArgs(args).status(); }

TEST_CASE("Defaults", "[client_options]") {
  const ClientOptions options = Parse({"a.png"});
  CHECK(options.request.address == "127.0.0.1:50051");
  CHECK(options.request.deadline_ms == 60000);
  CHECK(options.request.resolution == v1::HEATMAP_RESOLUTION_ORIGINAL);
  CHECK(options.request.top_k == 0);
  CHECK_FALSE(options.request.target_class.has_value());
  CHECK_FALSE(options.request.bypass_cache);
  CHECK(options.out_dir == ".");
  CHECK(options.concurrency == 4);
  CHECK_FALSE(options.info);
  CHECK(options.inputs == Strings{"a.png"});
}

TEST_CASE("Flags with values and IMAGE_OR_FOLDER arguments mix in any order", "[client_options]") {
  const ClientOptions options =
      Parse({"a.png", "--addr", "host:1", "dir", "--top-k=3", "--class", "-1", "b.jpg", "--concurrency", "8"});
  CHECK(options.inputs == Strings{"a.png", "dir", "b.jpg"});
  CHECK(options.request.address == "host:1");
  CHECK(options.request.top_k == 3);
  CHECK(options.request.target_class == -1);
  CHECK(options.concurrency == 8);
}

TEST_CASE("--info takes no value", "[client_options]") {
  const ClientOptions with_image = Parse({"--info", "a.png"});
  CHECK(with_image.info);
  CHECK(with_image.inputs == Strings{"a.png"});
  CHECK(Parse({"--info"}).inputs.empty());
  CHECK_FALSE(Parse({"--info=false", "a.png"}).info);
}

TEST_CASE("Everything after -- is an IMAGE_OR_FOLDER", "[client_options]") {
  const ClientOptions options = Parse({"--out", "o", "--", "--weird.png", "-x.png"});
  CHECK(options.out_dir == "o");
  CHECK(options.inputs == Strings{"--weird.png", "-x.png"});
}

TEST_CASE("The request flags make the request template", "[client_options]") {
  const ClientOptions options =
      Parse({"--model", "resnet18", "--method", "layercam", "--layer", "layer3", "--class", "207", "--top-k", "3",
             "--resolution", "feature", "--bypass-cache", "true", "--deadline-ms", "500", "x.png"});
  CHECK(options.request.deadline_ms == 500);
  const v1::ExplainRequest request = RequestTemplateFromFlags(options.request);
  CHECK(request.model() == "resnet18");
  CHECK(request.method() == "layercam");
  CHECK(request.target_layer() == "layer3");
  CHECK(request.has_target_class());
  CHECK(request.target_class() == 207);
  CHECK(request.top_k() == 3);
  CHECK(request.resolution() == v1::HEATMAP_RESOLUTION_FEATURE);
  CHECK(request.bypass_cache());
  CHECK(request.image().empty());
  CHECK_FALSE(RequestTemplateFromFlags(Parse({"x.png"}).request).has_target_class());
}

TEST_CASE("--help gives the flags with the defaults of ClientOptions", "[client_options]") {
  const StatusOr<ParsedCommandLine<ClientOptions>> parsed = ParseArgs({"--help"});
  REQUIRE(parsed.ok());
  REQUIRE(parsed->help.has_value());
  const std::string& help = *parsed->help;
  using Catch::Matchers::Contains;
  CHECK_THAT(help, Contains("Usage: camserve-client [OPTIONS] [IMAGE_OR_FOLDER...]"));
  CHECK_THAT(help, Contains("--addr TEXT=127.0.0.1:50051"));
  CHECK_THAT(help, Contains("--deadline-ms INT:POSITIVE=60000"));
  CHECK_THAT(help, Contains("--resolution TEXT:{input,feature,original}=original"));
  CHECK_THAT(help, Contains("--bypass-cache BOOLEAN=false"));
  CHECK_THAT(help, Contains("--concurrency INT:POSITIVE=4"));
  CHECK_THAT(help, Contains("--out TEXT=."));
  CHECK_THAT(help, Contains("--info "));
  for (const char* flag : {"--model", "--method", "--layer", "--class", "--top-k"}) CHECK_THAT(help, Contains(flag));
}

TEST_CASE("A bad command line is INVALID_ARGUMENT naming the flag", "[client_options]") {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "give IMAGE_OR_FOLDER..., --info or --health"},
      {{"--info=false"}, "give IMAGE_OR_FOLDER..., --info or --health"},
      {{"a.png", "--concurrency", "0"}, "--concurrency: must be > 0; was 0"},
      {{"a.png", "--deadline-ms", "soon"}, "--deadline-ms: 'soon' is not a number"},
      {{"a.png", "--top-k", "-1"}, "--top-k: must be >= 0; was -1"},
      {{"a.png", "--class", "cat"}, "Could not convert: --class = cat"},
      {{"a.png", "--resolution", "huge"}, "--resolution: huge not in {input,feature,original}"},
      {{"a.png", "--bypass-cache", "maybe"}, "Could not convert: --bypass-cache = maybe"},
      {{"a.png", "--addr", ""}, "--addr: must not be empty"},
      {{"a.png", "--speed", "9"}, "unknown flag --speed"},
      {{"a.png", "-x"}, "unknown flag -x"},
      {{"a.png", "--out"}, "--out: 1 required TEXT missing"},
      {{"a.png", "--info=maybe"}, "Could not convert: --info = maybe"},
  };
  for (const Case& c : cases) {
    const Status status = ParseError(c.args);
    INFO(status.ToString());
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message() == c.message);
  }
}

}  // namespace
}  // namespace camserve
