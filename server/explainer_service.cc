#include "server/explainer_service.h"

#include <spdlog/spdlog.h>

#include "core/logging/logging.h"
#include "server/explain_stream_reactor.h"
#include "server/grpc_status.h"
#include "server/model_info.h"
#include "server/proto_conversion.h"

namespace camserve {

ExplainerService::ExplainerService(ExplainPipeline* pipeline, ModelRegistry* registry, HeatmapCache* cache,
                                   CallAuthenticator authenticator, const Options& options)
    : pipeline_(pipeline),
      registry_(registry),
      cache_(cache),
      authenticator_(std::move(authenticator)),
      options_(options) {}

namespace {

// One Explain call. It keeps the reply's share of the in-flight budget until
// gRPC is done with the call (the response sent or the call dead), then
// deletes itself.
class ExplainReactor final : public grpc::ServerUnaryReactor {
 public:
  void Answer(const Status& status, ExplainReply reply, v1::ExplainResponse* response) {
    budget_share_ = std::move(reply.budget_share);
    if (status.ok()) FillResponse(std::move(reply), response);
    Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<const void> budget_share_;
};

// An ExplainStream refused before reading anything.
class RefusedStreamReactor final : public grpc::ServerBidiReactor<v1::ExplainRequest, v1::ExplainResponse> {
 public:
  explicit RefusedStreamReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// The call's reactor, finished at once with `status`.
grpc::ServerUnaryReactor* Refused(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* ExplainerService::Explain(grpc::CallbackServerContext* context,
                                                    const v1::ExplainRequest* request, v1::ExplainResponse* response) {
  const grpc::Status allowed = authenticator_.Check(*context, "Explain", TokenRole::kUser, request->request_id());
  if (!allowed.ok()) return Refused(context, allowed);
  auto* reactor = new ExplainReactor();
  pipeline_->Submit(ExplainRequestFromProto(*request, "Explain"), CallContextOf(context, pipeline_->clock()),
                    [reactor, response](const Status& status, ExplainReply reply) {
                      reactor->Answer(status, std::move(reply), response);
                    });
  return reactor;
}

grpc::ServerBidiReactor<v1::ExplainRequest, v1::ExplainResponse>* ExplainerService::ExplainStream(
    grpc::CallbackServerContext* context) {
  const grpc::Status allowed = authenticator_.Check(*context, "ExplainStream", TokenRole::kUser);
  if (!allowed.ok()) return new RefusedStreamReactor(allowed);
  return new ExplainStreamReactor(pipeline_, context, options_.max_stream_inflight);
}

grpc::ServerUnaryReactor* ExplainerService::GetModelInfo(grpc::CallbackServerContext* context,
                                                         const v1::GetModelInfoRequest* request,
                                                         v1::GetModelInfoResponse* response) {
  const grpc::Status allowed = authenticator_.Check(*context, "GetModelInfo", TokenRole::kUser);
  if (!allowed.ok()) return Refused(context, allowed);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(FillModelInfo(*registry_, request->model(), response)));
  return reactor;
}

grpc::ServerUnaryReactor* ExplainerService::GetCacheStats(grpc::CallbackServerContext* context,
                                                          const v1::GetCacheStatsRequest*,
                                                          v1::GetCacheStatsResponse* response) {
  const grpc::Status allowed = authenticator_.Check(*context, "GetCacheStats", TokenRole::kUser);
  if (!allowed.ok()) return Refused(context, allowed);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  response->set_coalesced(pipeline_->coalesced_requests());
  if (cache_ != nullptr) {
    const HeatmapCache::Stats stats = cache_->stats();
    response->set_enabled(true);
    response->set_entries(stats.entries);
    response->set_bytes(stats.bytes);
    response->set_capacity_bytes(stats.capacity_bytes);
    response->set_utilization(static_cast<double>(stats.bytes) / static_cast<double>(stats.capacity_bytes));
    response->set_hits(stats.hits);
    response->set_misses(stats.misses);
    response->set_evictions(stats.evictions);
    const int64_t lookups = stats.hits + stats.misses;
    response->set_hit_rate(lookups == 0 ? 0.0 : static_cast<double>(stats.hits) / static_cast<double>(lookups));
    response->set_errors(stats.errors);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ExplainerService::ClearCache(grpc::CallbackServerContext* context,
                                                       const v1::ClearCacheRequest* request,
                                                       v1::ClearCacheResponse* response) {
  const grpc::Status allowed = authenticator_.Check(*context, "ClearCache", TokenRole::kAdmin);
  if (!allowed.ok()) return Refused(context, allowed);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (cache_ == nullptr) {
    reactor->Finish(ToGrpcStatus(FailedPreconditionError("the heatmap cache is disabled")));
    return reactor;
  }
  StatusOr<int64_t> removed = cache_->Clear(request->model());
  if (removed.ok()) {
    response->set_entries_removed(*removed);
    spdlog::info("cache cleared ({}): {} entries removed",
                 request->model().empty() ? "all models" : "model " + QuoteForLog(request->model()), *removed);
  }
  reactor->Finish(ToGrpcStatus(removed.status()));
  return reactor;
}

}  // namespace camserve
