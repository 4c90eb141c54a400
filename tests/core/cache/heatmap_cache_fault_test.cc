// Faults of the heatmap cache: write failures injected while it serves (a
// full disk, a read-only file system), damaged directories at open, damaged
// index records and values. Every case checks that no wrong value is served
// and that the size accounting matches what is on disk.
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <rocksdb/db.h>

#include "core/cache/heatmap_cache.h"
#include "tests/core/batching/fake_clock.h"
#include "tests/core/cache/cache_test_values.h"
#include "tests/core/cache/fault_injection_file_system.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

using testing::ChargeOf;
using testing::KeyOf;
using testing::ValueOf;

std::string RecordKey(char prefix, const HeatmapCacheKey& key) {
  return std::string(1, prefix) + std::string(key.begin(), key.end());
}

// The lines logged while it lives ("level message").
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10000)), saved_(spdlog::default_logger()) {
    sink_->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(saved_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // How many lines contain `needle`.
  int Count(const std::string& needle) const {
    int count = 0;
    for (const std::string& line : sink_->last_formatted()) count += line.find(needle) != std::string::npos;
    return count;
  }
  std::string All() const {
    std::string all;
    for (const std::string& line : sink_->last_formatted()) all += line;
    return all;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> saved_;
};

struct Harness {
  TempDir temp;
  std::shared_ptr<FaultInjectionFileSystem> fs = std::make_shared<FaultInjectionFileSystem>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();

  HeatmapCache::Options Options(int64_t max_size_bytes = 1 << 20) const {
    HeatmapCache::Options options;
    options.dir = temp / "cache";
    options.max_size_bytes = max_size_bytes;
    options.write_retry_interval_ms = 1000;
    options.clock = clock;
    options.file_system_for_testing = fs;
    return options;
  }
  std::unique_ptr<HeatmapCache> Open(int64_t max_size_bytes = 1 << 20) const {
    StatusOr<std::unique_ptr<HeatmapCache>> cache = HeatmapCache::Open(Options(max_size_bytes));
    INFO(cache.status().ToString());
    REQUIRE(cache.ok());
    return std::move(cache).value();
  }
};

void CheckHit(HeatmapCache& cache, int id, size_t data_bytes) {
  const std::optional<CachedExplanation> found = cache.Lookup(KeyOf(id));
  INFO("key " << id);
  REQUIRE(found.has_value());
  CHECK(found->data == ValueOf(id, 1, data_bytes).data);
  CHECK(found->width_px == id);
}

// What the directory holds, read with RocksDB directly (the cache closed):
// entries with both records, and the charge they would have.
struct OnDisk {
  int64_t values = 0;
  int64_t metadata = 0;
  int64_t charged_bytes = 0;
};
OnDisk ReadDirectly(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(rocksdb::Options(), dir, &raw);
  INFO(opened.ToString());
  REQUIRE(opened.ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  OnDisk disk;
  std::map<std::string, int64_t> value_bytes;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    if (key[0] == 'e') {
      ++disk.values;
      value_bytes[key.substr(1)] = static_cast<int64_t>(it->value().size());
    }
  }
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    if (key[0] != 'm') continue;
    ++disk.metadata;
    const std::string model = it->value().ToString().substr(16);
    disk.charged_bytes += HeatmapCache::EntryChargeBytes(value_bytes.at(key.substr(1)), model);
  }
  REQUIRE(it->status().ok());
  it.reset();
  REQUIRE(db->Close().ok());
  return disk;
}

TEST_CASE(
    "a write failure while serving drops stores without failing, counts each, logs once, and writes resume "
    "when the fault clears") {
  const WriteFault fault = GENERATE(WriteFault::kNoSpace, WriteFault::kReadOnly);
  INFO((fault == WriteFault::kNoSpace ? "no space" : "read-only"));
  Harness h;
  LogCapture log;
  auto cache = h.Open();
  cache->Store(KeyOf(1), "m", ValueOf(1, 1, 3000));

  h.fs->SetFault(fault);
  cache->Store(KeyOf(2), "m", ValueOf(2, 1, 3000));
  CHECK(cache->stats().write_errors == 1);
  CHECK(cache->stats().writes_paused);
  // This thread's refused writes: RocksDB's background threads may retry
  // (WAL sync, recovery) whenever they run, but a Store that reached the
  // disk would have written its log record here.
  const int disk_writes_refused = h.fs->failed_writes_on(std::this_thread::get_id());
  CHECK(disk_writes_refused >= 1);
  // Within the retry interval stores are dropped without touching the disk.
  for (int id = 3; id <= 5; ++id) cache->Store(KeyOf(id), "m", ValueOf(id, 1, 3000));
  CHECK(h.fs->failed_writes_on(std::this_thread::get_id()) == disk_writes_refused);
  HeatmapCache::Stats stats = cache->stats();
  CHECK(stats.write_errors == 4);
  CHECK(stats.errors == 4);
  CHECK(stats.entries == 1);
  CHECK(stats.bytes == ChargeOf(ValueOf(1, 1, 3000), "m"));
  // Hits are still served, and right; what was not stored is a miss.
  CheckHit(*cache, 1, 3000);
  CHECK_FALSE(cache->Lookup(KeyOf(2)).has_value());
  CHECK(log.Count("error heatmap cache") == 1);
  CHECK(log.Count("write failed; answers are not stored, next try in 1000 ms") == 1);

  h.fs->SetFault(WriteFault::kNone);
  cache->Store(KeyOf(6), "m", ValueOf(6, 1, 3000));  // the interval has not passed
  CHECK(cache->stats().write_errors == 5);
  h.clock->Advance(1'000'000);
  cache->Store(KeyOf(7), "m", ValueOf(7, 1, 3000));
  stats = cache->stats();
  CHECK_FALSE(stats.writes_paused);
  CHECK(stats.write_errors == 5);
  CHECK(stats.entries == 2);
  CHECK(stats.bytes == ChargeOf(ValueOf(1, 1, 3000), "m") + ChargeOf(ValueOf(7, 1, 3000), "m"));
  CHECK(log.Count("writes work again; 5 writes were dropped while they failed") == 1);
  CheckHit(*cache, 1, 3000);
  CheckHit(*cache, 7, 3000);
  CHECK(log.Count("error heatmap cache") == 1);

  cache.reset();
  const OnDisk disk = ReadDirectly(h.temp / "cache");
  CHECK(disk.values == 2);
  CHECK(disk.metadata == 2);
  CHECK(disk.charged_bytes == stats.bytes);
  auto reopened = h.Open();
  CHECK(reopened->stats().entries == 2);
  CHECK(reopened->stats().bytes == stats.bytes);
  CHECK(reopened->stats().errors == 0);
}

TEST_CASE("writes that keep failing are retried once per interval, each retry logged once") {
  const WriteFault fault = GENERATE(WriteFault::kNoSpace, WriteFault::kReadOnly);
  INFO((fault == WriteFault::kNoSpace ? "no space" : "read-only"));
  Harness h;
  LogCapture log;
  auto cache = h.Open();
  cache->Store(KeyOf(1), "m", ValueOf(1, 1, 3000));
  h.fs->SetFault(fault);
  for (int round = 0; round < 3; ++round) {
    if (round > 0) h.clock->Advance(1'000'000);
    for (int i = 0; i < 10; ++i) cache->Store(KeyOf(100 + round * 10 + i), "m", ValueOf(100, 1, 3000));
  }
  const HeatmapCache::Stats stats = cache->stats();
  CHECK(stats.write_errors == 30);
  CHECK(stats.entries == 1);
  CHECK(log.Count("write failed;") == 1);
  CHECK(log.Count("writes still fail") == 2);
  // The reopen failed: no database, lookups miss.
  CHECK_FALSE(cache->Lookup(KeyOf(1)).has_value());
  h.fs->SetFault(WriteFault::kNone);
  cache->Store(KeyOf(2), "m", ValueOf(2, 1, 3000));
  CHECK(cache->stats().writes_paused);  // the interval has not passed
  h.clock->Advance(1'000'000);
  cache->Store(KeyOf(2), "m", ValueOf(2, 1, 3000));
  CHECK_FALSE(cache->stats().writes_paused);
  CHECK(cache->stats().entries == 2);
  CheckHit(*cache, 1, 3000);
  CheckHit(*cache, 2, 3000);
  CHECK(log.Count("writes work again; 31 writes were dropped while they failed") == 1);
}

TEST_CASE(
    "8 threads storing and looking up while writes fail and recover never see a wrong value, and the "
    "accounting matches the disk") {
  Harness h;
  const int64_t capacity = 100000;
  HeatmapCache::Stats at_close;
  {
    auto cache = h.Open(capacity);
    std::atomic<int> wrong{0};
    std::atomic<int> hits{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 random(t);
        for (int i = 0; i < 1500; ++i) {
          // Thread 0 switches the fault and moves time on every 50 steps.
          if (t == 0 && i % 50 == 0) {
            const int pick = static_cast<int>(random() % 4);
            h.fs->SetFault(pick == 0 ? WriteFault::kNoSpace : pick == 1 ? WriteFault::kReadOnly : WriteFault::kNone);
            h.clock->Advance(600'000);
          }
          const int id = static_cast<int>(random() % 60);
          const CachedExplanation value = ValueOf(id, 1, 400 + 31 * id);
          if (random() % 3 == 0) {
            cache->Store(KeyOf(id), "m", value);
          } else if (const auto found = cache->Lookup(KeyOf(id)); found.has_value()) {
            ++hits;
            if (found->data != value.data || found->width_px != id) ++wrong;
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    h.fs->SetFault(WriteFault::kNone);
    h.clock->Advance(1'000'000);
    cache->Store(KeyOf(1000), "m", ValueOf(1000, 1, 100));
    CHECK(wrong.load() == 0);
    CHECK(hits.load() > 100);
    at_close = cache->stats();
    CHECK_FALSE(at_close.writes_paused);
    CHECK(at_close.write_errors > 0);
    CHECK(at_close.damaged == 0);
    CHECK(at_close.bytes <= capacity);
  }
  const OnDisk disk = ReadDirectly(h.temp / "cache");
  CHECK(disk.values == at_close.entries);
  CHECK(disk.metadata == at_close.entries);
  CHECK(disk.charged_bytes == at_close.bytes);
}

// Writes three entries and closes the cache.
void StoreThree(const Harness& h) {
  auto cache = h.Open();
  for (int id = 1; id <= 3; ++id) cache->Store(KeyOf(id), "m", ValueOf(id, 1, 2000));
}

TEST_CASE("a cache directory with a garbled CURRENT is repaired at open with a warning, and keeps its entries") {
  Harness h;
  StoreThree(h);
  {
    std::ofstream current(h.temp / "cache/CURRENT", std::ios::trunc);
    current << "garbage";
  }
  LogCapture log;
  auto cache = h.Open();
  INFO(log.All());
  CHECK(log.Count("warning heatmap cache " + (h.temp / "cache") + ": RocksDB could not open it (Corruption") == 1);
  CHECK(log.Count("repaired it with RepairDB") == 1);
  const HeatmapCache::Stats stats = cache->stats();
  CHECK(stats.entries == 3);
  CHECK(stats.bytes == 3 * ChargeOf(ValueOf(1, 1, 2000), "m"));
  for (int id = 1; id <= 3; ++id) CheckHit(*cache, id, 2000);
  CHECK(cache->stats().errors == 0);
}

TEST_CASE("a cache directory that cannot be repaired is moved aside and replaced by an empty one, with a warning") {
  Harness h;
  StoreThree(h);
  {
    std::ofstream current(h.temp / "cache/CURRENT", std::ios::trunc);
    current << "garbage";
  }
  // RepairDB cannot write its new MANIFEST; the fresh directory can.
  h.fs->FailNextFilesNamed("MANIFEST", 1);
  LogCapture log;
  auto cache = h.Open();
  INFO(log.All());
  CHECK(log.Count("damaged beyond repair (Corruption") == 1);
  CHECK(log.Count("moved its files aside to " + (h.temp / "cache") + ".damaged-") == 1);
  CHECK(cache->stats().entries == 0);
  int damaged_dirs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(h.temp.path())) {
    damaged_dirs += entry.path().filename().string().rfind("cache.damaged-", 0) == 0;
  }
  CHECK(damaged_dirs == 1);
  cache->Store(KeyOf(9), "m", ValueOf(9, 1, 2000));
  CheckHit(*cache, 9, 2000);
  cache.reset();
  CHECK(h.Open()->stats().entries == 1);
}

TEST_CASE("damaged index records are deleted with their values, and orphaned values are found, at open") {
  Harness h;
  const int64_t charge = ChargeOf(ValueOf(1, 1, 2000), "m");
  {
    auto cache = h.Open();
    for (int id = 1; id <= 5; ++id) cache->Store(KeyOf(id), "m", ValueOf(id, 1, 2000));
  }
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), h.temp / "cache", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const rocksdb::WriteOptions write;
    // Too short to parse.
    REQUIRE(db->Put(write, RecordKey('m', KeyOf(2)), "xy").ok());
    // Parses, but claims a value of 2^40 bytes.
    std::string huge(16, '\0');
    huge[8 + 5] = 1;
    REQUIRE(db->Put(write, RecordKey('m', KeyOf(3)), huge + "m").ok());
    // A key of the wrong length.
    REQUIRE(db->Put(write, "m-short", std::string(20, 'x')).ok());
    // A value without an index record.
    REQUIRE(db->Put(write, RecordKey('e', KeyOf(9)), SerializeCachedExplanation(ValueOf(9, 1, 2000))).ok());
    REQUIRE(db->Close().ok());
  }
  LogCapture log;
  auto cache = h.Open(3 * charge);
  INFO(log.All());
  HeatmapCache::Stats stats = cache->stats();
  CHECK(stats.entries == 3);
  CHECK(stats.bytes == 3 * charge);
  CHECK(stats.damaged == 4);  // keys 2 and 3, "m-short", the orphan of key 9
  CHECK(log.Count("deleted 3 damaged index records with their values") == 1);
  CHECK(log.Count("deleted 1 values without an index record and 0 entries") == 1);
  CHECK_FALSE(cache->Lookup(KeyOf(2)).has_value());
  CHECK_FALSE(cache->Lookup(KeyOf(3)).has_value());
  CHECK_FALSE(cache->Lookup(KeyOf(9)).has_value());
  for (int id : {1, 4, 5}) CheckHit(*cache, id, 2000);
  // The LRU limit holds from the rebuilt accounting.
  for (int id = 6; id <= 9; ++id) cache->Store(KeyOf(id), "m", ValueOf(id, 1, 2000));
  stats = cache->stats();
  CHECK(stats.entries == 3);
  CHECK(stats.bytes == 3 * charge);
  cache.reset();
  const OnDisk disk = ReadDirectly(h.temp / "cache");
  CHECK(disk.values == 3);
  CHECK(disk.metadata == 3);
  CHECK(disk.charged_bytes == stats.bytes);
}

TEST_CASE("a value whose size differs from its index record is never served: deleted, counted, a miss") {
  Harness h;
  {
    auto cache = h.Open();
    cache->Store(KeyOf(1), "m", ValueOf(1, 1, 2000));
    cache->Store(KeyOf(2), "m", ValueOf(2, 1, 2000));
  }
  {
    // A valid value (its checksum matches) of another size under key 1.
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), h.temp / "cache", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), RecordKey('e', KeyOf(1)), SerializeCachedExplanation(ValueOf(1, 1, 500)))
                .ok());
    REQUIRE(db->Close().ok());
  }
  LogCapture log;
  auto cache = h.Open();
  CHECK_FALSE(cache->Lookup(KeyOf(1)).has_value());
  const HeatmapCache::Stats stats = cache->stats();
  CHECK(stats.damaged == 1);
  CHECK(stats.entries == 1);
  CHECK(stats.bytes == ChargeOf(ValueOf(2, 1, 2000), "m"));
  CHECK(log.Count("damaged value deleted: the value has") == 1);
  CheckHit(*cache, 2, 2000);
}

}  // namespace
}  // namespace camserve
