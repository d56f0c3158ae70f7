// Dual primary: concurrent overlapping writes from both nodes must leave
// both replicas byte-identical, over many random interleavings of frame
// deliveries and disk completions. A deliberately broken conflict rule
// must be caught by the same check (negative control).
#include <gtest/gtest.h>

#include <cerrno>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 32 * 1024;

struct DualPrimary {
  DualPrimary(uint64_t seed, bool break_rule = false)
      : h(config("mail01", 1, "mail02", break_rule), config("mail02", 2, "mail01", break_rule),
          kDisk, seed) {
    EXPECT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(5)}).ok());
    EXPECT_TRUE(h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(5)}).ok());
    h.connect_both();
    EXPECT_TRUE(h.a().core().promote().ok());
    h.run_until_quiet();
    EXPECT_TRUE(h.b().core().promote().ok());
    h.run_until_quiet();
  }
  static ReplicatorConfig config(const char* self, uint32_t id, const char* peer, bool br) {
    ReplicatorConfig c = make_config(self, id, peer, WireProtocol::kC, true);
    c.test_break_conflict_rule = br;
    return c;
  }
  TwoNodeHarness h;
};

struct Outcome {
  bool identical = false;
  bool all_ok = false;
  uint64_t conflicts = 0;
};

// Both primaries write random overlapping ranges of a small region while
// frames and disk completions are delivered in random order.
Outcome run_workload(uint64_t seed, bool break_rule) {
  DualPrimary d(seed, break_rule);
  TwoNodeHarness& h = d.h;
  auto& rng = h.rng();
  const int writes = 30 + static_cast<int>(rng() % 30);
  for (int op = 0; op < writes; ++op) {
    const int node = static_cast<int>(rng() % 2);
    const uint64_t off = (rng() % 32) * 512;  // first 16 KiB: many overlaps
    const auto len = static_cast<uint32_t>((1 + rng() % 8) * 512);
    h.node(node).write_pattern(off, len, static_cast<uint8_t>(op * 2 + node + 1));
    for (uint64_t s = rng() % 5; s > 0; --s) h.step();
  }
  h.run_until_quiet();
  Outcome o;
  o.identical = h.a().disk == h.b().disk;
  o.all_ok = h.a().unfinished_requests() == 0 && h.b().unfinished_requests() == 0 &&
             h.a().core().idle() && h.b().core().idle() &&
             h.a().status().conn == ConnState::kConnected;
  o.conflicts = h.a().core().counters().write_conflicts + h.b().core().counters().write_conflicts;
  return o;
}

TEST(ReplicatorDualPrimary, OverlappingConcurrentWritesEndIdenticalOver1000Seeds) {
  uint64_t conflicts = 0;
  for (uint64_t seed = 1; seed <= 1000; ++seed) {
    const Outcome o = run_workload(seed, false);
    ASSERT_TRUE(o.all_ok) << "seed " << seed;
    ASSERT_TRUE(o.identical) << "replicas differ; replay with seed " << seed;
    conflicts += o.conflicts;
  }
  // The workload must actually exercise the conflict rule.
  EXPECT_GT(conflicts, 1000U);
}

TEST(ReplicatorDualPrimary, BrokenConflictRuleIsCaught) {
  uint64_t diverged = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    if (!run_workload(seed, true).identical) ++diverged;
  }
  EXPECT_GT(diverged, 0U) << "the identity check cannot see a broken conflict rule";
}

// Both write overlapping ranges before seeing each other's write: the
// winner (lower node id, mail01) keeps its data on the overlap, on both
// disks; each keeps its own data elsewhere.
TEST(ReplicatorDualPrimary, WinnerDataWinsTheOverlapOnBothDisks) {
  DualPrimary d(7);
  TwoNodeHarness& h = d.h;
  const uint64_t wa = h.a().write_pattern(0, 8192, 1);
  const uint64_t wb = h.b().write_pattern(4096, 8192, 2);
  h.drain();
  const std::vector<std::byte> a_data = h.a().request(wa).buffer;
  const std::vector<std::byte> b_data = h.b().request(wb).buffer;
  // Deliver both frames while both writes are pending on both sides.
  h.deliver_one(0);
  h.deliver_one(1);
  h.run_until_quiet();
  ASSERT_EQ(h.a().request(wa).result, 0);
  ASSERT_EQ(h.b().request(wb).result, 0);
  EXPECT_EQ(h.a().core().counters().write_conflicts, 1U);
  EXPECT_EQ(h.b().core().counters().write_conflicts, 1U);
  EXPECT_EQ(h.a().disk, h.b().disk);
  // Overlap [4096, 8192) holds a's data, [8192, 12288) b's.
  EXPECT_TRUE(std::equal(a_data.begin(), a_data.end(), h.a().disk.begin()));
  EXPECT_TRUE(std::equal(b_data.begin() + 4096, b_data.end(), h.a().disk.begin() + 8192));
}

// A local write overlapping a received, unacknowledged peer write waits for
// it (rule a), so its frame follows the acknowledgement.
TEST(ReplicatorDualPrimary, LocalWriteWaitsForUnacknowledgedPeerWrite) {
  DualPrimary d(9);
  TwoNodeHarness& h = d.h;
  h.a().write_pattern(0, 4096, 1);
  h.deliver_one(0);  // b has received a's write; b's disk has not completed it
  h.b().sent.clear();
  const uint64_t wb = h.b().write_pattern(0, 4096, 2);
  h.drain();
  EXPECT_TRUE(std::find(h.b().sent.begin(), h.b().sent.end(), net::FrameType::kWrite) ==
              h.b().sent.end());
  h.complete_all_io(1);  // a's write lands on b, b acknowledges, then sends its own
  ASSERT_GE(h.b().sent.size(), 2U);
  EXPECT_EQ(h.b().sent[0], net::FrameType::kWriteAck);
  EXPECT_EQ(h.b().sent[1], net::FrameType::kWrite);
  h.run_until_quiet();
  EXPECT_EQ(h.b().request(wb).result, 0);
  EXPECT_EQ(h.a().disk, h.b().disk);
  EXPECT_EQ(h.a().disk[0], static_cast<std::byte>(2 * 31U));
}

}  // namespace
}  // namespace tandem::core::testing
