// Integration tests of the HTTP/JSON API (server/http_gateway.h) with the
// real camserve binary over loopback: answers equal gRPC's for the same
// request (POST /v1/explain, KServe v1 :predict and :explain with images and
// a tensor), model status and health routes, every error's HTTP status and
// gRPC code name, TLS, mutual TLS and bearer tokens, the HTTP metrics, and
// the curl examples of docs/http.md run as written.
#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <signal.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "camserve/v1/explainer.grpc.pb.h"
#include "tests/http_get.h"
#include "tests/prometheus_text.h"
#include "tests/server/server_process.h"
#include "tests/server/server_test_util.h"
#include "tests/shell_command.h"
#include "tests/test_pki.h"

namespace camserve {
namespace {

using namespace testing;  // NOLINT: the shared server-test helpers
using Catch::Matchers::Contains;
using nlohmann::json;

std::string ToJson(const google::protobuf::Message& message) {
  std::string text;
  REQUIRE(google::protobuf::util::MessageToJsonString(message, &text).ok());
  return text;
}

template <typename Message>
Message FromJson(const std::string& text) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &message);
  INFO(text.substr(0, 500));
  REQUIRE(status.ok());
  return message;
}

void StartHttpServer(ServerProcess& server, std::vector<std::string> extra_args = {}) {
  extra_args.insert(extra_args.begin(), {"--http-listen", "127.0.0.1:0"});
  StartServer(server, extra_args);
  REQUIRE(server.http_port() > 0);
}

// The error answer: HTTP status `http_status`, JSON {"code": code, "error": ...}.
void CheckError(const httplib::Result& result, int http_status, const std::string& code,
                const std::string& message_part = "") {
  REQUIRE(result);
  INFO(result->body);
  CHECK(result->status == http_status);
  const json body = json::parse(result->body);
  CHECK(body.at("code") == code);
  CHECK_THAT(body.at("error").get<std::string>(), Contains(message_part));
}

std::string Base64(const std::string& bytes) { return absl::Base64Escape(bytes); }

TEST_CASE("POST /v1/explain answers what gRPC answers, in protobuf's JSON mapping", "[http]") {
  ServerProcess server;
  StartHttpServer(server);
  auto stub = Connect(server);
  httplib::Client http("127.0.0.1", server.http_port());
  for (const std::string& path : DigitImages(2)) {
    INFO(path);
    v1::ExplainRequest request = ImageRequest("http-" + path.substr(path.size() - 8), ReadBytes(path));
    request.set_method("gradcam++");
    request.set_top_k(3);
    request.set_bypass_cache(true);  // both compute
    v1::ExplainResponse by_grpc;
    REQUIRE(Call(*stub, request, &by_grpc).ok());
    const httplib::Result result = http.Post("/v1/explain", ToJson(request), "application/json");
    REQUIRE(result);
    INFO(result->body.substr(0, 300));
    REQUIRE(result->status == 200);
    CHECK(result->get_header_value("Content-Type") == "application/json");
    const auto by_http = FromJson<v1::ExplainResponse>(result->body);
    CHECK(by_http.request_id() == request.request_id());
    CHECK(by_http.target_class() == by_grpc.target_class());
    CHECK(by_http.top_k_size() == 3);
    CHECK(by_http.model() == "digits_cnn");
    CHECK(MaxAbsDiff(Floats(by_http.heatmap()), Floats(by_grpc.heatmap())) == 0.0);
  }
  // One cache for both: an HTTP request after the same gRPC request is a hit.
  const v1::ExplainRequest cached = ImageRequest("cached", ReadBytes(DigitImages(1)[0]));
  v1::ExplainResponse first;
  REQUIRE(Call(*stub, cached, &first).ok());
  const httplib::Result again = http.Post("/v1/explain", ToJson(cached), "application/json");
  REQUIRE(again);
  REQUIRE(again->status == 200);
  const auto hit = FromJson<v1::ExplainResponse>(again->body);
  CHECK(hit.cache_hit());
  CHECK(MaxAbsDiff(Floats(hit.heatmap()), Floats(first.heatmap())) == 0.0);
  // The access log names the transport.
  CHECK(
      server
          .WaitForLogLine([](const std::string& line) { return line.find("rpc=HTTP /v1/explain") != line.npos; }, 5000)
          .ok());
}

