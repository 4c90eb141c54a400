// Separable resampling: a 2-D resize done as one pass along each source row,
// then one pass down the columns, each output sample a weighted sum of
// consecutive input samples. AxisWeights say which samples and how much, for
// one axis; the two makers below compute them as PyTorch 1.13's CPU kernels
// do for float32 with align_corners=False, so resizes built on them match
// torch to float rounding. The display resize (bilinear_resize.h) and the
// model-input resize (model_input_resize.h) are both built on this.
//
// Thread-safety: pure functions without shared state; call them from any
// thread. No LibTorch.
// Cost: the row pass does (source rows read) * out_width * taps_x
// multiply-adds per channel, the column pass out_height * out_width * taps_y,
// where taps is at most 2 for bilinear and about 2 * scale when
// antialiasing a shrink by `scale`. Memory: one float buffer of
// (source rows read) * out_width * channels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace camserve {

// For each output index along one axis: the source samples that contribute,
// first[i] .. first[i] + count[i] - 1, with weights[i * taps + k] for
// first[i] + k (slots past count[i] are 0). Weights of one output sum to 1.
struct AxisWeights {
  int taps = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;

  int target_size() const { return static_cast<int>(first.size()); }
};

// upsample_bilinear2d(align_corners=False): the source position of output i
// is (i + 0.5) * source / target - 0.5, clamped to [0, source - 1]; its two
// neighbours are weighted by distance. No antialiasing: a shrink by more
// than 2 skips source samples. Equal sizes give the identity (one tap).
// REQUIRES: source_size >= 1, target_size >= 1.
AxisWeights BilinearAxisWeights(int source_size, int target_size);

// _upsample_bilinear2d_aa(align_corners=False), the filter of torchvision's
// Resize(antialias=True) and Pillow's BILINEAR: a triangle filter centred on
// (i + 0.5) * scale (scale = source / target), widened by `scale` when
// shrinking so that every source sample contributes, and normalised to sum 1
// over the samples inside the image. When growing (scale <= 1) this equals
// BilinearAxisWeights up to float rounding.
// REQUIRES: source_size >= 1, target_size >= 1.
AxisWeights AntialiasedBilinearAxisWeights(int source_size, int target_size);

// Resamples `source` (height rows of width pixels of kChannels interleaved
// samples, row-major) to columns.target_size() x rows.target_size(): first
// along each row with `columns`, then down the columns with `rows`, as
// PyTorch's separable kernel orders it. Calls store_row(y, row) once per
// output row y, in order, with row holding out_width * kChannels interleaved
// floats (valid during the call only).
// REQUIRES: columns made for `width`, rows for `height`.
template <int kChannels, typename Sample, typename StoreRow>
void ResampleSeparable(const Sample* source, int width, const AxisWeights& columns, const AxisWeights& rows,
                       StoreRow store_row);

// ---------------------------------------------------------------------------
// Implementation details follow.

template <int kChannels, typename Sample, typename StoreRow>
void ResampleSeparable(const Sample* source, int width, const AxisWeights& columns, const AxisWeights& rows,
                       StoreRow store_row) {
  const int out_width = columns.target_size();
  const int out_height = rows.target_size();
  const size_t source_row_size = static_cast<size_t>(width) * kChannels;
  const size_t out_row_size = static_cast<size_t>(out_width) * kChannels;

  // Row pass, only over the source rows that the column pass reads.
  int row_begin = rows.first.front();
  int row_end = row_begin;
  for (int y = 0; y < out_height; ++y) {
    row_begin = std::min(row_begin, rows.first[y]);
    row_end = std::max(row_end, rows.first[y] + rows.count[y]);
  }
  std::vector<float> across(static_cast<size_t>(row_end - row_begin) * out_row_size);
  std::vector<float> source_row(source_row_size);
  for (int y = row_begin; y < row_end; ++y) {
    const Sample* in = source + static_cast<size_t>(y) * source_row_size;
    std::copy(in, in + source_row_size, source_row.begin());
    float* out = &across[static_cast<size_t>(y - row_begin) * out_row_size];
    for (int x = 0; x < out_width; ++x) {
      const float* weights = &columns.weights[static_cast<size_t>(x) * columns.taps];
      const float* samples = &source_row[static_cast<size_t>(columns.first[x]) * kChannels];
      // One accumulator per channel: independent chains, summed in PyTorch's
      // order (first tap first).
      float sums[kChannels];
      for (int c = 0; c < kChannels; ++c) sums[c] = samples[c] * weights[0];
      for (int k = 1; k < columns.count[x]; ++k) {
        for (int c = 0; c < kChannels; ++c) sums[c] += samples[k * kChannels + c] * weights[k];
      }
      for (int c = 0; c < kChannels; ++c) out[x * kChannels + c] = sums[c];
    }
  }

  // Column pass: whole rows at a time, contiguous, so the compiler
  // vectorises the multiply-adds.
  std::vector<float> row(out_row_size);
  for (int y = 0; y < out_height; ++y) {
    const float* weights = &rows.weights[static_cast<size_t>(y) * rows.taps];
    const float* first = &across[static_cast<size_t>(rows.first[y] - row_begin) * out_row_size];
    for (size_t i = 0; i < out_row_size; ++i) row[i] = first[i] * weights[0];
    for (int k = 1; k < rows.count[y]; ++k) {
      const float* next = first + k * out_row_size;
      const float weight = weights[k];
      for (size_t i = 0; i < out_row_size; ++i) row[i] += next[i] * weight;
    }
    store_row(y, static_cast<const float*>(row.data()));
  }
}

}  // namespace camserve
