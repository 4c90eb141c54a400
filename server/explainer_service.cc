#include "server/explainer_service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/logging/logging.h"
#include "core/serving/heatmap_encoding.h"
#include "server/grpc_status.h"

namespace camserve {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

int64_t MicrosSince(SteadyTime start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
}

// One request, from its arrival until it is answered.
struct PendingExplain {
  std::string rpc;
  std::string request_id;
  std::string model_name;
  // Unset until the request's method parsed.
  std::optional<CamMethodKind> method;
  grpc::CallbackServerContext* context = nullptr;
  v1::ExplainResponse* response = nullptr;
  SteadyTime start;
  // This request's own stages: cache_get and total.
  StageTimings timings;
  ServerMetrics* metrics = nullptr;
  std::function<void(const Status&)> done;
};

// One computation: what encoding its answer needs. Requests coalesced on it
// ask for the same answer (the cache key covers every setting used here).
struct Computation {
  std::string model_name;
  std::string model_version;
  CamMethodKind method = CamMethodKind::kGradCam;
  HeatmapEncoding encoding = HeatmapEncoding::kFloat32;
  v1::HeatmapEncoding wire_encoding = v1::HEATMAP_ENCODING_FLOAT32;
  // The decoded image, kept only for PNG_OVERLAY.
  std::shared_ptr<const DecodedImage> image;
  // decode, then the runner's stages, encode and cache_put.
  StageTimings timings;
  // Set unless the request bypasses the cache.
  std::optional<HeatmapCacheKey> cache_key;
};

StatusOr<HeatmapResolution> ResolutionFromWire(v1::HeatmapResolution resolution) {
  switch (resolution) {
    case v1::HEATMAP_RESOLUTION_INPUT: return HeatmapResolution::kInput;
    case v1::HEATMAP_RESOLUTION_FEATURE: return HeatmapResolution::kFeature;
    case v1::HEATMAP_RESOLUTION_ORIGINAL: return HeatmapResolution::kOriginal;
    default: return InvalidArgumentError("unknown resolution " + std::to_string(resolution));
  }
}

StatusOr<HeatmapEncoding> EncodingFromWire(v1::HeatmapEncoding encoding) {
  switch (encoding) {
    case v1::HEATMAP_ENCODING_FLOAT32: return HeatmapEncoding::kFloat32;
    case v1::HEATMAP_ENCODING_UINT8: return HeatmapEncoding::kUint8;
    case v1::HEATMAP_ENCODING_PNG_HEATMAP: return HeatmapEncoding::kPngHeatmap;
    case v1::HEATMAP_ENCODING_PNG_OVERLAY: return HeatmapEncoding::kPngOverlay;
    default: return InvalidArgumentError("unknown encoding " + std::to_string(encoding));
  }
}

// The deadline on the runner's clock; max() when the client set none.
StatusOr<int64_t> DeadlineOnClock(const grpc::CallbackServerContext& context, const Clock& clock) {
  const auto deadline = context.deadline();
  const auto now = std::chrono::system_clock::now();
  // gRPC reports "no deadline" as a time point centuries away.
  if (deadline - now > std::chrono::hours(24 * 365)) return std::numeric_limits<int64_t>::max();
  const int64_t remaining_us = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
  if (remaining_us <= 0)
    return Status(StatusCode::kDeadlineExceeded, "the deadline passed before the request was queued");
  return clock.NowMicros() + remaining_us;
}

// Decodes an image (the model runner resizes and normalises it on its
// worker) or checks a raw tensor.
Status PrepareInput(const v1::ExplainRequest& request, const ModelRunner& runner, Computation* computation,
                    ExplainJob* job) {
  StageTimer decode_timer(&computation->timings, Stage::kDecode);
  switch (request.input_case()) {
    case v1::ExplainRequest::kImage: {
      StatusOr<DecodedImage> image = DecodeImage(request.image());
      if (!image.ok()) return image.status();
      job->image = std::make_shared<const DecodedImage>(std::move(image).value());
      if (computation->encoding == HeatmapEncoding::kPngOverlay) computation->image = job->image;
      break;
    }
    case v1::ExplainRequest::kTensor: {
      const auto& shape = request.tensor().shape();
      StatusOr<PreparedInput> input = runner.preprocessor().FromTensorBytes(
          std::vector<int64_t>(shape.begin(), shape.end()), request.tensor().data());
      if (!input.ok()) return input.status();
      job->input = std::move(input).value();
      break;
    }
    default: return InvalidArgumentError("the request has no input: set image (JPEG or PNG bytes) or tensor");
  }
  return Status::Ok();
}

// Checks the request's options (everything but the input) and turns them
// into a job for `runner`.
StatusOr<ExplainJob> ParseJob(const v1::ExplainRequest& request, int default_top_k, Computation* computation) {
  ExplainJob job;
  StatusOr<CamMethodKind> method = ParseCamMethod(request.method().empty() ? "gradcam" : request.method());
  if (!method.ok()) return method.status();
  job.method = *method;
  job.target_layer = request.target_layer();
  if (request.has_target_class()) job.target_class = request.target_class();
  if (request.top_k() < 0) return InvalidArgumentError("top_k must be >= 0; was " + std::to_string(request.top_k()));
  job.top_k = request.top_k() == 0 ? default_top_k : request.top_k();
  StatusOr<HeatmapResolution> resolution = ResolutionFromWire(request.resolution());
  if (!resolution.ok()) return resolution.status();
  job.resolution = *resolution;
  StatusOr<HeatmapEncoding> encoding = EncodingFromWire(request.encoding());
  if (!encoding.ok()) return encoding.status();
  computation->encoding = *encoding;
  computation->wire_encoding = request.encoding();
  if (*encoding == HeatmapEncoding::kPngOverlay && request.input_case() == v1::ExplainRequest::kTensor) {
    return InvalidArgumentError("encoding PNG_OVERLAY needs an image input; a tensor has no pixels to overlay");
  }
  job.priority = request.priority();
  return job;
}

HeatmapCacheKey CacheKeyOf(const v1::ExplainRequest& request, const ExplainJob& job, const ModelRunner& runner) {
  HeatmapCacheKeyFields fields;
  fields.model_fingerprint = runner.version();
  fields.method = CamMethodName(job.method);
  fields.target_layer = job.target_layer.empty() ? runner.info().default_layer : job.target_layer;
  fields.target_class = job.target_class;
  fields.top_k = job.top_k;
  fields.resolution = request.resolution();
  fields.encoding = request.encoding();
  if (request.input_case() == v1::ExplainRequest::kTensor) {
    fields.tensor_shape.assign(request.tensor().shape().begin(), request.tensor().shape().end());
    fields.tensor_bytes = request.tensor().data();
  } else {
    fields.image_bytes = request.image();
  }
  return MakeHeatmapCacheKey(fields);
}

void FillScore(const ClassScore& score, v1::ClassScore* out) {
  out->set_class_index(score.class_index);
  out->set_label(score.label);
  out->set_probability(score.probability);
}

ClassScore ScoreFromWire(const v1::ClassScore& score) {
  return ClassScore{score.class_index(), score.label(), score.probability()};
}

// Writes the stages `timings` has into the response's timings.
void WriteTimings(const StageTimings& timings, v1::StageTimings* out) {
  using Setter = void (v1::StageTimings::*)(int64_t);
  static constexpr Setter kSetters[kStageCount] = {
      &v1::StageTimings::set_decode_us,  &v1::StageTimings::set_preprocess_us, &v1::StageTimings::set_queue_us,
      &v1::StageTimings::set_forward_us, &v1::StageTimings::set_backward_us,   &v1::StageTimings::set_cam_us,
      &v1::StageTimings::set_encode_us,  &v1::StageTimings::set_cache_get_us,  &v1::StageTimings::set_cache_put_us,
      &v1::StageTimings::set_total_us};
  for (int s = 0; s < kStageCount; ++s) {
    if (timings.Has(static_cast<Stage>(s))) (out->*kSetters[s])(timings.Micros(static_cast<Stage>(s)));
  }
}

// Encodes the computed heatmap into a response shared by every request
// waiting for this computation (its timings are written by the caller).
Status FillComputedResponse(const ExplainOutcome& outcome, const Computation& computation,
                            v1::ExplainResponse* response) {
  const ExplainResult& result = outcome.result;
  StatusOr<std::string> data = EncodeHeatmap(result.heatmap, computation.encoding, computation.image.get());
  if (!data.ok()) return data.status();
  v1::Heatmap* heatmap = response->mutable_heatmap();
  heatmap->set_width(result.heatmap.width_px);
  heatmap->set_height(result.heatmap.height_px);
  heatmap->set_encoding(computation.wire_encoding);
  heatmap->set_data(std::move(data).value());
  response->set_target_class(result.target.class_index);
  response->set_target_label(result.target.label);
  response->set_target_probability(result.target.probability);
  for (const ClassScore& score : result.top_k) FillScore(score, response->add_top_k());
  response->set_model(computation.model_name);
  response->set_model_version(computation.model_version);
  response->set_batch_size(outcome.batch_size);
  return Status::Ok();
}

CachedExplanation ToCached(const v1::ExplainResponse& response) {
  CachedExplanation value;
  value.width_px = response.heatmap().width();
  value.height_px = response.heatmap().height();
  value.encoding = response.heatmap().encoding();
  value.data = response.heatmap().data();
  value.target = ClassScore{response.target_class(), response.target_label(), response.target_probability()};
  for (const v1::ClassScore& score : response.top_k()) value.top_k.push_back(ScoreFromWire(score));
  return value;
}

void FillCachedResponse(CachedExplanation cached, const Computation& computation, v1::ExplainResponse* response) {
  v1::Heatmap* heatmap = response->mutable_heatmap();
  heatmap->set_width(cached.width_px);
  heatmap->set_height(cached.height_px);
  heatmap->set_encoding(static_cast<v1::HeatmapEncoding>(cached.encoding));
  heatmap->set_data(std::move(cached.data));
  response->set_target_class(cached.target.class_index);
  response->set_target_label(cached.target.label);
  response->set_target_probability(cached.target.probability);
  for (const ClassScore& score : cached.top_k) FillScore(score, response->add_top_k());
  response->set_model(computation.model_name);
  response->set_model_version(computation.model_version);
  response->set_cache_hit(true);
}

// Answers one request: logs the access line and calls `done`. The response
// is already filled when `status` is OK.
void Finish(PendingExplain& pending, const Status& status, int batch_size, bool cache_hit) {
  const int64_t latency_us = MicrosSince(pending.start);
  pending.response->set_request_id(pending.request_id);
  if (status.ok()) {
    pending.timings.Set(Stage::kTotal, latency_us);
    WriteTimings(pending.timings, pending.response->mutable_timings());
    pending.metrics->RecordStages(pending.model_name, pending.method, pending.timings);
  }
  pending.metrics->RecordRequest(pending.model_name, pending.method, status.code());
  pending.metrics->RequestFinished();
  AccessRecord record;
  record.request_id = pending.request_id;
  record.rpc = pending.rpc;
  record.model = pending.model_name;
  record.method = pending.method ? CamMethodName(*pending.method) : "";
  record.status = StatusCodeName(status.code());
  record.message = status.message();
  record.latency_us = latency_us;
  record.cache_hit = cache_hit;
  record.batch_size = batch_size;
  LogAccess(record);
  pending.done(status);
}

// Why a request whose client is gone ended: its deadline, or a cancel.
Status AbandonedStatus(const grpc::CallbackServerContext& context) {
  if (std::chrono::system_clock::now() >= context.deadline()) {
    return Status(StatusCode::kDeadlineExceeded, "the deadline passed before the answer was ready");
  }
  return Status(StatusCode::kCancelled, "cancelled by the client");
}

}  // namespace

