#include "core/util/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace camserve {

struct Sha256::Context {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->md = EVP_MD_CTX_new();
  // Allocation or initialisation of a built-in digest fails only when out of
  // memory; there is nothing sensible to return then.
  if (context_->md == nullptr || EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(context_->md); }

void Sha256::Update(std::string_view bytes) { EVP_DigestUpdate(context_->md, bytes.data(), bytes.size()); }

void Sha256::UpdateField(std::string_view bytes) {
  uint8_t length[8];
  uint64_t size = bytes.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(size >> (8 * i));
  EVP_DigestUpdate(context_->md, length, sizeof(length));
  Update(bytes);
}

std::array<uint8_t, 32> Sha256::Finish() {
  std::array<uint8_t, 32> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(context_->md, digest.data(), &size);
  return digest;
}

std::string ToHex(const std::array<uint8_t, 32>& digest) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (uint8_t byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 15]);
  }
  return hex;
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes);
  return ToHex(sha.Finish());
}

}  // namespace camserve
