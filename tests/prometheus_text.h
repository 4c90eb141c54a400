// Reading a Prometheus text exposition in tests: the value of one series,
// written exactly as the exposition writes it (labels in alphabetical order,
// as prometheus-cpp emits them): camserve_requests_total{method="gradcam",...}.
#pragma once

#include <optional>
#include <sstream>
#include <string>

namespace camserve::testing {

inline std::optional<double> SampleValue(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// How many lines start with `prefix` (a metric name, or a name and "{").
inline int CountLines(const std::string& exposition, const std::string& prefix) {
  std::istringstream lines(exposition);
  int count = 0;
  for (std::string line; std::getline(lines, line);) count += line.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
  return count;
}

}  // namespace camserve::testing
