// Bitmap-based resync: only the out-of-sync ranges travel, the sets are
// exchanged in bounded frames, malformed sets are protocol errors, and
// application writes during the resync end identical on both nodes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "peer.pb.h"
#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

using ::testing::HasSubstr;

net::Frame frame_of(net::FrameType type, const google::protobuf::MessageLite& msg) {
  net::Frame f;
  const std::string bytes = msg.SerializeAsString();
  f.header.type = type;
  f.header.message_bytes = static_cast<uint32_t>(bytes.size());
  f.message.resize(bytes.size());
  std::memcpy(f.message.data(), bytes.data(), bytes.size());
  return f;
}

size_t count_sent(const SimNode& n, net::FrameType type) {
  return static_cast<size_t>(std::count(n.sent.begin(), n.sent.end(), type));
}

ReplicatorConfig config(const std::string& self, uint32_t id, const std::string& peer,
                        uint32_t chunk, bool two_primaries = false) {
  ReplicatorConfig c = make_config(self, id, peer, WireProtocol::kC, two_primaries);
  c.resync_chunk_bytes = chunk;
  c.resync_max_in_flight = 4;
  return c;
}

// Both UpToDate with the same generation, connected and idle; a primary.
void synced_pair(TwoNodeHarness& h, uint64_t size) {
  ASSERT_TRUE(h.a().core().attach(DiskInfo{size, uptodate_metadata(0x5151)}).ok());
  ASSERT_TRUE(h.b().core().attach(DiskInfo{size, uptodate_metadata(0x5151)}).ok());
  ASSERT_TRUE(h.a().core().promote().ok());
  h.connect_both();
  h.run_until_quiet();
  ASSERT_EQ(h.a().status().repl, ReplState::kEstablished);
  ASSERT_EQ(h.b().status().disk, DiskState::kUpToDate);
}

