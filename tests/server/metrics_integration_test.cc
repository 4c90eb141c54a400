// The metrics of the real camserve binary: a scrape over HTTP after known
// requests (exact counts, histogram sums equal to the responses' timings),
// `promtool check metrics` on it, the dashboard's and alert rules' metric
// names checked against it, the profiler switched off, and a real Prometheus
// server scraping camserve with deploy/'s configuration.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "core/util/file_io.h"
#include "tests/http_get.h"
#include "tests/prometheus_text.h"
#include "tests/server/server_test_util.h"
#include "tests/shell_command.h"
#include "tests/temp_dir.h"

extern char** environ;

namespace camserve {
namespace {

using testing::CountLines;
using testing::SampleValue;

std::string SourceDir() { return testing::EnvDir("CAMSERVE_SOURCE_DIR"); }

std::string Scrape(const ServerProcess& server) {
  REQUIRE(server.metrics_port() > 0);
  StatusOr<testing::HttpResponse> scrape = testing::HttpGet(server.metrics_port(), "/metrics");
  INFO(scrape.status().ToString());
  REQUIRE(scrape.ok());
  REQUIRE(scrape->status == 200);
  return scrape->body;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  const Status written = WriteFileBytes(path.string(), text);
  INFO(written.ToString());
  REQUIRE(written.ok());
}

v1::ExplainRequest DigitRequest(const std::string& id, const std::string& path, const std::string& method = "") {
  v1::ExplainRequest request = testing::ImageRequest(id, testing::ReadBytes(path));
  request.set_method(method);
  return request;
}

TEST_CASE("a scrape of the real server counts what was sent; promtool and the name check accept it") {
  ServerProcess server;
  testing::StartServer(server, {"--http-listen", "127.0.0.1:0"});
  // One HTTP API request, so that its counter (the dashboard's HTTP panel) exists.
  StatusOr<testing::HttpResponse> live = testing::HttpGet(server.http_port(), "/v2/health/live");
  REQUIRE(live.ok());
  CHECK(live->status == 200);
  auto stub = testing::Connect(server);
  const std::vector<std::string> images = testing::DigitImages(3);

  // 3 computed (misses), 1 hit, 1 computed with the cache bypassed, 2 errors.
  std::vector<v1::ExplainResponse> computed(3);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(testing::Call(*stub, DigitRequest("miss" + std::to_string(i), images[i]), &computed[i]).ok());
    REQUIRE_FALSE(computed[i].cache_hit());
  }
  v1::ExplainResponse hit;
  REQUIRE(testing::Call(*stub, DigitRequest("hit", images[0]), &hit).ok());
  REQUIRE(hit.cache_hit());
  v1::ExplainRequest bypass = DigitRequest("bypass", images[1], "eigencam");
  bypass.set_bypass_cache(true);
  v1::ExplainResponse bypassed;
  REQUIRE(testing::Call(*stub, bypass, &bypassed).ok());
  v1::ExplainResponse ignored;
  CHECK(testing::Call(*stub, DigitRequest("bad-method", images[0], "bogus"), &ignored).error_code() ==
        grpc::INVALID_ARGUMENT);
  v1::ExplainRequest bad_model = DigitRequest("bad-model", images[0]);
  bad_model.set_model("no-such-model");
  CHECK(testing::Call(*stub, bad_model, &ignored).error_code() == grpc::NOT_FOUND);

  // The responses carry the stages that ran.
  for (const v1::ExplainResponse& response : computed) {
    const v1::StageTimings& t = response.timings();
    CHECK(t.decode_us() > 0);
    CHECK(t.forward_us() > 0);
    CHECK(t.cache_put_us() > 0);
    CHECK(t.total_us() >= t.decode_us() + t.queue_us() + t.preprocess_us() + t.forward_us() + t.backward_us() +
                              t.cam_us() + t.encode_us() + t.cache_put_us());
  }
  CHECK(hit.timings().cache_get_us() > 0);
  CHECK(hit.timings().forward_us() == 0);
  CHECK(hit.timings().total_us() >= hit.timings().cache_get_us());
  CHECK(bypassed.timings().cache_get_us() == 0);

