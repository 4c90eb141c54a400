#include "core/serving/explain_pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/image/bilinear_resize.h"
#include "core/logging/logging.h"
#include "core/serving/explain_request_checks.h"
#include "core/serving/heatmap_encoding.h"

namespace camserve {

namespace {

constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

using SteadyTime = std::chrono::steady_clock::time_point;

int64_t MicrosSince(SteadyTime start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
}

// 512 bytes, 12.3 KiB, 45.6 MiB.
std::string ReadableBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  char text[32];
  const bool mebibytes = bytes >= (1 << 20);
  std::snprintf(text, sizeof(text), "%.1f %s", static_cast<double>(bytes) / (mebibytes ? 1 << 20 : 1 << 10),
                mebibytes ? "MiB" : "KiB");
  return text;
}

HeatmapCacheKey CacheKeyOf(const ExplainRequest& request, const ExplainJob& job, const ModelRunner& runner,
                           int quality_steps) {
  HeatmapCacheKeyFields fields;
  fields.model_fingerprint = runner.version();
  fields.method = CamMethodName(job.method);
  fields.target_layer = job.target_layer.empty() ? runner.info().default_layer : job.target_layer;
  fields.target_class = job.target_class;
  fields.top_k = job.top_k;
  fields.resolution = HeatmapResolutionCode(request.resolution);
  fields.encoding = static_cast<int>(request.encoding);
  fields.quality_steps = job.evaluate ? quality_steps : 0;
  if (request.input_kind == ExplainRequest::InputKind::kTensor) {
    fields.tensor_shape = request.tensor_shape;
    fields.tensor_bytes = request.tensor_data;
  } else {
    fields.image_bytes = request.image;
  }
  return MakeHeatmapCacheKey(fields);
}

}  // namespace

int HeatmapResolutionCode(HeatmapResolution resolution) {
  switch (resolution) {
    case HeatmapResolution::kInput: return 0;
    case HeatmapResolution::kFeature: return 1;
    case HeatmapResolution::kOriginal: return 2;
  }
  return -1;
}

// One request, from its arrival until it is answered.
struct ExplainPipeline::Pending {
  std::string rpc;
  std::string request_id;
  std::string model_name;
  std::string model_version;
  // Unset until the request's method parsed.
  std::optional<CamMethodKind> method;
  CallContext context;
  // The deadline in force on the pipeline's clock: the client's or the
  // default; kNoDeadline for none.
  int64_t deadline_us = kNoDeadline;
  SteadyTime start;
  // This request's own stages: cache_get and total.
  StageTimings timings;
  ExplainCallback done;

  // Why the client no longer wants the answer at `now_us`: its deadline
  // passed, or it cancelled; OK while it still does.
  Status GaveUp(int64_t now_us) const {
    if (now_us >= deadline_us) {
      return Status(StatusCode::kDeadlineExceeded, "the deadline passed before the answer was ready");
    }
    if (context.is_cancelled && context.is_cancelled())
      return Status(StatusCode::kCancelled, "cancelled by the client");
    return Status::Ok();
  }
};

// One computation: what encoding its answer needs, and what it holds.
struct ExplainPipeline::Computation {
  std::string model_name;
  CamMethodKind method = CamMethodKind::kGradCam;
  HeatmapEncoding encoding = HeatmapEncoding::kFloat32;
  // The image under a PNG_OVERLAY, at the heatmap's size when known.
  std::shared_ptr<const DecodedImage> overlay_image;
  // decode, preprocess, then the runner's stages, encode and cache_put.
  StageTimings timings;
  // Set unless the request bypasses the cache (or there is no cache).
  std::optional<HeatmapCacheKey> cache_key;
  // Its share of the in-flight budget, given back when the last waiter
  // has its answer.
  InflightBudget::Reservation reservation;
};

// The answer of one computation, handed to every request waiting for it.
struct ExplainPipeline::ComputedAnswer {
  Status status;
  std::shared_ptr<const CachedExplanation> answer;  // set when OK
  StageTimings timings;
  int batch_size = 0;  // 0: never reached the engine
  // The computation's budget reservation, shared by the replies (set when OK).
  std::shared_ptr<const void> budget_share;
};

