// BenchOptions: camserve-bench's command line, parsed and checked in one
// place so that the binary and its tests agree on every flag.
//
// Thread-safety: free functions, no shared state.
// Errors: INVALID_ARGUMENT whose message names the flag and its value
// ("--concurrency: each level must be >= 1; was 0").
#pragma once

#include <map>
#include <string>
#include <vector>

#include "camserve/v1/explainer.pb.h"
#include "client/bench/image_pool.h"
#include "client/bench/latency_stats.h"
#include "client/bench/load_generator.h"
#include "core/util/flag_parser.h"
#include "core/util/status.h"

namespace camserve {

struct BenchOptions {
  // --addr: camserve's gRPC address. Default: 127.0.0.1:50051.
  std::string address = "127.0.0.1:50051";
  // --image: the JPEG or PNG every request is made from. Required.
  std::string image_path;
  // The shared request flags (--model, --method, ...) and --encoding; no
  // input set.
  v1::ExplainRequest request_template;
  // --concurrency or --rate, one level per value, in the order given.
  // Default: concurrency 1.
  std::vector<LoadLevel> levels;
  // --warmup-s, --duration-s, --arrivals, --seed.
  LoadGenerator::Options load;
  // --mode. Default: kUnique.
  ImageMode image_mode = ImageMode::kUnique;
  // --unique-images (count). Default: 2048.
  UniquePoolOptions pool;
  // --deadline-ms: per-request deadline, milliseconds. Default: 30000.
  int deadline_ms = 30000;
  // --csv, --json, --plot: where to write the reports; empty: not written.
  std::string csv_path;
  std::string json_path;
  std::string plot_path;
};

// Flag name -> help text for every flag camserve-bench accepts, the shared
// request flags included.
std::map<std::string, std::string> BenchFlagHelp();

// The --encoding spelling of `encoding` ("png_overlay").
const char* EncodingFlagName(v1::HeatmapEncoding encoding);

// The options the parsed flags give, defaults for those not given.
StatusOr<BenchOptions> BenchOptionsFromFlags(const FlagParser& flags);

}  // namespace camserve
