// Sha256: SHA-256 digests (OpenSSL's EVP interface) for model fingerprints
// and cache keys.
//
// Thread-safety: one Sha256 object per thread; the free function is safe to
// call concurrently.
// Cost: one pass over the bytes (OpenSSL uses SHA-NI where the CPU has it;
// measured: docs/benchmarks.md, "Component costs").
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace camserve {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Appends bytes to the message.
  void Update(std::string_view bytes);
  // Appends a length-prefixed field, so that ("ab", "c") and ("a", "bc")
  // hash differently.
  void UpdateField(std::string_view bytes);
  // The digest of everything appended; the object is then spent.
  std::array<uint8_t, 32> Finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Lower-case hex of `digest`.
std::string ToHex(const std::array<uint8_t, 32>& digest);

// Hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace camserve
