#include "core/cache/heatmap_cache.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

namespace camserve {
namespace {

constexpr char kValuePrefix = 'e';
constexpr char kMetadataPrefix = 'm';
// Metadata record: last-use tick (u64 LE), value size (u64 LE), model name.
constexpr size_t kMetadataFixedBytes = 16;

std::string RecordKey(char prefix, const HeatmapCacheKey& key) {
  std::string out(1 + key.size(), prefix);
  std::memcpy(out.data() + 1, key.data(), key.size());
  return out;
}

// An entry's two records go together, always in one batch.
void DeleteEntry(const HeatmapCacheKey& key, rocksdb::WriteBatch* batch) {
  batch->Delete(RecordKey(kValuePrefix, key));
  batch->Delete(RecordKey(kMetadataPrefix, key));
}

void PutU64(uint64_t value, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

uint64_t GetU64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  return value;
}

std::string Describe(const rocksdb::Status& status) { return status.ToString(); }

// RocksDB's informational log goes to spdlog instead of a LOG file in the
// cache directory: one place for all logs, and no second file whose writes
// can fail when the disk is full (Debian's RocksDB, built with assertions,
// aborts on the next write to a log file whose append failed).
class SpdlogRocksDbLogger final : public rocksdb::Logger {
 public:
  SpdlogRocksDbLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list args) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, args); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list args) override {
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, args);
    spdlog::log(LevelOf(level), "rocksdb: {}", line);
  }

 private:
  static spdlog::level::level_enum LevelOf(rocksdb::InfoLogLevel level) {
    switch (level) {
      case rocksdb::InfoLogLevel::DEBUG_LEVEL:
      case rocksdb::InfoLogLevel::INFO_LEVEL:
      case rocksdb::InfoLogLevel::HEADER_LEVEL: return spdlog::level::debug;
      case rocksdb::InfoLogLevel::WARN_LEVEL: return spdlog::level::warn;
      default: return spdlog::level::err;
    }
  }
};

// The options every open of the directory uses (the first, a repair, a
// reopen after a write failure).
rocksdb::Options DbOptions(rocksdb::Env* env) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.max_background_jobs = 2;
  db_options.info_log = std::make_shared<SpdlogRocksDbLogger>();
  if (env != nullptr) db_options.env = env;
  // Values are heatmaps of tens to hundreds of KB: keep recent blocks in
  // memory so that hits do not go to the file system.
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(64 << 20);
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  return db_options;
}

rocksdb::Status OpenDb(const std::string& dir, rocksdb::Env* env, std::unique_ptr<rocksdb::DB>* db) {
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(DbOptions(env), dir, &raw_db);
  db->reset(raw_db);
  return opened;
}

// What RocksDB reports for a directory whose own files are damaged (a
// garbled CURRENT or MANIFEST, a missing table file).
bool IsDamaged(const rocksdb::Status& status) { return status.IsCorruption() || status.IsPathNotFound(); }

// YYYYMMDDTHHMMSSZ, now in UTC.
std::string UtcStamp() {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
  return stamp;
}

// Moves the damaged files of `dir` out of RocksDB's way and leaves `dir`
// empty; returns where they went. `dir` is renamed to DIR.damaged-STAMP; a
// directory that cannot be renamed (a volume mounted there) keeps them in
// DIR/damaged-STAMP, which RocksDB ignores.
StatusOr<std::string> MoveAside(const std::string& dir) {
  std::filesystem::path path(dir);
  if (!path.has_filename()) path = path.parent_path();
  const std::string stamp = UtcStamp();
  const std::string renamed = path.string() + ".damaged-" + stamp;
  std::error_code error;
  std::filesystem::rename(path, renamed, error);
  if (!error) {
    std::filesystem::create_directories(path, error);
    if (error) return UnavailableError("cannot create a fresh " + path.string() + ": " + error.message());
    return renamed;
  }
  const std::string rename_error = error.message();
  const std::filesystem::path inside = path / ("damaged-" + stamp);
  std::filesystem::create_directory(inside, error);
  for (std::filesystem::directory_iterator it(path, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("damaged-", 0) == 0) continue;  // this and earlier ones
    std::filesystem::rename(it->path(), inside / name, error);
  }
  if (error) {
    return UnavailableError("cannot move it aside (renaming it to " + renamed + ": " + rename_error +
                            "; moving its files into " + inside.string() + ": " + error.message() + ")");
  }
  return inside.string();
}

