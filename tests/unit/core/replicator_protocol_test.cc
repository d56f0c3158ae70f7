// Completion points of protocols A, B and C, write ordering on the peer
// (epochs), flush/barrier and FUA propagation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 128 * 1024;

// a primary, b secondary, both UpToDate and connected, nothing in flight.
struct Primary {
  explicit Primary(WireProtocol p)
      : h(make_config("mail01", 1, "mail02", p), make_config("mail02", 2, "mail01", p), kDisk) {
    EXPECT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(9)}).ok());
    EXPECT_TRUE(h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(9)}).ok());
    h.connect_both();
    EXPECT_TRUE(h.a().core().promote().ok());
    h.run_until_quiet();
    h.a().sent.clear();
    h.b().sent.clear();
  }
  TwoNodeHarness h;
};

size_t count(const std::vector<net::FrameType>& v, net::FrameType t) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), t));
}

TEST(ReplicatorProtocol, ACompletesWhenSentAndLocallyWritten) {
  Primary p(WireProtocol::kA);
  const uint64_t id = p.h.a().write_pattern(0, 4096, 1);
  p.h.drain();
  EXPECT_EQ(count(p.h.a().sent, net::FrameType::kWrite), 1U);
  EXPECT_FALSE(p.h.a().done(id));  // local write still pending
  p.h.complete_io(0);              // nothing delivered to the peer yet
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, 0);
  EXPECT_EQ(p.h.in_flight(0), 1U);  // the Write frame has not even arrived
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
  EXPECT_TRUE(p.h.a().core().idle());
}

TEST(ReplicatorProtocol, BCompletesOnRecvAckBeforeThePeerDiskWrite) {
  Primary p(WireProtocol::kB);
  const uint64_t id = p.h.a().write_pattern(0, 4096, 1);
  p.h.complete_io(0);
  EXPECT_FALSE(p.h.a().done(id));
  p.h.deliver_one(0);  // Write reaches b, b answers RecvAck at once
  EXPECT_EQ(p.h.b().pending_ios.size(), 1U);
  EXPECT_EQ(count(p.h.b().sent, net::FrameType::kRecvAck), 1U);
  EXPECT_FALSE(p.h.a().done(id));
  p.h.deliver_one(1);  // RecvAck
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.b().pending_ios.size(), 1U);  // b's disk write still pending
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(ReplicatorProtocol, BWaitsForTheLocalWriteToo) {
  Primary p(WireProtocol::kB);
  const uint64_t id = p.h.a().write_pattern(0, 4096, 1);
  p.h.deliver_one(0);
  p.h.deliver_one(1);  // RecvAck arrives before the local write is done
  EXPECT_FALSE(p.h.a().done(id));
  p.h.complete_io(0);
  EXPECT_TRUE(p.h.a().done(id));
}

// Protocol B with two overlapping writes that a completed: b submitted w1
// and RecvAck'ed w2, which waits behind w1's disk write. Returns the data a
// acknowledged at offset 0 (w2's).
std::vector<std::byte> recv_acked_write_waiting_on_b(Primary& p) {
  const uint64_t w1 = p.h.a().write_pattern(0, 4096, 1);
  p.h.complete_io(0);
  p.h.deliver_one(0);  // b submits w1 and answers RecvAck
  p.h.deliver_one(1);
  EXPECT_TRUE(p.h.a().done(w1));
  const uint64_t w2 = p.h.a().write_pattern(0, 4096, 2);  // overlaps w1
  p.h.complete_io(0);
  p.h.deliver_one(0);  // b: RecvAck, but w2 waits for w1's disk write
  p.h.deliver_one(1);
  EXPECT_TRUE(p.h.a().done(w2));
  EXPECT_EQ(p.h.a().request(w2).result, 0);
  EXPECT_EQ(p.h.b().pending_ios.size(), 1U);  // only w1 is on its way to b's disk
  return {p.h.a().disk.begin(), p.h.a().disk.begin() + 4096};
}

