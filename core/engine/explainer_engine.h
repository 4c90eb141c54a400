// ExplainerEngine: the explanation engine for one model. It owns the loaded
// TorchScript module (CamModel), its sidecar and preprocessing, and computes
// class-activation maps for a whole batch in one forward and one backward
// pass: N images with N independent targets (an explicit class or the top-1
// prediction), plus softmax top-k.
//
// The interface is plain types (explain_types.h) so that callers (batcher,
// RPC, tools) never include LibTorch.
//
// Thread-safety: all methods may be called concurrently; LibTorch's intra-op
// pool is shared, so concurrent batches compete for the same cores.
// Cost: Explain costs about one no-grad forward of the batch (the backward
// walks only the layers after the target layer); see docs/benchmarks.md.
// Errors: Create returns INVALID_ARGUMENT / FAILED_PRECONDITION for bad
// options, models or devices; Explain returns INVALID_ARGUMENT for unusable
// layers, out-of-range classes, mixed input shapes or inputs the model rejects.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/explain_backend.h"
#include "core/engine/explain_types.h"
#include "core/engine/perturbation_options.h"
#include "core/engine/preprocessor.h"
#include "core/image/image_decoder.h"
#include "core/model/model_sidecar.h"

namespace camserve {

struct EngineOptions {
  // TorchScript file (torch.jit.save). Required.
  std::string model_path;
  // Sidecar YAML; empty: NAME.yaml beside the model, if present.
  std::string sidecar_path;
  // Used for what a missing sidecar does not say.
  ModelSidecarDefaults sidecar_defaults;
  // "auto" (CUDA when available), "cpu", "cuda", "cuda:N".
  std::string device = "auto";
  // "fp32", "bf16" (CUDA, or a CPU with native bf16) or "fp16" (CUDA); a
  // reduced precision is validated against fp32 at load and refused above
  // precision_tolerance (cam_model.h).
  std::string precision = "fp32";
  // channels_last inputs where they help (CUDA; CPU in bf16).
  bool channels_last = true;
  // Try a frozen, optimized copy of the module per target layer
  // (torch::jit::optimize_for_inference), each validated against the plain
  // module on a probe batch (cam_model.h). Costs one weight copy per layer in
  // use, at most max_optimized_layers of them.
  bool optimize_for_inference = true;
  int max_optimized_layers = 4;
  // Largest map (and probability) difference from the plain fp32 module an
  // optimized copy may show on the probe batch.
  double optimize_tolerance = 1e-4;
  // The same for a reduced precision.
  double precision_tolerance = 2e-2;
  // AblationCAM, ScoreCAM and Recipro-CAM: chunk size and caps on the work
  // per image (perturbation_cam.h).
  PerturbationOptions perturbation;
  // Quality scores (ExplainItem::evaluate): steps and chunk size
  // (explanation_quality.h). quality.batch_size follows
  // perturbation.batch_size in the server's configuration.
  QualityOptions quality;
  // Explanations of a blank input run at load (batch size 1) so the first
  // request does not pay for graph optimisation.
  int warmup_iterations = 3;
  DecodeOptions decode;
  TensorLimits tensor_limits;
};

class ExplainerEngine : public ExplainBackend {
 public:
  static StatusOr<std::unique_ptr<ExplainerEngine>> Create(const EngineOptions& options);
  ~ExplainerEngine() override;

  const ModelInfo& info() const override;
  const Preprocessor& preprocessor() const override;

  // Every dotted layer path that can be a target (computed once, then cached).
  std::vector<std::string> UsableLayers() override;

  // How each prepared layer runs (optimized copy, precision, measured
  // difference from the plain fp32 module).
  std::vector<LayerExecution> PreparedLayers() override;

  // One forward, one backward (none for gradient-free methods) for all items.
  // REQUIRES: every item's input has the same shape.
  StatusOr<BatchResult> Explain(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items) override;

  // No-grad forward only: softmax top-k per input (the baseline the
  // explanation's cost is measured against).
  StatusOr<std::vector<std::vector<ClassScore>>> Classify(const std::vector<const PreparedInput*>& inputs, int top_k);

  // -- implementation details follow ---------------------------------------
  class Impl;

 private:
  explicit ExplainerEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// LibTorch's process-wide settings, made once by a program's main before
// any engine is created.
struct TorchProcessOptions {
  // Intra-op threads (per operator). 0: all cores. Debian's LibTorch
  // otherwise uses one, where small-batch convolutions fall to a much slower
  // path (docs/benchmarks.md, "What the optimizations and threads are
  // worth").
  int intra_op_threads = 0;
  // Inter-op threads. 0: all cores. Settable once per process.
  int inter_op_threads = 0;
  // CUDA: let cuDNN autotune convolutions.
  bool cudnn_benchmark = true;
};

// Sets the intra-op threads of the calling thread's next operations (the
// OpenMP team size of this thread), leaving other threads and the process
// setting alone: one batch worker can use every core while concurrent ones
// share them. Resolved at run time from whichever OpenMP runtime LibTorch
// loaded; returns false (and does nothing) without one.
bool SetIntraOpThreadsOfThisThread(int threads);

// Whether `device` ("auto", "cpu", "cuda", "cuda:N") means a CUDA device
// here: "auto" does when CUDA is available.
bool DeviceIsCuda(const std::string& device);

// Applies `options`; returns the intra-op thread count now in force. A second
// call keeps the first inter-op count (LibTorch allows one setting).
int ConfigureTorchProcess(const TorchProcessOptions& options);

}  // namespace camserve
