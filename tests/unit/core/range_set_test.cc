#include "core/range_set.h"

#include <gtest/gtest.h>

namespace tandem::core {
namespace {

TEST(RangeSet, MergesAdjacentAndOverlappingRanges) {
  RangeSet s;
  s.insert(0, 4096);
  s.insert(4096, 4096);
  s.insert(2048, 1024);
  EXPECT_EQ(s.ranges().size(), 1U);
  EXPECT_EQ(s.total_bytes(), 8192U);
  s.insert(16384, 512);
  EXPECT_EQ(s.ranges().size(), 2U);
  EXPECT_EQ(s.total_bytes(), 8704U);
  s.insert(0, 20000);
  EXPECT_EQ(s.ranges().size(), 1U);
  EXPECT_EQ(s.total_bytes(), 20000U);
}

TEST(RangeSet, EraseSplitsRanges) {
  RangeSet s;
  s.insert(0, 10000);
  s.erase(4000, 2000);
  EXPECT_EQ(s.ranges().size(), 2U);
  EXPECT_EQ(s.total_bytes(), 8000U);
  EXPECT_TRUE(s.contains(0, 4000));
  EXPECT_FALSE(s.contains(3000, 2000));
  EXPECT_TRUE(s.intersects(3000, 2000));
  EXPECT_FALSE(s.intersects(4000, 2000));
  s.erase(0, 100000);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.total_bytes(), 0U);
}

TEST(RangeSet, TotalMatchesRangesUnderRandomEdits) {
  RangeSet s;
  uint64_t x = 12345;
  for (int i = 0; i < 5000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t off = (x >> 33) % 100000;
    const uint64_t len = 1 + (x >> 20) % 3000;
    if ((x >> 60) & 1) {
      s.insert(off, len);
    } else {
      s.erase(off, len);
    }
    uint64_t total = 0;
    uint64_t prev_end = 0;
    bool first = true;
    for (const auto& [b, e] : s.ranges()) {
      ASSERT_LT(b, e);
      if (!first) {
        ASSERT_LT(prev_end, b);  // disjoint and not adjacent
      }
      prev_end = e;
      first = false;
      total += e - b;
    }
    ASSERT_EQ(total, s.total_bytes());
  }
}

}  // namespace
}  // namespace tandem::core
