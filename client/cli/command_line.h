// SplitCommandLine: separates a command line into the part FlagParser reads
// (which only knows "--name value" and "--name=value") and the positional
// arguments (camserve-client's IMAGE_OR_FOLDER...).
//
// Rules, in order, for each argument after argv[0]:
//   "--"                  every later argument is positional
//   "--help", "-h"        kept for FlagParser
//   "--name=value"        kept for FlagParser
//   "--name", a switch    kept as "--name=true" (switches take no value)
//   "--name"              kept for FlagParser with the next argument as its
//                         value (FlagParser reports a missing one)
//   "-x..."               kept for FlagParser, which rejects it by name
//   anything else         positional
//
// Thread-safety: a pure function. Errors: none; FlagParser reports them.
// Cost: one pass over argv.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace camserve {

struct SplitArguments {
  // argv[0] followed by the flag arguments, for FlagParser::Parse.
  std::vector<std::string> flags;
  std::vector<std::string> positional;
};

// `switches` names the flags (without "--") that take no value.
SplitArguments SplitCommandLine(int argc, const char* const* argv, const std::set<std::string>& switches);

}  // namespace camserve
