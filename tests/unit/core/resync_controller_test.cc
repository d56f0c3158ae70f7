// The resync rate controller against a simulated link: fixed rate, the
// dynamic controller filling the link up to its capacity, c-max-rate,
// yielding to application I/O down to c-min-rate, and the delay target.
#include "core/resync_controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

namespace tandem::core {
namespace {

constexpr uint64_t kChunk = 64 * 1024;
constexpr uint64_t kMiB = 1024 * 1024;

// A sync source issuing chunks as the controller allows, over a link that
// moves `capacity` bytes per tick and answers `latency` ticks later.
struct Model {
  Model(ResyncRate rate, uint64_t capacity_per_tick, uint32_t latency_ticks)
      : controller(rate), capacity(capacity_per_tick), latency(latency_ticks) {}

  // One tick; returns the bytes the link delivered in it.
  uint64_t tick(bool app_io) {
    const uint64_t grant = controller.on_tick({acked, in_flight, app_io ? 4096U : 0U});
    grants.push_back(grant);
    acked = 0;
    budget = std::min(budget + static_cast<int64_t>(grant), static_cast<int64_t>(grant));
    while (budget > 0) {
      budget -= static_cast<int64_t>(kChunk);
      queued += kChunk;
      in_flight += kChunk;
    }
    const uint64_t moved = std::min(queued, capacity);
    queued -= moved;
    arriving.push_back(moved);
    if (arriving.size() > latency) {
      acked = arriving.front();
      in_flight -= acked;
      arriving.pop_front();
    }
    return moved;
  }

  // Average bytes per tick over ticks [from, to).
  double run(int from, int to, bool app_io = false) {
    uint64_t total = 0;
    for (int t = 0; t < to; ++t) {
      const uint64_t moved = tick(app_io);
      if (t >= from) total += moved;
      max_in_flight = t >= from ? std::max(max_in_flight, in_flight) : max_in_flight;
    }
    return static_cast<double>(total) / (to - from);
  }