void expect_identical_and_clean(TwoNodeHarness& h) {
  EXPECT_EQ(h.a().status().repl, ReplState::kEstablished);
  EXPECT_EQ(h.b().status().repl, ReplState::kEstablished);
  EXPECT_EQ(h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(h.b().status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(h.a().bitmap.empty());
  EXPECT_TRUE(h.b().bitmap.empty());
  EXPECT_EQ(h.a().status().out_of_sync_bytes, 0U);
  EXPECT_EQ(h.b().status().out_of_sync_bytes, 0U);
  EXPECT_TRUE(h.a().disk == h.b().disk) << "replicas differ";
}

// The acceptance test: 1% of a 1 GiB device written while
// disconnected; the reconnect moves exactly those bytes.
TEST(ReplicatorBitmapResync, OnePercentOfOneGibTransfersExactlyThoseBytes) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  TwoNodeHarness h(config("mail01", 1, "mail02", 256 * 1024),
                   config("mail02", 2, "mail01", 256 * 1024), kGiB, 7);
  synced_pair(h, kGiB);
  EXPECT_EQ(h.a().status().sync_bytes_sent, 0U);
  h.cut_link();

  // 2621 distinct random 4 KiB blocks: 1% of the device.
  constexpr uint64_t kBlocks = kGiB / 4096;
  std::set<uint64_t> blocks;
  while (blocks.size() < kBlocks / 100) blocks.insert(h.rng()() % kBlocks);
  uint8_t seed = 1;
  for (uint64_t b : blocks) {
    h.a().write_pattern(b * 4096, 4096, seed++);
    h.complete_all_io(0);
  }
  h.run_until_quiet();
  const uint64_t written = blocks.size() * 4096;
  ASSERT_EQ(h.a().status().out_of_sync_bytes, written);
  ASSERT_FALSE(h.a().disk == h.b().disk);

  h.establish();
  EXPECT_EQ(h.a().status().repl, ReplState::kSyncSource);
  EXPECT_EQ(h.b().status().repl, ReplState::kSyncTarget);
  h.run_until_quiet();
  EXPECT_EQ(h.a().status().sync_bytes_sent, written);
  EXPECT_EQ(h.b().status().sync_bytes_received, written);
  EXPECT_EQ(h.a().status().sync_total_bytes, written);
  EXPECT_EQ(h.a().status().sync_done_bytes, written);
  EXPECT_EQ(h.b().status().sync_total_bytes, written);
  EXPECT_EQ(h.b().status().sync_done_bytes, written);
  expect_identical_and_clean(h);
}

// The target's out-of-sync ranges (here: a primary's writes the link cut
// left unacknowledged, then the roles swapped) are copied too: the source
// copies the union of both sets.
TEST(ReplicatorBitmapResync, SourceCopiesTheUnionOfBothSets) {
  constexpr uint64_t kSize = 1024 * 1024;
  TwoNodeHarness h(config("mail01", 1, "mail02", 64 * 1024),
                   config("mail02", 2, "mail01", 64 * 1024), kSize, 3);
  synced_pair(h, kSize);
  // b's set, injected as b would send it: sectors [8, 16) and [2048, 2056).
  proto::OutOfSync peer_set;
  for (uint64_t v : {8U, 8U, 2024U, 8U}) peer_set.add_runs(v);
  peer_set.set_last(true);
  h.cut_link();
  h.a().write_pattern(512 * 1024, 4096, 5);
  h.run_until_quiet();
  h.establish();
  ASSERT_EQ(h.a().status().repl, ReplState::kSyncSource);
  // a asked for b's set; b's real answer is on the wire. Deliver a's
  // request first, then b's answer plus the extra ranges (merged as b's).
  h.a().core().on_frame(frame_of(net::FrameType::kOutOfSync, peer_set));
  h.drain();
  h.run_until_quiet();
  // 4096 written + 2 x 4096 from the injected set (not overlapping).
  EXPECT_EQ(h.a().status().sync_bytes_sent, 3U * 4096);
  expect_identical_and_clean(h);
}

// A set larger than one frame is split, and the receiver reassembles it.
TEST(ReplicatorBitmapResync, LargeSetsTravelInSeveralBoundedFrames) {
  constexpr uint64_t kSize = 8 * 1024 * 1024;
  TwoNodeHarness h(config("mail01", 1, "mail02", 64 * 1024),
                   config("mail02", 2, "mail01", 64 * 1024), kSize, 5);
  synced_pair(h, kSize);
  h.cut_link();
  // 5000 separate 512-byte ranges: 10000 runs, three frames.
  for (uint64_t i = 0; i < 5000; ++i) {
    h.a().write_pattern(i * 1024, 512, static_cast<uint8_t>(i));
    h.complete_all_io(0);
  }
  h.run_until_quiet();
  ASSERT_EQ(h.a().status().out_of_sync_bytes, 5000U * 512);
  const size_t before = count_sent(h.a(), net::FrameType::kOutOfSync);
  h.establish();
  h.run_until_quiet();
  EXPECT_EQ(count_sent(h.a(), net::FrameType::kOutOfSync) - before, 3U);
  // Chunks cover a range at most, never the gaps between ranges.
  EXPECT_EQ(h.a().status().sync_bytes_sent, 5000U * 512);
  expect_identical_and_clean(h);
}

// Writes during a bitmap resync, from the source (and, dual primary, from
// the target), end identical on both disks.
TEST(ReplicatorBitmapResync, ApplicationWritesDuringResyncStayCorrect) {
  constexpr uint64_t kSize = 256 * 1024;
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    const bool two = seed % 2 == 0;
    TwoNodeHarness h(config("mail01", 1, "mail02", 8 * 1024, two),
                     config("mail02", 2, "mail01", 8 * 1024, two), kSize, seed);
    synced_pair(h, kSize);
    h.cut_link();
    auto& rng = h.rng();
    for (int i = 0; i < 20; ++i) {
      h.a().write_pattern((rng() % (kSize / 512 - 16)) * 512,
                          static_cast<uint32_t>((1 + rng() % 16) * 512), static_cast<uint8_t>(i));
    }
    h.run_until_quiet();
    const uint64_t dirty = h.a().status().out_of_sync_bytes;
    h.establish();
    ASSERT_EQ(h.a().status().repl, ReplState::kSyncSource) << "seed " << seed;
    if (two) {
      ASSERT_TRUE(h.b().core().promote().ok());
      h.drain();
    }
    for (int op = 0; op < 30; ++op) {
      const int node = two ? static_cast<int>(rng() % 2) : 0;
      h.node(node).write_pattern((rng() % (kSize / 512 - 16)) * 512,
                                 static_cast<uint32_t>((1 + rng() % 16) * 512),
                                 static_cast<uint8_t>(100 + op));
      for (uint64_t s = rng() % 10; s > 0; --s) h.step();
    }
    h.run_until_quiet();
    ASSERT_EQ(h.a().unfinished_requests() + h.b().unfinished_requests(), 0U) << "seed " << seed;
    // Only the dirty ranges travel (plus second passes after target writes).
    if (!two) {
      ASSERT_EQ(h.a().status().sync_bytes_sent, dirty) << "seed " << seed;
    }
    ASSERT_TRUE(h.a().disk == h.b().disk) << "replicas differ, seed " << seed;
    ASSERT_EQ(h.b().status().disk, DiskState::kUpToDate) << "seed " << seed;
    ASSERT_TRUE(h.a().bitmap.empty() && h.b().bitmap.empty()) << "seed " << seed;
  }
}

