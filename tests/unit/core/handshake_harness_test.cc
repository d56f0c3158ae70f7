// The sync handshake end to end on two cores: discard-my-data, invalidate,
// invalidate-remote, unrelated data, the unclean rule, an interrupted sync
// resuming from its sync UUID, and the LogEvent every outcome produces.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/generation_ids.h"
#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 256 * 1024;
constexpr uint32_t kBlock = 4096;

bool logged(const SimNode& n, const std::string& what) {
  for (const auto& e : n.events) {
    if (e.find(what) != std::string::npos) return true;
  }
  return false;
}

std::string events(const SimNode& n) {
  std::string s;
  for (const auto& e : n.events) s += "\n  " + e;
  return s;
}

struct Pair {
  Pair() : h(make_config("mail01", 1, "mail02"), make_config("mail02", 2, "mail01"), kDisk) {}
  void attach_both(const Metadata& a, const Metadata& b) {
    ASSERT_TRUE(h.a().core().attach(DiskInfo{kDisk, a}).ok());
    ASSERT_TRUE(h.b().core().attach(DiskInfo{kDisk, b}).ok());
  }
  // Both attached with the same UpToDate generation, connected, idle.
  void connect_in_sync() {
    attach_both(uptodate_metadata(0x40), uptodate_metadata(0x40));
    h.connect_both();
    h.run_until_quiet();
  }
  TwoNodeHarness h;
};

// After a detached while b's request (invalidate, or a's invalidate-remote)
// was on the wire: a refused to become the source, b still holds the only
// UpToDate copy and no sync ran.
void expect_b_kept_its_copy_a_detached(Pair& p) {
  EXPECT_TRUE(logged(p.h.a(), "not becoming its sync source")) << events(p.h.a());
  EXPECT_EQ(p.h.a().status().disk, DiskState::kDiskless);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.b().status().repl, ReplState::kEstablished);
  EXPECT_TRUE(p.h.b().metadata.consistent);
  EXPECT_TRUE(p.h.b().metadata.up_to_date);
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, 0U);
}

void scribble(std::vector<std::byte>& disk, uint64_t offset, uint32_t length, uint8_t seed) {
  for (uint32_t i = 0; i < length; ++i)
    disk[offset + i] = std::byte{static_cast<uint8_t>(seed + i)};
}

TEST(HandshakeHarness, DiscardMyDataResolvesASplitBrainWithABitmapSync) {
  Pair p;
  p.attach_both(uptodate_metadata(0x40), uptodate_metadata(0x40));
  p.h.connect_both();
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.cut_link();
  p.h.a().write_pattern(0, kBlock, 1);
  ASSERT_TRUE(p.h.b().core().promote().ok());
  p.h.b().write_pattern(4 * kBlock, 2 * kBlock, 2);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().core().demote().ok());
  p.h.establish();
  p.h.run_until_quiet();
  ASSERT_EQ(p.h.a().status().conn, ConnState::kStandAlone);
  ASSERT_EQ(p.h.b().status().conn, ConnState::kStandAlone);
  EXPECT_TRUE(logged(p.h.a(), "handshake: split-brain-unresolved")) << events(p.h.a());
  const std::vector<std::byte> survivor = p.h.a().disk;

  ASSERT_TRUE(p.h.b().core().connect(true).ok());
  ASSERT_TRUE(p.h.a().core().connect().ok());
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_TRUE(logged(p.h.b(), "split-brain-discard-my-data, bitmap-sync-target"))
      << events(p.h.b());
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, survivor);
  EXPECT_EQ(p.h.b().disk, survivor);
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, 3U * kBlock);  // both nodes' changes, no more
}

