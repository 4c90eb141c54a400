// Integration tests of the real camserve binary over loopback gRPC: parity
// with the engine, batching of concurrent mixed requests, deadlines,
// cancellation, queue limits, health, reflection, streams, JSON logs and the
// SIGTERM drain.
#include <signal.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "tests/catch_with_libtorch.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include "camserve/v1/explainer.grpc.pb.h"
#include "client/common/grpc_channel.h"
#include "core/engine/precision.h"
#include "core/image/png_encoder.h"
#include "core/util/file_io.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/core/engine/engine_test_util.h"
#include "tests/http_get.h"
#include "tests/prometheus_text.h"
#include "tests/server/server_process.h"
#include "tests/server/server_test_util.h"

namespace camserve {
namespace {

using namespace testing;  // NOLINT: the shared server-test helpers

TEST_CASE("heatmaps over gRPC equal the engine's for every method and resolution", "[server]") {
  ServerProcess server;
  StartServer(server, {});
  auto stub = Connect(server);
  std::unique_ptr<ExplainerEngine> engine = MakeEngine(DigitsModel());
  const std::vector<std::string> images = DigitImages(3);
  for (CamMethodKind method : AllCamMethods()) {
    for (const std::string& path : images) {
      for (auto [wire, local] : {std::pair{v1::HEATMAP_RESOLUTION_INPUT, HeatmapResolution::kInput},
                                 std::pair{v1::HEATMAP_RESOLUTION_FEATURE, HeatmapResolution::kFeature}}) {
        const std::string bytes = ReadBytes(path);
        v1::ExplainRequest request = ImageRequest(path, bytes);
        request.set_method(CamMethodName(method));
        request.set_resolution(wire);
        request.set_top_k(3);
        v1::ExplainResponse response;
        grpc::Status status = Call(*stub, request, &response);
        INFO(CamMethodName(method) << " " << path << ": " << status.error_message());
        REQUIRE(status.ok());

        StatusOr<PreparedInput> input = engine->preprocessor().FromEncodedImage(bytes);
        REQUIRE(input.ok());
        StatusOr<BatchResult> expected =
            engine->Explain(ExplainBatchSpec{method, ""}, {ExplainItem{&*input, std::nullopt, 3, local}});
        REQUIRE(expected.ok());
        const ExplainResult& want = expected->items[0];
        CHECK(response.request_id() == path);
        CHECK(response.heatmap().width() == want.heatmap.width_px);
        CHECK(response.heatmap().height() == want.heatmap.height_px);
        CHECK(MaxAbsDiff(Floats(response.heatmap()), want.heatmap.values) <= 1e-5);
        CHECK(response.target_class() == want.target.class_index);
        CHECK(response.target_label() == want.target.label);
        CHECK(response.target_probability() == Approx(want.target.probability).margin(1e-6));
        REQUIRE(response.top_k_size() == 3);
        for (int k = 0; k < 3; ++k) CHECK(response.top_k(k).class_index() == want.top_k[k].class_index);
        CHECK(response.model() == "digits_cnn");
        CHECK(response.model_version().rfind("sha256:", 0) == 0);
        CHECK(response.batch_size() == 1);
        CHECK_FALSE(response.cache_hit());
        CHECK(response.timings().total_us() >= response.timings().forward_us());
      }
    }
  }
}

TEST_CASE("quality scores come back over gRPC, equal to the engine's, and from the cache with the heatmap",
          "[server]") {
  ServerProcess server;
  StartServer(server, {"--engine-quality-steps", "8"});
  auto stub = Connect(server);
  const std::string bytes = ReadBytes(DigitImages(1)[0]);
  v1::ExplainRequest request = ImageRequest("evaluated", bytes);
  request.set_method("reciprocam");
  request.set_evaluate(true);
  const v1::ExplainResponse computed = MustExplain(*stub, request);
  REQUIRE(computed.has_quality());
  CHECK_FALSE(computed.cache_hit());
  CHECK(computed.timings().evaluate_us() > 0);
  CHECK(computed.timings().perturb_us() > 0);
  const v1::ExplanationQuality& quality = computed.quality();
  CHECK(quality.steps() == 8);
  CHECK(quality.deletion_curve_size() == 9);
  CHECK(quality.insertion_curve_size() == 9);
  CHECK(quality.target_probability() == Approx(computed.target_probability()).margin(1e-6));

  EngineOptions options;
  options.model_path = DigitsModel();
  options.quality.steps = 8;
  std::unique_ptr<ExplainerEngine> engine = MakeEngine(options);
  StatusOr<PreparedInput> input = engine->preprocessor().FromEncodedImage(bytes);
  REQUIRE(input.ok());
  ExplainItem item{&*input, std::nullopt, 5, HeatmapResolution::kInput, /*evaluate=*/true};
  StatusOr<BatchResult> expected = engine->Explain(ExplainBatchSpec{CamMethodKind::kReciproCam, ""}, {item});
  REQUIRE(expected.ok());
  const ExplanationQuality& want = *expected->items[0].quality;
  CHECK(quality.masked_probability() == Approx(want.masked_probability).margin(1e-5));
  CHECK(quality.average_drop() == Approx(want.average_drop).margin(1e-4));
  CHECK(quality.confidence_increase() == want.confidence_increase);
  CHECK(quality.deletion_auc() == Approx(want.deletion_auc).margin(1e-4));
  CHECK(quality.insertion_auc() == Approx(want.insertion_auc).margin(1e-4));

  const v1::ExplainResponse hit = MustExplain(*stub, request);
  CHECK(hit.cache_hit());
  REQUIRE(hit.has_quality());
  CHECK(hit.quality().SerializeAsString() == quality.SerializeAsString());
  // Without evaluate: another entry, and no scores.
  request.set_evaluate(false);
  const v1::ExplainResponse plain = MustExplain(*stub, request);
  CHECK_FALSE(plain.cache_hit());
  CHECK_FALSE(plain.has_quality());
}

TEST_CASE("32 concurrent mixed requests each return what the same request returns alone", "[server]") {
  ServerProcess server;
  // A generous delay so concurrent requests really share batches.
  StartServer(server, {"--batcher-max-queue-delay-us", "50000", "--batcher-max-batch-size", "8"});
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(8);
  std::vector<v1::ExplainRequest> requests;
  for (int i = 0; i < 32; ++i) {
    v1::ExplainRequest request = ImageRequest("r" + std::to_string(i), ReadBytes(images[i % 8]));
    if (i % 4 == 1) request.set_target_class(i % 10);
    if (i % 4 == 2) request.set_resolution(v1::HEATMAP_RESOLUTION_FEATURE);
    request.set_top_k(1 + i % 5);
    // Batching is under test: every request must reach the model (no cache
    // hits, no coalescing of the repeated ones).
    request.set_bypass_cache(true);
    requests.push_back(request);
  }
  std::vector<v1::ExplainResponse> alone(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) REQUIRE(Call(*stub, requests[i], &alone[i]).ok());

  std::vector<v1::ExplainResponse> together(requests.size());
  std::vector<std::future<grpc::Status>> calls;
  for (size_t i = 0; i < requests.size(); ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] { return Call(*stub, requests[i], &together[i]); }));
  }
  int largest_batch = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    grpc::Status status = calls[i].get();
    INFO("request " << i << ": " << status.error_message());
    REQUIRE(status.ok());
    CHECK(together[i].request_id() == requests[i].request_id());
    CHECK(together[i].target_class() == alone[i].target_class());
    CHECK(together[i].heatmap().width() == alone[i].heatmap().width());
    CHECK(MaxAbsDiff(Floats(together[i].heatmap()), Floats(alone[i].heatmap())) <= 1e-5);
    REQUIRE(together[i].top_k_size() == alone[i].top_k_size());
    for (int k = 0; k < alone[i].top_k_size(); ++k) {
      CHECK(together[i].top_k(k).class_index() == alone[i].top_k(k).class_index());
    }
    largest_batch = std::max(largest_batch, together[i].batch_size());
  }
  CHECK(largest_batch > 1);
  CHECK(largest_batch <= 8);
}