// DRBD's protocol B: a write the secondary received (and RecvAck'ed, so the
// primary may have acknowledged it) is written there even when the
// connection breaks before it reached the disk, after the earlier
// overlapping write it waited for, so that a failover keeps it.
TEST(ReplicatorProtocol, BSecondaryWritesWhatItReceivedAfterTheLinkBreaks) {
  Primary p(WireProtocol::kB);
  const std::vector<std::byte> acknowledged = recv_acked_write_waiting_on_b(p);
  ASSERT_FALSE(::testing::Test::HasFailure());

  p.h.cut_link();
  const size_t sent_before = p.h.b().sent.size();
  // Until the received writes are on the disk, b's data is older than what
  // a acknowledged: no promotion yet.
  auto early = p.h.b().core().promote();
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("retry"), std::string::npos) << early.error().message;
  p.h.complete_io(1);  // w1 lands, then w2 is submitted
  ASSERT_EQ(p.h.b().pending_ios.size(), 1U);
  EXPECT_EQ(p.h.b().pending_ios[0].offset, 0U);
  EXPECT_FALSE(p.h.b().core().idle());
  p.h.complete_io(1);
  EXPECT_TRUE(p.h.b().core().idle());
  EXPECT_EQ(p.h.b().sent.size(), sent_before);  // no acknowledgement without a connection
  EXPECT_TRUE(std::equal(acknowledged.begin(), acknowledged.end(), p.h.b().disk.begin()));
  // Failover: b holds every write a acknowledged.
  ASSERT_TRUE(p.h.b().core().promote().ok());
  EXPECT_EQ(p.h.b().status().role, Role::kPrimary);
}

// The same promise across a detach: a write b RecvAck'ed but had not yet
// submitted (it waits behind an earlier overlapping write) is written before
// the disk goes away, as DRBD's detach waits for local I/O. The detached
// disk keeps its UpToDate metadata, so it must hold what a acknowledged.
TEST(ReplicatorProtocol, BSecondaryWritesWhatItReceivedBeforeItsDiskIsDetached) {
  Primary p(WireProtocol::kB);
  const std::vector<std::byte> acknowledged = recv_acked_write_waiting_on_b(p);
  ASSERT_FALSE(::testing::Test::HasFailure());

  ASSERT_TRUE(p.h.b().core().detach().ok());
  p.h.drain();
  p.h.complete_io(1);  // w1 lands, then w2 still goes to the disk
  ASSERT_EQ(p.h.b().pending_ios.size(), 1U);
  EXPECT_EQ(p.h.b().pending_ios[0].offset, 0U);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);  // not detached before w2 is written
  p.h.complete_io(1);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kDiskless);
  EXPECT_TRUE(std::equal(acknowledged.begin(), acknowledged.end(), p.h.b().disk.begin()));
  p.h.run_until_quiet();
  // Both WriteAcks reported success: a has nothing marked for b's disk.
  EXPECT_FALSE(p.h.a().bitmap.intersects(0, 4096));
  EXPECT_TRUE(p.h.a().core().idle());
}

// A write that arrives after the detach finished (sent before the primary
// saw the disk go) gets no RecvAck: b cannot keep that promise. Its WriteAck
// carries the error, and the primary marks the range out of sync.
TEST(ReplicatorProtocol, BSecondaryWithoutDiskSendsNoRecvAck) {
  Primary p(WireProtocol::kB);
  ASSERT_TRUE(p.h.b().core().detach().ok());
  p.h.drain();
  ASSERT_EQ(p.h.b().status().disk, DiskState::kDiskless);   // nothing was in flight
  const uint64_t w = p.h.a().write_pattern(8192, 4096, 3);  // b's NodeState not yet seen
  p.h.complete_io(0);
  ASSERT_EQ(count(p.h.a().sent, net::FrameType::kWrite), 1U);
  p.h.deliver_one(0);
  EXPECT_EQ(count(p.h.b().sent, net::FrameType::kRecvAck), 0U);
  EXPECT_EQ(count(p.h.b().sent, net::FrameType::kWriteAck), 1U);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(w));
  EXPECT_EQ(p.h.a().request(w).result, 0);  // a's own disk has it
  EXPECT_TRUE(p.h.a().bitmap.contains(8192, 4096));
}

