// Full resync: correctness with concurrent application writes on the
// source and (dual primary) on the target, progress accounting, and
// interruption by a broken link.
#include <gtest/gtest.h>

#include <algorithm>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 256 * 1024;

void fill(std::vector<std::byte>& disk, uint64_t seed) {
  for (size_t i = 0; i < disk.size(); ++i) {
    disk[i] = static_cast<std::byte>((i * 2654435761U + seed) >> 7);
  }
}

struct Sync {
  Sync(uint64_t seed, bool two_primaries)
      : h(make_config("mail01", 1, "mail02", WireProtocol::kC, two_primaries),
          make_config("mail02", 2, "mail01", WireProtocol::kC, two_primaries), kDisk, seed) {
    fill(h.a().disk, seed);
    fill(h.b().disk, seed + 99);  // garbage the sync must replace
    EXPECT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(3)}).ok());
    EXPECT_TRUE(h.b().core().attach(DiskInfo{kDisk, fresh_metadata()}).ok());
    EXPECT_TRUE(h.a().core().promote().ok());
    h.connect_both();
  }
  TwoNodeHarness h;
};

void random_writes(TwoNodeHarness& h, int writers, int count) {
  auto& rng = h.rng();
  for (int op = 0; op < count; ++op) {
    const int node = writers == 1 ? 0 : static_cast<int>(rng() % 2);
    const uint64_t off = (rng() % (kDisk / 512 - 16)) * 512;
    const auto len = static_cast<uint32_t>((1 + rng() % 16) * 512);
    h.node(node).write_pattern(off, len, static_cast<uint8_t>(op + 1 + node * 100));
    for (uint64_t s = rng() % 12; s > 0; --s) h.step();
  }
}

void expect_synced(TwoNodeHarness& h, uint64_t seed) {
  const Status a = h.a().status();
  const Status b = h.b().status();
  ASSERT_EQ(a.repl, ReplState::kEstablished) << "seed " << seed;
  ASSERT_EQ(b.repl, ReplState::kEstablished) << "seed " << seed;
  ASSERT_EQ(b.disk, DiskState::kUpToDate) << "seed " << seed;
  ASSERT_EQ(a.peer_disk, DiskState::kUpToDate) << "seed " << seed;
  ASSERT_EQ(h.a().unfinished_requests() + h.b().unfinished_requests(), 0U) << "seed " << seed;
  ASSERT_TRUE(h.a().bitmap.empty() && h.b().bitmap.empty()) << "seed " << seed;
  ASSERT_EQ(b.sync_done_bytes, kDisk);
  ASSERT_EQ(h.a().disk, h.b().disk) << "replicas differ after sync, seed " << seed;
}

TEST(ReplicatorResync, FullSyncWithConcurrentPrimaryWrites) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Sync s(seed, false);
    ASSERT_EQ(s.h.a().status().repl, ReplState::kSyncSource);
    random_writes(s.h, 1, 40);
    s.h.run_until_quiet();
    expect_synced(s.h, seed);
  }
}

// The sync target is primary too and writes while chunks are in flight:
// the source sends a chunk again when a peer write overlapped it.
TEST(ReplicatorResync, FullSyncWithWritesOnBothPrimaries) {
  uint64_t redos = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Sync s(seed, true);
    ASSERT_TRUE(s.h.b().core().promote().ok());  // Inconsistent, reads/writes via the peer
    s.h.drain();
    random_writes(s.h, 2, 40);
    s.h.run_until_quiet();
    expect_synced(s.h, seed);
    redos += s.h.a().core().counters().resync_redos;
  }
  EXPECT_GT(redos, 0U);  // the interesting case happened
}

// Only the sync target writes, with small chunks: peer writes queued on
// the source (behind an older epoch) must hold back the chunk that
// overlaps them, or the chunk would carry older data to the target.
TEST(ReplicatorResync, SmallChunksWithWritesFromTheTargetOnly) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    ReplicatorConfig ca = make_config("mail01", 1, "mail02", WireProtocol::kC, true);
    ca.resync_chunk_bytes = 4096;
    ca.resync_max_in_flight = 2;
    const uint64_t disk = 64 * 1024;
    TwoNodeHarness h(ca, make_config("mail02", 2, "mail01", WireProtocol::kC, true), disk, seed);
    std::fill(h.a().disk.begin(), h.a().disk.end(), std::byte{0x11});
    ASSERT_TRUE(h.a().core().attach(DiskInfo{disk, uptodate_metadata(3)}).ok());
    ASSERT_TRUE(h.b().core().attach(DiskInfo{disk, fresh_metadata()}).ok());
    ASSERT_TRUE(h.a().core().promote().ok());
    h.connect_both();
    ASSERT_TRUE(h.b().core().promote().ok());
    h.drain();
    auto& rng = h.rng();
    for (int op = 0; op < 40; ++op) {
      const uint64_t off = (rng() % 120) * 512;
      const auto len = static_cast<uint32_t>((1 + rng() % 8) * 512);
      h.b().write_pattern(off, len, static_cast<uint8_t>(op + 1));
      for (uint64_t s = rng() % 6; s > 0; --s) h.step();
    }
    h.run_until_quiet();
    ASSERT_EQ(h.b().status().disk, DiskState::kUpToDate) << "seed " << seed;
    ASSERT_EQ(h.b().unfinished_requests(), 0U) << "seed " << seed;
    ASSERT_EQ(h.a().disk, h.b().disk) << "replicas differ after sync, seed " << seed;
  }
}

TEST(ReplicatorResync, ProgressIsCountedPerChunk) {
  Sync s(1, false);
  EXPECT_EQ(s.h.a().status().sync_total_bytes, kDisk);
  EXPECT_EQ(s.h.a().status().sync_done_bytes, 0U);
  EXPECT_EQ(s.h.b().status().out_of_sync_bytes, kDisk);
  // Complete reads and deliver until the first chunk is acknowledged.
  while (s.h.a().status().sync_done_bytes == 0 && s.h.step()) {
  }
  EXPECT_EQ(s.h.a().status().sync_done_bytes, 16U * 1024);
  EXPECT_LT(s.h.a().status().out_of_sync_bytes, kDisk);
  s.h.run_until_quiet();
  EXPECT_EQ(s.h.a().status().sync_done_bytes, kDisk);
}

TEST(ReplicatorResync, InterruptedSyncRestartsAfterReconnect) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    Sync s(seed, false);
    random_writes(s.h, 1, 10);
    for (int i = 0; i < 20; ++i) s.h.step();
    s.h.cut_link();
    EXPECT_EQ(s.h.b().status().disk, DiskState::kInconsistent);
    EXPECT_EQ(s.h.a().status().repl, ReplState::kOff);
    random_writes(s.h, 1, 5);  // written while disconnected
    s.h.run_until_quiet();
    s.h.establish();
    EXPECT_EQ(s.h.a().status().repl, ReplState::kSyncSource);
    random_writes(s.h, 1, 10);
    s.h.run_until_quiet();
    expect_synced(s.h, seed);
  }
}

}  // namespace
}  // namespace tandem::core::testing
