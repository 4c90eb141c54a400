#include "core/security/token_authenticator.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/util/file_io.h"
#include "core/util/sha256.h"

namespace camserve {
namespace {

constexpr size_t kMinTokenLength = 16;
constexpr std::string_view kBearerScheme = "bearer";

bool IsTokenCharacter(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

std::array<uint8_t, 32> Digest(std::string_view token) {
  Sha256 sha;
  sha.Update(token);
  return sha.Finish();
}

std::vector<std::string> Fields(const std::string& line) {
  std::istringstream stream(line);
  std::vector<std::string> fields;
  for (std::string field; stream >> field;) fields.push_back(field);
  return fields;
}

// The token of "Bearer <token>", or nullopt for another form.
std::optional<std::string_view> BearerToken(std::string_view authorization) {
  if (authorization.size() <= kBearerScheme.size() || authorization[kBearerScheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < kBearerScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBearerScheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(kBearerScheme.size());
  token.remove_prefix(std::min(token.find_first_not_of(' '), token.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace

const char* AuthFailureName(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kNone: return "none";
    case AuthFailure::kMissingToken: return "missing_token";
    case AuthFailure::kInvalidToken: return "invalid_token";
    case AuthFailure::kNotAdmin: return "not_admin";
  }
  return "none";
}

StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::Create(std::string_view text,
                                                                         const std::string& source) {
  std::vector<KnownToken> tokens;
  std::istringstream lines{std::string(text)};
  int line_number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++line_number;
    const std::vector<std::string> fields = Fields(line);
    if (fields.empty() || fields[0][0] == '#') continue;
    const std::string where = source + " line " + std::to_string(line_number) + ": ";
    if (fields.size() > 2) {
      return InvalidArgumentError(where + "expected '<token>' or '<token> admin', found " +
                                  std::to_string(fields.size()) + " fields");
    }
    const std::string& token = fields[0];
    if (token.size() < kMinTokenLength) {
      return InvalidArgumentError(where + "the token is " + std::to_string(token.size()) + " characters; at least " +
                                  std::to_string(kMinTokenLength) + " are needed");
    }
    if (!std::all_of(token.begin(), token.end(), [](char c) { return IsTokenCharacter(c); })) {
      return InvalidArgumentError(where + "the token has a character outside A-Z a-z 0-9 - . _ ~ + / =");
    }
    TokenRole role = TokenRole::kUser;
    if (fields.size() == 2) {
      if (fields[1] == "admin") {
        role = TokenRole::kAdmin;
      } else if (fields[1] != "user") {
        return InvalidArgumentError(where + "the role must be 'admin' or 'user'");
      }
    }
    const std::array<uint8_t, 32> digest = Digest(token);
    for (const KnownToken& known : tokens) {
      if (known.digest == digest) return InvalidArgumentError(where + "the token appears on an earlier line too");
    }
    tokens.push_back(KnownToken{digest, role});
  }
  if (tokens.empty()) return InvalidArgumentError(source + ": holds no token");
  return std::unique_ptr<TokenAuthenticator>(new TokenAuthenticator(std::move(tokens)));
}

StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromFile(const std::string& path) {
  StatusOr<std::string> text = ReadFileBytes(path);
  if (!text.ok()) return Status(text.status().code(), "auth.token_file: " + text.status().message());
  return Create(*text, "auth.token_file " + path);
}

AuthDecision TokenAuthenticator::Authorize(std::optional<std::string_view> authorization, TokenRole required) const {
  if (!authorization.has_value()) {
    return {UnauthenticatedError("this server needs a token: send metadata 'authorization: Bearer <token>'"),
            AuthFailure::kMissingToken};
  }
  const std::optional<std::string_view> token = BearerToken(*authorization);
  if (!token.has_value()) {
    return {UnauthenticatedError("the authorization metadata is not 'Bearer <token>'"), AuthFailure::kInvalidToken};
  }
  const std::array<uint8_t, 32> digest = Digest(*token);
  // Every known token is compared, so the time does not tell which matched.
  const KnownToken* match = nullptr;
  for (const KnownToken& known : tokens_) {
    if (CRYPTO_memcmp(known.digest.data(), digest.data(), digest.size()) == 0) match = &known;
  }
  if (match == nullptr) return {UnauthenticatedError("the bearer token is not valid"), AuthFailure::kInvalidToken};
  if (required == TokenRole::kAdmin && match->role != TokenRole::kAdmin) {
    return {PermissionDeniedError("this call needs an admin token"), AuthFailure::kNotAdmin};
  }
  return {Status::Ok(), AuthFailure::kNone};
}

}  // namespace camserve