TEST(ReplicatorProtocol, CCompletesOnlyAfterThePeerWroteIt) {
  Primary p(WireProtocol::kC);
  const uint64_t id = p.h.a().write_pattern(0, 4096, 1);
  p.h.complete_io(0);
  p.h.deliver_one(0);
  EXPECT_EQ(count(p.h.b().sent, net::FrameType::kRecvAck), 0U);
  EXPECT_EQ(count(p.h.b().sent, net::FrameType::kWriteAck), 0U);
  EXPECT_FALSE(p.h.a().done(id));
  p.h.complete_io(1);  // b's disk write
  EXPECT_EQ(count(p.h.b().sent, net::FrameType::kWriteAck), 1U);
  EXPECT_FALSE(p.h.a().done(id));
  p.h.deliver_one(1);
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, 0);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(ReplicatorProtocol, CWaitsForTheLocalWriteAfterThePeerAck) {
  Primary p(WireProtocol::kC);
  const uint64_t id = p.h.a().write_pattern(0, 4096, 1);
  p.h.deliver_one(0);
  p.h.complete_io(1);
  p.h.deliver_one(1);
  EXPECT_FALSE(p.h.a().done(id));
  p.h.complete_io(0);
  EXPECT_TRUE(p.h.a().done(id));
}

TEST(ReplicatorProtocol, PeerWithoutDiskGetsNoWritesAndTheRangeIsMarked) {
  TwoNodeHarness h(make_config("mail01", 1, "mail02"), make_config("mail02", 2, "mail01"), kDisk);
  ASSERT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(9)}).ok());
  h.connect_both();
  ASSERT_TRUE(h.a().core().promote().ok());
  h.run_until_quiet();
  const uint64_t id = h.a().write_pattern(4096, 8192, 1);
  h.complete_all_io(0);
  ASSERT_TRUE(h.a().done(id));
  EXPECT_EQ(count(h.a().sent, net::FrameType::kWrite), 0U);
  EXPECT_TRUE(h.a().bitmap.contains(4096, 8192));
}

// A write issued after another completed gets a newer epoch; the peer
// writes it only after the older epoch is on its disk, even though both
// frames arrived (protocol A lets the primary run ahead).
TEST(ReplicatorProtocol, NewerEpochWaitsForOlderEpochOnThePeer) {
  Primary p(WireProtocol::kA);
  const uint64_t w1 = p.h.a().write_pattern(0, 4096, 1);
  p.h.complete_io(0);
  ASSERT_TRUE(p.h.a().done(w1));
  const uint64_t w2 = p.h.a().write_pattern(65536, 4096, 2);
  p.h.complete_io(0);
  ASSERT_TRUE(p.h.a().done(w2));
  p.h.deliver_one(0);
  p.h.deliver_one(0);
  ASSERT_EQ(p.h.b().pending_ios.size(), 1U);
  EXPECT_EQ(p.h.b().pending_ios[0].offset, 0U);
  p.h.complete_io(1);
  ASSERT_EQ(p.h.b().pending_ios.size(), 1U);
  EXPECT_EQ(p.h.b().pending_ios[0].offset, 65536U);
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

// Writes in flight together share an epoch and are submitted together.
TEST(ReplicatorProtocol, ConcurrentWritesShareAnEpoch) {
  Primary p(WireProtocol::kA);
  p.h.a().write_pattern(0, 4096, 1);
  p.h.a().write_pattern(65536, 4096, 2);
  p.h.deliver_one(0);
  p.h.deliver_one(0);
  EXPECT_EQ(p.h.b().pending_ios.size(), 2U);
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

// Overlapping writes from the application are applied in submission order
// on both disks, whatever order the disks complete requests in.
TEST(ReplicatorProtocol, OverlappingWritesAreSerialized) {
  Primary p(WireProtocol::kA);
  const uint64_t w1 = p.h.a().write_pattern(0, 8192, 1);
  const uint64_t w2 = p.h.a().write_pattern(4096, 8192, 2);
  p.h.drain();
  EXPECT_EQ(p.h.a().pending_ios.size(), 1U);  // w2 waits for w1
  p.h.run_until_quiet();
  EXPECT_TRUE(p.h.a().done(w1) && p.h.a().done(w2));
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
  EXPECT_EQ(p.h.a().disk[4096], static_cast<std::byte>((2 * 31U) & 0xFFU));
}

TEST(ReplicatorProtocol, FlushWaitsForEarlierWritesOnThePeer) {
  Primary p(WireProtocol::kC);
  p.h.a().write_pattern(0, 4096, 1);
  const uint64_t f = p.h.a().flush();
  p.h.drain();
  EXPECT_EQ(count(p.h.a().sent, net::FrameType::kBarrier), 1U);
  ASSERT_EQ(p.h.a().pending_ios.size(), 2U);
  EXPECT_EQ(p.h.a().pending_ios[1].kind, LocalIoKind::kFlush);
  p.h.deliver_one(0);                         // Write
  p.h.deliver_one(0);                         // Barrier
  ASSERT_EQ(p.h.b().pending_ios.size(), 1U);  // the flush waits for the write
  EXPECT_EQ(p.h.b().pending_ios[0].kind, LocalIoKind::kWrite);
  p.h.complete_io(1);
  ASSERT_EQ(p.h.b().pending_ios.size(), 1U);
  EXPECT_EQ(p.h.b().pending_ios[0].kind, LocalIoKind::kFlush);
  p.h.complete_all_io(0);
  EXPECT_FALSE(p.h.a().done(f));
  p.h.complete_io(1);
  EXPECT_EQ(count(p.h.b().sent, net::FrameType::kBarrierAck), 1U);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(f));
  EXPECT_EQ(p.h.a().request(f).result, 0);
}

TEST(ReplicatorProtocol, FlushInProtocolACompletesWithoutThePeer) {
  Primary p(WireProtocol::kA);
  const uint64_t f = p.h.a().flush();
  p.h.complete_io(0);
  ASSERT_TRUE(p.h.a().done(f));
  EXPECT_EQ(p.h.a().request(f).result, 0);
  p.h.run_until_quiet();
  EXPECT_TRUE(p.h.a().core().idle());
}

TEST(ReplicatorProtocol, FuaTravelsWithTheWrite) {
  Primary p(WireProtocol::kC);
  p.h.a().write_pattern(0, 4096, 1, true);
  p.h.a().write_pattern(8192, 4096, 2, false);
  p.h.run_until_quiet();
  ASSERT_EQ(p.h.a().submitted.size(), 2U);
  ASSERT_EQ(p.h.b().submitted.size(), 2U);
  for (const auto* n : {&p.h.a(), &p.h.b()}) {
    for (const SubmitIo& io : n->submitted) EXPECT_EQ(io.fua, io.offset == 0) << io.offset;
  }
}

TEST(ReplicatorProtocol, PeerWriteErrorMarksTheRangeOutOfSync) {
  Primary p(WireProtocol::kC);
  p.h.b().io_result = [](const SubmitIo&) { return EIO; };
  const uint64_t id = p.h.a().write_pattern(0, 4096, 1);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, 0);
  EXPECT_TRUE(p.h.a().bitmap.contains(0, 4096));
  EXPECT_EQ(p.h.b().status().disk, DiskState::kDiskless);
  EXPECT_EQ(p.h.a().status().peer_disk, DiskState::kDiskless);
}

