// ExplainPipeline: the path of one explanation request, from arrival to
// answer, independent of the transport (server/ feeds it gRPC calls; its
// tests drive it directly). Stages, in order, on the caller's thread:
//
//   1. checks: string and tensor-shape lengths (before anything is hashed),
//      the model, the options, the deadline (the client's, or
//      default_deadline_ms);
//   2. cache: a hit is answered at once (unless bypass_cache), also under
//      overload;
//   3. coalescing: a request identical to one being computed waits for that
//      computation instead of starting its own (RequestCoalescer);
//   4. admission, before any decoding: the model's queue has room and the
//      estimated wait (ModelRunner::EstimatedWaitMicros) fits before the
//      deadline, else UNAVAILABLE at once, before the image is even parsed;
//      then the image header (size limits, and the output-size limit of
//      ORIGINAL resolution: INVALID_ARGUMENT) and the request's estimated
//      bytes must fit the in-flight budget (InflightBudget): UNAVAILABLE, or
//      RESOURCE_EXHAUSTED for a request larger than the whole budget;
//   5. decode and preprocess: the job carries the model-input-sized tensor;
//      the decoded image is kept only for PNG_OVERLAY, at the heatmap's size
//      where that is known (INPUT resolution);
//   6. batch: the model's ModelRunner computes it with others;
// then on the completion pool (never on the batch worker):
//   7. encode the heatmap, store it in the cache, answer every waiter.
// Computed and cached answers reach the reply through one writer.
//
// Every request is answered exactly once through `done`, on the caller's
// thread (refusals, hits, errors found early) or on a completion thread. Each
// writes one access-log line and is counted in the metrics: requests_total
// for every request; a computation's stages (decode ... encode, cache_put)
// once however many requests it answers; cache_get and total once per
// request.
//
// Thread-safety: Submit may be called from any number of threads at once.
// Ownership: the registry, cache (may be null: no cache) and metrics (may be
// null) are borrowed and must outlive the pipeline. Shutdown (or the
// destructor) waits for every posted completion; call it after the
// registry's runners have drained.
// Errors (through `done`): INVALID_ARGUMENT (bad input, options, lengths,
// sizes), NOT_FOUND (model), UNAVAILABLE (queue full, overloaded, budget,
// shutting down, device lost), RESOURCE_EXHAUSTED (larger than the budget,
// out of memory), DEADLINE_EXCEEDED, CANCELLED, INTERNAL (model fault).
#pragma once

#include <cstdint>
#include <memory>

#include "core/batching/clock.h"
#include "core/cache/heatmap_cache.h"
#include "core/cache/request_coalescer.h"
#include "core/image/image_decoder.h"
#include "core/metrics/server_metrics.h"
#include "core/serving/completion_pool.h"
#include "core/serving/explain_request.h"
#include "core/serving/inflight_budget.h"
#include "core/serving/model_registry.h"

namespace camserve {

class ExplainPipeline {
 public:
  struct Options {
    // top_k used when a request leaves it 0. Default: 5.
    int default_top_k = 5;
    // Time the stages of every request (profiling.enabled). Default: true.
    bool profile_stages = true;
    // Bytes that requests in flight may hold together: request bytes,
    // decoded pixels, model inputs and responses, as estimated at admission.
    // Default: 512 MiB.
    int64_t max_inflight_bytes = int64_t{512} << 20;
    // Largest image accepted, checked from its header: pixels (width *
    // height) and either side. Defaults: 64 Mi pixels, 16384 px.
    DecodeOptions decode;
    // Most pixels of an ORIGINAL-resolution heatmap. Default: 16 Mi.
    int64_t max_output_pixels = int64_t{16} << 20;
    // Deadline of requests that bring none, milliseconds; 0: none.
    // Default: 60000.
    int64_t default_deadline_ms = 60000;
    // Longest request_id, model, method and target_layer, bytes. Default: 256.
    int max_request_string_bytes = 256;
    // Threads that encode, store and answer computed requests. Default: 2.
    int completion_threads = 2;
    // The engines' quality steps (engine.quality_steps), part of the cache
    // key of requests that ask for quality scores. Default: 16.
    int quality_steps = 16;
  };

  // INVALID_ARGUMENT for bad options or a null registry or clock.
  static StatusOr<std::unique_ptr<ExplainPipeline>> Create(const Options& options, ModelRegistry* registry,
                                                           HeatmapCache* cache, ServerMetrics* metrics,
                                                           std::shared_ptr<Clock> clock);
  ~ExplainPipeline();

  // Starts one explanation; `done` is called exactly once, maybe inline.
  void Submit(ExplainRequest request, CallContext context, ExplainCallback done);

  // Waits for every completion posted so far and stops the completion
  // threads; later completions run on the batch worker. Idempotent.
  void Shutdown();

  // Requests answered by an identical request's computation so far.
  int64_t coalesced_requests() const { return coalescer_.coalesced(); }
  const InflightBudget& budget() const { return budget_; }
  // A share of the in-flight budget for a transport's own buffers (the HTTP
  // API's parsed JSON), or nullopt when it would exceed the budget.
  std::optional<InflightBudget::Reservation> ReserveTransportBytes(int64_t bytes) { return budget_.TryReserve(bytes); }
  // The clock deadlines are measured on.
  Clock& clock() const { return *clock_; }
  const Options& options() const { return options_; }

  // -- implementation details follow ---------------------------------------
  struct Pending;
  struct Computation;
  struct ComputedAnswer;

 private:
  ExplainPipeline(const Options& options, ModelRegistry* registry, HeatmapCache* cache, ServerMetrics* metrics,
                  std::shared_ptr<Clock> clock);
  // Answers one request: timings, metrics, the access log, `done`.
  void Finish(Pending& pending, const Status& status, ExplainReply reply);
  // Hands a computation's answer to one waiting request.
  void Deliver(Pending& pending, const ComputedAnswer& answer, bool coalesced);
  // Stages 4-6 for a computation that `publish` answers.
  void Compute(ExplainRequest request, ExplainJob job, const std::shared_ptr<Computation>& computation,
               ModelRunner& runner, std::function<void(const ComputedAnswer&)> publish);
  // Stage 7, on a completion thread.
  void Complete(StatusOr<ExplainOutcome> outcome, const std::shared_ptr<Computation>& computation,
                const std::function<void(const ComputedAnswer&)>& publish);

  const Options options_;
  ModelRegistry* const registry_;
  HeatmapCache* const cache_;
  ServerMetrics* const metrics_;
  const std::shared_ptr<Clock> clock_;
  InflightBudget budget_;
  RequestCoalescer<ComputedAnswer> coalescer_;
  std::unique_ptr<CompletionPool> completions_;
};

}  // namespace camserve
