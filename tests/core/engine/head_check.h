// CheckHeadReproducesForward: the head of a layer (CamModel::RunHead), run
// alone on the layer's activation and the side values the split kept, gives
// the model's logits; on a batch of another size too. RunHeadScores gives
// the same logits, one class per row, on either of its paths.
#pragma once

#include "tests/catch_with_libtorch.h"

#include <string>
#include <vector>

#include "core/engine/cam_model.h"

namespace camserve::testing {

// REQUIRES: `model` runs forward on the plain module (optimize off), as the
// head does, so that the logits can be compared tightly.
inline void CheckHeadReproducesForward(CamModel& model, const std::string& layer, const at::Tensor& batch) {
  INFO(layer);
  StatusOr<CamModel::HeadInput> split = model.SplitAt(batch, layer);
  INFO(split.status().ToString());
  REQUIRE(split.ok());
  StatusOr<at::Tensor> forward = model.Forward(batch);
  REQUIRE(forward.ok());
  CHECK((split->logits - *forward).abs().max().item<double>() < 1e-5);
  StatusOr<at::Tensor> head = model.RunHead(layer, split->activation, split->side_values);
  INFO(head.status().ToString());
  REQUIRE(head.ok());
  CHECK((*head - split->logits).abs().max().item<double>() < 1e-5);
  // Mixed classes: the last, the first, the middle one...
  const int64_t rows = head->size(0);
  const int64_t classes = head->size(1);
  const at::Tensor columns = (at::arange(rows, at::kLong) * (classes / 2 + 1) + classes - 1).remainder(classes);
  StatusOr<at::Tensor> scores = model.RunHeadScores(layer, split->activation, split->side_values, columns);
  INFO(scores.status().ToString());
  REQUIRE(scores.ok());
  REQUIRE(scores->sizes() == at::IntArrayRef({rows}));
  CHECK((*scores - head->gather(1, columns.to(head->device()).unsqueeze(1)).squeeze(1)).abs().max().item<double>() <
        1e-5);
  // Three copies of the first image's activation: three times its logits.
  std::vector<at::Tensor> side;
  for (const at::Tensor& value : split->side_values) side.push_back(value.narrow(0, 0, 1).repeat_interleave(3, 0));
  StatusOr<at::Tensor> repeated = model.RunHead(layer, split->activation.narrow(0, 0, 1).repeat_interleave(3, 0), side);
  REQUIRE(repeated.ok());
  REQUIRE(repeated->size(0) == 3);
  for (int64_t i = 0; i < 3; ++i) {
    CHECK((repeated->narrow(0, i, 1) - split->logits.narrow(0, 0, 1)).abs().max().item<double>() < 1e-5);
  }
}

}  // namespace camserve::testing
