// Options of the perturbation methods (perturbation_cam.h) and of the
// quality scores (explanation_quality.h). Plain values, no LibTorch.
#pragma once

namespace camserve {

struct PerturbationOptions {
  // Perturbed activations or inputs per model call. >= 1. Default: 32.
  int batch_size = 32;
  // Most head runs per image (AblationCAM: the layer's channels;
  // Recipro-CAM: its feature positions). >= 1. Default: 4096.
  int max_head_runs_per_image = 4096;
  // Most full forwards per image (ScoreCAM: the layer's channels). >= 1.
  // Default: 1024.
  int max_scorecam_forwards = 1024;
};

struct QualityOptions {
  // Deletion and insertion steps. >= 1. Default: 16.
  int steps = 16;
  // Perturbed inputs per forward. >= 1. Default: 32.
  int batch_size = 32;
};

}  // namespace camserve