// Opens `dir`; a directory RocksDB calls damaged is repaired, or else moved
// aside and replaced by an empty one. `*check_values` tells whether the
// index must be checked against the values (after a repair).
rocksdb::Status OpenOrRecover(const std::string& dir, rocksdb::Env* env, std::unique_ptr<rocksdb::DB>* db,
                              bool* check_values) {
  *check_values = false;
  rocksdb::Status opened = OpenDb(dir, env, db);
  if (!IsDamaged(opened)) return opened;
  const std::string damage = Describe(opened);
  const rocksdb::Status repaired = rocksdb::RepairDB(dir, DbOptions(env));
  if (repaired.ok()) {
    opened = OpenDb(dir, env, db);
    if (opened.ok()) {
      spdlog::warn("heatmap cache {}: RocksDB could not open it ({}); repaired it with RepairDB", dir, damage);
      *check_values = true;
      return opened;
    }
  }
  const std::string why = repaired.ok() ? "reopen after repair: " + Describe(opened) : "repair: " + Describe(repaired);
  const StatusOr<std::string> aside = MoveAside(dir);
  if (!aside.ok()) {
    // Corruption, not IOError: never mistaken for a held LOCK by the caller.
    return rocksdb::Status::Corruption("damaged (" + damage + "; " + why + ")", aside.status().message());
  }
  opened = OpenDb(dir, env, db);
  if (opened.ok()) {
    spdlog::warn("heatmap cache {}: damaged beyond repair ({}; {}); moved its files aside to {} and started empty", dir,
                 damage, why, *aside);
  }
  return opened;
}

// A reopen after a write failure waits for this much free space: RocksDB
// writes the recovered log to a table file (up to a 64 MiB memtable).
constexpr int64_t kMinFreeBytesToReopen = int64_t{64} << 20;

// A metadata record, or nullopt when it cannot be one that Store wrote.
struct Metadata {
  uint64_t last_used_tick = 0;
  int64_t value_bytes = 0;
  std::string model;
};
std::optional<Metadata> ParseMetadata(rocksdb::Slice key, rocksdb::Slice value) {
  // Bounds far above anything Store writes, so that a garbled record cannot
  // overflow the accounting.
  constexpr uint64_t kMaxValueBytes = uint64_t{1} << 32;
  constexpr size_t kMaxModelNameBytes = 4096;
  constexpr uint64_t kMaxTick = uint64_t{1} << 62;
  if (key.size() != 1 + HeatmapCacheKey().size() || value.size() < kMetadataFixedBytes ||
      value.size() > kMetadataFixedBytes + kMaxModelNameBytes) {
    return std::nullopt;
  }
  Metadata metadata;
  metadata.last_used_tick = GetU64(value.data());
  const uint64_t value_bytes = GetU64(value.data() + 8);
  if (metadata.last_used_tick >= kMaxTick || value_bytes == 0 || value_bytes > kMaxValueBytes) return std::nullopt;
  metadata.value_bytes = static_cast<int64_t>(value_bytes);
  metadata.model.assign(value.data() + kMetadataFixedBytes, value.size() - kMetadataFixedBytes);
  return metadata;
}

HeatmapCacheKey KeyOfRecord(rocksdb::Slice record_key) {
  HeatmapCacheKey key;
  std::memcpy(key.data(), record_key.data() + 1, key.size());
  return key;
}

}  // namespace

