#include "client/common/connection_flags.h"

#include <sstream>

#include "core/util/command_line.h"
#include "core/util/file_io.h"

namespace camserve {
namespace {

// The contents of the file a flag names.
StatusOr<std::string> ReadFlagFile(const char* flag, const std::string& path) {
  StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return Status(bytes.status().code(), std::string(flag) + ": " + bytes.status().message());
  return bytes;
}

}  // namespace

void AddConnectionFlags(CLI::App& app, ConnectionFlags* flags) {
  app.add_option("--tls", flags->tls, "connect with TLS (implied by any --tls-* flag)")
      ->default_str(BoolText(flags->tls));
  app.add_option("--tls-ca-file", flags->tls_ca_file,
                 "PEM root certificates the server's certificate must chain to (default: the system's)")
      ->envname(kTlsCaFileEnvironmentVariable);
  app.add_option("--tls-cert-file", flags->tls_cert_file, "PEM client certificate for mutual TLS (with --tls-key-file)")
      ->envname(kTlsCertFileEnvironmentVariable);
  app.add_option("--tls-key-file", flags->tls_key_file, "PEM private key of --tls-cert-file")
      ->envname(kTlsKeyFileEnvironmentVariable);
  app.add_option("--tls-server-name", flags->tls_server_name,
                 "name the server's certificate must hold (default: --addr's host)")
      ->envname(kTlsServerNameEnvironmentVariable);
  app.add_option("--token-file", flags->token_file,
                 std::string("file whose first token is sent as 'authorization: Bearer <token>' (default: the "
                             "environment variable ") +
                     kTokenEnvironmentVariable + ")");
}

std::string FirstToken(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string first;
    if (fields >> first && first[0] != '#') return first;
  }
  return "";
}

StatusOr<ClientChannelOptions> ChannelOptionsFromFlags(const ConnectionFlags& flags, const char* token_env) {
  if (flags.tls_cert_file.empty() != flags.tls_key_file.empty()) {
    return InvalidArgumentError(flags.tls_cert_file.empty() ? "--tls-key-file: needs --tls-cert-file"
                                                            : "--tls-cert-file: needs --tls-key-file");
  }
  ClientChannelOptions options;
  options.tls =
      flags.tls || !flags.tls_ca_file.empty() || !flags.tls_cert_file.empty() || !flags.tls_server_name.empty();
  if (!flags.tls_ca_file.empty()) {
    StatusOr<std::string> roots = ReadFlagFile("--tls-ca-file", flags.tls_ca_file);
    if (!roots.ok()) return roots.status();
    options.tls_root_certs_pem = std::move(roots).value();
  }
  if (!flags.tls_cert_file.empty()) {
    StatusOr<std::string> chain = ReadFlagFile("--tls-cert-file", flags.tls_cert_file);
    if (!chain.ok()) return chain.status();
    StatusOr<std::string> key = ReadFlagFile("--tls-key-file", flags.tls_key_file);
    if (!key.ok()) return key.status();
    options.tls_cert_chain_pem = std::move(chain).value();
    options.tls_private_key_pem = std::move(key).value();
  }
  options.tls_server_name = flags.tls_server_name;
  if (!flags.token_file.empty()) {
    StatusOr<std::string> text = ReadFlagFile("--token-file", flags.token_file);
    if (!text.ok()) return text.status();
    options.token = FirstToken(*text);
    if (options.token.empty()) return InvalidArgumentError("--token-file: " + flags.token_file + " holds no token");
  } else if (token_env != nullptr) {
    options.token = token_env;
  }
  return options;
}

}  // namespace camserve