// An interrupted bitmap resync resumes with what is left: both nodes
// cleared what had landed.
TEST(ReplicatorBitmapResync, InterruptedResyncResumesWithTheRest) {
  constexpr uint64_t kSize = 4 * 1024 * 1024;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    TwoNodeHarness h(config("mail01", 1, "mail02", 16 * 1024),
                     config("mail02", 2, "mail01", 16 * 1024), kSize, seed);
    synced_pair(h, kSize);
    h.cut_link();
    h.a().write_pattern(0, 1024 * 1024, 1);
    h.a().write_pattern(2 * 1024 * 1024, 1024 * 1024, 2);
    h.run_until_quiet();
    h.establish();
    for (int i = 0; i < 120; ++i) h.step();
    const uint64_t sent_before = h.a().status().sync_bytes_sent;
    ASSERT_GT(sent_before, 0U) << "seed " << seed;
    ASSERT_LT(h.a().status().sync_done_bytes, 2U * 1024 * 1024) << "seed " << seed;
    h.cut_link();
    EXPECT_EQ(h.b().status().disk, DiskState::kInconsistent);
    // What is left: at most the dirty total minus what b acknowledged.
    EXPECT_LT(h.a().status().out_of_sync_bytes, 2U * 1024 * 1024) << "seed " << seed;
    h.establish();
    ASSERT_EQ(h.a().status().repl, ReplState::kSyncSource) << "seed " << seed;
    h.run_until_quiet();
    // Chunks in flight at the cut may travel twice (4 being read and 4
    // sent and not yet acknowledged); nothing else does.
    EXPECT_LE(h.a().status().sync_bytes_sent, 2U * 1024 * 1024 + 2 * 4 * 16 * 1024)
        << "seed " << seed;
    expect_identical_and_clean(h);
  }
}

