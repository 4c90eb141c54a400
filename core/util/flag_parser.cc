#include "core/util/flag_parser.h"

#include <sstream>

namespace camserve {

Status FlagParser::Parse(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return InvalidArgumentError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) return InvalidArgumentError("flag --" + name + " needs a value");
      value = argv[++i];
    }
    if (!known_.count(name)) return InvalidArgumentError("unknown flag --" + name);
    values_[name] = value;
  }
  return Status::Ok();
}

std::string FlagParser::Usage(const std::string& program) const {
  std::string usage = "usage: " + program + " [flags]\n";
  for (const auto& [name, help] : known_) usage += "  --" + name + "  " + help + "\n";
  return usage;
}

std::string FlagParser::GetString(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

StatusOr<int> FlagParser::GetInt(const std::string& name, int fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    int value = std::stoi(it->second, &used);
    if (used == it->second.size()) return value;
  } catch (const std::exception&) {
  }
  return InvalidArgumentError("flag --" + name + " needs an integer; was '" + it->second + "'");
}

StatusOr<std::vector<int>> FlagParser::GetIntList(const std::string& name, const std::vector<int>& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::vector<int> values;
  std::stringstream stream(it->second);
  for (std::string part; std::getline(stream, part, ',');) {
    try {
      size_t used = 0;
      values.push_back(std::stoi(part, &used));
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      return InvalidArgumentError("flag --" + name + " needs comma-separated integers; was '" + it->second + "'");
    }
  }
  return values;
}

}  // namespace camserve
