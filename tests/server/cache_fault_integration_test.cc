// Faults of the real camserve binary on real directories: a cache directory
// damaged on disk (repaired, or moved aside), a full disk (a real tmpfs, where
// mounting is permitted) and a file-size limit hit while serving and then
// lifted, and model files that are missing, truncated or not TorchScript.
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/http_get.h"
#include "tests/prometheus_text.h"
#include "tests/server/server_test_util.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

using namespace testing;  // NOLINT: the shared server-test helpers

double Metric(const ServerProcess& server, const std::string& series) {
  StatusOr<HttpResponse> scrape = HttpGet(server.metrics_port(), "/metrics");
  INFO(scrape.status().ToString());
  REQUIRE(scrape.ok());
  const std::optional<double> value = SampleValue(scrape->body, series);
  INFO(series);
  REQUIRE(value.has_value());
  return *value;
}

bool HasLine(const ServerProcess& server, const std::string& needle) {
  return server.WaitForLogLine([&](const std::string& l) { return l.find(needle) != std::string::npos; }, 1000).ok();
}

void GarbleCurrent(const std::string& dir) {
  std::ofstream current(dir + "/CURRENT", std::ios::trunc);
  current << "garbage";
}

// A tmpfs mounted over a folder for the life of the object.
class Tmpfs {
 public:
  Tmpfs(const std::string& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    mounted_ = mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~Tmpfs() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool Resize(const std::string& size) {
    return mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, ("size=" + size).c_str()) == 0;
  }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// Stores `count` answers in a server on `dir` and stops it cleanly.
std::vector<v1::ExplainResponse> FillCache(const std::string& dir, const std::vector<std::string>& images) {
  ServerProcess server;
  StartServer(server, {"--cache-dir", dir});
  auto stub = Connect(server);
  std::vector<v1::ExplainResponse> answers;
  for (const std::string& path : images) answers.push_back(MustExplain(*stub, ImageRequest(path, ReadBytes(path))));
  const StatusOr<int> stopped = server.Stop(SIGTERM);
  REQUIRE(stopped.ok());
  REQUIRE(*stopped == 0);
  return answers;
}

TEST_CASE(
    "a cache directory with a damaged CURRENT is repaired at startup with a warning, and still serves its "
    "answers",
    "[cache][faults]") {
  TempDir dir;
  const std::vector<std::string> images = DigitImages(3);
  const std::vector<v1::ExplainResponse> first = FillCache(dir / "cache", images);
  GarbleCurrent(dir / "cache");

  ServerProcess server;
  StartServer(server, {"--cache-dir", dir / "cache", "--cache-required", "true"});
  CHECK(HasLine(server, "heatmap cache " + (dir / "cache") + ": RocksDB could not open it (Corruption"));
  CHECK(HasLine(server, "repaired it with RepairDB"));
  auto stub = Connect(server);
  const v1::GetCacheStatsResponse stats = CacheStats(*stub);
  CHECK(stats.enabled());
  CHECK(stats.entries() == 3);
  CHECK(stats.errors() == 0);
  for (size_t i = 0; i < images.size(); ++i) {
    const v1::ExplainResponse again = MustExplain(*stub, ImageRequest("again", ReadBytes(images[i])));
    CHECK(again.cache_hit());
    CHECK(again.heatmap().data() == first[i].heatmap().data());
  }
}

// Damages `dir` beyond RocksDB's repair: a garbled CURRENT, and in the way
// of the MANIFEST-000001 that RepairDB writes, a directory that it cannot
// archive into lost/ (a file here).
void DamageBeyondRepair(const std::string& dir) {
  GarbleCurrent(dir);
  std::filesystem::create_directory(dir + "/MANIFEST-000001");
  std::ofstream lost(dir + "/lost");
  lost << "not a directory";
}

TEST_CASE("a cache directory RocksDB cannot repair is moved aside and replaced by an empty one, with a warning",
          "[cache][faults]") {
  TempDir dir;
  const std::vector<std::string> images = DigitImages(2);
  FillCache(dir / "cache", images);
  DamageBeyondRepair(dir / "cache");
  ServerProcess server;
  StartServer(server, {"--cache-dir", dir / "cache", "--cache-required", "true"});
  CHECK(HasLine(server, "heatmap cache " + (dir / "cache") + ": damaged beyond repair (Corruption"));
  CHECK(HasLine(server, "moved its files aside to " + (dir / "cache") + ".damaged-"));
  int damaged_dirs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    damaged_dirs += entry.path().filename().string().rfind("cache.damaged-", 0) == 0;
  }
  CHECK(damaged_dirs == 1);
  auto stub = Connect(server);
  CHECK(CacheStats(*stub).entries() == 0);
  const std::string image = ReadBytes(images[0]);
  CHECK_FALSE(MustExplain(*stub, ImageRequest("a", image)).cache_hit());
  CHECK(MustExplain(*stub, ImageRequest("b", image)).cache_hit());
}

