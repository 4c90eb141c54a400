#include "core/config/server_config.h"

#include <unistd.h>
#include <catch2/catch.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

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
  CHECK(config->batcher_max_batch_size == 8);
  CHECK(config->batcher_max_queue_delay_us == 2000);
  CHECK(config->cache_max_size_bytes == (int64_t{1} << 30));
  CHECK(config->limits_max_receive_message_bytes == 16 * 1024 * 1024);
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
      "listen: 0.0.0.0:1000\nbatcher:\n  max_batch_size: 16\n  preferred_batch_sizes: [4, 8]\n"
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
                "batcher.max_batch_size: 'x' is not an integer (from flag --batcher-max-batch-size)"},
           Case{{"--batcher-max-batch-size", "0"}, {}, "batcher.max_batch_size: '0' must be >= 1"},
           Case{{},
                {{"CAMSERVE_LISTEN", "localhost"}},
                "listen: 'localhost' is not HOST:PORT (from environment CAMSERVE_LISTEN)"},
           Case{{"--listen", "127.0.0.1:70000"}, {}, "listen: '127.0.0.1:70000' has a port above 65535"},
           Case{{"--cache-enabled", "maybe"}, {}, "cache.enabled: 'maybe' is not a boolean"},
           Case{{"--logging-level", "loud"}, {}, "logging.level: 'loud' is not one of trace, debug"},
           Case{{"--device", "tpu"}, {}, "device: 'tpu' is not auto, cpu or cuda[:N]"},
           Case{{"--batcher-preferred-batch-sizes", "4,64"},
                {},
                "batcher.preferred_batch_sizes: 64 exceeds batcher.max_batch_size 8"},
           Case{{"--no-such-flag", "1"}, {}, "unknown flag --no-such-flag"},
           Case{{"--listen"}, {}, "--listen: 1 required VALUE missing"},
           Case{{"extra"}, {}, "unexpected argument 'extra'"},
           Case{{"--config", "/nonexistent/camserve.yaml"}, {}, "config: '/nonexistent/camserve.yaml' cannot be read"},
       }) {
    StatusOr<ServerConfig> config = Load(c.flags, c.env);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(config.status().message(), Catch::Contains(c.message));
  }
}

TEST_CASE("unknown keys in the file are errors, so typos do not pass silently") {
  const std::string yaml = WriteYaml("batcher:\n  max_batch_sise: 4\n");
  StatusOr<ServerConfig> config = Load({"--config", yaml.c_str()});
  REQUIRE_FALSE(config.ok());
  CHECK_THAT(config.status().message(), Catch::Contains("unknown configuration key 'batcher.max_batch_sise'"));
  fs::remove(yaml);
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

TEST_CASE("every key is documented in docs/configuration.md with its default, flag and variable") {
  std::ifstream in(std::string(CAMSERVE_SOURCE_DIR) + "/docs/configuration.md");
  REQUIRE(in.good());
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == "config") continue;  // a flag and variable only, described in the text
    std::string flag = key.name, variable = "CAMSERVE_" + key.name;
    for (char& c : flag) c = (c == '.' || c == '_') ? '-' : c;
    for (char& c : variable) c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string row =
        "| `" + key.name + "` | `" + key.default_value + "` | `--" + flag + "` | `" + variable + "` |";
    INFO(row);
    CHECK(doc.find(row) != std::string::npos);
  }
}

}  // namespace
}  // namespace camserve
