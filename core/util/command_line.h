// ParseCommandLine: runs a CLI11 app (https://github.com/CLIUtils/CLI11) over
// argv and turns what it found into a Status, so that every camserve program
// reads its flags the same way and its tests need no main().
//
// The app's options write into the variables they were bound to; a program
// binds them to its options struct, whose initial values the help shows as
// the defaults (ParseOptions does both). "--name value" and "--name=value"
// both work; "--" makes every later argument positional. Rules that span
// flags are CLI11's (->excludes, ->needs) or the app's final callback, which
// throws CLI::ValidationError.
//
// Errors: INVALID_ARGUMENT whose message names the flag: CLI11's own
// ("--image is required", "--concurrency excludes --rate"), the validators'
// below ("--duration-s: must be > 0; was 0"), "unknown flag --speed" and
// "unexpected argument 'x'" for what no option takes. --help (-h) is no error:
// the result says that help was asked for and the caller prints app.help().
//
// Thread-safety: as CLI::App's: one thread parses one app, once.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/util/status.h"

namespace camserve {

enum class CommandLineAction {
  kRun,       // the bound variables hold the command line's values
  kShowHelp,  // --help or -h: print app.help() and exit 0
};

// Parses argv[1..argc-1] into `app`'s bound variables. Takes `app` as it is
// except that unknown arguments are reported here instead of by CLI11 (whose
// message lists them in reverse order).
StatusOr<CommandLineAction> ParseCommandLine(CLI::App& app, int argc, const char* const* argv);

// A program's parsed command line: the options to run with, or the help.
template <typename Options>
struct ParsedCommandLine {
  // The flags' values; the defaults where not given.
  Options options;
  // Set when --help (-h) was given: print it and exit 0; `options` are then
  // not checked.
  std::optional<std::string> help;
};

// Parses argv into a default-constructed Options with the flags that
// `add_flags` defines on an app named `program` (the help's first lines are
// `description` and the usage). A flag given twice takes the last value
// (a list flag: every value), so that a command line can override a
// wrapper's flags by appending to them.
template <typename Options>
StatusOr<ParsedCommandLine<Options>> ParseOptions(const std::string& program, const std::string& description,
                                                  void (*add_flags)(CLI::App&, Options*), int argc,
                                                  const char* const* argv) {
  ParsedCommandLine<Options> parsed;
  CLI::App app(description, program);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_flags(app, &parsed.options);
  StatusOr<CommandLineAction> action = ParseCommandLine(app, argc, argv);
  if (!action.ok()) return action.status();
  if (*action == CommandLineAction::kShowHelp) parsed.help = app.help();
  return parsed;
}

// The main() of a command-line tool: parses argv into Options (as
// ParseOptions), prints the help and returns 0 when asked for, else runs
// `run` on the options. A bad command line or a failed run is printed to
// stderr as "program: CODE: message" and returns 1.
template <typename Options>
int RunCommandLineTool(const std::string& program, const std::string& description,
                       void (*add_flags)(CLI::App&, Options*), int argc, const char* const* argv,
                       const std::function<Status(const Options&)>& run) {
  StatusOr<ParsedCommandLine<Options>> parsed = ParseOptions<Options>(program, description, add_flags, argc, argv);
  Status status = parsed.status();
  if (parsed.ok()) {
    if (parsed->help.has_value()) {
      std::fputs(parsed->help->c_str(), stdout);
      return 0;
    }
    status = run(parsed->options);
  }
  if (status.ok()) return 0;
  std::fprintf(stderr, "%s: %s\n", program.c_str(), status.ToString().c_str());
  return 1;
}

// Validators for number flags (each value of a list flag is checked on its
// own). Their help label is CLI11's ("INT:POSITIVE"); their messages say what
// is wrong: "'abc' is not a number", "must be > 0; was 0". NaN and infinities
// are not numbers here.
CLI::Validator Positive();     // > 0
CLI::Validator NonNegative();  // >= 0

// "true" or "false", for a bool's default in the help (CLI11 shows 1 and 0).
inline std::string BoolText(bool value) { return value ? "true" : "false"; }

// Adds `--name NAME` choosing one of `choices` by name into *value. The help
// lists the names and shows the name of *value's current value as the
// default; any other name is refused with the list ("--mode: random not in
// {unique,repeated}").
template <typename T>
CLI::Option* AddChoiceOption(CLI::App& app, const std::string& name, T* value,
                             const std::vector<std::pair<std::string, T>>& choices, const std::string& description) {
  std::vector<std::string> names;
  std::string current;
  for (const auto& [choice_name, choice] : choices) {
    names.push_back(choice_name);
    if (choice == *value) current = choice_name;
  }
  const auto set_value = [value, choices](const std::string& chosen) {
    for (const auto& [choice_name, choice] : choices) {
      if (choice_name == chosen) *value = choice;
    }
  };
  return app.add_option_function<std::string>(name, set_value, description)
      ->check(CLI::IsMember(names))
      ->default_str(current);
}

}  // namespace camserve