StatusOr<std::unique_ptr<HeatmapCache>> HeatmapCache::Open(const Options& options) {
  if (options.dir.empty()) return InvalidArgumentError("cache dir must not be empty");
  if (options.max_size_bytes < 1) return BadOptionError("cache max_size_bytes", ">= 1", options.max_size_bytes);
  if (options.max_value_bytes < 1) return BadOptionError("cache max_value_bytes", ">= 1", options.max_value_bytes);
  if (options.recency_flush_every_hits < 1) {
    return BadOptionError("cache recency_flush_every_hits", ">= 1", options.recency_flush_every_hits);
  }
  if (options.write_retry_interval_ms < 0) {
    return BadOptionError("cache write_retry_interval_ms", ">= 0", options.write_retry_interval_ms);
  }
  std::error_code error;
  std::filesystem::create_directories(options.dir, error);
  if (error) {
    return UnavailableError("cannot create cache directory " + options.dir + ": " + error.message());
  }
  std::unique_ptr<rocksdb::Env> env;
  if (options.file_system_for_testing != nullptr) env = rocksdb::NewCompositeEnv(options.file_system_for_testing);
  std::unique_ptr<rocksdb::DB> db;
  bool check_values = false;
  const rocksdb::Status opened = OpenOrRecover(options.dir, env.get(), &db, &check_values);
  if (!opened.ok()) {
    const std::string message = Describe(opened);
    if (opened.IsIOError() && message.find("lock") != std::string::npos) {
      return FailedPreconditionError("cache directory " + options.dir +
                                     " is in use by another camserve process (RocksDB LOCK is held): " + message);
    }
    return UnavailableError("cannot open cache directory " + options.dir + ": " + message);
  }
  std::unique_ptr<HeatmapCache> cache(new HeatmapCache(options, std::move(env), std::move(db)));
  {
    absl::MutexLock lock(&cache->mu_);
    CAMSERVE_RETURN_IF_ERROR(cache->LoadIndexLocked(check_values));
  }
  return cache;
}

HeatmapCache::HeatmapCache(const Options& options, std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : std::make_shared<SystemClock>()),
      env_(std::move(env)),
      db_(std::move(db)) {}

HeatmapCache::~HeatmapCache() {
  const Status flushed = FlushRecency();
  if (!flushed.ok()) spdlog::warn("heatmap cache {}: recency not saved at close: {}", options_.dir, flushed.message());
  absl::WriterMutexLock lock(&db_mu_);
  if (db_ == nullptr) return;
  const rocksdb::Status closed = db_->Close();
  if (!closed.ok()) spdlog::warn("heatmap cache: close of {} failed: {}", options_.dir, Describe(closed));
}

