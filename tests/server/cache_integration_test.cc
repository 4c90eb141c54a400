// Integration tests of the heatmap cache in the real camserve binary, on real
// RocksDB directories: hits equal misses byte for byte, bypass, the LRU limit,
// statistics, ClearCache, persistence across restarts, coalescing of
// identical concurrent requests, failures (unopenable directory, a second
// process, a full disk) and SIGKILL during a burst of writes.
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <future>
#include <random>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "tests/server/server_test_util.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

using namespace testing;  // NOLINT: the shared server-test helpers

const char* const kMethods[] = {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam"};

// The same request without the cache: a fresh computation.
v1::ExplainResponse Fresh(v1::Explainer::Stub& stub, v1::ExplainRequest request) {
  request.set_bypass_cache(true);
  v1::ExplainResponse response = MustExplain(stub, request);
  REQUIRE_FALSE(response.cache_hit());
  return response;
}

void CheckSameAnswer(const v1::ExplainResponse& a, const v1::ExplainResponse& b) {
  CHECK(a.heatmap().data() == b.heatmap().data());
  CHECK(a.heatmap().width() == b.heatmap().width());
  CHECK(a.heatmap().height() == b.heatmap().height());
  CHECK(a.heatmap().encoding() == b.heatmap().encoding());
  CHECK(a.target_class() == b.target_class());
  CHECK(a.target_label() == b.target_label());
  CHECK(a.target_probability() == b.target_probability());
  REQUIRE(a.top_k_size() == b.top_k_size());
  for (int k = 0; k < a.top_k_size(); ++k) {
    CHECK(a.top_k(k).class_index() == b.top_k(k).class_index());
    CHECK(a.top_k(k).probability() == b.top_k(k).probability());
  }
  CHECK(a.model_version() == b.model_version());
}

TEST_CASE("a repeated request is a cache hit with the same bytes, for every encoding", "[cache]") {
  ServerProcess server;
  StartServer(server, {});
  auto stub = Connect(server);
  const std::string image = ReadBytes(DigitImages(1)[0]);
  int64_t misses = 0;
  for (auto encoding : {v1::HEATMAP_ENCODING_FLOAT32, v1::HEATMAP_ENCODING_UINT8, v1::HEATMAP_ENCODING_PNG_HEATMAP,
                        v1::HEATMAP_ENCODING_PNG_OVERLAY}) {
    INFO("encoding " << encoding);
    v1::ExplainRequest request = ImageRequest("first", image);
    request.set_encoding(encoding);
    const v1::ExplainResponse miss = MustExplain(*stub, request);
    ++misses;
    CHECK_FALSE(miss.cache_hit());
    CHECK(miss.batch_size() == 1);
    request.set_request_id("again");
    const v1::ExplainResponse hit = MustExplain(*stub, request);
    CHECK(hit.cache_hit());
    CHECK(hit.request_id() == "again");
    CHECK(hit.batch_size() == 0);
    CHECK(hit.timings().forward_us() == 0);
    CHECK(hit.timings().cache_get_us() > 0);
    CHECK(hit.timings().total_us() >= hit.timings().cache_get_us());
    CheckSameAnswer(hit, miss);
    CHECK(AccessLine(server, "again").find("cache_hit=true") != std::string::npos);
  }
  const v1::GetCacheStatsResponse stats = CacheStats(*stub);
  CHECK(stats.enabled());
  CHECK(stats.entries() == 4);
  CHECK(stats.hits() == 4);
  CHECK(stats.misses() == misses);
  CHECK(stats.hit_rate() == Approx(0.5));
  CHECK(stats.errors() == 0);
  CHECK(stats.capacity_bytes() == int64_t{1} << 30);
  CHECK(stats.bytes() > 4 * 32 * 32);
  CHECK(stats.utilization() == Approx(static_cast<double>(stats.bytes()) / stats.capacity_bytes()));
}

TEST_CASE("every setting that changes the answer is part of the key; bypass_cache skips lookup and store", "[cache]") {
  ServerProcess server;
  StartServer(server, {});
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(2);
  const v1::ExplainRequest base = ImageRequest("base", ReadBytes(images[0]));
  MustExplain(*stub, base);
  std::vector<v1::ExplainRequest> variants(7, base);
  variants[0].set_image(ReadBytes(images[1]));
  variants[1].set_method("layercam");
  variants[2].set_target_class(3);
  variants[3].set_top_k(2);
  variants[4].set_resolution(v1::HEATMAP_RESOLUTION_FEATURE);
  variants[5].set_encoding(v1::HEATMAP_ENCODING_UINT8);
  variants[6].set_evaluate(true);
  for (size_t i = 0; i < variants.size(); ++i) {
    INFO("variant " << i);
    CHECK_FALSE(MustExplain(*stub, variants[i]).cache_hit());
  }
  // Spelling out the defaults is the same request.
  v1::ExplainRequest explicit_defaults = base;
  explicit_defaults.set_method("gradcam");
  explicit_defaults.set_top_k(5);
  {
    grpc::ClientContext context;
    v1::GetModelInfoResponse info;
    REQUIRE(stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
    REQUIRE(info.models_size() == 1);
    explicit_defaults.set_target_layer(info.models(0).default_layer());
  }
  CHECK(MustExplain(*stub, explicit_defaults).cache_hit());

  const v1::GetCacheStatsResponse before = CacheStats(*stub);
  v1::ExplainRequest bypassed = base;
  bypassed.set_bypass_cache(true);
  const v1::ExplainResponse fresh = MustExplain(*stub, bypassed);
  CHECK_FALSE(fresh.cache_hit());
  CHECK(fresh.batch_size() == 1);
  v1::ExplainRequest new_bypassed = ImageRequest("new", ReadBytes(DigitImages(3)[2]));
  new_bypassed.set_bypass_cache(true);
  MustExplain(*stub, new_bypassed);
  const v1::GetCacheStatsResponse after = CacheStats(*stub);
  CHECK(after.hits() == before.hits());
  CHECK(after.misses() == before.misses());
  CHECK(after.entries() == before.entries());
  new_bypassed.set_bypass_cache(false);
  CHECK_FALSE(MustExplain(*stub, new_bypassed).cache_hit());  // the bypassed answer was not stored
}

TEST_CASE("the LRU limit holds over the wire and the cache survives a restart", "[cache]") {
  TempDir dir;
  ServerProcess server;
  // A 32x32 FLOAT32 heatmap is 4 KB: room for two entries.
  const std::vector<std::string> args = {"--cache-dir", dir / "cache", "--cache-max-size-bytes", "10000"};
  StartServer(server, args);
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(5);
  std::vector<v1::ExplainResponse> first(5);
  for (int i = 0; i < 5; ++i)
    first[i] = MustExplain(*stub, ImageRequest("i" + std::to_string(i), ReadBytes(images[i])));
  v1::GetCacheStatsResponse stats = CacheStats(*stub);
  CHECK(stats.entries() == 2);
  CHECK(stats.evictions() == 3);
  CHECK(stats.bytes() <= 10000);
  const int64_t bytes = stats.bytes();
  // The oldest entry was evicted, the two newest remain.
  REQUIRE(server.Stop(SIGTERM).ok());
  StartServer(server, args);
  stub = Connect(server);
  stats = CacheStats(*stub);
  CHECK(stats.entries() == 2);
  CHECK(stats.bytes() == bytes);
  for (int i = 3; i < 5; ++i) {
    const v1::ExplainResponse again = MustExplain(*stub, ImageRequest("again", ReadBytes(images[i])));
    CHECK(again.cache_hit());
    CheckSameAnswer(again, first[i]);
  }
  CHECK_FALSE(MustExplain(*stub, ImageRequest("old", ReadBytes(images[0]))).cache_hit());
}

TEST_CASE("ClearCache removes one model's entries or all", "[cache]") {
  ServerProcess server;
  StartServer(server, {});
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(3);
  for (const std::string& path : images) MustExplain(*stub, ImageRequest(path, ReadBytes(path)));
  auto clear = [&](const std::string& model, v1::ClearCacheResponse* response) {
    grpc::ClientContext context;
    v1::ClearCacheRequest request;
    request.set_model(model);
    return stub->ClearCache(&context, request, response);
  };
  v1::ClearCacheResponse cleared;
  REQUIRE(clear("another_model", &cleared).ok());
  CHECK(cleared.entries_removed() == 0);
  REQUIRE(clear("digits_cnn", &cleared).ok());
  CHECK(cleared.entries_removed() == 3);
  CHECK(CacheStats(*stub).entries() == 0);
  CHECK_FALSE(MustExplain(*stub, ImageRequest("x", ReadBytes(images[0]))).cache_hit());
  REQUIRE(clear("", &cleared).ok());
  CHECK(cleared.entries_removed() == 1);

  ServerProcess uncached;
  StartServer(uncached, {"--cache-enabled", "false"});
  auto uncached_stub = Connect(uncached);
  grpc::ClientContext context;
  const grpc::Status status = uncached_stub->ClearCache(&context, v1::ClearCacheRequest(), &cleared);
  CHECK(status.error_code() == grpc::FAILED_PRECONDITION);
  CHECK(status.error_message() == "the heatmap cache is disabled");
  CHECK_FALSE(CacheStats(*uncached_stub).enabled());
}

TEST_CASE("identical concurrent requests are computed once; each keeps its own deadline", "[cache]") {
  ServerProcess server;
  // Requests wait up to 1.5 s for company, so the identical ones arrive while
  // the first is still queued.
  StartServer(server, {"--batcher-max-queue-delay-us", "1500000", "--batcher-max-batch-size", "64", "--logging-level",
                       "debug"});
  auto stub = Connect(server);
  const std::string image = ReadBytes(DigitImages(1)[0]);
  // The leader gives up after 400 ms; its computation goes on for the others.
  v1::ExplainResponse leader_response;
  auto leader =
      std::async(std::launch::async, [&] { return Call(*stub, ImageRequest("leader", image), &leader_response, 400); });
  REQUIRE(
      server
          .WaitForLogLine(
              [](const std::string& l) { return l.find("queueing request_id=\"leader\"") != std::string::npos; }, 30000)
          .ok());
  constexpr int kFollowers = 7;
  std::vector<v1::ExplainResponse> responses(kFollowers + 1);
  std::vector<std::future<grpc::Status>> followers;
  for (int i = 0; i <= kFollowers; ++i) {
    // The last follower's own deadline (600 ms) passes before the answer.
    const int deadline_ms = i == kFollowers ? 600 : 60000;
    followers.push_back(std::async(std::launch::async, [&, i, deadline_ms] {
      return Call(*stub, ImageRequest("follower" + std::to_string(i), image), &responses[i], deadline_ms);
    }));
  }
  CHECK(leader.get().error_code() == grpc::DEADLINE_EXCEEDED);
  CHECK(followers[kFollowers].get().error_code() == grpc::DEADLINE_EXCEEDED);
  for (int i = 0; i < kFollowers; ++i) {
    INFO("follower " << i);
    const grpc::Status status = followers[i].get();
    REQUIRE(status.ok());
    CHECK(responses[i].coalesced());
    CHECK_FALSE(responses[i].cache_hit());
    CHECK(responses[i].request_id() == "follower" + std::to_string(i));
    CHECK(responses[i].batch_size() == 1);
  }
  CHECK(AccessLine(server, "leader").find("status=DEADLINE_EXCEEDED") != std::string::npos);
  CHECK(AccessLine(server, "follower7").find("status=DEADLINE_EXCEEDED") != std::string::npos);
  // One computation: one request queued, the others joined it.
  int queued = 0;
  for (const std::string& line : server.LogLines()) queued += line.find("queueing request_id=") != std::string::npos;
  CHECK(queued == 1);
  const v1::GetCacheStatsResponse stats = CacheStats(*stub);
  CHECK(stats.coalesced() == kFollowers + 1);
  CHECK(stats.entries() == 1);
  // And the shared answer is the right one.
  v1::ExplainRequest request = ImageRequest("check", image);
  const v1::ExplainResponse fresh = Fresh(*stub, request);
  for (int i = 0; i < kFollowers; ++i) CheckSameAnswer(responses[i], fresh);
}

TEST_CASE("a cache directory that cannot be opened disables the cache, or stops a server that requires it", "[cache]") {
  TempDir dir;
  {
    std::ofstream file(dir / "not_a_directory");
    file << "x";
  }
  ServerProcess server;
  StartServer(server, {"--cache-dir", dir / "not_a_directory"});
  CHECK(server
            .WaitForLogLine([](const std::string& l) { return l.find("HEATMAP CACHE DISABLED") != std::string::npos; },
                            1000)
            .ok());
  auto stub = Connect(server);
  CHECK_FALSE(CacheStats(*stub).enabled());
  const std::string image = ReadBytes(DigitImages(1)[0]);
  CHECK_FALSE(MustExplain(*stub, ImageRequest("a", image)).cache_hit());
  CHECK_FALSE(MustExplain(*stub, ImageRequest("b", image)).cache_hit());

  ServerProcess strict;
  const Status started = strict.Start(
      {{"--model", DigitsModel(), "--cache-dir", dir / "not_a_directory", "--cache-required", "true"}, {}, 120000});
  REQUIRE_FALSE(started.ok());
  CHECK_THAT(started.message(), Catch::Contains("cannot open the heatmap cache (cache.required=true)"));
  const StatusOr<int> exit_code = strict.Stop(SIGKILL);
  REQUIRE(exit_code.ok());
  CHECK(*exit_code == 1);
}

TEST_CASE("a second server on the same cache directory gets a clear lock error, not a shared cache", "[cache]") {
  TempDir dir;
  ServerProcess first;
  StartServer(first, {"--cache-dir", dir / "cache"});
  ServerProcess second;
  StartServer(second, {"--cache-dir", dir / "cache"});
  CHECK(second
            .WaitForLogLine(
                [](const std::string& l) {
                  return l.find("HEATMAP CACHE DISABLED") != std::string::npos &&
                         l.find("in use by another camserve process") != std::string::npos;
                },
                1000)
            .ok());
  CHECK_FALSE(CacheStats(*Connect(second)).enabled());
  CHECK(CacheStats(*Connect(first)).enabled());

  ServerProcess strict;
  const Status started =
      strict.Start({{"--model", DigitsModel(), "--cache-dir", dir / "cache", "--cache-required", "true"}, {}, 120000});
  REQUIRE_FALSE(started.ok());
  CHECK_THAT(started.message(), Catch::Contains("in use by another camserve process"));
}

TEST_CASE("a full disk never fails a request: answers are computed, the error is counted", "[cache]") {
  ServerProcess server;
  ServerProcess::Options options;
  options.args = {"--model", DigitsModel()};
  // Every file the server writes stops at 150 KB: RocksDB's log fills up after
  // a few dozen 4 KB heatmaps.
  options.file_size_limit_bytes = 150000;
  const Status started = server.Start(options);
  INFO(started.ToString());
  REQUIRE(started.ok());
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(60);
  for (const std::string& path : images)
    CHECK_FALSE(MustExplain(*stub, ImageRequest(path, ReadBytes(path))).cache_hit());
  const v1::GetCacheStatsResponse stats = CacheStats(*stub);
  CHECK(stats.errors() >= 1);
  CHECK(stats.entries() > 0);
  CHECK(stats.entries() < 60);
  CHECK(server.WaitForLogLine([](const std::string& l) { return l.find("write failed") != std::string::npos; }, 1000)
            .ok());
  // What was stored before the failure is still served, and right.
  const v1::ExplainRequest first = ImageRequest("first", ReadBytes(images[0]));
  const v1::ExplainResponse hit = MustExplain(*stub, first);
  CHECK(hit.cache_hit());
  CheckSameAnswer(hit, Fresh(*stub, first));
  // What was not stored is computed again, still OK.
  const v1::ExplainResponse last = MustExplain(*stub, ImageRequest("last", ReadBytes(images.back())));
  CHECK_FALSE(last.cache_hit());
}

TEST_CASE("SIGKILL during a burst of writes: afterwards every answer is a miss or byte-identical to a fresh one",
          "[cache][crash]") {
  TempDir dir;
  // Batches of one on one worker, so that every batch runs with all the
  // intra-op threads (two workers share them by how many batches run at once,
  // and another thread count rounds differently): a fresh computation then
  // matches the stored one bit for bit.
  const std::vector<std::string> args = {"--cache-dir",
                                         dir / "cache",
                                         "--batcher-max-batch-size",
                                         "1",
                                         "--batcher-max-queue-size",
                                         "1000",
                                         "--batcher-workers",
                                         "1"};
  const std::vector<std::string> images = DigitImages(300);
  std::mt19937 random(1123);
  int total_hits = 0;
  int total_checked = 0;
  for (int cycle = 0; cycle < 10; ++cycle) {
    INFO("cycle " << cycle);
    ServerProcess server;
    StartServer(server, args);
    auto stub = Connect(server);
    absl::Mutex sent_mu;
    std::vector<v1::ExplainRequest> sent;  // guarded by sent_mu until the clients are joined
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        for (int k = 0; !killed.load(); ++k) {
          const int n = cycle * 1000 + t * 250 + k;
          v1::ExplainRequest request = ImageRequest("c" + std::to_string(n), ReadBytes(images[n % images.size()]));
          request.set_method(kMethods[(n / images.size()) % 6]);
          {
            absl::MutexLock lock(&sent_mu);
            sent.push_back(request);
          }
          v1::ExplainResponse response;
          Call(*stub, request, &response, 10000);  // fails once the server is killed
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 600)(random)));
    const StatusOr<int> killed_code = server.Stop(SIGKILL);
    killed = true;
    for (std::thread& client : clients) client.join();
    REQUIRE(killed_code.ok());
    CHECK(*killed_code == 128 + SIGKILL);

    StartServer(server, args);
    stub = Connect(server);
    int hits = 0;
    for (const v1::ExplainRequest& request : sent) {
      const v1::ExplainResponse answer = MustExplain(*stub, request);
      if (!answer.cache_hit()) continue;
      ++hits;
      INFO(request.request_id());
      CheckSameAnswer(answer, Fresh(*stub, request));
    }
    const v1::GetCacheStatsResponse stats = CacheStats(*stub);
    CHECK(stats.errors() == 0);
    CHECK(stats.bytes() <= stats.capacity_bytes());
    total_hits += hits;
    total_checked += static_cast<int>(sent.size());
    REQUIRE(server.Stop(SIGKILL).ok());
  }
  std::printf("crash test: 10 SIGKILL cycles, %d requests re-asked, %d hits byte-identical to a fresh computation\n",
              total_checked, total_hits);
  CHECK(total_checked > 100);
  CHECK(total_hits > 50);
}

TEST_CASE("camserve-bench in repeated mode measures cache hits", "[cache]") {
  ServerProcess server;
  StartServer(server, {});
  TempDir dir;
  const char* bench = std::getenv("CAMSERVE_BENCH_BINARY");
  REQUIRE(bench != nullptr);
  const std::string command = std::string(bench) + " --addr " + server.address() + " --image " + DigitImages(1)[0] +
                              " --mode repeated --concurrency 1,4 --duration-s 1 --warmup-s 0.3 --json " +
                              (dir / "bench.json") + " > " + (dir / "bench.out") + " 2>&1";
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
  const YAML::Node levels = YAML::LoadFile(dir / "bench.json");
  REQUIRE(levels.size() == 2);
  for (const YAML::Node& level : levels) {
    CHECK(level["ok"].as<int64_t>() > 10);
    CHECK(level["errors"].as<int64_t>() == 0);
    CHECK(level["cache_hit_fraction"].as<double>() == 1.0);
    CHECK(level["server_cache_get_ms"].as<double>() > 0);
    CHECK(level["server_forward_ms"].as<double>() == 0);
  }
}

}  // namespace
}  // namespace camserve
