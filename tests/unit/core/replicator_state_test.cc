// State transitions of the replication core: attach, connect, promote,
// demote, disconnect, refusals, out-of-sync marking, local disk failure,
// keepalive.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "core/generation_ids.h"
#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kDisk = 256 * 1024;

struct Pair {
  explicit Pair(WireProtocol p = WireProtocol::kC, bool two = false, uint64_t disk = kDisk)
      : h(make_config("mail01", 1, "mail02", p, two), make_config("mail02", 2, "mail01", p, two),
          disk) {}
  TwoNodeHarness h;
};

void attach(SimNode& n, Metadata md, uint64_t size = kDisk) {
  ASSERT_TRUE(n.core().attach(DiskInfo{size, md}).ok());
}

// a UpToDate primary, b UpToDate secondary with the same generation.
void uptodate_pair(TwoNodeHarness& h) {
  attach(h.a(), uptodate_metadata(0x1111));
  attach(h.b(), uptodate_metadata(0x1111));
  h.connect_both();
  h.run_until_quiet();
}

TEST(ReplicatorState, AttachSetsDiskStateFromMetadata) {
  Pair p;
  attach(p.h.a(), fresh_metadata());
  EXPECT_EQ(p.h.a().status().disk, DiskState::kInconsistent);
  attach(p.h.b(), uptodate_metadata(7));
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_FALSE(p.h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(7)}).ok());
  Pair q;
  Metadata outdated = uptodate_metadata(7);
  outdated.up_to_date = false;
  outdated.outdated = true;
  attach(q.h.a(), outdated);
  EXPECT_EQ(q.h.a().status().disk, DiskState::kOutdated);
}

TEST(ReplicatorState, ConnectExchangesStateWithoutSyncWhenBothInconsistent) {
  Pair p;
  attach(p.h.a(), fresh_metadata());
  attach(p.h.b(), fresh_metadata());
  EXPECT_EQ(p.h.a().status().conn, ConnState::kStandAlone);
  ASSERT_TRUE(p.h.a().core().connect().ok());
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnecting);
  ASSERT_TRUE(p.h.b().core().connect().ok());
  p.h.establish();
  p.h.run_until_quiet();
  for (int i = 0; i < 2; ++i) {
    const Status s = p.h.node(i).status();
    EXPECT_EQ(s.conn, ConnState::kConnected);
    EXPECT_EQ(s.repl, ReplState::kEstablished);
    EXPECT_EQ(s.disk, DiskState::kInconsistent);
    EXPECT_EQ(s.peer_disk, DiskState::kInconsistent);
    EXPECT_EQ(s.role, Role::kSecondary);
    EXPECT_EQ(s.peer_role, Role::kSecondary);
  }
}

TEST(ReplicatorState, PromoteWithoutUpToDateDataIsRefused) {
  Pair p;
  attach(p.h.a(), fresh_metadata());
  auto r = p.h.a().core().promote();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("resource r0: cannot become primary"), std::string::npos);
  EXPECT_NE(r.error().message.find("--force"), std::string::npos);
  EXPECT_EQ(p.h.a().status().role, Role::kSecondary);
}

