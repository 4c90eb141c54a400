// Plain value types exchanged with the ExplainerEngine. No LibTorch here, so
// the batcher, cache and RPC layers can use them cheaply.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cam/cam_method_kind.h"
#include "core/profiling/stage_timings.h"

namespace camserve {

// A preprocessed model input: float32, CHW, normalised, at the size the model
// is fed with. Row-major; data.size() == product of shape.
struct PreparedInput {
  std::vector<int64_t> shape;  // {C, H, W}
  std::vector<float> data;
  // The size of the image before resizing; equals shape's H, W for tensors.
  int original_width_px = 0;
  int original_height_px = 0;
};

enum class HeatmapResolution {
  kFeature,   // the target layer's spatial size
  kInput,     // the model input's size
  kOriginal,  // the original image's size (the input size for tensors)
};

// One image's part of a batch.
struct ExplainItem {
  // Not owned; must outlive the Explain call.
  const PreparedInput* input = nullptr;
  // Unset: explain the top-1 prediction.
  std::optional<int> target_class;
  // How many top classes to report (0: none; capped at the class count).
  int top_k = 5;
  HeatmapResolution resolution = HeatmapResolution::kInput;
  // Also compute ExplainResult::quality (explanation_quality.h).
  bool evaluate = false;
};

// What all items of one batch share.
struct ExplainBatchSpec {
  ExplainBatchSpec() = default;
  ExplainBatchSpec(CamMethodKind method, std::string target_layer, bool profile_stages = true)
      : method(method), target_layer(std::move(target_layer)), profile_stages(profile_stages) {}

  CamMethodKind method = CamMethodKind::kGradCam;
  // Dotted module path; empty means the model's default layer.
  std::string target_layer;
  // Time forward, backward and cam into BatchResult::timings. Off: no
  // timings and, on a GPU, no synchronisation between the stages.
  bool profile_stages = true;
  // Polled between the chunks of perturbation runs and quality forwards,
  // possibly from several threads at once; true stops the work (CANCELLED:
  // nobody waits for the answer any more). May be empty.
  std::function<bool()> should_stop;
};

struct Heatmap {
  int width_px = 0;
  int height_px = 0;
  std::vector<float> values;  // row-major, in [0, 1]
};

struct ClassScore {
  int class_index = -1;
  std::string label;
  float probability = 0.f;  // softmax of the logits
};

// Faithfulness scores of one heatmap (explanation_quality.h has the
// definitions). Probabilities are the target class's softmax probability.
struct ExplanationQuality {
  float target_probability = 0.f;
  float masked_probability = 0.f;  // for the input multiplied by the map
  float confidence_change = 0.f;   // masked - target
  float average_drop = 0.f;        // max(target - masked, 0) / (target + 1e-7)
  bool confidence_increase = false;
  float deletion_auc = 0.f;
  float insertion_auc = 0.f;
  std::vector<float> deletion_curve;   // steps + 1 points
  std::vector<float> insertion_curve;  // steps + 1 points
  int steps = 0;
};

struct ExplainResult {
  Heatmap heatmap;
  ClassScore target;
  std::vector<ClassScore> top_k;
  // Set when the item asked for it.
  std::optional<ExplanationQuality> quality;
};

struct BatchResult {
  std::vector<ExplainResult> items;  // one per ExplainItem, same order
  // Wall time of the batch's forward, backward and cam stages, shared by all
  // its items.
  StageTimings timings;
};

// How one prepared target layer runs, and why (GetModelInfo reports it).
struct LayerExecution {
  std::string layer;
  // Runs on a copy of its own (optimized, or frozen for a reduced precision)
  // rather than the plain module.
  bool optimized = false;
  std::string precision = "fp32";  // fp32, bf16, fp16
  // Measured when the layer was prepared: the largest difference of this
  // runner's maps (every method, normalised units, feature resolution) and
  // class probabilities from the plain fp32 module's on a probe batch.
  // Negative: not measured (the plain fp32 module itself, or no validation).
  double map_difference = -1;
  double probability_difference = -1;
  // Why a faster runner was refused or dropped; empty when none was.
  std::string note;
};

struct ModelInfo {
  std::string name;
  std::string path;
  std::string device;  // "cpu", "cuda:0"
  int input_height_px = 0;
  int input_width_px = 0;
  int num_classes = 0;
  std::vector<std::string> labels;  // empty: numeric labels
  std::string default_layer;
  // The precision the model runs in: the configured one, or fp32 when it was
  // refused at load.
  std::string precision = "fp32";
};

}  // namespace camserve
