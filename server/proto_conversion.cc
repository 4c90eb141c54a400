#include "server/proto_conversion.h"

#include <chrono>

namespace camserve {
namespace {

StatusOr<HeatmapResolution> ResolutionFromProto(v1::HeatmapResolution resolution) {
  switch (resolution) {
    case v1::HEATMAP_RESOLUTION_INPUT: return HeatmapResolution::kInput;
    case v1::HEATMAP_RESOLUTION_FEATURE: return HeatmapResolution::kFeature;
    case v1::HEATMAP_RESOLUTION_ORIGINAL: return HeatmapResolution::kOriginal;
    default: return InvalidArgumentError("unknown resolution " + std::to_string(resolution));
  }
}

StatusOr<HeatmapEncoding> EncodingFromProto(v1::HeatmapEncoding encoding) {
  switch (encoding) {
    case v1::HEATMAP_ENCODING_FLOAT32: return HeatmapEncoding::kFloat32;
    case v1::HEATMAP_ENCODING_UINT8: return HeatmapEncoding::kUint8;
    case v1::HEATMAP_ENCODING_PNG_HEATMAP: return HeatmapEncoding::kPngHeatmap;
    case v1::HEATMAP_ENCODING_PNG_OVERLAY: return HeatmapEncoding::kPngOverlay;
    default: return InvalidArgumentError("unknown encoding " + std::to_string(encoding));
  }
}

// Everything but the input.
ExplainRequest OptionsFromProto(const v1::ExplainRequest& proto, const char* rpc) {
  ExplainRequest request;
  request.rpc = rpc;
  request.request_id = proto.request_id();
  request.model = proto.model();
  request.method = proto.method();
  request.target_layer = proto.target_layer();
  if (proto.has_target_class()) request.target_class = proto.target_class();
  request.top_k = proto.top_k();
  request.bypass_cache = proto.bypass_cache();
  request.priority = proto.priority();
  request.evaluate = proto.evaluate();
  StatusOr<HeatmapResolution> resolution = ResolutionFromProto(proto.resolution());
  StatusOr<HeatmapEncoding> encoding = EncodingFromProto(proto.encoding());
  if (!resolution.ok()) {
    request.malformed = resolution.status();
  } else if (!encoding.ok()) {
    request.malformed = encoding.status();
  } else {
    request.resolution = *resolution;
    request.encoding = *encoding;
  }
  switch (proto.input_case()) {
    case v1::ExplainRequest::kImage: request.input_kind = ExplainRequest::InputKind::kImage; break;
    case v1::ExplainRequest::kTensor:
      request.input_kind = ExplainRequest::InputKind::kTensor;
      request.tensor_shape.assign(proto.tensor().shape().begin(), proto.tensor().shape().end());
      break;
    default: request.input_kind = ExplainRequest::InputKind::kNone;
  }
  return request;
}

void FillScore(const ClassScore& score, v1::ClassScore* out) {
  out->set_class_index(score.class_index);
  out->set_label(score.label);
  out->set_probability(score.probability);
}

void FillQuality(const ExplanationQuality& quality, v1::ExplanationQuality* out) {
  out->set_target_probability(quality.target_probability);
  out->set_masked_probability(quality.masked_probability);
  out->set_confidence_change(quality.confidence_change);
  out->set_average_drop(quality.average_drop);
  out->set_confidence_increase(quality.confidence_increase);
  out->set_deletion_auc(quality.deletion_auc);
  out->set_insertion_auc(quality.insertion_auc);
  out->mutable_deletion_curve()->Add(quality.deletion_curve.begin(), quality.deletion_curve.end());
  out->mutable_insertion_curve()->Add(quality.insertion_curve.begin(), quality.insertion_curve.end());
  out->set_steps(quality.steps);
}

// Writes the stages `timings` has into the response's timings.
void FillTimings(const StageTimings& timings, v1::StageTimings* out) {
  using Setter = void (v1::StageTimings::*)(int64_t);
  static constexpr Setter kSetters[kStageCount] = {
      &v1::StageTimings::set_decode_us,    &v1::StageTimings::set_preprocess_us, &v1::StageTimings::set_queue_us,
      &v1::StageTimings::set_forward_us,   &v1::StageTimings::set_backward_us,   &v1::StageTimings::set_cam_us,
      &v1::StageTimings::set_perturb_us,   &v1::StageTimings::set_evaluate_us,   &v1::StageTimings::set_encode_us,
      &v1::StageTimings::set_cache_get_us, &v1::StageTimings::set_cache_put_us,  &v1::StageTimings::set_total_us};
  for (int s = 0; s < kStageCount; ++s) {
    if (timings.Has(static_cast<Stage>(s))) (out->*kSetters[s])(timings.Micros(static_cast<Stage>(s)));
  }
}

}  // namespace

ExplainRequest ExplainRequestFromProto(v1::ExplainRequest* proto, const char* rpc) {
  ExplainRequest request = OptionsFromProto(*proto, rpc);
  if (proto->input_case() == v1::ExplainRequest::kImage) {
    request.image = std::move(*proto->mutable_image());
  } else if (proto->input_case() == v1::ExplainRequest::kTensor) {
    request.tensor_data = std::move(*proto->mutable_tensor()->mutable_data());
  }
  return request;
}

ExplainRequest ExplainRequestFromProto(const v1::ExplainRequest& proto, const char* rpc) {
  ExplainRequest request = OptionsFromProto(proto, rpc);
  if (proto.input_case() == v1::ExplainRequest::kImage) {
    request.image = proto.image();
  } else if (proto.input_case() == v1::ExplainRequest::kTensor) {
    request.tensor_data = proto.tensor().data();
  }
  return request;
}

CallContext CallContextOf(grpc::CallbackServerContext* context, const Clock& clock) {
  CallContext call;
  const auto deadline = context->deadline();
  const auto now = std::chrono::system_clock::now();
  // gRPC reports "no deadline" as a time point centuries away.
  if (deadline - now <= std::chrono::hours(24 * 365)) {
    call.deadline_us =
        clock.NowMicros() + std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
  }
  call.is_cancelled = [context] { return context->IsCancelled(); };
  return call;
}

void FillResponse(ExplainReply reply, v1::ExplainResponse* response) {
  response->Clear();
  response->set_request_id(std::move(reply.request_id));
  CachedExplanation& answer = reply.answer;
  v1::Heatmap* heatmap = response->mutable_heatmap();
  heatmap->set_width(answer.width_px);
  heatmap->set_height(answer.height_px);
  heatmap->set_encoding(static_cast<v1::HeatmapEncoding>(answer.encoding));
  heatmap->set_data(std::move(answer.data));
  response->set_target_class(answer.target.class_index);
  response->set_target_label(answer.target.label);
  response->set_target_probability(answer.target.probability);
  for (const ClassScore& score : answer.top_k) FillScore(score, response->add_top_k());
  if (answer.quality) FillQuality(*answer.quality, response->mutable_quality());
  response->set_model(std::move(reply.model));
  response->set_model_version(std::move(reply.model_version));
  response->set_cache_hit(reply.cache_hit);
  response->set_coalesced(reply.coalesced);
  response->set_batch_size(reply.batch_size);
  FillTimings(reply.timings, response->mutable_timings());
}

void FillErrorResponse(const std::string& request_id, const Status& status, v1::ExplainResponse* response) {
  response->Clear();
  response->set_request_id(request_id);
  v1::ErrorStatus* error = response->mutable_error();
  error->set_code(static_cast<int>(status.code()));
  error->set_message(status.message());
}

}  // namespace camserve
