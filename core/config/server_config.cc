#include "core/config/server_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>
#include <utility>

#include "core/util/command_line.h"

extern char** environ;

namespace camserve {
namespace {

// A raw value and where it came from, for error messages.
struct RawValue {
  std::string value;
  std::string source;
};
using RawValues = std::map<std::string, RawValue>;

std::string FlagName(const std::string& key) {
  std::string flag = key;
  std::replace(flag.begin(), flag.end(), '.', '-');
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string EnvName(const std::string& key) {
  std::string env = "CAMSERVE_" + key;
  std::replace(env.begin(), env.end(), '.', '_');
  std::transform(env.begin(), env.end(), env.begin(), [](unsigned char c) { return std::toupper(c); });
  return env;
}

Status BadValue(const std::string& key, const RawValue& raw, const std::string& why) {
  return InvalidArgumentError(key + ": '" + raw.value + "' " + why + " (from " + raw.source + ")");
}

const ConfigKey* FindKey(const std::string& name);

// The most a configuration file may expand to: the bytes of the keys and
// values the loader reads, plus one per node. YAML aliases let a small file
// name one node any number of times (700 bytes of aliases to nested mappings
// were still being walked after a minute; a list of aliases to one long
// string becomes gigabytes), so this, not the file's size, bounds the
// loader's time and memory. Real configurations are a few KB.
constexpr int64_t kMaxConfigExpansionBytes = int64_t{1} << 20;

// Charges `bytes` and one for the node to `budget`; an error once it is spent.
Status Spend(size_t bytes, const std::string& file, int64_t* budget) {
  *budget -= static_cast<int64_t>(bytes) + 1;
  if (*budget >= 0) return Status::Ok();
  return InvalidArgumentError("configuration file " + file + " expands to more than " +
                              std::to_string(kMaxConfigExpansionBytes) +
                              " bytes of keys and values (YAML aliases repeat what they name)");
}

// Flattens a YAML mapping into dotted keys; `models` is kept as a node.
Status FlattenYaml(const YAML::Node& node, const std::string& prefix, const std::string& file, RawValues* out,
                   YAML::Node* models, int64_t* budget) {
  for (const auto& entry : node) {
    const std::string key = prefix + entry.first.as<std::string>();
    CAMSERVE_RETURN_IF_ERROR(Spend(key.size(), file, budget));
    const YAML::Node& value = entry.second;
    if (key == "models") {
      *models = value;
    } else if (value.IsMap()) {
      CAMSERVE_RETURN_IF_ERROR(FlattenYaml(value, key + ".", file, out, models, budget));
    } else if (FindKey(key) == nullptr) {
      return InvalidArgumentError("unknown configuration key '" + key + "' in " + file + "; see docs/configuration.md");
    } else if (value.IsSequence()) {
      std::string joined;
      for (const auto& item : value) {
        const std::string text = item.as<std::string>();
        CAMSERVE_RETURN_IF_ERROR(Spend(text.size(), file, budget));
        joined += (joined.empty() ? "" : ",") + text;
      }
      (*out)[key] = {joined, "file " + file};
    } else {
      std::string text = value.IsNull() ? "" : value.as<std::string>();
      CAMSERVE_RETURN_IF_ERROR(Spend(text.size(), file, budget));
      (*out)[key] = {std::move(text), "file " + file};
    }
  }
  return Status::Ok();
}

Status CheckPrecisionName(const std::string& value) {
  if (value == "fp32" || value == "bf16" || value == "fp16") return Status::Ok();
  return InvalidArgumentError("is not one of fp32, bf16, fp16");
}

Status ReadModels(const YAML::Node& models, const std::string& file, ServerConfig* config, int64_t* budget) {
  if (!models.IsSequence()) return InvalidArgumentError("models: must be a list of {name, path} in " + file);
  for (const auto& entry : models) {
    if (!entry.IsMap() || !entry["path"]) {
      return InvalidArgumentError("models: every entry needs a 'path' (in " + file + ")");
    }
    for (const auto& field : entry) {
      const std::string field_name = field.first.as<std::string>();
      if (field_name != "name" && field_name != "path" && field_name != "precision") {
        return InvalidArgumentError("models: unknown field '" + field_name + "' (in " + file +
                                    "); an entry has name, path and precision");
      }
    }
    ModelConfig model;
    model.path = entry["path"].as<std::string>();
    model.name = entry["name"] ? entry["name"].as<std::string>() : std::filesystem::path(model.path).stem().string();
    if (entry["precision"]) {
      model.precision = entry["precision"].as<std::string>();
      if (Status valid = CheckPrecisionName(model.precision); !valid.ok()) {
        return InvalidArgumentError("models: '" + model.name + "': precision '" + model.precision + "' " +
                                    valid.message() + " (in " + file + ")");
      }
    }
    CAMSERVE_RETURN_IF_ERROR(Spend(model.path.size() + model.name.size() + model.precision.size(), file, budget));
    config->models.push_back(model);
  }
  return Status::Ok();
}

// One string flag per key: the values are checked by the key table, like
// the file's and the environment's, so that every layer gives the same
// messages. The help shows each key's accepted values and default.
void AddServerFlags(CLI::App& app, RawValues* flags) {
  for (const ConfigKey& k : ConfigKeys()) {
    const std::string flag = "--" + FlagName(k.name);
    CLI::Option* option = app.add_option_function<std::string>(
        flag,
        [flags, key = k.name, flag](const std::string& value) {
          (*flags)[key] = {value, "flag " + flag};
        },
        k.help + " (" + k.accepts + "; environment " + EnvName(k.name) + ")");
    option->type_name("VALUE");
    if (!k.default_value.empty()) option->default_str(k.default_value);
  }
}

// --help is server/main.cc's, before loading; here it is let through.
Status ParseFlags(int argc, const char* const* argv, RawValues* flags) {
  StatusOr<ParsedCommandLine<RawValues>> parsed =
      ParseOptions<RawValues>("camserve", "camserve: the gRPC explanation server", AddServerFlags, argc, argv);
  if (!parsed.ok()) return parsed.status();
  *flags = std::move(parsed->options);
  return Status::Ok();
}

// --- value parsers: the error says what is wrong with the value ----------

StatusOr<int64_t> ParseInteger(const std::string& value, int64_t min_value, int64_t max_value) {
  int64_t parsed = 0;
  try {
    size_t used = 0;
    parsed = std::stoll(value, &used);
    if (used != value.size() || value.empty()) return InvalidArgumentError("is not an integer");
  } catch (const std::exception&) {
    return InvalidArgumentError("is not an integer");
  }
  if (parsed < min_value) return InvalidArgumentError("must be >= " + std::to_string(min_value));
  if (parsed > max_value) return InvalidArgumentError("must be <= " + std::to_string(max_value));
  return parsed;
}

StatusOr<bool> ParseBool(const std::string& value) {
  std::string v = value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return InvalidArgumentError("is not a boolean (true/false)");
}

std::string Join(const std::vector<std::string>& items, const std::string& separator) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : separator) + item;
  return joined;
}

Status CheckAddress(const std::string& value) {
  const size_t colon = value.rfind(':');
  if (value.empty() || colon == std::string::npos || colon + 1 == value.size()) {
    return InvalidArgumentError("is not HOST:PORT");
  }
  StatusOr<int64_t> port = ParseInteger(value.substr(colon + 1), 0, std::numeric_limits<int64_t>::max());
  if (!port.ok()) return InvalidArgumentError("is not HOST:PORT");
  if (*port > 65535) return InvalidArgumentError("has a port above 65535");
  return Status::Ok();
}

// --- the key table ---------------------------------------------------------

template <typename T>
ConfigKey IntegerKey(std::string name, T ServerConfig::*field, int64_t min_value, std::string help,
                     int64_t max_value = std::numeric_limits<T>::max()) {
  ConfigKey key;
  key.name = std::move(name);
  key.help = std::move(help);
  key.accepts = "an integer >= " + std::to_string(min_value) +
                (max_value == std::numeric_limits<T>::max() ? "" : " and <= " + std::to_string(max_value));
  key.apply = [field, min_value, max_value](const std::string& value, ServerConfig* config) -> Status {
    StatusOr<int64_t> parsed = ParseInteger(value, min_value, max_value);
    if (!parsed.ok()) return parsed.status();
    config->*field = static_cast<T>(*parsed);
    return Status::Ok();
  };
  key.format = [field](const ServerConfig& config) { return std::to_string(config.*field); };
  return key;
}

// An integer key whose default follows the device: "auto" (the default) or
// an integer >= min_value.
template <typename T>
ConfigKey ByDeviceKey(std::string name, T ServerConfig::*field, int64_t min_value, std::string help) {
  ConfigKey key = IntegerKey(std::move(name), field, min_value, std::move(help));
  key.accepts = "auto or " + key.accepts;
  key.apply = [field, min_value](const std::string& value, ServerConfig* config) -> Status {
    if (value == "auto") {
      config->*field = ServerConfig::kByDevice;
      return Status::Ok();
    }
    StatusOr<int64_t> parsed = ParseInteger(value, min_value, std::numeric_limits<T>::max());
    if (!parsed.ok()) return InvalidArgumentError(parsed.status().message() + " (or auto)");
    config->*field = static_cast<T>(*parsed);
    return Status::Ok();
  };
  key.format = [field](const ServerConfig& config) {
    return config.*field == ServerConfig::kByDevice ? std::string("auto") : std::to_string(config.*field);
  };
  return key;
}

ConfigKey BoolKey(std::string name, bool ServerConfig::*field, std::string help) {
  ConfigKey key;
  key.name = std::move(name);
  key.help = std::move(help);
  key.accepts = "true or false";
  key.apply = [field](const std::string& value, ServerConfig* config) -> Status {
    StatusOr<bool> parsed = ParseBool(value);
    if (!parsed.ok()) return parsed.status();
    config->*field = *parsed;
    return Status::Ok();
  };
  key.format = [field](const ServerConfig& config) { return std::string(config.*field ? "true" : "false"); };
  return key;
}

// A finite number >= min_value.
ConfigKey NumberKey(std::string name, double ServerConfig::*field, double min_value, std::string help) {
  ConfigKey key;
  key.name = std::move(name);
  key.help = std::move(help);
  std::ostringstream accepts;
  accepts << "a number >= " << min_value;
  key.accepts = accepts.str();
  key.apply = [field, min_value](const std::string& value, ServerConfig* config) -> Status {
    double parsed = 0;
    size_t used = 0;
    try {
      parsed = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (value.empty() || used != value.size() || !std::isfinite(parsed)) return InvalidArgumentError("is not a number");
    if (parsed < min_value) return InvalidArgumentError("is below " + std::to_string(min_value));
    config->*field = parsed;
    return Status::Ok();
  };
  key.format = [field](const ServerConfig& config) {
    std::ostringstream text;
    text << config.*field;
    return text.str();
  };
  return key;
}

// A string checked by `check` (may be empty: any string).
ConfigKey StringKey(std::string name, std::string ServerConfig::*field, std::string help, std::string accepts,
                    std::function<Status(const std::string&)> check = {}) {
  ConfigKey key;
  key.name = std::move(name);
  key.help = std::move(help);
  key.accepts = std::move(accepts);
  key.apply = [field, check](const std::string& value, ServerConfig* config) -> Status {
    if (check) CAMSERVE_RETURN_IF_ERROR(check(value));
    config->*field = value;
    return Status::Ok();
  };
  key.format = [field](const ServerConfig& config) { return config.*field; };
  return key;
}

ConfigKey ChoiceKey(std::string name, std::string ServerConfig::*field, std::vector<std::string> choices,
                    std::string help) {
  const std::string list = Join(choices, ", ");
  return StringKey(std::move(name), field, std::move(help), "one of " + list,
                   [choices, list](const std::string& value) -> Status {
                     if (std::find(choices.begin(), choices.end(), value) != choices.end()) return Status::Ok();
                     return InvalidArgumentError("is not one of " + list);
                   });
}

ConfigKey IntListKey(std::string name, std::vector<int> ServerConfig::*field, std::string help) {
  ConfigKey key;
  key.name = std::move(name);
  key.help = std::move(help);
  key.accepts = "comma-separated integers >= 1, or empty";
  key.apply = [field](const std::string& value, ServerConfig* config) -> Status {
    std::vector<int> values;
    std::stringstream stream(value);
    for (std::string part; std::getline(stream, part, ',');) {
      StatusOr<int64_t> parsed = ParseInteger(part, 1, std::numeric_limits<int>::max());
      if (!parsed.ok()) return InvalidArgumentError("has an entry '" + part + "' that " + parsed.status().message());
      values.push_back(static_cast<int>(*parsed));
    }
    config->*field = values;
    return Status::Ok();
  };
  key.format = [field](const ServerConfig& config) {
    std::vector<std::string> parts;
    for (int value : config.*field) parts.push_back(std::to_string(value));
    return Join(parts, ",");
  };
  return key;
}

std::vector<ConfigKey> MakeKeyTable() {
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  std::vector<ConfigKey> keys;
  ConfigKey config_file;
  config_file.name = "config";
  config_file.help = "YAML configuration file (flag or CAMSERVE_CONFIG only)";
  config_file.accepts = "a path";
  config_file.apply = [](const std::string&, ServerConfig*) { return Status::Ok(); };
  config_file.format = [](const ServerConfig&) { return std::string(); };
  keys.push_back(config_file);
  keys.push_back(StringKey("listen", &ServerConfig::listen, "gRPC listen address (port 0: pick a free one)",
                           "HOST:PORT", CheckAddress));
  keys.push_back(StringKey("metrics_listen", &ServerConfig::metrics_listen, "Prometheus /metrics address", "HOST:PORT",
                           CheckAddress));
  keys.push_back(StringKey(
      "http_listen", &ServerConfig::http_listen,
      "HTTP/JSON API address (docs/http.md; port 0: pick a free one); empty: no HTTP API", "HOST:PORT or empty",
      [](const std::string& value) { return value.empty() ? Status::Ok() : CheckAddress(value); }));
  keys.push_back(IntegerKey("http.threads", &ServerConfig::http_threads, 1,
                            "HTTP API connections served at once (one thread each while open; keep-alive up to 5 s)"));
  ConfigKey model;
  model.name = "model";
  model.help = "serve this one TorchScript file (replaces 'models' of the file)";
  model.accepts = "a path";
  model.apply = [](const std::string& value, ServerConfig* config) {
    config->models = {ModelConfig{std::filesystem::path(value).stem().string(), value, ""}};
    return Status::Ok();
  };
  model.format = [](const ServerConfig&) { return std::string(); };
  keys.push_back(model);
  keys.push_back(StringKey("default_model", &ServerConfig::default_model,
                           "model used when a request names none; empty: the first", "a served model's name"));
  keys.push_back(StringKey("device", &ServerConfig::device, "where the models run", "auto, cpu, cuda or cuda:N",
                           [](const std::string& value) -> Status {
                             if (value == "auto" || value == "cpu" || value.rfind("cuda", 0) == 0) return Status::Ok();
                             return InvalidArgumentError("is not auto, cpu or cuda[:N]");
                           }));
  keys.push_back(StringKey("precision", &ServerConfig::precision,
                           "arithmetic of models without their own models[].precision; a reduced precision is "
                           "validated at load and refused (fp32 used) above engine.precision_tolerance",
                           "fp32, bf16 (CUDA, or a CPU with AVX512-BF16/AMX) or fp16 (CUDA)", CheckPrecisionName));
  keys.push_back(BoolKey("engine.optimize", &ServerConfig::engine_optimize,
                         "run target layers on optimized copies (optimize_for_inference), each validated against the "
                         "plain module at load"));
  keys.push_back(NumberKey("engine.optimize_tolerance", &ServerConfig::engine_optimize_tolerance, 0,
                           "largest map (and probability) difference from the plain module an optimized copy may "
                           "show on the probe batch"));
  keys.push_back(NumberKey("engine.precision_tolerance", &ServerConfig::engine_precision_tolerance, 0,
                           "largest top-1 map difference from fp32 a reduced precision may show on the probe batch"));
  keys.push_back(IntegerKey("engine.perturbation_batch_size", &ServerConfig::engine_perturbation_batch_size, 1,
                            "perturbed activations or images per model call (ablationcam, scorecam, reciprocam, "
                            "quality scores)"));
  keys.push_back(IntegerKey("engine.max_head_runs_per_image", &ServerConfig::engine_max_head_runs_per_image, 1,
                            "most runs of the model's head per image: the layer's channels (ablationcam) or "
                            "positions (reciprocam); above it RESOURCE_EXHAUSTED"));
  keys.push_back(IntegerKey("engine.max_scorecam_forwards", &ServerConfig::engine_max_scorecam_forwards, 1,
                            "most full forwards per image for scorecam (one per channel of the layer); above it "
                            "RESOURCE_EXHAUSTED"));
  keys.push_back(IntegerKey("engine.quality_steps", &ServerConfig::engine_quality_steps, 1,
                            "deletion and insertion steps of the quality scores (ExplainRequest.evaluate); each costs "
                            "two forwards per image"));
  keys.push_back(
      IntegerKey("threads.intra_op", &ServerConfig::threads_intra_op, 0, "LibTorch intra-op threads; 0 = all cores"));
  keys.push_back(
      IntegerKey("threads.inter_op", &ServerConfig::threads_inter_op, 0, "LibTorch inter-op threads; 0 = all cores"));
  keys.push_back(ByDeviceKey("batcher.max_batch_size", &ServerConfig::batcher_max_batch_size, 1,
                             "most requests merged into one forward pass; auto: 4 on CPU, 32 on CUDA"));
  keys.push_back(ByDeviceKey("batcher.max_queue_delay_us", &ServerConfig::batcher_max_queue_delay_us, 0,
                             "longest wait of the oldest queued request for company, us; auto: 0 on CPU, 2000 on "
                             "CUDA"));
  keys.push_back(IntListKey("batcher.preferred_batch_sizes", &ServerConfig::batcher_preferred_batch_sizes,
                            "batch sizes dispatched as soon as reached"));
  keys.push_back(IntegerKey("batcher.max_queue_size", &ServerConfig::batcher_max_queue_size, 1,
                            "queued requests per model before UNAVAILABLE"));
  keys.push_back(
      ByDeviceKey("batcher.workers", &ServerConfig::batcher_workers, 1,
                  "batches run concurrently per model, sharing the intra-op threads; auto: 2 on CPU, 1 on CUDA"));
  keys.push_back(IntegerKey("batcher.priority_levels", &ServerConfig::batcher_priority_levels, 1,
                            "request priority levels; 0 is the most urgent"));
  keys.push_back(IntegerKey("batcher.completion_threads", &ServerConfig::batcher_completion_threads, 1,
                            "threads that encode, cache and send computed answers (off the batch worker)"));
  keys.push_back(StringKey("cache.dir", &ServerConfig::cache_dir, "RocksDB directory of the heatmap cache", "a path"));
  keys.push_back(IntegerKey("cache.max_size_bytes", &ServerConfig::cache_max_size_bytes, 1,
                            "cache size limit (LRU eviction), bytes"));
  keys.push_back(IntegerKey("cache.max_value_bytes", &ServerConfig::cache_max_value_bytes, 1,
                            "answers larger than this are not cached, bytes"));
  keys.push_back(BoolKey("cache.enabled", &ServerConfig::cache_enabled, "use the cache"));
  keys.push_back(
      BoolKey("cache.required", &ServerConfig::cache_required, "refuse to start when the cache cannot be opened"));
  keys.push_back(BoolKey("profiling.enabled", &ServerConfig::profiling_enabled,
                         "time each request's stages (response timings, stage histograms)"));
  keys.push_back(ChoiceKey("logging.level", &ServerConfig::logging_level, {"trace", "debug", "info", "warn", "error"},
                           "least severe level logged"));
  keys.push_back(ChoiceKey("logging.format", &ServerConfig::logging_format, {"text", "json"},
                           "log line format (json: one object per line)"));
  keys.push_back(IntegerKey("limits.max_receive_message_bytes", &ServerConfig::limits_max_receive_message_bytes, 1024,
                            "largest request accepted, bytes", std::numeric_limits<int>::max()));
  keys.push_back(IntegerKey("limits.drain_timeout_ms", &ServerConfig::limits_drain_timeout_ms, 0,
                            "on SIGTERM, how long queued work may still run, ms"));
  keys.push_back(IntegerKey("limits.max_inflight_bytes", &ServerConfig::limits_max_inflight_bytes, 1,
                            "memory requests in flight may hold (request, pixels, inputs, responses), bytes"));
  keys.push_back(IntegerKey("limits.max_image_pixels", &ServerConfig::limits_max_image_pixels, 1,
                            "largest image accepted, width * height pixels"));
  keys.push_back(IntegerKey("limits.max_image_side_px", &ServerConfig::limits_max_image_side_px, 1,
                            "largest image width or height accepted, pixels"));
  keys.push_back(IntegerKey("limits.max_output_pixels", &ServerConfig::limits_max_output_pixels, 1,
                            "most pixels of an ORIGINAL-resolution heatmap"));
  keys.push_back(IntegerKey("limits.default_deadline_ms", &ServerConfig::limits_default_deadline_ms, 0,
                            "deadline of requests that bring none, ms; 0 = none", kInt64Max / 1000));
  keys.push_back(IntegerKey("limits.max_request_string_bytes", &ServerConfig::limits_max_request_string_bytes, 1,
                            "longest request_id, model, method and target_layer, bytes"));
  keys.push_back(IntegerKey("limits.max_stream_inflight", &ServerConfig::limits_max_stream_inflight, 1,
                            "requests of one ExplainStream running or unsent before it stops reading"));
  keys.push_back(IntegerKey("limits.max_layer_copies", &ServerConfig::limits_max_layer_copies, 0,
                            "target layers per model with an optimized copy (each a copy of the weights)"));
  keys.push_back(IntegerKey("grpc.keepalive_time_ms", &ServerConfig::grpc_keepalive_time_ms, 1000,
                            "interval of HTTP/2 keepalive pings to idle clients, ms", std::numeric_limits<int>::max()));
  keys.push_back(IntegerKey("grpc.keepalive_timeout_ms", &ServerConfig::grpc_keepalive_timeout_ms, 100,
                            "a client not answering a keepalive ping within this is dropped, ms",
                            std::numeric_limits<int>::max()));
  keys.push_back(BoolKey("reflection", &ServerConfig::reflection, "serve the gRPC reflection service"));
  keys.push_back(StringKey("tls.cert_file", &ServerConfig::tls_cert_file,
                           "PEM certificate chain to serve TLS with (needs tls.key_file); empty: plaintext",
                           "a path or empty"));
  keys.push_back(
      StringKey("tls.key_file", &ServerConfig::tls_key_file, "PEM private key of tls.cert_file", "a path or empty"));
  keys.push_back(StringKey("tls.client_ca_file", &ServerConfig::tls_client_ca_file,
                           "PEM CA bundle; set: clients must present a certificate it signed (mutual TLS)",
                           "a path or empty"));
  keys.push_back(IntegerKey("tls.refresh_interval_s", &ServerConfig::tls_refresh_interval_s, 1,
                            "how often the TLS files are re-read for rotated certificates, seconds"));
  keys.push_back(BoolKey("tls.allow_plaintext", &ServerConfig::tls_allow_plaintext,
                         "allow plaintext on a non-loopback listen address (behind a TLS-terminating proxy)"));
  keys.push_back(StringKey("auth.token_file", &ServerConfig::auth_token_file,
                           "bearer tokens, one per line ('TOKEN' or 'TOKEN admin'), re-read when it changes; set: "
                           "every Explainer call needs one",
                           "a path or empty"));
  const ServerConfig defaults;
  for (ConfigKey& key : keys) key.default_value = key.format(defaults);
  return keys;
}

const ConfigKey* FindKey(const std::string& name) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

Status Apply(const RawValues& values, ServerConfig* config) {
  for (const auto& [name, raw] : values) {
    const ConfigKey* key = FindKey(name);
    if (key == nullptr) return InvalidArgumentError("unknown configuration key '" + name + "'");
    const Status applied = key->apply(raw.value, config);
    if (!applied.ok()) return BadValue(name, raw, applied.message());
  }
  return Status::Ok();
}

// The keys that only make sense together, once every layer is applied.
Status CheckCombinations(const ServerConfig& config) {
  for (int size : config.batcher_preferred_batch_sizes) {
    if (config.batcher_max_batch_size != ServerConfig::kByDevice && size > config.batcher_max_batch_size) {
      return InvalidArgumentError("batcher.preferred_batch_sizes: " + std::to_string(size) +
                                  " exceeds batcher.max_batch_size " + std::to_string(config.batcher_max_batch_size));
    }
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return InvalidArgumentError(config.tls_cert_file.empty() ? "tls.key_file is set without tls.cert_file"
                                                             : "tls.cert_file is set without tls.key_file");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return InvalidArgumentError(
        "tls.client_ca_file is set without tls.cert_file and tls.key_file (mutual TLS needs TLS)");
  }
  // Plaintext only on loopback, for the gRPC and the HTTP address alike.
  const bool plaintext = config.tls_cert_file.empty() && !config.tls_allow_plaintext;
  const std::pair<const char*, const std::string*> served[] = {{"http_listen", &config.http_listen},
                                                               {"listen", &config.listen}};
  for (const auto& [key, address] : served) {
    if (!plaintext || address->empty() || IsLoopbackAddress(*address)) continue;
    return InvalidArgumentError(std::string(key) + ": " + *address +
                                " is not a loopback address and no TLS certificate is configured: set "
                                "tls.cert_file and tls.key_file, or tls.allow_plaintext=true when a "
                                "TLS-terminating proxy or mesh fronts camserve");
  }
  return Status::Ok();
}

}  // namespace

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> kKeys = MakeKeyTable();
  return kKeys;
}

