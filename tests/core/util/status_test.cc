#include "core/util/status.h"

#include <catch2/catch.hpp>

namespace camserve {
namespace {

Status FailsWhen(bool fail) {
  CAMSERVE_RETURN_IF_ERROR(fail ? InvalidArgumentError("bad") : Status::Ok());
  return NotFoundError("reached the end");
}

TEST_CASE("Status carries a code and message") {
  CHECK(Status::Ok().ok());
  CHECK(Status::Ok().ToString() == "OK");
  Status s = ResourceExhaustedError("queue full");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kResourceExhausted);
  CHECK(s.ToString() == "RESOURCE_EXHAUSTED: queue full");
}

TEST_CASE("RETURN_IF_ERROR returns the first error") {
  CHECK(FailsWhen(true).code() == StatusCode::kInvalidArgument);
  CHECK(FailsWhen(false).code() == StatusCode::kNotFound);
}

TEST_CASE("StatusOr holds a value or an error") {
  StatusOr<int> value = 7;
  REQUIRE(value.ok());
  CHECK(*value == 7);
  StatusOr<int> error = UnavailableError("down");
  CHECK_FALSE(error.ok());
  CHECK(error.status().code() == StatusCode::kUnavailable);
}

}  // namespace
}  // namespace camserve
