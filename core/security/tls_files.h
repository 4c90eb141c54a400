// The server's TLS files checked at start-up with OpenSSL, so that a missing,
// unreadable or mismatched file stops the server with one clear line instead
// of failing every handshake later (gRPC's file watcher only logs such
// errors). The files are read again by gRPC when they change; this check
// covers start-up only.
//
// Thread-safety: free function.
// Errors: FAILED_PRECONDITION naming the key and the path: "tls.cert_file:
// cannot read /etc/camserve/tls.crt: No such file or directory",
// "tls.cert_file /etc/camserve/tls.crt: holds no PEM certificate",
// "tls.key_file ...: does not match the certificate of tls.cert_file ...".
#pragma once

#include <string>

#include "core/util/status.h"

namespace camserve {

// REQUIRES: cert_file and key_file are not empty; client_ca_file may be
// empty (no mutual TLS).
Status CheckServerTlsFiles(const std::string& cert_file, const std::string& key_file,
                           const std::string& client_ca_file);

}  // namespace camserve
