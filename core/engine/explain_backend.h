// ExplainBackend: what the serving layer needs from an explanation engine,
// as an interface so the ModelRunner can be tested with a fake engine (no
// LibTorch). ExplainerEngine is the real implementation.
//
// Thread-safety: implementations allow concurrent calls of every method.
// Errors: as ExplainerEngine (INVALID_ARGUMENT for inputs the model rejects).
#pragma once

#include <string>
#include <vector>

#include "core/engine/explain_types.h"
#include "core/engine/preprocessor.h"
#include "core/util/status.h"

namespace camserve {

class ExplainBackend {
 public:
  virtual ~ExplainBackend() = default;

  virtual const ModelInfo& info() const = 0;
  virtual const Preprocessor& preprocessor() const = 0;
  // Every dotted layer path that can be a target.
  virtual std::vector<std::string> UsableLayers() = 0;
  // How each target layer prepared so far runs (none for a fake engine).
  virtual std::vector<LayerExecution> PreparedLayers() { return {}; }
  // One batch: heatmaps, targets and top-k for every item, same order.
  // REQUIRES: every item's input has the same shape.
  virtual StatusOr<BatchResult> Explain(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items) = 0;
};

}  // namespace camserve
