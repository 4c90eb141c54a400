// Tests for DrawLatencyChart: it runs plot_latency.py (the copy CMake puts
// next to camserve-bench) and reports a missing interpreter or script, and a
// failing script, by name. The chart's content is plot_latency_test.py's.
#include "client/bench/latency_chart.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/image/image_decoder.h"
#include "core/util/file_io.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

namespace fs = std::filesystem;

constexpr char kReport[] =
    R"([{"load": "concurrency", "concurrency": 1, "rate_rps": null, "throughput_rps": 19.0, "p50_ms": 52.1, "p99_ms": 60.0},
        {"load": "concurrency", "concurrency": 2, "rate_rps": null, "throughput_rps": 0.0, "p50_ms": null, "p99_ms": null},
        {"load": "rate", "concurrency": null, "rate_rps": 40, "throughput_rps": 36.6, "p50_ms": 210.4, "p99_ms": 260.7}])";

// The script next to camserve-bench in the build tree.
LatencyChartOptions BuildTreeScript() {
  const char* bench = std::getenv("CAMSERVE_BENCH_BINARY");
  REQUIRE(bench != nullptr);
  LatencyChartOptions options;
  options.script_path = (fs::path(bench).parent_path() / "plot_latency.py").string();
  return options;
}

TEST_CASE("The chart is an 800x500 PNG", "[latency_chart]") {
  TempDir dir;
  const std::string png_path = dir / "chart.png";
  const Status drawn = DrawLatencyChart(kReport, png_path, BuildTreeScript());
  INFO(drawn.ToString());
  REQUIRE(drawn.ok());
  StatusOr<std::string> png = ReadFileBytes(png_path);
  REQUIRE(png.ok());
  StatusOr<DecodedImage> image = DecodeImage(*png);
  REQUIRE(image.ok());
  CHECK(image->width == 800);
  CHECK(image->height == 500);
}

TEST_CASE("A missing interpreter says what to install", "[latency_chart]") {
  TempDir dir;
  LatencyChartOptions options = BuildTreeScript();
  options.python = "/nonexistent/python3";
  const Status drawn = DrawLatencyChart(kReport, dir / "chart.png", options);
  CHECK(drawn.code() == StatusCode::kFailedPrecondition);
  CHECK(drawn.message() ==
        "cannot run /nonexistent/python3 (No such file or directory): the chart needs python3 with matplotlib; "
        "on Debian: apt-get install python3 python3-matplotlib");
  CHECK_FALSE(fs::exists(dir / "chart.png"));
}

TEST_CASE("A missing script is named with where it was looked for", "[latency_chart]") {
  TempDir dir;
  LatencyChartOptions options;
  options.script_path = dir / "plot_latency.py";
  const Status drawn = DrawLatencyChart(kReport, dir / "chart.png", options);
  CHECK(drawn.code() == StatusCode::kFailedPrecondition);
  CHECK(drawn.message() == "the chart script " + options.script_path +
                               " is missing (CMake copies it next to camserve-bench; CAMSERVE_PLOT_SCRIPT names "
                               "another)");
}

TEST_CASE("A failing script is an error with its exit code", "[latency_chart]") {
  TempDir dir;
  const LatencyChartOptions options = BuildTreeScript();
  const Status drawn = DrawLatencyChart("not json", dir / "chart.png", options);
  CHECK(drawn.code() == StatusCode::kUnknown);
  CHECK(drawn.message() ==
        "the chart was not drawn: " + options.script_path + " exited with code 1 (its message is above)");
}

TEST_CASE("CAMSERVE_PLOT_SCRIPT names the script when none is given", "[latency_chart]") {
  TempDir dir;
  const std::string script = dir / "elsewhere.py";
  REQUIRE(setenv("CAMSERVE_PLOT_SCRIPT", script.c_str(), 1) == 0);
  const Status drawn = DrawLatencyChart(kReport, dir / "chart.png", LatencyChartOptions{});
  unsetenv("CAMSERVE_PLOT_SCRIPT");
  CHECK(drawn.code() == StatusCode::kFailedPrecondition);
  CHECK(drawn.message().rfind("the chart script " + script + " is missing", 0) == 0);
}

}  // namespace
}  // namespace camserve
