// Fuzz target: a request as the server receives it. The bytes are parsed as
// a camserve.v1.ExplainRequest, converted by the RPC edge
// (ExplainRequestFromProto), then put through the checks the pipeline makes
// before and at admission, with the server's default limits: lengths,
// method, options, the input's size from the image header or tensor shape,
// and for a tensor the preprocessor's validation of its shape and values
// (the model's image input is decoded by the pipeline like
// image_decoder_fuzz's). No model, cache or engine is involved.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstdlib>

#include "camserve/v1/explainer.pb.h"
#include "core/engine/preprocessor.h"
#include "core/serving/explain_request_checks.h"
#include "server/proto_conversion.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field fails the parse, as it should, and
  // libprotobuf logs it each time: noise at thousands of inputs a second.
  static const bool silenced = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)silenced;
  camserve::v1::ExplainRequest proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) return 0;
  camserve::ExplainRequest request = camserve::ExplainRequestFromProto(&proto, "Explain");

  // Defaults of limits.max_request_string_bytes, max_image_pixels and
  // max_image_side_px (ExplainPipeline::Options).
  constexpr int kMaxRequestStringBytes = 256;
  const camserve::DecodeOptions decode;
  if (!camserve::CheckRequestLengths(request, kMaxRequestStringBytes).ok()) return 0;
  if (!request.malformed.ok()) return 0;
  if (!camserve::RequestMethod(request).ok()) return 0;
  if (!camserve::CheckRequestOptions(request).ok()) return 0;
  const camserve::StatusOr<camserve::InputShape> shape = camserve::ReadInputShape(request, decode);
  if (!shape.ok()) return 0;
  if (shape->original_width_px < 1 || shape->original_height_px < 1) std::abort();
  if (request.input_kind == camserve::ExplainRequest::InputKind::kTensor) {
    static const camserve::Preprocessor preprocessor(camserve::ModelSidecar{}, decode, camserve::TensorLimits{});
    (void)preprocessor.FromTensorBytes(request.tensor_shape, request.tensor_data);
  }
  return 0;
}