TEST(ReplicatorState, ForcedPrimarySyncsThePeerFully) {
  Pair p;
  attach(p.h.a(), fresh_metadata());
  attach(p.h.b(), fresh_metadata());
  // Give a's disk recognisable content that b must end up with.
  for (size_t i = 0; i < p.h.a().disk.size(); ++i) {
    p.h.a().disk[i] = static_cast<std::byte>(i * 13 + 5);
  }
  p.h.connect_both();
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().core().promote(true, 0xABCDEF).ok());
  p.h.drain();
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().status().repl, ReplState::kSyncSource);
  EXPECT_EQ(p.h.a().metadata.current_uuid, 0xABCDEFU);
  EXPECT_TRUE(p.h.a().metadata.up_to_date);
  p.h.run_until_quiet();
  const Status a = p.h.a().status();
  const Status b = p.h.b().status();
  EXPECT_EQ(a.repl, ReplState::kEstablished);
  EXPECT_EQ(b.repl, ReplState::kEstablished);
  EXPECT_EQ(b.disk, DiskState::kUpToDate);
  EXPECT_EQ(a.peer_disk, DiskState::kUpToDate);
  // The target adopts the generation with its own (secondary) role bit.
  EXPECT_EQ(b.metadata.current_uuid, 0xABCDEEU);
  EXPECT_EQ(p.h.b().metadata.current_uuid, 0xABCDEEU);
  EXPECT_EQ(a.sync_done_bytes, kDisk);
  EXPECT_EQ(b.sync_done_bytes, kDisk);
  EXPECT_TRUE(p.h.a().bitmap.empty());
  EXPECT_TRUE(p.h.b().bitmap.empty());
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(ReplicatorState, UpToDateMeetsInconsistentAndSyncsOnConnect) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(0x42));
  attach(p.h.b(), fresh_metadata());
  for (size_t i = 0; i < p.h.a().disk.size(); ++i) p.h.a().disk[i] = static_cast<std::byte>(i);
  p.h.connect_both();
  EXPECT_EQ(p.h.a().status().repl, ReplState::kSyncSource);
  EXPECT_EQ(p.h.b().status().repl, ReplState::kSyncTarget);
  EXPECT_EQ(p.h.b().status().sync_total_bytes, kDisk);
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(ReplicatorState, SizeMismatchIsRefusedNamingBothSizes) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(1), kDisk);
  attach(p.h.b(), uptodate_metadata(1), kDisk / 2);
  p.h.connect_both();
  p.h.run_until_quiet();
  ASSERT_FALSE(p.h.a().closes.empty() && p.h.b().closes.empty());
  const CloseConnection& c = p.h.a().closes.empty() ? p.h.b().closes[0] : p.h.a().closes[0];
  EXPECT_FALSE(c.reconnect);
  EXPECT_NE(c.reason.find(std::to_string(kDisk)), std::string::npos) << c.reason;
  EXPECT_NE(c.reason.find(std::to_string(kDisk / 2)), std::string::npos) << c.reason;
  EXPECT_NE(c.reason.find("peer mail0"), std::string::npos) << c.reason;
  EXPECT_TRUE(p.h.a().status().conn == ConnState::kStandAlone ||
              p.h.b().status().conn == ConnState::kStandAlone);
}

TEST(ReplicatorState, ProtocolMismatchIsRefused) {
  TwoNodeHarness h(make_config("mail01", 1, "mail02", WireProtocol::kC),
                   make_config("mail02", 2, "mail01", WireProtocol::kA), kDisk);
  attach(h.a(), uptodate_metadata(1));
  attach(h.b(), uptodate_metadata(1));
  h.connect_both();
  h.run_until_quiet();
  EXPECT_NE(h.first_close_reason().find("protocol A"), std::string::npos) << h.first_close_reason();
  EXPECT_EQ(h.b().status().conn, ConnState::kStandAlone);
}

TEST(ReplicatorState, SecondPrimaryRefusedWithoutAllowTwoPrimaries) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().peer_role, Role::kPrimary);
  auto r = p.h.b().core().promote();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "resource r0: cannot become primary: peer mail01 is primary and "
            "allow-two-primaries is not set");
  EXPECT_EQ(p.h.b().status().role, Role::kSecondary);
}

TEST(ReplicatorState, TwoPrimariesMeetingWithoutAllowAreDisconnected) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(0x1111));
  attach(p.h.b(), uptodate_metadata(0x1111));
  ASSERT_TRUE(p.h.a().core().promote().ok());
  ASSERT_TRUE(p.h.b().core().promote().ok());
  p.h.connect_both();
  p.h.run_until_quiet();
  EXPECT_NE(p.h.first_close_reason().find("allow-two-primaries"), std::string::npos);
  EXPECT_EQ(p.h.b().status().conn, ConnState::kStandAlone);
}

TEST(ReplicatorState, DualPrimaryNeedsProtocolC) {
  Pair p(WireProtocol::kB, true);
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  auto r = p.h.b().core().promote();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("requires protocol C"), std::string::npos);
}