Status HeatmapCache::LoadIndexLocked(bool check_values) {
  struct Loaded {
    HeatmapCacheKey key;
    Entry entry;
  };
  std::vector<Loaded> loaded;
  rocksdb::WriteBatch batch;
  int64_t damaged = 0;
  {
    absl::ReaderMutexLock db_lock(&db_mu_);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const std::string first(1, kMetadataPrefix);
    for (it->Seek(first); it->Valid() && it->key().starts_with(first); it->Next()) {
      std::optional<Metadata> metadata = ParseMetadata(it->key(), it->value());
      if (!metadata.has_value()) {
        // Its value, if the key still names one, goes with it.
        batch.Delete(it->key());
        if (it->key().size() == 1 + HeatmapCacheKey().size()) {
          batch.Delete(RecordKey(kValuePrefix, KeyOfRecord(it->key())));
        }
        ++damaged;
        continue;
      }
      Loaded item;
      item.key = KeyOfRecord(it->key());
      item.entry.last_used_tick = metadata->last_used_tick;
      item.entry.value_bytes = metadata->value_bytes;
      item.entry.model = std::move(metadata->model);
      item.entry.charge_bytes = EntryChargeBytes(item.entry.value_bytes, item.entry.model);
      loaded.push_back(std::move(item));
    }
    if (!it->status().ok())
      return UnavailableError("cannot read cache index in " + options_.dir + ": " + Describe(it->status()));
  }

  // Most recent first, as lru_ keeps them.
  std::sort(loaded.begin(), loaded.end(),
            [](const Loaded& a, const Loaded& b) { return a.entry.last_used_tick > b.entry.last_used_tick; });
  index_.clear();
  lru_.clear();
  dirty_.clear();
  total_bytes_ = 0;
  for (Loaded& item : loaded) {
    next_tick_ = std::max(next_tick_, item.entry.last_used_tick + 1);
    item.entry.generation = next_generation_++;
    item.entry.lru_position = lru_.insert(lru_.end(), item.key);
    total_bytes_ += item.entry.charge_bytes;
    index_.emplace(item.key, std::move(item.entry));
  }
  if (damaged > 0) {
    CountDamaged(damaged, "deleted " + std::to_string(damaged) + " damaged index records with their values");
    CAMSERVE_RETURN_IF_ERROR(WriteLocked(&batch));
    batch.Clear();
  }
  if (damaged > 0 || check_values) CAMSERVE_RETURN_IF_ERROR(ReconcileWithValuesLocked());
  // A smaller limit than last time evicts at open.
  while (total_bytes_ > options_.max_size_bytes && !lru_.empty()) {
    const HeatmapCacheKey victim = lru_.back();
    DeleteEntry(victim, &batch);
    RemoveLocked(victim);
    evictions_.fetch_add(1);
  }
  if (batch.Count() > 0) CAMSERVE_RETURN_IF_ERROR(WriteLocked(&batch));
  spdlog::info("heatmap cache {}: {} entries, {} of {} bytes", options_.dir, index_.size(), total_bytes_,
               options_.max_size_bytes);
  return Status::Ok();
}

Status HeatmapCache::ReconcileWithValuesLocked() {
  rocksdb::WriteBatch batch;
  std::vector<HeatmapCacheKey> mismatched;
  std::unordered_set<HeatmapCacheKey, HeatmapCacheKeyHash> with_value;
  int64_t orphans = 0;
  {
    absl::ReaderMutexLock db_lock(&db_mu_);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const std::string first(1, kValuePrefix);
    for (it->Seek(first); it->Valid() && it->key().starts_with(first); it->Next()) {
      if (it->key().size() != 1 + HeatmapCacheKey().size()) {
        batch.Delete(it->key());
        ++orphans;
        continue;
      }
      const HeatmapCacheKey key = KeyOfRecord(it->key());
      const auto found = index_.find(key);
      if (found == index_.end()) {
        batch.Delete(it->key());
        ++orphans;
      } else if (found->second.value_bytes != static_cast<int64_t>(it->value().size())) {
        mismatched.push_back(key);
      } else {
        with_value.insert(key);
      }
    }
    if (!it->status().ok())
      return UnavailableError("cannot read cache values in " + options_.dir + ": " + Describe(it->status()));
  }
  for (const auto& [key, entry] : index_) {
    if (with_value.count(key) == 0 && std::find(mismatched.begin(), mismatched.end(), key) == mismatched.end()) {
      mismatched.push_back(key);
    }
  }
  for (const HeatmapCacheKey& key : mismatched) {
    DeleteEntry(key, &batch);
    RemoveLocked(key);
  }
  const int64_t damaged = orphans + static_cast<int64_t>(mismatched.size());
  if (damaged == 0) return Status::Ok();
  CountDamaged(damaged, "checked the values against the index: deleted " + std::to_string(orphans) +
                            " values without an index record and " + std::to_string(mismatched.size()) +
                            " entries whose value is missing or of another size");
  return WriteLocked(&batch);
}

