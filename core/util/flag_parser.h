// FlagParser: the small "--name value" / "--name=value" parser the tools and
// the server configuration share. Unknown flags and missing values are errors that name the flag.
// Not thread-safe; used once at start-up.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

class FlagParser {
 public:
  // `known` maps each accepted flag (without "--") to its help text.
  explicit FlagParser(std::map<std::string, std::string> known) : known_(std::move(known)) {}

  // Parses argv; "--help" sets help_requested().
  Status Parse(int argc, const char* const* argv);

  bool help_requested() const { return help_; }
  std::string Usage(const std::string& program) const;

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // Every flag given, by name (without "--").
  const std::map<std::string, std::string>& values() const { return values_; }
  std::string GetString(const std::string& name, const std::string& fallback) const;
  StatusOr<int> GetInt(const std::string& name, int fallback) const;
  // Comma-separated integers, e.g. "1,2,4".
  StatusOr<std::vector<int>> GetIntList(const std::string& name, const std::vector<int>& fallback) const;

 private:
  std::map<std::string, std::string> known_;
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

}  // namespace camserve