TEST(ReplicatorBitmapResync, MalformedSetsAreProtocolErrors) {
  struct Case {
    std::vector<uint64_t> runs;
    const char* why;
  };
  const std::vector<Case> cases = {
      {{1, 2, 3}, "odd number of runs"},
      {{0, 0}, "empty range"},
      {{4, 4, 0, 4}, "range touching the previous one"},
      {{0, 512}, "beyond the 256-sector device"},
      {{100, 100, 100, 1}, "second range beyond the device"},
      {{~uint64_t{0}, 1}, "gap overflow"},
      {{1, ~uint64_t{0}}, "length overflow"},
  };
  for (const Case& c : cases) {
    TwoNodeHarness h(config("mail01", 1, "mail02", 16 * 1024),
                     config("mail02", 2, "mail01", 16 * 1024), 128 * 1024);
    synced_pair(h, 128 * 1024);
    proto::OutOfSync m;
    for (uint64_t v : c.runs) m.add_runs(v);
    m.set_last(true);
    h.a().core().on_frame(frame_of(net::FrameType::kOutOfSync, m));
    h.drain();
    ASSERT_FALSE(h.a().closes.empty()) << c.why;
    EXPECT_THAT(h.a().closes[0].reason, HasSubstr("protocol error: OutOfSync")) << c.why;
    EXPECT_EQ(h.a().status().out_of_sync_bytes, 0U) << c.why;
  }
  // Too many runs in one frame.
  TwoNodeHarness h(config("mail01", 1, "mail02", 16 * 1024),
                   config("mail02", 2, "mail01", 16 * 1024), 64 * 1024 * 1024);
  synced_pair(h, 64 * 1024 * 1024);
  proto::OutOfSync m;
  for (int i = 0; i < 4098; ++i) m.add_runs(1);
  h.a().core().on_frame(frame_of(net::FrameType::kOutOfSync, m));
  h.drain();
  ASSERT_FALSE(h.a().closes.empty());
  EXPECT_THAT(h.a().closes[0].reason, HasSubstr("4098 runs"));
}

// A set more fragmented than the receiver accepts means "everything
// differs": memory stays bounded whatever the peer sends.
TEST(ReplicatorBitmapResync, OverlyFragmentedSetMeansEverything) {
  constexpr uint64_t kSize = 320 * 1024 * 1024;
  TwoNodeHarness h(config("mail01", 1, "mail02", 1024 * 1024),
                   config("mail02", 2, "mail01", 1024 * 1024), kSize, 2);
  synced_pair(h, kSize);
  h.cut_link();
  h.a().write_pattern(0, 4096, 1);
  h.run_until_quiet();
  h.establish();
  // 129 frames of 2048 one-sector ranges: 264192 ranges, over the limit.
  for (int f = 0; f < 129; ++f) {
    proto::OutOfSync m;
    for (int r = 0; r < 2048; ++r) {
      m.add_runs(1);
      m.add_runs(1);
    }
    m.set_last(f == 128);
    h.a().core().on_frame(frame_of(net::FrameType::kOutOfSync, m));
    h.drain();
    ASSERT_TRUE(h.a().closes.empty()) << h.a().closes[0].reason;
  }
  EXPECT_EQ(h.a().status().out_of_sync_bytes, kSize);
  EXPECT_LE(h.a().core().out_of_sync().ranges().size(), 1U);
  h.run_until_quiet();
  EXPECT_EQ(h.a().status().sync_bytes_sent, kSize);
  expect_identical_and_clean(h);
}

// A full sync (primary --force) still copies everything and reports it.
TEST(ReplicatorBitmapResync, ForcedPrimaryCopiesTheWholeDevice) {
  constexpr uint64_t kSize = 512 * 1024;
  TwoNodeHarness h(config("mail01", 1, "mail02", 32 * 1024),
                   config("mail02", 2, "mail01", 32 * 1024), kSize, 9);
  ASSERT_TRUE(h.a().core().attach(DiskInfo{kSize, fresh_metadata()}).ok());
  ASSERT_TRUE(h.b().core().attach(DiskInfo{kSize, fresh_metadata()}).ok());
  std::fill(h.a().disk.begin(), h.a().disk.end(), std::byte{0x42});
  h.connect_both();
  h.run_until_quiet();
  ASSERT_TRUE(h.a().core().promote(true).ok());
  h.run_until_quiet();
  EXPECT_EQ(h.a().status().sync_bytes_sent, kSize);
  EXPECT_EQ(h.b().status().sync_bytes_received, kSize);
  expect_identical_and_clean(h);
}

}  // namespace
}  // namespace tandem::core::testing
