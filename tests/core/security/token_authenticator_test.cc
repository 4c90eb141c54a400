#include "core/security/token_authenticator.h"

#include <catch2/catch.hpp>

#include <string>

namespace camserve {
namespace {

using Catch::Matchers::Contains;

constexpr char kUser[] = "user-token-0123456789";
constexpr char kAdmin[] = "admin-token-0123456789";

std::unique_ptr<TokenAuthenticator> Tokens(const std::string& text) {
  StatusOr<std::unique_ptr<TokenAuthenticator>> tokens = TokenAuthenticator::Create(text, "tokens");
  INFO(tokens.status().ToString());
  REQUIRE(tokens.ok());
  return std::move(tokens).value();
}

std::string CreateError(const std::string& text) {
  StatusOr<std::unique_ptr<TokenAuthenticator>> tokens = TokenAuthenticator::Create(text, "tokens");
  REQUIRE_FALSE(tokens.ok());
  CHECK(tokens.status().code() == StatusCode::kInvalidArgument);
  return tokens.status().message();
}

TEST_CASE("a token file holds user and admin tokens; blank lines and comments are skipped") {
  const auto tokens = Tokens(std::string("# camserve tokens\n\n   \n") + kUser + "\n  " + kAdmin + "   admin\r\n# " +
                             "another comment\nthird-token-0123456789 user\n");
  CHECK(tokens->token_count() == 3);
}

TEST_CASE("malformed token files are refused with the line number and without the token") {
  CHECK(CreateError("# only a comment\n\n") == "tokens: holds no token");
  CHECK(CreateError(std::string("\n") + kUser + " admin extra\n") ==
        "tokens line 2: expected '<token>' or '<token> admin', found 3 fields");
  CHECK(CreateError("short admin\n") == "tokens line 1: the token is 5 characters; at least 16 are needed");
  CHECK(CreateError("user-token-0123456789\"quoted\n") ==
        "tokens line 1: the token has a character outside A-Z a-z 0-9 - . _ ~ + / =");
  CHECK(CreateError(std::string(kUser) + " root\n") == "tokens line 1: the role must be 'admin' or 'user'");
  const std::string duplicate = CreateError(std::string(kUser) + "\n#\n" + kUser + " admin\n");
  CHECK(duplicate == "tokens line 3: the token appears on an earlier line too");
  CHECK_THAT(duplicate, !Contains(kUser));
}

TEST_CASE("a missing file is NOT_FOUND naming the key") {
  StatusOr<std::unique_ptr<TokenAuthenticator>> tokens = TokenAuthenticator::FromFile("/no/such/tokens");
  REQUIRE_FALSE(tokens.ok());
  CHECK(tokens.status().code() == StatusCode::kNotFound);
  CHECK_THAT(tokens.status().message(), Contains("auth.token_file: cannot read /no/such/tokens"));
}

TEST_CASE("Authorize accepts 'Bearer <token>' and tells missing, invalid and non-admin tokens apart") {
  const auto tokens = Tokens(std::string(kUser) + "\n" + kAdmin + " admin\n");
  const std::string user = std::string("Bearer ") + kUser;
  const std::string admin = std::string("Bearer ") + kAdmin;

  CHECK(tokens->Authorize(user, TokenRole::kUser).status.ok());
  CHECK(tokens->Authorize(std::string("bearer ") + kUser, TokenRole::kUser).status.ok());
  CHECK(tokens->Authorize(admin, TokenRole::kUser).status.ok());
  CHECK(tokens->Authorize(admin, TokenRole::kAdmin).status.ok());

  const AuthDecision missing = tokens->Authorize(std::nullopt, TokenRole::kUser);
  CHECK(missing.status.code() == StatusCode::kUnauthenticated);
  CHECK(missing.failure == AuthFailure::kMissingToken);
  CHECK_THAT(missing.status.message(), Contains("authorization: Bearer <token>"));

  for (const std::string& bad :
       {std::string("Bearer wrong-token-0123456789"), std::string(kUser), std::string("Basic ") + kUser,
        std::string("Bearer "), std::string("Bearer"), std::string("Bearer ") + kUser + "x", std::string("")}) {
    const AuthDecision decision = tokens->Authorize(bad, TokenRole::kUser);
    INFO(bad);
    CHECK(decision.status.code() == StatusCode::kUnauthenticated);
    CHECK(decision.failure == AuthFailure::kInvalidToken);
    CHECK_THAT(decision.status.message(), !Contains("0123456789"));
  }

  const AuthDecision not_admin = tokens->Authorize(user, TokenRole::kAdmin);
  CHECK(not_admin.status.code() == StatusCode::kPermissionDenied);
  CHECK(not_admin.failure == AuthFailure::kNotAdmin);
  CHECK(std::string(AuthFailureName(not_admin.failure)) == "not_admin");
  CHECK(std::string(AuthFailureName(AuthFailure::kMissingToken)) == "missing_token");
  CHECK(std::string(AuthFailureName(AuthFailure::kInvalidToken)) == "invalid_token");
}

}  // namespace
}  // namespace camserve
