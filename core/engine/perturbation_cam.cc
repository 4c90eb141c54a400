#include "core/engine/perturbation_cam.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/cam/cam_method.h"
#include "core/engine/cam_model.h"
#include "core/engine/explainer_engine.h"

namespace camserve {
namespace {

// pytorch-grad-cam's AblationCAM ablates 32 channels per forward (its
// batch_size), and its ablation layer lowers the running minimum of that
// chunk by this much per ablated channel when the activation's minimum is
// not 0.
constexpr int64_t kReferenceAblationChunk = 32;
constexpr float kReferenceAblationStep = 1e7f;

int64_t ChannelDim(const at::Tensor& activation, LayerLayout layout) {
  return layout == LayerLayout::kNchw ? 1 : activation.dim() - 1;
}

// The first error of the threads running chunks.
class FirstFailure {
 public:
  void Record(Status status) ABSL_LOCKS_EXCLUDED(mutex_) {
    absl::MutexLock lock(&mutex_);
    if (!failed_) status_ = std::move(status);
    failed_ = true;
  }
  bool failed() const { return failed_; }
  Status status() const ABSL_LOCKS_EXCLUDED(mutex_) {
    absl::MutexLock lock(&mutex_);
    return status_;
  }

 private:
  mutable absl::Mutex mutex_;
  Status status_ ABSL_GUARDED_BY(mutex_);
  std::atomic<bool> failed_{false};
};

// Head runs go to as many threads as the caller's intra-op threads, one
// intra-op thread each: a classifier head's matrix product runs on one core
// with a serial BLAS (Debian's OpenBLAS), so chunks side by side use them
// all. CPU only: a GPU serialises the runs anyway.
int HeadWorkers(const at::Device& device) { return device.is_cuda() ? 1 : std::max(1, at::get_num_threads()); }

// The value an ablated channel takes, per image and position in a chunk of
// 32: [N, 32].
at::Tensor AblationValues(const at::Tensor& activation) {
  const int64_t n = activation.size(0);
  const at::Tensor minimum = activation.reshape({n, -1}).amin(1).to(at::kCPU).contiguous();
  at::Tensor values = at::zeros({n, kReferenceAblationChunk}, at::kFloat);
  for (int64_t image = 0; image < n; ++image) {
    float value = minimum[image].item<float>();
    if (value == 0.f) continue;
    for (int64_t i = 0; i < kReferenceAblationChunk; ++i) {
      value -= kReferenceAblationStep;
      values[image][i] = value;
    }
  }
  return values.to(activation.device());
}

StatusOr<at::Tensor> AblationCam(const PerturbationInput& input, const PerturbationOptions& options) {
  const at::Tensor activation = input.activation.to(at::kFloat);
  const int64_t n = activation.size(0);
  const int64_t channel_dim = ChannelDim(activation, input.layout);
  const int64_t channels = activation.size(channel_dim);
  const at::Tensor values = AblationValues(activation);
  const at::Device device = activation.device();
  const at::Tensor activation_by_channel = activation.movedim(channel_dim, 1);
  // The chunk's rows, reused while the next chunk holds the same images
  // (the usual case): only the channels ablated last time are put back,
  // instead of copying (and masking) whole activations per chunk, which
  // costs more than a classifier head.
  struct WorkerRows {
    at::Tensor rows;
    at::Tensor images;
    at::Tensor ablated;  // the channel each row has ablated
  };
  const int workers = HeadWorkers(device);
  std::vector<WorkerRows> buffers(static_cast<size_t>(workers));
  const at::Tensor columns = input.targets.repeat_interleave(channels).to(device);
  auto ablated_scores = [&](int64_t begin, int64_t end, int worker) -> StatusOr<at::Tensor> {
    at::Tensor& rows_buffer = buffers[static_cast<size_t>(worker)].rows;
    at::Tensor& buffer_images = buffers[static_cast<size_t>(worker)].images;
    at::Tensor& ablated = buffers[static_cast<size_t>(worker)].ablated;
    const int64_t count = end - begin;
    const at::TensorOptions long_options = at::TensorOptions(at::kLong).device(device);
    const at::Tensor rows = at::arange(begin, end, long_options);
    const at::Tensor images = rows.div(channels, "floor");
    const at::Tensor channel = rows.remainder(channels);
    const at::Tensor local = at::arange(count, long_options);
    const bool reuse = rows_buffer.defined() && rows_buffer.size(0) == count && at::equal(buffer_images, images);
    if (!reuse) {
      rows_buffer = activation.index_select(0, images);
      buffer_images = images;
    }
    at::Tensor buffer_by_channel = rows_buffer.movedim(channel_dim, 1);  // a view
    if (reuse) buffer_by_channel.index_put_({local, ablated}, activation_by_channel.index({images, ablated}));
    std::vector<int64_t> value_shape(static_cast<size_t>(buffer_by_channel.dim() - 1), 1);
    value_shape[0] = count;
    std::vector<int64_t> slice_shape = buffer_by_channel.sizes().vec();
    slice_shape.erase(slice_shape.begin() + 1);
    const at::Tensor value =
        values.index({images, channel.remainder(kReferenceAblationChunk)}).view(value_shape).expand(slice_shape);
    buffer_by_channel.index_put_({local, channel}, value);
    ablated = channel;
    return input.run_head_scores(rows_buffer, images, columns.narrow(0, begin, count));
  };
  StatusOr<at::Tensor> scores = ScoreRowsInChunks(n * channels, options.batch_size, columns, ChunkScore::kReturned,
                                                  ablated_scores, input.should_stop, workers);
  if (!scores.ok()) return scores.status();
  const at::Tensor original = input.logits.to(at::kFloat).gather(1, input.targets.unsqueeze(1));  // [N, 1]
  const at::Tensor weights = (original - scores->view({n, channels})) / original;
  return FinishMap(ChannelWeightedSum(weights, ToNchw(activation, input.layout)));
}

StatusOr<at::Tensor> ScoreCam(const PerturbationInput& input, const PerturbationOptions& options) {
  const at::Tensor activation = ToNchw(input.activation.to(at::kFloat), input.layout);
  const int64_t n = activation.size(0);
  const int64_t channels = activation.size(1);
  const at::Tensor planes = activation.reshape({n * channels, 1, activation.size(2), activation.size(3)});
  const at::Tensor inputs = input.inputs.to(at::kFloat);
  const std::vector<int64_t> input_size = {inputs.size(2), inputs.size(3)};
  auto masked_logits = [&](int64_t begin, int64_t end, int /*worker*/) -> StatusOr<at::Tensor> {
    const at::Tensor upsampled =
        at::upsample_bilinear2d(planes.narrow(0, begin, end - begin), input_size, /*align_corners=*/true);
    const at::Tensor flat = upsampled.view({end - begin, -1});
    const at::Tensor low = flat.amin(1).view({-1, 1, 1, 1});
    const at::Tensor high = flat.amax(1).view({-1, 1, 1, 1});
    const at::Tensor mask = (upsampled - low) / (high - low + 1e-8f);
    const at::Tensor images =
        at::arange(begin, end, at::TensorOptions(at::kLong).device(inputs.device())).div(channels, "floor");
    return input.run_forward(inputs.index_select(0, images) * mask);
  };
  StatusOr<at::Tensor> scores =
      ScoreRowsInChunks(n * channels, options.batch_size, input.targets.repeat_interleave(channels), ChunkScore::kLogit,
                        masked_logits, input.should_stop);
  if (!scores.ok()) return scores.status();
  return FinishMap(ChannelWeightedSum(at::softmax(scores->view({n, channels}), 1), activation));
}

// The masks keeping one feature position each, in the activation's layout:
// position k of row r is positions[r].
at::Tensor PositionMasks(const at::Tensor& positions, int64_t height, int64_t width, LayerLayout layout) {
  const int64_t rows = positions.size(0);
  const at::Tensor one_hot = at::one_hot(positions, height * width).to(at::kFloat);
  switch (layout) {
    case LayerLayout::kNhwc: return one_hot.view({rows, height, width, 1});
    case LayerLayout::kTokens: return one_hot.view({rows, height * width, 1});
    case LayerLayout::kClassToken:
      return at::cat({at::ones({rows, 1}, one_hot.options()), one_hot}, 1).view({rows, 1 + height * width, 1});
    default: return one_hot.view({rows, 1, height, width});
  }
}

StatusOr<at::Tensor> ReciproCam(const PerturbationInput& input, const PerturbationOptions& options) {
  const at::Tensor activation = input.activation.to(at::kFloat);
  const at::Tensor grid = ToNchw(activation, input.layout);
  const int64_t n = grid.size(0);
  const int64_t height = grid.size(2);
  const int64_t width = grid.size(3);
  const int64_t positions = height * width;
  auto masked_logits = [&](int64_t begin, int64_t end, int /*worker*/) -> StatusOr<at::Tensor> {
    const at::Tensor rows = at::arange(begin, end, at::TensorOptions(at::kLong).device(activation.device()));
    const at::Tensor images = rows.div(positions, "floor");
    const at::Tensor masks = PositionMasks(rows.remainder(positions), height, width, input.layout);
    return input.run_head(activation.index_select(0, images) * masks, images);
  };
  StatusOr<at::Tensor> scores =
      ScoreRowsInChunks(n * positions, options.batch_size, input.targets.repeat_interleave(positions),
                        ChunkScore::kProbability, masked_logits, input.should_stop, HeadWorkers(activation.device()));
  if (!scores.ok()) return scores.status();
  return FinishMap(scores->view({n, height, width}));
}

}  // namespace

int64_t PerturbationRunsPerImage(CamMethodKind kind, const at::Tensor& activation, LayerLayout layout) {
  if (kind == CamMethodKind::kReciproCam) {
    const at::Tensor grid = ToNchw(activation, layout);
    return grid.size(2) * grid.size(3);
  }
  return activation.size(ChannelDim(activation, layout));
}

Status CheckPerturbationCost(CamMethodKind kind, int64_t runs_per_image, const PerturbationOptions& options) {
  const bool forwards = kind == CamMethodKind::kScoreCam;
  const int cap = forwards ? options.max_scorecam_forwards : options.max_head_runs_per_image;
  if (runs_per_image <= cap) return Status::Ok();
  return ResourceExhaustedError(
      std::string(CamMethodName(kind)) + " at this layer needs " + std::to_string(runs_per_image) +
      (forwards ? " full forwards" : " runs of the model's head") + " per image; this server allows " +
      std::to_string(cap) + (forwards ? " (engine.max_scorecam_forwards)" : " (engine.max_head_runs_per_image)") +
      ". Choose a layer with fewer channels or positions, or another method");
}

StatusOr<at::Tensor> ComputePerturbationCam(CamMethodKind kind, const PerturbationInput& input,
                                            const PerturbationOptions& options) {
  CAMSERVE_RETURN_IF_ERROR(
      CheckPerturbationCost(kind, PerturbationRunsPerImage(kind, input.activation, input.layout), options));
  at::NoGradGuard no_grad;
  switch (kind) {
    case CamMethodKind::kAblationCam: return AblationCam(input, options);
    case CamMethodKind::kScoreCam: return ScoreCam(input, options);
    case CamMethodKind::kReciproCam: return ReciproCam(input, options);
    default: return InvalidArgumentError(std::string(CamMethodName(kind)) + " is not a perturbation method");
  }
}

StatusOr<at::Tensor> ScoreRowsInChunks(int64_t rows, int batch_size, const at::Tensor& columns, ChunkScore score,
                                       const ChunkValues& values_of, const std::function<bool()>& should_stop,
                                       int workers) {
  const int64_t chunks = (rows + batch_size - 1) / batch_size;
  std::vector<at::Tensor> scores(static_cast<size_t>(chunks));
  std::atomic<int64_t> next_chunk{0};
  FirstFailure failure;
  auto fail = [&failure](Status status) { failure.Record(std::move(status)); };
  auto work = [&](int worker) {
    at::NoGradGuard no_grad;
    try {
      for (int64_t chunk = next_chunk++; chunk < chunks && !failure.failed(); chunk = next_chunk++) {
        const int64_t begin = chunk * batch_size;
        if (should_stop && should_stop()) {
          return fail(Status(StatusCode::kCancelled, "stopped after " + std::to_string(begin) + " of " +
                                                         std::to_string(rows) +
                                                         " perturbed inputs: no request of the batch waits for the "
                                                         "answer"));
        }
        const int64_t end = std::min(rows, begin + batch_size);
        StatusOr<at::Tensor> values = values_of(begin, end, worker);
        if (!values.ok()) return fail(values.status());
        const int64_t dims = score == ChunkScore::kReturned ? 1 : 2;
        if (values->dim() != dims || values->size(0) != end - begin) {
          return fail(InternalError("the model returned " + std::string(dims == 1 ? "scores" : "logits") +
                                    " of shape " + std::to_string(values->dim()) + "-d for " +
                                    std::to_string(end - begin) + " perturbed inputs"));
        }
        at::Tensor chunk_scores = values->to(at::kFloat);
        if (score == ChunkScore::kProbability) chunk_scores = at::softmax(chunk_scores, 1);
        if (score != ChunkScore::kReturned) {
          chunk_scores =
              chunk_scores.gather(1, columns.narrow(0, begin, end - begin).to(chunk_scores.device()).unsqueeze(1))
                  .squeeze(1);
        }
        scores[static_cast<size_t>(chunk)] = chunk_scores;
      }
    } catch (...) {
      fail(StatusFromModelException("perturbation run failed"));
    }
  };
  const int64_t thread_count = std::max<int64_t>(1, std::min<int64_t>(workers, chunks));
  if (thread_count == 1) {
    work(0);
  } else {
    // One intra-op thread each, the caller included, for the time of the
    // runs: as many threads busy as the caller had.
    const int caller_threads = at::get_num_threads();
    std::vector<std::thread> threads;
    for (int worker = 1; worker < thread_count; ++worker) {
      threads.emplace_back([&work, worker] {
        SetIntraOpThreadsOfThisThread(1);
        work(worker);
      });
    }
    SetIntraOpThreadsOfThisThread(1);
    work(0);
    for (std::thread& thread : threads) thread.join();
    SetIntraOpThreadsOfThisThread(caller_threads);
  }
  if (failure.failed()) return failure.status();
  return at::cat(scores);
}

}  // namespace camserve
