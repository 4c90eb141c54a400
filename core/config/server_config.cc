#include "core/config/server_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

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

bool IsKnownKey(const std::string& key) {
  for (const ConfigKey& k : ConfigKeys()) {
    if (k.name == key) return true;
  }
  return false;
}

Status BadValue(const std::string& key, const RawValue& raw, const std::string& why) {
  return InvalidArgumentError(key + ": '" + raw.value + "' " + why + " (from " + raw.source + ")");
}

// Flattens a YAML mapping into dotted keys; `models` is kept as a node.
Status FlattenYaml(const YAML::Node& node, const std::string& prefix, const std::string& file, RawValues* out,
                   YAML::Node* models) {
  for (const auto& entry : node) {
    const std::string key = prefix + entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key == "models") {
      *models = value;
    } else if (value.IsMap()) {
      CAMSERVE_RETURN_IF_ERROR(FlattenYaml(value, key + ".", file, out, models));
    } else if (!IsKnownKey(key)) {
      return InvalidArgumentError("unknown configuration key '" + key + "' in " + file + "; see docs/configuration.md");
    } else if (value.IsSequence()) {
      std::string joined;
      for (const auto& item : value) joined += (joined.empty() ? "" : ",") + item.as<std::string>();
      (*out)[key] = {joined, "file " + file};
    } else {
      (*out)[key] = {value.IsNull() ? "" : value.as<std::string>(), "file " + file};
    }
  }
  return Status::Ok();
}

Status ReadModels(const YAML::Node& models, const std::string& file, ServerConfig* config) {
  if (!models.IsSequence()) return InvalidArgumentError("models: must be a list of {name, path} in " + file);
  for (const auto& entry : models) {
    if (!entry.IsMap() || !entry["path"]) {
      return InvalidArgumentError("models: every entry needs a 'path' (in " + file + ")");
    }
    ModelConfig model;
    model.path = entry["path"].as<std::string>();
    model.name = entry["name"] ? entry["name"].as<std::string>() : std::filesystem::path(model.path).stem().string();
    config->models.push_back(model);
  }
  return Status::Ok();
}

