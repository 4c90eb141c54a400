// The generated API types: the presence of target_class and the defaults the
// server relies on survive the wire.
#include <catch2/catch.hpp>

#include "camserve/v1/explainer.grpc.pb.h"

namespace {

camserve::v1::ExplainRequest RoundTrip(const camserve::v1::ExplainRequest& request) {
  camserve::v1::ExplainRequest parsed;
  REQUIRE(parsed.ParseFromString(request.SerializeAsString()));
  return parsed;
}

TEST_CASE("an unset target_class stays unset; class 0 stays set") {
  camserve::v1::ExplainRequest request;
  request.set_request_id("r1");
  request.set_image(std::string("\xff\xd8\xff", 3));
  CHECK_FALSE(RoundTrip(request).has_target_class());
  request.set_target_class(0);
  camserve::v1::ExplainRequest parsed = RoundTrip(request);
  REQUIRE(parsed.has_target_class());
  CHECK(parsed.target_class() == 0);
  CHECK(parsed.input_case() == camserve::v1::ExplainRequest::kImage);
}

TEST_CASE("defaults: input resolution, float32 encoding, cache used, most urgent priority") {
  camserve::v1::ExplainRequest parsed = RoundTrip(camserve::v1::ExplainRequest());
  CHECK(parsed.resolution() == camserve::v1::HEATMAP_RESOLUTION_INPUT);
  CHECK(parsed.encoding() == camserve::v1::HEATMAP_ENCODING_FLOAT32);
  CHECK_FALSE(parsed.bypass_cache());
  CHECK(parsed.priority() == 0);
  CHECK(parsed.input_case() == camserve::v1::ExplainRequest::INPUT_NOT_SET);
}

TEST_CASE("the service exposes its five methods") {
  const auto* service = camserve::v1::ExplainRequest::descriptor()->file()->FindServiceByName("Explainer");
  REQUIRE(service != nullptr);
  CHECK(service->full_name() == "camserve.v1.Explainer");
  CHECK(service->method_count() == 5);
  CHECK(service->FindMethodByName("ExplainStream")->client_streaming());
  CHECK(service->FindMethodByName("ExplainStream")->server_streaming());
}

}  // namespace