// Polls the metrics endpoint until `model`'s batcher queue holds `depth`
// requests. The "queueing" debug line is written just before a request
// enters the queue, so it alone does not prove the request is in it.
bool WaitForQueueDepth(const ServerProcess& server, const std::string& model, int depth, int timeout_ms = 30000) {
  const std::string series = "camserve_queue_depth{model=\"" + model + "\"}";
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < give_up) {
    StatusOr<testing::HttpResponse> scrape = testing::HttpGet(server.metrics_port(), "/metrics");
    if (scrape.ok() && testing::SampleValue(scrape->body, series) == static_cast<double>(depth)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST_CASE("deadline, cancellation and a full queue behave as specified over the wire", "[server]") {
  ServerProcess server;
  // Requests wait 3 s for company, so they are still queued when the deadline
  // passes or the client cancels.
  StartServer(server, {"--batcher-max-queue-delay-us", "3000000", "--batcher-max-batch-size", "64",
                       "--batcher-max-queue-size", "2", "--logging-level", "debug"});
  auto stub = Connect(server);
  const std::string image = ReadBytes(DigitImages(1)[0]);

  SECTION("a request whose deadline passes while queued is DEADLINE_EXCEEDED and never computed") {
    v1::ExplainResponse response;
    grpc::Status status = Call(*stub, ImageRequest("late", image), &response, 300);
    CHECK(status.error_code() == grpc::DEADLINE_EXCEEDED);
    const std::string line = AccessLine(server, "late");
    // The server's deadline is the client's plus the request's transit time,
    // so on a loaded machine the client's cancellation (sent when its own
    // deadline passes) can reach the server first: then the server logs
    // CANCELLED. Either way the request was never computed.
    const bool expired = line.find("status=DEADLINE_EXCEEDED") != std::string::npos;
    const bool cancelled = line.find("status=CANCELLED") != std::string::npos;
    CHECK((expired || cancelled));
    CHECK(line.find("batch_size=0") != std::string::npos);
  }
  SECTION("a request the client cancels while queued is CANCELLED and never computed") {
    grpc::ClientContext context;
    v1::ExplainResponse response;
    auto call = std::async(std::launch::async,
                           [&] { return stub->Explain(&context, ImageRequest("gave-up", image), &response); });
    REQUIRE(server
                .WaitForLogLine(
                    [](const std::string& l) { return l.find("queueing request_id=\"gave-up\"") != std::string::npos; },
                    30000)
                .ok());
    context.TryCancel();
    CHECK(call.get().error_code() == grpc::CANCELLED);
    const std::string line = AccessLine(server, "gave-up");
    CHECK(line.find("status=CANCELLED") != std::string::npos);
    CHECK(line.find("batch_size=0") != std::string::npos);
  }
  SECTION("a full queue answers UNAVAILABLE at once; the queued requests still complete") {
    std::vector<v1::ExplainResponse> responses(2);
    std::vector<std::future<grpc::Status>> queued;
    for (int i = 0; i < 2; ++i) {
      const std::string id = "queued" + std::to_string(i);
      queued.push_back(std::async(std::launch::async, [&, i, id] {
        v1::ExplainRequest request = ImageRequest(id, image);
        request.set_bypass_cache(true);  // identical requests would otherwise share one computation
        return Call(*stub, request, &responses[i]);
      }));
      REQUIRE(server
                  .WaitForLogLine(
                      [&](const std::string& l) {
                        return l.find("queueing request_id=\"" + id + "\"") != std::string::npos;
                      },
                      30000)
                  .ok());
      REQUIRE(WaitForQueueDepth(server, "digits_cnn", i + 1));
    }
    v1::ExplainResponse rejected;
    v1::ExplainRequest third = ImageRequest("third", image);
    third.set_bypass_cache(true);
    grpc::Status status = Call(*stub, third, &rejected);
    CHECK(status.error_code() == grpc::UNAVAILABLE);
    CHECK_THAT(status.error_message(), Catch::Contains("exceeds maximum queue size (2)"));
    for (int i = 0; i < 2; ++i) {
      CHECK(queued[i].get().ok());
      CHECK(responses[i].batch_size() == 2);
    }
  }
}

TEST_CASE("bad requests get clear statuses and the server keeps serving", "[server]") {
  ServerProcess server;
  StartServer(server, {"--limits-max-receive-message-bytes", "100000"});
  auto stub = Connect(server);
  const std::string image = ReadBytes(DigitImages(1)[0]);
  struct Case {
    std::string name;
    v1::ExplainRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({"garbage image", ImageRequest("g", "not an image"), grpc::INVALID_ARGUMENT, "not a JPEG or PNG"});
  cases.push_back({"no input", v1::ExplainRequest(), grpc::INVALID_ARGUMENT, "has no input"});
  v1::ExplainRequest method = ImageRequest("m", image);
  method.set_method("smoothgrad");
  cases.push_back({"unknown method", method, grpc::INVALID_ARGUMENT, "smoothgrad"});
  v1::ExplainRequest layer = ImageRequest("l", image);
  layer.set_target_layer("block9");
  cases.push_back({"unknown layer", layer, grpc::INVALID_ARGUMENT, "usable layers: block1"});
  v1::ExplainRequest target = ImageRequest("c", image);
  target.set_target_class(10);
  cases.push_back({"class out of range", target, grpc::INVALID_ARGUMENT, "out of range"});
  v1::ExplainRequest model = ImageRequest("n", image);
  model.set_model("resnet1000");
  cases.push_back({"unknown model", model, grpc::NOT_FOUND, "served models: digits_cnn"});
  v1::ExplainRequest priority = ImageRequest("p", image);
  priority.set_priority(7);
  cases.push_back({"priority out of range", priority, grpc::INVALID_ARGUMENT, "priority must be in [0, 1]"});
  v1::ExplainRequest tensor;
  tensor.mutable_tensor()->add_shape(3);
  tensor.mutable_tensor()->add_shape(32);
  tensor.mutable_tensor()->add_shape(32);
  tensor.mutable_tensor()->set_data(std::string(100, '\0'));
  cases.push_back({"tensor bytes do not match the shape", tensor, grpc::INVALID_ARGUMENT, "3072"});
  v1::ExplainRequest overlay = tensor;
  overlay.mutable_tensor()->set_data(std::string(3 * 32 * 32 * 4, '\0'));
  overlay.set_encoding(v1::HEATMAP_ENCODING_PNG_OVERLAY);
  cases.push_back({"overlay without an image", overlay, grpc::INVALID_ARGUMENT, "PNG_OVERLAY needs an image"});
  cases.push_back(
      {"message over the receive limit", ImageRequest("big", std::string(200000, 'x')), grpc::RESOURCE_EXHAUSTED, ""});
  for (const Case& c : cases) {
    v1::ExplainResponse response;
    grpc::Status status = Call(*stub, c.request, &response);
    INFO(c.name << ": " << status.error_code() << " " << status.error_message());
    CHECK(status.error_code() == c.code);
    CHECK_THAT(status.error_message(), Catch::Contains(c.message));
  }
  v1::ExplainResponse response;
  CHECK(Call(*stub, ImageRequest("after", image), &response).ok());
  CHECK(response.heatmap().width() == 32);

  SECTION("a raw tensor is explained like the image it came from") {
    std::unique_ptr<ExplainerEngine> engine = MakeEngine(DigitsModel());
    StatusOr<PreparedInput> input = engine->preprocessor().FromEncodedImage(image);
    REQUIRE(input.ok());
    v1::ExplainRequest raw;
    for (int64_t side : input->shape) raw.mutable_tensor()->add_shape(side);
    raw.mutable_tensor()->set_data(
        std::string(reinterpret_cast<const char*>(input->data.data()), input->data.size() * sizeof(float)));
    v1::ExplainResponse from_tensor;
    REQUIRE(Call(*stub, raw, &from_tensor).ok());
    CHECK(MaxAbsDiff(Floats(from_tensor.heatmap()), Floats(response.heatmap())) <= 1e-6);
  }
  SECTION("encodings: UINT8 rounds the floats, PNGs are PNGs") {
    v1::ExplainRequest as_uint8 = ImageRequest("u8", image);
    as_uint8.set_encoding(v1::HEATMAP_ENCODING_UINT8);
    v1::ExplainResponse quantised;
    REQUIRE(Call(*stub, as_uint8, &quantised).ok());
    const std::vector<float> floats = Floats(response.heatmap());
    REQUIRE(quantised.heatmap().data().size() == floats.size());
    for (size_t i = 0; i < floats.size(); ++i) {
      CHECK(static_cast<uint8_t>(quantised.heatmap().data()[i]) == std::lround(255 * floats[i]));
    }
    for (auto encoding : {v1::HEATMAP_ENCODING_PNG_HEATMAP, v1::HEATMAP_ENCODING_PNG_OVERLAY}) {
      v1::ExplainRequest as_png = ImageRequest("png", image);
      as_png.set_encoding(encoding);
      as_png.set_resolution(v1::HEATMAP_RESOLUTION_ORIGINAL);
      v1::ExplainResponse png;
      REQUIRE(Call(*stub, as_png, &png).ok());
      StatusOr<DecodedImage> decoded = DecodeImage(png.heatmap().data());
      REQUIRE(decoded.ok());
      CHECK(decoded->width == png.heatmap().width());
      CHECK(decoded->height == png.heatmap().height());
    }
  }
}

// A [3, 16, 16] tensor request for the raising fixture model; `value` fills
// it (above 50 makes the model raise).
v1::ExplainRequest RaisingModelRequest(const std::string& id, float value) {
  v1::ExplainRequest request;
  request.set_request_id(id);
  request.set_bypass_cache(true);
  request.set_top_k(2);
  v1::Tensor* tensor = request.mutable_tensor();
  for (int64_t side : {3, 16, 16}) tensor->add_shape(side);
  std::vector<float> values(3 * 16 * 16);
  for (size_t i = 0; i < values.size(); ++i) values[i] = value + 0.001f * static_cast<float>(i % 97);
  tensor->set_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return request;
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(const ServerProcess& server) {
  auto health = grpc::health::v1::Health::NewStub(MakeExplainerChannel(server.address()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("camserve.v1.Explainer");
  grpc::health::v1::HealthCheckResponse response;
  REQUIRE(health->Check(&context, request, &response).ok());
  return response.status();
}

TEST_CASE("a model that raises on one request fails that request alone; its batchmates and the server go on",
          "[server]") {
  const std::string model = std::string(std::getenv("CAMSERVE_TEST_DATA_DIR")) + "/engine/raising_cnn.pt";
  ServerProcess server;
  Status started = server.Start(
      {{"--model", model, "--batcher-max-queue-delay-us", "300000", "--batcher-max-batch-size", "8"}, {}, 120000});
  INFO(started.ToString());
  REQUIRE(started.ok());
  auto stub = Connect(server);
  std::vector<v1::ExplainRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back(RaisingModelRequest("r" + std::to_string(i), i == 3 ? 99.f : i));
  // Each good request alone, for comparison.
  std::vector<v1::ExplainResponse> alone(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    if (i != 3) REQUIRE(Call(*stub, requests[i], &alone[i]).ok());
  }
  // Together: they share a batch (300 ms queue delay), which raises, is
  // split and retried.
  std::vector<v1::ExplainResponse> together(requests.size());
  std::vector<std::future<grpc::Status>> calls;
  for (size_t i = 0; i < requests.size(); ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] { return Call(*stub, requests[i], &together[i]); }));
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const grpc::Status status = calls[i].get();
    INFO("request " << i << ": " << status.error_message());
    if (i == 3) {
      CHECK(status.error_code() == grpc::INTERNAL);
      CHECK_THAT(status.error_message(), Catch::Contains("input values above 50 are out of range"));
      continue;
    }
    REQUIRE(status.ok());
    CHECK(together[i].target_class() == alone[i].target_class());
    CHECK(MaxAbsDiff(Floats(together[i].heatmap()), Floats(alone[i].heatmap())) <= 1e-5);
    CHECK(together[i].top_k(0).class_index() == alone[i].top_k(0).class_index());
    // The six shared a batch, which failed and was split: each good request
    // was answered by a smaller run.
    CHECK(together[i].batch_size() >= 1);
    CHECK(together[i].batch_size() < 6);
  }
  // The engine ran the six together once (then the halves).
  StatusOr<testing::HttpResponse> scrape = testing::HttpGet(server.metrics_port(), "/metrics");
  REQUIRE(scrape.ok());
  const auto bucket = [&](const char* le) {
    return testing::SampleValue(scrape->body,
                                std::string("camserve_batch_size_bucket{model=\"raising_cnn\",le=\"") + le + "\"}")
        .value_or(-1);
  };
  CHECK(bucket("6") - bucket("5") == 1);
  // The poisoned request failed alone and was never answered by a batch.
  const std::string poisoned = AccessLine(server, "r3");
  CHECK(poisoned.find("status=INTERNAL") != std::string::npos);
  CHECK(poisoned.find("batch_size=0") != std::string::npos);
  // The server goes on serving.
  CHECK(Health(server) == grpc::health::v1::HealthCheckResponse::SERVING);
  v1::ExplainResponse after;
  CHECK(Call(*stub, RaisingModelRequest("after", 1.f), &after).ok());
  const StatusOr<int> stopped = server.Stop(SIGTERM);
  REQUIRE(stopped.ok());
  CHECK(*stopped == 0);
}

TEST_CASE(
    "out of memory in the model is RESOURCE_EXHAUSTED; a fault that loses the device turns health NOT_SERVING, "
    "readiness 503, and later requests UNAVAILABLE",
    "[server]") {
  // On inputs above 50 the fixture fails with a c10::Error that says "CUDA
  // error", as a lost CUDA context does; below -50 it allocates 16 TiB
  // (tests/fixtures/make_engine_fixtures.py). Both inside its TorchScript
  // forward, so the interpreter rethrows them as std::runtime_error.
  const std::string model = std::string(std::getenv("CAMSERVE_TEST_DATA_DIR")) + "/engine/device_fault_cnn.pt";
  ServerProcess server;
  Status started = server.Start({{"--model", model, "--http-listen", "127.0.0.1:0"}, {}, 120000});
  INFO(started.ToString());
  REQUIRE(started.ok());
  auto stub = Connect(server);
  v1::ExplainResponse response;
  REQUIRE(Call(*stub, RaisingModelRequest("before", 1.f), &response).ok());
  CHECK(Health(server) == grpc::health::v1::HealthCheckResponse::SERVING);
  StatusOr<testing::HttpResponse> ready = testing::HttpGet(server.http_port(), "/v2/health/ready");
  REQUIRE(ready.ok());
  CHECK(ready->status == 200);

  // Out of memory inside the model's forward: RESOURCE_EXHAUSTED; the server
  // goes on.
  const grpc::Status no_memory = Call(*stub, RaisingModelRequest("oom", -99.f), &response);
  INFO(no_memory.error_message());
  CHECK(no_memory.error_code() == grpc::RESOURCE_EXHAUSTED);
  CHECK_THAT(no_memory.error_message(), Catch::Contains("out of memory"));
  CHECK(Health(server) == grpc::health::v1::HealthCheckResponse::SERVING);

  const grpc::Status fault = Call(*stub, RaisingModelRequest("fault", 99.f), &response);
  INFO(fault.error_message());
  CHECK(fault.error_code() == grpc::UNAVAILABLE);
  CHECK_THAT(fault.error_message(), Catch::Contains("the device failed"));
  CHECK(
      server.WaitForLogLine([](const std::string& line) { return line.find("the device is lost") != line.npos; }, 5000)
          .ok());
  CHECK(Health(server) == grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  ready = testing::HttpGet(server.http_port(), "/v2/health/ready");
  REQUIRE(ready.ok());
  CHECK(ready->status == 503);
  CHECK(ready->body == R"({"ready":false})");
  // A good request is refused now: the model no longer serves.
  const grpc::Status after = Call(*stub, RaisingModelRequest("after", 1.f), &response);
  INFO(after.error_message());
  CHECK(after.error_code() == grpc::UNAVAILABLE);
}

TEST_CASE("health says SERVING and reflection lists the service", "[server]") {
  ServerProcess server;
  StartServer(server, {});
  std::shared_ptr<grpc::Channel> channel = MakeExplainerChannel(server.address());
  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const std::string service : {"", "camserve.v1.Explainer"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    REQUIRE(health->Check(&context, request, &response).ok());
    CHECK(response.status() == grpc::health::v1::HealthCheckResponse::SERVING);
  }
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  REQUIRE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  REQUIRE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) services.push_back(service.name());
  CHECK_THAT(services, Catch::VectorContains(std::string("camserve.v1.Explainer")));
  CHECK_THAT(services, Catch::VectorContains(std::string("grpc.health.v1.Health")));
  CHECK(stream->Finish().ok());

  v1::GetModelInfoResponse info;
  grpc::ClientContext info_context;
  REQUIRE(Connect(server)->GetModelInfo(&info_context, v1::GetModelInfoRequest(), &info).ok());
  REQUIRE(info.models_size() == 1);
  CHECK(info.models(0).name() == "digits_cnn");
  CHECK(info.models(0).is_default());
  CHECK(info.models(0).default_layer() == "block3");
  CHECK(info.models(0).num_classes() == 10);
  CHECK(info.models(0).methods_size() == 9);
  CHECK_THAT(std::vector<std::string>(info.models(0).methods().begin(), info.models(0).methods().end()),
             Catch::VectorContains(std::string("reciprocam")));
  CHECK_THAT(std::vector<std::string>(info.models(0).target_layers().begin(), info.models(0).target_layers().end()),
             Catch::VectorContains(std::string("block2")));
  CHECK(info.models(0).precision() == "fp32");
  // The default layer is prepared at load, its optimized copy validated.
  REQUIRE(info.models(0).prepared_layers_size() == 1);
  const v1::PreparedLayer& prepared = info.models(0).prepared_layers(0);
  CHECK(prepared.layer() == "block3");
  CHECK(prepared.precision() == "fp32");
  if (prepared.optimized()) {
    CHECK(prepared.map_difference() >= 0);
    CHECK(prepared.map_difference() <= 1e-4);
  } else {
    CHECK_THAT(prepared.note(), Catch::Contains("refused"));
  }
}

TEST_CASE("--precision bf16 serves bf16 where the CPU has it, under another model version", "[server]") {
  if (!CpuHasNativeBf16()) {
    ServerProcess refused;
    const Status started = refused.Start({{"--model", DigitsModel(), "--precision", "bf16"}, {}, 120000});
    CHECK_FALSE(started.ok());
    CHECK_THAT(started.message(), Catch::Contains("AVX512-BF16 or AMX-BF16"));
    return;
  }
  ServerProcess fp32_server;
  StartServer(fp32_server, {});
  ServerProcess bf16_server;
  StartServer(bf16_server, {"--precision", "bf16"});
  auto info_of = [](const ServerProcess& server) {
    v1::GetModelInfoResponse info;
    grpc::ClientContext context;
    REQUIRE(Connect(server)->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
    REQUIRE(info.models_size() == 1);
    return info.models(0);
  };
  const v1::ModelInfo fp32 = info_of(fp32_server);
  const v1::ModelInfo bf16 = info_of(bf16_server);
  CHECK(bf16.precision() == "bf16");
  REQUIRE(bf16.prepared_layers_size() == 1);
  CHECK(bf16.prepared_layers(0).precision() == "bf16");
  CHECK(bf16.prepared_layers(0).map_difference() <= 2e-2);
  // Cached answers are keyed by version: an fp32 cache never answers bf16.
  CHECK(bf16.version() != fp32.version());
}

TEST_CASE("ExplainStream answers every request by id, failures included", "[server]") {
  ServerProcess server;
  StartServer(server, {"--logging-format", "json"});
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(6);
  grpc::ClientContext context;
  auto stream = stub->ExplainStream(&context);
  std::map<std::string, v1::ExplainRequest> sent;
  for (int i = 0; i < 6; ++i) {
    v1::ExplainRequest request = ImageRequest("s" + std::to_string(i), ReadBytes(images[i]));
    if (i == 3) request.set_image("broken");
    sent[request.request_id()] = request;
    REQUIRE(stream->Write(request));
  }
  stream->WritesDone();
  std::map<std::string, v1::ExplainResponse> received;
  for (v1::ExplainResponse response; stream->Read(&response);) received[response.request_id()] = response;
  REQUIRE(stream->Finish().ok());
  REQUIRE(received.size() == 6);
  for (const auto& [id, request] : sent) {
    const v1::ExplainResponse& response = received.at(id);
    if (id == "s3") {
      CHECK(response.error().code() == grpc::INVALID_ARGUMENT);
      CHECK_THAT(response.error().message(), Catch::Contains("not a JPEG or PNG"));
      continue;
    }
    CHECK(response.error().code() == 0);
    v1::ExplainResponse alone;
    REQUIRE(Call(*stub, request, &alone).ok());
    CHECK(MaxAbsDiff(Floats(response.heatmap()), Floats(alone.heatmap())) <= 1e-5);
  }
  // JSON logs: every line is one object; access lines carry fields.
  StatusOr<std::string> access = server.WaitForLogLine(
      [](const std::string& l) { return l.find("\"request_id\":\"s3\"") != std::string::npos; }, 30000);
  REQUIRE(access.ok());
  CHECK(access->front() == '{');
  CHECK(access->back() == '}');
  CHECK_THAT(*access, Catch::Contains("\"rpc\":\"ExplainStream\"") &&
                          Catch::Contains("\"status\":\"INVALID_ARGUMENT\"") &&
                          Catch::Contains("\"logger\":\"access\""));
  for (const std::string& line : server.LogLines()) {
    INFO(line);
    CHECK(line.rfind("{\"time\":", 0) == 0);
  }
}

TEST_CASE("ExplainStream stops reading while max_stream_inflight answers wait for a client that does not read",
          "[server]") {
  ServerProcess server;
  StartServer(server, {"--limits-max-stream-inflight", "4"});
  // Each answer is a 256x256 FLOAT32 heatmap (256 KiB), more than HTTP/2's
  // stream window, so unread answers pile up on the server, not in transit.
  std::vector<uint8_t> pixels(256 * 256 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 11);
  StatusOr<std::string> png = EncodePng(pixels.data(), 256, 256, 3);
  REQUIRE(png.ok());
  constexpr int kRequests = 60;
  auto stub = Connect(server);
  grpc::ClientContext context;
  auto stream = stub->ExplainStream(&context);
  std::thread writer([&] {
    for (int i = 0; i < kRequests; ++i) {
      v1::ExplainRequest request = ImageRequest("flow" + std::to_string(i), *png);
      request.set_resolution(v1::HEATMAP_RESOLUTION_ORIGINAL);
      request.set_bypass_cache(true);
      if (!stream->Write(request)) return;
    }
    stream->WritesDone();
  });
  const auto answered = [&server] {
    int count = 0;
    for (const std::string& line : server.LogLines()) {
      count += line.find(" access ") != std::string::npos && line.find("request_id=\"flow") != std::string::npos;
    }
    return count;
  };
  // Unread: the server answers what it has read until the answers fill the
  // transport's buffers (kernel socket buffers and gRPC's, about 15 of these
  // answers on loopback) and its own 4, then stops reading: the count stops
  // growing, far below what the client sent.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int answered_early = answered();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int answered_later = answered();
  INFO("answered while the client did not read: " << answered_early << ", then " << answered_later);
  CHECK(answered_early >= 4);
  CHECK(answered_later == answered_early);
  CHECK(answered_later <= kRequests / 2);
  // Reading resumes the stream: every request is answered.
  int received = 0;
  for (v1::ExplainResponse response; stream->Read(&response);) {
    CHECK(response.error().code() == 0);
    CHECK(response.heatmap().width() == 256);
    ++received;
  }
  writer.join();
  CHECK(stream->Finish().ok());
  CHECK(received == kRequests);
  // The server logs each access line before the answer goes out, but the
  // lines reach this process through a pipe and ServerProcess's reader
  // thread, which can lag behind the answers (it did under ASan: 59 of 60).
  for (int i = 0; i < kRequests; ++i) {
    const std::string id = "request_id=\"flow" + std::to_string(i) + "\"";
    const auto is_access_line = [&id](const std::string& line) {
      return line.find(" access ") != std::string::npos && line.find(id) != std::string::npos;
    };
    CHECK(server.WaitForLogLine(is_access_line, 30000).ok());
  }
}

TEST_CASE("SIGTERM during load finishes in-flight requests and exits 0", "[server]") {
  ServerProcess server;
  // Requests wait up to 1 s for company, in batches of at most 4, so most of
  // them are still queued when the signal arrives.
  StartServer(server,
              {"--batcher-max-queue-delay-us", "1000000", "--batcher-max-batch-size", "4", "--logging-level", "debug"});
  auto stub = Connect(server);
  const std::vector<std::string> images = DigitImages(8);
  std::vector<v1::ExplainResponse> responses(8);
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return Call(*stub, ImageRequest("drain" + std::to_string(i), ReadBytes(images[i])), &responses[i]);
    }));
  }
  for (int i = 0; i < 8; ++i) {
    const std::string needle = "queueing request_id=\"drain" + std::to_string(i) + "\"";
    REQUIRE(
        server.WaitForLogLine([&](const std::string& l) { return l.find(needle) != std::string::npos; }, 30000).ok());
  }
  StatusOr<int> exit_code = server.Stop(SIGTERM, 60000);
  REQUIRE(exit_code.ok());
  CHECK(*exit_code == 0);
  for (int i = 0; i < 8; ++i) {
    grpc::Status status = calls[i].get();
    INFO("request " << i << ": " << status.error_message());
    CHECK(status.ok());
    CHECK(responses[i].heatmap().width() == 32);
  }
  CHECK(
      server.WaitForLogLine([](const std::string& l) { return l.find("drained in") != std::string::npos; }, 1000).ok());
}