  ResyncController controller;
  uint64_t capacity;
  uint32_t latency;
  int64_t budget = 0;
  uint64_t queued = 0;
  uint64_t in_flight = 0;
  uint64_t acked = 0;
  uint64_t max_in_flight = 0;
  std::deque<uint64_t> arriving;
  std::vector<uint64_t> grants;
};

ResyncRate dynamic_rate() {
  ResyncRate r;
  r.c_plan_ahead = 20;                 // 2 s
  r.c_fill_target_sectors = 4 * 2048;  // 4 MiB in flight
  r.c_max_rate_kib = 1024 * 1024;      // 1 GiB/s: not the limit
  r.c_min_rate_kib = 1024;             // 1 MiB/s
  return r;
}

TEST(ResyncController, UnlimitedWithoutRateOrPlan) {
  EXPECT_TRUE(ResyncController(ResyncRate{}).unlimited());
  ResyncRate fixed;
  fixed.resync_rate_kib = 250;
  EXPECT_FALSE(ResyncController(fixed).unlimited());
  EXPECT_FALSE(ResyncController(dynamic_rate()).unlimited());
}

TEST(ResyncController, FixedRateGrantsItsShareEveryTickWhateverHappens) {
  ResyncRate r;
  r.resync_rate_kib = 10 * 1024;  // 10 MiB/s
  Model m(r, 100 * kMiB, 1);
  const double per_tick = m.run(0, 50, true);
  for (uint64_t g : m.grants) EXPECT_EQ(g, 1024U * 1024);
  // The link is not the limit: the source moves the configured rate.
  EXPECT_NEAR(per_tick, 1024.0 * 1024, 70'000);
}

TEST(ResyncController, DynamicControllerFillsTheLink) {
  // 10 MiB/s link (1 MiB per tick), 1-tick latency.
  Model m(dynamic_rate(), kMiB, 1);
  const double per_tick = m.run(100, 400);
  EXPECT_GE(per_tick, 0.9 * kMiB) << "the controller leaves the link idle";
  // It aims at the fill target, not at an ever-growing queue.
  EXPECT_LE(m.max_in_flight, 6 * kMiB);
}

TEST(ResyncController, DynamicControllerRespectsMaxRate) {
  ResyncRate r = dynamic_rate();
  r.c_max_rate_kib = 20 * 1024;  // 20 MiB/s on a 1 GiB/s link
  Model m(r, 100 * kMiB, 1);
  const double per_tick = m.run(50, 300);
  EXPECT_LE(per_tick, 2.0 * kMiB + kChunk);
  EXPECT_GE(per_tick, 1.8 * kMiB);
  for (uint64_t g : m.grants) EXPECT_LE(g, 2 * kMiB + 1);
}

TEST(ResyncController, YieldsToApplicationIoDownToMinRate) {
  Model m(dynamic_rate(), kMiB, 1);
  EXPECT_GE(m.run(100, 300), 0.9 * kMiB);
  // Application I/O on every tick: the resync drops to c-min-rate (1 MiB/s).
  const double busy = m.run(50, 300, true);
  EXPECT_LE(busy, 0.1 * kMiB + kChunk);
  EXPECT_GE(busy, 0.09 * kMiB);
}

TEST(ResyncController, MinRateZeroNeverYields) {
  ResyncRate r = dynamic_rate();
  r.c_min_rate_kib = 0;
  Model m(r, kMiB, 1);
  EXPECT_GE(m.run(100, 400, true), 0.9 * kMiB);
}

TEST(ResyncController, DelayTargetModeConvergesWithBoundedQueue) {
  ResyncRate r = dynamic_rate();
  r.c_fill_target_sectors = 0;
  r.c_delay_target = 5;  // 0.5 s of data in flight
  Model m(r, kMiB, 1);
  const double per_tick = m.run(200, 500);
  EXPECT_GE(per_tick, 0.9 * kMiB);
  // About delay-target worth of data (5 ticks at 1 MiB/tick) in flight.
  EXPECT_LE(m.max_in_flight, 8 * kMiB);
}

TEST(ResyncController, DelayTargetModeWithMinRateZeroStartsFromTheSmallestResyncRate) {
  // Neither a fill target nor a c-min-rate floor: only resync-rate (here
  // the smallest a config accepts) gets the first chunk out, and from then
  // on the delay target follows what the link delivers.
  ResyncRate r = dynamic_rate();
  r.c_fill_target_sectors = 0;
  r.c_delay_target = 5;
  r.c_min_rate_kib = 0;
  r.resync_rate_kib = 1;
  Model m(r, kMiB, 1);
  EXPECT_GE(m.run(200, 500), 0.9 * kMiB);
}

TEST(ResyncController, NothingInFlightStillGetsGoing) {
  Model m(dynamic_rate(), kMiB, 1);
  EXPECT_GT(m.controller.on_tick({0, 0, 0}), 0U);
  ResyncRate r = dynamic_rate();
  r.c_fill_target_sectors = 0;
  ResyncController delay_mode(r);
  EXPECT_GE(delay_mode.on_tick({0, 0, 0}), 1024U * 1024 / 10);
}

TEST(ResyncController, DynamicControllerStartsAtResyncRate) {
  // 1 GiB/s link, 1-tick latency; resync-rate 200 MiB/s (20 MiB a tick).
  ResyncRate r = dynamic_rate();
  r.resync_rate_kib = 200 * 1024;
  Model started(r, 100 * kMiB, 1);
  EXPECT_EQ(started.controller.on_tick({0, 0, 0}), 20 * kMiB);
  // After the first tick the plan steers towards the fill target, and the
  // grant follows what the link acknowledged (one tick late here): the
  // first second moves at least half of resync-rate.
  Model m(r, 100 * kMiB, 1);
  const double first_second = m.run(0, 10);
  EXPECT_GE(first_second, 10.0 * kMiB) << "the controller does not start at resync-rate";
  // Without a resync-rate it starts from c-min-rate and ramps up by the
  // fill target's share per tick: far less in the first second.
  Model ramp(dynamic_rate(), 100 * kMiB, 1);
  EXPECT_LE(ramp.run(0, 10), 0.5 * first_second);
}

TEST(ResyncController, StartingAboveTheLinkStillSettlesAtTheFillTarget) {
  // resync-rate 200 MiB/s on a 10 MiB/s link: the start overshoots, then
  // the plan takes it back to about the fill target (4 MiB) in flight.
  ResyncRate r = dynamic_rate();
  r.resync_rate_kib = 200 * 1024;
  Model m(r, kMiB, 1);
  const double per_tick = m.run(100, 400);
  EXPECT_GE(per_tick, 0.9 * kMiB);
  EXPECT_LE(m.max_in_flight, 6 * kMiB);
}

}  // namespace
}  // namespace tandem::core