TEST_CASE(
    "a damaged cache directory that is a mount point keeps its damaged files in a folder inside it and "
    "starts empty, also when the cache is required",
    "[cache][faults]") {
  TempDir dir;
  // A volume mounted at the cache directory, as deploy/k8s does: it cannot be
  // renamed (EBUSY).
  Tmpfs volume(dir / "cache", "64m");
  if (!volume.mounted()) {
    WARN("not run: cannot mount a tmpfs here (" << volume.error() << "); needs root with CAP_SYS_ADMIN");
    return;
  }
  FillCache(dir / "cache", DigitImages(1));
  DamageBeyondRepair(dir / "cache");

  const std::vector<std::string> args = {"--cache-dir", dir / "cache", "--cache-required", "true"};
  ServerProcess server;
  StartServer(server, args);
  CHECK(HasLine(server, "moved its files aside to " + (dir / "cache/damaged-")));
  std::vector<std::string> kept;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "cache")) {
    if (entry.path().filename().string().rfind("damaged-", 0) == 0) kept.push_back(entry.path().string());
  }
  REQUIRE(kept.size() == 1);
  CHECK(ReadBytes(kept[0] + "/CURRENT") == "garbage");
  auto stub = Connect(server);
  CHECK(CacheStats(*stub).enabled());
  CHECK(CacheStats(*stub).entries() == 0);
  const v1::ExplainRequest request = ImageRequest("a", ReadBytes(DigitImages(2)[1]));
  CHECK_FALSE(MustExplain(*stub, request).cache_hit());
  CHECK(MustExplain(*stub, request).cache_hit());
  // RocksDB ignores the folder of damaged files at the next start.
  REQUIRE(server.Stop(SIGTERM).ok());
  StartServer(server, args);
  stub = Connect(server);
  CHECK(CacheStats(*stub).entries() == 1);
  CHECK(MustExplain(*stub, request).cache_hit());
  REQUIRE(server.Stop(SIGTERM).ok());
}

// Distinct requests: every image with every method.
v1::ExplainRequest NthRequest(const std::vector<std::string>& images, int n) {
  static const char* const kMethods[] = {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam"};
  v1::ExplainRequest request = ImageRequest("r" + std::to_string(n), ReadBytes(images[n % images.size()]));
  request.set_method(kMethods[(n / images.size()) % 6]);
  return request;
}

// Sends new requests until the cache counts a write error; every one must
// succeed. Returns how many were sent.
int ExplainUntilWriteErrors(const ServerProcess& server, v1::Explainer::Stub& stub,
                            const std::vector<std::string>& images, int first) {
  int n = first;
  while (Metric(server, R"(camserve_cache_errors_total{op="write"})") == 0) {
    INFO("request " << n);
    REQUIRE(n < first + 1500);
    for (int i = 0; i < 10; ++i, ++n) CHECK_FALSE(MustExplain(stub, NthRequest(images, n)).cache_hit());
  }
  return n;
}

// After the fault is gone: new requests until a store succeeds again (the
// retry comes 5 s after the last failure). Returns the next request number.
int ExplainUntilWritesWork(const ServerProcess& server, v1::Explainer::Stub& stub,
                           const std::vector<std::string>& images, int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!HasLine(server, "writes work again")) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    MustExplain(stub, NthRequest(images, n++));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return n;
}

// The end of a write fault: every answer right, stores work, the accounting
// within its limit.
void CheckRecovered(const ServerProcess& server, v1::Explainer::Stub& stub, const std::vector<std::string>& images,
                    int n) {
  CHECK(Metric(server, "camserve_cache_writes_paused") == 0);
  const v1::ExplainRequest request = NthRequest(images, n);
  CHECK_FALSE(MustExplain(stub, request).cache_hit());
  const v1::ExplainResponse hit = MustExplain(stub, request);
  CHECK(hit.cache_hit());
  v1::ExplainRequest fresh = request;
  fresh.set_bypass_cache(true);
  CHECK(hit.heatmap().data() == MustExplain(stub, fresh).heatmap().data());
  const v1::GetCacheStatsResponse stats = CacheStats(stub);
  CHECK(stats.bytes() <= stats.capacity_bytes());
  CHECK(stats.entries() > 0);
  int failures_logged = 0;
  for (const std::string& line : server.LogLines()) failures_logged += line.find("write failed;") != std::string::npos;
  CHECK(failures_logged == 1);
}