StatusOr<std::unique_ptr<ExplainPipeline>> ExplainPipeline::Create(const Options& options, ModelRegistry* registry,
                                                                   HeatmapCache* cache, ServerMetrics* metrics,
                                                                   std::shared_ptr<Clock> clock) {
  if (registry == nullptr || clock == nullptr) return InvalidArgumentError("the pipeline needs a registry and a clock");
  if (options.default_top_k < 0) return BadOptionError("default_top_k", ">= 0", options.default_top_k);
  if (options.max_inflight_bytes < 1) return BadOptionError("max_inflight_bytes", ">= 1", options.max_inflight_bytes);
  if (options.max_output_pixels < 1) return BadOptionError("max_output_pixels", ">= 1", options.max_output_pixels);
  if (options.default_deadline_ms < 0)
    return BadOptionError("default_deadline_ms", ">= 0", options.default_deadline_ms);
  if (options.max_request_string_bytes < 1) {
    return BadOptionError("max_request_string_bytes", ">= 1", options.max_request_string_bytes);
  }
  if (options.completion_threads < 1) return BadOptionError("completion_threads", ">= 1", options.completion_threads);
  if (options.decode.max_pixels < 1) return BadOptionError("max_image_pixels", ">= 1", options.decode.max_pixels);
  if (options.decode.max_side_px < 1) return BadOptionError("max_image_side_px", ">= 1", options.decode.max_side_px);
  return std::unique_ptr<ExplainPipeline>(new ExplainPipeline(options, registry, cache, metrics, std::move(clock)));
}

ExplainPipeline::ExplainPipeline(const Options& options, ModelRegistry* registry, HeatmapCache* cache,
                                 ServerMetrics* metrics, std::shared_ptr<Clock> clock)
    : options_(options),
      registry_(registry),
      cache_(cache),
      metrics_(metrics),
      clock_(std::move(clock)),
      budget_(options.max_inflight_bytes),
      completions_(std::make_unique<CompletionPool>(options.completion_threads)) {}

ExplainPipeline::~ExplainPipeline() { Shutdown(); }

void ExplainPipeline::Shutdown() { completions_->Shutdown(); }

void ExplainPipeline::Finish(Pending& pending, const Status& status, ExplainReply reply) {
  const int64_t latency_us = MicrosSince(pending.start);
  reply.request_id = pending.request_id;
  if (status.ok()) {
    reply.timings.MergeFrom(pending.timings);
    reply.timings.Set(Stage::kTotal, latency_us);
    pending.timings.Set(Stage::kTotal, latency_us);
  }
  if (metrics_ != nullptr) {
    if (status.ok()) metrics_->RecordStages(pending.model_name, pending.method, pending.timings);
    metrics_->RecordRequest(pending.model_name, pending.method, status.code());
    metrics_->RequestFinished();
  }
  AccessRecord record;
  record.request_id = pending.request_id;
  record.rpc = pending.rpc;
  record.model = pending.model_name;
  record.method = pending.method ? CamMethodName(*pending.method) : "";
  record.status = StatusCodeName(status.code());
  record.message = status.message();
  record.latency_us = latency_us;
  record.cache_hit = reply.cache_hit;
  record.batch_size = reply.batch_size;
  LogAccess(record);
  ExplainCallback done = std::move(pending.done);
  if (!status.ok()) {
    ExplainReply failed;
    failed.request_id = pending.request_id;
    reply = std::move(failed);
  }
  done(status, std::move(reply));
}

void ExplainPipeline::Deliver(Pending& pending, const ComputedAnswer& answer, bool coalesced) {
  Status status = answer.status;
  const Status gave_up = pending.GaveUp(clock_->NowMicros());
  if (!gave_up.ok()) {
    status = gave_up;
  } else if (status.code() == StatusCode::kCancelled) {
    // Joined a computation in the instant it was dropped for having no live
    // waiter: not this client's cancel. Retrying computes afresh.
    status = UnavailableError("the identical request this one waited for was dropped as it was joined; retry");
  }
  ExplainReply reply;
  reply.model = pending.model_name;
  reply.batch_size = answer.batch_size;
  if (status.ok()) {
    reply.answer = *answer.answer;
    reply.model_version = pending.model_version;
    reply.coalesced = coalesced;
    reply.timings = answer.timings;
    reply.budget_share = answer.budget_share;
  }
  Finish(pending, status, std::move(reply));
}

