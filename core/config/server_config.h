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
// pass silently. Keys that only make sense together are checked together:
// tls.cert_file and tls.key_file both or neither, tls.client_ca_file only
// with them, and a `listen` address that is not loopback (127.0.0.0/8, ::1,
// localhost) only with TLS or tls.allow_plaintext. The full key reference is
// docs/configuration.md.
//
// Thread-safety: plain values, read-only after loading.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

struct ModelConfig {
  std::string name;  // default: the file name without .pt
  std::string path;  // TorchScript file
  // fp32, bf16 or fp16; empty: the top-level `precision`.
  std::string precision;
};

// Every setting, with its default. The defaults here are the only ones: the
// key table (ConfigKeys) reads them from a default-constructed ServerConfig
// for --help, the docs test and config/camserve.yaml's test.
struct ServerConfig {
  // The value of a batcher setting that follows the device.
  static constexpr int kByDevice = -1;

  std::string listen = "127.0.0.1:50051";
  std::string metrics_listen = "127.0.0.1:9464";
  // The HTTP/JSON API's address; empty: off.
  std::string http_listen;
  int http_threads = 16;
  std::vector<ModelConfig> models;
  std::string default_model;  // default: the first model
  std::string device = "auto";
  // The precision of models that do not set their own (models[].precision).
  std::string precision = "fp32";
  bool engine_optimize = true;
  double engine_optimize_tolerance = 1e-4;
  double engine_precision_tolerance = 2e-2;
  int engine_perturbation_batch_size = 32;
  int engine_max_head_runs_per_image = 4096;
  int engine_max_scorecam_forwards = 1024;
  int engine_quality_steps = 16;
  int threads_intra_op = 0;  // 0: all cores
  int threads_inter_op = 0;  // 0: all cores
  // kByDevice: chosen by the device (BatcherDefaultsFor), "auto" in files,
  // variables and flags.
  int batcher_max_batch_size = kByDevice;
  int64_t batcher_max_queue_delay_us = kByDevice;
  std::vector<int> batcher_preferred_batch_sizes;
  int batcher_max_queue_size = 256;
  int batcher_workers = kByDevice;
  int batcher_priority_levels = 2;
  int batcher_completion_threads = 2;
  std::string cache_dir = "camserve-cache";
  int64_t cache_max_size_bytes = int64_t{1} << 30;
  int64_t cache_max_value_bytes = int64_t{8} << 20;
  bool cache_enabled = true;
  bool cache_required = false;
  bool profiling_enabled = true;
  std::string logging_level = "info";   // trace, debug, info, warn, error
  std::string logging_format = "text";  // text or json
  int64_t limits_max_receive_message_bytes = 16 << 20;
  int64_t limits_drain_timeout_ms = 10000;
  int64_t limits_max_inflight_bytes = int64_t{512} << 20;
  int64_t limits_max_image_pixels = int64_t{64} << 20;
  int limits_max_image_side_px = 16384;
  int64_t limits_max_output_pixels = int64_t{16} << 20;
  int64_t limits_default_deadline_ms = 60000;
  int limits_max_request_string_bytes = 256;
  int limits_max_stream_inflight = 32;
  int limits_max_layer_copies = 4;
  int64_t grpc_keepalive_time_ms = 30000;
  int64_t grpc_keepalive_timeout_ms = 10000;
  bool reflection = true;
  // TLS: serving TLS needs both cert and key; a client CA makes client
  // certificates mandatory (mutual TLS). Empty: plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  int tls_refresh_interval_s = 60;
  // Plaintext on a non-loopback `listen` address (behind a TLS-terminating
  // proxy or mesh); without it such a configuration is refused.
  bool tls_allow_plaintext = false;
  // Bearer tokens (core/security/token_authenticator.h); empty: no
  // authentication.
  std::string auth_token_file;
};

// One key of the configuration: its dotted name, what it means, the values
// it accepts, and how it reads from and writes to a ServerConfig. The one
// place a key is defined: YAML, environment, flags, --help and the docs test
// all go through the table.
struct ConfigKey {
  std::string name;
  std::string help;
  // The accepted values in words ("an integer >= 1", "text or json").
  std::string accepts;
  // The value in a default-constructed ServerConfig, as a flag would give
  // it; empty for keys without a default (config, model).
  std::string default_value;
  // Parses `value` into `config`; the error says why `value` is wrong (the
  // loader adds the key, the value and the source).
  std::function<Status(const std::string& value, ServerConfig* config)> apply;
  // The value in `config`, as a flag would give it.
  std::function<std::string(const ServerConfig& config)> format;
};
const std::vector<ConfigKey>& ConfigKeys();

// camserve --help: every key as a flag with its meaning, accepted values and
// default, and the environment variable that sets it.
std::string ServerUsage();

// The key reference of docs/configuration.md, a Markdown table made from the
// key table (the docs test checks that the document holds exactly this).
std::string ConfigReferenceMarkdown();

// The batcher settings that follow the device, chosen from measurements
// (docs/benchmarks.md, "Default batcher settings").
struct BatcherDefaults {
  int max_batch_size = 0;
  int64_t max_queue_delay_us = 0;
  int workers = 0;
};
BatcherDefaults BatcherDefaultsFor(bool cuda);

// `config` with every kByDevice setting replaced by the device's default.
ServerConfig WithDeviceDefaults(ServerConfig config, bool cuda);

// Loads the configuration. `argv` holds the flags (argv[0] is skipped);
// `environment` the process environment (name -> value).
StatusOr<ServerConfig> LoadServerConfig(int argc, const char* const* argv,
                                        const std::map<std::string, std::string>& environment);

// Whether `address` (HOST:PORT, as `listen` takes it) is a loopback
// address: 127.0.0.0/8, [::1] or localhost.
bool IsLoopbackAddress(const std::string& address);

// The process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace camserve