TEST(ReplicatorState, DualPrimaryAllowedWithProtocolC) {
  Pair p(WireProtocol::kC, true);
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().core().promote().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().peer_role, Role::kPrimary);
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnected);
}

TEST(ReplicatorState, DemoteIsAnnouncedToThePeer) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().peer_role, Role::kPrimary);
  ASSERT_TRUE(p.h.a().core().demote().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().peer_role, Role::kSecondary);
  // Now b may become primary.
  EXPECT_TRUE(p.h.b().core().promote().ok());
}

TEST(ReplicatorState, DemoteWithWritesInFlightIsRefused) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  const uint64_t id = p.h.a().write_pattern(0, 4096, 1);
  p.h.drain();  // issued, not yet acknowledged by the peer
  ASSERT_FALSE(p.h.a().done(id));
  auto r = p.h.a().core().demote();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("still in flight"));
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_TRUE(p.h.a().core().demote().ok());
}

TEST(ReplicatorState, PromoteRefusedWhileDiscardMyDataIsPending) {
  Pair p;
  uptodate_pair(p.h);
  p.h.cut_link();
  ASSERT_TRUE(p.h.b().core().disconnect().ok());
  p.h.drain();
  ASSERT_TRUE(p.h.b().core().connect(true).ok());
  auto r = p.h.b().core().promote();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("--discard-my-data' is pending"));
}

TEST(ReplicatorState, WritesWithoutAnUpToDateCopyFail) {
  // b is a sync target (Inconsistent) and primary; once its UpToDate peer is
  // gone, a write would only reach a disk the next sync overwrites.
  Pair p;
  attach(p.h.a(), uptodate_metadata(0x42));
  attach(p.h.b(), fresh_metadata());
  p.h.connect_both();
  ASSERT_EQ(p.h.b().status().repl, ReplState::kSyncTarget);
  ASSERT_TRUE(p.h.b().core().promote().ok());
  p.h.cut_link();
  p.h.run_until_quiet();
  ASSERT_EQ(p.h.b().status().disk, DiskState::kInconsistent);
  const uint64_t id = p.h.b().write_pattern(0, 4096, 1);
  p.h.drain();
  ASSERT_TRUE(p.h.b().done(id));
  EXPECT_EQ(p.h.b().request(id).result, EIO);
}

TEST(ReplicatorState, WritesOnSecondaryAreRefused) {
  Pair p;
  uptodate_pair(p.h);
  const uint64_t id = p.h.b().write_pattern(0, 4096, 1);
  p.h.drain();
  ASSERT_TRUE(p.h.b().done(id));
  EXPECT_EQ(p.h.b().request(id).result, EROFS);
}

TEST(ReplicatorState, MalformedRequestsAreRejected) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  const uint64_t unaligned = p.h.a().write_pattern(100, 512, 1);
  const uint64_t beyond = p.h.a().write_pattern(kDisk, 512, 1);
  const uint64_t empty = p.h.a().read(0, 0);
  p.h.drain();
  EXPECT_EQ(p.h.a().request(unaligned).result, EINVAL);
  EXPECT_EQ(p.h.a().request(beyond).result, ENOSPC);
  EXPECT_EQ(p.h.a().request(empty).result, EINVAL);
}

TEST(ReplicatorState, DisconnectedWritesMarkOutOfSyncAndResyncOnReconnect) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().core().disconnect().ok());
  p.h.drain();
  EXPECT_EQ(p.h.a().status().conn, ConnState::kStandAlone);
  EXPECT_EQ(p.h.a().status().peer_disk, DiskState::kDUnknown);
  EXPECT_EQ(p.h.a().status().peer_role, Role::kUnknown);
  const uint64_t id = p.h.a().write_pattern(8192, 4096, 9);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, 0);
  EXPECT_TRUE(p.h.a().bitmap.contains(8192, 4096));
  EXPECT_EQ(p.h.a().status().out_of_sync_bytes, 4096U);
  // The primary started a new generation when it lost its peer.
  EXPECT_EQ(p.h.a().metadata.bitmap_uuid, 0x1111U);
  EXPECT_NE(p.h.a().metadata.current_uuid, 0x1111U);
  EXPECT_NE(p.h.a().disk, p.h.b().disk);

  // b only missed writes: it is synced from a on reconnect.
  ASSERT_TRUE(p.h.b().core().disconnect().ok());
  p.h.drain();
  p.h.connect_both();
  EXPECT_EQ(p.h.a().status().repl, ReplState::kSyncSource);
  EXPECT_EQ(p.h.b().status().repl, ReplState::kSyncTarget);
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
  EXPECT_TRUE(p.h.a().bitmap.empty());
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(same_generation(p.h.b().metadata.current_uuid, p.h.a().metadata.current_uuid));
  EXPECT_EQ(p.h.a().metadata.bitmap_uuid, 0U);
}