void ExplainPipeline::Submit(ExplainRequest request, CallContext context, ExplainCallback done) {
  if (metrics_ != nullptr) metrics_->RequestStarted();
  auto pending = std::make_shared<Pending>();
  pending->start = std::chrono::steady_clock::now();
  pending->timings = StageTimings(options_.profile_stages);
  pending->rpc = request.rpc;
  pending->request_id = request.request_id;
  pending->context = std::move(context);
  pending->done = std::move(done);
  const Status lengths = CheckRequestLengths(request, options_.max_request_string_bytes);
  if (!lengths.ok()) {
    pending->request_id = pending->request_id.substr(0, options_.max_request_string_bytes);
    return Finish(*pending, lengths, {});
  }
  pending->model_name = request.model.empty() ? registry_->default_model() : request.model;
  if (!request.malformed.ok()) return Finish(*pending, request.malformed, {});
  StatusOr<ModelRunner*> found = registry_->Find(request.model);
  if (!found.ok()) return Finish(*pending, found.status(), {});
  ModelRunner& runner = **found;
  pending->model_version = runner.version();

  // The options, as the runner's job.
  StatusOr<CamMethodKind> method = RequestMethod(request);
  if (!method.ok()) return Finish(*pending, method.status(), {});
  pending->method = *method;
  const Status options_ok = CheckRequestOptions(request);
  if (!options_ok.ok()) return Finish(*pending, options_ok, {});
  ExplainJob job;
  job.method = *method;
  job.target_layer = request.target_layer;
  job.target_class = request.target_class;
  job.top_k = request.top_k == 0 ? options_.default_top_k : request.top_k;
  job.resolution = request.resolution;
  job.priority = request.priority;
  job.evaluate = request.evaluate;
  const Status job_ok = runner.CheckJob(job);
  if (!job_ok.ok()) return Finish(*pending, job_ok, {});

  const int64_t now_us = clock_->NowMicros();
  if (pending->context.deadline_us.has_value()) {
    pending->deadline_us = *pending->context.deadline_us;
  } else if (options_.default_deadline_ms > 0) {
    pending->deadline_us = now_us + options_.default_deadline_ms * 1000;
  }
  if (pending->deadline_us <= now_us) {
    return Finish(*pending, Status(StatusCode::kDeadlineExceeded, "the deadline passed before the request was queued"),
                  {});
  }
  job.deadline_us = pending->deadline_us;

  auto computation = std::make_shared<Computation>();
  computation->model_name = pending->model_name;
  computation->method = *method;
  computation->encoding = request.encoding;
  computation->timings = StageTimings(options_.profile_stages);

  // Where the answer goes: to this request alone, or to every request
  // coalesced on the same key.
  std::function<void(const ComputedAnswer&)> publish;
  const bool use_cache = !request.bypass_cache;
  if (!use_cache) {
    job.is_cancelled = pending->context.is_cancelled;
    publish = [this, pending](const ComputedAnswer& answer) { Deliver(*pending, answer, false); };
  } else {
    const HeatmapCacheKey key = CacheKeyOf(request, job, runner, options_.quality_steps);
    if (cache_ != nullptr) {
      StageTimer lookup_timer(&pending->timings, Stage::kCacheGet);
      std::optional<CachedExplanation> cached = cache_->Lookup(key);
      lookup_timer.Stop();
      if (cached.has_value()) {
        ExplainReply reply;
        reply.answer = std::move(*cached);
        reply.model = pending->model_name;
        reply.model_version = runner.version();
        reply.cache_hit = true;
        reply.timings = StageTimings(options_.profile_stages);
        return Finish(*pending, Status::Ok(), std::move(reply));
      }
      computation->cache_key = key;
    }
    RequestCoalescer<ComputedAnswer>::Waiter waiter;
    waiter.deliver = [this, pending](const ComputedAnswer& answer, bool followed) {
      Deliver(*pending, answer, followed);
    };
    waiter.is_abandoned = [this, pending] { return !pending->GaveUp(clock_->NowMicros()).ok(); };
    waiter.deadline_us = pending->deadline_us;
    // A follower is answered by the leader's computation.
    if (!coalescer_.Join(key, std::move(waiter))) return;
    // The computation lives while someone waits for it, until the latest
    // deadline among them.
    job.is_cancelled = [this, key] { return !coalescer_.AnyoneWaiting(key); };
    job.live_deadline_us = [this, key] { return coalescer_.LatestLiveDeadline(key).value_or(0); };
    publish = [this, key](const ComputedAnswer& answer) { coalescer_.Finish(key, answer); };
  }
  Compute(std::move(request), std::move(job), computation, runner, std::move(publish));
}

