// Fuzz target: the configuration loader on an arbitrary YAML file
// (LoadServerConfig with --config FILE and no environment), then the
// device defaults. The loader must answer every file with a Status: yaml-cpp
// throws on bad YAML and on conversions, and nothing may escape.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "core/config/server_config.h"

namespace {

// One file per process, rewritten for every input and removed at exit.
char config_path[] = "/tmp/camserve_config_fuzz_XXXXXX";

void RemoveConfigFile() { std::remove(config_path); }

const char* ConfigPath() {
  static const bool created = [] {
    const int fd = mkstemp(config_path);
    if (fd < 0) std::abort();
    close(fd);
    std::atexit(RemoveConfigFile);
    return true;
  }();
  (void)created;
  return config_path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* path = ConfigPath();
  std::FILE* file = std::fopen(path, "wb");
  if (file == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  const char* argv[] = {"camserve", "--config", path};
  const camserve::StatusOr<camserve::ServerConfig> config =
      camserve::LoadServerConfig(3, argv, std::map<std::string, std::string>());
  if (config.ok()) (void)camserve::WithDeviceDefaults(*config, /*cuda=*/false);
  return 0;
}