TEST_CASE("KServe v1: model status, :predict and :explain with images and a tensor", "[http]") {
  ServerProcess server;
  StartHttpServer(server);
  auto stub = Connect(server);
  httplib::Client http("127.0.0.1", server.http_port());

  httplib::Result status = http.Get("/v1/models/digits_cnn");
  REQUIRE(status);
  REQUIRE(status->status == 200);
  const json model = json::parse(status->body);
  CHECK(model.at("name") == "digits_cnn");
  CHECK(model.at("ready") == true);
  CHECK(model.at("info").at("numClasses") == 10);
  CHECK(json::parse(http.Get("/v1/models")->body) == json{{"models", {"digits_cnn"}}});

  const std::vector<std::string> paths = DigitImages(2);
  std::vector<v1::ExplainResponse> expected;
  for (const std::string& path : paths) {
    v1::ExplainRequest request = ImageRequest("", ReadBytes(path));
    request.set_method("layercam");
    v1::ExplainResponse response;
    REQUIRE(Call(*stub, request, &response).ok());
    expected.push_back(response);
  }
  const json instances = {{{"b64", Base64(ReadBytes(paths[0]))}},
                          {{"image_bytes", {{"b64", Base64(ReadBytes(paths[1]))}}}}};
  const json parameters = {{"method", "layercam"}, {"topK", 2}};

  const httplib::Result predicted =
      http.Post("/v1/models/digits_cnn:predict", json{{"instances", instances}, {"parameters", parameters}}.dump(),
                "application/json");
  REQUIRE(predicted);
  INFO(predicted->body);
  REQUIRE(predicted->status == 200);
  const json predictions = json::parse(predicted->body);
  CHECK_FALSE(predictions.contains("explanations"));
  REQUIRE(predictions.at("predictions").size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(predictions["predictions"][i].at("targetClass") == expected[i].target_class());
    CHECK(predictions["predictions"][i].at("topK").size() == 2);
  }

  const httplib::Result explained =
      http.Post("/v1/models/digits_cnn:explain", json{{"instances", instances}, {"parameters", parameters}}.dump(),
                "application/json");
  REQUIRE(explained);
  REQUIRE(explained->status == 200);
  const json answer = json::parse(explained->body);
  REQUIRE(answer.at("explanations").size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(answer["predictions"][i].at("targetClass") == expected[i].target_class());
    const auto explanation = FromJson<v1::ExplainResponse>(answer["explanations"][i].dump());
    CHECK(MaxAbsDiff(Floats(explanation.heatmap()), Floats(expected[i].heatmap())) == 0.0);
  }

  // A tensor instance: nested lists [3, 32, 32], as gRPC's Tensor.
  json tensor = json::array();
  std::string data;
  for (int c = 0; c < 3; ++c) {
    json plane = json::array();
    for (int y = 0; y < 32; ++y) {
      json row = json::array();
      for (int x = 0; x < 32; ++x) {
        const float value = static_cast<float>((x * 7 + y * 3 + c * 11) % 17) / 8.0f - 1.0f;
        row.push_back(value);
        data.append(reinterpret_cast<const char*>(&value), sizeof(value));
      }
      plane.push_back(row);
    }
    tensor.push_back(plane);
  }
  v1::ExplainRequest tensor_request;
  tensor_request.mutable_tensor()->add_shape(3);
  tensor_request.mutable_tensor()->add_shape(32);
  tensor_request.mutable_tensor()->add_shape(32);
  tensor_request.mutable_tensor()->set_data(data);
  v1::ExplainResponse tensor_expected;
  REQUIRE(Call(*stub, tensor_request, &tensor_expected).ok());
  const httplib::Result tensor_result =
      http.Post("/v1/models/digits_cnn:explain", json{{"instances", json::array({tensor})}}.dump(), "application/json");
  REQUIRE(tensor_result);
  INFO(tensor_result->body.substr(0, 300));
  REQUIRE(tensor_result->status == 200);
  const auto tensor_explanation =
      FromJson<v1::ExplainResponse>(json::parse(tensor_result->body)["explanations"][0].dump());
  CHECK(tensor_explanation.target_class() == tensor_expected.target_class());
  CHECK(MaxAbsDiff(Floats(tensor_explanation.heatmap()), Floats(tensor_expected.heatmap())) == 0.0);
}

