// The sync handshake table (core/sync_decision.h): every generation rule,
// the disk-state rule, the unclean rule, split brain with and without
// discard-my-data, unrelated data and rr-conflict. Every case is checked
// from both nodes' side, which must give mirrored verdicts.
#include "core/sync_decision.h"

#include <gtest/gtest.h>

#include <optional>

#include "core/generation_ids.h"

namespace tandem::core {
namespace {

DiskView view(DiskState d, uint64_t current, uint64_t bitmap = 0, uint64_t h0 = 0,
              uint64_t h1 = 0) {
  DiskView v;
  v.disk = d;
  v.current_uuid = current;
  v.bitmap_uuid = bitmap;
  v.history_uuids = {h0, h1};
  return v;
}

DiskView up(uint64_t current, uint64_t bitmap = 0, uint64_t h0 = 0, uint64_t h1 = 0) {
  return view(DiskState::kUpToDate, current, bitmap, h0, h1);
}

Metadata uptodate_metadata_for_test(uint64_t current, uint64_t history0) {
  Metadata m;
  m.current_uuid = current;
  m.history_uuids = {history0, 0};
  m.consistent = true;
  m.up_to_date = true;
  return m;
}

SyncVerdict mirror(SyncVerdict v) {
  switch (v) {
    case SyncVerdict::kSource:
      return SyncVerdict::kTarget;
    case SyncVerdict::kTarget:
      return SyncVerdict::kSource;
    default:
      return v;
  }
}

struct Row {
  const char* name;
  DiskView local;
  DiskView peer;
  SyncVerdict verdict;
  bool full;
  int rule;
  const char* outcome;  // substring of SyncDecision::outcome
};

void name_nodes(DiskView& l, DiskView& p) {
  l.node_name = "alpha";
  l.node_id = 1;
  p.node_name = "beta";
  p.node_id = 2;
}

TEST(SyncDecision, OutcomeTable) {
  DiskView unclean = up(0x50);
  unclean.unclean = true;
  DiskView unclean_primary = unclean;
  unclean_primary.crashed_primary = true;
  DiskView inconsistent_synced = view(DiskState::kInconsistent, 0x70);
  const std::vector<Row> rows = {
      {"both never synced", view(DiskState::kInconsistent, 0), view(DiskState::kInconsistent, 0),
       SyncVerdict::kNoSync, false, 0, "no-sync"},
      {"fresh peer gets everything", up(0x50), view(DiskState::kInconsistent, 0),
       SyncVerdict::kSource, true, 30, "full-sync-source"},
      {"equal generations", up(0x50), up(0x51), SyncVerdict::kNoSync, false, 40, "no-sync"},
      {"outdated peer of the same generation", up(0x50), view(DiskState::kOutdated, 0x50),
       SyncVerdict::kNoSync, false, 40, "no-sync"},
      {"peer only missed our writes", up(0x61, 0x51), up(0x50), SyncVerdict::kSource, false, 70,
       "bitmap-sync-source"},
      {"we only missed the peer's writes", up(0x50), up(0x61, 0x51), SyncVerdict::kTarget, false,
       50, "bitmap-sync-target"},
      {"peer is an older generation beyond the bitmap", up(0x70, 0, 0x60, 0x50),
       view(DiskState::kOutdated, 0x50), SyncVerdict::kSource, true, 80, "full-sync-source"},
      {"we are an older generation", view(DiskState::kOutdated, 0x60), up(0x70, 0, 0x60),
       SyncVerdict::kTarget, true, 60, "full-sync-target"},
      {"split brain, disconnect policy", up(0x71, 0x51), up(0x81, 0x50), SyncVerdict::kRefuse,
       false, 90, "split-brain-unresolved"},
      // A sync source moved its bitmap UUID on (kSyncUuidStep) and the
      // connection broke before the target adopted it.
      {"our sync UUID did not reach the peer", up(0x61, 0x51 + kSyncUuidStep), up(0x50),
       SyncVerdict::kSource, false, 71, "bitmap-sync-source"},
      {"the peer's sync UUID did not reach us", up(0x50), up(0x61, 0x51 + kSyncUuidStep),
       SyncVerdict::kTarget, false, 51, "bitmap-sync-target"},
      {"split brain after a sync UUID that did not get through", up(0x71, 0x51 + kSyncUuidStep),
       up(0x81, 0x50), SyncVerdict::kRefuse, false, 91, "split-brain-unresolved"},
      // The victim of an auto-recoverable split brain became Inconsistent
      // as sync target and the connection broke before the sync UUID
      // reached it: both bitmaps still start at the shared generation.
      {"interrupted split-brain recovery resumes from the bitmaps",
       view(DiskState::kInconsistent, 0x71, 0x51), up(0x81, 0x50), SyncVerdict::kTarget, false, 90,
       "bitmap-sync-target"},
      {"split brain from different generations", up(0x71, 0x61, 0x40), up(0x81, 0x91, 0x40),
       SyncVerdict::kRefuse, false, 100, "split-brain-unresolved"},
      {"unrelated data", up(0x70, 0, 0x60), up(0x80, 0, 0x90), SyncVerdict::kRefuse, false, 110,
       "unrelated-data"},
      {"each forced primary from fresh metadata: unrelated", up(0x71, 0, kJustCreatedUuid),
       up(0x81, 0, kJustCreatedUuid), SyncVerdict::kRefuse, false, 110, "unrelated-data"},
      {"fresh-metadata marker as both bitmap UUIDs: unrelated", up(0x71, kJustCreatedUuid),
       up(0x81, kJustCreatedUuid | kPrimaryIndicator), SyncVerdict::kRefuse, false, 110,
       "unrelated-data"},
      {"inconsistent side of an interrupted sync: bitmap", inconsistent_synced, up(0x81, 0x70),
       SyncVerdict::kTarget, false, 50, "bitmap-sync-target"},
      {"inconsistent side with unrelated data: full", view(DiskState::kInconsistent, 0x33),
       up(0x81), SyncVerdict::kTarget, true, 110, "full-sync-target"},
      {"inconsistent against outdated waits", view(DiskState::kInconsistent, 0x33),
       view(DiskState::kOutdated, 0x81), SyncVerdict::kNoSync, false, 110, "no-sync"},
      {"a sync source whose target never adopted the sync UUID", up(0x51, 0x9990), up(0x50),
       SyncVerdict::kSource, false, 35, "bitmap-sync-source"},
      {"unclean node gets its hot extents back", unclean, up(0x50), SyncVerdict::kTarget, false, 41,
       "bitmap-sync-target"},
      {"a crashed primary is the source (DRBD)", unclean_primary, up(0x50), SyncVerdict::kSource,
       false, 42, "bitmap-sync-source"},
      {"both unclean: the one that was primary is the source", unclean_primary, unclean,
       SyncVerdict::kSource, false, 42, "bitmap-sync-source"},
      {"both unclean primaries: lower node id is the source", unclean_primary, unclean_primary,
       SyncVerdict::kSource, false, 43, "bitmap-sync-source"},
  };
  for (const Row& r : rows) {
    DiskView l = r.local;
    DiskView p = r.peer;
    name_nodes(l, p);
    const SyncDecision d = decide_sync(l, p);
    EXPECT_EQ(d.verdict, r.verdict) << r.name << ": " << d.outcome << " " << d.detail;
    EXPECT_EQ(d.full, r.full) << r.name;
    EXPECT_EQ(d.match.rule, r.rule) << r.name;
    EXPECT_NE(d.outcome.find(r.outcome), std::string::npos) << r.name << ": " << d.outcome;
    // The peer's side of the same handshake.
    const SyncDecision m = decide_sync(p, l);
    // The Outdated node of an equal generation takes over UpToDate.
    const SyncVerdict expected = p.disk == DiskState::kOutdated && r.rule == 40
                                     ? SyncVerdict::kAdoptUpToDate
                                     : mirror(r.verdict);
    EXPECT_EQ(m.verdict, expected) << r.name << " (mirrored): " << m.outcome;
    EXPECT_EQ(m.full, r.full) << r.name << " (mirrored)";
  }
}

TEST(SyncDecision, LogDetailNamesBothNodesGenerations) {
  DiskView l = up(0x71, 0x51);
  DiskView p = up(0x81, 0x50);
  name_nodes(l, p);
  const SyncDecision d = decide_sync(l, p);
  EXPECT_TRUE(d.split_brain);
  EXPECT_NE(d.reason.find("split brain"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("0000000000000071:0000000000000051"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("0000000000000081:0000000000000050"), std::string::npos) << d.reason;
  EXPECT_NE(d.detail.find("rule 90"), std::string::npos) << d.detail;
}

TEST(SyncDecision, SplitBrainIsResolvedByPolicyAsBitmapSync) {
  DiskView l = up(0x71, 0x51);
  DiskView p = up(0x81, 0x50);
  name_nodes(l, p);
  l.out_of_sync_bytes = 4096;
  p.out_of_sync_bytes = 0;
  HandshakePolicy pol;
  pol.split_brain.after_sb_0pri = AfterSb0Pri::kDiscardZeroChanges;
  const SyncDecision d = decide_sync(l, p, pol);
  EXPECT_EQ(d.verdict, SyncVerdict::kSource);
  EXPECT_FALSE(d.full);
  EXPECT_TRUE(d.split_brain);  // the handler runs although the policy resolved it
  EXPECT_NE(d.outcome.find("split-brain-auto-recovered"), std::string::npos) << d.outcome;
  EXPECT_EQ(decide_sync(p, l, pol).verdict, SyncVerdict::kTarget);
}

TEST(SyncDecision, DiscardMyDataMakesTheVictimABitmapTarget) {
  // Split brain needing a human.
  DiskView l = up(0x71, 0x61, 0x40);
  DiskView p = up(0x81, 0x91, 0x40);
  name_nodes(l, p);
  l.discard_my_data = true;
  SyncDecision d = decide_sync(l, p);
  EXPECT_EQ(d.verdict, SyncVerdict::kTarget);
  EXPECT_FALSE(d.full);
  EXPECT_FALSE(d.split_brain);  // resolved by the administrator: no split-brain handler
  EXPECT_NE(d.outcome.find("split-brain-discard-my-data"), std::string::npos) << d.outcome;
  EXPECT_EQ(decide_sync(p, l).verdict, SyncVerdict::kSource);
  // The victim's generation is the newer one: still the target, bitmap-based.
  DiskView newer = up(0x61, 0x51);
  DiskView older = up(0x50);
  name_nodes(newer, older);
  newer.discard_my_data = true;
  d = decide_sync(newer, older);
  EXPECT_EQ(d.verdict, SyncVerdict::kTarget);
  EXPECT_FALSE(d.full);
  EXPECT_EQ(decide_sync(older, newer).verdict, SyncVerdict::kSource);
  // Unrelated data: full sync.
  DiskView u1 = up(0x70);
  DiskView u2 = up(0x80);
  name_nodes(u1, u2);
  u2.discard_my_data = true;
  d = decide_sync(u1, u2);
  EXPECT_EQ(d.verdict, SyncVerdict::kSource);
  EXPECT_TRUE(d.full);
}

TEST(SyncDecision, RrConflictWhenAPrimaryWouldBecomeTarget) {
  const struct {
    RrConflict policy;
    SyncVerdict verdict;
    bool reconnect;
    bool pri_lost;
  } rows[] = {
      {RrConflict::kDisconnect, SyncVerdict::kRefuse, false, false},
      {RrConflict::kRetryConnect, SyncVerdict::kRefuse, true, false},
      {RrConflict::kCallPriLost, SyncVerdict::kRefuse, false, true},
      {RrConflict::kViolently, SyncVerdict::kTarget, false, false},
  };
  for (const auto& r : rows) {
    DiskView l = up(0x50);
    DiskView p = up(0x61, 0x51);
    name_nodes(l, p);
    l.role = Role::kPrimary;
    HandshakePolicy pol;
    pol.rr_conflict = r.policy;
    const SyncDecision d = decide_sync(l, p, pol);
    EXPECT_EQ(d.verdict, r.verdict) << to_string(r.policy);
    EXPECT_EQ(d.reconnect, r.reconnect) << to_string(r.policy);
    EXPECT_EQ(d.run_pri_lost, r.pri_lost) << to_string(r.policy);
    if (d.verdict == SyncVerdict::kRefuse) {
      EXPECT_NE(d.reason.find("rr-conflict"), std::string::npos) << d.reason;
    }
    // An Inconsistent primary (reading from the peer) is synced regardless.
    l.disk = DiskState::kInconsistent;
    EXPECT_EQ(decide_sync(l, p, pol).verdict, SyncVerdict::kTarget) << to_string(r.policy);
  }
}

// The sync source evaluates its primary peer's decision: when the peer's
// rr-conflict retry-connect refuses to become the target, the source does
// not start the sync and waits for the peer to drop the connection.
TEST(SyncDecision, SourceMirrorsThePrimaryPeersRrConflict) {
  const struct {
    std::optional<RrConflict> peer_policy;
    bool mirrored;
  } rows[] = {
      {RrConflict::kDisconnect, false},  // the primary goes StandAlone: not mirrored
      {RrConflict::kRetryConnect, true},
      {RrConflict::kCallPriLost, false},
      {RrConflict::kViolently, false},
      {std::nullopt, false},  // a peer that does not send its policy
  };
  for (const auto& r : rows) {
    const std::string name = r.peer_policy ? std::string(to_string(*r.peer_policy)) : "unknown";
    DiskView l = up(0x61, 0x51);
    DiskView p = up(0x50);
    name_nodes(l, p);
    p.role = Role::kPrimary;
    p.rr_conflict = r.peer_policy;
    // This node's own rr-conflict does not matter: it is not the primary.
    HandshakePolicy pol;
    pol.rr_conflict = RrConflict::kViolently;
    const SyncDecision d = decide_sync(l, p, pol);
    // The peer's side of the same pair: refused by its rr-conflict, or target.
    HandshakePolicy theirs;
    if (r.peer_policy) theirs.rr_conflict = *r.peer_policy;
    const SyncDecision pd = decide_sync(p, l, theirs);
    if (r.mirrored) {
      EXPECT_EQ(d.verdict, SyncVerdict::kNoSync) << name;
      EXPECT_EQ(d.outcome, "rr-conflict-peer");
      EXPECT_NE(d.detail.find("rr-conflict " + name), std::string::npos) << d.detail;
      EXPECT_EQ(pd.verdict, SyncVerdict::kRefuse) << name;
    } else {
      EXPECT_EQ(d.verdict, SyncVerdict::kSource) << name;
    }
    EXPECT_FALSE(d.run_pri_lost) << name;
    // A secondary peer, or an Inconsistent primary, is synced regardless.
    p.role = Role::kSecondary;
    EXPECT_EQ(decide_sync(l, p, pol).verdict, SyncVerdict::kSource) << name;
    p.role = Role::kPrimary;
    p.disk = DiskState::kInconsistent;
    EXPECT_EQ(decide_sync(l, p, pol).verdict, SyncVerdict::kSource) << name;
  }
}

TEST(SyncDecision, NothingMovesWithoutADisk) {
  EXPECT_EQ(decide_sync(view(DiskState::kDiskless, 0), up(3)).verdict, SyncVerdict::kNoSync);
  EXPECT_EQ(decide_sync(up(3), view(DiskState::kDiskless, 0)).verdict, SyncVerdict::kNoSync);
}

TEST(SyncDecision, AdoptsUpToDateFromThePeerOfTheSameGeneration) {
  EXPECT_EQ(decide_sync(view(DiskState::kOutdated, 5), up(5)).verdict, SyncVerdict::kAdoptUpToDate);
}

TEST(SyncDecision, NewerGenerationOnAnOutdatedDiskIsRefused) {
  const SyncDecision d = decide_sync(view(DiskState::kOutdated, 0x61, 0x51), up(0x50));
  EXPECT_EQ(d.verdict, SyncVerdict::kRefuse);
  EXPECT_NE(d.reason.find("Outdated"), std::string::npos) << d.reason;
}

TEST(GenerationIds, PrimaryIndicatorIsIgnoredInComparisons) {
  EXPECT_TRUE(same_generation(0x50, 0x51));
  EXPECT_FALSE(same_generation(0x50, 0x52));
  EXPECT_FALSE(same_generation(0, 0));
  Metadata md;
  md.current_uuid = 0x50;
  EXPECT_TRUE(start_new_generation(md, 0x90, true));
  EXPECT_EQ(md.bitmap_uuid, 0x50U);
  EXPECT_EQ(md.current_uuid, 0x91U);
  // Only at the first divergence.
  EXPECT_FALSE(start_new_generation(md, 0xA0, true));
  EXPECT_EQ(md.current_uuid, 0x91U);
  EXPECT_TRUE(set_primary_indicator(md, false));
  EXPECT_EQ(md.current_uuid, 0x90U);
  // Sync UUIDs: the source's bitmap UUID moves on, the target adopts it.
  const uint64_t sync = begin_sync_as_source(md, 0x1234);
  EXPECT_EQ(sync, 0x50U + kSyncUuidStep);
  Metadata target;
  target.current_uuid = 0x50;
  EXPECT_TRUE(begin_sync_as_target(target, sync, false));
  EXPECT_EQ(target.current_uuid, sync);
  // Without a bitmap UUID the sync UUID is made from the current UUID, so
  // that it stays recognisable (sync_uuid_from_current); from the
  // just-created marker, a fresh one.
  Metadata equal;
  equal.current_uuid = 0x91;
  EXPECT_EQ(begin_sync_as_source(equal, 0x1234), 0x91U + kSyncUuidStep);
  EXPECT_TRUE(sync_uuid_from_current(equal.bitmap_uuid, 0x90));
  EXPECT_FALSE(sync_uuid_from_current(md.bitmap_uuid, md.current_uuid));
  Metadata created;
  created.current_uuid = kJustCreatedUuid;
  EXPECT_EQ(begin_sync_as_source(created, 0x1234), 0x1234U);
}

// Three-node simulator run (docs/simulation.md, "Findings"), with the
// story's generations. beta crashed as primary; reconnected to alpha it is
// the sync source over equal generations (rule 42), and the connection
// breaks before alpha adopts the sync UUID. alpha is promoted apart and
// writes; then beta is promoted apart and writes. Its bitmap UUID being a
// sync UUID, beta started no new generation, and at the next connection
// alpha's bitmap UUID equalled beta's current one: rule 70 made alpha the
// bitmap sync source and beta's acknowledged writes were overwritten.
TEST(GenerationIds, InterruptedSyncSourceStartsANewGenerationWhenItDivergesAgain) {
  constexpr uint64_t kC = 0xF7FC5A3C9E21D840;      // shared generation
  constexpr uint64_t kOlder = 0x3B0E77D1A4C62F18;  // history
  constexpr uint64_t kSync = 0x9756B2E0C3D41A70;   // fresh UUID offered to the sync
  constexpr uint64_t kA = 0x51FE90C2D7B36E08;      // alpha's promotion
  constexpr uint64_t kB = 0x2C4D6E8FA1B3C5D8;      // beta's promotion
  Metadata alpha = uptodate_metadata_for_test(kC, kOlder);
  Metadata beta = uptodate_metadata_for_test(kC | kPrimaryIndicator, kOlder);

  DiskView a = up(alpha.current_uuid, 0, kOlder);
  DiskView b = up(beta.current_uuid, 0, kOlder);
  b.unclean = b.crashed_primary = true;
  name_nodes(a, b);
  ASSERT_EQ(decide_sync(b, a).verdict, SyncVerdict::kSource);
  ASSERT_EQ(decide_sync(b, a).match.rule, 42);
  EXPECT_TRUE(set_primary_indicator(beta, false));  // it restarted as secondary
  const uint64_t sync = begin_sync_as_source(beta, kSync);
  EXPECT_TRUE(sync_uuid_from_current(sync, beta.current_uuid));

  // alpha, still UpToDate at C (it never got the sync UUID), promoted apart.
  const Metadata alpha_before = alpha;
  EXPECT_TRUE(start_new_generation(alpha, kA, true));
  // beta promoted apart: it must stop being current at C.
  const Metadata beta_idle = beta;
  EXPECT_TRUE(start_new_generation(beta, kB, true));
  EXPECT_EQ(beta.current_uuid, kB | kPrimaryIndicator);
  EXPECT_EQ(beta.bitmap_uuid, sync);  // its bitmap covers the sync's rest too
  EXPECT_EQ(beta.history_uuids[0], kC);
  EXPECT_EQ(beta.history_uuids[1], kOlder);
  // Once is enough: it has diverged now.
  Metadata again = beta;
  EXPECT_FALSE(start_new_generation(again, 0x77, true));

  auto view_of = [](const Metadata& md) {
    return up(md.current_uuid, md.bitmap_uuid, md.history_uuids[0], md.history_uuids[1]);
  };
  auto check = [&](const char* what, const Metadata& l_md, const Metadata& p_md,
                   SyncVerdict verdict, int rule) {
    SCOPED_TRACE(what);
    DiskView l = view_of(l_md);
    DiskView p = view_of(p_md);
    name_nodes(l, p);
    const SyncDecision d = decide_sync(l, p);
    EXPECT_EQ(d.verdict, verdict) << d.detail;
    EXPECT_EQ(d.match.rule, rule) << d.detail;
    const SyncDecision m = decide_sync(p, l);
    EXPECT_EQ(m.verdict, mirror(verdict)) << m.detail;
    const int mirrored = rule == 50 ? 70 : rule == 70 ? 50 : rule == 51 ? 71 : rule;
    EXPECT_EQ(m.match.rule, mirrored) << m.detail;
  };
  // Both wrote: split brain (both diverged from C), never rule 70.
  check("both wrote", alpha, beta, SyncVerdict::kRefuse, 91);
  {
    DiskView l = view_of(alpha);
    DiskView p = view_of(beta);
    name_nodes(l, p);
    EXPECT_TRUE(decide_sync(l, p).split_brain);
    EXPECT_EQ(compare_generations(l, p).relation, GenerationRelation::kSplitBrainAuto);
  }
  // Only beta wrote, alpha never got the sync UUID: bitmap sync (rule 51).
  check("only beta wrote", alpha_before, beta, SyncVerdict::kTarget, 51);
  // alpha adopted the sync UUID (sync target, Inconsistent): the sync
  // resumes from the bitmap (rule 50).
  Metadata target = alpha_before;
  EXPECT_TRUE(begin_sync_as_target(target, sync, false));
  {
    DiskView l = view_of(target);
    l.disk = DiskState::kInconsistent;
    DiskView p = view_of(beta);
    name_nodes(l, p);
    const SyncDecision d = decide_sync(l, p);
    EXPECT_EQ(d.verdict, SyncVerdict::kTarget) << d.detail;
    EXPECT_FALSE(d.full) << d.detail;
    EXPECT_EQ(d.match.rule, 50) << d.detail;
  }
  // Only alpha wrote: beta, which did not, is its bitmap target (rule 70).
  check("only alpha wrote", alpha, beta_idle, SyncVerdict::kSource, 70);
}

// The sync was resumed (rule 35) and interrupted again before the peer
// adopted any sync UUID: the sync UUID is two steps ahead of the generation
// the peer holds. Still a new generation, and no sync over either node's
// writes: a full sync to an idle peer (rule 60), a split brain for a human
// against a peer that wrote (rule 100).
TEST(GenerationIds, SyncUuidMoreThanOneStepAheadStillStartsANewGeneration) {
  Metadata beta = uptodate_metadata_for_test(0x50, 0x30);
  begin_sync_as_source(beta, 0x1234);
  begin_sync_as_source(beta, 0x1234);
  EXPECT_EQ(beta.bitmap_uuid, 0x50U + 2 * kSyncUuidStep);
  EXPECT_TRUE(start_new_generation(beta, 0x60, true));
  DiskView p = up(beta.current_uuid, beta.bitmap_uuid, beta.history_uuids[0]);
  DiskView idle = up(0x50, 0, 0x30);
  name_nodes(idle, p);
  const SyncDecision d = decide_sync(idle, p);
  EXPECT_EQ(d.verdict, SyncVerdict::kTarget) << d.detail;
  EXPECT_TRUE(d.full) << d.detail;
  EXPECT_EQ(d.match.rule, 60) << d.detail;
  DiskView wrote = up(0x71, 0x50, 0x30);
  name_nodes(wrote, p);
  const SyncDecision w = decide_sync(wrote, p);
  EXPECT_EQ(w.verdict, SyncVerdict::kRefuse) << w.detail;
  EXPECT_TRUE(w.split_brain) << w.detail;
  EXPECT_EQ(w.match.rule, 100) << w.detail;
}

// A node that already diverged keeps its bitmap UUID however often it loses
// its peer (a primary disconnected twice; a sync it then sources from that
// bitmap UUID): the peer still at the generation they shared resyncs from
// the bitmap.
TEST(GenerationIds, DivergedNodeStartsNoFurtherGeneration) {
  Metadata md = uptodate_metadata_for_test(0x50, 0x30);
  EXPECT_TRUE(start_new_generation(md, 0x60, true));
  EXPECT_FALSE(start_new_generation(md, 0x70, true));
  EXPECT_EQ(begin_sync_as_source(md, 0x1234), 0x50U + kSyncUuidStep);
  EXPECT_FALSE(start_new_generation(md, 0x80, true));
  EXPECT_EQ(md.current_uuid, 0x61U);
  EXPECT_EQ(md.history_uuids[0], 0x30U);
  DiskView l = up(0x50, 0, 0x30);
  DiskView p = up(md.current_uuid, md.bitmap_uuid, md.history_uuids[0]);
  name_nodes(l, p);
  EXPECT_EQ(decide_sync(l, p).match.rule, 51);
}

}  // namespace
}  // namespace tandem::core
