// ExplainerService: the camserve.v1.Explainer gRPC service (callback API).
//
// An Explain call is checked and its image decoded on the gRPC thread that
// received it, then queued on its model's ModelRunner (which resizes and
// normalises images on its worker, see model_runner.h);
// the RPC thread returns at once and never waits for the model. The reply is
// encoded and sent from the batcher's worker thread when the batch is done.
// ExplainStream does the same per message, with several requests in flight
// per stream; responses go out in completion order, a failed request is a
// response with `error` set.
//
// Deadlines and cancellation reach the batcher: a request whose deadline
// passes or whose client cancels while queued is finished DEADLINE_EXCEEDED or
// CANCELLED and never computed.
//
// The heatmap cache: a request that does not set bypass_cache is looked up
// (on the RPC thread) by its HeatmapCacheKey; a hit is answered at once. A
// miss joins the computation of an identical request already in flight, if
// any (RequestCoalescer), or leads a new one whose answer is stored before it
// is sent. A coalesced computation is dropped while queued once every request
// waiting for it has passed its deadline or been cancelled; one request giving
// up never takes the answer from the others.
//
// Every finished request writes one access-log line (core/logging) and is
// counted in the metrics (core/metrics): camserve_requests_total for every
// request; the stage histograms for OK requests only, a computation's stages
// (decode ... encode, cache_put) once per computation however many coalesced
// requests it answers, and cache_get and total once per request.
//
// Thread-safety: gRPC calls the handlers concurrently; the service's only
// mutable state is the coalescer, which is thread-safe.
// Ownership: the registry, the cache and the metrics are borrowed and must
// outlive the gRPC server.
#pragma once

#include <functional>

#include "camserve/v1/explainer.grpc.pb.h"
#include "core/cache/heatmap_cache.h"
#include "core/cache/request_coalescer.h"
#include "core/metrics/server_metrics.h"
#include "core/serving/model_registry.h"

namespace camserve {

class ExplainerService final : public v1::Explainer::CallbackService {
 public:
  struct Options {
    // top_k used when a request leaves it 0. Default: 5.
    int default_top_k = 5;
    // Time the stages of every request (profiling.enabled). Default: true.
    bool profile_stages = true;
  };

  // `cache` may be null (cache disabled).
  // REQUIRES: registry and metrics are not null.
  ExplainerService(ModelRegistry* registry, HeatmapCache* cache, ServerMetrics* metrics, const Options& options);
  ~ExplainerService() override;

  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* context, const v1::ExplainRequest* request,
                                    v1::ExplainResponse* response) override;
  grpc::ServerBidiReactor<v1::ExplainRequest, v1::ExplainResponse>* ExplainStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context, const v1::GetModelInfoRequest* request,
                                         v1::GetModelInfoResponse* response) override;
  grpc::ServerUnaryReactor* GetCacheStats(grpc::CallbackServerContext* context, const v1::GetCacheStatsRequest* request,
                                          v1::GetCacheStatsResponse* response) override;
  grpc::ServerUnaryReactor* ClearCache(grpc::CallbackServerContext* context, const v1::ClearCacheRequest* request,
                                       v1::ClearCacheResponse* response) override;

  // Requests answered by an identical request's computation so far.
  int64_t coalesced_requests() const { return coalescer_.coalesced(); }

  // Starts one explanation. `request` is read only during the call; `done`
  // is called exactly once (possibly inline), after `response` is filled when
  // the status is OK.
  // REQUIRES: context and response outlive the call of `done`.
  void StartExplain(grpc::CallbackServerContext* context, const v1::ExplainRequest& request,
                    v1::ExplainResponse* response, const char* rpc, std::function<void(const Status&)> done);

 private:
  struct ComputedAnswer;
  using ExplainCoalescer = RequestCoalescer<ComputedAnswer>;

  ModelRegistry* registry_;
  HeatmapCache* cache_;
  ServerMetrics* metrics_;
  const Options options_;
  ExplainCoalescer coalescer_;
};

}  // namespace camserve