  const std::string text = Scrape(server);
  INFO(text);
  const std::string digits = R"(model="digits_cnn")";
  CHECK(SampleValue(text, R"(camserve_requests_total{method="gradcam",model="digits_cnn",status="OK"})") == 4);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="eigencam",model="digits_cnn",status="OK"})") == 1);
  CHECK(SampleValue(text,
                    R"(camserve_requests_total{method="unknown",model="digits_cnn",status="INVALID_ARGUMENT"})") == 1);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="unknown",model="unknown",status="NOT_FOUND"})") == 1);
  CHECK(CountLines(text, "camserve_requests_total{") == 4);

  // Stages of a computation once per computation; cache_get and total once
  // per request; and the histogram sums are exactly the responses' timings.
  const auto stage = [&](const std::string& method, const std::string& name, const std::string& suffix) {
    return SampleValue(text, "camserve_stage_duration_seconds_" + suffix + R"({method=")" + method + R"(",)" + digits +
                                 R"(,stage=")" + name + R"("})");
  };
  CHECK(stage("gradcam", "total", "count") == 4);
  CHECK(stage("gradcam", "cache_get", "count") == 4);
  CHECK(stage("gradcam", "forward", "count") == 3);
  CHECK(stage("gradcam", "decode", "count") == 3);
  CHECK(stage("gradcam", "cache_put", "count") == 3);
  CHECK(stage("eigencam", "forward", "count") == 1);
  CHECK_FALSE(stage("eigencam", "cache_get", "count").has_value());
  CHECK_FALSE(stage("eigencam", "cache_put", "count").has_value());
  int64_t forward_us = 0, total_us = hit.timings().total_us();
  for (const v1::ExplainResponse& response : computed) {
    forward_us += response.timings().forward_us();
    total_us += response.timings().total_us();
  }
  CHECK(stage("gradcam", "forward", "sum").value_or(-1) == Approx(forward_us / 1e6).margin(1e-9));
  CHECK(stage("gradcam", "total", "sum").value_or(-1) == Approx(total_us / 1e6).margin(1e-9));
  CHECK(SampleValue(
            text,
            R"(camserve_stage_duration_seconds_bucket{method="gradcam",model="digits_cnn",stage="total",le="+Inf"})") ==
        4);

  CHECK(SampleValue(text, R"(camserve_batch_size_count{model="digits_cnn"})") == 4);
  CHECK(SampleValue(text, R"(camserve_batch_size_bucket{model="digits_cnn",le="1"})") == 4);
  CHECK(SampleValue(text, "camserve_requests_in_flight") == 0);
  CHECK(SampleValue(text, R"(camserve_queue_depth{model="digits_cnn"})") == 0);
  CHECK(SampleValue(text, R"(camserve_queue_capacity{model="digits_cnn"})") == 256);
  CHECK(SampleValue(text, R"(camserve_model_info{device="cpu",model="digits_cnn",version=")" +
                              computed[0].model_version() + R"("})") == 1);
  CHECK(SampleValue(text, "camserve_cache_hits_total") == 1);
  CHECK(SampleValue(text, "camserve_cache_misses_total") == 3);
  CHECK(SampleValue(text, "camserve_cache_entries") == 3);
  CHECK(SampleValue(text, "camserve_cache_bytes").value_or(0) > 0);
  CHECK(SampleValue(text, "camserve_cache_capacity_bytes") == 1073741824);
  CHECK(SampleValue(text, "camserve_cache_evictions_total") == 0);
  for (const char* op : {"read", "write", "damaged"}) {
    CHECK(SampleValue(text, std::string("camserve_cache_errors_total{op=\"") + op + "\"}") == 0);
  }
  CHECK(SampleValue(text, "camserve_cache_writes_paused") == 0);
  CHECK(SampleValue(text, "camserve_cache_coalesced_requests_total") == 0);
  CHECK(SampleValue(text, "camserve_process_resident_memory_bytes").value_or(0) > 10e6);
  CHECK(SampleValue(text, "camserve_process_cpu_seconds_total").value_or(0) > 0);
  CHECK(text.find("camserve_gpu_") == std::string::npos);  // a CPU server

  TempDir temp;
  const std::filesystem::path scrape_file = temp.path() / "scrape.txt";
  WriteFile(scrape_file, text);
  std::string output;
  INFO("promtool check metrics");
  CHECK(testing::RunShellCommand("promtool check metrics < " + scrape_file.string(), &output) == 0);
  INFO(output);
  CHECK(output.empty());  // no lint findings

  // Every camserve_ name in the Grafana dashboard and the alert rules is one
  // this server exports (GPU metrics exist only on CUDA).
  const std::string checker = "/usr/bin/python3 " + SourceDir() + "/deploy/check_metric_names.py ";
  CHECK(testing::RunShellCommand(checker + scrape_file.string() + " --allow-missing camserve_gpu_", &output) == 0);
  INFO(output);
  // ... and the check can fail: a scrape without the cache's metrics.
  std::string without_cache;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("camserve_cache_bytes") == std::string::npos) without_cache += line + "\n";
  }
  WriteFile(temp.path() / "partial.txt", without_cache);
  CHECK(testing::RunShellCommand(checker + (temp.path() / "partial.txt").string() + " --allow-missing camserve_gpu_",
                                 &output) == 1);
  CHECK(output.find("camserve_cache_bytes") != std::string::npos);
}

