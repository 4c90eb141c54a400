#include "client/bench/load_generator.h"

#include <cassert>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

namespace camserve {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration Seconds(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

double Milliseconds(Clock::duration elapsed) { return std::chrono::duration<double, std::milli>(elapsed).count(); }

}  // namespace

// One level's window and what has come back. Shared with the transport's
// callbacks, which may run after RunLevel has stopped sending.
struct LoadGenerator::LevelState {
  Clock::time_point window_start;
  Clock::time_point window_end;
  std::mutex mu;
  std::condition_variable changed;
  int in_flight = 0;                   // guarded by mu
  std::vector<LatencySample> samples;  // guarded by mu

  void OnAnswer(Clock::time_point latency_from, CallOutcome outcome) {
    const Clock::time_point now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      if (now >= window_start && now < window_end) {
        samples.push_back({Milliseconds(now - latency_from), std::move(outcome)});
      }
    }
    changed.notify_one();
  }
};

StatusOr<std::unique_ptr<LoadGenerator>> LoadGenerator::Create(const Options& options, ExplainTransport* transport,
                                                               const std::vector<std::string>* images) {
  if (!(options.warmup_s >= 0) || !std::isfinite(options.warmup_s)) {
    return InvalidArgumentError("warmup_s must be >= 0; was " + std::to_string(options.warmup_s));
  }
  if (!(options.duration_s > 0) || !std::isfinite(options.duration_s)) {
    return InvalidArgumentError("duration_s must be > 0; was " + std::to_string(options.duration_s));
  }
  if (transport == nullptr) return InvalidArgumentError("transport is null");
  if (images == nullptr || images->empty()) return InvalidArgumentError("no images to send");
  return std::unique_ptr<LoadGenerator>(new LoadGenerator(options, transport, images));
}

LoadGenerator::LoadGenerator(const Options& options, ExplainTransport* transport,
                             const std::vector<std::string>* images)
    : options_(options), transport_(transport), images_(images) {}

std::vector<LatencySample> LoadGenerator::RunLevel(const LoadLevel& level) {
  assert((level.concurrency > 0) != (level.rate_rps > 0));
  auto state = std::make_shared<LevelState>();
  state->window_start = Clock::now() + Seconds(options_.warmup_s);
  state->window_end = state->window_start + Seconds(options_.duration_s);
  if (level.is_open_loop()) {
    RunOpenLoop(level.rate_rps, state);
  } else {
    RunClosedLoop(level.concurrency, state);
  }
  std::unique_lock<std::mutex> lock(state->mu);
  state->changed.wait(lock, [&] { return state->in_flight == 0; });
  return std::move(state->samples);
}

void LoadGenerator::RunClosedLoop(int concurrency, const std::shared_ptr<LevelState>& state) {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(state->mu);
      state->changed.wait_until(lock, state->window_end, [&] { return state->in_flight < concurrency; });
      if (Clock::now() >= state->window_end) return;
      ++state->in_flight;
    }
    SendNext(state, Clock::now());
  }
}

void LoadGenerator::RunOpenLoop(double rate_rps, const std::shared_ptr<LevelState>& state) {
  std::mt19937_64 random(options_.seed);
  std::exponential_distribution<double> poisson_gap_s(rate_rps);
  Clock::time_point next_send = Clock::now();
  while (true) {
    next_send += Seconds(options_.arrivals == Arrivals::kPoisson ? poisson_gap_s(random) : 1.0 / rate_rps);
    if (next_send >= state->window_end) return;
    std::this_thread::sleep_until(next_send);
    {
      std::lock_guard<std::mutex> lock(state->mu);
      ++state->in_flight;
    }
    SendNext(state, next_send);
  }
}

void LoadGenerator::SendNext(const std::shared_ptr<LevelState>& state, Clock::time_point latency_from) {
  const std::string& image = (*images_)[requests_sent_++ % images_->size()];
  transport_->Send(image,
                   [state, latency_from](CallOutcome outcome) { state->OnAnswer(latency_from, std::move(outcome)); });
}

}  // namespace camserve
