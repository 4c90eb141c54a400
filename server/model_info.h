// The served models as the v1 API describes them (GetModelInfo over gRPC,
// GET /v1/models/{model} over HTTP).
//
// Thread-safety: as ModelRegistry's accessors (any thread).
#pragma once

#include <string>

#include "camserve/v1/explainer.pb.h"
#include "core/serving/model_registry.h"
#include "core/util/status.h"

namespace camserve {

// Adds the ModelInfo of `model` (empty: every served model) to `response`.
// NOT_FOUND (the registry's message) when `model` is not served.
Status FillModelInfo(const ModelRegistry& registry, const std::string& model, v1::GetModelInfoResponse* response);

}  // namespace camserve
