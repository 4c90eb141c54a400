// Tests for ParseCommandLine, ParseOptions, the number validators and
// AddChoiceOption: what every camserve program's command line shares.
#include "core/util/command_line.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace camserve {
namespace {

enum class Shape { kRound, kSquare };

struct ToyOptions {
  int count = 3;
  double ratio_s = 0.5;
  std::vector<int> sizes = {1, 2};
  Shape shape = Shape::kSquare;
  bool verbose = false;
  std::vector<std::string> files;
};

void AddToyFlags(CLI::App& app, ToyOptions* options) {
  app.add_option("--count", options->count, "how many")->check(Positive())->capture_default_str();
  app.add_option("--ratio-s", options->ratio_s, "a ratio")->check(NonNegative())->capture_default_str();
  app.add_option("--sizes", options->sizes, "sizes")->delimiter(',')->check(Positive())->capture_default_str();
  AddChoiceOption<Shape>(app, "--shape", &options->shape, {{"round", Shape::kRound}, {"square", Shape::kSquare}},
                         "the shape");
  app.add_flag("--verbose", options->verbose, "say more");
  app.add_option("FILE", options->files, "files");
}

StatusOr<ParsedCommandLine<ToyOptions>> ParseToy(std::vector<std::string> args) {
  args.insert(args.begin(), "toy");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseOptions<ToyOptions>("toy", "toy: a test program", AddToyFlags, static_cast<int>(argv.size()),
                                  argv.data());
}

ToyOptions Parse(const std::vector<std::string>& args) {
  StatusOr<ParsedCommandLine<ToyOptions>> parsed = ParseToy(args);
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  REQUIRE_FALSE(parsed->help.has_value());
  return parsed->options;
}

std::string ErrorOf(const std::vector<std::string>& args) {
  const Status status = ParseToy(args).status();
  CHECK(status.code() == StatusCode::kInvalidArgument);
  return status.message();
}

TEST_CASE("Flags not given keep the options' initial values", "[command_line]") {
  const ToyOptions options = Parse({});
  CHECK(options.count == 3);
  CHECK(options.ratio_s == 0.5);
  CHECK(options.sizes == std::vector<int>{1, 2});
  CHECK(options.shape == Shape::kSquare);
  CHECK_FALSE(options.verbose);
  CHECK(options.files.empty());
}

TEST_CASE("Values come as --name value or --name=value, lists comma-separated", "[command_line]") {
  const ToyOptions options =
      Parse({"a", "--count", "7", "--ratio-s=0", "--sizes", "4,8,16", "--shape", "round", "--verbose", "b"});
  CHECK(options.count == 7);
  CHECK(options.ratio_s == 0);
  CHECK(options.sizes == std::vector<int>{4, 8, 16});
  CHECK(options.shape == Shape::kRound);
  CHECK(options.verbose);
  CHECK(options.files == std::vector<std::string>{"a", "b"});
}

TEST_CASE("A flag given twice takes the last value", "[command_line]") {
  CHECK(Parse({"--count", "7", "--count", "9"}).count == 9);
  CHECK(Parse({"--shape", "round", "--shape", "square"}).shape == Shape::kSquare);
}

TEST_CASE("After -- everything is positional", "[command_line]") {
  CHECK(Parse({"--", "--count", "-x"}).files == std::vector<std::string>{"--count", "-x"});
}

TEST_CASE("--help and -h ask for the help, which shows the initial values", "[command_line]") {
  for (const char* flag : {"--help", "-h"}) {
    const StatusOr<ParsedCommandLine<ToyOptions>> parsed = ParseToy({flag});
    REQUIRE(parsed.ok());
    REQUIRE(parsed->help.has_value());
    const std::string& help = *parsed->help;
    using Catch::Matchers::Contains;
    CHECK_THAT(help, Contains("toy: a test program"));
    CHECK_THAT(help, Contains("Usage: toy [OPTIONS] [FILE...]"));
    CHECK_THAT(help, Contains("--count INT:POSITIVE=3"));
    CHECK_THAT(help, Contains("--ratio-s FLOAT:NONNEGATIVE=0.5"));
    CHECK_THAT(help, Contains("--sizes INT:POSITIVE=[1,2] ..."));
    CHECK_THAT(help, Contains("--shape TEXT:{round,square}=square"));
  }
}

TEST_CASE("Number validators say what is wrong with the value", "[command_line]") {
  CHECK(ErrorOf({"--count", "0"}) == "--count: must be > 0; was 0");
  CHECK(ErrorOf({"--count", "-2"}) == "--count: must be > 0; was -2");
  CHECK(ErrorOf({"--count", "many"}) == "--count: 'many' is not a number");
  CHECK(ErrorOf({"--count", ""}) == "--count: '' is not a number");
  CHECK(ErrorOf({"--ratio-s", "-0.5"}) == "--ratio-s: must be >= 0; was -0.5");
  CHECK(ErrorOf({"--ratio-s", "nan"}) == "--ratio-s: 'nan' is not a number");
  CHECK(ErrorOf({"--ratio-s", "-inf"}) == "--ratio-s: '-inf' is not a number");
  CHECK(ErrorOf({"--sizes", "4,0"}) == "--sizes: must be > 0; was 0");
  CHECK(ErrorOf({"--count", "2.5"}) == "Could not convert: --count = 2.5");
}

TEST_CASE("Choices refuse other names with the list", "[command_line]") {
  CHECK(ErrorOf({"--shape", "oval"}) == "--shape: oval not in {round,square}");
}

TEST_CASE("Unknown flags and unexpected arguments are named", "[command_line]") {
  CLI::App app("no positionals", "toy");
  int count = 0;
  app.add_option("--count", count, "how many");
  const auto parse = [&](std::vector<const char*> argv) {
    argv.insert(argv.begin(), "toy");
    return ParseCommandLine(app, static_cast<int>(argv.size()), argv.data()).status();
  };
  CHECK(parse({"--speed", "9"}).message() == "unknown flag --speed");
  CHECK(parse({"-x"}).message() == "unknown flag -x");
  CHECK(parse({"extra"}).message() == "unexpected argument 'extra'");
  CHECK(parse({"--count"}).message() == "--count: 1 required INT missing");
  CHECK(parse({"--count", "2"}).ok());
  CHECK(count == 2);
}

TEST_CASE("An unknown flag among positionals is named", "[command_line]") {
  CHECK(ErrorOf({"a", "--speed", "9"}) == "unknown flag --speed");
}

}  // namespace
}  // namespace camserve