// The answer of one computation, handed to every request waiting for it.
struct ExplainerService::ComputedAnswer {
  Status status;
  std::shared_ptr<const v1::ExplainResponse> response;  // set when OK
  int batch_size = 0;                                   // 0: never reached the engine
};

ExplainerService::ExplainerService(ModelRegistry* registry, HeatmapCache* cache, ServerMetrics* metrics,
                                   const Options& options)
    : registry_(registry), cache_(cache), metrics_(metrics), options_(options) {}

ExplainerService::~ExplainerService() = default;

namespace {

void Deliver(PendingExplain& pending, const Status& answer_status, const v1::ExplainResponse* answer, int batch_size,
             bool coalesced) {
  Status status = answer_status;
  if (pending.context->IsCancelled()) {
    status = AbandonedStatus(*pending.context);
  } else if (status.code() == StatusCode::kCancelled) {
    // Joined a computation in the instant it was dropped for having no live
    // waiter: not this client's cancel. Retrying computes afresh.
    status = UnavailableError("the identical request this one waited for was dropped as it was joined; retry");
  } else if (status.ok()) {
    *pending.response = *answer;
    pending.response->set_coalesced(coalesced);
  }
  Finish(pending, status, batch_size, false);
}

}  // namespace

void ExplainerService::StartExplain(grpc::CallbackServerContext* context, const v1::ExplainRequest& request,
                                    v1::ExplainResponse* response, const char* rpc,
                                    std::function<void(const Status&)> done) {
  metrics_->RequestStarted();
  auto pending = std::make_shared<PendingExplain>();
  pending->start = std::chrono::steady_clock::now();
  pending->timings = StageTimings(options_.profile_stages);
  pending->metrics = metrics_;
  pending->rpc = rpc;
  pending->request_id = request.request_id();
  pending->model_name = request.model().empty() ? registry_->default_model() : request.model();
  pending->context = context;
  pending->response = response;
  pending->done = std::move(done);
  StatusOr<ModelRunner*> found = registry_->Find(request.model());
  if (!found.ok()) return Finish(*pending, found.status(), 0, false);
  ModelRunner& runner = **found;
  auto computation = std::make_shared<Computation>();
  computation->model_name = pending->model_name;
  computation->model_version = runner.version();
  computation->timings = StageTimings(options_.profile_stages);
  StatusOr<ExplainJob> job = ParseJob(request, options_.default_top_k, computation.get());
  if (!job.ok()) return Finish(*pending, job.status(), 0, false);
  pending->method = job->method;
  computation->method = job->method;
  StatusOr<int64_t> deadline_us = DeadlineOnClock(*context, runner.clock());
  if (!deadline_us.ok()) return Finish(*pending, deadline_us.status(), 0, false);

  // Where the answer goes: to this request alone, or to every request
  // coalesced on the same key.
  std::function<void(const ComputedAnswer&)> publish;
  if (request.bypass_cache()) {
    job->deadline_us = *deadline_us;
    job->is_cancelled = [context] { return context->IsCancelled(); };
    publish = [pending](const ComputedAnswer& answer) {
      Deliver(*pending, answer.status, answer.response.get(), answer.batch_size, false);
    };
  } else {
    const HeatmapCacheKey key = CacheKeyOf(request, *job, runner);
    if (cache_ != nullptr) {
      StageTimer lookup_timer(&pending->timings, Stage::kCacheGet);
      std::optional<CachedExplanation> cached = cache_->Lookup(key);
      lookup_timer.Stop();
      if (cached.has_value()) {
        FillCachedResponse(std::move(*cached), *computation, response);
        return Finish(*pending, Status::Ok(), 0, true);
      }
      computation->cache_key = key;
    }
    ExplainCoalescer::Waiter waiter;
    waiter.deliver = [pending](const ComputedAnswer& answer, bool followed) {
      Deliver(*pending, answer.status, answer.response.get(), answer.batch_size, followed);
    };
    waiter.is_abandoned = [context] { return context->IsCancelled(); };
    // A follower is answered by the leader's computation.
    if (!coalescer_.Join(key, std::move(waiter))) return;
    // Nobody waiting any more (all deadlines passed, all clients gone): the
    // queued computation is dropped.
    job->is_cancelled = [this, key] { return !coalescer_.AnyoneWaiting(key); };
    publish = [this, key](const ComputedAnswer& answer) { coalescer_.Finish(key, answer); };
  }

  const Status prepared = PrepareInput(request, runner, computation.get(), &*job);
  if (!prepared.ok()) return publish(ComputedAnswer{prepared, nullptr, 0});
  spdlog::debug("queueing request_id={} on model {}", pending->request_id, pending->model_name);
  runner.Submit(std::move(job).value(), [this, computation, publish](StatusOr<ExplainOutcome> outcome) {
    ComputedAnswer answer{outcome.status(), nullptr, 0};
    if (outcome.ok()) {
      StageTimings& timings = computation->timings;
      timings.MergeFrom(outcome->timings);
      auto computed = std::make_shared<v1::ExplainResponse>();
      StageTimer encode_timer(&timings, Stage::kEncode);
      answer.status = FillComputedResponse(*outcome, *computation, computed.get());
      encode_timer.Stop();
      answer.batch_size = outcome->batch_size;
      if (answer.status.ok() && computation->cache_key.has_value()) {
        StageTimer store_timer(&timings, Stage::kCachePut);
        cache_->Store(*computation->cache_key, computation->model_name, ToCached(*computed));
      }
      if (answer.status.ok()) {
        WriteTimings(timings, computed->mutable_timings());
        // Once per computation, however many requests it answers.
        metrics_->RecordStages(computation->model_name, computation->method, timings);
      }
      answer.response = std::move(computed);
    }
    publish(answer);
  });
}

