// data-integrity-alg: every Write, ResyncData and ReadReply carries the
// digest of its data; the receiver checks it, and a mismatch closes the
// connection (the writes in flight are then marked out of sync and resynced
// after the reconnect). Both nodes must use the same algorithm.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSize = 256 * 1024;
constexpr uint32_t kBlock = 4096;

ReplicatorConfig config(const std::string& self, uint32_t id, const std::string& peer,
                        DigestAlg alg) {
  ReplicatorConfig c = make_config(self, id, peer);
  c.resync_chunk_bytes = 16 * 1024;
  c.integrity_alg = alg;
  return c;
}

struct Pair {
  explicit Pair(DigestAlg alg, DigestAlg b_alg)
      : h(config("mail01", 1, "mail02", alg), config("mail02", 2, "mail01", b_alg), kSize) {}
  explicit Pair(DigestAlg alg) : Pair(alg, alg) {}
  // a Primary and UpToDate, b freshly created: connecting starts a full sync.
  void start_full_sync() {
    ASSERT_TRUE(h.a().core().attach(DiskInfo{kSize, uptodate_metadata(3)}).ok());
    ASSERT_TRUE(h.b().core().attach(DiskInfo{kSize, fresh_metadata()}).ok());
    for (size_t i = 0; i < kSize; ++i) h.a().disk[i] = static_cast<std::byte>(i * 31 >> 3);
    ASSERT_TRUE(h.a().core().promote().ok());
    h.connect_both();
  }
  void in_sync_with_a_primary() {
    start_full_sync();
    h.run_until_quiet();
    ASSERT_EQ(h.b().status().disk, DiskState::kUpToDate);
  }
  // Delivers a's frames until the next one is of `type`.
  void deliver_until(net::FrameType type) {
    for (int i = 0; i < 10'000; ++i) {
      const auto next = h.next_frame_type(0);
      if (next == type) return;
      if (next.has_value()) {
        h.deliver_one(0);
      } else if (!h.complete_io(0) && !h.deliver_one(1) && !h.complete_io(1)) {
        break;
      }
    }
    FAIL() << "no frame of type " << static_cast<int>(type) << " from mail01";
  }
  TwoNodeHarness h;
};

TEST(DataIntegrity, SyncWritesAndPeerReadsPassTheCheck) {
  for (DigestAlg alg :
       {DigestAlg::kCrc32c, DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha256}) {
    Pair p(alg);
    p.in_sync_with_a_primary();
    p.h.a().write_pattern(8 * kBlock, 3 * kBlock, 7);
    p.h.run_until_quiet();
    // a without its disk reads through b (ReadReply).
    ASSERT_TRUE(p.h.a().core().detach().ok());
    p.h.run_until_quiet();
    const uint64_t r = p.h.a().read(8 * kBlock, 2 * kBlock);
    p.h.run_until_quiet();
    ASSERT_TRUE(p.h.a().done(r));
    EXPECT_EQ(p.h.a().request(r).result, 0);
    EXPECT_TRUE(std::equal(p.h.a().request(r).buffer.begin(), p.h.a().request(r).buffer.end(),
                           p.h.b().disk.begin() + 8 * kBlock));
    EXPECT_TRUE(p.h.a().closes.empty()) << to_string(alg) << ": " << p.h.first_close_reason();
    EXPECT_TRUE(p.h.b().closes.empty()) << to_string(alg) << ": " << p.h.first_close_reason();
    EXPECT_EQ(p.h.b().status().conn, ConnState::kConnected);
  }
}

TEST(DataIntegrity, AChangedWriteClosesTheConnectionAndIsResynced) {
  Pair p(DigestAlg::kCrc32c);
  p.in_sync_with_a_primary();
  const uint64_t w = p.h.a().write_pattern(4 * kBlock, kBlock, 9);
  ASSERT_EQ(p.h.next_frame_type(0), net::FrameType::kWrite);
  p.h.corrupt_next(0);
  p.h.deliver_one(0);
  ASSERT_FALSE(p.h.b().closes.empty());
  EXPECT_THAT(p.h.b().closes[0].reason,
              HasSubstr("data integrity check failed: Write of 4096 bytes at offset 16384"));
  EXPECT_THAT(p.h.b().closes[0].reason, HasSubstr("crc32c"));
  // The harness reconnects nothing by itself: do it, and the write that
  // never reached b is resynced from a's bitmap.
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(w));
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(DataIntegrity, AChangedResyncChunkClosesTheConnection) {
  Pair p(DigestAlg::kSha256);
  p.start_full_sync();
  p.deliver_until(net::FrameType::kResyncData);
  p.h.corrupt_next(0);
  p.h.deliver_one(0);
  ASSERT_FALSE(p.h.b().closes.empty());
  EXPECT_THAT(p.h.b().closes[0].reason, HasSubstr("data integrity check failed: ResyncData"));
  EXPECT_EQ(p.h.b().status().disk, DiskState::kInconsistent);
}

TEST(DataIntegrity, AChangedReadReplyFailsNoRead) {
  Pair p(DigestAlg::kMd5);
  p.in_sync_with_a_primary();
  ASSERT_TRUE(p.h.a().core().detach().ok());
  p.h.run_until_quiet();
  const uint64_t r = p.h.a().read(0, kBlock);
  p.h.deliver_one(0);  // the ReadRequest
  p.h.complete_io(1);  // b reads its disk
  ASSERT_EQ(p.h.next_frame_type(1), net::FrameType::kReadReply);
  p.h.corrupt_next(1);
  p.h.deliver_one(1);
  ASSERT_FALSE(p.h.a().closes.empty());
  EXPECT_THAT(p.h.a().closes[0].reason, HasSubstr("data integrity check failed: ReadReply"));
  // The read is not completed with the changed data: with the peer gone
  // and no disk it fails.
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(r));
  EXPECT_NE(p.h.a().request(r).result, 0);
}

// Without the option the same change goes unnoticed: the replicas differ.
TEST(DataIntegrity, WithoutItAChangedWriteLandsOnThePeer) {
  Pair p(DigestAlg::kNone);
  p.in_sync_with_a_primary();
  p.h.a().write_pattern(4 * kBlock, kBlock, 9);
  ASSERT_EQ(p.h.next_frame_type(0), net::FrameType::kWrite);
  p.h.corrupt_next(0);
  p.h.run_until_quiet();
  EXPECT_TRUE(p.h.b().closes.empty());
  EXPECT_NE(p.h.a().disk, p.h.b().disk);
}

TEST(DataIntegrity, DifferentAlgorithmsRefuseTheConnection) {
  Pair p(DigestAlg::kCrc32c, DigestAlg::kNone);
  ASSERT_TRUE(p.h.a().core().attach(DiskInfo{kSize, uptodate_metadata(3)}).ok());
  ASSERT_TRUE(p.h.b().core().attach(DiskInfo{kSize, uptodate_metadata(3)}).ok());
  p.h.connect_both();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().conn, ConnState::kStandAlone);
  EXPECT_EQ(p.h.b().status().conn, ConnState::kStandAlone);
  ASSERT_FALSE(p.h.a().closes.empty());
  EXPECT_THAT(p.h.a().closes[0].reason,
              HasSubstr("data-integrity-alg differs (this node crc32c, the peer none)"));
  ASSERT_FALSE(p.h.b().closes.empty());
  EXPECT_THAT(p.h.b().closes[0].reason,
              HasSubstr("data-integrity-alg differs (this node none, the peer crc32c)"));
}

}  // namespace
}  // namespace tandem::core::testing
