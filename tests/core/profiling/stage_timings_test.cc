// StageTimings and StageTimer: what is recorded, merged, and what a disabled
// profiler leaves out.
#include "core/profiling/stage_timings.h"

#include <catch2/catch.hpp>

#include <thread>

namespace camserve {
namespace {

TEST_CASE("stage names are the metric labels") {
  CHECK(StageName(Stage::kDecode) == "decode");
  CHECK(StageName(Stage::kQueue) == "queue");
  CHECK(StageName(Stage::kCacheGet) == "cache_get");
  CHECK(StageName(Stage::kCachePut) == "cache_put");
  CHECK(StageName(Stage::kTotal) == "total");
  CHECK(static_cast<int>(Stage::kTotal) == kStageCount - 1);
}

TEST_CASE("a timer records the time until Stop, once") {
  StageTimings timings;
  CHECK_FALSE(timings.Has(Stage::kForward));
  CHECK(timings.Micros(Stage::kForward) == 0);
  const auto outer_start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point outer_stop;
  {
    StageTimer timer(&timings, Stage::kForward);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    timer.Stop();
    outer_stop = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }  // the destructor after Stop records nothing more
  REQUIRE(timings.Has(Stage::kForward));
  CHECK(timings.Micros(Stage::kForward) >= 20000);
  CHECK(timings.Micros(Stage::kForward) <=
        std::chrono::duration_cast<std::chrono::microseconds>(outer_stop - outer_start).count());
  { StageTimer timer(&timings, Stage::kEncode); }
  CHECK(timings.Has(Stage::kEncode));
  CHECK(timings.Micros(Stage::kEncode) >= 0);
}

TEST_CASE("merging copies only the stages the other has") {
  StageTimings mine;
  mine.Set(Stage::kDecode, 5);
  mine.Set(Stage::kForward, 6);
  StageTimings engine;
  engine.Set(Stage::kForward, 70);
  engine.Set(Stage::kCam, 80);
  mine.MergeFrom(engine);
  CHECK(mine.Micros(Stage::kDecode) == 5);
  CHECK(mine.Micros(Stage::kForward) == 70);
  CHECK(mine.Micros(Stage::kCam) == 80);
  CHECK_FALSE(mine.Has(Stage::kBackward));
}

TEST_CASE("disabled timings record nothing, even through a timer or a merge") {
  StageTimings off(/*enabled=*/false);
  off.Set(Stage::kTotal, 10);
  { StageTimer timer(&off, Stage::kForward); }
  StageTimings engine;
  engine.Set(Stage::kCam, 80);
  off.MergeFrom(engine);
  CHECK_FALSE(off.enabled());
  for (int s = 0; s < kStageCount; ++s) CHECK_FALSE(off.Has(static_cast<Stage>(s)));
}

}  // namespace
}  // namespace camserve