void ExplainPipeline::Compute(ExplainRequest request, ExplainJob job, const std::shared_ptr<Computation>& computation,
                              ModelRunner& runner, std::function<void(const ComputedAnswer&)> publish) {
  const auto refuse = [&publish](Status status) { publish(ComputedAnswer{std::move(status), nullptr, {}, 0}); };
  // Admission first: what can refuse needs nothing of the input, so a shed
  // request costs no header parse.
  if (!runner.healthy()) {
    return refuse(UnavailableError("model '" + computation->model_name + "' is unavailable: its device was lost"));
  }
  if (!runner.IsAccepting()) return refuse(UnavailableError("the server is shutting down"));
  if (runner.QueueDepth() >= runner.max_queue_size()) {
    return refuse(UnavailableError("exceeds maximum queue size (" + std::to_string(runner.max_queue_size()) + ")"));
  }
  const int64_t now_us = clock_->NowMicros();
  const int64_t deadline_us = job.live_deadline_us ? job.live_deadline_us() : job.deadline_us;
  const int64_t wait_us = runner.EstimatedWaitMicros();
  if (deadline_us != kNoDeadline && now_us + wait_us > deadline_us) {
    return refuse(UnavailableError("overloaded: the estimated wait (" + std::to_string(wait_us / 1000) +
                                   " ms) exceeds the time left before the deadline (" +
                                   std::to_string(std::max<int64_t>(0, deadline_us - now_us) / 1000) +
                                   " ms); retry later or with a longer deadline"));
  }

  // The header: the sizes the limits and the byte budget need.
  StatusOr<InputShape> shape = ReadInputShape(request, options_.decode);
  if (!shape.ok()) return refuse(shape.status());
  const ModelInfo& model = runner.info();
  const int64_t original_px = int64_t{shape->original_width_px} * shape->original_height_px;
  const int64_t input_px = request.input_kind == ExplainRequest::InputKind::kTensor
                               ? original_px
                               : int64_t{model.input_width_px} * model.input_height_px;
  const int64_t output_px = job.resolution == HeatmapResolution::kOriginal ? original_px : input_px;
  if (job.resolution == HeatmapResolution::kOriginal && output_px > options_.max_output_pixels) {
    return refuse(InvalidArgumentError(
        "an ORIGINAL-resolution heatmap of this " + std::to_string(shape->original_width_px) + "x" +
        std::to_string(shape->original_height_px) + " image has " + std::to_string(output_px) + " pixels; at most " +
        std::to_string(options_.max_output_pixels) +
        " are allowed (limits.max_output_pixels): ask for INPUT "
        "resolution and scale it on the client"));
  }
  const int64_t request_bytes = static_cast<int64_t>(request.image.size() + request.tensor_data.size());
  // The decoded pixels, the model input (float32), and the response: the
  // float heatmap and its encoding (at most as large).
  const int64_t estimated_bytes = request_bytes + shape->decoded_bytes + 3 * input_px * 4 + 2 * output_px * 4;
  if (estimated_bytes > budget_.capacity_bytes()) {
    return refuse(ResourceExhaustedError("this request needs about " + ReadableBytes(estimated_bytes) +
                                         " in flight, more than the whole budget (limits.max_inflight_bytes, " +
                                         ReadableBytes(budget_.capacity_bytes()) + ")"));
  }
  std::optional<InflightBudget::Reservation> reservation = budget_.TryReserve(estimated_bytes);
  if (!reservation.has_value()) {
    return refuse(UnavailableError("overloaded: requests in flight hold " + ReadableBytes(budget_.used_bytes()) +
                                   " of " + ReadableBytes(budget_.capacity_bytes()) +
                                   " (limits.max_inflight_bytes) and this one needs about " +
                                   ReadableBytes(estimated_bytes) + "; retry later"));
  }
  computation->reservation = std::move(*reservation);

  // Decode and preprocess here, so that the batch worker only computes.
  if (request.input_kind == ExplainRequest::InputKind::kImage) {
    StageTimer decode_timer(&computation->timings, Stage::kDecode);
    StatusOr<DecodedImage> image = DecodeImage(request.image, options_.decode);
    decode_timer.Stop();
    if (!image.ok()) return refuse(image.status());
    std::string().swap(request.image);
    StageTimer preprocess_timer(&computation->timings, Stage::kPreprocess);
    StatusOr<PreparedInput> input = runner.preprocessor().FromDecodedImage(*image);
    if (!input.ok()) return refuse(input.status());
    job.input = std::move(input).value();
    if (computation->encoding == HeatmapEncoding::kPngOverlay) {
      // At INPUT resolution the heatmap's size is known: keep the image at
      // that size, not the whole photo (the same pixels the encoder would
      // resize it to).
      computation->overlay_image = job.resolution == HeatmapResolution::kInput
                                       ? std::make_shared<const DecodedImage>(
                                             ResizeRgbBilinear(*image, model.input_width_px, model.input_height_px))
                                       : std::make_shared<const DecodedImage>(std::move(image).value());
    }
  } else {
    StageTimer decode_timer(&computation->timings, Stage::kDecode);
    StatusOr<PreparedInput> input = runner.preprocessor().FromTensorBytes(request.tensor_shape, request.tensor_data);
    if (!input.ok()) return refuse(input.status());
    std::string().swap(request.tensor_data);
    job.input = std::move(input).value();
  }
  spdlog::debug("queueing request_id={} on model {}", QuoteForLog(request.request_id), computation->model_name);
  runner.Submit(std::move(job), [this, computation, publish](StatusOr<ExplainOutcome> outcome) {
    completions_->Post([this, computation, publish, outcome = std::move(outcome)]() mutable {
      Complete(std::move(outcome), computation, publish);
    });
  });
}