TEST_CASE("camserve-bench drives the real server and reports what it measured", "[server]") {
  ServerProcess server;
  StartServer(server, {});
  const std::string prefix = "/tmp/camserve_bench_e2e_" + std::to_string(getpid());
  const char* bench = std::getenv("CAMSERVE_BENCH_BINARY");
  REQUIRE(bench != nullptr);
  const std::string command =
      std::string(bench) + " --addr " + server.address() + " --image " + DigitImages(1)[0] +
      " --mode repeated --bypass-cache true --concurrency 1,2 --duration-s 1 --warmup-s 0 --json " + prefix +
      ".json --plot " + prefix + ".png > " + prefix + ".out 2>&1";
  // --mode repeated: the 32x32 digits are too small for unique copies.
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
  const YAML::Node levels = YAML::LoadFile(prefix + ".json");
  REQUIRE(levels.size() == 2);
  int64_t ok_total = 0;
  for (const YAML::Node& level : levels) {
    const int64_t ok = level["ok"].as<int64_t>();
    ok_total += ok;
    CHECK(ok > 0);
    CHECK(level["errors"].as<int64_t>() == 0);
    CHECK(level["throughput_rps"].as<double>() > 0);
    CHECK(level["p50_ms"].as<double>() <= level["p90_ms"].as<double>());
    CHECK(level["p90_ms"].as<double>() <= level["p99_ms"].as<double>());
    CHECK(level["p99_ms"].as<double>() <= level["max_ms"].as<double>());
    CHECK(level["mean_batch_size"].as<double>() >= 1.0);
    CHECK(level["cache_hit_fraction"].as<double>() == 0.0);
    CHECK(level["server_forward_ms"].as<double>() > 0);
  }
  // Every measured request reached the server and was logged as OK.
  int64_t logged_ok = 0;
  for (const std::string& line : server.LogLines()) {
    if (line.find(" access ") != std::string::npos && line.find("status=OK") != std::string::npos) ++logged_ok;
  }
  CHECK(logged_ok >= ok_total);
  StatusOr<std::string> png = ReadFileBytes(prefix + ".png");
  REQUIRE(png.ok());
  CHECK(DecodeImage(*png).ok());
  for (const char* suffix : {".json", ".png", ".out"}) std::remove((prefix + suffix).c_str());
}

}  // namespace
}  // namespace camserve
