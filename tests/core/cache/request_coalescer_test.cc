#include "core/cache/request_coalescer.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace camserve {
namespace {

HeatmapCacheKey KeyOf(uint8_t id) {
  HeatmapCacheKey key{};
  key[0] = id;
  return key;
}

struct Received {
  std::vector<std::string> results;
  std::vector<bool> followed;
};

RequestCoalescer<std::string>::Waiter Recording(Received* received, std::function<bool()> is_abandoned = {}) {
  return {[received](const std::string& result, bool followed) {
            received->results.push_back(result);
            received->followed.push_back(followed);
          },
          std::move(is_abandoned)};
}

TEST_CASE("identical requests share one computation and each gets the answer once") {
  RequestCoalescer<std::string> coalescer;
  Received received;
  CHECK(coalescer.Join(KeyOf(1), Recording(&received)));
  CHECK_FALSE(coalescer.Join(KeyOf(1), Recording(&received)));
  CHECK_FALSE(coalescer.Join(KeyOf(1), Recording(&received)));
  Received other;
  CHECK(coalescer.Join(KeyOf(2), Recording(&other)));  // another key leads its own
  CHECK(coalescer.coalesced() == 2);
  coalescer.Finish(KeyOf(1), "answer");
  CHECK(received.results == std::vector<std::string>{"answer", "answer", "answer"});
  CHECK(received.followed == std::vector<bool>{false, true, true});
  CHECK(other.results.empty());
  // The flight is over: the next request leads a new computation.
  CHECK(coalescer.Join(KeyOf(1), Recording(&received)));
  coalescer.Finish(KeyOf(1), "again");
  CHECK(received.results.size() == 4);
  coalescer.Finish(KeyOf(2), "two");
  CHECK(other.results == std::vector<std::string>{"two"});
}

TEST_CASE("a computation is wanted while any waiter is still live") {
  RequestCoalescer<std::string> coalescer;
  Received received;
  bool leader_gone = false;
  bool follower_gone = false;
  CHECK_FALSE(coalescer.AnyoneWaiting(KeyOf(1)));
  coalescer.Join(KeyOf(1), Recording(&received, [&] { return leader_gone; }));
  coalescer.Join(KeyOf(1), Recording(&received, [&] { return follower_gone; }));
  CHECK(coalescer.AnyoneWaiting(KeyOf(1)));
  leader_gone = true;  // the leader's client cancels: the follower still wants it
  CHECK(coalescer.AnyoneWaiting(KeyOf(1)));
  follower_gone = true;
  CHECK_FALSE(coalescer.AnyoneWaiting(KeyOf(1)));
  coalescer.Finish(KeyOf(1), "late");
  CHECK(received.results.size() == 2);  // abandoned waiters are still answered (they report why)
}

TEST_CASE("8 threads joining one key elect exactly one leader") {
  for (int round = 0; round < 50; ++round) {
    RequestCoalescer<int> coalescer;
    std::atomic<int> leaders{0};
    std::atomic<int> delivered{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        if (coalescer.Join(KeyOf(9), {[&](const int& value, bool) { delivered += value; }, {}})) ++leaders;
      });
    }
    for (std::thread& thread : threads) thread.join();
    REQUIRE(leaders.load() == 1);
    coalescer.Finish(KeyOf(9), 1);
    REQUIRE(delivered.load() == 8);
    REQUIRE(coalescer.coalesced() == 7);
  }
}

}  // namespace
}  // namespace camserve