void ExplainPipeline::Complete(StatusOr<ExplainOutcome> outcome, const std::shared_ptr<Computation>& computation,
                               const std::function<void(const ComputedAnswer&)>& publish) {
  ComputedAnswer answer{outcome.status(), nullptr, {}, 0};
  if (outcome.ok()) {
    StageTimings& timings = computation->timings;
    timings.MergeFrom(outcome->timings);
    const ExplainResult& result = outcome->result;
    StageTimer encode_timer(&timings, Stage::kEncode);
    StatusOr<std::string> data = EncodeHeatmap(result.heatmap, computation->encoding, computation->overlay_image.get());
    encode_timer.Stop();
    if (!data.ok()) {
      answer.status = data.status();
    } else {
      auto value = std::make_shared<CachedExplanation>();
      value->width_px = result.heatmap.width_px;
      value->height_px = result.heatmap.height_px;
      value->encoding = static_cast<int>(computation->encoding);
      value->data = std::move(data).value();
      value->target = result.target;
      value->top_k = result.top_k;
      value->quality = result.quality;
      if (computation->cache_key.has_value() && cache_ != nullptr) {
        StageTimer store_timer(&timings, Stage::kCachePut);
        cache_->Store(*computation->cache_key, computation->model_name, *value);
      }
      // Once per computation, however many requests it answers.
      if (metrics_ != nullptr) metrics_->RecordStages(computation->model_name, computation->method, timings);
      answer.answer = std::move(value);
      answer.timings = timings;
      answer.batch_size = outcome->batch_size;
      answer.budget_share = computation;
    }
  }
  publish(answer);
}

}  // namespace camserve
