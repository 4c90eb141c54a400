// The connection flags camserve-client and camserve-bench share (added with
// the request flags, client/common/request_flags.h), and the channel options
// they make:
//   --tls  --tls-ca-file PEM  --tls-cert-file PEM  --tls-key-file PEM
//   --tls-server-name NAME  --token-file FILE
//
// The four --tls-* flags that name files or a name fall back to the
// environment variables CAMSERVE_CLIENT_TLS_CA_FILE, ..._CERT_FILE,
// ..._KEY_FILE and ..._SERVER_NAME when not given, so that a fixed command
// (a container's HEALTHCHECK) follows the deployment's TLS settings.
//
// TLS is on when --tls is true or any --tls-* flag is given; without
// --tls-ca-file the system's root certificates are trusted. --tls-cert-file
// and --tls-key-file (both or neither) are the client certificate for a
// server that requires one (mutual TLS).
//
// The bearer token: the first token of --token-file (the first line that is
// neither blank nor a '#' comment, up to its first whitespace, so the
// server's token file format reads too); without --token-file, the
// environment variable CAMSERVE_TOKEN if set and not empty; else none. A
// token never goes on the command line, where other users could see it.
//
// Thread-safety: free functions on values.
// Errors: INVALID_ARGUMENT naming the flag ("--tls-key-file: needs
// --tls-cert-file"), NOT_FOUND for a file that cannot be read.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "client/common/grpc_channel.h"
#include "core/util/status.h"

namespace camserve {

struct ConnectionFlags {
  // --tls: TLS with the system's roots (implied by any --tls-* flag).
  // Default: false.
  bool tls = false;
  // --tls-ca-file: PEM roots the server's certificate must chain to.
  std::string tls_ca_file;
  // --tls-cert-file, --tls-key-file: the client certificate and its key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // --tls-server-name: the name the server's certificate must hold, when
  // it is not --addr's host.
  std::string tls_server_name;
  // --token-file: the bearer token's file.
  std::string token_file;
};

// The environment variable that holds a bearer token when --token-file is
// not given.
inline constexpr char kTokenEnvironmentVariable[] = "CAMSERVE_TOKEN";
// Fallbacks of --tls-ca-file, --tls-cert-file, --tls-key-file, --tls-server-name.
inline constexpr char kTlsCaFileEnvironmentVariable[] = "CAMSERVE_CLIENT_TLS_CA_FILE";
inline constexpr char kTlsCertFileEnvironmentVariable[] = "CAMSERVE_CLIENT_TLS_CERT_FILE";
inline constexpr char kTlsKeyFileEnvironmentVariable[] = "CAMSERVE_CLIENT_TLS_KEY_FILE";
inline constexpr char kTlsServerNameEnvironmentVariable[] = "CAMSERVE_CLIENT_TLS_SERVER_NAME";

// Adds the flags above to `app`, bound to `flags`.
void AddConnectionFlags(CLI::App& app, ConnectionFlags* flags);

// The channel options the flags ask for, with the files read; `token_env`
// is CAMSERVE_TOKEN's value (null: unset).
StatusOr<ClientChannelOptions> ChannelOptionsFromFlags(const ConnectionFlags& flags, const char* token_env);

// The first token of a token file's text, or "" when it has none.
std::string FirstToken(const std::string& text);

}  // namespace camserve
