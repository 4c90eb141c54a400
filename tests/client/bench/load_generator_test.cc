// Tests for LoadGenerator with fake transports. The windows are short and
// every assertion holds however the threads are scheduled: bounds on
// outstanding requests, the order of images, fixed open-loop schedules,
// latencies no shorter than the fake's delay.
#include "client/bench/load_generator.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/client/bench/fake_transport.h"

namespace camserve {
namespace {

using std::chrono::microseconds;

LoadGenerator::Options ShortWindow(double warmup_s, double duration_s) {
  LoadGenerator::Options options;
  options.warmup_s = warmup_s;
  options.duration_s = duration_s;
  return options;
}

std::unique_ptr<LoadGenerator> MakeGenerator(const LoadGenerator::Options& options, ExplainTransport* transport,
                                             const std::vector<std::string>* images) {
  StatusOr<std::unique_ptr<LoadGenerator>> generator = LoadGenerator::Create(options, transport, images);
  INFO(generator.status().ToString());
  REQUIRE(generator.ok());
  return std::move(generator).value();
}

TEST_CASE("Closed loop keeps at most N outstanding and reaches N", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  for (int concurrency : {1, 4}) {
    ThreadedFakeTransport transport(microseconds(2000), AlwaysOk);
    auto generator = MakeGenerator(ShortWindow(0, 0.2), &transport, &images);
    const std::vector<LatencySample> samples = generator->RunLevel({concurrency, 0});
    CHECK(transport.max_in_flight() == concurrency);
    CHECK(transport.in_flight() == 0);  // drained before returning
    CHECK(samples.size() <= generator->requests_sent());
    CHECK_FALSE(samples.empty());
  }
}

TEST_CASE("Latency runs from send to answer", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  ThreadedFakeTransport transport(microseconds(5000), AlwaysOk);
  auto generator = MakeGenerator(ShortWindow(0, 0.1), &transport, &images);
  const std::vector<LatencySample> samples = generator->RunLevel({1, 0});
  REQUIRE_FALSE(samples.empty());
  for (const LatencySample& sample : samples) CHECK(sample.latency_ms >= 5.0);
}

TEST_CASE("Images go out in order, continuing across levels", "[load_generator]") {
  const std::vector<std::string> images = {"a", "b", "c"};
  ThreadedFakeTransport transport(microseconds(200), AlwaysOk);
  auto generator = MakeGenerator(ShortWindow(0.02, 0.03), &transport, &images);
  generator->RunLevel({2, 0});
  const uint64_t after_first_level = generator->requests_sent();
  generator->RunLevel({1, 0});
  const std::vector<std::string> sent = transport.sent_images();
  REQUIRE(sent.size() == generator->requests_sent());
  CHECK(generator->requests_sent() > after_first_level);
  for (size_t k = 0; k < sent.size(); ++k) CHECK(sent[k] == images[k % 3]);
}

TEST_CASE("Errors are samples with their code", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  ThreadedFakeTransport transport(microseconds(100), [](uint64_t k) {
    CallOutcome outcome = AlwaysOk(k);
    if (k % 2 == 1) {
      outcome.code = StatusCode::kUnavailable;
      outcome.error_message = "queue full";
    }
    return outcome;
  });
  auto generator = MakeGenerator(ShortWindow(0, 0.1), &transport, &images);
  const LevelReport report = SummarizeLevel({1, 0}, 0.1, generator->RunLevel({1, 0}));
  REQUIRE(report.errors > 0);
  CHECK(report.ok > 0);
  // Alternating outcomes at concurrency 1: the counts differ by at most one.
  CHECK(std::abs(report.ok - report.errors) <= 1);
  CHECK(report.errors_by_code.at("UNAVAILABLE").first_message == "queue full");
}

TEST_CASE("Constant open loop sends on a fixed schedule", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  ThreadedFakeTransport transport(microseconds(0), AlwaysOk);
  LoadGenerator::Options options = ShortWindow(0, 0.1);
  options.arrivals = Arrivals::kConstant;
  auto generator = MakeGenerator(options, &transport, &images);
  const std::vector<LatencySample> samples = generator->RunLevel({0, 200});
  // Sends at 5, 10, ..., 95 ms (100 ms is the end of the window).
  CHECK(generator->requests_sent() >= 19);
  CHECK(generator->requests_sent() <= 20);
  CHECK(samples.size() <= generator->requests_sent());
}

TEST_CASE("Poisson open loop is repeatable for a seed", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  auto sends_with_seed = [&](uint64_t seed) {
    ThreadedFakeTransport transport(microseconds(0), AlwaysOk);
    LoadGenerator::Options options = ShortWindow(0, 0.2);
    options.seed = seed;
    auto generator = MakeGenerator(options, &transport, &images);
    generator->RunLevel({0, 500});
    return generator->requests_sent();
  };
  const uint64_t first = sends_with_seed(3);
  CHECK(first == sends_with_seed(3));
  // About 100 expected; Poisson's spread at this count is ~10.
  CHECK(first > 50);
  CHECK(first < 150);
}

TEST_CASE("Open-loop latency counts from the scheduled send", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  ThreadedFakeTransport transport(microseconds(3000), AlwaysOk);
  LoadGenerator::Options options = ShortWindow(0, 0.1);
  options.arrivals = Arrivals::kConstant;
  auto generator = MakeGenerator(options, &transport, &images);
  for (const LatencySample& sample : generator->RunLevel({0, 100})) {
    CHECK(sample.latency_ms >= 3.0);
  }
}

TEST_CASE("A transport that answers inside Send does not deadlock", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  InlineFakeTransport transport;
  auto generator = MakeGenerator(ShortWindow(0, 0.02), &transport, &images);
  const std::vector<LatencySample> samples = generator->RunLevel({3, 0});
  CHECK(transport.sent() == generator->requests_sent());
  CHECK_FALSE(samples.empty());
}

TEST_CASE("Create rejects bad options", "[load_generator]") {
  const std::vector<std::string> images = {"a"};
  const std::vector<std::string> none;
  InlineFakeTransport transport;
  CHECK(
      LoadGenerator::Create(ShortWindow(-1, 1), &transport, &images).status().message().find("warmup_s must be >= 0") !=
      std::string::npos);
  CHECK(
      LoadGenerator::Create(ShortWindow(0, 0), &transport, &images).status().message().find("duration_s must be > 0") !=
      std::string::npos);
  CHECK(LoadGenerator::Create(ShortWindow(0, 1), nullptr, &images).status().code() == StatusCode::kInvalidArgument);
  CHECK(LoadGenerator::Create(ShortWindow(0, 1), &transport, &none).status().message() == "no images to send");
}

}  // namespace
}  // namespace camserve
