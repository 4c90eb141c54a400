// ExplainPipeline without gRPC, over a fake engine and a fake clock: what is
// checked before anything is hashed, admission before decoding (queue,
// estimated wait, byte budget), preprocessing before the queue, answers
// written off the batch worker, the default deadline, cache hits and
// coalescing.
#include "core/serving/explain_pipeline.h"

#include <catch2/catch.hpp>

#include <thread>

#include "absl/synchronization/mutex.h"
#include "core/image/jpeg_encoder.h"
#include "core/image/png_encoder.h"
#include "tests/core/batching/fake_clock.h"
#include "tests/core/serving/fake_backend.h"
#include "tests/core/serving/indexed_results.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

// One request's answer, and the thread that delivered it.
struct PipelineAnswer {
  Status status;
  ExplainReply reply;
  std::thread::id thread;
};

// What `done` delivered, by request index.
class Answers : public IndexedResults<PipelineAnswer> {
 public:
  using Answer = PipelineAnswer;
  ExplainCallback Callback(int index) {
    return [this, index](const Status& status, ExplainReply reply) {
      Store(index, Answer{status, std::move(reply), std::this_thread::get_id()});
    };
  }
};

// A width x height gray PNG.
std::string GrayPng(int width, int height, uint8_t value = 128) {
  const std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * 3, value);
  StatusOr<std::string> png = EncodePng(pixels.data(), width, height, 3);
  REQUIRE(png.ok());
  return *png;
}

ExplainRequest ImageRequest(const std::string& id, std::string png) {
  ExplainRequest request;
  request.request_id = id;
  request.rpc = "Test";
  request.input_kind = ExplainRequest::InputKind::kImage;
  request.image = std::move(png);
  return request;
}

// A batcher that dispatches at once.
DynamicBatcher::Options Immediate() {
  DynamicBatcher::Options options;
  options.max_queue_delay_us = 0;
  return options;
}

struct Fixture {
  explicit Fixture(ExplainPipeline::Options options = {}, DynamicBatcher::Options batcher = Immediate(),
                   HeatmapCache* cache = nullptr) {
    auto owned = std::make_unique<FakeBackend>();
    backend = owned.get();
    ModelRunner::Options runner_options;
    runner_options.batcher = batcher;
    runner_options.version = "v1";
    clock = std::make_shared<FakeClock>();
    StatusOr<std::unique_ptr<ModelRunner>> runner = ModelRunner::Create(std::move(owned), runner_options, clock);
    REQUIRE(runner.ok());
    runner_ptr = runner->get();
    std::vector<std::pair<std::string, std::unique_ptr<ModelRunner>>> runners;
    runners.emplace_back("fake", std::move(runner).value());
    StatusOr<std::unique_ptr<ModelRegistry>> made = ModelRegistry::FromRunners(std::move(runners));
    REQUIRE(made.ok());
    registry = std::move(made).value();
    StatusOr<std::unique_ptr<ExplainPipeline>> created =
        ExplainPipeline::Create(options, registry.get(), cache, nullptr, clock);
    REQUIRE(created.ok());
    pipeline = std::move(created).value();
  }
  ~Fixture() {
    backend->Release();
    registry->Shutdown(0);
    pipeline->Shutdown();
  }
  // Occupies the batch worker until the backend is released.
  void HoldWorker(Answers* answers, int index) {
    backend->Hold();
    const size_t seen = backend->batches().size();
    ExplainRequest blocker = ImageRequest("blocker", GrayPng(4, 4));
    blocker.bypass_cache = true;
    pipeline->Submit(std::move(blocker), {}, answers->Callback(index));
    while (backend->batches().size() == seen) std::this_thread::yield();
  }

  FakeBackend* backend;
  ModelRunner* runner_ptr;
  std::shared_ptr<FakeClock> clock;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<ExplainPipeline> pipeline;
};