TEST(HandshakeHarness, InvalidateCopiesEverythingFromThePeer) {
  Pair p;
  p.connect_in_sync();
  scribble(p.h.b().disk, 12288, 512, 9);  // damage only invalidate can repair
  ASSERT_TRUE(p.h.b().core().invalidate().ok());
  p.h.run_until_quiet();
  EXPECT_TRUE(logged(p.h.b(), "handshake: full-sync-target (invalidate)")) << events(p.h.b());
  EXPECT_TRUE(
      logged(p.h.a(), "handshake: full-sync-source (invalidate or invalidate-remote confirmed)"));
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, kDisk);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
  EXPECT_TRUE(same_generation(p.h.a().metadata.current_uuid, p.h.b().metadata.current_uuid));
}

TEST(HandshakeHarness, InvalidateRemoteOverwritesThePeer) {
  Pair p;
  p.connect_in_sync();
  scribble(p.h.b().disk, 0, 4096, 3);
  ASSERT_TRUE(p.h.a().core().invalidate_remote().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, kDisk);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(HandshakeHarness, InvalidateNeedsAnUpToDatePeerWhenConnected) {
  Pair p;
  ASSERT_TRUE(p.h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  p.h.connect_both();  // the peer is diskless
  p.h.run_until_quiet();
  ASSERT_EQ(p.h.a().status().conn, ConnState::kConnected);
  const auto r = p.h.a().core().invalidate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("mail02"), std::string::npos) << r.error().message;
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
}

// invalidate-remote takes effect only once the peer confirmed: a request
// lost with the connection changes nothing on either side (no sync source
// without a target that knows it).
TEST(HandshakeHarness, InvalidateRemoteWaitsForThePeer) {
  Pair p;
  p.connect_in_sync();
  const Metadata a_md = p.h.a().metadata;
  ASSERT_TRUE(p.h.a().core().invalidate_remote().ok());
  p.h.drain();
  EXPECT_EQ(p.h.a().status().repl, ReplState::kEstablished);  // not yet a source
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
  p.h.cut_link();  // the request dies on the wire
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().metadata.current_uuid, a_md.current_uuid);
  EXPECT_EQ(p.h.a().metadata.bitmap_uuid, a_md.bitmap_uuid);
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().repl, ReplState::kEstablished);
  EXPECT_EQ(p.h.b().status().repl, ReplState::kEstablished);
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, 0U);
  // Asked again over a working link, the peer confirms and is overwritten.
  ASSERT_TRUE(p.h.a().core().invalidate_remote().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, kDisk);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

// The peer agrees to invalidate-remote but keeps its data until this node,
// still UpToDate, has become the source: here this node's disk goes away
// while the request is on the wire, so the peer must not give up the only
// copy left.
TEST(HandshakeHarness, InvalidateRemoteFromANodeThatLostItsDiskChangesNothing) {
  Pair p;
  p.connect_in_sync();
  ASSERT_TRUE(p.h.a().core().invalidate_remote().ok());
  p.h.drain();
  ASSERT_TRUE(p.h.a().core().detach().ok());  // b does not know yet
  p.h.run_until_quiet();
  EXPECT_TRUE(
      logged(p.h.b(), "the peer ran invalidate-remote: asking it to become the sync source"))
      << events(p.h.b());
  expect_b_kept_its_copy_a_detached(p);
  // b can still be promoted: it is not waiting for a source any more.
  EXPECT_TRUE(p.h.b().core().promote().ok());
}

// A diskless primary's writes reach the peer's disk only. Attaching its own
// disk waits until none is in flight (as DRBD's attach drains application
// I/O), and the peer, which attached while this node was diskless, started
// a new generation: the handshake sees the attached disk as the older one
// (rule 50; a primary that would become sync target is an rr-conflict) and
// never makes it the source of the peer's newer data.
TEST(HandshakeHarness, AttachOnADisklessPrimaryNeverOverwritesWhatItWroteToThePeer) {
  Pair p;
  ASSERT_TRUE(p.h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  p.h.connect_both();
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.run_until_quiet();
  const uint64_t w = p.h.a().write_pattern(8192, kBlock, 7);
  p.h.drain();
  ASSERT_FALSE(p.h.a().done(w));
  const auto early = p.h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)});
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("in flight"), std::string::npos) << early.error().message;
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().done(w));
  const std::vector<std::byte> written(p.h.b().disk.begin() + 8192,
                                       p.h.b().disk.begin() + 8192 + kBlock);
  ASSERT_TRUE(p.h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  p.h.run_until_quiet();
  EXPECT_TRUE(logged(p.h.a(), "rule 50")) << events(p.h.a());
  EXPECT_NE(p.h.a().status().repl, ReplState::kSyncSource);
  EXPECT_TRUE(std::equal(written.begin(), written.end(), p.h.b().disk.begin() + 8192));
}

