// Helpers shared by the tests that start the real camserve binary: the
// digits model and images, starting a server, calls, cache statistics,
// access-log lines.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "camserve/v1/explainer.grpc.pb.h"
#include "client/common/grpc_channel.h"
#include "tests/server/server_process.h"
#include "tests/test_env.h"

namespace camserve::testing {

inline std::string DigitsModel() { return ModelDir() + "/digits_cnn.pt"; }

// The first `count` held-out digit PNGs, sorted by name.
inline std::vector<std::string> DigitImages(size_t count) {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(ModelDir() + "/digits_holdout")) {
    if (entry.path().extension() == ".png") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  REQUIRE(paths.size() >= count);
  paths.resize(count);
  return paths;
}

inline void StartServer(ServerProcess& server, std::vector<std::string> extra_args) {
  std::vector<std::string> args = {"--model", DigitsModel()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  Status started = server.Start({args, {}, 120000});
  INFO(started.ToString());
  REQUIRE(started.ok());
}

inline std::unique_ptr<v1::Explainer::Stub> Connect(const ServerProcess& server) {
  return v1::Explainer::NewStub(MakeExplainerChannel(server.address()));
}

inline std::vector<float> Floats(const v1::Heatmap& heatmap) {
  REQUIRE(heatmap.encoding() == v1::HEATMAP_ENCODING_FLOAT32);
  REQUIRE(heatmap.data().size() == static_cast<size_t>(heatmap.width()) * heatmap.height() * 4);
  std::vector<float> values(heatmap.data().size() / 4);
  std::memcpy(values.data(), heatmap.data().data(), heatmap.data().size());
  return values;
}

inline double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  return worst;
}

inline v1::ExplainRequest ImageRequest(const std::string& id, const std::string& image_bytes) {
  v1::ExplainRequest request;
  request.set_request_id(id);
  request.set_image(image_bytes);
  return request;
}

inline grpc::Status Call(v1::Explainer::Stub& stub, const v1::ExplainRequest& request, v1::ExplainResponse* response,
                         int deadline_ms = 60000) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  return stub.Explain(&context, request, response);
}

// GetCacheStats; the test stops unless it succeeds.
inline v1::GetCacheStatsResponse CacheStats(v1::Explainer::Stub& stub) {
  grpc::ClientContext context;
  v1::GetCacheStatsResponse stats;
  const grpc::Status status = stub.GetCacheStats(&context, v1::GetCacheStatsRequest(), &stats);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return stats;
}

// Explain; the test stops unless it succeeds.
inline v1::ExplainResponse MustExplain(v1::Explainer::Stub& stub, const v1::ExplainRequest& request) {
  v1::ExplainResponse response;
  const grpc::Status status = Call(stub, request, &response);
  INFO(request.request_id() << ": " << status.error_message());
  REQUIRE(status.ok());
  return response;
}

// The access-log line of `request_id`.
inline std::string AccessLine(const ServerProcess& server, const std::string& request_id) {
  const std::string needle = "request_id=\"" + request_id + "\"";
  StatusOr<std::string> line = server.WaitForLogLine(
      [&](const std::string& l) {
        return l.find(" access ") != std::string::npos && l.find(needle) != std::string::npos;
      },
      30000);
  INFO(line.status().ToString());
  REQUIRE(line.ok());
  return *line;
}

}  // namespace camserve::testing
