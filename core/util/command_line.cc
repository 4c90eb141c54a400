#include "core/util/command_line.h"

#include <cmath>
#include <cstdlib>
#include <functional>

namespace camserve {
namespace {

// What no option took, "--" left out (CLI11 keeps it there when positionals
// follow it).
std::vector<std::string> UnknownArguments(const CLI::App& app) {
  std::vector<std::string> unknown;
  for (const std::string& argument : app.remaining()) {
    if (argument != "--") unknown.push_back(argument);
  }
  return unknown;
}

Status UnknownArgumentError(const std::string& argument) {
  if (argument.size() > 1 && argument[0] == '-') return InvalidArgumentError("unknown flag " + argument);
  return InvalidArgumentError("unexpected argument '" + argument + "'");
}

// A validator that reads the value as a finite number and asks `in_range`.
CLI::Validator NumberValidator(const std::string& label, const std::string& requirement,
                               std::function<bool(long double)> in_range) {
  return CLI::Validator(
      [requirement, in_range](std::string& text) -> std::string {
        char* end = nullptr;
        const long double number = std::strtold(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(number)) {
          return "'" + text + "' is not a number";
        }
        return in_range(number) ? "" : "must be " + requirement + "; was " + text;
      },
      label);
}

}  // namespace

StatusOr<CommandLineAction> ParseCommandLine(CLI::App& app, int argc, const char* const* argv) {
  app.allow_extras();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return CommandLineAction::kShowHelp;
  } catch (const CLI::ParseError& error) {
    return InvalidArgumentError(error.what());
  }
  const std::vector<std::string> unknown = UnknownArguments(app);
  if (!unknown.empty()) return UnknownArgumentError(unknown.front());
  return CommandLineAction::kRun;
}

CLI::Validator Positive() {
  return NumberValidator("POSITIVE", "> 0", [](long double number) { return number > 0; });
}

CLI::Validator NonNegative() {
  return NumberValidator("NONNEGATIVE", ">= 0", [](long double number) { return number >= 0; });
}

}  // namespace camserve