std::string ServerUsage() {
  RawValues ignored;
  CLI::App app(
      "camserve: the gRPC explanation server. Every key is a flag, an environment variable and a YAML key "
      "(docs/configuration.md); the file < environment < flags.",
      "camserve");
  AddServerFlags(app, &ignored);
  return app.help();
}

BatcherDefaults BatcherDefaultsFor(bool cuda) {
  // CPU: batches of 4 dispatched at once kept a lone request within 1.25x of
  // a forward and concurrency 8 within 0.9x of the best engine throughput;
  // CUDA: not measured (no GPU was available), Triton-like settings.
  return cuda ? BatcherDefaults{32, 2000, 1} : BatcherDefaults{4, 0, 2};
}

ServerConfig WithDeviceDefaults(ServerConfig config, bool cuda) {
  const BatcherDefaults defaults = BatcherDefaultsFor(cuda);
  if (config.batcher_max_batch_size == ServerConfig::kByDevice) config.batcher_max_batch_size = defaults.max_batch_size;
  if (config.batcher_max_queue_delay_us == ServerConfig::kByDevice) {
    config.batcher_max_queue_delay_us = defaults.max_queue_delay_us;
  }
  if (config.batcher_workers == ServerConfig::kByDevice) config.batcher_workers = defaults.workers;
  return config;
}

