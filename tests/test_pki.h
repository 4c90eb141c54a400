// A throwaway PKI for tests of TLS, made by the openssl command line in a
// temporary folder, and a token file: CA "ca" with a server certificate
// "server" for 127.0.0.1 and localhost (subjectAltName) and a client
// certificate "client"; an unrelated CA "other_ca" with its client
// certificate "other_client". Each is NAME.crt with its key NAME.key (EC
// P-256, valid two days). The token file "tokens" holds kUserToken and
// kAdminToken (admin).
//
// Not thread-safe; one test owns a TestPki. A failing openssl fails the test.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/util/file_io.h"
#include "tests/shell_command.h"
#include "tests/temp_dir.h"
#include "tests/test_env.h"

namespace camserve::testing {

inline constexpr char kUserToken[] = "user-token-0123456789abcdef";
inline constexpr char kAdminToken[] = "admin-token-0123456789abcdef";

inline void RunOpenssl(const std::string& arguments) {
  std::string output;
  const int exit_code = RunShellCommand("openssl " + arguments, &output);
  INFO("openssl " << arguments << "\n" << output);
  REQUIRE(exit_code == 0);
}

// A CA (NAME.key, NAME.crt) in `dir`.
inline void MakeCa(const TempDir& dir, const std::string& name) {
  RunOpenssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=" + name +
             "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout " +
             (dir / (name + ".key")) + " -out " + (dir / (name + ".crt")));
}

// A certificate NAME.crt with key NAME.key in `dir`, signed by CA `ca`;
// `extensions` are its X.509v3 extensions in openssl's config syntax.
inline void MakeSignedCert(const TempDir& dir, const std::string& name, const std::string& ca,
                           const std::string& extensions, int serial) {
  REQUIRE(WriteFileBytes(dir / (name + ".ext"), extensions).ok());
  RunOpenssl("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=" + name + "' -keyout " +
             (dir / (name + ".key")) + " -out " + (dir / (name + ".csr")));
  RunOpenssl("x509 -req -days 2 -set_serial " + std::to_string(serial) + " -in " + (dir / (name + ".csr")) + " -CA " +
             (dir / (ca + ".crt")) + " -CAkey " + (dir / (ca + ".key")) + " -extfile " + (dir / (name + ".ext")) +
             " -out " + (dir / (name + ".crt")));
}

inline void MakeServerCert(const TempDir& dir, const std::string& name, const std::string& ca, int serial) {
  MakeSignedCert(dir, name, ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", serial);
}

inline void MakeClientCert(const TempDir& dir, const std::string& name, const std::string& ca, int serial) {
  MakeSignedCert(dir, name, ca, "extendedKeyUsage=clientAuth\n", serial);
}

// The throwaway PKI of a test: CA "ca" with "server" and "client"; the
// unrelated CA "other_ca" with "other_client"; a token file with a user and
// an admin token.
struct TestPki {
  TempDir dir;
  TestPki() {
    MakeCa(dir, "ca");
    MakeServerCert(dir, "server", "ca", 1);
    MakeClientCert(dir, "client", "ca", 2);
    MakeCa(dir, "other_ca");
    MakeClientCert(dir, "other_client", "other_ca", 3);
    REQUIRE(
        WriteFileBytes(dir / "tokens", std::string("# test tokens\n") + kUserToken + "\n" + kAdminToken + " admin\n")
            .ok());
  }
  std::string Pem(const std::string& file) const { return ReadBytes(dir / file); }
  std::vector<std::string> TlsArgs() const {
    return {"--tls-cert-file", dir / "server.crt", "--tls-key-file", dir / "server.key"};
  }
};

}  // namespace camserve::testing
