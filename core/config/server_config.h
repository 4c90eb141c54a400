// ServerConfig: every setting of the camserve server, from four layers, each
// overriding the one before: built-in defaults, the YAML file (--config or
// CAMSERVE_CONFIG), environment variables (CAMSERVE_<KEY>, the dotted key in
// upper case with dots as underscores: CAMSERVE_CACHE_DIR), command-line
// flags (--<key> with dots and underscores as dashes: --cache-dir).
// `--model PATH` (CAMSERVE_MODEL) serves that one model.
//
// Errors: INVALID_ARGUMENT naming the key, the bad value and where it came
// from ("batcher.max_batch_size: 'x' is not an integer (from flag
// --batcher-max-batch-size)"); unknown keys are errors too, so typos do not
// pass silently. The full key reference is docs/configuration.md.
//
// Thread-safety: plain values, read-only after loading.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

struct ModelConfig {
  std::string name;  // default: the file name without .pt
  std::string path;  // TorchScript file
};

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  std::string metrics_listen = "127.0.0.1:9464";
  std::vector<ModelConfig> models;
  std::string default_model;  // default: the first model
  std::string device = "auto";
  int threads_intra_op = 0;  // 0: all cores
  int threads_inter_op = 0;  // 0: all cores
  int batcher_max_batch_size = 8;
  int64_t batcher_max_queue_delay_us = 2000;
  std::vector<int> batcher_preferred_batch_sizes;
  int batcher_max_queue_size = 256;
  int batcher_workers = 1;
  int batcher_priority_levels = 2;
  std::string cache_dir = "camserve-cache";
  int64_t cache_max_size_bytes = int64_t{1} << 30;
  bool cache_enabled = true;
  bool cache_required = false;
  bool profiling_enabled = true;
  std::string logging_level = "info";   // trace, debug, info, warn, error
  std::string logging_format = "text";  // text or json
  int64_t limits_max_receive_message_bytes = 16 << 20;
  int64_t limits_drain_timeout_ms = 10000;
  int64_t grpc_keepalive_time_ms = 30000;
  int64_t grpc_keepalive_timeout_ms = 10000;
};

// One documented key: its dotted name, default and meaning.
struct ConfigKey {
  std::string name;
  std::string default_value;
  std::string help;
};
const std::vector<ConfigKey>& ConfigKeys();

// Loads the configuration. `argv` holds the flags (argv[0] is skipped);
// `environment` the process environment (name -> value).
StatusOr<ServerConfig> LoadServerConfig(int argc, const char* const* argv,
                                        const std::map<std::string, std::string>& environment);

// The process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace camserve
