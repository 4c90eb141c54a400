// Perturbation CAMs: gradient-free methods that weigh a target layer's
// activation by how the model's output changes when the activation (or the
// input) is perturbed.
//
//   ablationcam  AblationCAM (Desai and Ramaswamy 2020) exactly as
//                pytorch-grad-cam 1.5.7 computes it: for each channel c, the
//                activation with channel c ablated goes through the head (the
//                part of the model after the layer); w_c = (y - y_c) / y with
//                y the target logit and y_c the ablated one. Ablated means 0
//                when the image's activation has minimum 0; otherwise
//                pytorch-grad-cam's very negative values: in each chunk of 32
//                channels, the i-th gets min - (i + 1) * 1e7 (its ablation
//                layer subtracts 1e7 from the running minimum).
//                Map = ReLU(sum_c w_c A_c), normalised.
//                Cost: C head runs per image.
//   scorecam     Score-CAM (Wang et al. 2020) exactly as pytorch-grad-cam
//                1.5.7: each channel, upsampled to the input size
//                (bilinear, align_corners) and min-max normalised (eps 1e-8),
//                multiplies the input; one full forward each; w = softmax
//                over channels of the target logits. Cost: C full forwards
//                per image.
//   reciprocam   Recipro-CAM (Byun and Lee 2022) with the paper's one-hot
//                spatial masks: for each feature position k, the activation
//                with every other position zeroed goes through the head; the
//                map at k is the target's softmax probability. Cost: h x w
//                head runs per image.
// Every map gets ReLU and per-image min-max normalisation (cam_method.h).
//
// Perturbed activations of all images of a batch run in chunks of
// PerturbationOptions::batch_size rows; memory per chunk is batch_size
// activations (or model inputs, for ScoreCAM). On CPU, head runs go to as
// many threads as the caller has intra-op threads (one each), chunks side by
// side: a head's matrix product on a serial BLAS uses one core. Transformer layouts
// (layer_layout.h): a channel is the last dimension of token and
// channels-last grids; Recipro-CAM leaves a class token unmasked.
//
// Thread-safety: pure functions; the callbacks are called on the caller's
// thread and, for head runs on CPU, on threads it starts and joins.
// Errors: RESOURCE_EXHAUSTED when the work exceeds the options' caps (before
// any of it is done); CANCELLED when should_stop says so between chunks;
// whatever the model callbacks return.
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "core/cam/cam_method_kind.h"
#include "core/engine/layer_layout.h"
#include "core/engine/perturbation_options.h"
#include "core/util/status.h"

namespace camserve {

// What the methods need of the model and the batch.
struct PerturbationInput {
  // The target layer's output for the batch, in `layout`, batch first.
  at::Tensor activation;
  LayerLayout layout = LayerLayout::kNchw;
  // The forward's logits [N, classes] and the explained classes [N] (long).
  at::Tensor logits;
  at::Tensor targets;
  // The model inputs [N, 3, H, W] (ScoreCAM).
  at::Tensor inputs;
  // Logits [K, classes] of the head for K perturbed activations (shaped as
  // `activation`); images [K] (long) says whose side values each row takes.
  std::function<StatusOr<at::Tensor>(const at::Tensor& activation, const at::Tensor& images)> run_head;
  // run_head's logit of one class per row: [K] for classes [K] (long).
  // May skip the head's final linear layer for the other classes
  // (CamModel::RunHeadScores).
  std::function<StatusOr<at::Tensor>(const at::Tensor& activation, const at::Tensor& images, const at::Tensor& classes)>
      run_head_scores;
  // Logits [K, classes] of full forwards of K model inputs.
  std::function<StatusOr<at::Tensor>(const at::Tensor& inputs)> run_forward;
  // True stops the work between chunks (CANCELLED). May be empty.
  std::function<bool()> should_stop;
};

// Model calls per image `kind` needs for an activation of this shape and
// layout: head runs (AblationCAM, Recipro-CAM) or full forwards (ScoreCAM).
int64_t PerturbationRunsPerImage(CamMethodKind kind, const at::Tensor& activation, LayerLayout layout);

// RESOURCE_EXHAUSTED, naming the option, when `runs_per_image` exceed the
// method's cap.
Status CheckPerturbationCost(CamMethodKind kind, int64_t runs_per_image, const PerturbationOptions& options);

// The [N, h, w] maps in [0, 1]. REQUIRES: CamMethodPerturbs(kind).
StatusOr<at::Tensor> ComputePerturbationCam(CamMethodKind kind, const PerturbationInput& input,
                                            const PerturbationOptions& options);

// What a chunk's callback returns for rows [begin, end) of a perturbation;
// `worker` (0 .. workers - 1) names the thread, for state kept between its
// chunks.
using ChunkValues = std::function<StatusOr<at::Tensor>(int64_t begin, int64_t end, int worker)>;
// How a row's score comes from what the callback returns.
enum class ChunkScore {
  kLogit,        // logits [K, classes]: the row's column
  kProbability,  // logits [K, classes]: the row's column of their softmax
  kReturned,     // the scores themselves, [K]
};

// Runs `rows` perturbed inputs in chunks of `batch_size` on `workers`
// threads (the caller and workers - 1 more, one intra-op thread each while
// they run); chunks go to whichever thread is free. The result is each row's
// score ([rows], float), as `score` says; the column of row r is
// columns[r]. Stops with CANCELLED when should_stop (may be empty; called
// from every worker) says so before a chunk; any exception becomes a Status.
StatusOr<at::Tensor> ScoreRowsInChunks(int64_t rows, int batch_size, const at::Tensor& columns, ChunkScore score,
                                       const ChunkValues& values_of, const std::function<bool()>& should_stop,
                                       int workers = 1);

}  // namespace camserve
