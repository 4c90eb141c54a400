// ExplainerService: the camserve.v1.Explainer gRPC service (callback API):
// thin handlers over the request pipeline (core/serving/explain_pipeline.h),
// which checks, caches, coalesces, admits, decodes, batches, encodes, logs
// and counts every explanation. A handler converts the message once
// (server/proto_conversion.h), hands it to the pipeline, and finishes the
// call from the pipeline's answer through the one status conversion
// (server/grpc_status.h); it never waits for the model. ExplainStream's
// reactor is in server/explain_stream_reactor.h. Every handler first checks
// the call's token (server/call_authenticator.h): a refused call does no
// work; ClearCache needs an admin token.
//
// Thread-safety: gRPC calls the handlers concurrently; the service has no
// mutable state of its own.
// Ownership: the pipeline, registry and cache (may be null: disabled) are
// borrowed and must outlive the gRPC server.
#pragma once

#include "camserve/v1/explainer.grpc.pb.h"
#include "core/cache/heatmap_cache.h"
#include "core/serving/explain_pipeline.h"
#include "core/serving/model_registry.h"
#include "server/call_authenticator.h"

namespace camserve {

class ExplainerService final : public v1::Explainer::CallbackService {
 public:
  struct Options {
    // Requests of one ExplainStream running or waiting to be sent; the
    // stream stops reading while it has this many. Default: 32.
    int max_stream_inflight = 32;
  };

  // REQUIRES: pipeline and registry are not null.
  ExplainerService(ExplainPipeline* pipeline, ModelRegistry* registry, HeatmapCache* cache,
                   CallAuthenticator authenticator, const Options& options);

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

 private:
  ExplainPipeline* const pipeline_;
  ModelRegistry* const registry_;
  HeatmapCache* const cache_;
  const CallAuthenticator authenticator_;
  const Options options_;
};

}  // namespace camserve