TEST_CASE("profiling off: no stage timings in responses or metrics; requests and batches still counted") {
  ServerProcess server;
  testing::StartServer(server, {"--profiling-enabled", "false"});
  auto stub = testing::Connect(server);
  v1::ExplainResponse response;
  REQUIRE(testing::Call(*stub, DigitRequest("one", testing::DigitImages(1)[0]), &response).ok());
  const v1::StageTimings& t = response.timings();
  CHECK(t.decode_us() + t.queue_us() + t.preprocess_us() + t.forward_us() + t.backward_us() + t.cam_us() +
            t.encode_us() + t.cache_get_us() + t.cache_put_us() + t.total_us() ==
        0);
  const std::string text = Scrape(server);
  CHECK(SampleValue(text, R"(camserve_requests_total{method="gradcam",model="digits_cnn",status="OK"})") == 1);
  CHECK(SampleValue(text, R"(camserve_batch_size_count{model="digits_cnn"})") == 1);
  CHECK(CountLines(text, "camserve_stage_duration_seconds_") == 0);
}

TEST_CASE("a taken metrics port stops startup with a message naming metrics_listen") {
  ServerProcess first;
  testing::StartServer(first, {});
  ServerProcess second;
  const Status started = second.Start(
      {{"--model", testing::DigitsModel(), "--metrics-listen", "127.0.0.1:" + std::to_string(first.metrics_port())},
       {},
       120000});
  REQUIRE_FALSE(started.ok());
  CHECK_THAT(started.message(),
             Catch::Contains("cannot serve metrics on 127.0.0.1:" + std::to_string(first.metrics_port())));
  CHECK_THAT(started.message(), Catch::Contains("(metrics_listen)"));
}

TEST_CASE("civetweb threads that cannot start stop startup with the cause (too much thread-local storage)") {
  ServerProcess server;
  const Status started = server.Start(
      {{"--model", testing::DigitsModel()}, {std::string("LD_PRELOAD=") + CAMSERVE_TEST_BIG_TLS_LIBRARY}, 120000});
  REQUIRE_FALSE(started.ok());
  CHECK_THAT(started.message(), Catch::Contains("cannot serve metrics on 127.0.0.1:0"));
  CHECK_THAT(started.message(), Catch::Contains("thread-local storage does not fit"));
  CHECK_THAT(started.message(), Catch::Contains("use libopenblas0-serial"));
}

