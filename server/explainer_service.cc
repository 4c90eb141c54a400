#include "server/explainer_service.h"

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

#include "core/logging/logging.h"
#include "core/serving/heatmap_encoding.h"
#include "server/grpc_status.h"

namespace camserve {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

int64_t MicrosSince(SteadyTime start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
}

// What finishing one explanation needs, kept alive until it is done.
struct PendingExplain {
  std::string rpc;
  std::string request_id;
  std::string model_name;
  std::string method_name;
  std::string model_version;
  v1::ExplainResponse* response = nullptr;
  HeatmapEncoding encoding = HeatmapEncoding::kFloat32;
  v1::HeatmapEncoding wire_encoding = v1::HEATMAP_ENCODING_FLOAT32;
  // The decoded image, kept only for PNG_OVERLAY.
  std::shared_ptr<const DecodedImage> image;
  SteadyTime start;
  int64_t preprocess_us = 0;
  std::function<void(const Status&)> done;
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
  if (remaining_us <= 0) return Status(StatusCode::kDeadlineExceeded, "the deadline passed before the request was queued");
  return clock.NowMicros() + remaining_us;
}

// Decodes an image (the model runner resizes and normalises it on its
// worker) or checks a raw tensor.
Status PrepareInput(const v1::ExplainRequest& request, const ModelRunner& runner, PendingExplain* pending,
                    ExplainJob* job) {
  switch (request.input_case()) {
    case v1::ExplainRequest::kImage: {
      StatusOr<DecodedImage> image = DecodeImage(request.image());
      if (!image.ok()) return image.status();
      job->image = std::make_shared<const DecodedImage>(std::move(image).value());
      if (pending->encoding == HeatmapEncoding::kPngOverlay) pending->image = job->image;
      return Status::Ok();
    }
    case v1::ExplainRequest::kTensor: {
      if (pending->encoding == HeatmapEncoding::kPngOverlay) {
        return InvalidArgumentError("encoding PNG_OVERLAY needs an image input; a tensor has no pixels to overlay");
      }
      const auto& shape = request.tensor().shape();
      StatusOr<PreparedInput> input = runner.preprocessor().FromTensorBytes(
          std::vector<int64_t>(shape.begin(), shape.end()), request.tensor().data());
      if (!input.ok()) return input.status();
      job->input = std::move(input).value();
      return Status::Ok();
    }
    default:
      return InvalidArgumentError("the request has no input: set image (JPEG or PNG bytes) or tensor");
  }
}

// Checks the request and turns it into a job for `runner`.
StatusOr<ExplainJob> BuildJob(grpc::CallbackServerContext* context, const v1::ExplainRequest& request,
                              const ModelRunner& runner, int default_top_k, PendingExplain* pending) {
  ExplainJob job;
  StatusOr<CamMethodKind> method = ParseCamMethod(request.method().empty() ? "gradcam" : request.method());
  if (!method.ok()) return method.status();
  job.method = *method;
  pending->method_name = CamMethodName(*method);
  job.target_layer = request.target_layer();
  if (request.has_target_class()) job.target_class = request.target_class();
  if (request.top_k() < 0) return InvalidArgumentError("top_k must be >= 0; was " + std::to_string(request.top_k()));
  job.top_k = request.top_k() == 0 ? default_top_k : request.top_k();
  StatusOr<HeatmapResolution> resolution = ResolutionFromWire(request.resolution());
  if (!resolution.ok()) return resolution.status();
  job.resolution = *resolution;
  StatusOr<HeatmapEncoding> encoding = EncodingFromWire(request.encoding());
  if (!encoding.ok()) return encoding.status();
  pending->encoding = *encoding;
  pending->wire_encoding = request.encoding();
  job.priority = request.priority();
  StatusOr<int64_t> deadline_us = DeadlineOnClock(*context, runner.clock());
  if (!deadline_us.ok()) return deadline_us.status();
  job.deadline_us = *deadline_us;
  job.is_cancelled = [context] { return context->IsCancelled(); };
  const SteadyTime preprocess_start = std::chrono::steady_clock::now();
  CAMSERVE_RETURN_IF_ERROR(PrepareInput(request, runner, pending, &job));
  pending->preprocess_us = MicrosSince(preprocess_start);
  return job;
}

void FillScore(const ClassScore& score, v1::ClassScore* out) {
  out->set_class_index(score.class_index);
  out->set_label(score.label);
  out->set_probability(score.probability);
}

// Encodes the heatmap and fills the response.
Status FillResponse(const ExplainOutcome& outcome, int64_t queue_us, PendingExplain* pending) {
  const SteadyTime encode_start = std::chrono::steady_clock::now();
  const ExplainResult& result = outcome.result;
  StatusOr<std::string> data = EncodeHeatmap(result.heatmap, pending->encoding, pending->image.get());
  if (!data.ok()) return data.status();
  v1::ExplainResponse* response = pending->response;
  v1::Heatmap* heatmap = response->mutable_heatmap();
  heatmap->set_width(result.heatmap.width_px);
  heatmap->set_height(result.heatmap.height_px);
  heatmap->set_encoding(pending->wire_encoding);
  heatmap->set_data(std::move(data).value());
  response->set_target_class(result.target.class_index);
  response->set_target_label(result.target.label);
  response->set_target_probability(result.target.probability);
  for (const ClassScore& score : result.top_k) FillScore(score, response->add_top_k());
  response->set_model(pending->model_name);
  response->set_model_version(pending->model_version);
  response->set_cache_hit(false);
  response->set_batch_size(outcome.batch_size);
  v1::StageTimings* timings = response->mutable_timings();
  timings->set_queue_us(queue_us);
  timings->set_preprocess_us(pending->preprocess_us + outcome.preprocess_us);
  timings->set_forward_us(outcome.engine_timings.forward_us);
  timings->set_backward_us(outcome.engine_timings.backward_us);
  timings->set_cam_us(outcome.engine_timings.cam_us);
  timings->set_encode_us(MicrosSince(encode_start));
  timings->set_total_us(MicrosSince(pending->start));
  return Status::Ok();
}

// Finishes one explanation: fills the response (on success), logs the access
// line and calls `done`.
void Complete(PendingExplain& pending, StatusOr<ExplainOutcome> outcome, int64_t queue_us) {
  Status status = outcome.status();
  int batch_size = 0;
  if (outcome.ok()) {
    batch_size = outcome->batch_size;
    status = FillResponse(*outcome, queue_us, &pending);
  }
  pending.response->set_request_id(pending.request_id);
  AccessRecord record;
  record.request_id = pending.request_id;
  record.rpc = pending.rpc;
  record.model = pending.model_name;
  record.method = pending.method_name;
  record.status = StatusCodeName(status.code());
  record.message = status.message();
  record.latency_us = MicrosSince(pending.start);
  record.batch_size = batch_size;
  LogAccess(record);
  pending.done(status);
}

}  // namespace