// invalidate, too, takes effect only once the peer confirmed that it still
// has an UpToDate copy: here the peer's disk is going away while the
// request is on the wire, so the node keeps its data (else no UpToDate copy
// would remain).
TEST(HandshakeHarness, InvalidateWaitsForThePeer) {
  Pair p;
  p.connect_in_sync();
  ASSERT_TRUE(p.h.b().core().invalidate().ok());
  p.h.drain();
  EXPECT_EQ(p.h.b().status().repl, ReplState::kEstablished);  // not yet a target
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  ASSERT_TRUE(p.h.a().core().detach().ok());  // b does not know yet
  p.h.run_until_quiet();
  expect_b_kept_its_copy_a_detached(p);
}

// A request lost with the connection changes nothing; asked again over a
// working link, the peer becomes the source. While the node waits for the
// answer it refuses promotion: its writes would exist on its disk alone.
TEST(HandshakeHarness, InvalidateLostWithTheConnectionChangesNothing) {
  Pair p;
  p.connect_in_sync();
  const size_t b_md_writes = p.h.b().metadata_writes;
  ASSERT_TRUE(p.h.b().core().invalidate().ok());
  p.h.drain();
  const auto r = p.h.b().core().promote();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("retry"), std::string::npos) << r.error().message;
  p.h.cut_link();  // the request dies on the wire
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.b().metadata_writes, b_md_writes);  // nothing given up on the disk either
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, 0U);
  scribble(p.h.b().disk, 12288, 512, 9);  // damage only invalidate can repair
  ASSERT_TRUE(p.h.b().core().invalidate().ok());
  p.h.run_until_quiet();
  EXPECT_TRUE(logged(p.h.b(), "handshake: full-sync-target (invalidate)")) << events(p.h.b());
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, kDisk);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(HandshakeHarness, InvalidateWithoutAConnectionSyncsEverythingAtTheNextOne) {
  Pair p;
  p.attach_both(uptodate_metadata(0x40), uptodate_metadata(0x40));
  scribble(p.h.b().disk, 12288, 512, 9);  // damage only invalidate can repair
  ASSERT_TRUE(p.h.b().core().invalidate().ok());
  p.h.run_until_quiet();
  // Written before anything else happens: a restart now comes back
  // Inconsistent with every block out of sync.
  EXPECT_EQ(p.h.b().status().disk, DiskState::kInconsistent);
  EXPECT_FALSE(p.h.b().metadata.consistent);
  EXPECT_EQ(p.h.b().status().out_of_sync_bytes, kDisk);
  EXPECT_FALSE(p.h.a().core().invalidate_remote().ok());  // needs the connection

  p.h.connect_both();
  p.h.run_until_quiet();
  EXPECT_TRUE(logged(p.h.b(), "bitmap-sync-target")) << events(p.h.b());
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, kDisk);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
}

TEST(HandshakeHarness, InvalidateWithoutAConnectionIsRefusedOnAPrimary) {
  Pair p;
  p.attach_both(uptodate_metadata(0x40), uptodate_metadata(0x40));
  ASSERT_TRUE(p.h.a().core().promote().ok());
  const auto r = p.h.a().core().invalidate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("primary"), std::string::npos) << r.error().message;
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
}

