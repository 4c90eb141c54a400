#include "core/util/sha256.h"

#include <catch2/catch.hpp>

namespace camserve {
namespace {

TEST_CASE("SHA-256 matches the FIPS 180-2 test vectors") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 incremental;
  incremental.Update("a");
  incremental.Update("bc");
  CHECK(ToHex(incremental.Finish()) == Sha256Hex("abc"));
}

TEST_CASE("length-prefixed fields keep field boundaries") {
  Sha256 ab_c, a_bc;
  ab_c.UpdateField("ab");
  ab_c.UpdateField("c");
  a_bc.UpdateField("a");
  a_bc.UpdateField("bc");
  CHECK(ToHex(ab_c.Finish()) != ToHex(a_bc.Finish()));
}

}  // namespace
}  // namespace camserve