ExplainerService::ExplainerService(ModelRegistry* registry, const Options& options)
    : registry_(registry), options_(options) {}

void ExplainerService::StartExplain(grpc::CallbackServerContext* context, const v1::ExplainRequest& request,
                                    v1::ExplainResponse* response, const char* rpc,
                                    std::function<void(const Status&)> done) {
  auto pending = std::make_shared<PendingExplain>();
  pending->start = std::chrono::steady_clock::now();
  pending->rpc = rpc;
  pending->request_id = request.request_id();
  pending->model_name = request.model().empty() ? registry_->default_model() : request.model();
  pending->response = response;
  pending->done = std::move(done);
  StatusOr<ModelRunner*> runner = registry_->Find(request.model());
  if (!runner.ok()) return Complete(*pending, runner.status(), 0);
  pending->model_version = (*runner)->version();
  StatusOr<ExplainJob> job = BuildJob(context, request, **runner, options_.default_top_k, pending.get());
  if (!job.ok()) return Complete(*pending, job.status(), 0);
  spdlog::debug("queueing request_id={} on model {}", pending->request_id, pending->model_name);
  (*runner)->Submit(std::move(job).value(), [pending](StatusOr<ExplainOutcome> outcome, int64_t queue_us) {
    Complete(*pending, std::move(outcome), queue_us);
  });
}

grpc::ServerUnaryReactor* ExplainerService::Explain(grpc::CallbackServerContext* context,
                                                    const v1::ExplainRequest* request,
                                                    v1::ExplainResponse* response) {
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
      std::lock_guard<std::mutex> lock(mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    auto response = std::make_shared<v1::ExplainResponse>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;
    }
    service_->StartExplain(context_, request_, response.get(), "ExplainStream",
                           [this, response](const Status& status) { OnExplained(response, status); });
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    outbox_.pop_front();
    if (!ok) write_failed_ = true;
    WriteNextLocked();
    MaybeFinishLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    outbox_.push_back(std::move(response));
    WriteNextLocked();
    MaybeFinishLocked();
  }

  // REQUIRES: mu_ held.
  void WriteNextLocked() {
    if (writing_ || outbox_.empty()) return;
    if (cancelled_ || write_failed_) {
      outbox_.clear();
      return;
    }
    writing_ = true;
    StartWrite(outbox_.front().get());
  }

  // REQUIRES: mu_ held.
  void MaybeFinishLocked() {
    if (finished_ || !reads_done_ || in_flight_ > 0 || writing_ || !outbox_.empty()) return;
    finished_ = true;
    Finish(cancelled_ ? grpc::Status(grpc::CANCELLED, "stream cancelled") : grpc::Status::OK);
  }

  ExplainerService* const service_;
  grpc::CallbackServerContext* const context_;
  v1::ExplainRequest request_;  // the read buffer; StartExplain copies what it needs
  std::mutex mu_;
  int in_flight_ = 0;                                          // guarded by mu_
  std::deque<std::shared_ptr<v1::ExplainResponse>> outbox_;  // guarded by mu_; front is being written
  bool writing_ = false;                                       // guarded by mu_
  bool reads_done_ = false;                                    // guarded by mu_
  bool cancelled_ = false;                                     // guarded by mu_
  bool write_failed_ = false;                                  // guarded by mu_
  bool finished_ = false;                                      // guarded by mu_
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
  response->set_enabled(false);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ExplainerService::ClearCache(grpc::CallbackServerContext* context,
                                                       const v1::ClearCacheRequest*, v1::ClearCacheResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status(grpc::FAILED_PRECONDITION, "the heatmap cache is disabled"));
  return reactor;
}

}  // namespace camserve