TEST_CASE("an image is decoded and preprocessed before the queue; the answer is written off the batch worker") {
  Fixture f;
  Answers answers;
  ExplainRequest request = ImageRequest("big", GrayPng(640, 480, 255));
  request.bypass_cache = true;
  f.pipeline->Submit(std::move(request), {}, answers.Callback(0));
  const std::vector<Answers::Answer> all = answers.WaitFor(1);
  INFO(all[0].status.ToString());
  REQUIRE(all[0].status.ok());
  const ExplainReply& reply = all[0].reply;
  CHECK(reply.request_id == "big");
  CHECK(reply.model == "fake");
  CHECK(reply.model_version == "v1");
  CHECK(reply.batch_size == 1);
  // The engine saw the model's 4x4 input, not the 640x480 photo.
  REQUIRE(f.backend->batches().size() == 1);
  CHECK(f.backend->batches()[0].input_shape == std::vector<int64_t>{3, 4, 4});
  // The fake heatmap is the first input value: white, normalised.
  CHECK(reply.answer.encoding == static_cast<int>(HeatmapEncoding::kFloat32));
  float value = 0;
  std::memcpy(&value, reply.answer.data.data(), 4);
  CHECK(value == Approx((1.f - 0.485f) / 0.229f));
  CHECK(reply.timings.Has(Stage::kDecode));
  CHECK(reply.timings.Has(Stage::kPreprocess));
  CHECK(reply.timings.Has(Stage::kEncode));
  CHECK(reply.timings.Has(Stage::kTotal));
  // Encoded and answered on a completion thread, not the batch worker.
  CHECK(all[0].thread != f.backend->batches()[0].thread);
}

TEST_CASE("strings and tensor shapes longer than the limits are refused before anything else") {
  ExplainPipeline::Options options;
  options.max_request_string_bytes = 16;
  Fixture f(options);
  Answers answers;
  ExplainRequest long_id = ImageRequest(std::string(17, 'x'), GrayPng(4, 4));
  ExplainRequest long_layer = ImageRequest("layer", GrayPng(4, 4));
  long_layer.target_layer = std::string(100, 'l');
  ExplainRequest long_shape;
  long_shape.request_id = "shape";
  long_shape.input_kind = ExplainRequest::InputKind::kTensor;
  long_shape.tensor_shape = {1, 1, 1, 3, 4, 4};
  f.pipeline->Submit(std::move(long_id), {}, answers.Callback(0));
  f.pipeline->Submit(std::move(long_layer), {}, answers.Callback(1));
  f.pipeline->Submit(std::move(long_shape), {}, answers.Callback(2));
  const std::vector<Answers::Answer> all = answers.WaitFor(3);
  CHECK(all[0].status.code() == StatusCode::kInvalidArgument);
  CHECK(all[0].status.message() == "request_id is 17 bytes; at most 16 are allowed (limits.max_request_string_bytes)");
  CHECK(all[0].reply.request_id == std::string(16, 'x'));  // cut to the limit, also in the log
  CHECK(all[1].status.message() ==
        "target_layer is 100 bytes; at most 16 are allowed (limits.max_request_string_bytes)");
  CHECK(all[2].status.message() == "tensor shape has 6 dimensions; at most 4 ([1, 3, H, W])");
  CHECK(f.backend->batches().empty());
}

