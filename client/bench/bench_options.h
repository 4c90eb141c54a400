// BenchOptions: camserve-bench's command line, defined and checked in one
// place (on CLI11) so that the binary, its --help and its tests agree on
// every flag. The defaults are the initial values of BenchOptions.
//
// Thread-safety: free functions on values.
// Errors: INVALID_ARGUMENT whose message names the flag, e.g.
// "--concurrency: must be > 0; was 0", "--concurrency excludes --rate".
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "camserve/v1/explainer.pb.h"
#include "client/bench/image_pool.h"
#include "client/bench/latency_stats.h"
#include "client/bench/load_generator.h"
#include "client/common/request_flags.h"
#include "core/util/command_line.h"
#include "core/util/status.h"

namespace camserve {

struct BenchOptions {
  // --image: the JPEG or PNG every request is made from. Required.
  std::string image_path;
  // The flags shared with camserve-client: --addr, --deadline-ms and the
  // request's options. Here the deadline defaults to 30000 ms.
  RequestFlags request = [] {
    RequestFlags flags;
    flags.deadline_ms = 30000;
    return flags;
  }();
  // --encoding: the heatmap encoding asked for. Default: FLOAT32.
  v1::HeatmapEncoding encoding = v1::HEATMAP_ENCODING_FLOAT32;
  // --concurrency: closed-loop levels, requests outstanding at all times,
  // each > 0, in the order given. Default: {1}.
  std::vector<int> concurrency_levels = {1};
  // --rate: open-loop levels instead, requests started per second, each > 0,
  // in the order given. Excludes --concurrency. Default: none.
  std::vector<double> rate_levels_rps;
  // --warmup-s, --duration-s, --arrivals (needs --rate), --seed.
  LoadGenerator::Options load;
  // --mode. Default: kUnique.
  ImageMode image_mode = ImageMode::kUnique;
  // --unique-images (count; needs --mode unique).
  UniquePoolOptions pool;
  // --csv, --json, --plot: where to write the reports; empty: not written.
  std::string csv_path;
  std::string json_path;
  std::string plot_path;

  // The levels to run, in order: one per --rate value if any were given,
  // else one per --concurrency value.
  std::vector<LoadLevel> Levels() const;
  // The request every level sends, without its image.
  v1::ExplainRequest RequestTemplate() const;
};

// Adds every camserve-bench flag to `app`, bound to `options`, whose current
// values are the defaults the help shows.
void AddBenchFlags(CLI::App& app, BenchOptions* options);

// camserve-bench's command line: the options, or the help for --help.
StatusOr<ParsedCommandLine<BenchOptions>> ParseBenchCommandLine(int argc, const char* const* argv);

// The --encoding spelling of `encoding` ("png_overlay").
const char* EncodingFlagName(v1::HeatmapEncoding encoding);

}  // namespace camserve
