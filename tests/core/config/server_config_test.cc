#include "core/config/server_config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

namespace camserve {
namespace {

namespace fs = std::filesystem;

StatusOr<ServerConfig> Load(std::vector<const char*> flags, std::map<std::string, std::string> env = {}) {
  flags.insert(flags.begin(), "camserve");
  return LoadServerConfig(static_cast<int>(flags.size()), flags.data(), env);
}

std::string WriteYaml(const std::string& content) {
  const fs::path path = fs::temp_directory_path() / ("camserve_config_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << content;
  return path.string();
}

TEST_CASE("defaults hold without file, environment or flags") {
  StatusOr<ServerConfig> config = Load({});
  REQUIRE(config.ok());
  CHECK(config->listen == "127.0.0.1:50051");
  CHECK(config->metrics_listen == "127.0.0.1:9464");
  CHECK(config->models.empty());
  CHECK(config->batcher_max_batch_size == ServerConfig::kByDevice);
  CHECK(config->batcher_max_queue_delay_us == ServerConfig::kByDevice);
  CHECK(config->cache_max_size_bytes == (int64_t{1} << 30));
  CHECK(config->limits_max_receive_message_bytes == 16 * 1024 * 1024);
}

TEST_CASE("batcher settings left to the device take its defaults; given ones stay") {
  StatusOr<ServerConfig> config = Load({});
  REQUIRE(config.ok());
  const ServerConfig cpu = WithDeviceDefaults(*config, /*cuda=*/false);
  CHECK(cpu.batcher_max_batch_size == 4);
  CHECK(cpu.batcher_max_queue_delay_us == 0);
  CHECK(cpu.batcher_workers == 2);
  const ServerConfig cuda = WithDeviceDefaults(*config, /*cuda=*/true);
  CHECK(cuda.batcher_max_batch_size == 32);
  CHECK(cuda.batcher_max_queue_delay_us == 2000);
  CHECK(cuda.batcher_workers == 1);
  StatusOr<ServerConfig> given = Load({"--batcher-max-batch-size", "16", "--batcher-max-queue-delay-us", "auto"});
  REQUIRE(given.ok());
  const ServerConfig mixed = WithDeviceDefaults(*given, /*cuda=*/false);
  CHECK(mixed.batcher_max_batch_size == 16);
  CHECK(mixed.batcher_max_queue_delay_us == 0);
  StatusOr<ServerConfig> bad = Load({"--batcher-max-batch-size", "many"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("batcher.max_batch_size: 'many' is not an integer (or auto)"));
}

TEST_CASE("the four flags scripts depend on work exactly so") {
  StatusOr<ServerConfig> config = Load({"--model", "/m/resnet50.pt", "--listen", "127.0.0.1:7001", "--metrics-listen",
                                        "127.0.0.1:7002", "--cache-dir", "/tmp/c"});
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  REQUIRE(config->models.size() == 1);
  CHECK(config->models[0].name == "resnet50");
  CHECK(config->models[0].path == "/m/resnet50.pt");
  CHECK(config->listen == "127.0.0.1:7001");
  CHECK(config->metrics_listen == "127.0.0.1:7002");
  CHECK(config->cache_dir == "/tmp/c");
}

TEST_CASE("layers override in order: file < environment < flags") {
  const std::string yaml = WriteYaml(
      "listen: 0.0.0.0:1000\ntls:\n  allow_plaintext: true\nbatcher:\n  max_batch_size: 16\n  preferred_batch_sizes: "
      "[4, 8]\n"
      "  max_queue_delay_us: 500\ncache:\n  enabled: false\nmodels:\n  - path: /m/a.pt\n  - name: bee\n    path: "
      "/m/b.pt\n");
  StatusOr<ServerConfig> config =
      Load({"--config", yaml.c_str(), "--batcher-max-batch-size=32"}, {{"CAMSERVE_BATCHER_MAX_BATCH_SIZE", "24"},
                                                                       {"CAMSERVE_BATCHER_MAX_QUEUE_DELAY_US", "700"},
                                                                       {"CAMSERVE_LOGGING_FORMAT", "json"}});
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  CHECK(config->listen == "0.0.0.0:1000");
  CHECK(config->batcher_max_batch_size == 32);
  CHECK(config->batcher_max_queue_delay_us == 700);
  CHECK(config->batcher_preferred_batch_sizes == std::vector<int>{4, 8});
  CHECK_FALSE(config->cache_enabled);
  CHECK(config->logging_format == "json");
  REQUIRE(config->models.size() == 2);
  CHECK(config->models[0].name == "a");
  CHECK(config->models[1].name == "bee");
  fs::remove(yaml);
}

TEST_CASE("models carry their own precision; the top-level one is the default, and numbers are checked") {
  const std::string yaml = WriteYaml(
      "precision: bf16\nengine:\n  optimize: false\n  optimize_tolerance: 5e-5\nmodels:\n  - path: /m/a.pt\n"
      "  - path: /m/b.pt\n    precision: fp32\n");
  StatusOr<ServerConfig> config = Load({"--config", yaml.c_str(), "--engine-precision-tolerance", "0.05"});
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  CHECK(config->precision == "bf16");
  REQUIRE(config->models.size() == 2);
  CHECK(config->models[0].precision.empty());
  CHECK(config->models[1].precision == "fp32");
  CHECK_FALSE(config->engine_optimize);
  CHECK(config->engine_optimize_tolerance == 5e-5);
  CHECK(config->engine_precision_tolerance == 0.05);
  fs::remove(yaml);

  StatusOr<ServerConfig> flagged = Load({"--model", "/m/x.pt", "--precision", "bf16"});
  REQUIRE(flagged.ok());
  CHECK(flagged->precision == "bf16");
  CHECK(flagged->models.at(0).precision.empty());

  const std::string bad_precision = WriteYaml("models:\n  - path: /m/a.pt\n    precision: int8\n");
  CHECK(Load({"--config", bad_precision.c_str()}).status().message() ==
        "models: 'a': precision 'int8' is not one of fp32, bf16, fp16 (in " + bad_precision + ")");
  fs::remove(bad_precision);
  const std::string unknown_field = WriteYaml("models:\n  - path: /m/a.pt\n    precison: bf16\n");
  CHECK(Load({"--config", unknown_field.c_str()}).status().message() ==
        "models: unknown field 'precison' (in " + unknown_field + "); an entry has name, path and precision");
  fs::remove(unknown_field);
  CHECK(Load({"--precision", "fp8"}).status().message() ==
        "precision: 'fp8' is not one of fp32, bf16, fp16 (from flag --precision)");
  CHECK(Load({"--engine-optimize-tolerance", "-1"}).status().code() == StatusCode::kInvalidArgument);
  CHECK(Load({"--engine-optimize-tolerance", "1e-4x"}).status().message() ==
        "engine.optimize_tolerance: '1e-4x' is not a number (from flag --engine-optimize-tolerance)");
}

TEST_CASE("a flag given twice takes the last value, so appended flags override a wrapper's") {
  StatusOr<ServerConfig> config = Load({"--listen", "0.0.0.0:50051", "--listen", "127.0.0.1:7001"});
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  CHECK(config->listen == "127.0.0.1:7001");
}

TEST_CASE("the config file can come from CAMSERVE_CONFIG") {
  const std::string yaml = WriteYaml("device: cpu\n");
  StatusOr<ServerConfig> config = Load({}, {{"CAMSERVE_CONFIG", yaml}});
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  CHECK(config->device == "cpu");
  fs::remove(yaml);
}

TEST_CASE("bad values stop loading with the key, the value and the source") {
  struct Case {
    std::vector<const char*> flags;
    std::map<std::string, std::string> env;
    const char* message;
  };
  for (const Case& c : {
           Case{{"--batcher-max-batch-size", "x"},
                {},
                "batcher.max_batch_size: 'x' is not an integer (or auto) (from flag --batcher-max-batch-size)"},
           Case{{"--batcher-max-batch-size", "0"}, {}, "batcher.max_batch_size: '0' must be >= 1"},
           Case{{},
                {{"CAMSERVE_LISTEN", "localhost"}},
                "listen: 'localhost' is not HOST:PORT (from environment CAMSERVE_LISTEN)"},
           Case{{"--listen", "127.0.0.1:70000"}, {}, "listen: '127.0.0.1:70000' has a port above 65535"},
           Case{{"--cache-enabled", "maybe"}, {}, "cache.enabled: 'maybe' is not a boolean"},
           Case{{"--logging-level", "loud"}, {}, "logging.level: 'loud' is not one of trace, debug"},
           Case{{"--device", "tpu"}, {}, "device: 'tpu' is not auto, cpu or cuda[:N]"},
           Case{{"--batcher-max-batch-size", "8", "--batcher-preferred-batch-sizes", "4,64"},
                {},
                "batcher.preferred_batch_sizes: 64 exceeds batcher.max_batch_size 8"},
           Case{{"--no-such-flag", "1"}, {}, "unknown flag --no-such-flag"},
           Case{{"--listen"}, {}, "--listen: 1 required VALUE missing"},
           Case{{"extra"}, {}, "unexpected argument 'extra'"},
           Case{{"--config", "/nonexistent/camserve.yaml"}, {}, "config: '/nonexistent/camserve.yaml' cannot be read"},
           Case{{"--tls-cert-file", "server.crt"}, {}, "tls.cert_file is set without tls.key_file"},
           Case{{}, {{"CAMSERVE_TLS_KEY_FILE", "server.key"}}, "tls.key_file is set without tls.cert_file"},
           Case{{"--tls-client-ca-file", "ca.crt"},
                {},
                "tls.client_ca_file is set without tls.cert_file and tls.key_file (mutual TLS needs TLS)"},
           Case{{"--tls-refresh-interval-s", "0"}, {}, "tls.refresh_interval_s: '0' must be >= 1"},
           Case{{"--listen", "0.0.0.0:50051"},
                {},
                "listen: 0.0.0.0:50051 is not a loopback address and no TLS certificate is configured: set "
                "tls.cert_file and tls.key_file, or tls.allow_plaintext=true"},
       }) {
    StatusOr<ServerConfig> config = Load(c.flags, c.env);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(config.status().message(), Catch::Contains(c.message));
  }
}

TEST_CASE("a non-loopback listen address needs TLS or tls.allow_plaintext") {
  for (const char* address : {"127.0.0.1:1", "127.8.9.10:1", "localhost:1", "LocalHost:1", "[::1]:1"}) {
    INFO(address);
    CHECK(IsLoopbackAddress(address));
    CHECK(Load({"--listen", address}).ok());
  }
  for (const char* address : {"0.0.0.0:1", "[::]:1", "10.0.0.1:1", "128.0.0.1:1", "example.com:1", ":1"}) {
    INFO(address);
    CHECK_FALSE(IsLoopbackAddress(address));
    CHECK_FALSE(Load({"--listen", address}).ok());
    CHECK(Load({"--listen", address, "--tls-allow-plaintext", "true"}).ok());
    CHECK(Load({"--listen", address, "--tls-cert-file", "s.crt", "--tls-key-file", "s.key"}).ok());
  }
}

TEST_CASE("unknown keys in the file are errors, so typos do not pass silently") {
  const std::string yaml = WriteYaml("batcher:\n  max_batch_sise: 4\n");
  StatusOr<ServerConfig> config = Load({"--config", yaml.c_str()});
  REQUIRE_FALSE(config.ok());
  CHECK_THAT(config.status().message(), Catch::Contains("unknown configuration key 'batcher.max_batch_sise'"));
  fs::remove(yaml);
}

TEST_CASE("a file that YAML aliases expand beyond 1 MiB is an error, found quickly") {
  // 26 levels of mappings naming the level below twice: 2^25 paths.
  std::string nested = "a0: &a0 {}\n";
  for (int i = 1; i <= 25; ++i) {
    nested += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " {x: *a" + std::to_string(i - 1) + ", y: *a" +
              std::to_string(i - 1) + "}\n";
  }
  // One 100 KB string named 100 times, in a list and as models.
  std::string repeated = "listen: &s " + std::string(100000, 'x') + "\nbatcher: {preferred_batch_sizes: [";
  for (int i = 0; i < 100; ++i) repeated += "*s, ";
  repeated += "]}\n";
  std::string models = "models: [&m {path: " + std::string(100000, 'p') + "}, ";
  for (int i = 0; i < 100; ++i) models += "*m, ";
  models += "]\n";
  for (const std::string& content : {nested, repeated, models}) {
    const std::string yaml = WriteYaml(content);
    StatusOr<ServerConfig> config = Load({"--config", yaml.c_str()});
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(config.status().message(), Catch::Contains("expands to more than 1048576 bytes"));
    fs::remove(yaml);
  }
}

TEST_CASE("every key has a flag and an environment variable") {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == "config" || key.name == "model" || key.default_value.empty()) continue;
    std::string flag = "--" + key.name;
    std::replace(flag.begin(), flag.end(), '.', '-');
    std::replace(flag.begin(), flag.end(), '_', '-');
    INFO(flag);
    StatusOr<ServerConfig> config = Load({flag.c_str(), key.default_value.c_str()});
    CHECK(config.ok());
  }
}

}  // namespace
}  // namespace camserve