// One string flag per key: the values are checked by Apply, like the file's
// and the environment's, so that every layer gives the same messages.
void AddServerFlags(CLI::App& app, RawValues* flags) {
  for (const ConfigKey& k : ConfigKeys()) {
    const std::string flag = "--" + FlagName(k.name);
    app.add_option_function<std::string>(
           flag,
           [flags, key = k.name, flag](const std::string& value) {
             (*flags)[key] = {value, "flag " + flag};
           },
           k.help)
        ->type_name("VALUE");
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

template <typename T>
Status ParseInteger(const std::string& key, const RawValue& raw, int64_t min_value, T* out) {
  try {
    size_t used = 0;
    const long long value = std::stoll(raw.value, &used);
    if (used != raw.value.size()) throw std::invalid_argument(raw.value);
    if (value < min_value) return BadValue(key, raw, "must be >= " + std::to_string(min_value));
    *out = static_cast<T>(value);
    return Status::Ok();
  } catch (const std::exception&) {
    return BadValue(key, raw, "is not an integer");
  }
}

Status ParseBool(const std::string& key, const RawValue& raw, bool* out) {
  std::string v = raw.value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "1" || v == "yes" || v == "on") return *out = true, Status::Ok();
  if (v == "false" || v == "0" || v == "no" || v == "off") return *out = false, Status::Ok();
  return BadValue(key, raw, "is not a boolean (true/false)");
}

Status ParseChoice(const std::string& key, const RawValue& raw, const std::vector<std::string>& choices,
                   std::string* out) {
  if (std::find(choices.begin(), choices.end(), raw.value) != choices.end()) {
    *out = raw.value;
    return Status::Ok();
  }
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  return BadValue(key, raw, "is not one of " + list);
}

Status ParseAddress(const std::string& key, const RawValue& raw, std::string* out) {
  const size_t colon = raw.value.rfind(':');
  if (raw.value.empty() || colon == std::string::npos || colon + 1 == raw.value.size()) {
    return BadValue(key, raw, "is not HOST:PORT");
  }
  int port = 0;
  CAMSERVE_RETURN_IF_ERROR(ParseInteger(key, RawValue{raw.value.substr(colon + 1), raw.source}, 0, &port));
  if (port > 65535) return BadValue(key, raw, "has a port above 65535");
  *out = raw.value;
  return Status::Ok();
}

Status ParseIntList(const std::string& key, const RawValue& raw, std::vector<int>* out) {
  out->clear();
  std::stringstream stream(raw.value);
  for (std::string part; std::getline(stream, part, ',');) {
    int value = 0;
    CAMSERVE_RETURN_IF_ERROR(ParseInteger(key, RawValue{part, raw.source}, 1, &value));
    out->push_back(value);
  }
  return Status::Ok();
}

Status Apply(const RawValues& values, ServerConfig* c) {
  for (const auto& [key, raw] : values) {
    Status s;
    if (key == "listen")
      s = ParseAddress(key, raw, &c->listen);
    else if (key == "metrics_listen")
      s = ParseAddress(key, raw, &c->metrics_listen);
    else if (key == "model")
      c->models = {ModelConfig{std::filesystem::path(raw.value).stem().string(), raw.value}};
    else if (key == "default_model")
      c->default_model = raw.value;
    else if (key == "device") {
      const bool ok = raw.value == "auto" || raw.value == "cpu" || raw.value.rfind("cuda", 0) == 0;
      s = ok ? (c->device = raw.value, Status::Ok()) : BadValue(key, raw, "is not auto, cpu or cuda[:N]");
    } else if (key == "threads.intra_op")
      s = ParseInteger(key, raw, 0, &c->threads_intra_op);
    else if (key == "threads.inter_op")
      s = ParseInteger(key, raw, 0, &c->threads_inter_op);
    else if (key == "batcher.max_batch_size")
      s = ParseInteger(key, raw, 1, &c->batcher_max_batch_size);
    else if (key == "batcher.max_queue_delay_us")
      s = ParseInteger(key, raw, 0, &c->batcher_max_queue_delay_us);
    else if (key == "batcher.preferred_batch_sizes")
      s = ParseIntList(key, raw, &c->batcher_preferred_batch_sizes);
    else if (key == "batcher.max_queue_size")
      s = ParseInteger(key, raw, 1, &c->batcher_max_queue_size);
    else if (key == "batcher.workers")
      s = ParseInteger(key, raw, 1, &c->batcher_workers);
    else if (key == "batcher.priority_levels")
      s = ParseInteger(key, raw, 1, &c->batcher_priority_levels);
    else if (key == "cache.dir")
      c->cache_dir = raw.value;
    else if (key == "cache.max_size_bytes")
      s = ParseInteger(key, raw, 1, &c->cache_max_size_bytes);
    else if (key == "cache.enabled")
      s = ParseBool(key, raw, &c->cache_enabled);
    else if (key == "cache.required")
      s = ParseBool(key, raw, &c->cache_required);
    else if (key == "profiling.enabled")
      s = ParseBool(key, raw, &c->profiling_enabled);
    else if (key == "logging.level")
      s = ParseChoice(key, raw, {"trace", "debug", "info", "warn", "error"}, &c->logging_level);
    else if (key == "logging.format")
      s = ParseChoice(key, raw, {"text", "json"}, &c->logging_format);
    else if (key == "limits.max_receive_message_bytes")
      s = ParseInteger(key, raw, 1024, &c->limits_max_receive_message_bytes);
    else if (key == "limits.drain_timeout_ms")
      s = ParseInteger(key, raw, 0, &c->limits_drain_timeout_ms);
    else if (key == "grpc.keepalive_time_ms")
      s = ParseInteger(key, raw, 1000, &c->grpc_keepalive_time_ms);
    else if (key == "grpc.keepalive_timeout_ms")
      s = ParseInteger(key, raw, 100, &c->grpc_keepalive_timeout_ms);
    CAMSERVE_RETURN_IF_ERROR(s);
  }
  for (int size : c->batcher_preferred_batch_sizes) {
    if (size > c->batcher_max_batch_size) {
      return InvalidArgumentError("batcher.preferred_batch_sizes: " + std::to_string(size) +
                                  " exceeds batcher.max_batch_size " + std::to_string(c->batcher_max_batch_size));
    }
  }
  return Status::Ok();
}

}  // namespace

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> kKeys = {
      {"config", "", "YAML configuration file (flag or CAMSERVE_CONFIG only)"},
      {"listen", "127.0.0.1:50051", "gRPC listen address HOST:PORT (port 0: pick a free one)"},
      {"metrics_listen", "127.0.0.1:9464", "Prometheus /metrics address HOST:PORT"},
      {"model", "", "serve this one TorchScript file (replaces 'models' of the file)"},
      {"default_model", "", "model used when a request names none; default: the first"},
      {"device", "auto", "auto (CUDA when available), cpu, cuda, cuda:N"},
      {"threads.intra_op", "0", "LibTorch intra-op threads; 0 = all cores"},
      {"threads.inter_op", "0", "LibTorch inter-op threads; 0 = all cores"},
      {"batcher.max_batch_size", "8", "most requests merged into one forward pass"},
      {"batcher.max_queue_delay_us", "2000", "longest wait of the oldest queued request for company, us"},
      {"batcher.preferred_batch_sizes", "", "comma-separated batch sizes dispatched as soon as reached"},
      {"batcher.max_queue_size", "256", "queued requests per model before UNAVAILABLE"},
      {"batcher.workers", "1", "batches run concurrently per model"},
      {"batcher.priority_levels", "2", "request priority levels; 0 is the most urgent"},
      {"cache.dir", "camserve-cache", "RocksDB directory of the heatmap cache"},
      {"cache.max_size_bytes", "1073741824", "cache size limit (LRU eviction), bytes"},
      {"cache.enabled", "true", "use the cache"},
      {"cache.required", "false", "refuse to start when the cache cannot be opened"},
      {"profiling.enabled", "true", "time each request's stages (response timings, stage histograms)"},
      {"logging.level", "info", "trace, debug, info, warn, error"},
      {"logging.format", "text", "text or json (one JSON object per line)"},
      {"limits.max_receive_message_bytes", "16777216", "largest request accepted, bytes"},
      {"limits.drain_timeout_ms", "10000", "on SIGTERM, how long queued work may still run, ms"},
      {"grpc.keepalive_time_ms", "30000", "interval of HTTP/2 keepalive pings to idle clients, ms"},
      {"grpc.keepalive_timeout_ms", "10000", "a client not answering a keepalive ping within this is dropped, ms"},
  };
  return kKeys;
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
    try {
      YAML::Node root = YAML::LoadFile(config_file->value);
      if (!root.IsMap() && !root.IsNull()) return BadValue("config", *config_file, "is not a YAML mapping");
      if (root.IsMap()) CAMSERVE_RETURN_IF_ERROR(FlattenYaml(root, "", config_file->value, &file, &models));
      if (!models.IsNull()) CAMSERVE_RETURN_IF_ERROR(ReadModels(models, config_file->value, &config));
    } catch (const YAML::Exception& e) {
      return BadValue("config", *config_file, std::string("cannot be read: ") + e.what());
    }
  }
  for (const RawValues* layer : {&file, &env, &flags}) CAMSERVE_RETURN_IF_ERROR(Apply(*layer, &config));
  return config;
}

}  // namespace camserve