std::string ConfigReferenceMarkdown() {
  std::string table =
      "| key | default | flag | environment | accepts | meaning |\n"
      "| --- | --- | --- | --- | --- | --- |\n";
  for (const ConfigKey& key : ConfigKeys()) {
    table += "| `" + key.name + "` | `" + key.default_value + "` | `--" + FlagName(key.name) + "` | `" +
             EnvName(key.name) + "` | " + key.accepts + " | " + key.help + " |\n";
  }
  return table;
}

bool IsLoopbackAddress(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (host == "localhost") return true;
  in_addr ipv4{};
  if (inet_pton(AF_INET, host.c_str(), &ipv4) == 1) return (ntohl(ipv4.s_addr) >> 24) == 127;
  in6_addr ipv6{};
  return inet_pton(AF_INET6, host.c_str(), &ipv6) == 1 && IN6_IS_ADDR_LOOPBACK(&ipv6);
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string text = *entry;
    const size_t eq = text.find('=');
    if (eq != std::string::npos) environment[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return environment;
}

StatusOr<ServerConfig> LoadServerConfig(int argc, const char* const* argv,
                                        const std::map<std::string, std::string>& environment) {
  RawValues flags, env, file;
  CAMSERVE_RETURN_IF_ERROR(ParseFlags(argc, argv, &flags));
  for (const ConfigKey& k : ConfigKeys()) {
    auto it = environment.find(EnvName(k.name));
    if (it != environment.end()) env[k.name] = {it->second, "environment " + it->first};
  }
  ServerConfig config;
  const RawValue* config_file = flags.count("config") ? &flags["config"]
                                : env.count("config") ? &env["config"]
                                                      : nullptr;
  if (config_file) {
    YAML::Node models;
    int64_t budget = kMaxConfigExpansionBytes;
    try {
      YAML::Node root = YAML::LoadFile(config_file->value);
      if (!root.IsMap() && !root.IsNull()) return BadValue("config", *config_file, "is not a YAML mapping");
      if (root.IsMap()) CAMSERVE_RETURN_IF_ERROR(FlattenYaml(root, "", config_file->value, &file, &models, &budget));
      if (!models.IsNull()) CAMSERVE_RETURN_IF_ERROR(ReadModels(models, config_file->value, &config, &budget));
    } catch (const YAML::Exception& e) {
      return BadValue("config", *config_file, std::string("cannot be read: ") + e.what());
    }
  }
  for (const RawValues* layer : {&file, &env, &flags}) CAMSERVE_RETURN_IF_ERROR(Apply(*layer, &config));
  CAMSERVE_RETURN_IF_ERROR(CheckCombinations(config));
  return config;
}

}  // namespace camserve
