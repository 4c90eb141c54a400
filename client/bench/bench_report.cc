#include "client/bench/bench_report.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

namespace camserve {
namespace {

// A number column of the CSV and JSON reports; NaN means "no value".
struct NumericField {
  std::string name;
  double value;
  int decimals;
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<NumericField> NumericFields(const LevelReport& r) {
  const bool open_loop = r.level.is_open_loop();
  std::vector<NumericField> fields = {
      {"concurrency", open_loop ? kNaN : r.level.concurrency, 0},
      {"rate_rps", open_loop ? r.level.rate_rps : kNaN, 3},
      {"duration_s", r.duration_s, 3},
      {"ok", static_cast<double>(r.ok), 0},
      {"errors", static_cast<double>(r.errors), 0},
      {"throughput_rps", r.throughput_rps, 3},
      {"p50_ms", r.p50_ms, 3},
      {"p90_ms", r.p90_ms, 3},
      {"p99_ms", r.p99_ms, 3},
      {"max_ms", r.max_ms, 3},
      {"mean_ms", r.mean_ms, 3},
      {"mean_batch_size", r.mean_batch_size, 3},
      {"cache_hit_fraction", r.cache_hit_fraction, 4},
  };
  for (int s = 0; s < kServerStageCount; ++s) {
    fields.push_back({std::string("server_") + ServerStageName(s) + "_ms", r.mean_stage_ms[s], 3});
  }
  return fields;
}

std::string FormatFixed(double value, int decimals, const std::string& nan_text) {
  if (std::isnan(value)) return nan_text;
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

const char* LoadName(const LevelReport& r) { return r.level.is_open_loop() ? "rate" : "concurrency"; }

// ---------------------------------------------------------------------------
// Table.

std::string Cell(double value, int decimals) { return FormatFixed(value, decimals, "-"); }

// The first cell left-aligned in 18 characters, the others right-aligned in
// `width` characters each, a space apart.
std::string TableRow(const std::vector<std::string>& cells, size_t width) {
  std::string row;
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string& cell = cells[i];
    const size_t cell_width = i == 0 ? 18 : width;
    const std::string padding(cell.size() < cell_width ? cell_width - cell.size() : 0, ' ');
    row += i == 0 ? cell + padding : " " + padding + cell;
  }
  return row + "\n";
}

std::string ClientTable(const std::vector<LevelReport>& reports) {
  std::string table = "client side, end to end, over OK answers (latency in ms)\n";
  table += TableRow({"level", "ok", "errors", "req/s", "p50", "p90", "p99", "max", "mean"}, 9);
  for (const LevelReport& r : reports) {
    table += TableRow({r.level.Describe(), std::to_string(r.ok), std::to_string(r.errors), Cell(r.throughput_rps, 2),
                       Cell(r.p50_ms, 2), Cell(r.p90_ms, 2), Cell(r.p99_ms, 2), Cell(r.max_ms, 2), Cell(r.mean_ms, 2)},
                      9);
  }
  return table;
}

std::string ServerTable(const std::vector<LevelReport>& reports) {
  std::string table = "server side, mean per OK answer (stages in ms)\n";
  std::vector<std::string> header = {"level", "batch", "hit%"};
  for (int s = 0; s < kServerStageCount; ++s) header.push_back(ServerStageName(s));
  table += TableRow(header, 10);
  for (const LevelReport& r : reports) {
    std::vector<std::string> cells = {r.level.Describe(), Cell(r.mean_batch_size, 2),
                                      Cell(100 * r.cache_hit_fraction, 1)};
    for (double stage_ms : r.mean_stage_ms) cells.push_back(Cell(stage_ms, 2));
    table += TableRow(cells, 10);
  }
  return table;
}

std::string ErrorLines(const std::vector<LevelReport>& reports) {
  std::string lines;
  for (const LevelReport& r : reports) {
    for (const auto& [code, errors] : r.errors_by_code) {
      lines += r.level.Describe() + ": " + std::to_string(errors.count) + " x " + code +
               " (first: " + errors.first_message + ")\n";
    }
  }
  return lines.empty() ? lines : "\nerrors\n" + lines;
}

// ---------------------------------------------------------------------------
// CSV and JSON.

std::string CsvErrors(const LevelReport& r) {
  std::string text;
  for (const auto& [code, errors] : r.errors_by_code) {
    text += (text.empty() ? "" : ";") + code + "=" + std::to_string(errors.count);
  }
  return text;
}

std::string JsonErrors(const LevelReport& r) {
  std::string text;
  for (const auto& [code, errors] : r.errors_by_code) {
    text += (text.empty() ? "\"" : ", \"") + code + "\": " + std::to_string(errors.count);
  }
  return "{" + text + "}";
}

std::string JsonObject(const LevelReport& r) {
  std::string object = std::string("{\"load\": \"") + LoadName(r) + "\"";
  for (const NumericField& field : NumericFields(r)) {
    object += ", \"" + field.name + "\": " + FormatFixed(field.value, field.decimals, "null");
  }
  return object + ", \"errors_by_code\": " + JsonErrors(r) + "}";
}

}  // namespace

std::string FormatTable(const std::vector<LevelReport>& reports) {
  return ClientTable(reports) + "\n" + ServerTable(reports) + ErrorLines(reports);
}

std::string FormatCsv(const std::vector<LevelReport>& reports) {
  std::string csv = "load";
  for (const NumericField& field : NumericFields(LevelReport{})) csv += "," + field.name;
  csv += ",errors_by_code\n";
  for (const LevelReport& r : reports) {
    csv += LoadName(r);
    for (const NumericField& field : NumericFields(r)) {
      csv += "," + FormatFixed(field.value, field.decimals, "");
    }
    csv += "," + CsvErrors(r) + "\n";
  }
  return csv;
}

std::string FormatJson(const std::vector<LevelReport>& reports) {
  std::string json = "[";
  for (size_t i = 0; i < reports.size(); ++i) {
    json += (i == 0 ? "\n  " : ",\n  ") + JsonObject(reports[i]);
  }
  return json + "\n]\n";
}

}  // namespace camserve