TEST_CASE("HTTP errors carry the gRPC code's name and its HTTP status; the server serves on", "[http]") {
  ServerProcess server;
  // Bodies above 100000 / 3 * 4 bytes + 1 MiB are refused.
  StartHttpServer(server, {"--limits-max-receive-message-bytes", "100000"});
  httplib::Client http("127.0.0.1", server.http_port());
  const std::string image = Base64(ReadBytes(DigitImages(1)[0]));

  CheckError(http.Post("/v1/explain", "{not json", "application/json"), 400, "INVALID_ARGUMENT",
             "is not a camserve.v1.ExplainRequest");
  CheckError(http.Post("/v1/explain", R"({"image": ")" + image + R"(", "colour": 1})", "application/json"), 400,
             "INVALID_ARGUMENT", "colour");
  CheckError(http.Post("/v1/explain", R"({"image": "AAAA"})", "application/json"), 400, "INVALID_ARGUMENT");
  CheckError(http.Post("/v1/explain", R"({"image": ")" + image + R"(", "model": "nope"})", "application/json"), 404,
             "NOT_FOUND", "nope");
  CheckError(http.Post("/v1/explain", R"({"image": ")" + image + R"(", "method": "nope"})", "application/json"), 400,
             "INVALID_ARGUMENT", "nope");
  CheckError(http.Post("/v1/explain", R"({"image": ")" + image + R"(", "targetClass": 99})", "application/json"), 400,
             "INVALID_ARGUMENT");
  CheckError(http.Post("/v1/explain", httplib::Headers{{"X-Camserve-Timeout-Ms", "soon"}},
                       R"({"image": ")" + image + "\"}", "application/json"),
             400, "INVALID_ARGUMENT", "X-Camserve-Timeout-Ms");
  CheckError(http.Post("/v1/explain", std::string(100000 / 3 * 4 + (1 << 20) + 1, ' '), "application/json"), 413,
             "RESOURCE_EXHAUSTED", "exceeds");
  CheckError(http.Get("/v1/nothing"), 404, "NOT_FOUND", "/v1/nothing");
  CheckError(http.Get("/v1/models/digits_cnn:explain"), 405, "INVALID_ARGUMENT", "takes POST");
  CheckError(http.Post("/v1/models/nope:predict", json{{"instances", {{{"b64", image}}}}}.dump(), "application/json"),
             404, "NOT_FOUND", "nope");
  CheckError(http.Get("/v1/models/nope"), 404, "NOT_FOUND", "nope");
  CheckError(http.Post("/v1/models/digits_cnn:predict", R"({"inputs": []})", "application/json"), 400,
             "INVALID_ARGUMENT", "instances");
  CheckError(http.Post("/v1/models/digits_cnn:predict", R"({"instances": [{"b64": "%%%"}]})", "application/json"), 400,
             "INVALID_ARGUMENT", "instance 0");
  CheckError(http.Post("/v1/models/digits_cnn:predict", R"({"instances": [[[1, 2], [3]]]})", "application/json"), 400,
             "INVALID_ARGUMENT", "rectangular");
  CheckError(
      http.Post("/v1/models/digits_cnn:explain",
                json{{"instances", {{{"b64", image}}}}, {"parameters", {{"image", image}}}}.dump(), "application/json"),
      400, "INVALID_ARGUMENT", "parameters");
  CheckError(http.Post("/v1/models/digits_cnn:explain",
                       json{{"instances", {{{"b64", image}}}}, {"parameters", {{"methd", "gradcam"}}}}.dump(),
                       "application/json"),
             400, "INVALID_ARGUMENT", "methd");

  const httplib::Result ok = http.Post("/v1/explain", R"({"image": ")" + image + "\"}", "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  const httplib::Result live = http.Get("/v2/health/live");
  REQUIRE(live);
  CHECK(live->status == 200);
  const httplib::Result ready = http.Get("/v2/health/ready");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(json::parse(ready->body) == json{{"ready", true}});

  // The HTTP traffic in the metrics, by route and status.
  StatusOr<HttpResponse> scrape = HttpGet(server.metrics_port(), "/metrics");
  REQUIRE(scrape.ok());
  CHECK(SampleValue(scrape->body, R"(camserve_http_requests_total{code="200",route="explain"})") == 1.0);
  CHECK(SampleValue(scrape->body, R"(camserve_http_requests_total{code="400",route="explain"})") == 6.0);
  CHECK(SampleValue(scrape->body, R"(camserve_http_requests_total{code="404",route="kserve_predict"})") == 1.0);
  CHECK(SampleValue(scrape->body, R"(camserve_http_requests_total{code="413",route="unknown"})") == 1.0);
  CHECK(SampleValue(scrape->body, R"(camserve_http_requests_total{code="200",route="health_ready"})") == 1.0);
}

