// HeatmapCache: the persistent heatmap cache, a RocksDB directory with an LRU
// size limit in bytes.
//
// Each entry is stored as two records written and deleted together in one
// atomic WriteBatch: the value ('e' + key: a serialized CachedExplanation with
// its checksum) and a small metadata record ('m' + key: last-use tick, value
// size, model name). The LRU index and the size accounting live in memory and
// are rebuilt from the metadata records alone when the cache is opened, so a
// reopen never reads the values. A hit refreshes recency in memory only; the
// refreshed ticks are written with the next Store, every
// `recency_flush_every_hits` hits, and at Close/destruction, so recency
// survives a clean restart without a write per hit.
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
// Failures never reach the caller as a failed request: Lookup answers a miss
// and Store drops the value; the error is counted (stats().errors) and logged.
// A value whose checksum does not match is deleted and is a miss. After a
// failed write (disk full, I/O error) the cache stops writing until it is
// reopened and keeps answering hits from what it holds.
//
// Thread-safety: all methods may be called concurrently from many threads.
// Lookup holds the index lock only to find and touch the entry; the RocksDB
// read and the checksum run outside it. Writes (Store, Clear, flushes) hold
// it, so the index and the database change in the same order.
// Errors from Open: FAILED_PRECONDITION when another process holds the
// directory (RocksDB's LOCK file), UNAVAILABLE for other open failures,
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
#include "core/cache/cached_explanation.h"
#include "core/cache/heatmap_cache_key.h"
#include "core/util/status.h"

namespace rocksdb {
class DB;
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
  };

  struct Stats {
    int64_t entries = 0;
    int64_t bytes = 0;  // charged bytes, see EntryChargeBytes
    int64_t capacity_bytes = 0;
    int64_t hits = 0;       // since open
    int64_t misses = 0;     // since open
    int64_t evictions = 0;  // since open
    int64_t errors = 0;     // since open: I/O failures and damaged values
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

  HeatmapCache(const Options& options, std::unique_ptr<rocksdb::DB> db);
  Status LoadIndex() ABSL_LOCKS_EXCLUDED(mu_);
  // The 'm' record of `entry`.
  std::string MetadataRecord(const Entry& entry) const;
  void TouchLocked(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `batch` atomically; after the first failure every write fails.
  Status WriteLocked(rocksdb::WriteBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status FlushRecencyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(const HeatmapCacheKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropDamaged(const HeatmapCacheKey& key, uint64_t generation, const std::string& why) ABSL_LOCKS_EXCLUDED(mu_);
  void CountError(const std::string& what);

  const Options options_;
  std::unique_ptr<rocksdb::DB> db_;

  mutable absl::Mutex mu_;
  std::unordered_map<HeatmapCacheKey, Entry, HeatmapCacheKeyHash> index_ ABSL_GUARDED_BY(mu_);
  std::list<HeatmapCacheKey> lru_ ABSL_GUARDED_BY(mu_);
  // Touched since the last recency flush.
  std::unordered_set<HeatmapCacheKey, HeatmapCacheKeyHash> dirty_ ABSL_GUARDED_BY(mu_);
  int64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_tick_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  bool writes_stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::string first_write_error_ ABSL_GUARDED_BY(mu_);

  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> evictions_{0};
  std::atomic<int64_t> errors_{0};
};

}  // namespace camserve