Status HeatmapCache::BeginWriteLocked() {
  if (!writes_paused_) return Status::Ok();
  const int64_t now_us = clock_->NowMicros();
  Status recovered = UnavailableError("cache writes are paused after a write failure");
  if (now_us >= next_write_attempt_us_) {
    recovered = RecoverWritesLocked();
    // The log of the failed write may have been replayed: count what is there.
    if (recovered.ok()) recovered = LoadIndexLocked(/*check_values=*/false);
    if (recovered.ok()) return recovered;
    next_write_attempt_us_ = now_us + options_.write_retry_interval_ms * 1000;
    spdlog::error("heatmap cache {}: writes still fail ({} dropped since the first failure); next try in {} ms: {}",
                  options_.dir, writes_dropped_while_paused_ + 1, options_.write_retry_interval_ms,
                  recovered.message());
  }
  ++writes_dropped_while_paused_;
  write_errors_.fetch_add(1);
  return recovered;
}

Status HeatmapCache::RecoverWritesLocked() {
  // Reopening closes the database that still serves hits; on a volume that
  // is still full it would fail, so wait for room first.
  std::error_code error;
  const std::filesystem::space_info space = std::filesystem::space(options_.dir, error);
  if (!error && space.available < static_cast<uintmax_t>(kMinFreeBytesToReopen)) {
    return UnavailableError("only " + std::to_string(space.available) + " bytes free on the cache's volume");
  }
  absl::WriterMutexLock db_lock(&db_mu_);
  if (db_ != nullptr) {
    const rocksdb::Status closed = db_->Close();
    if (!closed.ok()) spdlog::warn("heatmap cache {}: close before reopening: {}", options_.dir, Describe(closed));
    db_.reset();
  }
  const rocksdb::Status opened = OpenDb(options_.dir, env_.get(), &db_);
  if (!opened.ok()) {
    db_.reset();
    return UnavailableError("cannot reopen the cache database (lookups are misses until it opens): " +
                            Describe(opened));
  }
  return Status::Ok();
}

Status HeatmapCache::WriteLocked(rocksdb::WriteBatch* batch) {
  rocksdb::Status written;
  {
    absl::ReaderMutexLock db_lock(&db_mu_);
    written = db_ != nullptr ? db_->Write(rocksdb::WriteOptions(), batch)
                             : rocksdb::Status::IOError("the cache database is not open");
  }
  if (written.ok()) {
    if (writes_paused_) {
      spdlog::warn("heatmap cache {}: writes work again; {} writes were dropped while they failed", options_.dir,
                   writes_dropped_while_paused_);
      writes_paused_ = false;
      writes_dropped_while_paused_ = 0;
    }
    return Status::Ok();
  }
  write_errors_.fetch_add(1);
  if (!writes_paused_) {
    spdlog::error("heatmap cache {}: write failed; answers are not stored, next try in {} ms: {}", options_.dir,
                  options_.write_retry_interval_ms, Describe(written));
  } else {
    spdlog::error("heatmap cache {}: writes still fail ({} dropped since the first failure); next try in {} ms: {}",
                  options_.dir, writes_dropped_while_paused_ + 1, options_.write_retry_interval_ms, Describe(written));
  }
  writes_paused_ = true;
  ++writes_dropped_while_paused_;
  next_write_attempt_us_ = clock_->NowMicros() + options_.write_retry_interval_ms * 1000;
  return UnavailableError("cache write failed: " + Describe(written));
}

std::string HeatmapCache::MetadataRecord(const Entry& entry) const {
  std::string record;
  record.reserve(kMetadataFixedBytes + entry.model.size());
  PutU64(entry.last_used_tick, &record);
  PutU64(static_cast<uint64_t>(entry.value_bytes), &record);
  record.append(entry.model);
  return record;
}

void HeatmapCache::TouchLocked(Entry& entry) {
  entry.last_used_tick = next_tick_++;
  lru_.splice(lru_.begin(), lru_, entry.lru_position);
}

void HeatmapCache::RemoveLocked(const HeatmapCacheKey& key) {
  const auto found = index_.find(key);
  if (found == index_.end()) return;
  total_bytes_ -= found->second.charge_bytes;
  lru_.erase(found->second.lru_position);
  dirty_.erase(key);
  index_.erase(found);
}

