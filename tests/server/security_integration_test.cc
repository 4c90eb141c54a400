// Integration tests of transport security and token authentication with the
// real camserve binary over loopback sockets: TLS, mutual TLS, certificate
// rotation, bearer tokens (missing, wrong, user, admin) on every RPC kind,
// the open health service, reflection switched off, and the start-up
// refusals (plaintext off loopback, unreadable TLS files).
//
// Certificates are made for each test by the openssl command line in a
// temporary folder (tests/test_pki.h).
#include <signal.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "camserve/v1/explainer.grpc.pb.h"
#include "client/common/grpc_channel.h"
#include "core/util/file_io.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/http_get.h"
#include "tests/prometheus_text.h"
#include "tests/server/server_process.h"
#include "tests/server/server_test_util.h"
#include "tests/temp_dir.h"
#include "tests/test_pki.h"

namespace camserve {
namespace {

using namespace testing;  // NOLINT: the shared server-test helpers
using Catch::Matchers::Contains;

constexpr char kWrongToken[] = "wrong-token-0123456789abcdef";
// Long enough for a connection attempt on loopback, short enough that a
// refused handshake fails the call quickly.
constexpr int kRefusedCallDeadlineMs = 10000;

// A TLS client trusting `ca` (a PEM file of `pki`), presenting `client`'s
// certificate unless empty, sending `token` unless empty.
ClientChannelOptions TlsClient(const TestPki& pki, const std::string& ca, const std::string& client = "",
                               const std::string& token = "") {
  ClientChannelOptions options;
  options.tls = true;
  options.tls_root_certs_pem = pki.Pem(ca + ".crt");
  if (!client.empty()) {
    options.tls_cert_chain_pem = pki.Pem(client + ".crt");
    options.tls_private_key_pem = pki.Pem(client + ".key");
  }
  options.token = token;
  return options;
}

std::unique_ptr<v1::Explainer::Stub> ConnectWith(const ServerProcess& server, const ClientChannelOptions& options) {
  return v1::Explainer::NewStub(MakeExplainerChannel(server.address(), options));
}

std::unique_ptr<grpc::ClientContext> ContextWithDeadline(int deadline_ms) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  return context;
}

grpc::Status GetModelInfo(v1::Explainer::Stub& stub, int deadline_ms = kRefusedCallDeadlineMs) {
  v1::GetModelInfoResponse response;
  return stub.GetModelInfo(ContextWithDeadline(deadline_ms).get(), v1::GetModelInfoRequest(), &response);
}

grpc::Status GetCacheStats(v1::Explainer::Stub& stub) {
  v1::GetCacheStatsResponse response;
  return stub.GetCacheStats(ContextWithDeadline(kRefusedCallDeadlineMs).get(), v1::GetCacheStatsRequest(), &response);
}

grpc::Status ClearCache(v1::Explainer::Stub& stub) {
  v1::ClearCacheResponse response;
  return stub.ClearCache(ContextWithDeadline(kRefusedCallDeadlineMs).get(), v1::ClearCacheRequest(), &response);
}

// One ExplainStream with one request: the call's final status.
grpc::Status ExplainStreamOnce(v1::Explainer::Stub& stub, const v1::ExplainRequest& request) {
  const std::unique_ptr<grpc::ClientContext> context = ContextWithDeadline(60000);
  auto stream = stub.ExplainStream(context.get());
  stream->Write(request);
  stream->WritesDone();
  v1::ExplainResponse response;
  while (stream->Read(&response)) {
  }
  return stream->Finish();
}

grpc::health::v1::HealthCheckResponse::ServingStatus HealthOf(const ServerProcess& server,
                                                              const ClientChannelOptions& options) {
  auto health = grpc::health::v1::Health::NewStub(MakeExplainerChannel(server.address(), options));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("camserve.v1.Explainer");
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health->Check(ContextWithDeadline(kRefusedCallDeadlineMs).get(), request, &response);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return response.status();
}

void CheckRefused(const grpc::Status& status, grpc::StatusCode code) {
  INFO(status.error_code() << ": " << status.error_message());
  CHECK(status.error_code() == code);
  CHECK_THAT(status.error_message(), !Contains(kWrongToken) && !Contains(kUserToken) && !Contains(kAdminToken));
}

TEST_CASE("a TLS server refuses plaintext clients and clients trusting another CA", "[security]") {
  TestPki pki;
  ServerProcess server;
  StartServer(server, pki.TlsArgs());
  CheckRefused(GetModelInfo(*Connect(server)), grpc::StatusCode::UNAVAILABLE);
  CheckRefused(GetModelInfo(*ConnectWith(server, TlsClient(pki, "other_ca"))), grpc::StatusCode::UNAVAILABLE);
  // The certificate holds both 127.0.0.1 and localhost.
  ClientChannelOptions by_name = TlsClient(pki, "ca");
  by_name.tls_server_name = "localhost";
  CHECK(GetModelInfo(*ConnectWith(server, by_name)).ok());

  const std::string image = ReadBytes(DigitImages(1)[0]);
  v1::ExplainResponse response;
  const grpc::Status served = Call(*ConnectWith(server, TlsClient(pki, "ca")), ImageRequest("tls", image), &response);
  INFO(served.error_message());
  REQUIRE(served.ok());
  CHECK(response.heatmap().width() > 0);
}

TEST_CASE("a mutual-TLS server refuses clients without a certificate or with one from another CA", "[security]") {
  TestPki pki;
  ServerProcess server;
  std::vector<std::string> args = pki.TlsArgs();
  args.insert(args.end(), {"--tls-client-ca-file", pki.dir / "ca.crt"});
  StartServer(server, args);
  CheckRefused(GetModelInfo(*ConnectWith(server, TlsClient(pki, "ca"))), grpc::StatusCode::UNAVAILABLE);
  CheckRefused(GetModelInfo(*ConnectWith(server, TlsClient(pki, "ca", "other_client"))), grpc::StatusCode::UNAVAILABLE);
  CheckRefused(GetModelInfo(*Connect(server)), grpc::StatusCode::UNAVAILABLE);
  const grpc::Status served = GetModelInfo(*ConnectWith(server, TlsClient(pki, "ca", "client")));
  INFO(served.error_message());
  CHECK(served.ok());
}

TEST_CASE("with a token file every Explainer RPC needs a token and ClearCache an admin one", "[security]") {
  TestPki pki;
  ServerProcess server;
  std::vector<std::string> args = pki.TlsArgs();
  args.insert(args.end(), {"--auth-token-file", pki.dir / "tokens"});
  StartServer(server, args);
  const std::string image = ReadBytes(DigitImages(1)[0]);
  auto no_token = ConnectWith(server, TlsClient(pki, "ca"));
  auto wrong_token = ConnectWith(server, TlsClient(pki, "ca", "", kWrongToken));
  auto user = ConnectWith(server, TlsClient(pki, "ca", "", kUserToken));
  auto admin = ConnectWith(server, TlsClient(pki, "ca", "", kAdminToken));

  SECTION("a call without a token or with a wrong one is UNAUTHENTICATED, before any work") {
    for (v1::Explainer::Stub* stub : {no_token.get(), wrong_token.get()}) {
      v1::ExplainResponse response;
      CheckRefused(Call(*stub, ImageRequest("refused", image), &response), grpc::StatusCode::UNAUTHENTICATED);
      CheckRefused(ExplainStreamOnce(*stub, ImageRequest("refused-stream", image)), grpc::StatusCode::UNAUTHENTICATED);
      CheckRefused(GetModelInfo(*stub), grpc::StatusCode::UNAUTHENTICATED);
      CheckRefused(GetCacheStats(*stub), grpc::StatusCode::UNAUTHENTICATED);
      CheckRefused(ClearCache(*stub), grpc::StatusCode::UNAUTHENTICATED);
    }
    v1::ExplainResponse response;
    const grpc::Status missing = Call(*no_token, ImageRequest("refused", image), &response);
    CHECK_THAT(missing.error_message(), Contains("authorization: Bearer <token>"));
    CHECK_THAT(AccessLine(server, "refused"), Contains("rpc=Explain ") && Contains("status=UNAUTHENTICATED"));

    const StatusOr<HttpResponse> scrape = HttpGet(server.metrics_port(), "/metrics");
    REQUIRE(scrape.ok());
    CHECK(SampleValue(scrape->body, "camserve_auth_failures_total{reason=\"missing_token\"}") == 6.0);
    CHECK(SampleValue(scrape->body, "camserve_auth_failures_total{reason=\"invalid_token\"}") == 5.0);
    // Nothing reached the pipeline: no request was counted, none computed.
    CHECK(CountLines(scrape->body, "camserve_requests_total{") == 0);
  }

  SECTION("a user token is served, but ClearCache needs an admin token") {
    v1::ExplainResponse response;
    const grpc::Status served = Call(*user, ImageRequest("served", image), &response);
    INFO(served.error_message());
    REQUIRE(served.ok());
    CHECK(response.heatmap().width() > 0);
    CHECK(ExplainStreamOnce(*user, ImageRequest("served-stream", image)).ok());
    CHECK(GetModelInfo(*user).ok());
    CHECK(GetCacheStats(*user).ok());
    CheckRefused(ClearCache(*user), grpc::StatusCode::PERMISSION_DENIED);
    CHECK(ClearCache(*admin).ok());
    const StatusOr<HttpResponse> scrape = HttpGet(server.metrics_port(), "/metrics");
    REQUIRE(scrape.ok());
    CHECK(SampleValue(scrape->body, "camserve_auth_failures_total{reason=\"not_admin\"}") == 1.0);
  }

  SECTION("a token removed from the file is refused from the next call, without a restart") {
    CHECK(GetModelInfo(*user).ok());
    REQUIRE(WriteFileBytes(pki.dir / "tokens.new", std::string(kAdminToken) + " admin\n").ok());
    std::filesystem::rename(pki.dir / "tokens.new", pki.dir / "tokens");
    CheckRefused(GetModelInfo(*user), grpc::StatusCode::UNAUTHENTICATED);
    CHECK(GetModelInfo(*admin).ok());
    CHECK(server
              .WaitForLogLine(
                  [](const std::string& line) { return line.find("token file changed") != std::string::npos; }, 10000)
              .ok());
  }

  SECTION("health answers SERVING without a token") {
    CHECK(HealthOf(server, TlsClient(pki, "ca")) == grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST_CASE("rotated certificate files are served after the refresh interval, without a restart", "[security]") {
  TestPki pki;
  ServerProcess server;
  std::vector<std::string> args = pki.TlsArgs();
  args.insert(args.end(), {"--tls-refresh-interval-s", "1"});
  StartServer(server, args);
  REQUIRE(GetModelInfo(*ConnectWith(server, TlsClient(pki, "ca"))).ok());

  MakeCa(pki.dir, "new_ca");
  MakeServerCert(pki.dir, "new_server", "new_ca", 4);
  CheckRefused(GetModelInfo(*ConnectWith(server, TlsClient(pki, "new_ca"))), grpc::StatusCode::UNAVAILABLE);
  // Each file replaced by a rename, so the server never reads half a file;
  // between the two renames it may read a key that does not match the
  // certificate, which the next refresh corrects.
  for (const char* suffix : {".key", ".crt"}) {
    std::filesystem::copy_file(pki.dir / ("new_server" + std::string(suffix)),
                               pki.dir / ("staged" + std::string(suffix)));
    std::filesystem::rename(pki.dir / ("staged" + std::string(suffix)), pki.dir / ("server" + std::string(suffix)));
  }
  // Polled, not slept for: served once a refresh has read the new files.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  grpc::Status status;
  do {
    status = GetModelInfo(*ConnectWith(server, TlsClient(pki, "new_ca")), 5000);
    if (!status.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (!status.ok() && std::chrono::steady_clock::now() < give_up);
  INFO(status.error_code() << ": " << status.error_message());
  CHECK(status.ok());
  CheckRefused(GetModelInfo(*ConnectWith(server, TlsClient(pki, "ca"))), grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("plaintext on a non-loopback address is refused at start-up unless allowed", "[security]") {
  ServerProcess refused;
  const Status started = refused.Start({{"--model", DigitsModel(), "--listen", "0.0.0.0:0"}, {}, 120000});
  CHECK_FALSE(started.ok());
  const StatusOr<int> exit_code = refused.Stop(SIGTERM);
  REQUIRE(exit_code.ok());
  CHECK(*exit_code == 2);
  const std::vector<std::string> lines = refused.LogLines();
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Contains("configuration error: listen: 0.0.0.0:0 is not a loopback address and no TLS "
                                "certificate is configured") &&
                           Contains("tls.allow_plaintext=true"));

  ServerProcess allowed;
  StartServer(allowed, {"--listen", "0.0.0.0:0", "--tls-allow-plaintext", "true"});
  CHECK(
      allowed
          .WaitForLogLine([](const std::string& line) { return line.find("!!! PLAINTEXT") != std::string::npos; }, 1000)
          .ok());
}

TEST_CASE("unreadable or mismatched TLS files stop the server at start-up with one line", "[security]") {
  TestPki pki;
  const std::string missing = pki.dir / "missing.crt";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tls-cert-file", missing, "--tls-key-file", pki.dir / "server.key"},
       "cannot serve TLS: tls.cert_file: cannot read " + missing},
      {{"--tls-cert-file", pki.dir / "server.crt", "--tls-key-file", pki.dir / "client.key"},
       "cannot serve TLS: tls.key_file " + (pki.dir / "client.key") + ": does not match the certificate"},
      {{"--tls-cert-file", pki.dir / "server.key", "--tls-key-file", pki.dir / "server.key"},
       "holds no PEM certificate"},
  };
  for (const auto& [args, message] : cases) {
    ServerProcess server;
    std::vector<std::string> all_args = {"--model", DigitsModel()};
    all_args.insert(all_args.end(), args.begin(), args.end());
    CHECK_FALSE(server.Start({all_args, {}, 120000}).ok());
    const StatusOr<int> exit_code = server.Stop(SIGTERM);
    REQUIRE(exit_code.ok());
    CHECK(*exit_code == 1);
    std::string log;
    for (const std::string& line : server.LogLines()) log += line + "\n";
    INFO(log);
    CHECK_THAT(log, Contains(message));
  }
}

TEST_CASE("reflection: false switches the reflection service off", "[security]") {
  ServerProcess server;
  StartServer(server, {"--reflection", "false"});
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(MakeExplainerChannel(server.address()));
  const std::unique_ptr<grpc::ClientContext> context = ContextWithDeadline(kRefusedCallDeadlineMs);
  auto stream = reflection->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  stream->Write(request);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  CHECK_FALSE(stream->Read(&response));
  CHECK(stream->Finish().error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(GetModelInfo(*Connect(server)).ok());
}

}  // namespace
}  // namespace camserve
