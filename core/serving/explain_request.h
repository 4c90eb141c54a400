// The request pipeline's own types: one explanation request and its reply,
// independent of any transport. server/ converts the gRPC messages to and
// from these once, at its edge (server/proto_conversion.h).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cache/cached_explanation.h"
#include "core/engine/explain_types.h"
#include "core/profiling/stage_timings.h"
#include "core/serving/heatmap_encoding.h"
#include "core/util/status.h"

namespace camserve {

// The stable code of a resolution in cache keys: the v1 API's enum values
// (INPUT 0, FEATURE 1, ORIGINAL 2).
int HeatmapResolutionCode(HeatmapResolution resolution);

struct ExplainRequest {
  enum class InputKind { kNone, kImage, kTensor };

  // Echoed in the reply and the access log; chosen by the client.
  std::string request_id;
  // The transport's name for the call, for the access log ("Explain",
  // "ExplainStream").
  std::string rpc;
  // Empty: the default model.
  std::string model;
  // Empty: gradcam.
  std::string method;
  // Empty: the model's default layer.
  std::string target_layer;
  // Unset: the top-1 prediction.
  std::optional<int> target_class;
  // 0: the pipeline's default_top_k.
  int top_k = 0;
  HeatmapResolution resolution = HeatmapResolution::kInput;
  HeatmapEncoding encoding = HeatmapEncoding::kFloat32;
  bool bypass_cache = false;
  // 0 is the most urgent.
  int priority = 0;
  // Also compute the quality scores (ExplainResult::quality).
  bool evaluate = false;

  // Set by the transport when a field could not be converted (an enum value
  // this server does not know); the pipeline answers the request with it,
  // logged and counted like any other.
  Status malformed;

  InputKind input_kind = InputKind::kNone;
  // kImage: the encoded JPEG or PNG.
  std::string image;
  // kTensor: the shape and the float32 little-endian values.
  std::vector<int64_t> tensor_shape;
  std::string tensor_data;
};

// What the transport knows about the call.
struct CallContext {
  // The client's deadline on the pipeline's clock (Clock::NowMicros); unset
  // when the client sent none (the pipeline's default deadline applies).
  std::optional<int64_t> deadline_us;
  // True once the client gave up (cancelled, disconnected, its deadline
  // passed). May be empty.
  std::function<bool()> is_cancelled;
};

struct ExplainReply {
  std::string request_id;
  // The heatmap in the requested encoding, the target and the top-k.
  CachedExplanation answer;
  std::string model;
  std::string model_version;
  bool cache_hit = false;
  // Answered by an identical request's computation.
  bool coalesced = false;
  // Jobs in the engine run that computed it; 0 for cache hits.
  int batch_size = 0;
  StageTimings timings;
  // The request's share of the in-flight byte budget: given back when the
  // last copy of this pointer is dropped, so a transport keeps it until the
  // response has been sent (a client that does not read its responses then
  // holds budget, not unaccounted memory). Null for cache hits.
  std::shared_ptr<const void> budget_share;
};

// Called exactly once per request. `reply` is filled when `status` is OK;
// otherwise only its request_id is.
using ExplainCallback = std::function<void(const Status& status, ExplainReply reply)>;

}  // namespace camserve