TEST(ReplicatorState, UnackedWritesAreMarkedOutOfSyncWhenTheLinkBreaks) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  const uint64_t id = p.h.a().write_pattern(0, 4096, 3);
  p.h.complete_all_io(0);  // local write done, the peer never acknowledges
  EXPECT_FALSE(p.h.a().done(id));
  p.h.cut_link();
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, 0);
  EXPECT_TRUE(p.h.a().bitmap.contains(0, 4096));
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnecting);
  EXPECT_EQ(p.h.b().status().conn, ConnState::kConnecting);
  // The state log went through NetworkFailure.
  bool saw_failure = false;
  for (const auto& s : p.h.a().state_log) {
    saw_failure |= s.find("Connected -> NetworkFailure") != std::string::npos;
  }
  EXPECT_TRUE(saw_failure);
}

TEST(ReplicatorState, SplitBrainIsRefusedOnReconnect) {
  Pair p;
  uptodate_pair(p.h);
  p.h.cut_link();
  ASSERT_TRUE(p.h.a().core().promote().ok());
  ASSERT_TRUE(p.h.b().core().promote().ok());
  p.h.a().write_pattern(0, 4096, 1);
  p.h.b().write_pattern(0, 4096, 2);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().core().demote().ok());
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_NE(p.h.first_close_reason().find("split brain"), std::string::npos)
      << p.h.first_close_reason();
  EXPECT_EQ(p.h.b().status().conn, ConnState::kStandAlone);
  EXPECT_EQ(p.h.a().status().role, Role::kSecondary);
}

TEST(ReplicatorState, DiscardMyDataResolvesAByHand) {
  Pair p;
  uptodate_pair(p.h);
  p.h.cut_link();
  ASSERT_TRUE(p.h.a().core().promote().ok());
  ASSERT_TRUE(p.h.b().core().promote().ok());
  p.h.a().write_pattern(0, 4096, 1);
  p.h.b().write_pattern(4096, 4096, 2);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().core().demote().ok());
  ASSERT_TRUE(p.h.a().core().disconnect().ok());
  ASSERT_TRUE(p.h.b().core().disconnect().ok());
  p.h.drain();
  ASSERT_TRUE(p.h.a().core().connect().ok());
  ASSERT_TRUE(p.h.b().core().connect(true).ok());
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(ReplicatorState, ReadsGoToThePeerWhenTheLocalDiskIsNotUpToDate) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(0x42));
  for (size_t i = 0; i < p.h.a().disk.size(); ++i)
    p.h.a().disk[i] = static_cast<std::byte>(i % 251);
  attach(p.h.b(), fresh_metadata());
  p.h.connect_both();
  ASSERT_EQ(p.h.b().status().disk, DiskState::kInconsistent);
  const uint64_t id = p.h.b().read(65536, 8192);
  p.h.drain();
  EXPECT_TRUE(std::find(p.h.b().sent.begin(), p.h.b().sent.end(), net::FrameType::kReadRequest) !=
              p.h.b().sent.end());
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().done(id));
  EXPECT_EQ(p.h.b().request(id).result, 0);
  for (uint32_t i = 0; i < 8192; ++i) {
    ASSERT_EQ(p.h.b().request(id).buffer[i], p.h.a().disk[65536 + i]) << i;
  }
}

