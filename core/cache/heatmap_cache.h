// HeatmapCache: the persistent heatmap cache, a RocksDB directory with an LRU
// size limit in bytes.
//
// Each entry is stored as two records written and deleted together in one
// atomic WriteBatch: the value ('e' + key: a serialized CachedExplanation with
// its checksum) and a small metadata record ('m' + key: last-use tick, value
// size, model name). The LRU index and the size accounting live in memory and
// are rebuilt from the metadata records alone when the cache is opened, so a
// reopen never reads the values, unless a metadata record is damaged or the
// directory was repaired (see "Faults"). A hit refreshes recency in memory only; the refreshed ticks are
// written with the next Store, every `recency_flush_every_hits` hits, and at
// Close/destruction, so recency survives a clean restart without a write per
// hit.
//
// Crash safety: writes go through RocksDB's write-ahead log without fsync, so
// a killed process loses nothing that was written; a power loss may lose the
// last writes but RocksDB recovers to a consistent point in time, and the
// accounting, rebuilt from what survived, is exact.
//
// Size accounting: an entry is charged EntryChargeBytes(value, model): the
// serialized value, the model name and a fixed overhead for keys and
// metadata. After every Store the total is at most max_size_bytes; entries
// are evicted least-recently-used first. RocksDB's own space (tombstones,
// levels not yet compacted, the log) comes on top on disk.
//
// Faults never reach the caller as a failed request: Lookup answers a miss
// and Store drops the value; each is counted (Stats) and logged.
// - A value whose checksum fails, or whose size differs from its metadata,
//   is deleted with its metadata and is a miss (Stats::damaged).
// - A metadata record that does not parse is deleted at open together with
//   its value; the open then reads every value once and deletes values
//   without metadata, so nothing stays on disk outside the accounting.
// - A failed write (disk full, read-only or failing file system) pauses
//   writes: Stores in the next `write_retry_interval_ms` are dropped without
//   touching the disk (each a Stats::write_errors). The first write after
//   that closes and reopens the database (a new log: RocksDB must not
//   append to the one that failed) and rebuilds the index from what is on
//   disk. The reopen waits until the volume has 64 MiB free, so a full disk
//   keeps serving hits from the open database; while a reopen fails there is
//   no database and lookups are misses. Logged once when writes fail, once
//   per failed retry, and once when they work again.
// - A directory RocksDB refuses to open as corrupt is repaired
//   (rocksdb::RepairDB); when that fails too, it is renamed to
//   DIR.damaged-YYYYMMDDTHHMMSSZ and a fresh one is created, or, when it
//   cannot be renamed (a volume mounted there), its files are moved into
//   DIR/damaged-YYYYMMDDTHHMMSSZ. Both are logged at warning level.
//
// Thread-safety: all methods may be called concurrently from many threads.
// Lookup holds the index lock only to find and touch the entry; the RocksDB
// read and the checksum run outside it (under a reader lock on the database
// handle, which only a reopen takes exclusively). Writes (Store, Clear,
// flushes) hold the index lock, so the index and the database change in the
// same order.
// Errors from Open: FAILED_PRECONDITION when another process holds the
// directory (RocksDB's LOCK file), UNAVAILABLE for other open failures
// (including a damaged directory that can be neither repaired nor replaced),
// INVALID_ARGUMENT for bad options.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/batching/clock.h"
#include "core/cache/cached_explanation.h"
#include "core/cache/heatmap_cache_key.h"
#include "core/util/status.h"

namespace rocksdb {
class DB;
class Env;
class FileSystem;
class WriteBatch;
}  // namespace rocksdb

namespace camserve {

class HeatmapCache {
 public:
  struct Options {
    // The RocksDB directory; created (with its parents) when missing.
    std::string dir;
    // Entries are evicted LRU-first to keep the charged total at or below
    // this. Default: 1 GiB.
    int64_t max_size_bytes = int64_t{1} << 30;
    // A value whose serialized size exceeds this is not stored (a huge
    // ORIGINAL-resolution heatmap would push out many ordinary ones).
    // Default: 8 MiB.
    int64_t max_value_bytes = int64_t{8} << 20;
    // Recency refreshed by hits is written at the latest after this many hits
    // (and with every Store, and at close). Default: 1024.
    int recency_flush_every_hits = 1024;
    // After a failed write, how long writes stay paused before the next
    // write tries to recover the database, in milliseconds. Default: 5000.
    int64_t write_retry_interval_ms = 5000;
    // The time source for write retries. Null: the system's steady clock.
    std::shared_ptr<Clock> clock;
    // Tests only: the file system RocksDB works on (a wrapper that injects
    // write failures, tests/core/cache/fault_injection_file_system.h). Null:
    // RocksDB's default (POSIX) file system. Default: null.
    std::shared_ptr<rocksdb::FileSystem> file_system_for_testing;
  };

