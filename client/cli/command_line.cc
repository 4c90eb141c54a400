#include "client/cli/command_line.h"

namespace camserve {

SplitArguments SplitCommandLine(int argc, const char* const* argv, const std::set<std::string>& switches) {
  SplitArguments split;
  if (argc > 0) split.flags.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--") {
      split.positional.insert(split.positional.end(), argv + i + 1, argv + argc);
      break;
    }
    if (argument.empty() || argument[0] != '-') {
      split.positional.push_back(argument);
      continue;
    }
    const bool takes_next_value =
        argument.rfind("--", 0) == 0 && argument.find('=') == std::string::npos && argument != "--help";
    if (takes_next_value && switches.count(argument.substr(2))) {
      split.flags.push_back(argument + "=true");
      continue;
    }
    split.flags.push_back(argument);
    if (takes_next_value && i + 1 < argc) split.flags.push_back(argv[++i]);
  }
  return split;
}

}  // namespace camserve
