// The sync handshake end to end on two cores: discard-my-data, invalidate,
// invalidate-remote, unrelated data, the unclean rule, an interrupted sync
// resuming from its sync UUID, an interrupted sync source promoted apart,
// and the LogEvent every outcome produces.
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

// A primary that just ended a sync as its source takes the peer for
// UpToDate before the peer has heard of the end. Invalidating it then, with
// the link breaking before the peer hears, would leave both Inconsistent:
// it is refused until the peer has confirmed.
TEST(HandshakeHarness, PrimaryInvalidateWaitsForThePeerToConfirmTheSyncEnd) {
  Pair p;
  p.attach_both(uptodate_metadata(0x40), fresh_metadata());
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.connect_both();
  while (p.h.a().status().repl == ReplState::kSyncSource) ASSERT_TRUE(p.h.step());
  ASSERT_EQ(p.h.a().status().peer_disk, DiskState::kUpToDate);
  ASSERT_EQ(p.h.b().status().repl, ReplState::kSyncTarget);  // sync_done still on the wire
  const auto r = p.h.a().core().invalidate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not yet confirmed"), std::string::npos) << r.error().message;
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);

  p.h.run_until_quiet();  // the peer gets sync_done and answers UpToDate
  ASSERT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  scribble(p.h.a().disk, 12288, 512, 9);  // damage only invalidate can repair
  ASSERT_TRUE(p.h.a().core().invalidate().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
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

// A node that went down (power cut) comes back: its persisted metadata,
// disk and bitmap, and the unclean flag the activity log sets.
void restart(const SimNode& from, SimNode& to) {
  to.disk = from.disk;
  DiskInfo d{kDisk, from.metadata};
  d.unclean = true;
  for (const auto& [start, end] : from.bitmap.ranges())
    d.out_of_sync.emplace_back(start, end - start);
  ASSERT_TRUE(to.core().attach(d).ok());
}

std::vector<std::byte> bytes_at(const SimNode& n, uint64_t offset, uint32_t length) {
  return {n.disk.begin() + static_cast<std::ptrdiff_t>(offset),
          n.disk.begin() + static_cast<std::ptrdiff_t>(offset + length)};
}

constexpr uint64_t kSharedUuid = 0xF7FC5A3C9E21D840;  // the story's generation C

// mail02 went down as primary and comes back next to mail01 with the same
// generation: the crashed primary is the sync source (rule 42) and moves
// its bitmap UUID to a sync UUID. With `adopted` false the connection
// breaks before mail01 hears of it (mail01 stays UpToDate at the shared
// generation); otherwise mail01 has become the sync target (Inconsistent,
// at the sync UUID) when the connection breaks.
void interrupted_sync_from_crashed_primary(Pair& p, bool adopted) {
  Metadata crashed = uptodate_metadata(kSharedUuid | kPrimaryIndicator);
  crashed.primary = true;
  p.attach_both(uptodate_metadata(kSharedUuid), crashed);
  ASSERT_TRUE(p.h.a().core().connect().ok());
  ASSERT_TRUE(p.h.b().core().connect().ok());
  p.h.drain();
  p.h.open_link();
  ASSERT_TRUE(p.h.deliver_one(0));  // mail02 decides first
  ASSERT_EQ(p.h.b().status().repl, ReplState::kSyncSource) << events(p.h.b());
  EXPECT_TRUE(logged(p.h.b(), "bitmap-sync-source (rule 42")) << events(p.h.b());
  const uint64_t sync_uuid = p.h.b().metadata.bitmap_uuid;
  ASSERT_NE(sync_uuid, 0U);
  if (adopted) {
    ASSERT_TRUE(p.h.deliver_one(1));
    ASSERT_TRUE(p.h.deliver_one(1));
    ASSERT_EQ(p.h.a().status().repl, ReplState::kSyncTarget) << events(p.h.a());
    ASSERT_TRUE(same_generation(p.h.a().metadata.current_uuid, sync_uuid));
  }
  p.h.cut_link();
  ASSERT_TRUE(same_generation(p.h.b().metadata.current_uuid, kSharedUuid));
  ASSERT_EQ(p.h.b().metadata.bitmap_uuid, sync_uuid);
  ASSERT_EQ(p.h.a().status().disk, adopted ? DiskState::kInconsistent : DiskState::kUpToDate);
}

// Three-node simulator run (docs/simulation.md, "Findings"): mail02's sync
// as source was interrupted before mail01 adopted the sync UUID; mail01 was
// promoted apart and wrote, then lost power; mail02 was promoted apart and
// acknowledged a write (sector 29). Its bitmap UUID being the sync UUID, it
// started no new generation, so at the next connection mail01's bitmap UUID
// equalled mail02's current UUID: mail01 became the bitmap sync source
// (rule 70) and mail02's acknowledged write was overwritten. Both wrote
// since they last shared data: a split brain.
TEST(HandshakeHarness, InterruptedSyncSourcePromotedApartIsASplitBrainNotASyncTarget) {
  Pair p;
  interrupted_sync_from_crashed_primary(p, false);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.a().write_pattern(64 * 1024, kBlock, 1);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().core().promote().ok());
  const uint64_t id = p.h.b().write_pattern(29 * 512, 512, 2);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().done(id));
  ASSERT_EQ(p.h.b().request(id).result, 0);
  const std::vector<std::byte> acked = p.h.b().request(id).written;
  // mail02 now holds a generation of its own.
  EXPECT_FALSE(same_generation(p.h.b().metadata.current_uuid, kSharedUuid))
      << format_generations(p.h.b().metadata);

  // Both go down (still primary) and come back.
  Pair q;
  restart(p.h.a(), q.h.a());
  restart(p.h.b(), q.h.b());
  q.h.connect_both();
  q.h.run_until_quiet();
  EXPECT_TRUE(logged(q.h.a(), "split-brain")) << events(q.h.a());
  EXPECT_TRUE(logged(q.h.b(), "split-brain")) << events(q.h.b());
  EXPECT_NE(q.h.b().status().repl, ReplState::kSyncTarget);
  EXPECT_EQ(q.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(bytes_at(q.h.b(), 29 * 512, 512), acked) << "mail02's acknowledged write was lost";
  EXPECT_EQ(q.h.a().status().sync_bytes_sent, 0U);
}

