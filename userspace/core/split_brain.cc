#include "core/split_brain.h"

namespace tandem::core {

namespace {

bool local_wins_tie(const SplitBrainSide& local, const SplitBrainSide& peer) {
  if (local.node_id != peer.node_id) return local.node_id < peer.node_id;
  return local.node_name < peer.node_name;
}

SplitBrainResolution winner(bool local, std::string why) {
  return {local ? SplitBrainWinner::kLocal : SplitBrainWinner::kPeer, false, std::move(why)};
}

SplitBrainResolution unresolved(std::string why) {
  return {SplitBrainWinner::kUnresolved, false, std::move(why)};
}

// discard-least-changes, after zero changes were looked at.
SplitBrainResolution least_changes(const SplitBrainSide& l, const SplitBrainSide& p,
                                   const std::string& prefix) {
  if (l.changes_bytes != p.changes_bytes) {
    return winner(l.changes_bytes > p.changes_bytes,
                  prefix + (l.changes_bytes > p.changes_bytes ? "peer" : "this node") +
                      " changed fewer bytes (" + std::to_string(l.changes_bytes) + " here, " +
                      std::to_string(p.changes_bytes) + " on the peer)");
  }
  return winner(local_wins_tie(l, p), prefix + "both changed " + std::to_string(l.changes_bytes) +
                                          " bytes; the lower node id keeps its data");
}

// discard-zero-changes; nullopt-like kUnresolved when both changed.
SplitBrainResolution zero_changes(const SplitBrainSide& l, const SplitBrainSide& p,
                                  const std::string& prefix) {
  if (l.changes_bytes == 0 && p.changes_bytes == 0) {
    return winner(local_wins_tie(l, p),
                  prefix + "neither node changed anything; the lower node id keeps its data");
  }
  if (p.changes_bytes == 0) return winner(true, prefix + "the peer made no changes");
  if (l.changes_bytes == 0) return winner(false, prefix + "this node made no changes");
  return unresolved(prefix + "both nodes made changes");
}

SplitBrainResolution recover_0pri(const SplitBrainPolicy& pol, const SplitBrainSide& l,
                                  const SplitBrainSide& p) {
  const std::string prefix =
      "after-sb-0pri " + std::string(to_string(pol.after_sb_0pri)) +
      (pol.after_sb_0pri == AfterSb0Pri::kDiscardNode ? "-" + pol.discard_node : std::string()) +
      ": ";
  switch (pol.after_sb_0pri) {
    case AfterSb0Pri::kDisconnect:
      return unresolved(prefix + "no automatic recovery configured");
    case AfterSb0Pri::kDiscardYoungerPrimary:
    case AfterSb0Pri::kDiscardOlderPrimary: {
      if (l.primary_at_split != p.primary_at_split) {
        // The node that was primary when the nodes parted is the older primary.
        const bool keep_older = pol.after_sb_0pri == AfterSb0Pri::kDiscardYoungerPrimary;
        const bool local_older = l.primary_at_split;
        return winner(keep_older == local_older, prefix + (local_older ? "this node" : "the peer") +
                                                     " was primary when the nodes parted");
      }
      // Neither or both were primary then: decide by the changes instead.
      SplitBrainResolution r =
          zero_changes(l, p, prefix + "no single primary at the split; zero changes: ");
      if (r.winner != SplitBrainWinner::kUnresolved) return r;
      return least_changes(l, p, prefix + "no single primary at the split; least changes: ");
    }
    case AfterSb0Pri::kDiscardZeroChanges:
      return zero_changes(l, p, prefix);
    case AfterSb0Pri::kDiscardLeastChanges: {
      SplitBrainResolution r = zero_changes(l, p, prefix);
      if (r.winner != SplitBrainWinner::kUnresolved) return r;
      return least_changes(l, p, prefix);
    }
    case AfterSb0Pri::kDiscardNode:
      if (pol.discard_node == l.node_name) return winner(false, prefix + "this node is discarded");
      if (pol.discard_node == p.node_name) return winner(true, prefix + "the peer is discarded");
      return unresolved(prefix + "names neither node");
  }
  return unresolved(prefix + "unknown policy");
}

// call-pri-lost-after-sb: the 0pri answer, and a losing local primary must
// give up its role first.
SplitBrainResolution with_primary_loss(SplitBrainResolution r, const SplitBrainSide& l) {
  if (r.winner == SplitBrainWinner::kPeer && l.primary) {
    r.local_must_demote = true;
    r.why += "; this primary lost and must become secondary";
  }
  return r;
}

}  // namespace

SplitBrainResolution resolve_split_brain(const SplitBrainPolicy& pol, const SplitBrainSide& l,
                                         const SplitBrainSide& p) {
  const int primaries = (l.primary ? 1 : 0) + (p.primary ? 1 : 0);
  if (primaries == 0) return recover_0pri(pol, l, p);
  if (primaries == 1) {
    const std::string prefix = "after-sb-1pri " + std::string(to_string(pol.after_sb_1pri)) + ": ";
    switch (pol.after_sb_1pri) {
      case AfterSb1Pri::kDisconnect:
        return unresolved(prefix + "no automatic recovery configured");
      case AfterSb1Pri::kConsensus: {
        SplitBrainResolution r = recover_0pri(pol, l, p);
        const bool loser_is_secondary = (r.winner == SplitBrainWinner::kLocal && !p.primary) ||
                                        (r.winner == SplitBrainWinner::kPeer && !l.primary);
        if (r.winner != SplitBrainWinner::kUnresolved && loser_is_secondary) {
          r.why = prefix + "agrees with " + r.why;
          return r;
        }
        return unresolved(prefix + "after-sb-0pri would not discard the secondary (" + r.why + ")");
      }
      case AfterSb1Pri::kViolentlyAs0p: {
        SplitBrainResolution r = recover_0pri(pol, l, p);
        r.why = prefix + r.why;
        return r;
      }
      case AfterSb1Pri::kDiscardSecondary:
        return winner(l.primary,
                      prefix + (l.primary ? "the peer" : "this node") + " is the secondary");
      case AfterSb1Pri::kCallPriLostAfterSb: {
        SplitBrainResolution r = recover_0pri(pol, l, p);
        r.why = prefix + r.why;
        return with_primary_loss(std::move(r), l);
      }
    }
    return unresolved(prefix + "unknown policy");
  }
  const std::string prefix = "after-sb-2pri " + std::string(to_string(pol.after_sb_2pri)) + ": ";
  switch (pol.after_sb_2pri) {
    case AfterSb2Pri::kDisconnect:
      return unresolved(prefix + "no automatic recovery configured");
    case AfterSb2Pri::kViolentlyAs0p: {
      SplitBrainResolution r = recover_0pri(pol, l, p);
      r.why = prefix + r.why;
      return r;
    }
    case AfterSb2Pri::kCallPriLostAfterSb: {
      SplitBrainResolution r = recover_0pri(pol, l, p);
      r.why = prefix + r.why;
      return with_primary_loss(std::move(r), l);
    }
  }
  return unresolved(prefix + "unknown policy");
}

}  // namespace tandem::core