TEST(HandshakeHarness, UnrelatedDataIsRefusedOnBothNodes) {
  Pair p;
  p.attach_both(uptodate_metadata(0x40), uptodate_metadata(0x80));
  p.h.connect_both();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().conn, ConnState::kStandAlone);
  EXPECT_EQ(p.h.b().status().conn, ConnState::kStandAlone);
  EXPECT_NE(p.h.first_close_reason().find("unrelated data"), std::string::npos)
      << p.h.first_close_reason();
  EXPECT_TRUE(logged(p.h.a(), "handshake: unrelated-data")) << events(p.h.a());
  EXPECT_TRUE(logged(p.h.b(), "handshake: unrelated-data"));
}

TEST(HandshakeHarness, UncleanNodeGetsItsHotExtentsBackAndNothingElse) {
  Pair p;
  scribble(p.h.b().disk, 8192, kBlock, 5);  // a write the peer never got, lost acknowledgement
  ASSERT_TRUE(p.h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  DiskInfo unclean{kDisk, uptodate_metadata(0x40)};
  unclean.unclean = true;
  unclean.out_of_sync = {{8192, kBlock}};
  ASSERT_TRUE(p.h.b().core().attach(unclean).ok());
  p.h.connect_both();
  p.h.run_until_quiet();
  EXPECT_TRUE(logged(p.h.b(), "handshake: bitmap-sync-target (rule 41")) << events(p.h.b());
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, kBlock);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
}

TEST(HandshakeHarness, InterruptedSyncResumesFromItsSyncUuid) {
  Pair p;
  p.attach_both(uptodate_metadata(0x40), uptodate_metadata(0x40));
  p.h.connect_both();
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.cut_link();
  for (int i = 0; i < 16; ++i)
    p.h.a().write_pattern(static_cast<uint64_t>(i) * kBlock * 3, kBlock, 7);
  p.h.run_until_quiet();
  p.h.establish();
  // The sync has started: the target adopted the source's sync UUID.
  ASSERT_EQ(p.h.b().status().repl, ReplState::kSyncTarget);
  for (int i = 0; i < 6; ++i) p.h.step();
  const uint64_t sync_uuid = p.h.a().metadata.bitmap_uuid;
  EXPECT_TRUE(same_generation(p.h.b().metadata.current_uuid, sync_uuid));
  p.h.cut_link();
  p.h.a().write_pattern(200 * 1024, kBlock, 8);  // more while apart again
  p.h.run_until_quiet();
  p.h.establish();
  EXPECT_TRUE(logged(p.h.b(), "bitmap-sync-target (rule 50")) << events(p.h.b());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
  EXPECT_EQ(p.h.a().metadata.bitmap_uuid, 0U);
  EXPECT_TRUE(same_generation(p.h.a().metadata.current_uuid, p.h.b().metadata.current_uuid));
}

TEST(HandshakeHarness, EveryOutcomeIsLoggedWithBothGenerations) {
  Pair p;
  p.attach_both(uptodate_metadata(0x40), uptodate_metadata(0x40));
  p.h.connect_both();
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.cut_link();
  p.h.a().write_pattern(0, kBlock, 1);
  p.h.run_until_quiet();
  p.h.establish();
  p.h.run_until_quiet();
  const std::string a_gen = format_generations(p.h.a().metadata);
  ASSERT_FALSE(p.h.b().events.empty());
  bool found = false;
  for (const auto& e : p.h.b().events) {
    if (e.find("handshake: bitmap-sync-target") == std::string::npos) continue;
    found = true;
    EXPECT_NE(e.find("resource r0, peer mail01"), std::string::npos) << e;
    EXPECT_NE(e.find("this node UpToDate Secondary generations 0000000000000040:"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("peer UpToDate Primary generations"), std::string::npos) << e;
  }
  EXPECT_TRUE(found) << events(p.h.b());
}

}  // namespace
}  // namespace tandem::core::testing