grpc::ServerUnaryReactor* ExplainerService::Explain(grpc::CallbackServerContext* context,
                                                    const v1::ExplainRequest* request, v1::ExplainResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  StartExplain(context, *request, response, "Explain",
               [reactor](const Status& status) { reactor->Finish(ToGrpcStatus(status)); });
  return reactor;
}

namespace {

// One ExplainStream call: reads requests one by one, keeps any number in
// flight, writes responses one at a time in completion order, and finishes
// once the client has half-closed (or cancelled) and nothing is in flight.
class ExplainStreamReactor final : public grpc::ServerBidiReactor<v1::ExplainRequest, v1::ExplainResponse> {
 public:
  ExplainStreamReactor(ExplainerService* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    auto response = std::make_shared<v1::ExplainResponse>();
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    service_->StartExplain(context_, request_, response.get(), "ExplainStream",
                           [this, response](const Status& status) { OnExplained(response, status); });
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    outbox_.pop_front();
    if (!ok) write_failed_ = true;
    WriteNextLocked();
    MaybeFinishLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  void OnDone() override { delete this; }

 private:
  void OnExplained(std::shared_ptr<v1::ExplainResponse> response, const Status& status) {
    if (!status.ok()) {
      v1::ErrorStatus* error = response->mutable_error();
      error->set_code(static_cast<int>(status.code()));
      error->set_message(status.message());
    }
    absl::MutexLock lock(&mu_);
    --in_flight_;
    outbox_.push_back(std::move(response));
    WriteNextLocked();
    MaybeFinishLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || outbox_.empty()) return;
    if (cancelled_ || write_failed_) {
      outbox_.clear();
      return;
    }
    writing_ = true;
    StartWrite(outbox_.front().get());
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !reads_done_ || in_flight_ > 0 || writing_ || !outbox_.empty()) return;
    finished_ = true;
    Finish(cancelled_ ? grpc::Status(grpc::CANCELLED, "stream cancelled") : grpc::Status::OK);
  }

