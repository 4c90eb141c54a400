#include "core/cache/heatmap_cache.h"

#include <sys/resource.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <list>
#include <map>
#include <random>
#include <thread>

#include <rocksdb/db.h>

#include "tests/core/cache/cache_test_values.h"
#include "tests/temp_dir.h"

namespace camserve {
namespace {

using testing::ChargeOf;
using testing::KeyOf;
using testing::ValueOf;

std::unique_ptr<HeatmapCache> OpenOrDie(const std::string& dir, int64_t max_size_bytes) {
  HeatmapCache::Options options;
  options.dir = dir;
  options.max_size_bytes = max_size_bytes;
  StatusOr<std::unique_ptr<HeatmapCache>> cache = HeatmapCache::Open(options);
  INFO(cache.status().ToString());
  REQUIRE(cache.ok());
  return std::move(cache).value();
}

// The reference: a plain in-memory LRU with the same charges and capacity.
class ModelLru {
 public:
  explicit ModelLru(int64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // The version stored under `id`, if any; refreshes recency.
  std::optional<int> Get(int id) {
    const auto found = entries_.find(id);
    if (found == entries_.end()) return std::nullopt;
    order_.remove(id);
    order_.push_front(id);
    return found->second.version;
  }

  void Put(int id, int version, int64_t charge) {
    if (charge > capacity_bytes_) return;
    const auto found = entries_.find(id);
    if (found != entries_.end()) {
      total_bytes_ -= found->second.charge;
      order_.remove(id);
      entries_.erase(found);
    }
    while (total_bytes_ + charge > capacity_bytes_) {
      const int victim = order_.back();
      order_.pop_back();
      total_bytes_ -= entries_.at(victim).charge;
      entries_.erase(victim);
      ++evictions_;
    }
    order_.push_front(id);
    entries_[id] = Stored{version, charge};
    total_bytes_ += charge;
  }

  int64_t total_bytes() const { return total_bytes_; }
  int64_t entries() const { return static_cast<int64_t>(entries_.size()); }
  int64_t evictions() const { return evictions_; }

 private:
  struct Stored {
    int version;
    int64_t charge;
  };
  const int64_t capacity_bytes_;
  std::list<int> order_;
  std::map<int, Stored> entries_;
  int64_t total_bytes_ = 0;
  int64_t evictions_ = 0;
};

TEST_CASE("a stored explanation is found again, also after reopening") {
  TempDir dir;
  const CachedExplanation value = ValueOf(3, 1, 5000);
  HeatmapCache::Stats before;
  {
    auto cache = OpenOrDie(dir / "cache", 1 << 20);
    CHECK_FALSE(cache->Lookup(KeyOf(3)).has_value());
    cache->Store(KeyOf(3), "digits", value);
    const std::optional<CachedExplanation> found = cache->Lookup(KeyOf(3));
    REQUIRE(found.has_value());
    CHECK(found->data == value.data);
    CHECK(found->target.label == "label3");
    before = cache->stats();
    CHECK(before.entries == 1);
    CHECK(before.bytes == ChargeOf(value, "digits"));
    CHECK(before.hits == 1);
    CHECK(before.misses == 1);
    CHECK(before.capacity_bytes == 1 << 20);
  }
  auto reopened = OpenOrDie(dir / "cache", 1 << 20);
  CHECK(reopened->stats().entries == 1);
  CHECK(reopened->stats().bytes == before.bytes);
  const std::optional<CachedExplanation> found = reopened->Lookup(KeyOf(3));
  REQUIRE(found.has_value());
  CHECK(found->data == value.data);
  CHECK(reopened->stats().errors == 0);
}

TEST_CASE("eviction is least-recently-used first, and recency survives a clean reopen") {
  TempDir dir;
  const int64_t charge = ChargeOf(ValueOf(0, 0, 1000), "m");
  const int64_t capacity = 3 * charge;  // room for three
  {
    auto cache = OpenOrDie(dir / "cache", capacity);
    for (int id = 0; id < 3; ++id) cache->Store(KeyOf(id), "m", ValueOf(id, 0, 1000));
    REQUIRE(cache->Lookup(KeyOf(0)).has_value());  // 1 is now the oldest
  }
  auto cache = OpenOrDie(dir / "cache", capacity);
  cache->Store(KeyOf(3), "m", ValueOf(3, 0, 1000));
  CHECK(cache->stats().evictions == 1);
  CHECK(cache->Lookup(KeyOf(0)).has_value());
  CHECK_FALSE(cache->Lookup(KeyOf(1)).has_value());
  CHECK(cache->Lookup(KeyOf(2)).has_value());
  CHECK(cache->Lookup(KeyOf(3)).has_value());
  CHECK(cache->stats().bytes == capacity);
}

TEST_CASE("a smaller limit at reopen evicts the oldest entries at once") {
  TempDir dir;
  const int64_t charge = ChargeOf(ValueOf(0, 0, 1000), "m");
  {
    auto cache = OpenOrDie(dir / "cache", 10 * charge);
    for (int id = 0; id < 5; ++id) cache->Store(KeyOf(id), "m", ValueOf(id, 0, 1000));
  }
  auto cache = OpenOrDie(dir / "cache", 2 * charge);
  CHECK(cache->stats().entries == 2);
  CHECK(cache->stats().evictions == 3);
  CHECK(cache->Lookup(KeyOf(3)).has_value());
  CHECK(cache->Lookup(KeyOf(4)).has_value());
  CHECK_FALSE(cache->Lookup(KeyOf(0)).has_value());
}

TEST_CASE("10,000 random get/put/reopen operations agree with an in-memory LRU") {
  TempDir dir;
  const int64_t capacity = 60000;
  ModelLru model(capacity);
  auto cache = OpenOrDie(dir / "cache", capacity);
  std::mt19937 random(20261123);
  std::uniform_int_distribution<int> pick_key(0, 59);
  std::uniform_int_distribution<int> pick_size(10, 9000);
  std::uniform_int_distribution<int> pick_op(0, 999);
  std::map<int, size_t> stored_bytes;  // data size of each key's latest version
  int reopens = 0;
  int hits = 0;
  int64_t model_evictions_at_open = 0;
  for (int step = 0; step < 10000; ++step) {
    const int op = pick_op(random);
    const int id = pick_key(random);
    INFO("step " << step << " op " << op << " key " << id);
    if (op < 10) {
      cache.reset();
      cache = OpenOrDie(dir / "cache", capacity);
      model_evictions_at_open = model.evictions();
      ++reopens;
    } else if (op < 550) {
      const std::optional<int> expected = model.Get(id);
      const std::optional<CachedExplanation> found = cache->Lookup(KeyOf(id));
      REQUIRE(found.has_value() == expected.has_value());
      if (found.has_value()) {
        ++hits;
        REQUIRE(found->height_px == *expected);
        REQUIRE(found->data == ValueOf(id, *expected, stored_bytes.at(id)).data);
      }
    } else {
      const size_t data_bytes = static_cast<size_t>(pick_size(random));
      const CachedExplanation value = ValueOf(id, step, data_bytes);
      stored_bytes[id] = data_bytes;
      model.Put(id, step, ChargeOf(value, "model"));
      cache->Store(KeyOf(id), "model", value);
    }
    const HeatmapCache::Stats stats = cache->stats();
    REQUIRE(stats.bytes <= capacity);
    REQUIRE(stats.bytes == model.total_bytes());
    REQUIRE(stats.entries == model.entries());
    REQUIRE(stats.evictions == model.evictions() - model_evictions_at_open);  // counted per open
  }
  CHECK(reopens > 50);
  CHECK(hits > 1000);
  CHECK(model.evictions() > 1000);
  CHECK(cache->stats().errors == 0);
}

TEST_CASE("a value whose checksum does not match is deleted and is a miss") {
  TempDir dir;
  {
    auto cache = OpenOrDie(dir / "cache", 1 << 20);
    cache->Store(KeyOf(1), "m", ValueOf(1, 0, 3000));
    cache->Store(KeyOf(2), "m", ValueOf(2, 0, 3000));
  }
  {
    // Flip one byte of key 1's value behind the cache's back.
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir / "cache", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const HeatmapCacheKey key = KeyOf(1);
    const std::string record_key = "e" + std::string(key.begin(), key.end());
    std::string value;
    REQUIRE(db->Get(rocksdb::ReadOptions(), record_key, &value).ok());
    value[100] = static_cast<char>(value[100] ^ 0x01);
    REQUIRE(db->Put(rocksdb::WriteOptions(), record_key, value).ok());
    REQUIRE(db->Close().ok());
  }
  auto cache = OpenOrDie(dir / "cache", 1 << 20);
  CHECK(cache->stats().entries == 2);
  CHECK_FALSE(cache->Lookup(KeyOf(1)).has_value());
  CHECK(cache->stats().errors == 1);
  CHECK(cache->stats().entries == 1);
  CHECK_FALSE(cache->Lookup(KeyOf(1)).has_value());
  CHECK(cache->stats().errors == 1);  // deleted: a plain miss now
  REQUIRE(cache->Lookup(KeyOf(2)).has_value());
  cache->Store(KeyOf(1), "m", ValueOf(1, 1, 3000));
  REQUIRE(cache->Lookup(KeyOf(1)).has_value());
  CHECK(cache->Lookup(KeyOf(1))->data == ValueOf(1, 1, 3000).data);
}

TEST_CASE("8 threads storing and looking up concurrently only ever see correct values") {
  TempDir dir;
  const int64_t capacity = 200000;
  HeatmapCache::Stats at_close;
  {
    auto cache = OpenOrDie(dir / "cache", capacity);
    std::atomic<int> wrong{0};
    std::atomic<int> hits{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 random(t);
        for (int i = 0; i < 1500; ++i) {
          const int id = static_cast<int>(random() % 100);
          // Every version of a key has the same bytes, as in real use (the
          // key determines the answer).
          const CachedExplanation value = ValueOf(id, 0, 500 + 37 * id);
          if (random() % 3 == 0) {
            cache->Store(KeyOf(id), "m" + std::to_string(id % 2), value);
          } else if (const auto found = cache->Lookup(KeyOf(id)); found.has_value()) {
            ++hits;
            if (found->data != value.data || found->width_px != id) ++wrong;
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    CHECK(wrong.load() == 0);
    CHECK(hits.load() > 1000);
    at_close = cache->stats();
    CHECK(at_close.bytes <= capacity);
    CHECK(at_close.errors == 0);
    CHECK(at_close.evictions > 0);
  }
  auto reopened = OpenOrDie(dir / "cache", capacity);
  CHECK(reopened->stats().entries == at_close.entries);
  CHECK(reopened->stats().bytes == at_close.bytes);
}

TEST_CASE("Clear deletes one model's entries or all of them") {
  TempDir dir;
  auto cache = OpenOrDie(dir / "cache", 1 << 20);
  for (int id = 0; id < 6; ++id) cache->Store(KeyOf(id), id < 2 ? "a" : "b", ValueOf(id, 0, 100));
  StatusOr<int64_t> removed = cache->Clear("a");
  REQUIRE(removed.ok());
  CHECK(*removed == 2);
  CHECK_FALSE(cache->Lookup(KeyOf(0)).has_value());
  CHECK(cache->Lookup(KeyOf(2)).has_value());
  removed = cache->Clear("");
  REQUIRE(removed.ok());
  CHECK(*removed == 4);
  CHECK(cache->stats().entries == 0);
  CHECK(cache->stats().bytes == 0);
  cache.reset();
  CHECK(OpenOrDie(dir / "cache", 1 << 20)->stats().entries == 0);
}

TEST_CASE("a value larger than the whole cache is not stored and evicts nothing") {
  TempDir dir;
  auto cache = OpenOrDie(dir / "cache", 5000);
  cache->Store(KeyOf(1), "m", ValueOf(1, 0, 1000));
  cache->Store(KeyOf(2), "m", ValueOf(2, 0, 6000));
  CHECK_FALSE(cache->Lookup(KeyOf(2)).has_value());
  CHECK(cache->Lookup(KeyOf(1)).has_value());
  CHECK(cache->stats().evictions == 0);
}

TEST_CASE("a second open of the same directory is refused with a clear error") {
  TempDir dir;
  auto first = OpenOrDie(dir / "cache", 1 << 20);
  HeatmapCache::Options options;
  options.dir = dir / "cache";
  StatusOr<std::unique_ptr<HeatmapCache>> second = HeatmapCache::Open(options);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(second.status().message(), Catch::Contains("in use by another camserve process"));
}

TEST_CASE("bad options and unusable directories are refused") {
  TempDir dir;
  HeatmapCache::Options options;
  options.dir = dir / "cache";
  options.max_size_bytes = 0;
  CHECK(HeatmapCache::Open(options).status().message() == "cache max_size_bytes must be >= 1; was 0");
  options.max_size_bytes = 1 << 20;
  options.dir = "";
  CHECK(HeatmapCache::Open(options).status().code() == StatusCode::kInvalidArgument);
  {
    std::ofstream file(dir / "a_file");
    file << "x";
  }
  options.dir = dir / "a_file";
  StatusOr<std::unique_ptr<HeatmapCache>> opened = HeatmapCache::Open(options);
  CHECK(opened.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(opened.status().message(), Catch::Contains("a_file"));
}

TEST_CASE("a failing disk (file size limit) drops stores, counts errors and keeps serving hits") {
  TempDir dir;
  auto cache = OpenOrDie(dir / "cache", 1 << 24);
  cache->Store(KeyOf(1), "m", ValueOf(1, 0, 2000));
  REQUIRE(cache->Lookup(KeyOf(1)).has_value());

  // Writes past 4 KB into any file now fail with EFBIG, as on a full disk.
  struct rlimit saved;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = saved;
  limited.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
  for (int id = 2; id < 6; ++id) cache->Store(KeyOf(id), "m", ValueOf(id, 0, 200000));
  REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
  std::signal(SIGXFSZ, saved_handler);

  const HeatmapCache::Stats stats = cache->stats();
  CHECK(stats.errors >= 1);
  CHECK(stats.entries == 1);
  CHECK_FALSE(cache->Lookup(KeyOf(2)).has_value());
  const std::optional<CachedExplanation> found = cache->Lookup(KeyOf(1));
  REQUIRE(found.has_value());
  CHECK(found->data == ValueOf(1, 0, 2000).data);
}

}  // namespace
}  // namespace camserve
