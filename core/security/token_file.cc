#include "core/security/token_file.h"

#include <sys/stat.h>

#include <optional>

namespace camserve {
namespace {

// The file's stamp, or nullopt when it cannot be looked at.
std::optional<TokenFile::Stamp> StampOf(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return std::nullopt;
  TokenFile::Stamp stamp;
  stamp.mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  stamp.size = static_cast<int64_t>(info.st_size);
  stamp.inode = info.st_ino;
  return stamp;
}

}  // namespace

StatusOr<std::unique_ptr<TokenFile>> TokenFile::Open(const std::string& path, ReloadCallback on_reload) {
  const Stamp stamp = StampOf(path).value_or(Stamp{});
  StatusOr<std::unique_ptr<TokenAuthenticator>> tokens = TokenAuthenticator::FromFile(path);
  if (!tokens.ok()) return tokens.status();
  return std::unique_ptr<TokenFile>(new TokenFile(path, std::move(on_reload), std::move(tokens).value(), stamp));
}

TokenFile::TokenFile(std::string path, ReloadCallback on_reload, std::shared_ptr<const TokenAuthenticator> tokens,
                     Stamp stamp)
    : path_(std::move(path)), on_reload_(std::move(on_reload)), tokens_(std::move(tokens)), stamp_(stamp) {}

std::shared_ptr<const TokenAuthenticator> TokenFile::Current() {
  const std::optional<Stamp> now = StampOf(path_);
  {
    absl::MutexLock lock(&mu_);
    // A file that vanished keeps the tokens in force; its return is a change.
    if (!now.has_value() || *now == stamp_) return tokens_;
  }
  StatusOr<std::unique_ptr<TokenAuthenticator>> reread = TokenAuthenticator::FromFile(path_);
  const Status outcome = reread.status();
  std::shared_ptr<const TokenAuthenticator> current;
  bool first_to_see_it = false;
  {
    absl::MutexLock lock(&mu_);
    if (!(*now == stamp_)) {
      first_to_see_it = true;
      stamp_ = *now;
      if (reread.ok()) tokens_ = std::move(reread).value();
    }
    current = tokens_;
  }
  if (first_to_see_it && on_reload_) on_reload_(outcome, current->token_count());
  return current;
}

}  // namespace camserve