TEST_CASE("a file-size limit reached while serving (real EFBIG) pauses cache writes; lifting it resumes them",
          "[cache][faults]") {
  TempDir dir;
  ServerProcess server;
  ServerProcess::Options options;
  options.args = {"--model", DigitsModel(), "--cache-dir", dir / "cache"};
  options.file_size_limit_bytes = 150000;
  const Status started = server.Start(options);
  INFO(started.ToString());
  REQUIRE(started.ok());
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(300);
  int n = ExplainUntilWriteErrors(server, *stub, images, 0);
  CHECK(Metric(server, "camserve_cache_writes_paused") == 1);
  CHECK(HasLine(server, "write failed; answers are not stored, next try in 5000 ms"));
  // The first answers are still served from the cache, and right.
  CHECK(MustExplain(*stub, NthRequest(images, 0)).cache_hit());

  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  REQUIRE(prlimit(server.pid(), RLIMIT_FSIZE, &unlimited, nullptr) == 0);
  n = ExplainUntilWritesWork(server, *stub, images, n);
  CheckRecovered(server, *stub, images, n);
}

TEST_CASE("a full disk (a real 1 MiB tmpfs) while serving pauses cache writes; growing it resumes them",
          "[cache][faults]") {
  TempDir dir;
  Tmpfs volume(dir / "volume", "1m");
  if (!volume.mounted()) {
    WARN("not run: cannot mount a tmpfs here (" << volume.error() << "); needs root with CAP_SYS_ADMIN");
    return;
  }
  ServerProcess server;
  StartServer(server, {"--cache-dir", dir / "volume/cache"});
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(300);
  int n = ExplainUntilWriteErrors(server, *stub, images, 0);
  CHECK(HasLine(server, "No space left on device"));
  CHECK(Metric(server, "camserve_cache_writes_paused") == 1);
  // The reopen waits for room: hits are still served meanwhile.
  CHECK(MustExplain(*stub, NthRequest(images, 0)).cache_hit());

  REQUIRE(volume.Resize("256m"));
  n = ExplainUntilWritesWork(server, *stub, images, n);
  CheckRecovered(server, *stub, images, n);
  REQUIRE(server.Stop(SIGTERM).ok());
}

// Starts camserve on `model`, which must fail: exit code 1 and one log line
// naming the model, which is returned.
// With leaks_of_libtorch, leak checking (AddressSanitizer builds) is off for
// this one start: LibTorch 1.13 leaks its zip reader's state (215 bytes,
// miniz) when PyTorchStreamReader's constructor throws on an archive of
// another layout, and the process exits right after.
std::string FailedStartLine(const std::string& model, bool leaks_of_libtorch = false) {
  ServerProcess server;
  std::vector<std::string> env;
  if (leaks_of_libtorch) {
    const char* asan_options = std::getenv("ASAN_OPTIONS");
    const std::string options = asan_options != nullptr ? asan_options : "";
    env.push_back("ASAN_OPTIONS=" + options + (options.empty() ? "" : ":") + "detect_leaks=0");
  }
  const Status started = server.Start({{"--model", model, "--cache-enabled", "false"}, env, 120000});
  REQUIRE_FALSE(started.ok());
  const StatusOr<int> exit_code = server.Stop(SIGKILL);
  REQUIRE(exit_code.ok());
  CHECK(*exit_code == 1);
  std::vector<std::string> naming;
  for (const std::string& line : server.LogLines()) {
    INFO(line);
    CHECK(line.find("Exception raised from") == std::string::npos);
    CHECK(line.find("frame #") == std::string::npos);
    if (line.find(model) != std::string::npos) naming.push_back(line);
  }
  INFO(started.message());
  REQUIRE(naming.size() == 1);
  CHECK(naming[0].find("error") != std::string::npos);
  CHECK(naming[0].find("cannot load models") != std::string::npos);
  return naming[0];
}

TEST_CASE("a model file that is missing, truncated or not TorchScript stops the server with one clear line",
          "[faults]") {
  TempDir dir;
  const std::string real = ReadBytes(DigitsModel());
  const auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream out(dir / name, std::ios::binary);
    out << bytes;
    return dir / name;
  };
  CHECK_THAT(FailedStartLine(dir / "missing.pt"), Catch::Contains("no such file"));
  CHECK_THAT(FailedStartLine(write("truncated.pt", real.substr(0, real.size() / 2))),
             Catch::Contains("not a TorchScript archive (truncated, or not written by torch.jit.save)"));
  CHECK_THAT(FailedStartLine(write("text.pt", "this is not a model\n")),
             Catch::Contains("not a TorchScript archive (not a zip file"));
  // A zip archive, but not TorchScript's layout.
  const std::string zip = dir / "other.pt";
  const std::string command = EnvDir("CAMSERVE_PYTHON") + " -c \"import zipfile; zipfile.ZipFile('" + zip +
                              "', 'w').writestr('notes.txt', 'hello')\"";
  REQUIRE(std::system(command.c_str()) == 0);
  CHECK_THAT(FailedStartLine(zip, /*leaks_of_libtorch=*/true),
             Catch::Contains("not a TorchScript archive (truncated, or not written by torch.jit.save)"));
  std::filesystem::create_directory(dir / "a_directory.pt");
  CHECK_THAT(FailedStartLine(dir / "a_directory.pt"), Catch::Contains("a directory, not a file"));
}

}  // namespace
}  // namespace camserve
