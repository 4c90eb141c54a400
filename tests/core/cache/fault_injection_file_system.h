// FaultInjectionFileSystem: RocksDB's default file system with a switch that
// makes every write fail, as a full disk (ENOSPC: RocksDB's NoSpace, which
// DB::Resume can clear) or a read-only or failing one (EROFS/EIO: a plain
// IOError, which RocksDB treats as fatal for its log) would. Passed to
// HeatmapCache through Options::file_system_for_testing.
//
// While a fault is set, creating a file for writing and appending, syncing
// or flushing an open one fail; reads, renames and deletions pass through.
//
// Thread-safety: SetFault may be called while RocksDB's threads write.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <rocksdb/file_system.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace camserve {

enum class WriteFault { kNone, kNoSpace, kReadOnly };

class FaultInjectionFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultInjectionFileSystem() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FaultInjectionFileSystem"; }

  void SetFault(WriteFault fault) { fault_.store(fault); }
  // The next `count` files created whose name contains `part` fail as on a
  // read-only file system (whatever SetFault says).
  void FailNextFilesNamed(const std::string& part, int count) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    failing_name_part_ = part;
    failing_files_left_ = count;
  }
  // Writes refused so far on the thread `thread`. RocksDB's background
  // threads (flushes, WAL syncs, error recovery) write too, when they will;
  // a Put's log record is written by the thread that calls it.
  int failed_writes_on(std::thread::id thread) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto found = failed_writes_by_thread_.find(thread);
    return found == failed_writes_by_thread_.end() ? 0 : found->second;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    if (rocksdb::IOStatus refused = Check(name); !refused.ok()) return refused;
    if (rocksdb::IOStatus refused = CheckName(name); !refused.ok()) return refused;
    std::unique_ptr<rocksdb::FSWritableFile> real;
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, &real, debug);
    if (status.ok()) *file = std::make_unique<File>(std::move(real), this, name);
    return status;
  }

  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* file,
                                       rocksdb::IODebugContext* debug) override {
    if (rocksdb::IOStatus refused = Check(name); !refused.ok()) return refused;
    std::unique_ptr<rocksdb::FSWritableFile> real;
    rocksdb::IOStatus status = target()->ReopenWritableFile(name, options, &real, debug);
    if (status.ok()) *file = std::make_unique<File>(std::move(real), this, name);
    return status;
  }

  // -- implementation details follow ---------------------------------------
 private:
  rocksdb::IOStatus Check(const std::string& name) {
    switch (fault_.load()) {
      case WriteFault::kNone: return rocksdb::IOStatus::OK();
      case WriteFault::kNoSpace:
        CountFailure();
        return rocksdb::IOStatus::NoSpace("injected", name + ": No space left on device");
      case WriteFault::kReadOnly:
        CountFailure();
        return rocksdb::IOStatus::IOError("injected", name + ": Read-only file system");
    }
    return rocksdb::IOStatus::OK();
  }

  void CountFailure() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++failed_writes_by_thread_[std::this_thread::get_id()];
  }

  rocksdb::IOStatus CheckName(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (failing_files_left_ == 0 || name.find(failing_name_part_) == std::string::npos) return rocksdb::IOStatus::OK();
    --failing_files_left_;
    ++failed_writes_by_thread_[std::this_thread::get_id()];
    return rocksdb::IOStatus::IOError("injected", name + ": Read-only file system");
  }

  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> real, FaultInjectionFileSystem* fs, std::string name)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(real)), fs_(fs), name_(std::move(name)) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override {
      if (rocksdb::IOStatus refused = fs_->Check(name_); !refused.ok()) return refused;
      return FSWritableFileOwnerWrapper::Append(data, options, debug);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* debug) override {
      if (rocksdb::IOStatus refused = fs_->Check(name_); !refused.ok()) return refused;
      return FSWritableFileOwnerWrapper::Append(data, options, info, debug);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* debug) override {
      if (rocksdb::IOStatus refused = fs_->Check(name_); !refused.ok()) return refused;
      return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, debug);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& options, rocksdb::IODebugContext* debug) override {
      if (rocksdb::IOStatus refused = fs_->Check(name_); !refused.ok()) return refused;
      return FSWritableFileOwnerWrapper::Flush(options, debug);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* debug) override {
      if (rocksdb::IOStatus refused = fs_->Check(name_); !refused.ok()) return refused;
      return FSWritableFileOwnerWrapper::Sync(options, debug);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* debug) override {
      if (rocksdb::IOStatus refused = fs_->Check(name_); !refused.ok()) return refused;
      return FSWritableFileOwnerWrapper::Fsync(options, debug);
    }

   private:
    FaultInjectionFileSystem* const fs_;
    const std::string name_;
  };

  std::atomic<WriteFault> fault_{WriteFault::kNone};
  std::map<std::thread::id, int> failed_writes_by_thread_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex mu_;
  std::string failing_name_part_ ABSL_GUARDED_BY(mu_);
  int failing_files_left_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace camserve
