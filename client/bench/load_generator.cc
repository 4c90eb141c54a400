#include "client/bench/load_generator.h"

#include <cassert>
#include <cmath>
#include <random>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

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
  absl::Mutex mu;
  absl::CondVar changed;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  std::vector<LatencySample> samples ABSL_GUARDED_BY(mu);

  void OnAnswer(Clock::time_point latency_from, CallOutcome outcome) ABSL_LOCKS_EXCLUDED(mu) {
    const Clock::time_point now = Clock::now();
    {
      absl::MutexLock lock(&mu);
      --in_flight;
      if (now >= window_start && now < window_end) {
        samples.push_back({Milliseconds(now - latency_from), std::move(outcome)});
      }
    }
    changed.Signal();
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
  absl::MutexLock lock(&state->mu);
  while (state->in_flight > 0) state->changed.Wait(&state->mu);
  return std::move(state->samples);
}

void LoadGenerator::RunClosedLoop(int concurrency, const std::shared_ptr<LevelState>& state) {
  while (true) {
    {
      absl::MutexLock lock(&state->mu);
      while (state->in_flight >= concurrency && Clock::now() < state->window_end) {
        state->changed.WaitWithTimeout(&state->mu, absl::FromChrono(state->window_end - Clock::now()));
      }
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
      absl::MutexLock lock(&state->mu);
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
