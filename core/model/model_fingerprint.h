// ModelFingerprint: the version of a served model, as the SHA-256 of what
// determines its answers: the TorchScript file's bytes and the sidecar's
// preprocessing (input size, mean, std), the declared layer layouts, and the
// precision the model runs in
// when it is not fp32 (so fp32 versions did not change when precisions came,
// and a cache never answers a bf16 request with an fp32 map or the reverse).
// Labels and the default layer are not
// included: they change names, not heatmaps (the default layer is resolved
// before anything is cached).
//
// Thread-safety: a free function.
// Errors: NOT_FOUND when the model file cannot be read.
// Cost: one read and one SHA-256 pass over the model file (measured:
// docs/benchmarks.md, "Component costs").
#pragma once

#include <string>

#include "core/model/model_sidecar.h"
#include "core/util/status.h"

namespace camserve {

// "sha256:" followed by 64 hex digits.
// `precision`: "fp32", "bf16" or "fp16", the one in force after load.
StatusOr<std::string> ModelFingerprint(const std::string& model_path, const ModelSidecar& sidecar,
                                       const std::string& precision = "fp32");

}  // namespace camserve