TEST(ReplicatorState, DisklessPrimaryWritesAndReadsThroughThePeer) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(0x42));
  p.h.connect_both();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().disk, DiskState::kDiskless);
  EXPECT_EQ(p.h.b().status().size_bytes, kDisk);
  ASSERT_TRUE(p.h.b().core().promote().ok());
  p.h.run_until_quiet();
  const uint64_t w = p.h.b().write_pattern(4096, 4096, 77);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().done(w));
  EXPECT_EQ(p.h.b().request(w).result, 0);
  // a holds data its diskless peer lacks: a remembers it.
  EXPECT_TRUE(p.h.a().bitmap.contains(4096, 4096));
  const uint64_t r = p.h.b().read(4096, 4096);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().done(r));
  EXPECT_EQ(p.h.b().request(r).result, 0);
  EXPECT_TRUE(std::equal(p.h.b().request(r).buffer.begin(), p.h.b().request(r).buffer.end(),
                         p.h.a().disk.begin() + 4096));
}

TEST(ReplicatorState, ReadWithoutAnyDataFailsWithEio) {
  Pair p;
  attach(p.h.a(), fresh_metadata());
  const uint64_t id = p.h.a().read(0, 4096);
  p.h.drain();
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, EIO);
}

TEST(ReplicatorState, LocalWriteErrorDetachesAndThePeerCopyCompletesTheWrite) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  p.h.a().io_result = [](const SubmitIo& io) { return io.kind == LocalIoKind::kWrite ? EIO : 0; };
  const uint64_t id = p.h.a().write_pattern(0, 4096, 5);
  p.h.complete_all_io(0);
  EXPECT_EQ(p.h.a().status().disk, DiskState::kDiskless);
  EXPECT_FALSE(p.h.a().done(id));  // waits for the peer's copy
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, 0);
  EXPECT_EQ(p.h.b().status().peer_disk, DiskState::kDiskless);
  EXPECT_FALSE(p.h.a().metadata.consistent);
  // Later reads are served by the peer.
  const uint64_t r = p.h.a().read(0, 4096);
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().request(r).result, 0);
  EXPECT_TRUE(std::equal(p.h.a().request(r).buffer.begin(), p.h.a().request(r).buffer.end(),
                         p.h.b().disk.begin()));
}

TEST(ReplicatorState, LocalWriteErrorWithoutPeerFailsTheWrite) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(1));
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.a().io_result = [](const SubmitIo&) { return EIO; };
  const uint64_t id = p.h.a().write_pattern(0, 4096, 5);
  p.h.complete_all_io(0);
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, EIO);
  EXPECT_EQ(p.h.a().status().disk, DiskState::kDiskless);
}

TEST(ReplicatorState, DetachWaitsForInFlightIo) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(1));
  const uint64_t r = p.h.a().read(0, 4096);
  p.h.drain();
  ASSERT_TRUE(p.h.a().core().detach().ok());
  p.h.drain();
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
  p.h.complete_all_io(0);
  EXPECT_EQ(p.h.a().request(r).result, 0);
  EXPECT_EQ(p.h.a().status().disk, DiskState::kDiskless);
  EXPECT_FALSE(p.h.a().core().detach().ok());
}

TEST(ReplicatorState, PrimaryCannotDetachWithoutAPeerToServeData) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(1));
  ASSERT_TRUE(p.h.a().core().promote().ok());
  auto r = p.h.a().core().detach();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("demote first"), std::string::npos);
}

TEST(ReplicatorState, PingTimeoutDeclaresTheConnectionLost) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().timer_armed[static_cast<size_t>(TimerId::kPing)]);
  // Answered ping: the timeout is cancelled and the next ping armed.
  p.h.a().core().on_timer(TimerId::kPing);
  p.h.drain();
  EXPECT_TRUE(p.h.a().timer_armed[static_cast<size_t>(TimerId::kPingTimeout)]);
  p.h.run_until_quiet();
  EXPECT_FALSE(p.h.a().timer_armed[static_cast<size_t>(TimerId::kPingTimeout)]);
  EXPECT_TRUE(p.h.a().timer_armed[static_cast<size_t>(TimerId::kPing)]);
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnected);
  // Unanswered ping.
  p.h.a().core().on_timer(TimerId::kPing);
  p.h.drain();
  p.h.a().core().on_timer(TimerId::kPingTimeout);
  p.h.drain();
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnecting);
  ASSERT_FALSE(p.h.a().closes.empty());
  EXPECT_NE(p.h.a().closes[0].reason.find("ping-timeout"), std::string::npos);
  EXPECT_TRUE(p.h.a().closes[0].reconnect);
}

