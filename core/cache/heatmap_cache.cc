#include "core/cache/heatmap_cache.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
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

}  // namespace

StatusOr<std::unique_ptr<HeatmapCache>> HeatmapCache::Open(const Options& options) {
  if (options.dir.empty()) return InvalidArgumentError("cache dir must not be empty");
  if (options.max_size_bytes < 1) {
    return InvalidArgumentError("cache max_size_bytes must be >= 1; was " + std::to_string(options.max_size_bytes));
  }
  if (options.max_value_bytes < 1) {
    return InvalidArgumentError("cache max_value_bytes must be >= 1; was " + std::to_string(options.max_value_bytes));
  }
  if (options.recency_flush_every_hits < 1) {
    return InvalidArgumentError("cache recency_flush_every_hits must be >= 1; was " +
                                std::to_string(options.recency_flush_every_hits));
  }
  std::error_code error;
  std::filesystem::create_directories(options.dir, error);
  if (error) {
    return UnavailableError("cannot create cache directory " + options.dir + ": " + error.message());
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.max_background_jobs = 2;
  db_options.info_log = std::make_shared<SpdlogRocksDbLogger>();
  // Values are heatmaps of tens to hundreds of KB: keep recent blocks in
  // memory so that hits do not go to the file system.
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(64 << 20);
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(db_options, options.dir, &raw_db);
  if (!opened.ok()) {
    const std::string message = Describe(opened);
    if (opened.IsIOError() && message.find("lock") != std::string::npos) {
      return FailedPreconditionError("cache directory " + options.dir +
                                     " is in use by another camserve process (RocksDB LOCK is held): " + message);
    }
    return UnavailableError("cannot open cache directory " + options.dir + ": " + message);
  }
  std::unique_ptr<HeatmapCache> cache(new HeatmapCache(options, std::unique_ptr<rocksdb::DB>(raw_db)));
  CAMSERVE_RETURN_IF_ERROR(cache->LoadIndex());
  return cache;
}

HeatmapCache::HeatmapCache(const Options& options, std::unique_ptr<rocksdb::DB> db)
    : options_(options), db_(std::move(db)) {}

HeatmapCache::~HeatmapCache() {
  const Status flushed = FlushRecency();
  if (!flushed.ok()) spdlog::warn("heatmap cache: recency not saved at close: {}", flushed.ToString());
  const rocksdb::Status closed = db_->Close();
  if (!closed.ok()) spdlog::warn("heatmap cache: close of {} failed: {}", options_.dir, Describe(closed));
}

Status HeatmapCache::LoadIndex() {
  struct Loaded {
    HeatmapCacheKey key;
    Entry entry;
  };
  std::vector<Loaded> loaded;
  std::vector<std::string> damaged;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const std::string first(1, kMetadataPrefix);
  for (it->Seek(first); it->Valid() && it->key().starts_with(first); it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    if (key.size() != 1 + HeatmapCacheKey().size() || value.size() < kMetadataFixedBytes) {
      damaged.push_back(key.ToString());
      continue;
    }
    Loaded item;
    std::memcpy(item.key.data(), key.data() + 1, item.key.size());
    item.entry.last_used_tick = GetU64(value.data());
    item.entry.value_bytes = static_cast<int64_t>(GetU64(value.data() + 8));
    item.entry.model.assign(value.data() + kMetadataFixedBytes, value.size() - kMetadataFixedBytes);
    item.entry.charge_bytes = EntryChargeBytes(item.entry.value_bytes, item.entry.model);
    loaded.push_back(std::move(item));
  }
  if (!it->status().ok())
    return UnavailableError("cannot read cache index in " + options_.dir + ": " + Describe(it->status()));
  it.reset();

  // Most recent first, as lru_ keeps them.
  std::sort(loaded.begin(), loaded.end(),
            [](const Loaded& a, const Loaded& b) { return a.entry.last_used_tick > b.entry.last_used_tick; });
  absl::MutexLock lock(&mu_);
  for (Loaded& item : loaded) {
    next_tick_ = std::max(next_tick_, item.entry.last_used_tick + 1);
    item.entry.generation = next_generation_++;
    item.entry.lru_position = lru_.insert(lru_.end(), item.key);
    total_bytes_ += item.entry.charge_bytes;
    index_.emplace(item.key, std::move(item.entry));
  }
  rocksdb::WriteBatch batch;
  for (const std::string& key : damaged) batch.Delete(key);
  // A smaller limit than last time evicts at open.
  while (total_bytes_ > options_.max_size_bytes && !lru_.empty()) {
    const HeatmapCacheKey victim = lru_.back();
    DeleteEntry(victim, &batch);
    RemoveLocked(victim);
    evictions_.fetch_add(1);
  }
  if (batch.Count() > 0) {
    if (!damaged.empty()) {
      errors_.fetch_add(static_cast<int64_t>(damaged.size()));
      spdlog::warn("heatmap cache: deleted {} damaged index records in {}", damaged.size(), options_.dir);
    }
    CAMSERVE_RETURN_IF_ERROR(WriteLocked(&batch));
  }
  spdlog::info("heatmap cache {}: {} entries, {} of {} bytes", options_.dir, index_.size(), total_bytes_,
               options_.max_size_bytes);
  return Status::Ok();
}

Status HeatmapCache::WriteLocked(rocksdb::WriteBatch* batch) {
  if (writes_stopped_)
    return UnavailableError("cache writes are stopped after an earlier write error: " + first_write_error_);
  const rocksdb::Status written = db_->Write(rocksdb::WriteOptions(), batch);
  if (written.ok()) return Status::Ok();
  // RocksDB does not take a second write into a log whose append failed
  // (its debug builds, Debian's among them, abort), so the cache goes
  // read-only until the next start.
  writes_stopped_ = true;
  first_write_error_ = Describe(written);
  spdlog::error("heatmap cache {}: write failed, no more values are stored until restart: {}", options_.dir,
                first_write_error_);
  return UnavailableError("cache write failed: " + first_write_error_);
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

void HeatmapCache::CountError(const std::string& what) {
  errors_.fetch_add(1);
  spdlog::warn("heatmap cache {}: {}", options_.dir, what);
}

std::optional<CachedExplanation> HeatmapCache::Lookup(const HeatmapCacheKey& key) {
  uint64_t generation = 0;
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
    dirty_.insert(key);
    flush_due = static_cast<int>(dirty_.size()) >= options_.recency_flush_every_hits;
  }
  if (flush_due) {
    const Status flushed = FlushRecency();
    if (!flushed.ok()) CountError("recency not saved: " + flushed.ToString());
  }
  rocksdb::PinnableSlice value;
  const rocksdb::Status read =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), RecordKey(kValuePrefix, key), &value);
  if (read.IsNotFound()) {
    // Evicted or cleared between the index lookup and the read.
    misses_.fetch_add(1);
    return std::nullopt;
  }
  if (!read.ok()) {
    CountError("read failed: " + Describe(read));
    if (read.IsCorruption()) DropDamaged(key, generation, Describe(read));
    misses_.fetch_add(1);
    return std::nullopt;
  }
  StatusOr<CachedExplanation> parsed = ParseCachedExplanation(std::string_view(value.data(), value.size()));
  if (!parsed.ok()) {
    CountError("damaged value deleted: " + parsed.status().message());
    DropDamaged(key, generation, parsed.status().message());
    misses_.fetch_add(1);
    return std::nullopt;
  }
  hits_.fetch_add(1);
  return std::move(parsed).value();
}

