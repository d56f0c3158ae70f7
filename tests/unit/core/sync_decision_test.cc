// The sync direction table (core/sync_decision.h).
#include "core/sync_decision.h"

#include <gtest/gtest.h>

namespace tandem::core {
namespace {

DiskView view(DiskState d, uint64_t current, uint64_t bitmap = 0, uint64_t h0 = 0) {
  return DiskView{d, current, bitmap, {h0, 0}};
}

SyncVerdict verdict(const DiskView& l, const DiskView& p) {
  return decide_sync(l, p).verdict;
}

TEST(SyncDecision, UpToDateAgainstInconsistentSyncsFromUpToDate) {
  EXPECT_EQ(verdict(view(DiskState::kUpToDate, 1), view(DiskState::kInconsistent, 0)),
            SyncVerdict::kSource);
  EXPECT_EQ(verdict(view(DiskState::kInconsistent, 0), view(DiskState::kUpToDate, 1)),
            SyncVerdict::kTarget);
}

TEST(SyncDecision, EqualGenerationsNeedNoSync) {
  EXPECT_EQ(verdict(view(DiskState::kUpToDate, 5), view(DiskState::kUpToDate, 5)),
            SyncVerdict::kNoSync);
  EXPECT_EQ(verdict(view(DiskState::kOutdated, 5), view(DiskState::kUpToDate, 5)),
            SyncVerdict::kAdoptUpToDate);
  EXPECT_EQ(verdict(view(DiskState::kUpToDate, 5), view(DiskState::kOutdated, 5)),
            SyncVerdict::kNoSync);
}

TEST(SyncDecision, CrashedPrimaryWithEqualGenerationIsTheSource) {
  DiskView crashed = view(DiskState::kUpToDate, 5);
  crashed.crashed_primary = true;
  crashed.node_id = 2;
  DiskView survivor = view(DiskState::kUpToDate, 5);
  survivor.node_id = 1;
  EXPECT_EQ(verdict(crashed, survivor), SyncVerdict::kSource);
  EXPECT_EQ(verdict(survivor, crashed), SyncVerdict::kTarget);
  // Both crashed (dual primary): the lower node id is the source, on both sides.
  survivor.crashed_primary = true;
  EXPECT_EQ(verdict(crashed, survivor), SyncVerdict::kTarget);
  EXPECT_EQ(verdict(survivor, crashed), SyncVerdict::kSource);
  // A survivor promoted meanwhile has a newer generation: generations decide.
  DiskView promoted = view(DiskState::kUpToDate, 6, 5);
  EXPECT_EQ(verdict(crashed, promoted), SyncVerdict::kTarget);
}

TEST(SyncDecision, PeerThatOnlyMissedWritesIsSynced) {
  // We diverged from generation 5 (bitmap 5, current 6); the peer is still at 5.
  EXPECT_EQ(verdict(view(DiskState::kUpToDate, 6, 5), view(DiskState::kUpToDate, 5)),
            SyncVerdict::kSource);
  EXPECT_EQ(verdict(view(DiskState::kUpToDate, 5), view(DiskState::kUpToDate, 6, 5)),
            SyncVerdict::kTarget);
  EXPECT_EQ(verdict(view(DiskState::kUpToDate, 9, 0, 5), view(DiskState::kOutdated, 5)),
            SyncVerdict::kSource);
}

TEST(SyncDecision, BothDivergedIsRefusedAsSplitBrain) {
  const SyncDecision d =
      decide_sync(view(DiskState::kUpToDate, 6, 5), view(DiskState::kUpToDate, 7, 5));
  EXPECT_EQ(d.verdict, SyncVerdict::kRefuse);
  EXPECT_NE(d.reason.find("split brain"), std::string::npos);
  EXPECT_NE(d.reason.find("0000000000000006"), std::string::npos) << d.reason;
}

TEST(SyncDecision, UnrelatedDataIsRefused) {
  EXPECT_EQ(verdict(view(DiskState::kUpToDate, 6), view(DiskState::kConsistent, 8)),
            SyncVerdict::kRefuse);
}

TEST(SyncDecision, NothingMovesWithoutAnUpToDateSide) {
  EXPECT_EQ(verdict(view(DiskState::kInconsistent, 0), view(DiskState::kInconsistent, 0)),
            SyncVerdict::kNoSync);
  EXPECT_EQ(verdict(view(DiskState::kInconsistent, 0), view(DiskState::kOutdated, 3)),
            SyncVerdict::kNoSync);
  EXPECT_EQ(verdict(view(DiskState::kDiskless, 0), view(DiskState::kUpToDate, 3)),
            SyncVerdict::kNoSync);
}

}  // namespace
}  // namespace tandem::core