TEST(ReplicatorState, KoCountDeclaresAStalledPeerDead) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  const uint64_t id = p.h.a().write_pattern(0, 4096, 5);
  p.h.complete_all_io(0);
  p.h.deliver_one(0);  // b receives the write but its disk never completes
  const uint32_t ko = p.h.a().core().config().ko_count;
  for (uint32_t i = 0; i + 1 < ko; ++i) {
    p.h.a().core().on_timer(TimerId::kAckTimeout);
    p.h.drain();
    ASSERT_EQ(p.h.a().status().conn, ConnState::kConnected) << i;
  }
  EXPECT_FALSE(p.h.a().done(id));
  p.h.a().core().on_timer(TimerId::kAckTimeout);
  p.h.drain();
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnecting);
  ASSERT_TRUE(p.h.a().done(id));
  EXPECT_EQ(p.h.a().request(id).result, 0);
  EXPECT_TRUE(p.h.a().bitmap.contains(0, 4096));
}

TEST(ReplicatorState, StaleTimersAreIgnored) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(1));
  p.h.a().core().on_timer(TimerId::kPingTimeout);
  p.h.a().core().on_timer(TimerId::kAckTimeout);
  p.h.drain();
  EXPECT_TRUE(p.h.a().closes.empty());
}

net::Frame raw_frame(net::FrameType type, std::string message, size_t payload = 0) {
  net::Frame f;
  f.header.type = type;
  f.header.message_bytes = static_cast<uint32_t>(message.size());
  f.header.payload_bytes = static_cast<uint32_t>(payload);
  const auto* p = reinterpret_cast<const std::byte*>(message.data());
  f.message.assign(p, p + message.size());
  f.payload.assign(payload, std::byte{1});
  return f;
}