namespace camserve {
namespace {

TEST_CASE("the shipped template config/camserve.yaml loads and equals the defaults") {
  const std::string path = std::string(CAMSERVE_SOURCE_DIR) + "/config/camserve.yaml";
  StatusOr<ServerConfig> from_file = Load({"--config", path.c_str()});
  INFO(from_file.status().ToString());
  REQUIRE(from_file.ok());
  StatusOr<ServerConfig> defaults = Load({});
  REQUIRE(defaults.ok());
  CHECK(from_file->listen == defaults->listen);
  CHECK(from_file->batcher_max_batch_size == defaults->batcher_max_batch_size);
  CHECK(from_file->batcher_preferred_batch_sizes.empty());
  CHECK(from_file->cache_max_size_bytes == defaults->cache_max_size_bytes);
  CHECK(from_file->limits_drain_timeout_ms == defaults->limits_drain_timeout_ms);
  CHECK(from_file->logging_format == defaults->logging_format);
  CHECK(from_file->profiling_enabled == defaults->profiling_enabled);
  CHECK(from_file->models.empty());
}

TEST_CASE("docs/configuration.md holds the key table as the code makes it") {
  std::ifstream in(std::string(CAMSERVE_SOURCE_DIR) + "/docs/configuration.md");
  REQUIRE(in.good());
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string table = ConfigReferenceMarkdown();
  const bool documented = doc.find(table) != std::string::npos;
  if (!documented) std::ofstream("config_reference.md") << table;
  INFO("the table to paste into docs/configuration.md is in " << fs::current_path() / "config_reference.md");
  CHECK(documented);
  // Spot checks of the generated rows: the defaults come from ServerConfig.
  CHECK(table.find("| `batcher.max_queue_size` | `" + std::to_string(ServerConfig().batcher_max_queue_size) +
                   "` | `--batcher-max-queue-size` | `CAMSERVE_BATCHER_MAX_QUEUE_SIZE` | an integer >= 1 |") !=
        std::string::npos);
  CHECK(table.find("| `batcher.max_batch_size` | `auto` | `--batcher-max-batch-size` | "
                   "`CAMSERVE_BATCHER_MAX_BATCH_SIZE` | auto or an integer >= 1 |") != std::string::npos);
  CHECK(table.find("| `cache.enabled` | `true` | `--cache-enabled` | `CAMSERVE_CACHE_ENABLED` | true or false |") !=
        std::string::npos);
}

// Dotted keys of a YAML mapping's scalar and list leaves.
void CollectKeys(const YAML::Node& node, const std::string& prefix, std::set<std::string>* keys) {
  for (const auto& entry : node) {
    const std::string key = prefix + entry.first.as<std::string>();
    if (entry.second.IsMap()) {
      CollectKeys(entry.second, key + ".", keys);
    } else {
      keys->insert(key);
    }
  }
}

TEST_CASE("the shipped template sets every key to its default") {
  const std::string path = std::string(CAMSERVE_SOURCE_DIR) + "/config/camserve.yaml";
  std::set<std::string> in_template;
  CollectKeys(YAML::LoadFile(path), "", &in_template);
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == "config" || key.name == "model") continue;  // flags and variables only
    INFO(key.name);
    CHECK(in_template.count(key.name) == 1);
  }
  StatusOr<ServerConfig> from_file = Load({"--config", path.c_str()});
  REQUIRE(from_file.ok());
  const ServerConfig defaults;
  for (const ConfigKey& key : ConfigKeys()) {
    INFO(key.name);
    CHECK(key.format(*from_file) == key.format(defaults));
  }
}

}  // namespace
}  // namespace camserve
