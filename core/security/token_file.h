// TokenFile: the token file (auth.token_file) kept current, so tokens can be
// added or revoked without a restart. Each Current() looks at the file's
// modification time, size and inode (one stat, no read); when they changed,
// the file is read and parsed again (TokenAuthenticator::FromFile) outside
// the lock. A file that no longer reads or parses keeps the tokens in force;
// `on_reload` hears of every reload, OK or not (the server logs it). Replace
// the file by a rename so that a reader never sees half of it.
//
// Thread-safety: Current() may be called from any number of threads; mu_
// guards the tokens in force and the stamp they were read at.
// Cost: one stat per call; a read and parse of the file when it changed.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/security/token_authenticator.h"
#include "core/util/status.h"

namespace camserve {

class TokenFile {
 public:
  // Called after each reload attempt with its outcome (OK, or why the old
  // tokens stay) and the number of tokens in force.
  using ReloadCallback = std::function<void(const Status& status, size_t token_count)>;

  // Reads `path`; errors as TokenAuthenticator::FromFile's.
  static StatusOr<std::unique_ptr<TokenFile>> Open(const std::string& path, ReloadCallback on_reload);

  // The tokens in force, re-read first if the file changed.
  std::shared_ptr<const TokenAuthenticator> Current() ABSL_LOCKS_EXCLUDED(mu_);

  // -- implementation details follow ---------------------------------------
  // What identifies a version of the file without reading it.
  struct Stamp {
    int64_t mtime_ns = 0;
    int64_t size = 0;
    ino_t inode = 0;
    bool operator==(const Stamp& other) const {
      return mtime_ns == other.mtime_ns && size == other.size && inode == other.inode;
    }
  };

 private:
  TokenFile(std::string path, ReloadCallback on_reload, std::shared_ptr<const TokenAuthenticator> tokens, Stamp stamp);

  const std::string path_;
  const ReloadCallback on_reload_;
  absl::Mutex mu_;
  std::shared_ptr<const TokenAuthenticator> tokens_ ABSL_GUARDED_BY(mu_);
  // The stamp of the file when it was last read (or failed to parse).
  Stamp stamp_ ABSL_GUARDED_BY(mu_);
};

}  // namespace camserve
