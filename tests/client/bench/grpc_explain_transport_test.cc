// Tests for GrpcExplainTransport against an in-process fake Explainer
// service on a loopback port chosen by the kernel: what the requests carry,
// how responses and errors become CallOutcomes, deadlines, and a short
// closed-loop run through the real transport.
#include "client/bench/grpc_explain_transport.h"

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/bench/latency_stats.h"
#include "client/bench/load_generator.h"
#include "client/common/grpc_channel.h"

namespace camserve {
namespace {

// Answers Explain by the request's model name: "missing" -> NOT_FOUND,
// "slow" -> OK after 200 ms, anything else -> OK at once with timings
// 1..7 ms, batch size 3 and cache_hit = bypass_cache (a flag the test sets).
class FakeExplainer final : public v1::Explainer::Service {
 public:
  grpc::Status Explain(grpc::ServerContext*, const v1::ExplainRequest* request,
                       v1::ExplainResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(*request);
    }
    if (request->model() == "missing") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no model 'missing'");
    }
    if (request->model() == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(200));
    response->set_request_id(request->request_id());
    response->set_batch_size(3);
    response->set_cache_hit(request->bypass_cache());
    v1::StageTimings* t = response->mutable_timings();
    t->set_queue_us(1000);
    t->set_preprocess_us(2000);
    t->set_forward_us(3000);
    t->set_backward_us(4000);
    t->set_cam_us(5000);
    t->set_encode_us(6000);
    t->set_total_us(7000);
    return grpc::Status::OK;
  }

  std::vector<v1::ExplainRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::ExplainRequest> requests_ ABSL_GUARDED_BY(mu_);
};

class FakeServer {
 public:
  FakeServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port_ > 0);
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const FakeExplainer& service() const { return service_; }

 private:
  FakeExplainer service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

v1::ExplainRequest Template(const std::string& model) {
  v1::ExplainRequest request;
  request.set_model(model);
  request.set_method("gradcam++");
  request.set_encoding(v1::HEATMAP_ENCODING_PNG_HEATMAP);
  request.set_bypass_cache(true);
  return request;
}

TEST_CASE("Requests carry the template, the image and a request id", "[grpc_transport]") {
  FakeServer server;
  GrpcExplainTransport transport(MakeExplainerChannel(server.address()), Template("m"), 5000);
  const CallOutcome first = SendAndWait(&transport, "image-0");
  const CallOutcome second = SendAndWait(&transport, "image-1");
  INFO(first.error_message);
  REQUIRE(first.code == StatusCode::kOk);
  REQUIRE(second.code == StatusCode::kOk);
  CHECK(first.batch_size == 3);
  CHECK(first.cache_hit);
  CHECK(first.stage_us[kQueue] == 1000);
  CHECK(first.stage_us[kForward] == 3000);
  CHECK(first.stage_us[kServerTotal] == 7000);
  CHECK(first.error_message.empty());

  const std::vector<v1::ExplainRequest> received = server.service().requests();
  REQUIRE(received.size() == 2);
  CHECK(received[0].image() == "image-0");
  CHECK(received[1].image() == "image-1");
  CHECK(received[0].model() == "m");
  CHECK(received[0].method() == "gradcam++");
  CHECK(received[0].encoding() == v1::HEATMAP_ENCODING_PNG_HEATMAP);
  CHECK(received[0].request_id() == "bench-0");
  CHECK(received[1].request_id() == "bench-1");
}

TEST_CASE("Errors keep the server's code and message", "[grpc_transport]") {
  FakeServer server;
  GrpcExplainTransport transport(MakeExplainerChannel(server.address()), Template("missing"), 5000);
  const CallOutcome outcome = SendAndWait(&transport, "image");
  CHECK(outcome.code == StatusCode::kNotFound);
  CHECK(outcome.error_message == "no model 'missing'");
  CHECK(outcome.batch_size == 0);
  CHECK(outcome.stage_us[kServerTotal] == 0);
}

TEST_CASE("A request slower than the deadline is DEADLINE_EXCEEDED", "[grpc_transport]") {
  FakeServer server;
  GrpcExplainTransport transport(MakeExplainerChannel(server.address()), Template("slow"), 50);
  CHECK(SendAndWait(&transport, "image").code == StatusCode::kDeadlineExceeded);
}

TEST_CASE("No server is UNAVAILABLE", "[grpc_transport]") {
  std::string address;
  {
    FakeServer gone;  // a port that was free a moment ago and is closed now
    address = gone.address();
  }
  GrpcExplainTransport transport(MakeExplainerChannel(address), Template("m"), 5000);
  CHECK(SendAndWait(&transport, "image").code == StatusCode::kUnavailable);
}

TEST_CASE("A closed-loop level through gRPC collects the server's numbers", "[grpc_transport]") {
  FakeServer server;
  GrpcExplainTransport transport(MakeExplainerChannel(server.address()), Template("m"), 5000);
  const std::vector<std::string> images = {"a", "b"};
  // Connect first, as camserve-bench's probe does, so that the window does
  // not depend on how fast a loaded machine sets up the connection.
  REQUIRE(SendAndWait(&transport, "probe").code == StatusCode::kOk);
  LoadGenerator::Options options;
  options.warmup_s = 0.05;
  options.duration_s = 0.3;
  StatusOr<std::unique_ptr<LoadGenerator>> generator = LoadGenerator::Create(options, &transport, &images);
  REQUIRE(generator.ok());
  const LevelReport report = SummarizeLevel({4, 0}, options.duration_s, (*generator)->RunLevel({4, 0}));
  INFO("sent " << (*generator)->requests_sent() << ", ok " << report.ok << ", errors " << report.errors
               << ", max latency " << report.max_ms << " ms");
  CHECK(report.ok > 0);
  CHECK(report.errors == 0);
  CHECK(report.mean_batch_size == 3);
  CHECK(report.cache_hit_fraction == 1);
  CHECK(report.mean_stage_ms[kCam] == Approx(5.0));
  CHECK(report.p50_ms > 0);
  CHECK(report.p50_ms <= report.p99_ms);
  CHECK(server.service().requests().size() == (*generator)->requests_sent() + 1);
}

}  // namespace
}  // namespace camserve
