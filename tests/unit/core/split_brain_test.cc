// resolve_split_brain (core/split_brain.h): one row per policy value and
// situation, each checked from both nodes' side (mirrored answers).
#include "core/split_brain.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::core {
namespace {

enum class Keep { kNone, kAlpha, kBeta };

struct Row {
  const char* name;
  SplitBrainPolicy policy;
  // alpha (node id 1) and beta (node id 2)
  bool alpha_primary, alpha_primary_at_split;
  uint64_t alpha_changes;
  bool beta_primary, beta_primary_at_split;
  uint64_t beta_changes;
  Keep keep;
  bool loser_demotes = false;  // call-pri-lost-after-sb: the losing primary demotes
};

SplitBrainPolicy p0(AfterSb0Pri v, std::string node = "") {
  SplitBrainPolicy p;
  p.after_sb_0pri = v;
  p.discard_node = std::move(node);
  return p;
}

SplitBrainPolicy p1(AfterSb1Pri v, AfterSb0Pri zero = AfterSb0Pri::kDiscardLeastChanges) {
  SplitBrainPolicy p = p0(zero);
  p.after_sb_1pri = v;
  return p;
}

SplitBrainPolicy p2(AfterSb2Pri v, AfterSb0Pri zero = AfterSb0Pri::kDiscardLeastChanges) {
  SplitBrainPolicy p = p0(zero);
  p.after_sb_2pri = v;
  return p;
}

using A0 = AfterSb0Pri;
using A1 = AfterSb1Pri;
using A2 = AfterSb2Pri;

TEST(SplitBrainPolicy, EveryValue) {
  const std::vector<Row> rows = {
      // ---- no primary
      {"0pri disconnect", p0(A0::kDisconnect), false, true, 10, false, false, 0, Keep::kNone},
      {"0pri discard-younger-primary: alpha was primary at the split",
       p0(A0::kDiscardYoungerPrimary), false, true, 10, false, false, 90, Keep::kAlpha},
      {"0pri discard-younger-primary: beta was primary at the split",
       p0(A0::kDiscardYoungerPrimary), false, false, 10, false, true, 90, Keep::kBeta},
      {"0pri discard-younger-primary: undecided, least changes", p0(A0::kDiscardYoungerPrimary),
       false, false, 10, false, false, 90, Keep::kBeta},
      {"0pri discard-older-primary: alpha was primary at the split", p0(A0::kDiscardOlderPrimary),
       false, true, 10, false, false, 90, Keep::kBeta},
      {"0pri discard-older-primary: undecided, zero changes", p0(A0::kDiscardOlderPrimary), false,
       true, 0, false, true, 90, Keep::kBeta},
      {"0pri discard-zero-changes: beta made none", p0(A0::kDiscardZeroChanges), false, true, 10,
       false, false, 0, Keep::kAlpha},
      {"0pri discard-zero-changes: alpha made none", p0(A0::kDiscardZeroChanges), false, true, 0,
       false, false, 10, Keep::kBeta},
      {"0pri discard-zero-changes: neither made any", p0(A0::kDiscardZeroChanges), false, true, 0,
       false, false, 0, Keep::kAlpha},
      {"0pri discard-zero-changes: both made some", p0(A0::kDiscardZeroChanges), false, true, 10,
       false, false, 20, Keep::kNone},
      {"0pri discard-least-changes", p0(A0::kDiscardLeastChanges), false, true, 30, false, false,
       20, Keep::kAlpha},
      {"0pri discard-least-changes: tie goes to the lower node id", p0(A0::kDiscardLeastChanges),
       false, false, 20, false, true, 20, Keep::kAlpha},
      {"0pri discard-node-alpha", p0(A0::kDiscardNode, "alpha"), false, true, 30, false, false, 0,
       Keep::kBeta},
      {"0pri discard-node-beta", p0(A0::kDiscardNode, "beta"), false, true, 0, false, false, 30,
       Keep::kAlpha},
      {"0pri discard-node naming neither", p0(A0::kDiscardNode, "gamma"), false, true, 0, false,
       false, 30, Keep::kNone},
      // ---- one primary (alpha)
      {"1pri disconnect", p1(A1::kDisconnect), true, true, 10, false, false, 90, Keep::kNone},
      {"1pri consensus: 0pri discards the secondary", p1(A1::kConsensus), true, true, 90, false,
       false, 10, Keep::kAlpha},
      {"1pri consensus: 0pri would discard the primary", p1(A1::kConsensus), true, true, 10, false,
       false, 90, Keep::kNone},
      {"1pri violently-as0p: even the primary", p1(A1::kViolentlyAs0p), true, true, 10, false,
       false, 90, Keep::kBeta},
      {"1pri discard-secondary", p1(A1::kDiscardSecondary), true, true, 10, false, false, 90,
       Keep::kAlpha},
      {"1pri discard-secondary, beta primary", p1(A1::kDiscardSecondary), false, true, 90, true,
       false, 10, Keep::kBeta},
      {"1pri call-pri-lost-after-sb: the primary loses and demotes", p1(A1::kCallPriLostAfterSb),
       true, true, 10, false, false, 90, Keep::kBeta, true},
      {"1pri call-pri-lost-after-sb: the secondary loses", p1(A1::kCallPriLostAfterSb), true, true,
       90, false, false, 10, Keep::kAlpha},
      {"1pri call-pri-lost-after-sb with 0pri disconnect",
       p1(A1::kCallPriLostAfterSb, A0::kDisconnect), true, true, 90, false, false, 10, Keep::kNone},
      // ---- two primaries
      {"2pri disconnect", p2(A2::kDisconnect), true, true, 10, true, false, 90, Keep::kNone},
      {"2pri violently-as0p", p2(A2::kViolentlyAs0p), true, true, 10, true, false, 90, Keep::kBeta},
      {"2pri call-pri-lost-after-sb", p2(A2::kCallPriLostAfterSb), true, true, 10, true, false, 90,
       Keep::kBeta, true},
  };
  for (const Row& r : rows) {
    const SplitBrainSide alpha{"alpha", 1, r.alpha_primary, r.alpha_primary_at_split,
                               r.alpha_changes};
    const SplitBrainSide beta{"beta", 2, r.beta_primary, r.beta_primary_at_split, r.beta_changes};
    const SplitBrainResolution a = resolve_split_brain(r.policy, alpha, beta);
    const SplitBrainResolution b = resolve_split_brain(r.policy, beta, alpha);
    const SplitBrainWinner want_a = r.keep == Keep::kNone    ? SplitBrainWinner::kUnresolved
                                    : r.keep == Keep::kAlpha ? SplitBrainWinner::kLocal
                                                             : SplitBrainWinner::kPeer;
    const SplitBrainWinner want_b = r.keep == Keep::kNone    ? SplitBrainWinner::kUnresolved
                                    : r.keep == Keep::kAlpha ? SplitBrainWinner::kPeer
                                                             : SplitBrainWinner::kLocal;
    EXPECT_EQ(a.winner, want_a) << r.name << " (alpha): " << a.why;
    EXPECT_EQ(b.winner, want_b) << r.name << " (beta): " << b.why;
    EXPECT_FALSE(a.why.empty()) << r.name;
    // Only the losing primary is asked to demote.
    const bool alpha_demotes = r.loser_demotes && r.keep == Keep::kBeta;
    const bool beta_demotes = r.loser_demotes && r.keep == Keep::kAlpha;
    EXPECT_EQ(a.local_must_demote, alpha_demotes) << r.name;
    EXPECT_EQ(b.local_must_demote, beta_demotes) << r.name;
  }
}

}  // namespace
}  // namespace tandem::core
