// Resync pacing in the core: the controller's ticks (TimerId::kResync)
// gate how much the source issues; pause-sync on either node and
// resync-after stop new chunks and show up in the status.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSize = 1024 * 1024;
constexpr uint32_t kChunk = 16 * 1024;

ReplicatorConfig config(const std::string& self, uint32_t id, const std::string& peer,
                        uint32_t rate_kib = 0) {
  ReplicatorConfig c = make_config(self, id, peer);
  c.resync_chunk_bytes = kChunk;
  c.resync_max_in_flight = 8;
  c.rate.resync_rate_kib = rate_kib;
  return c;
}

bool resync_timer_armed(SimNode& n) {
  return n.timer_armed[static_cast<size_t>(TimerId::kResync)];
}

// Fires the resync tick the core armed.
void tick(TwoNodeHarness& h, int node) {
  ASSERT_TRUE(resync_timer_armed(h.node(node)));
  h.node(node).timer_armed[static_cast<size_t>(TimerId::kResync)] = false;
  h.node(node).core().on_timer(TimerId::kResync);
  h.drain();
}

// a UpToDate primary, b never synced: connecting starts a full sync.
void start_full_sync(TwoNodeHarness& h) {
  ASSERT_TRUE(h.a().core().attach(DiskInfo{kSize, uptodate_metadata(3)}).ok());
  ASSERT_TRUE(h.b().core().attach(DiskInfo{kSize, fresh_metadata()}).ok());
  ASSERT_TRUE(h.a().core().promote().ok());
  h.connect_both();
}

TEST(ReplicatorRate, FixedRateIssuesOneTicksShareAtATime) {
  // 640 KiB/s: 64 KiB (four chunks) per 100 ms tick.
  TwoNodeHarness h(config("mail01", 1, "mail02", 640), config("mail02", 2, "mail01"), kSize);
  start_full_sync(h);
  h.run_until_quiet();
  // The first tick runs when the sync starts: its share moves at once.
  EXPECT_EQ(h.a().status().sync_bytes_sent, 64U * 1024);
  int ticks = 1;
  uint64_t sent = 64 * 1024;
  while (h.a().status().repl == ReplState::kSyncSource && ticks < 100) {
    tick(h, 0);
    ++ticks;
    h.run_until_quiet();
    const uint64_t now = h.a().status().sync_bytes_sent;
    EXPECT_EQ(now - sent, std::min<uint64_t>(64 * 1024, kSize - sent)) << "tick " << ticks;
    sent = now;
  }
  EXPECT_EQ(ticks, 16);  // 1 MiB at 64 KiB per tick, the first at the start
  EXPECT_EQ(h.b().status().disk, DiskState::kUpToDate);
  EXPECT_FALSE(resync_timer_armed(h.a()));  // no ticks after the sync
  h.a().core().on_timer(TimerId::kResync);  // a stale tick is harmless
  EXPECT_TRUE(h.a().disk == h.b().disk);
}

TEST(ReplicatorRate, UnlimitedSyncNeedsNoTicks) {
  TwoNodeHarness h(config("mail01", 1, "mail02"), config("mail02", 2, "mail01"), kSize);
  start_full_sync(h);
  EXPECT_FALSE(resync_timer_armed(h.a()));
  h.run_until_quiet();
  EXPECT_EQ(h.b().status().disk, DiskState::kUpToDate);
}

TEST(ReplicatorRate, PauseOnTheSourceStopsNewChunksUntilResumed) {
  TwoNodeHarness h(config("mail01", 1, "mail02"), config("mail02", 2, "mail01"), kSize);
  ASSERT_TRUE(h.a().core().pause_sync().ok());
  EXPECT_THAT(h.a().core().pause_sync().error().message, HasSubstr("already paused"));
  start_full_sync(h);
  h.run_until_quiet();
  EXPECT_EQ(h.a().status().repl, ReplState::kSyncSource);
  EXPECT_EQ(h.a().status().sync_bytes_sent, 0U);
  EXPECT_TRUE(h.a().status().sync_paused_user);
  EXPECT_TRUE(h.b().status().sync_paused_peer);
  EXPECT_FALSE(h.b().status().sync_paused_user);
  ASSERT_TRUE(h.a().core().resume_sync().ok());
  EXPECT_THAT(h.a().core().resume_sync().error().message, HasSubstr("not paused"));
  h.run_until_quiet();
  EXPECT_EQ(h.b().status().disk, DiskState::kUpToDate);
  EXPECT_FALSE(h.b().status().sync_paused_peer);
  EXPECT_EQ(h.a().status().sync_bytes_sent, kSize);
}