// A crashed primary's resync ends its "crashed while primary" status in
// the metadata too: mail01 crashed as primary and synced its hot extents to
// mail02 (rule 42); later mail02 is primary, both lose power, and mail01,
// a secondary this time, lost mail02's last write on the way to its disk
// (protocol B allows that). mail02 is the crashed primary (rule 42): its
// write survives. While mail01's metadata still said "primary", both looked
// like crashed primaries (rule 43, the lower node id, mail01, as source)
// and the acknowledged write was overwritten (three-node simulator run,
// docs/simulation.md).
TEST(HandshakeHarness, ACrashedPrimaryStopsBeingOneOnceItsResyncEnded) {
  Pair p;
  Metadata crashed = uptodate_metadata(kSharedUuid | kPrimaryIndicator);
  crashed.primary = true;
  p.attach_both(crashed, uptodate_metadata(kSharedUuid));
  p.h.connect_both();
  p.h.run_until_quiet();
  ASSERT_TRUE(logged(p.h.a(), "bitmap-sync-source (rule 42")) << events(p.h.a());
  ASSERT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_FALSE(p.h.a().metadata.primary) << "the sync ended, mail01 is secondary";

  ASSERT_TRUE(p.h.b().core().promote().ok());
  const uint64_t id = p.h.b().write_pattern(8 * kBlock, kBlock, 3);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().done(id));
  const std::vector<std::byte> acked = p.h.b().request(id).written;
  ASSERT_EQ(bytes_at(p.h.a(), 8 * kBlock, kBlock), acked);

  Pair q;
  SimNode lost = p.h.a();
  scribble(lost.disk, 8 * kBlock, kBlock, 9);  // the write did not reach mail01's platter
  restart(lost, q.h.a());
  // mail02's activity log names the extent of its last write (hot).
  q.h.b().disk = p.h.b().disk;
  DiskInfo hot{kDisk, p.h.b().metadata};
  hot.unclean = true;
  hot.out_of_sync = {{8 * kBlock, kBlock}};
  ASSERT_TRUE(q.h.b().core().attach(hot).ok());
  q.h.connect_both();
  q.h.run_until_quiet();
  EXPECT_TRUE(logged(q.h.b(), "bitmap-sync-source (rule 42")) << events(q.h.b());
  EXPECT_EQ(q.h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(bytes_at(q.h.a(), 8 * kBlock, kBlock), acked) << "mail02's acknowledged write was lost";
  EXPECT_EQ(q.h.a().disk, q.h.b().disk);
}

// mail02, the interrupted source, is promoted apart, writes and steps
// down; the nodes reconnect: mail01 ends UpToDate with mail02's data, and
// only the bitmap travelled.
void interrupted_source_writes_apart_and_reconnects(Pair& p, bool adopted) {
  interrupted_sync_from_crashed_primary(p, adopted);
  ASSERT_TRUE(p.h.b().core().promote().ok());
  const uint64_t id = p.h.b().write_pattern(29 * 512, 512, 2);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.b().done(id));
  ASSERT_TRUE(p.h.b().core().demote().ok());
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
  EXPECT_LE(p.h.b().status().sync_bytes_sent, kDisk / 4);
}

// What the sync UUID rules were made for still holds when the interrupted
// source is promoted apart and writes: a peer that neither adopted the sync
// UUID nor wrote is resynchronized from the bitmap (rule 51) ...
TEST(HandshakeHarness, InterruptedSyncSourcePromotedApartResyncsAnIdlePeerFromItsBitmap) {
  Pair p;
  interrupted_source_writes_apart_and_reconnects(p, false);
  EXPECT_TRUE(logged(p.h.a(), "bitmap-sync-target (rule 51")) << events(p.h.a());  // was 36
}

// ... and a peer that adopted it (the sync target, Inconsistent) resumes
// from the bitmap (rule 50).
TEST(HandshakeHarness, InterruptedSyncSourcePromotedApartResumesTheSyncFromItsBitmap) {
  Pair p;
  interrupted_source_writes_apart_and_reconnects(p, true);
  EXPECT_TRUE(logged(p.h.a(), "bitmap-sync-target (rule 50")) << events(p.h.a());
}

// Rule 70 as before when the interrupted source did not write: the peer
// that was promoted apart and wrote is the bitmap sync source.
TEST(HandshakeHarness, InterruptedSyncSourceThatWroteNothingIsTheTargetOfAPeerThatDid) {
  Pair p;
  interrupted_sync_from_crashed_primary(p, false);
  ASSERT_TRUE(p.h.a().core().promote().ok());
  p.h.a().write_pattern(64 * 1024, kBlock, 1);
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().core().demote().ok());
  p.h.establish();
  p.h.run_until_quiet();
  EXPECT_TRUE(logged(p.h.b(), "bitmap-sync-target (rule 50")) << events(p.h.b());
  EXPECT_TRUE(logged(p.h.a(), "bitmap-sync-source (rule 70")) << events(p.h.a());
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(p.h.a().disk, p.h.b().disk);
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
