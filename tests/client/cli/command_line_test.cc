// Tests for SplitCommandLine: which arguments FlagParser gets and which are
// positional.
#include "client/cli/command_line.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace camserve {
namespace {

using Strings = std::vector<std::string>;

SplitArguments Split(const std::vector<const char*>& argv) {
  return SplitCommandLine(static_cast<int>(argv.size()), argv.data(), {"info"});
}

TEST_CASE("Flags with values and positional arguments separate", "[command_line]") {
  const SplitArguments split =
      Split({"tool", "a.png", "--addr", "host:1", "dir", "--top-k=3", "--class", "-1", "b.jpg"});
  CHECK(split.flags == Strings{"tool", "--addr", "host:1", "--top-k=3", "--class", "-1"});
  CHECK(split.positional == Strings{"a.png", "dir", "b.jpg"});
}

TEST_CASE("A switch takes no value", "[command_line]") {
  CHECK(Split({"tool", "--info", "a.png"}).flags == Strings{"tool", "--info=true"});
  CHECK(Split({"tool", "--info", "a.png"}).positional == Strings{"a.png"});
  CHECK(Split({"tool", "--info=false"}).flags == Strings{"tool", "--info=false"});
}

TEST_CASE("Help, single dashes and a missing value go to FlagParser", "[command_line]") {
  const SplitArguments split = Split({"tool", "--help", "-h", "-x", "a.png", "--out"});
  CHECK(split.flags == Strings{"tool", "--help", "-h", "-x", "--out"});
  CHECK(split.positional == Strings{"a.png"});
}

TEST_CASE("Everything after -- is positional", "[command_line]") {
  const SplitArguments split = Split({"tool", "--out", "o", "--", "--weird.png", "-x.png"});
  CHECK(split.flags == Strings{"tool", "--out", "o"});
  CHECK(split.positional == Strings{"--weird.png", "-x.png"});
}

}  // namespace
}  // namespace camserve