TEST_CASE("a JSON body whose parsed form does not fit the in-flight budget is refused before it is parsed", "[http]") {
  ServerProcess server;
  StartHttpServer(server, {"--limits-max-inflight-bytes", "400000"});
  httplib::Client http("127.0.0.1", server.http_port());
  // 3 x 96 x 96 numbers: 55 KB of text, about 0.9 MB once parsed.
  json tensor = json::array();
  for (int c = 0; c < 3; ++c) tensor.push_back(json(96, json(96, 0.5)));
  CheckError(
      http.Post("/v1/models/digits_cnn:explain", json{{"instances", json::array({tensor})}}.dump(), "application/json"),
      503, "UNAVAILABLE", "in-flight memory budget");
  // An image fits: its parsed form is small.
  const std::string image = Base64(ReadBytes(DigitImages(1)[0]));
  const httplib::Result ok =
      http.Post("/v1/models/digits_cnn:explain", json{{"instances", {{{"b64", image}}}}}.dump(), "application/json");
  REQUIRE(ok);
  INFO(ok->body.substr(0, 300));
  CHECK(ok->status == 200);
}

TEST_CASE("HTTPS with mutual TLS and bearer tokens: the gRPC side's files and tokens guard the HTTP API", "[http]") {
  signal(SIGPIPE, SIG_IGN);  // a refused handshake closes the socket under the client's write
  TestPki pki;
  ServerProcess server;
  std::vector<std::string> args = pki.TlsArgs();
  args.insert(args.end(), {"--tls-client-ca-file", pki.dir / "ca.crt", "--auth-token-file", pki.dir / "tokens"});
  StartHttpServer(server, args);
  auto client = [&](const std::string& name) {
    auto https = name.empty()
                     ? std::make_unique<httplib::SSLClient>("127.0.0.1", server.http_port())
                     : std::make_unique<httplib::SSLClient>("127.0.0.1", server.http_port(), pki.dir / (name + ".crt"),
                                                            pki.dir / (name + ".key"));
    https->set_ca_cert_path((pki.dir / "ca.crt").c_str());
    https->enable_server_certificate_verification(true);
    https->set_connection_timeout(5);
    return https;
  };
  // No client certificate, or one of another CA: no connection.
  CHECK_FALSE(client("")->Get("/v2/health/live"));
  CHECK_FALSE(client("other_client")->Get("/v2/health/live"));
  // Plain HTTP to the HTTPS port: no answer.
  httplib::Client plain("127.0.0.1", server.http_port());
  plain.set_connection_timeout(5);
  plain.set_read_timeout(5);
  CHECK_FALSE(plain.Get("/v2/health/live"));

  auto https = client("client");
  const httplib::Result live = https->Get("/v2/health/live");  // health needs no token
  REQUIRE(live);
  CHECK(live->status == 200);
  CheckError(https->Get("/v1/models"), 401, "UNAUTHENTICATED");
  CheckError(https->Get("/v1/models", httplib::Headers{{"Authorization", "Bearer wrong-token-0123456789abcdef"}}), 401,
             "UNAUTHENTICATED");
  const httplib::Headers user = {{"Authorization", std::string("Bearer ") + kUserToken}};
  const httplib::Result models = https->Get("/v1/models", user);
  REQUIRE(models);
  CHECK(models->status == 200);
  const std::string image = Base64(ReadBytes(DigitImages(1)[0]));
  const httplib::Result explained = https->Post("/v1/models/digits_cnn:explain", user,
                                                json{{"instances", {{{"b64", image}}}}}.dump(), "application/json");
  REQUIRE(explained);
  CHECK(explained->status == 200);
  StatusOr<HttpResponse> scrape = HttpGet(server.metrics_port(), "/metrics");
  REQUIRE(scrape.ok());
  CHECK(SampleValue(scrape->body, R"(camserve_auth_failures_total{reason="missing_token"})") == 1.0);
  CHECK(SampleValue(scrape->body, R"(camserve_auth_failures_total{reason="invalid_token"})") == 1.0);
}

