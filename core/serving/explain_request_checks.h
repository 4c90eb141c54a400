// The checks of an ExplainRequest that need neither a model nor any state:
// what ExplainPipeline::Submit refuses before it looks anything up, and the
// input's size read from the image header or the tensor shape before
// admission. Pure functions over untrusted input (tests/fuzz/
// explain_request_fuzz.cc feeds them arbitrary requests), kept apart from the
// pipeline so that they build without the engine.
//
// Thread-safety: pure functions.
// Errors: INVALID_ARGUMENT with a message naming the field and its value.
// Cost: CheckRequestLengths, RequestMethod and CheckRequestOptions are a few
// comparisons; ReadInputShape parses the image header (ReadImageHeader),
// allocating nothing in proportion to the image.
#pragma once

#include <cstdint>

#include "core/cam/cam_method_kind.h"
#include "core/image/image_decoder.h"
#include "core/serving/explain_request.h"
#include "core/util/status.h"

namespace camserve {

// Most dimensions of a raw tensor's shape ([1, 3, H, W]).
inline constexpr int kMaxTensorDimensions = 4;

// The lengths of request_id, model, method and target_layer (at most
// `max_string_bytes` each) and of the tensor shape (kMaxTensorDimensions):
// checked first, so that nothing longer is hashed, logged in full or looked
// up.
Status CheckRequestLengths(const ExplainRequest& request, int max_string_bytes);

// The request's CAM method; an empty name is gradcam.
StatusOr<CamMethodKind> RequestMethod(const ExplainRequest& request);

// top_k (>= 0) and an encoding that the input can have (PNG_OVERLAY needs an
// image).
Status CheckRequestOptions(const ExplainRequest& request);

// What the request's input looks like before it is decoded.
struct InputShape {
  int original_width_px = 0;
  int original_height_px = 0;
  // Decoded pixels (3 bytes each); 0 for tensors.
  int64_t decoded_bytes = 0;
};

// The input's size from the image header (checked against `decode`'s
// limits) or from the tensor shape (height and width in [1,
// decode.max_side_px]); an error for a request without input.
StatusOr<InputShape> ReadInputShape(const ExplainRequest& request, const DecodeOptions& decode);

}  // namespace camserve
