#include "core/sync_decision.h"

#include <cstdio>

namespace tandem::core {

namespace {

std::string hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(v));
  return buf;
}

// `newer` has diverged from `older` and `older` has not written since.
bool descends_from(const DiskView& newer, const DiskView& older) {
  if (older.current_uuid == 0) return false;
  if (newer.bitmap_uuid == older.current_uuid) return true;
  for (uint64_t h : newer.history_uuids) {
    if (h != 0 && h == older.current_uuid) return true;
  }
  return false;
}

bool consistent_not_latest(DiskState d) {
  return d == DiskState::kOutdated || d == DiskState::kConsistent;
}

SyncDecision refuse(const DiskView& local, const DiskView& peer, const char* why) {
  return {SyncVerdict::kRefuse,
          std::string(why) + " (this node " + std::string(to_string(local.disk)) + " generation " +
              hex(local.current_uuid) + ", peer " + std::string(to_string(peer.disk)) +
              " generation " + hex(peer.current_uuid) + ")"};
}

}  // namespace

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

SyncDecision decide_sync(const DiskView& local, const DiskView& peer) {
  if (!has_data(local.disk) || !has_data(peer.disk)) return {};
  const bool l_up = local.disk == DiskState::kUpToDate;
  const bool p_up = peer.disk == DiskState::kUpToDate;
  const bool l_inc = local.disk == DiskState::kInconsistent;
  const bool p_inc = peer.disk == DiskState::kInconsistent;

  if (l_inc && p_inc) return {};  // nothing to copy until one side is made UpToDate
  if (l_up && p_inc) return {SyncVerdict::kSource, {}};
  if (l_inc && p_up) return {SyncVerdict::kTarget, {}};
  if (l_inc || p_inc) {
    // Inconsistent against Outdated/Consistent: neither side is known to be
    // current; wait for `primary --force` on the node whose data is wanted.
    return {};
  }
  if (local.current_uuid == peer.current_uuid) {
    // Same generation, but a node that crashed while primary may hold
    // writes its peer lacks, and may lack writes the peer has: without an
    // activity log to say where, copy everything from the crashed primary
    // (from the lower node id when both crashed, dual primary).
    if (l_up && p_up && (local.crashed_primary || peer.crashed_primary)) {
      const bool local_source =
          local.crashed_primary && (!peer.crashed_primary || local.node_id < peer.node_id);
      return {local_source ? SyncVerdict::kSource : SyncVerdict::kTarget, {}};
    }
    if (l_up == p_up) return {};
    return l_up ? SyncDecision{} : SyncDecision{SyncVerdict::kAdoptUpToDate, {}};
  }
  if (l_up && (p_up || consistent_not_latest(peer.disk)) && descends_from(local, peer)) {
    return {SyncVerdict::kSource, {}};
  }
  if (p_up && (l_up || consistent_not_latest(local.disk)) && descends_from(peer, local)) {
    return {SyncVerdict::kTarget, {}};
  }
  if (l_up && p_up) {
    return refuse(local, peer,
                  "split brain: both nodes hold up-to-date data of different generations; "
                  "reconnect the node whose changes are to be discarded with "
                  "connect --discard-my-data");
  }
  return refuse(local, peer,
                "the data of the two nodes is unrelated and neither is known to be newer; use "
                "primary --force on the node whose data is wanted, or connect "
                "--discard-my-data on the other");
}

}  // namespace tandem::core