TEST(ReplicatorRate, PauseOnTheTargetStopsTheSource) {
  TwoNodeHarness h(config("mail01", 1, "mail02"), config("mail02", 2, "mail01"), kSize, 4);
  start_full_sync(h);
  for (int i = 0; i < 30; ++i) h.step();
  ASSERT_TRUE(h.b().core().pause_sync().ok());
  h.drain();
  // What was in flight finishes; then nothing moves.
  h.run_until_quiet();
  const uint64_t sent = h.a().status().sync_bytes_sent;
  EXPECT_LT(sent, kSize);
  EXPECT_TRUE(h.a().status().sync_paused_peer);
  h.run_until_quiet();
  EXPECT_EQ(h.a().status().sync_bytes_sent, sent);
  ASSERT_TRUE(h.b().core().resume_sync().ok());
  h.run_until_quiet();
  EXPECT_EQ(h.b().status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(h.a().disk == h.b().disk);
}

TEST(ReplicatorRate, DependencyPauseHoldsTheSyncUntilReleased) {
  TwoNodeHarness h(config("mail01", 1, "mail02"), config("mail02", 2, "mail01"), kSize);
  h.a().core().set_sync_dependency_paused(true);
  start_full_sync(h);
  h.run_until_quiet();
  EXPECT_TRUE(h.a().status().sync_paused_dependency);
  EXPECT_EQ(h.a().status().sync_bytes_sent, 0U);
  h.a().core().set_sync_dependency_paused(false);
  h.run_until_quiet();
  EXPECT_FALSE(h.a().status().sync_paused_dependency);
  EXPECT_EQ(h.b().status().disk, DiskState::kUpToDate);
}

TEST(ReplicatorRate, DynamicControllerYieldsToApplicationWrites) {
  ReplicatorConfig ca = config("mail01", 1, "mail02");
  ca.rate.c_plan_ahead = 20;
  ca.rate.c_fill_target_sectors = 2048;  // 1 MiB
  ca.rate.c_min_rate_kib = 160;          // 16 KiB (one chunk) per tick
  ca.rate.c_max_rate_kib = 100 * 1024;
  TwoNodeHarness h(ca, config("mail02", 2, "mail01"), 4 * kSize);
  ASSERT_TRUE(h.a().core().attach(DiskInfo{4 * kSize, uptodate_metadata(3)}).ok());
  ASSERT_TRUE(h.b().core().attach(DiskInfo{4 * kSize, fresh_metadata()}).ok());
  ASSERT_TRUE(h.a().core().promote().ok());
  h.connect_both();
  h.run_until_quiet();
  // The sync's first tick ran when it started, with no application I/O.
  // While the application writes every tick, at most c-min-rate moves.
  uint64_t sent = h.a().status().sync_bytes_sent;
  for (int t = 0; t < 10; ++t) {
    h.a().write_pattern(0, 4096, static_cast<uint8_t>(t));
    tick(h, 0);
    h.run_until_quiet();
    const uint64_t now = h.a().status().sync_bytes_sent;
    EXPECT_LE(now - sent, kChunk) << "tick " << t;
    sent = now;
  }
  // Idle application: the controller opens up.
  uint64_t idle_best = 0;
  for (int t = 0; t < 10 && h.a().status().repl == ReplState::kSyncSource; ++t) {
    tick(h, 0);
    h.run_until_quiet();
    const uint64_t now = h.a().status().sync_bytes_sent;
    idle_best = std::max(idle_best, now - sent);
    sent = now;
  }
  EXPECT_GE(idle_best, 8U * kChunk);
}

// resync_max_in_flight (tandemd: half of max-buffers) bounds the source's
// reads, and as many chunks more may wait for the target's acknowledgement;
// with the peer slow to acknowledge, the window fills and stops there.
TEST(ReplicatorRate, SourceWindowIsItsReadsAndAsManyAwaitingAcks) {
  ReplicatorConfig ca = config("mail01", 1, "mail02");
  ca.resync_max_in_flight = 3;
  TwoNodeHarness h(ca, config("mail02", 2, "mail01"), kSize, 7);
  start_full_sync(h);
  size_t most_reads = 0;
  uint64_t most_chunks = 0;
  while (h.step()) {
    size_t reads = 0;
    for (const SubmitIo& io : h.a().pending_ios) reads += io.kind == LocalIoKind::kRead ? 1 : 0;
    const Status s = h.a().status();
    const uint64_t awaiting = (s.sync_bytes_sent - s.sync_done_bytes) / kChunk;
    ASSERT_LE(reads, 3U);
    ASSERT_LE(reads + awaiting, 6U);
    most_reads = std::max(most_reads, reads);
    most_chunks = std::max(most_chunks, reads + awaiting);
  }
  EXPECT_EQ(most_reads, 3U);
  EXPECT_EQ(most_chunks, 6U);
  EXPECT_EQ(h.b().status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(h.a().disk == h.b().disk);
}

}  // namespace
}  // namespace tandem::core::testing
