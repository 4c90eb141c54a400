// Tests for the reports: the CSV header and rows, the JSON array, the
// table, and how levels without OK answers are written.
#include "client/bench/bench_report.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace camserve {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

LevelReport ClosedLoopReport() {
  LevelReport r;
  r.level = {2, 0};
  r.duration_s = 10;
  r.ok = 190;
  r.errors = 4;
  r.errors_by_code["UNAVAILABLE"] = {3, "queue full"};
  r.errors_by_code["DEADLINE_EXCEEDED"] = {1, "deadline"};
  r.throughput_rps = 19;
  r.p50_ms = 52.1;
  r.p90_ms = 55.25;
  r.p99_ms = 60.5;
  r.max_ms = 61.0;
  r.mean_ms = 52.75;
  r.mean_batch_size = 1.5;
  r.cache_hit_fraction = 0.25;
  r.mean_stage_ms = {0.5, 1.25, 40, 8, 0.75, 0.125, 51, 0.25, 0.375, 0.625};
  return r;
}

LevelReport FailedOpenLoopReport() {
  LevelReport r;
  r.level = {0, 7.5};
  r.duration_s = 2;
  r.errors = 15;
  r.errors_by_code["UNAVAILABLE"] = {15, "connection refused"};
  r.p50_ms = r.p90_ms = r.p99_ms = r.max_ms = r.mean_ms = kNaN;
  r.mean_batch_size = r.cache_hit_fraction = kNaN;
  r.mean_stage_ms.fill(kNaN);
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_CASE("CSV has a header and one row per level", "[bench_report]") {
  const std::vector<std::string> lines = Lines(FormatCsv({ClosedLoopReport(), FailedOpenLoopReport()}));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] ==
        "load,concurrency,rate_rps,duration_s,ok,errors,throughput_rps,p50_ms,p90_ms,p99_ms,"
        "max_ms,mean_ms,mean_batch_size,cache_hit_fraction,server_queue_ms,"
        "server_preprocess_ms,server_forward_ms,server_backward_ms,server_cam_ms,"
        "server_encode_ms,server_total_ms,server_cache_get_ms,server_cache_put_ms,server_decode_ms,errors_by_code");
  CHECK(lines[1] ==
        "concurrency,2,,10.000,190,4,19.000,52.100,55.250,60.500,61.000,52.750,1.500,0.2500,"
        "0.500,1.250,40.000,8.000,0.750,0.125,51.000,0.250,0.375,0.625,DEADLINE_EXCEEDED=1;UNAVAILABLE=3");
  CHECK(lines[2] == "rate,,7.500,2.000,0,15,0.000,,,,,,,,,,,,,,,,,,UNAVAILABLE=15");
}

TEST_CASE("JSON is an array of level objects with every field", "[bench_report]") {
  const std::string json = FormatJson({ClosedLoopReport(), FailedOpenLoopReport()});
  CHECK(json ==
        "[\n"
        "  {\"load\": \"concurrency\", \"concurrency\": 2, \"rate_rps\": null, "
        "\"duration_s\": 10.000, \"ok\": 190, \"errors\": 4, \"throughput_rps\": 19.000, "
        "\"p50_ms\": 52.100, \"p90_ms\": 55.250, \"p99_ms\": 60.500, \"max_ms\": 61.000, "
        "\"mean_ms\": 52.750, \"mean_batch_size\": 1.500, \"cache_hit_fraction\": 0.2500, "
        "\"server_queue_ms\": 0.500, \"server_preprocess_ms\": 1.250, "
        "\"server_forward_ms\": 40.000, \"server_backward_ms\": 8.000, "
        "\"server_cam_ms\": 0.750, \"server_encode_ms\": 0.125, \"server_total_ms\": 51.000, "
        "\"server_cache_get_ms\": 0.250, \"server_cache_put_ms\": 0.375, \"server_decode_ms\": 0.625, "
        "\"errors_by_code\": {\"DEADLINE_EXCEEDED\": 1, \"UNAVAILABLE\": 3}},\n"
        "  {\"load\": \"rate\", \"concurrency\": null, \"rate_rps\": 7.500, "
        "\"duration_s\": 2.000, \"ok\": 0, \"errors\": 15, \"throughput_rps\": 0.000, "
        "\"p50_ms\": null, \"p90_ms\": null, \"p99_ms\": null, \"max_ms\": null, "
        "\"mean_ms\": null, \"mean_batch_size\": null, \"cache_hit_fraction\": null, "
        "\"server_queue_ms\": null, \"server_preprocess_ms\": null, "
        "\"server_forward_ms\": null, \"server_backward_ms\": null, \"server_cam_ms\": null, "
        "\"server_encode_ms\": null, \"server_total_ms\": null, "
        "\"server_cache_get_ms\": null, \"server_cache_put_ms\": null, \"server_decode_ms\": null, "
        "\"errors_by_code\": {\"UNAVAILABLE\": 15}}\n"
        "]\n");
  CHECK(FormatJson({}) == "[\n]\n");
}

TEST_CASE("The table shows both views and the first error of each code", "[bench_report]") {
  const std::string table = FormatTable({ClosedLoopReport(), FailedOpenLoopReport()});
  const std::vector<std::string> lines = Lines(table);
  CHECK(lines[1] ==
        "level                     ok    errors     req/s       p50       p90       p99       max"
        "      mean");
  CHECK(lines[2] ==
        "concurrency 2            190         4     19.00     52.10     55.25     60.50     61.00"
        "     52.75");
  CHECK(lines[3] ==
        "rate 7.5 req/s             0        15      0.00         -         -         -         -"
        "         -");
  CHECK(table.find("queue preprocess    forward   backward        cam     encode      total") != std::string::npos);
  CHECK(table.find("concurrency 2            1.50       25.0       0.50       1.25      40.00") != std::string::npos);
  CHECK(table.find("concurrency 2: 3 x UNAVAILABLE (first: queue full)") != std::string::npos);
  CHECK(table.find("rate 7.5 req/s: 15 x UNAVAILABLE (first: connection refused)") != std::string::npos);
}

}  // namespace
}  // namespace camserve