void HeatmapCache::CountDamaged(int64_t count, const std::string& what) {
  damaged_.fetch_add(count);
  spdlog::warn("heatmap cache {}: {}", options_.dir, what);
}

std::optional<CachedExplanation> HeatmapCache::Lookup(const HeatmapCacheKey& key) {
  uint64_t generation = 0;
  int64_t value_bytes = 0;
  bool flush_due = false;
  {
    absl::MutexLock lock(&mu_);
    const auto found = index_.find(key);
    if (found == index_.end()) {
      misses_.fetch_add(1);
      return std::nullopt;
    }
    TouchLocked(found->second);
    generation = found->second.generation;
    value_bytes = found->second.value_bytes;
    dirty_.insert(key);
    flush_due = static_cast<int>(dirty_.size()) >= options_.recency_flush_every_hits;
  }
  if (flush_due) {
    const Status flushed = FlushRecency();
    if (!flushed.ok()) spdlog::debug("heatmap cache {}: recency not saved: {}", options_.dir, flushed.message());
  }
  std::string damage;
  std::optional<CachedExplanation> hit;
  {
    // The pinned value lives in the database's block cache: parse it before
    // a reopen may close the database.
    absl::ReaderMutexLock db_lock(&db_mu_);
    if (db_ == nullptr) {
      misses_.fetch_add(1);
      return std::nullopt;
    }
    rocksdb::PinnableSlice value;
    const rocksdb::Status read =
        db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), RecordKey(kValuePrefix, key), &value);
    if (read.IsNotFound()) {
      // Evicted or cleared between the index lookup and the read.
      misses_.fetch_add(1);
      return std::nullopt;
    }
    if (read.IsCorruption()) {
      damage = "RocksDB reports corruption: " + Describe(read);
    } else if (!read.ok()) {
      read_errors_.fetch_add(1);
      misses_.fetch_add(1);
      spdlog::warn("heatmap cache {}: read failed: {}", options_.dir, Describe(read));
      return std::nullopt;
    } else if (static_cast<int64_t>(value.size()) != value_bytes) {
      damage = "the value has " + std::to_string(value.size()) + " bytes, its index record says " +
               std::to_string(value_bytes);
    } else {
      StatusOr<CachedExplanation> parsed = ParseCachedExplanation(std::string_view(value.data(), value.size()));
      if (parsed.ok()) {
        hit = std::move(parsed).value();
      } else {
        damage = parsed.status().message();
      }
    }
  }
  if (hit.has_value()) {
    hits_.fetch_add(1);
    return hit;
  }
  DropDamaged(key, generation, damage);
  misses_.fetch_add(1);
  return std::nullopt;
}

void HeatmapCache::DropDamaged(const HeatmapCacheKey& key, uint64_t generation, const std::string& why) {
  CountDamaged(1, "damaged value deleted: " + why);
  absl::MutexLock lock(&mu_);
  const auto found = index_.find(key);
  // A Store since the read replaced the damaged value: keep the new one.
  if (found == index_.end() || found->second.generation != generation) return;
  if (!BeginWriteLocked().ok()) return;
  rocksdb::WriteBatch batch;
  DeleteEntry(key, &batch);
  if (WriteLocked(&batch).ok()) RemoveLocked(key);
}