  ExplainerService* const service_;
  grpc::CallbackServerContext* const context_;
  v1::ExplainRequest request_;  // the read buffer; StartExplain copies what it needs
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Responses waiting to be written; the front one is being written.
  std::deque<std::shared_ptr<v1::ExplainResponse>> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::ExplainRequest, v1::ExplainResponse>* ExplainerService::ExplainStream(
    grpc::CallbackServerContext* context) {
  return new ExplainStreamReactor(this, context);
}

grpc::ServerUnaryReactor* ExplainerService::GetModelInfo(grpc::CallbackServerContext* context,
                                                         const v1::GetModelInfoRequest* request,
                                                         v1::GetModelInfoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::vector<ModelRunner*> runners = registry_->runners();
  const std::vector<std::string> names = registry_->names();
  if (!request->model().empty()) {
    StatusOr<ModelRunner*> found = registry_->Find(request->model());
    if (!found.ok()) {
      reactor->Finish(ToGrpcStatus(found.status()));
      return reactor;
    }
  }
  for (size_t i = 0; i < runners.size(); ++i) {
    if (!request->model().empty() && names[i] != request->model()) continue;
    const ModelInfo& info = runners[i]->info();
    v1::ModelInfo* out = response->add_models();
    out->set_name(names[i]);
    out->set_version(runners[i]->version());
    out->set_device(info.device);
    out->set_input_height(info.input_height_px);
    out->set_input_width(info.input_width_px);
    out->set_num_classes(info.num_classes);
    for (const std::string& layer : runners[i]->usable_layers()) out->add_target_layers(layer);
    out->set_default_layer(info.default_layer);
    for (CamMethodKind method : AllCamMethods()) out->add_methods(CamMethodName(method));
    out->set_is_default(names[i] == registry_->default_model());
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ExplainerService::GetCacheStats(grpc::CallbackServerContext* context,
                                                          const v1::GetCacheStatsRequest*,
                                                          v1::GetCacheStatsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  response->set_coalesced(coalescer_.coalesced());
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
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (cache_ == nullptr) {
    reactor->Finish(grpc::Status(grpc::FAILED_PRECONDITION, "the heatmap cache is disabled"));
    return reactor;
  }
  StatusOr<int64_t> removed = cache_->Clear(request->model());
  if (removed.ok()) {
    response->set_entries_removed(*removed);
    spdlog::info("cache cleared ({}): {} entries removed", request->model().empty() ? "all models" : request->model(),
                 *removed);
  }
  reactor->Finish(ToGrpcStatus(removed.status()));
  return reactor;
}

}  // namespace camserve