  struct Stats {
    int64_t entries = 0;
    int64_t bytes = 0;  // charged bytes, see EntryChargeBytes
    int64_t capacity_bytes = 0;
    int64_t hits = 0;       // since open
    int64_t misses = 0;     // since open
    int64_t evictions = 0;  // since open
    // Since open, each also a miss or a dropped value:
    int64_t read_errors = 0;     // RocksDB reads that failed
    int64_t write_errors = 0;    // writes that failed or were dropped while paused
    int64_t damaged = 0;         // damaged values and metadata records deleted
    int64_t errors = 0;          // the sum of the three above
    bool writes_paused = false;  // after a failed write, until one succeeds
  };

  // Fixed per-entry charge for the two keys, the metadata and RocksDB's
  // per-record overhead.
  static constexpr int64_t kEntryOverheadBytes = 128;
  static int64_t EntryChargeBytes(int64_t serialized_value_bytes, const std::string& model) {
    return serialized_value_bytes + static_cast<int64_t>(model.size()) + kEntryOverheadBytes;
  }

  static StatusOr<std::unique_ptr<HeatmapCache>> Open(const Options& options);
  // Flushes recency and closes the database.
  ~HeatmapCache();
  HeatmapCache(const HeatmapCache&) = delete;
  HeatmapCache& operator=(const HeatmapCache&) = delete;

  // The entry under `key`, or nullopt (a miss, or an error counted and
  // logged). Cost: one RocksDB point read and one XXH3 checksum pass over
  // the value.
  std::optional<CachedExplanation> Lookup(const HeatmapCacheKey& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Stores `value` under `key` for `model` (used by Clear), replacing an
  // older value, evicting LRU entries as needed. A value larger than
  // max_value_bytes or the whole capacity is not stored. Failures are counted
  // and logged.
  void Store(const HeatmapCacheKey& key, const std::string& model, const CachedExplanation& value)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Deletes every entry of `model`, or all entries when `model` is empty;
  // returns how many were deleted.
  StatusOr<int64_t> Clear(const std::string& model) ABSL_LOCKS_EXCLUDED(mu_);

  // Writes the recency refreshed by hits since the last flush.
  Status FlushRecency() ABSL_LOCKS_EXCLUDED(mu_);

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  const Options& options() const { return options_; }

  // -- implementation details follow ---------------------------------------
 private:
  struct Entry {
    std::list<HeatmapCacheKey>::iterator lru_position;  // in lru_, front = most recent
    uint64_t last_used_tick = 0;
    int64_t value_bytes = 0;
    int64_t charge_bytes = 0;
    uint64_t generation = 0;  // changes on every Store of the key
    std::string model;
  };

  HeatmapCache(const Options& options, std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db);
  // Rebuilds the index from the metadata records (and, when one is damaged,
  // checks it against the values).
  Status LoadIndexLocked(bool check_values) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes values without valid metadata and entries whose value size
  // differs from their metadata; reads every value.
  Status ReconcileWithValuesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when a write may go to the database: writes are not paused, or the
  // retry interval has passed and RecoverWritesLocked succeeded. Otherwise
  // counts a dropped write.
  Status BeginWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a failed write: closes and reopens the database (the caller then
  // rebuilds the index).
  Status RecoverWritesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The 'm' record of `entry`.
  std::string MetadataRecord(const Entry& entry) const;
  void TouchLocked(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `batch` atomically. Counts and logs a failure; after one, writes
  // fail at once until `write_retry_interval_ms` has passed.
  Status WriteLocked(rocksdb::WriteBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status FlushRecencyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(const HeatmapCacheKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the entry of a value that failed verification (unless a Store
  // replaced it since) and counts it as damaged.
  void DropDamaged(const HeatmapCacheKey& key, uint64_t generation, const std::string& why) ABSL_LOCKS_EXCLUDED(mu_);
  void CountDamaged(int64_t count, const std::string& what);

  const Options options_;
  const std::shared_ptr<Clock> clock_;
  // Owns the test file system's Env; outlives db_.
  std::unique_ptr<rocksdb::Env> env_;
  // Guards the handle, not the database: Lookup reads under a reader lock,
  // a reopen swaps it under the writer lock (inside mu_). Null while a
  // reopen after a write failure has not succeeded.
  mutable absl::Mutex db_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::unique_ptr<rocksdb::DB> db_ ABSL_GUARDED_BY(db_mu_);

  mutable absl::Mutex mu_;
  std::unordered_map<HeatmapCacheKey, Entry, HeatmapCacheKeyHash> index_ ABSL_GUARDED_BY(mu_);
  std::list<HeatmapCacheKey> lru_ ABSL_GUARDED_BY(mu_);
  // Touched since the last recency flush.
  std::unordered_set<HeatmapCacheKey, HeatmapCacheKeyHash> dirty_ ABSL_GUARDED_BY(mu_);
  int64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_tick_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  // Set by a failed write, cleared by the next successful one.
  bool writes_paused_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_write_attempt_us_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t writes_dropped_while_paused_ ABSL_GUARDED_BY(mu_) = 0;

  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> evictions_{0};
  std::atomic<int64_t> read_errors_{0};
  std::atomic<int64_t> write_errors_{0};
  std::atomic<int64_t> damaged_{0};
};

}  // namespace camserve
