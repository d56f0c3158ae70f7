#include "core/sync_decision.h"

#include "core/generation_ids.h"

namespace tandem::core {

namespace {

bool lower_id(const DiskView& a, const DiskView& b) {
  if (a.node_id != b.node_id) return a.node_id < b.node_id;
  return a.node_name < b.node_name;
}

bool in_history(uint64_t uuid, const std::array<uint64_t, 2>& history) {
  if (!names_history(uuid)) return false;
  for (uint64_t h : history) {
    if (same_generation(uuid, h)) return true;
  }
  return false;
}

bool histories_meet(const DiskView& a, const DiskView& b) {
  for (uint64_t h : a.history_uuids) {
    if (in_history(h, b.history_uuids)) return true;
  }
  return false;
}

// Equal generations after an unclean stop. A node that crashed while
// primary is the source, as in DRBD (its disk holds every write it
// acknowledged, the peer's may lack those still on their way, which with
// protocol A or B were acknowledged already); its hot extents are copied
// to the peer. Otherwise a node that stopped uncleanly as secondary gets its
// hot extents back from the clean one; both unclean secondaries: from the
// lower node id. The source must hold UpToDate data.
GenerationMatch equal_generations(const DiskView& l, const DiskView& p) {
  // A sync source keeps its sync UUID as bitmap UUID; when the target never
  // adopted it (the connection broke first), the source may have written
  // since without starting a new generation: its bitmap holds those writes.
  if ((l.bitmap_uuid != 0) != (p.bitmap_uuid != 0)) {
    return l.bitmap_uuid != 0 ? GenerationMatch{GenerationRelation::kBitmapSource, 35}
                              : GenerationMatch{GenerationRelation::kBitmapTarget, 36};
  }
  if (!l.unclean && !p.unclean) return {GenerationRelation::kEqual, 40};
  bool local_source = false;
  int rule = 41;
  if (l.crashed_primary != p.crashed_primary) {
    local_source = l.crashed_primary;
    rule = 42;
  } else if (l.unclean != p.unclean) {
    local_source = !l.unclean;
  } else {
    local_source = lower_id(l, p);
    rule = 43;
  }
  const bool l_up = l.disk == DiskState::kUpToDate;
  const bool p_up = p.disk == DiskState::kUpToDate;
  if (l_up != p_up) local_source = l_up;
  return {local_source ? GenerationRelation::kBitmapSource : GenerationRelation::kBitmapTarget,
          rule};
}

std::string view_text(const DiskView& v) {
  std::string s =
      std::string(to_string(v.disk)) + " " + std::string(to_string(v.role)) + " generations " +
      format_generations(v.current_uuid, v.bitmap_uuid, v.history_uuids[0], v.history_uuids[1]) +
      " out-of-sync " + std::to_string(v.out_of_sync_bytes / 1024) + " KiB";
  if (v.unclean) s += v.crashed_primary ? " unclean-primary" : " unclean";
  if (v.discard_my_data) s += " discard-my-data";
  return s;
}

SyncDecision make(SyncVerdict verdict, bool full, const GenerationMatch& m, std::string outcome,
                  std::string detail) {
  SyncDecision d;
  d.verdict = verdict;
  d.full = full;
  d.match = m;
  d.outcome = std::move(outcome);
  d.detail = std::move(detail);
  return d;
}

SyncDecision refusal(const GenerationMatch& m, std::string outcome, std::string reason,
                     const DiskView& l, const DiskView& p) {
  SyncDecision d = make(SyncVerdict::kRefuse, false, m, std::move(outcome), "");
  d.reason = std::move(reason) + " (this node " + view_text(l) + "; peer " + view_text(p) + ")";
  return d;
}

SyncDecision sync(bool local_source, bool full, const GenerationMatch& m, std::string detail) {
  const std::string kind = full ? "full-sync-" : "bitmap-sync-";
  return make(local_source ? SyncVerdict::kSource : SyncVerdict::kTarget, full, m,
              kind + (local_source ? "source" : "target"), std::move(detail));
}

SplitBrainSide side(const DiskView& v) {
  return SplitBrainSide{v.node_name, v.node_id, v.role == Role::kPrimary,
                        (v.bitmap_uuid & kPrimaryIndicator) != 0, v.out_of_sync_bytes};
}

// Split brain: automatic policies first (only when both diverged from the
// same generation), then connect --discard-my-data, else a human decides.
SyncDecision split_brain(const DiskView& l, const DiskView& p, const HandshakePolicy& pol,
                         const GenerationMatch& m) {
  SyncDecision d;
  if (m.relation == GenerationRelation::kSplitBrainAuto) {
    const SplitBrainResolution r = resolve_split_brain(pol.split_brain, side(l), side(p));
    if (r.winner != SplitBrainWinner::kUnresolved) {
      d = sync(r.winner == SplitBrainWinner::kLocal, false, m, r.why);
      d.outcome = "split-brain-auto-recovered, " + d.outcome;
      d.demote_first = r.local_must_demote;
      if (r.local_must_demote && !pol.local_can_demote) {
        d = refusal(m, "split-brain-unresolved",
                    "split brain: " + r.why +
                        ", but application writes are in flight; running pri-lost-after-sb and "
                        "dropping the connection",
                    l, p);
        d.run_pri_lost_after_sb = true;
      }
      d.split_brain = true;
      return d;
    }
    d.detail = r.why;
  }
  if (l.discard_my_data != p.discard_my_data) {
    d = sync(p.discard_my_data, false, m,
             "connect --discard-my-data on " + (l.discard_my_data ? l.node_name : p.node_name));
    // The administrator resolved it: no split-brain handler (as DRBD).
    d.outcome = "split-brain-discard-my-data, " + d.outcome;
    return d;
  }
  const std::string policy = d.detail.empty() ? "" : " (" + d.detail + ")";
  d = refusal(m, "split-brain-unresolved",
              "split brain: both nodes changed their data since they parted" + policy +
                  "; on the node whose changes are to be discarded run `tandemadm connect "
                  "--discard-my-data`, then connect the other node",
              l, p);
  d.split_brain = true;
  return d;
}

// rr-conflict: this primary, holding consistent data, would be overwritten.
SyncDecision apply_rr_conflict(SyncDecision d, const DiskView& l, const DiskView& p,
                               const HandshakePolicy& pol) {
  if (d.verdict != SyncVerdict::kTarget || d.demote_first || l.role != Role::kPrimary ||
      l.disk == DiskState::kInconsistent) {
    return d;
  }
  const std::string rr = "rr-conflict " + std::string(to_string(pol.rr_conflict));
  if (pol.rr_conflict == RrConflict::kViolently) {
    d.detail += (d.detail.empty() ? "" : "; ") + rr + ": this primary becomes sync target";
    return d;
  }
  const bool split = d.split_brain;
  SyncDecision r =
      refusal(d.match, "rr-conflict",
              "this node is primary but would become sync target (" + d.outcome + ")" +
                  (d.detail.empty() ? "" : " by " + d.detail) + "; " + rr +
                  (pol.rr_conflict == RrConflict::kRetryConnect ? ", retrying the connection"
                                                                : ", connection dropped") +
                  "; demote this node and connect again to resynchronize it",
              l, p);
  r.split_brain = split;
  r.run_pri_lost = pol.rr_conflict == RrConflict::kCallPriLost;
  r.reconnect = pol.rr_conflict == RrConflict::kRetryConnect;
  return r;
}

SyncDecision decide(const DiskView& l, const DiskView& p, const HandshakePolicy& pol) {
  if (!has_data(l.disk) || !has_data(p.disk)) {
    return make(SyncVerdict::kNoSync, false, {}, "no-sync", "a node has no disk");
  }
  const bool l_inc = l.disk == DiskState::kInconsistent;
  const bool p_inc = p.disk == DiskState::kInconsistent;
  if (l_inc && p_inc) {
    return make(SyncVerdict::kNoSync, false, {}, "no-sync", "neither node has consistent data");
  }
  const GenerationMatch m = compare_generations(l, p);
  const bool l_up = l.disk == DiskState::kUpToDate;
  const bool p_up = p.disk == DiskState::kUpToDate;
  if (l_inc || p_inc) {
    // Disk states decide the direction. The bitmaps suffice when the
    // Inconsistent side derives from the other side's generation (an
    // interrupted sync), or when both diverged from one generation that
    // both bitmaps start at (an auto-recoverable split brain whose victim's
    // sync was interrupted before the sync UUID reached it); anything else
    // copies everything.
    if (!(l_inc ? p_up : l_up)) {
      return make(SyncVerdict::kNoSync, false, m, "no-sync",
                  "Inconsistent against " + std::string(to_string(l_inc ? p.disk : l.disk)) +
                      ": waiting for primary --force on the node whose data is wanted");
    }
    const bool bitmap = m.relation == GenerationRelation::kEqual ||
                        m.relation == GenerationRelation::kBitmapSource ||
                        m.relation == GenerationRelation::kBitmapTarget ||
                        m.relation == GenerationRelation::kSplitBrainAuto;
    return sync(!l_inc, !bitmap, m,
                "disk states (generations: " + std::string(to_string(m.relation)) + ")");
  }
  if (l.discard_my_data != p.discard_my_data) {
    // connect --discard-my-data: the victim becomes sync target even where
    // its generation is the newer one (its bitmap covers its own changes)
    // or unrelated (then everything is copied). Split brain is handled
    // below, after the automatic policies.
    const bool victim_newer = l.discard_my_data
                                  ? (m.relation == GenerationRelation::kBitmapSource ||
                                     m.relation == GenerationRelation::kFullSource)
                                  : (m.relation == GenerationRelation::kBitmapTarget ||
                                     m.relation == GenerationRelation::kFullTarget);
    const std::string why =
        "connect --discard-my-data on " + (l.discard_my_data ? l.node_name : p.node_name);
    if (victim_newer) {
      const bool full = m.relation == GenerationRelation::kFullSource ||
                        m.relation == GenerationRelation::kFullTarget;
      if (l.discard_my_data ? p_up : l_up) return sync(p.discard_my_data, full, m, why);
    } else if (m.relation == GenerationRelation::kUnrelated && (l.discard_my_data ? p_up : l_up)) {
      return sync(p.discard_my_data, true, m, why + " (unrelated data: full sync)");
    }
  }
  switch (m.relation) {
    case GenerationRelation::kEqual:
      if (l_up || !p_up) return make(SyncVerdict::kNoSync, false, m, "no-sync", "same generation");
      return make(SyncVerdict::kAdoptUpToDate, false, m, "no-sync",
                  "same generation; this node's data is the peer's up-to-date data");
    case GenerationRelation::kBitmapSource:
    case GenerationRelation::kBitmapTarget:
    case GenerationRelation::kFullSource:
    case GenerationRelation::kFullTarget: {
      const bool local_source = m.relation == GenerationRelation::kBitmapSource ||
                                m.relation == GenerationRelation::kFullSource;
      const DiskView& source = local_source ? l : p;
      if (source.disk != DiskState::kUpToDate) {
        return refusal(m, "refused",
                       std::string(local_source ? "this node" : "the peer") +
                           " holds the newer generation but its disk is " +
                           std::string(to_string(source.disk)) +
                           "; make it UpToDate with primary --force, or discard it",
                       l, p);
      }
      const bool full = m.relation == GenerationRelation::kFullSource ||
                        m.relation == GenerationRelation::kFullTarget;
      return sync(local_source, full, m, "generations");
    }
    case GenerationRelation::kSplitBrainAuto:
    case GenerationRelation::kSplitBrainManual:
      return split_brain(l, p, pol, m);
    case GenerationRelation::kUnrelated:
      return refusal(m, "unrelated-data",
                     "unrelated data: the nodes share no generation, so they were never "
                     "synchronized with each other; check that the resource and disk are the "
                     "right ones, then run `tandemadm connect --discard-my-data` on the node "
                     "whose data is to be replaced (it is fully overwritten)",
                     l, p);
  }
  return refusal(m, "refused", "unknown generation relation", l, p);
}

}  // namespace

std::string_view to_string(GenerationRelation r) {
  switch (r) {
    case GenerationRelation::kEqual:
      return "equal";
    case GenerationRelation::kBitmapSource:
      return "bitmap-source";
    case GenerationRelation::kBitmapTarget:
      return "bitmap-target";
    case GenerationRelation::kFullSource:
      return "full-source";
    case GenerationRelation::kFullTarget:
      return "full-target";
    case GenerationRelation::kSplitBrainAuto:
      return "split-brain-auto";
    case GenerationRelation::kSplitBrainManual:
      return "split-brain-manual";
    case GenerationRelation::kUnrelated:
      return "unrelated";
  }
  return "?";
}

std::string_view to_string(SyncVerdict v) {
  switch (v) {
    case SyncVerdict::kNoSync:
      return "no-sync";
    case SyncVerdict::kAdoptUpToDate:
      return "adopt-uptodate";
    case SyncVerdict::kSource:
      return "sync-source";
    case SyncVerdict::kTarget:
      return "sync-target";
    case SyncVerdict::kRefuse:
      return "refuse";
  }
  return "?";
}

// A sync source moves its bitmap UUID on by kSyncUuidStep when the sync
// starts and the target adopts the moved value; when the connection broke
// before the target got it, the source's bitmap UUID is one step ahead of
// what the target knows (DRBD's "the last sync UUID did not get through").
namespace {
bool bitmap_one_sync_ahead(uint64_t bitmap_uuid, uint64_t uuid) {
  return names_history(bitmap_uuid) && bitmap_uuid >= kSyncUuidStep &&
         same_generation(bitmap_uuid - kSyncUuidStep, uuid);
}
}  // namespace

GenerationMatch compare_generations(const DiskView& l, const DiskView& p) {
  using R = GenerationRelation;
  if (l.current_uuid == 0 && p.current_uuid == 0) return {R::kEqual, 10};
  if (l.current_uuid == 0) return {R::kFullTarget, 20};
  if (p.current_uuid == 0) return {R::kFullSource, 30};
  if (same_generation(l.current_uuid, p.current_uuid)) return equal_generations(l, p);
  if (same_generation(l.current_uuid, p.bitmap_uuid)) return {R::kBitmapTarget, 50};
  if (bitmap_one_sync_ahead(p.bitmap_uuid, l.current_uuid)) return {R::kBitmapTarget, 51};
  if (in_history(l.current_uuid, p.history_uuids)) return {R::kFullTarget, 60};
  if (same_generation(l.bitmap_uuid, p.current_uuid)) return {R::kBitmapSource, 70};
  if (bitmap_one_sync_ahead(l.bitmap_uuid, p.current_uuid)) return {R::kBitmapSource, 71};
  if (in_history(p.current_uuid, l.history_uuids)) return {R::kFullSource, 80};
  if (names_history(l.bitmap_uuid) && same_generation(l.bitmap_uuid, p.bitmap_uuid)) {
    return {R::kSplitBrainAuto, 90};
  }
  if (bitmap_one_sync_ahead(l.bitmap_uuid, p.bitmap_uuid) ||
      bitmap_one_sync_ahead(p.bitmap_uuid, l.bitmap_uuid)) {
    return {R::kSplitBrainAuto, 91};
  }
  if (histories_meet(l, p) || in_history(l.bitmap_uuid, p.history_uuids) ||
      in_history(p.bitmap_uuid, l.history_uuids)) {
    return {R::kSplitBrainManual, 100};
  }
  return {R::kUnrelated, 110};
}

SyncDecision decide_sync(const DiskView& local, const DiskView& peer,
                         const HandshakePolicy& policy) {
  SyncDecision d = apply_rr_conflict(decide(local, peer, policy), local, peer, policy);
  // rr-conflict retry-connect on a primary peer: the peer decides the
  // mirrored pair of views, and when that makes it a sync target that
  // refuses and retries, this node must not start the sync. A sync source
  // moves its generations at once, so the retried connection would meet
  // them changed and end as a split brain nobody can resolve automatically
  // (both StandAlone). Nor does this node close the connection itself,
  // which could keep the peer from ever evaluating: it waits for the peer's
  // refusal and then keeps connecting, as DRBD's sync source only sees the
  // connection go. (With rr-conflict disconnect or call-pri-lost the primary
  // goes StandAlone and the administrator steps in; the source still starts
  // the sync there, as before.)
  if (d.verdict == SyncVerdict::kSource && peer.rr_conflict == RrConflict::kRetryConnect) {
    HandshakePolicy mirror = policy;
    mirror.rr_conflict = *peer.rr_conflict;
    mirror.local_can_demote = true;  // does not change whether rr-conflict applies
    const SyncDecision theirs = apply_rr_conflict(decide(peer, local, mirror), peer, local, mirror);
    if (theirs.verdict == SyncVerdict::kRefuse && theirs.outcome == "rr-conflict") {
      SyncDecision w =
          make(SyncVerdict::kNoSync, false, d.match, "rr-conflict-peer",
               "the peer is primary and would become sync target (" + d.outcome + ")" +
                   (d.detail.empty() ? "" : " by " + d.detail) + ", which its rr-conflict " +
                   std::string(to_string(*peer.rr_conflict)) +
                   " refuses: no sync, waiting for the peer to drop the connection");
      w.split_brain = d.split_brain;
      d = std::move(w);
    }
  }
  d.detail = "rule " + std::to_string(d.match.rule) + (d.detail.empty() ? "" : ", " + d.detail) +
             "; this node " + view_text(local) + "; peer " + view_text(peer);
  return d;
}

}  // namespace tandem::core