bool logged(const SimNode& n, const std::string& text) {
  for (const auto& s : n.state_log) {
    if (s.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(ReplicatorState, MalformedFrameClosesTheConnectionWithAProtocolError) {
  Pair p;
  uptodate_pair(p.h);
  p.h.a().core().on_frame(raw_frame(net::FrameType::kWrite, "\xff\xff\xff", 512));
  p.h.drain();
  ASSERT_FALSE(p.h.a().closes.empty());
  EXPECT_NE(p.h.a().closes[0].reason.find("resource r0, peer mail02: protocol error"),
            std::string::npos)
      << p.h.a().closes[0].reason;
  EXPECT_TRUE(p.h.a().closes[0].reconnect);
  EXPECT_TRUE(logged(p.h.a(), "conn Connected -> ProtocolError"));
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnecting);
  // The next connection works normally.
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().conn, ConnState::kConnected);
}

TEST(ReplicatorState, AcknowledgementForAnUnknownWriteIsAProtocolError) {
  Pair p;
  uptodate_pair(p.h);
  p.h.a().core().on_frame(raw_frame(net::FrameType::kWriteAck, std::string("\x08\x07", 2)));
  p.h.drain();
  ASSERT_FALSE(p.h.a().closes.empty());
  EXPECT_NE(p.h.a().closes[0].reason.find("WriteAck for unknown write 7"), std::string::npos)
      << p.h.a().closes[0].reason;
}

TEST(ReplicatorState, WriteFromASecondaryPeerIsAProtocolError) {
  Pair p;
  uptodate_pair(p.h);
  // id 1, offset 0, epoch 1
  p.h.b().core().on_frame(
      raw_frame(net::FrameType::kWrite, std::string("\x08\x01\x10\x00\x18\x01", 6), 512));
  p.h.drain();
  ASSERT_FALSE(p.h.b().closes.empty());
  EXPECT_NE(p.h.b().closes[0].reason.find("not primary"), std::string::npos);
  EXPECT_TRUE(p.h.b().pending_ios.empty());
}

TEST(ReplicatorState, ToStringUsesDrbdNames) {
  EXPECT_EQ(to_string(DiskState::kUpToDate), "UpToDate");
  EXPECT_EQ(to_string(DiskState::kDUnknown), "DUnknown");
  EXPECT_EQ(to_string(ConnState::kStandAlone), "StandAlone");
  EXPECT_EQ(to_string(ReplState::kSyncSource), "SyncSource");
  EXPECT_EQ(to_string(Role::kPrimary), "Primary");
}

// The node that keeps its disk starts a new generation when the peer's disk
// goes away, so a disk attached again later is resynchronized with what was
// written meanwhile (through the diskless node) instead of coming back
// current over different data.
TEST(ReplicatorState, DiskAttachedAgainAfterPeerWroteDisklessIsResynced) {
  Pair p;
  uptodate_pair(p.h);
  ASSERT_TRUE(p.h.a().core().detach().ok());
  p.h.run_until_quiet();
  ASSERT_EQ(p.h.a().status().disk, DiskState::kDiskless);
  // What a's disk carries: the generation both nodes shared.
  const Metadata old_a = uptodate_metadata(0x1111);
  // b, which keeps the only disk, moved on from the shared generation.
  EXPECT_EQ(p.h.b().metadata.bitmap_uuid, old_a.current_uuid);
  EXPECT_NE(p.h.b().metadata.current_uuid, old_a.current_uuid);

  // a, diskless, becomes primary and writes through b.
  ASSERT_TRUE(p.h.a().core().promote().ok());
  const uint64_t w = p.h.a().write_pattern(8192, 4096, 0x5a);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(w));
  ASSERT_EQ(p.h.a().request(w).result, 0);

  // a's old disk comes back (a secondary again): it must be resynchronized
  // from b.
  ASSERT_TRUE(p.h.a().core().demote().ok());
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().core().attach(DiskInfo{kDisk, old_a}).ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.b().status().peer_disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

// Promotion between the link coming up and the node states being exchanged
// is refused: the NodeState the handshake decides on is already sent, so a
// generation started now (and the writes after it) would go unseen.
TEST(ReplicatorState, PromoteWhileTheHandshakeIsInProgressIsRefused) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(0x1111));
  attach(p.h.b(), uptodate_metadata(0x1111));
  ASSERT_TRUE(p.h.a().core().connect().ok());
  ASSERT_TRUE(p.h.b().core().connect().ok());
  p.h.a().core().on_connection_established(1);
  auto r = p.h.a().core().promote();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("connection to peer mail02 is being set up"));
  EXPECT_EQ(p.h.a().status().role, Role::kSecondary);
  // Before the link is up (no NodeState sent yet) promotion is allowed.
  Pair q;
  attach(q.h.a(), uptodate_metadata(0x1111));
  ASSERT_TRUE(q.h.a().core().connect().ok());
  EXPECT_TRUE(q.h.a().core().promote().ok());
}

// Attaching in the same window is refused too: the peer decides on the
// diskless NodeState already sent, this node would decide with its disk, so
// the peer would never learn the disk is there (both Established, one side
// showing the other Diskless, nothing ever synchronized).
TEST(ReplicatorState, AttachWhileTheHandshakeIsInProgressIsRefused) {
  Pair p;
  attach(p.h.a(), uptodate_metadata(0x1111));
  ASSERT_TRUE(p.h.a().core().connect().ok());
  ASSERT_TRUE(p.h.b().core().connect().ok());
  p.h.b().core().on_connection_established(1);
  auto r = p.h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(0x1111)});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("connection to peer mail01 is being set up"));
  EXPECT_EQ(p.h.b().status().disk, DiskState::kDiskless);
  // Once the node states are exchanged the attach goes through and the peer
  // sees the disk.
  p.h.establish();  // b's NodeState (diskless) is the one already emitted
  p.h.run_until_quiet();
  ASSERT_EQ(p.h.b().status().conn, ConnState::kConnected);
  ASSERT_EQ(p.h.a().status().peer_disk, DiskState::kDiskless);
  ASSERT_TRUE(p.h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(0x1111)}).ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().peer_disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
}

}  // namespace
}  // namespace tandem::core::testing