void HeatmapCache::Store(const HeatmapCacheKey& key, const std::string& model, const CachedExplanation& value) {
  const std::string serialized = SerializeCachedExplanation(value);
  const int64_t charge = EntryChargeBytes(static_cast<int64_t>(serialized.size()), model);
  if (static_cast<int64_t>(serialized.size()) > options_.max_value_bytes) {
    spdlog::debug("heatmap cache: a value of {} bytes exceeds max_value_bytes {}; not stored", serialized.size(),
                  options_.max_value_bytes);
    return;
  }
  if (charge > options_.max_size_bytes) {
    spdlog::debug("heatmap cache: a value of {} bytes exceeds the whole capacity {}; not stored", charge,
                  options_.max_size_bytes);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (!BeginWriteLocked().ok()) return;
  rocksdb::WriteBatch batch;
  const auto existing = index_.find(key);
  Entry entry;
  entry.value_bytes = static_cast<int64_t>(serialized.size());
  entry.charge_bytes = charge;
  entry.model = model;
  entry.generation = next_generation_++;
  entry.last_used_tick = next_tick_++;
  batch.Put(RecordKey(kValuePrefix, key), serialized);
  batch.Put(RecordKey(kMetadataPrefix, key), MetadataRecord(entry));
  // A replaced value is charged anew; it is never its own victim.
  std::vector<HeatmapCacheKey> victims;
  int64_t total = total_bytes_ + charge - (existing == index_.end() ? 0 : existing->second.charge_bytes);
  for (auto it = lru_.rbegin(); total > options_.max_size_bytes && it != lru_.rend(); ++it) {
    if (*it == key) continue;
    victims.push_back(*it);
    total -= index_.at(*it).charge_bytes;
  }
  for (const HeatmapCacheKey& victim : victims) {
    DeleteEntry(victim, &batch);
  }
  // Recency refreshed by hits rides along.
  for (const HeatmapCacheKey& touched : dirty_) {
    if (touched == key || std::find(victims.begin(), victims.end(), touched) != victims.end()) continue;
    batch.Put(RecordKey(kMetadataPrefix, touched), MetadataRecord(index_.at(touched)));
  }
  // On failure nothing of the batch was applied: the index still matches
  // the disk (WriteLocked counted and logged it).
  if (!WriteLocked(&batch).ok()) return;
  dirty_.clear();
  RemoveLocked(key);
  for (const HeatmapCacheKey& victim : victims) RemoveLocked(victim);
  evictions_.fetch_add(static_cast<int64_t>(victims.size()));
  entry.lru_position = lru_.insert(lru_.begin(), key);
  total_bytes_ += charge;
  index_.emplace(key, std::move(entry));
}

Status HeatmapCache::FlushRecency() {
  absl::MutexLock lock(&mu_);
  return FlushRecencyLocked();
}

Status HeatmapCache::FlushRecencyLocked() {
  if (dirty_.empty()) return Status::Ok();
  CAMSERVE_RETURN_IF_ERROR(BeginWriteLocked());
  rocksdb::WriteBatch batch;
  for (const HeatmapCacheKey& touched : dirty_) {
    batch.Put(RecordKey(kMetadataPrefix, touched), MetadataRecord(index_.at(touched)));
  }
  CAMSERVE_RETURN_IF_ERROR(WriteLocked(&batch));
  dirty_.clear();
  return Status::Ok();
}

StatusOr<int64_t> HeatmapCache::Clear(const std::string& model) {
  absl::MutexLock lock(&mu_);
  std::vector<HeatmapCacheKey> doomed;
  for (const auto& [key, entry] : index_) {
    if (model.empty() || entry.model == model) doomed.push_back(key);
  }
  CAMSERVE_RETURN_IF_ERROR(BeginWriteLocked());
  rocksdb::WriteBatch batch;
  for (const HeatmapCacheKey& key : doomed) {
    DeleteEntry(key, &batch);
  }
  CAMSERVE_RETURN_IF_ERROR(WriteLocked(&batch));
  for (const HeatmapCacheKey& key : doomed) RemoveLocked(key);
  return static_cast<int64_t>(doomed.size());
}

HeatmapCache::Stats HeatmapCache::stats() const {
  Stats stats;
  {
    absl::MutexLock lock(&mu_);
    stats.entries = static_cast<int64_t>(index_.size());
    stats.bytes = total_bytes_;
    stats.writes_paused = writes_paused_;
  }
  stats.capacity_bytes = options_.max_size_bytes;
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.evictions = evictions_.load();
  stats.read_errors = read_errors_.load();
  stats.write_errors = write_errors_.load();
  stats.damaged = damaged_.load();
  stats.errors = stats.read_errors + stats.write_errors + stats.damaged;
  return stats;
}

}  // namespace camserve