TEST(ReplicatorProtocol, RandomWorkloadKeepsReplicasIdenticalInEveryProtocol) {
  for (WireProtocol proto : {WireProtocol::kA, WireProtocol::kB, WireProtocol::kC}) {
    for (uint64_t seed = 1; seed <= 100; ++seed) {
      TwoNodeHarness h(make_config("mail01", 1, "mail02", proto),
                       make_config("mail02", 2, "mail01", proto), 64 * 1024, seed);
      ASSERT_TRUE(h.a().core().attach(DiskInfo{64 * 1024, uptodate_metadata(9)}).ok());
      ASSERT_TRUE(h.b().core().attach(DiskInfo{64 * 1024, uptodate_metadata(9)}).ok());
      h.connect_both();
      ASSERT_TRUE(h.a().core().promote().ok());
      h.run_until_quiet();
      auto& rng = h.rng();
      for (int op = 0; op < 60; ++op) {
        const uint64_t off = (rng() % 120) * 512;
        const auto len = static_cast<uint32_t>((1 + rng() % 8) * 512);
        if (rng() % 10 == 0) {
          h.a().flush();
        } else {
          h.a().write_pattern(off, len, static_cast<uint8_t>(static_cast<uint64_t>(op) + seed),
                              rng() % 4 == 0);
        }
        for (uint64_t s = rng() % 6; s > 0; --s) h.step();
      }
      h.run_until_quiet();
      ASSERT_EQ(h.a().unfinished_requests(), 0U);
      ASSERT_TRUE(h.a().core().idle() && h.b().core().idle());
      ASSERT_EQ(h.a().disk, h.b().disk) << "protocol " << to_string(proto) << " seed " << seed;
    }
  }
}

}  // namespace
}  // namespace tandem::core::testing