void HeatmapCache::DropDamaged(const HeatmapCacheKey& key, uint64_t generation, const std::string& why) {
  absl::MutexLock lock(&mu_);
  const auto found = index_.find(key);
  // A Store since the read replaced the damaged value: keep the new one.
  if (found == index_.end() || found->second.generation != generation) return;
  rocksdb::WriteBatch batch;
  DeleteEntry(key, &batch);
  const Status written = WriteLocked(&batch);
  if (!written.ok()) {
    CountError("cannot delete damaged entry (" + why + "): " + written.message());
    return;
  }
  RemoveLocked(key);
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
  const Status written = WriteLocked(&batch);
  if (!written.ok()) {
    // Nothing of the batch was applied: the index still matches the disk.
    CountError("store failed: " + written.message());
    return;
  }
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
  rocksdb::WriteBatch batch;
  for (const HeatmapCacheKey& key : doomed) {
    DeleteEntry(key, &batch);
  }
  const Status written = WriteLocked(&batch);
  if (!written.ok()) {
    CountError("clear failed: " + written.message());
    return written;
  }
  for (const HeatmapCacheKey& key : doomed) RemoveLocked(key);
  return static_cast<int64_t>(doomed.size());
}

HeatmapCache::Stats HeatmapCache::stats() const {
  Stats stats;
  {
    absl::MutexLock lock(&mu_);
    stats.entries = static_cast<int64_t>(index_.size());
    stats.bytes = total_bytes_;
  }
  stats.capacity_bytes = options_.max_size_bytes;
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.evictions = evictions_.load();
  stats.errors = errors_.load();
  return stats;
}

}  // namespace camserve
