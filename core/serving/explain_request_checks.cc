#include "core/serving/explain_request_checks.h"

#include <string>

namespace camserve {
namespace {

Status CheckLength(const char* field, const std::string& value, int max_bytes) {
  if (static_cast<int64_t>(value.size()) <= max_bytes) return Status::Ok();
  return InvalidArgumentError(std::string(field) + " is " + std::to_string(value.size()) + " bytes; at most " +
                              std::to_string(max_bytes) + " are allowed (limits.max_request_string_bytes)");
}

}  // namespace

Status CheckRequestLengths(const ExplainRequest& request, int max_string_bytes) {
  CAMSERVE_RETURN_IF_ERROR(CheckLength("request_id", request.request_id, max_string_bytes));
  CAMSERVE_RETURN_IF_ERROR(CheckLength("model", request.model, max_string_bytes));
  CAMSERVE_RETURN_IF_ERROR(CheckLength("method", request.method, max_string_bytes));
  CAMSERVE_RETURN_IF_ERROR(CheckLength("target_layer", request.target_layer, max_string_bytes));
  if (request.tensor_shape.size() > kMaxTensorDimensions) {
    return InvalidArgumentError("tensor shape has " + std::to_string(request.tensor_shape.size()) +
                                " dimensions; at most " + std::to_string(kMaxTensorDimensions) + " ([1, 3, H, W])");
  }
  return Status::Ok();
}

StatusOr<CamMethodKind> RequestMethod(const ExplainRequest& request) {
  return ParseCamMethod(request.method.empty() ? "gradcam" : request.method);
}

Status CheckRequestOptions(const ExplainRequest& request) {
  if (request.top_k < 0) return InvalidArgumentError("top_k must be >= 0; was " + std::to_string(request.top_k));
  if (request.encoding == HeatmapEncoding::kPngOverlay && request.input_kind == ExplainRequest::InputKind::kTensor) {
    return InvalidArgumentError("encoding PNG_OVERLAY needs an image input; a tensor has no pixels to overlay");
  }
  return Status::Ok();
}

StatusOr<InputShape> ReadInputShape(const ExplainRequest& request, const DecodeOptions& decode) {
  switch (request.input_kind) {
    case ExplainRequest::InputKind::kImage: {
      StatusOr<ImageHeader> header = ReadImageHeader(request.image, decode);
      if (!header.ok()) return header.status();
      return InputShape{header->width, header->height, int64_t{3} * header->width * header->height};
    }
    case ExplainRequest::InputKind::kTensor: {
      const std::vector<int64_t>& shape = request.tensor_shape;
      if (shape.size() < 2) return InvalidArgumentError("tensor shape must be [3, H, W] or [1, 3, H, W]");
      const int64_t height = shape[shape.size() - 2], width = shape[shape.size() - 1];
      if (height < 1 || width < 1 || height > decode.max_side_px || width > decode.max_side_px) {
        return InvalidArgumentError("tensor height and width must be in [1, " + std::to_string(decode.max_side_px) +
                                    "]");
      }
      return InputShape{static_cast<int>(width), static_cast<int>(height), 0};
    }
    case ExplainRequest::InputKind::kNone: break;
  }
  return InvalidArgumentError("the request has no input: set image (JPEG or PNG bytes) or tensor");
}

}  // namespace camserve
