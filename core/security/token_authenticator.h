// TokenAuthenticator: bearer-token authentication of calls, from a token
// file, without gRPC (server/call_authenticator.h reads the metadata).
//
// Token file format (auth.token_file), one token per line:
//
//   # comments and blank lines are ignored
//   <token>          a user token: every Explainer call except ClearCache
//   <token> admin    an admin token: ClearCache too
//
// A line is a token, optionally followed by whitespace and the role `admin`
// or `user` (the default). A token is at least 16 characters of
// A-Z a-z 0-9 - . _ ~ + / = (RFC 6750's token characters); the same token may
// appear only once. A line starting with '#' (after leading whitespace) is a
// comment; there are no trailing comments. A file with no token is an error.
// Errors name the file and the line, never the token.
//
// A call presents `authorization: Bearer <token>` (the scheme is
// case-insensitive). Tokens are kept only as SHA-256 digests and compared in
// constant time (CRYPTO_memcmp) against every known token, so the time taken
// does not depend on how much of a token matched.
//
// Thread-safety: immutable after Create; Authorize may be called from any
// number of threads at once.
// Cost: one SHA-256 of the presented token plus one 32-byte comparison per
// known token.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace camserve {

enum class TokenRole { kUser, kAdmin };

// Why a call was refused (a bounded label: camserve_auth_failures_total's
// `reason`).
enum class AuthFailure { kNone, kMissingToken, kInvalidToken, kNotAdmin };
// "missing_token", "invalid_token", "not_admin" ("none" for kNone).
const char* AuthFailureName(AuthFailure failure);

// The verdict on one call: OK, or UNAUTHENTICATED (no token, not a bearer
// token, unknown token) or PERMISSION_DENIED (a user token where an admin
// token is needed), with the failure's kind.
struct AuthDecision {
  Status status;
  AuthFailure failure = AuthFailure::kNone;
};

class TokenAuthenticator {
 public:
  // Parses the text of a token file; `source` names it in errors
  // (INVALID_ARGUMENT: "auth.token_file /etc/tokens line 3: ...").
  static StatusOr<std::unique_ptr<TokenAuthenticator>> Create(std::string_view text, const std::string& source);
  // Reads and parses `path` (NOT_FOUND when it cannot be read).
  static StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(const std::string& path);

  // Checks the value of a call's `authorization` metadata (nullopt: the call
  // has none) for a call that needs `required`.
  AuthDecision Authorize(std::optional<std::string_view> authorization, TokenRole required) const;

  size_t token_count() const { return tokens_.size(); }

  // -- implementation details follow ---------------------------------------
 private:
  struct KnownToken {
    std::array<uint8_t, 32> digest;
    TokenRole role;
  };
  explicit TokenAuthenticator(std::vector<KnownToken> tokens) : tokens_(std::move(tokens)) {}

  const std::vector<KnownToken> tokens_;
};

}  // namespace camserve