TEST_CASE("plaintext HTTP on a non-loopback address is refused at start-up unless allowed", "[http]") {
  ServerProcess server;
  const Status started = server.Start({{"--model", DigitsModel(), "--http-listen", "0.0.0.0:0"}, {}, 120000});
  CHECK_FALSE(started.ok());
  CHECK_THAT(started.ToString(), Contains("http_listen: 0.0.0.0:0 is not a loopback address"));
}

// The shell blocks of docs/http.md (```sh), in order, each run by bash
// against a real server; `# -> NNN` in a block gives the HTTP status its
// (last) curl must answer. A block holding `# (setup)` is replaced by the
// test's own variables.
TEST_CASE("the curl examples of docs/http.md run as written", "[http]") {
  std::ifstream doc(std::string(std::getenv("CAMSERVE_SOURCE_DIR")) + "/docs/http.md");
  REQUIRE(doc);
  std::vector<std::string> blocks;
  bool inside = false;
  for (std::string line; std::getline(doc, line);) {
    if (!inside && line == "```sh") {
      inside = true;
      blocks.emplace_back();
    } else if (inside && line == "```") {
      inside = false;
    } else if (inside) {
      blocks.back() += line + "\n";
    }
  }
  REQUIRE(blocks.size() >= 6);

  ServerProcess server;
  StartHttpServer(server);
  TempDir work;
  REQUIRE(WriteFileBytes(work / "digit.png", ReadBytes(DigitImages(1)[0])).ok());
  const std::string setup = "set -euo pipefail\ncd " + work.path().string() +
                            "\nCAMSERVE_HTTP=http://127.0.0.1:" + std::to_string(server.http_port()) +
                            "\nMODEL=digits_cnn\nIMAGE=digit.png\n"
                            // Each curl also prints its status last.
                            "curl() { command curl -sS -w '\\nHTTP_STATUS=%{http_code}\\n' \"$@\"; }\n";
  static const std::regex kExpected(R"(# -> ([0-9]{3}))");
  int checked = 0;
  for (const std::string& block : blocks) {
    if (block.find("# (setup)") != std::string::npos) continue;
    INFO(block);
    std::string output;
    REQUIRE(WriteFileBytes(work / "example.sh", setup + block).ok());
    const int exit_code = RunShellCommand("bash " + (work / "example.sh"), &output);
    INFO(output.substr(0, 2000));
    CHECK(exit_code == 0);
    std::smatch expected;
    if (!std::regex_search(block, expected, kExpected)) continue;
    const size_t last = output.rfind("HTTP_STATUS=");
    REQUIRE(last != std::string::npos);
    CHECK(output.substr(last + 12, 3) == expected[1].str());
    ++checked;
  }
  CHECK(checked >= 6);
}

}  // namespace
}  // namespace camserve