// A free loopback port (bound and released; Prometheus binds it right after).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// A real `prometheus` server, stopped (SIGTERM, then SIGKILL) by the destructor.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::filesystem::path& config, const std::filesystem::path& dir) : port_(FreePort()) {
    const std::string log = (dir / "prometheus.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {"prometheus", "--config.file=" + config.string(),
                                     "--storage.tsdb.path=" + (dir / "data").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int spawned = posix_spawnp(&pid_, "prometheus", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(spawned == 0);
  }
  ~PrometheusProcess() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

// Polls an instant query until `accept` takes its single value (or 30 s pass);
// the last value seen, NaN when the query never returned one.
double WaitForQueryValue(int port, const std::string& query, const std::function<bool(double)>& accept) {
  static const std::regex kValue(R"re("value":\[[0-9.]+,"([^"]+)"\])re");
  double last = std::nan("");
  for (int attempt = 0; attempt < 150; ++attempt) {
    StatusOr<testing::HttpResponse> answer = testing::HttpGet(port, "/api/v1/query?query=" + UrlEncode(query));
    std::smatch match;
    if (answer.ok() && answer->status == 200 && std::regex_search(answer->body, match, kValue)) {
      last = std::stod(match[1].str());
      if (accept(last)) return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return last;
}

TEST_CASE("a real Prometheus with deploy/'s scrape config and rules sees the counter and a histogram rise") {
  ServerProcess server;
  testing::StartServer(server, {});
  auto stub = testing::Connect(server);
  const std::vector<std::string> images = testing::DigitImages(4);

  // deploy/prometheus/prometheus.yml, pointed at this server and scraping
  // every second; its rule file beside it, as in the compose setup.
  TempDir temp;
  std::string config = testing::ReadBytes(SourceDir() + "/deploy/prometheus/prometheus.yml");
  const std::string target = "camserve:9464";
  REQUIRE(config.find(target) != std::string::npos);
  config.replace(config.find(target), target.size(), "127.0.0.1:" + std::to_string(server.metrics_port()));
  config = std::regex_replace(config, std::regex(R"((scrape|evaluation)_interval: *[0-9]+s)"), "$1_interval: 1s");
  WriteFile(temp.path() / "prometheus.yml", config);
  std::filesystem::copy_file(SourceDir() + "/deploy/prometheus/alerts.yml", temp.path() / "alerts.yml");
  PrometheusProcess prometheus(temp.path() / "prometheus.yml", temp.path());

  bool ready = false;
  for (int attempt = 0; attempt < 150 && !ready; ++attempt) {
    StatusOr<testing::HttpResponse> answer = testing::HttpGet(prometheus.port(), "/-/ready");
    ready = answer.ok() && answer->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(testing::ReadBytes((temp.path() / "prometheus.log").string()));
  REQUIRE(ready);
  CHECK(WaitForQueryValue(prometheus.port(), R"(up{job="camserve"})", [](double v) { return v == 1; }) == 1);

  const std::string requests = R"(sum(camserve_requests_total{job="camserve",status="OK"}))";
  const std::string totals = R"(sum(camserve_stage_duration_seconds_count{job="camserve",stage="total"}))";
  v1::ExplainResponse response;
  REQUIRE(testing::Call(*stub, DigitRequest("first", images[0]), &response).ok());
  CHECK(WaitForQueryValue(prometheus.port(), requests, [](double v) { return v == 1; }) == 1);
  CHECK(WaitForQueryValue(prometheus.port(), totals, [](double v) { return v == 1; }) == 1);
  for (int i = 1; i < 4; ++i) REQUIRE(testing::Call(*stub, DigitRequest("more", images[i]), &response).ok());
  CHECK(WaitForQueryValue(prometheus.port(), requests, [](double v) { return v == 4; }) == 4);
  CHECK(WaitForQueryValue(prometheus.port(), totals, [](double v) { return v == 4; }) == 4);
  // A dashboard-style quantile over the histogram's buckets has a value.
  const double p99 = WaitForQueryValue(
      prometheus.port(),
      R"(histogram_quantile(0.99, sum by (le) (camserve_stage_duration_seconds_bucket{stage="forward"})))",
      [](double v) { return v > 0; });
  CHECK(p99 > 0);
  CHECK(p99 <= 30);

  // The alert rules loaded and evaluate without error.
  StatusOr<testing::HttpResponse> rules = testing::HttpGet(prometheus.port(), "/api/v1/rules");
  REQUIRE(rules.ok());
  CHECK(rules->body.find(R"("name":"CamserveHighErrorRate")") != std::string::npos);
  CHECK(rules->body.find(R"("name":"CamserveCacheNearFull")") != std::string::npos);
  CHECK(rules->body.find(R"("health":"err")") == std::string::npos);
}

}  // namespace
}  // namespace camserve
