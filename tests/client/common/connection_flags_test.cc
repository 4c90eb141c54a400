#include "client/common/connection_flags.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/util/file_io.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

TEST_CASE("the first token of a token file skips blank lines and comments and drops the role") {
  CHECK(FirstToken("# tokens\n\n   tok-0123456789abcdef admin\nsecond\n") == "tok-0123456789abcdef");
  CHECK(FirstToken("tok\r\n") == "tok");
  CHECK(FirstToken("# nothing\n\n").empty());
}

TEST_CASE("the connection flags make plaintext by default and TLS with any --tls flag") {
  StatusOr<ClientChannelOptions> plain = ChannelOptionsFromFlags(ConnectionFlags{}, nullptr);
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->tls);
  CHECK(plain->token.empty());

  ConnectionFlags named;
  named.tls_server_name = "camserve.internal";
  StatusOr<ClientChannelOptions> tls = ChannelOptionsFromFlags(named, nullptr);
  REQUIRE(tls.ok());
  CHECK(tls->tls);
  CHECK(tls->tls_server_name == "camserve.internal");
  CHECK(tls->tls_root_certs_pem.empty());
}

TEST_CASE("the token comes from --token-file, else from CAMSERVE_TOKEN") {
  TempDir dir;
  REQUIRE(WriteFileBytes(dir / "tokens", "# mine\nfrom-file-0123456789 admin\n").ok());
  ConnectionFlags flags;
  flags.token_file = dir / "tokens";
  StatusOr<ClientChannelOptions> from_file = ChannelOptionsFromFlags(flags, "from-environment");
  REQUIRE(from_file.ok());
  CHECK(from_file->token == "from-file-0123456789");

  StatusOr<ClientChannelOptions> from_environment = ChannelOptionsFromFlags(ConnectionFlags{}, "from-environment");
  REQUIRE(from_environment.ok());
  CHECK(from_environment->token == "from-environment");
}

TEST_CASE("bad connection flags name the flag") {
  TempDir dir;
  ConnectionFlags cert_only;
  cert_only.tls_cert_file = dir / "client.crt";
  CHECK(ChannelOptionsFromFlags(cert_only, nullptr).status().message() == "--tls-cert-file: needs --tls-key-file");
  ConnectionFlags key_only;
  key_only.tls_key_file = dir / "client.key";
  CHECK(ChannelOptionsFromFlags(key_only, nullptr).status().message() == "--tls-key-file: needs --tls-cert-file");

  ConnectionFlags missing_ca;
  missing_ca.tls_ca_file = dir / "ca.crt";
  const Status unreadable = ChannelOptionsFromFlags(missing_ca, nullptr).status();
  CHECK(unreadable.code() == StatusCode::kNotFound);
  CHECK_THAT(unreadable.message(), Catch::StartsWith("--tls-ca-file: cannot read " + (dir / "ca.crt")));

  REQUIRE(WriteFileBytes(dir / "empty", "# no token\n").ok());
  ConnectionFlags empty;
  empty.token_file = dir / "empty";
  CHECK(ChannelOptionsFromFlags(empty, nullptr).status().message() ==
        "--token-file: " + (dir / "empty") + " holds no token");
}

TEST_CASE("the TLS file and name flags fall back to CAMSERVE_CLIENT_TLS_* variables; a flag wins") {
  const std::vector<std::pair<const char*, std::string>> variables = {
      {kTlsCaFileEnvironmentVariable, "/env/ca.crt"},
      {kTlsCertFileEnvironmentVariable, "/env/client.crt"},
      {kTlsKeyFileEnvironmentVariable, "/env/client.key"},
      {kTlsServerNameEnvironmentVariable, "env.internal"}};
  for (const auto& [name, value] : variables) REQUIRE(setenv(name, value.c_str(), 1) == 0);
  const auto parse = [](std::vector<std::string> args) {
    CLI::App app;
    ConnectionFlags flags;
    AddConnectionFlags(app, &flags);
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
    app.parse(args);
    return flags;
  };
  const ConnectionFlags from_environment = parse({});
  const ConnectionFlags from_flag = parse({"--tls-ca-file", "/flag/ca.crt"});
  for (const auto& [name, value] : variables) REQUIRE(unsetenv(name) == 0);

  CHECK(from_environment.tls_ca_file == "/env/ca.crt");
  CHECK(from_environment.tls_cert_file == "/env/client.crt");
  CHECK(from_environment.tls_key_file == "/env/client.key");
  CHECK(from_environment.tls_server_name == "env.internal");
  CHECK(from_flag.tls_ca_file == "/flag/ca.crt");
  CHECK(from_flag.tls_server_name == "env.internal");
  CHECK(parse({}).tls_ca_file.empty());
}

}  // namespace
}  // namespace camserve
