#include "core/security/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "core/util/file_io.h"

namespace camserve {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

Status FileError(const std::string& key, const std::string& path, const std::string& why) {
  return FailedPreconditionError(key + " " + path + ": " + why);
}

StatusOr<std::string> ReadTlsFile(const std::string& key, const std::string& path) {
  StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return FailedPreconditionError(key + ": " + bytes.status().message());
  return bytes;
}

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& bytes) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// The first certificate of a PEM file; fails when it holds none.
StatusOr<X509Ptr> FirstCertificate(const std::string& key, const std::string& path) {
  StatusOr<std::string> pem = ReadTlsFile(key, path);
  if (!pem.ok()) return pem.status();
  X509Ptr cert(PEM_read_bio_X509(MemoryBio(*pem).get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) return FileError(key, path, "holds no PEM certificate");
  return cert;
}

}  // namespace

Status CheckServerTlsFiles(const std::string& cert_file, const std::string& key_file,
                           const std::string& client_ca_file) {
  StatusOr<X509Ptr> cert = FirstCertificate("tls.cert_file", cert_file);
  if (!cert.ok()) return cert.status();
  StatusOr<std::string> key_pem = ReadTlsFile("tls.key_file", key_file);
  if (!key_pem.ok()) return key_pem.status();
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(MemoryBio(*key_pem).get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) return FileError("tls.key_file", key_file, "holds no PEM private key (or it is encrypted)");
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return FileError("tls.key_file", key_file, "does not match the certificate of tls.cert_file " + cert_file);
  }
  if (!client_ca_file.empty()) {
    StatusOr<X509Ptr> ca = FirstCertificate("tls.client_ca_file", client_ca_file);
    if (!ca.ok()) return ca.status();
  }
  return Status::Ok();
}

}  // namespace camserve
