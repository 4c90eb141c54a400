#include "core/security/token_file.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "core/util/file_io.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

constexpr char kFirst[] = "first-token-0123456789";
constexpr char kSecond[] = "second-token-0123456789";

bool Accepts(TokenFile& file, const std::string& token) {
  return file.Current()->Authorize("Bearer " + token, TokenRole::kUser).status.ok();
}

// Replaces `path` by a rename, as the documentation asks.
void Replace(const TempDir& dir, const std::string& path, const std::string& text) {
  const std::string staged = dir / "staged";
  REQUIRE(WriteFileBytes(staged, text).ok());
  std::filesystem::rename(staged, path);
}

struct Reloads {
  std::vector<Status> outcomes;
  std::vector<size_t> counts;
  TokenFile::ReloadCallback Callback() {
    return [this](const Status& status, size_t count) {
      outcomes.push_back(status);
      counts.push_back(count);
    };
  }
};

TEST_CASE("a changed token file is read again on the next call; unchanged, it is not") {
  TempDir dir;
  const std::string path = dir / "tokens";
  REQUIRE(WriteFileBytes(path, std::string(kFirst) + "\n").ok());
  Reloads reloads;
  StatusOr<std::unique_ptr<TokenFile>> file = TokenFile::Open(path, reloads.Callback());
  REQUIRE(file.ok());
  CHECK(Accepts(**file, kFirst));
  CHECK_FALSE(Accepts(**file, kSecond));
  CHECK(reloads.outcomes.empty());

  Replace(dir, path, std::string(kSecond) + "\n");
  CHECK(Accepts(**file, kSecond));
  CHECK_FALSE(Accepts(**file, kFirst));
  REQUIRE(reloads.outcomes.size() == 1);
  CHECK(reloads.outcomes[0].ok());
  CHECK(reloads.counts[0] == 1);
}

TEST_CASE("a token file that breaks or vanishes keeps the tokens in force") {
  TempDir dir;
  const std::string path = dir / "tokens";
  REQUIRE(WriteFileBytes(path, std::string(kFirst) + "\n").ok());
  Reloads reloads;
  StatusOr<std::unique_ptr<TokenFile>> file = TokenFile::Open(path, reloads.Callback());
  REQUIRE(file.ok());

  Replace(dir, path, "short\n");
  CHECK(Accepts(**file, kFirst));
  CHECK(Accepts(**file, kFirst));
  REQUIRE(reloads.outcomes.size() == 1);  // once per change
  CHECK(reloads.outcomes[0].code() == StatusCode::kInvalidArgument);
  CHECK(reloads.counts[0] == 1);

  std::filesystem::remove(path);
  CHECK(Accepts(**file, kFirst));
  Replace(dir, path, std::string(kSecond) + " admin\n");
  CHECK(Accepts(**file, kSecond));
  CHECK_FALSE(Accepts(**file, kFirst));
}

TEST_CASE("a token file that cannot be read at start is an error") {
  StatusOr<std::unique_ptr<TokenFile>> file = TokenFile::Open("/no/such/tokens", {});
  REQUIRE_FALSE(file.ok());
  CHECK(file.status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace camserve