TEST_CASE("image size limits are read from the header; ORIGINAL output has its own limit") {
  ExplainPipeline::Options options;
  options.decode.max_side_px = 1000;
  options.max_output_pixels = 100 * 100;
  Fixture f(options);
  Answers answers;
  ExplainRequest too_wide = ImageRequest("wide", GrayPng(1001, 10));
  ExplainRequest original = ImageRequest("original", GrayPng(200, 100));
  original.resolution = HeatmapResolution::kOriginal;
  ExplainRequest input = ImageRequest("input", GrayPng(200, 100));
  f.pipeline->Submit(std::move(too_wide), {}, answers.Callback(0));
  f.pipeline->Submit(std::move(original), {}, answers.Callback(1));
  f.pipeline->Submit(std::move(input), {}, answers.Callback(2));
  const std::vector<Answers::Answer> all = answers.WaitFor(3);
  CHECK(all[0].status.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(all[0].status.message(), Catch::Contains("1001x10") && Catch::Contains("max_side_px"));
  CHECK(all[1].status.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(all[1].status.message(),
             Catch::Contains("20000 pixels; at most 10000 are allowed (limits.max_output_pixels)"));
  CHECK(all[2].status.ok());
}

TEST_CASE("a full queue is refused at once, before decoding") {
  DynamicBatcher::Options batcher = Immediate();
  batcher.max_queue_size = 1;
  Fixture f({}, batcher);
  Answers answers;
  f.HoldWorker(&answers, 0);
  ExplainRequest queued = ImageRequest("queued", GrayPng(4, 4));
  queued.bypass_cache = true;
  f.pipeline->Submit(std::move(queued), {}, answers.Callback(1));
  while (f.runner_ptr->QueueDepth() < 1) std::this_thread::yield();
  // A JPEG whose header reads but whose data is cut off: refused before
  // decoding, so the full queue's answer wins over the decoder's.
  std::vector<uint8_t> noise(128 * 128 * 3);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  StatusOr<std::string> jpeg = EncodeJpeg(noise.data(), 128, 128, 90);
  REQUIRE(jpeg.ok());
  const std::string cut = jpeg->substr(0, jpeg->size() - 1000);
  REQUIRE(ReadImageHeader(cut).ok());
  REQUIRE_FALSE(DecodeImage(cut).ok());
  ExplainRequest refused = ImageRequest("refused", cut);
  refused.bypass_cache = true;
  f.pipeline->Submit(std::move(refused), {}, answers.Callback(2));
  const Answers::Answer answer = answers.WaitFor(1).at(2);
  CHECK(answer.status.code() == StatusCode::kUnavailable);
  CHECK(answer.status.message() == "exceeds maximum queue size (1)");
  f.backend->Release();
  const std::vector<Answers::Answer> all = answers.WaitFor(3);
  CHECK(all[0].status.ok());
  CHECK(all[1].status.ok());
}

TEST_CASE("the in-flight byte budget refuses what does not fit now, and what could never fit") {
  // A 4x4 PNG's estimate: its bytes + 48 decoded + 192 input + 128 response.
  const std::string png = GrayPng(4, 4);
  const int64_t one_request = static_cast<int64_t>(png.size()) + 48 + 192 + 128;
  ExplainPipeline::Options options;
  options.max_inflight_bytes = one_request + one_request / 2;
  Fixture f(options);
  Answers answers;
  f.HoldWorker(&answers, 0);  // holds one request's bytes until released
  ExplainRequest second = ImageRequest("second", png);
  second.bypass_cache = true;
  f.pipeline->Submit(std::move(second), {}, answers.Callback(1));
  ExplainRequest huge = ImageRequest("huge", GrayPng(400, 400));
  f.pipeline->Submit(std::move(huge), {}, answers.Callback(2));
  const std::vector<Answers::Answer> all = answers.WaitFor(2);  // the two refusals
  CHECK(all[1].status.code() == StatusCode::kUnavailable);
  CHECK_THAT(all[1].status.message(), Catch::Contains("(limits.max_inflight_bytes)") && Catch::Contains("retry"));
  CHECK(f.pipeline->budget().used_bytes() == one_request);
  CHECK(all[2].status.code() == StatusCode::kResourceExhausted);
  CHECK_THAT(all[2].status.message(), Catch::Contains("more than the whole budget"));
  f.backend->Release();
  CHECK(answers.WaitFor(3)[0].status.ok());
  // The answered reply keeps its share until the transport drops it (after
  // sending); then every reservation is back.
  CHECK(f.pipeline->budget().used_bytes() == one_request);
  answers.Clear();
  for (int i = 0; i < 10000 && f.pipeline->budget().used_bytes() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  CHECK(f.pipeline->budget().used_bytes() == 0);
}

TEST_CASE("a request whose deadline is closer than the estimated wait is refused at admission") {
  Fixture f;
  f.backend->TakeTime(f.clock.get(), 100'000);  // 100 ms per job
  Answers warm;
  ExplainRequest first = ImageRequest("first", GrayPng(4, 4));
  first.bypass_cache = true;
  f.pipeline->Submit(std::move(first), {}, warm.Callback(0));
  REQUIRE(warm.WaitFor(1)[0].status.ok());
  REQUIRE(f.runner_ptr->EstimatedWaitMicros() == 100'000);

  Answers answers;
  CallContext soon;
  soon.deadline_us = f.clock->NowMicros() + 50'000;
  CallContext later;
  later.deadline_us = f.clock->NowMicros() + 500'000;
  ExplainRequest hurried = ImageRequest("hurried", GrayPng(4, 4));
  hurried.bypass_cache = true;
  ExplainRequest patient = ImageRequest("patient", GrayPng(4, 4));
  patient.bypass_cache = true;
  f.pipeline->Submit(std::move(hurried), soon, answers.Callback(0));
  f.pipeline->Submit(std::move(patient), later, answers.Callback(1));
  const std::vector<Answers::Answer> all = answers.WaitFor(2);
  CHECK(all[0].status.code() == StatusCode::kUnavailable);
  CHECK(all[0].status.message() ==
        "overloaded: the estimated wait (100 ms) exceeds the time left before the deadline (50 ms); retry later or "
        "with a longer deadline");
  CHECK(all[1].status.ok());
}

TEST_CASE("a request without a deadline gets the default one") {
  ExplainPipeline::Options options;
  options.default_deadline_ms = 200;
  DynamicBatcher::Options batcher;
  batcher.max_queue_delay_us = 10'000'000;  // it waits in the queue for company
  Fixture f(options, batcher);
  Answers answers;
  ExplainRequest waiting = ImageRequest("waiting", GrayPng(4, 4));
  waiting.bypass_cache = true;
  f.pipeline->Submit(std::move(waiting), {}, answers.Callback(0));
  while (f.runner_ptr->QueueDepth() < 1) std::this_thread::yield();
  f.clock->Advance(199'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the worker sweeps (fake time decides)
  CHECK(f.runner_ptr->QueueDepth() == 1);
  f.clock->Advance(1'000);
  const Answers::Answer answer = answers.WaitFor(1).at(0);
  CHECK(answer.status.code() == StatusCode::kDeadlineExceeded);
  CHECK(f.backend->batches().empty());
}

TEST_CASE("a repeated request is a cache hit; identical concurrent ones share one computation") {
  TempDir dir;
  HeatmapCache::Options cache_options;
  cache_options.dir = dir.path().string();
  StatusOr<std::unique_ptr<HeatmapCache>> cache = HeatmapCache::Open(cache_options);
  REQUIRE(cache.ok());
  Fixture f({}, Immediate(), cache->get());
  Answers answers;
  f.HoldWorker(&answers, 0);
  const std::string png = GrayPng(8, 8, 200);
  f.pipeline->Submit(ImageRequest("leader", png), {}, answers.Callback(1));
  f.pipeline->Submit(ImageRequest("follower", png), {}, answers.Callback(2));
  f.backend->Release();
  std::vector<Answers::Answer> all = answers.WaitFor(3);
  REQUIRE(all[1].status.ok());
  REQUIRE(all[2].status.ok());
  CHECK(all[1].reply.coalesced != all[2].reply.coalesced);
  CHECK(all[1].reply.answer.data == all[2].reply.answer.data);
  CHECK(f.pipeline->coalesced_requests() == 1);
  f.pipeline->Submit(ImageRequest("again", png), {}, answers.Callback(3));
  all = answers.WaitFor(4);
  REQUIRE(all[3].status.ok());
  CHECK(all[3].reply.cache_hit);
  CHECK(all[3].reply.answer.data == all[1].reply.answer.data);
  CHECK(all[3].reply.timings.Has(Stage::kCacheGet));
  CHECK_FALSE(all[3].reply.timings.Has(Stage::kForward));
  // Two batches: the blocker and the one computation.
  CHECK(f.backend->batches().size() == 2);
}

TEST_CASE("a request the transport could not read is answered with its error, counted like any other") {
  Fixture f;
  Answers answers;
  ExplainRequest malformed = ImageRequest("bad-enum", GrayPng(4, 4));
  malformed.malformed = InvalidArgumentError("unknown resolution 7");
  f.pipeline->Submit(std::move(malformed), {}, answers.Callback(0));
  const Answers::Answer answer = answers.WaitFor(1).at(0);
  CHECK(answer.status.code() == StatusCode::kInvalidArgument);
  CHECK(answer.status.message() == "unknown resolution 7");
  CHECK(answer.reply.request_id == "bad-enum");
}

}  // namespace
}  // namespace camserve
