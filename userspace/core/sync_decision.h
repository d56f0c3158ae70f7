// The sync handshake: what happens when two nodes connect, from what each
// knows about its own and its peer's disk (the generation identifiers of
// core/generation_ids.h, disk states, roles, out-of-sync weight). A pure
// function of both views and the resource's policies, so both nodes reach
// mirrored verdicts from the same pair of NodeState messages.
//
// The generation comparison follows DRBD 8.4's uuid comparison (rule
// numbers are DRBD's, so log lines can be compared with its documentation);
// docs/split-brain.md has the table of outcomes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/replication_types.h"
#include "core/split_brain.h"

namespace tandem::core {

struct DiskView {
  DiskState disk = DiskState::kDiskless;
  uint64_t current_uuid = 0;
  uint64_t bitmap_uuid = 0;
  std::array<uint64_t, 2> history_uuids{};
  // The node stopped uncleanly while primary and has not been synced since.
  bool crashed_primary = false;
  uint32_t node_id = 0;
  // The node stopped uncleanly (as primary or secondary) and has not been
  // synced since; its hot activity-log extents are in its out-of-sync set.
  bool unclean = false;
  Role role = Role::kSecondary;
  uint64_t out_of_sync_bytes = 0;
  bool discard_my_data = false;  // connect --discard-my-data is pending
  std::string node_name{};
  // The node's rr-conflict policy; unknown for a peer that does not send it.
  std::optional<RrConflict> rr_conflict{};
};

// How the two generation sets relate (DRBD's uuid_compare results).
enum class GenerationRelation : uint8_t {
  kEqual,             // 0: same data
  kBitmapSource,      // 1: the peer missed our writes; our bitmap covers them
  kBitmapTarget,      // -1
  kFullSource,        // 2: the peer's data is an older generation of ours
  kFullTarget,        // -2
  kSplitBrainAuto,    // 100: both diverged from the same generation
  kSplitBrainManual,  // -100: both diverged, from different generations
  kUnrelated,         // -1000: no common generation
};
std::string_view to_string(GenerationRelation r);

struct GenerationMatch {
  GenerationRelation relation = GenerationRelation::kEqual;
  int rule = 0;
};

// Generations only (disk states aside), including the unclean rule for
// equal generations.
GenerationMatch compare_generations(const DiskView& local, const DiskView& peer);

enum class SyncVerdict {
  kNoSync,         // data equal (or a side has no disk): stay Established
  kAdoptUpToDate,  // no sync; our Outdated/Consistent disk holds the peer's data: UpToDate
  kSource,         // sync from us to the peer
  kTarget,         // sync from the peer to us
  kRefuse,         // disconnect with `reason`
};
std::string_view to_string(SyncVerdict v);

// Settings that shape the verdict. The after-sb values must be equal on both
// nodes (the Replicator refuses the connection otherwise); rr-conflict and
// can_demote concern only the node evaluating.
struct HandshakePolicy {
  SplitBrainPolicy split_brain;
  RrConflict rr_conflict = RrConflict::kDisconnect;
  bool local_can_demote = true;  // no application write in flight
};

struct SyncDecision {
  SyncVerdict verdict = SyncVerdict::kNoSync;
  bool full = false;          // kSource/kTarget: copy the whole device, not just the bitmaps
  bool split_brain = false;   // split brain detected: run the split-brain handler
  bool demote_first = false;  // become secondary, then sync target
  bool run_pri_lost_after_sb = false;  // run that handler (the loser could not demote)
  bool run_pri_lost = false;           // rr-conflict call-pri-lost
  bool reconnect = false;              // kRefuse: keep trying to connect (retry-connect)
  GenerationMatch match;
  std::string outcome;  // short name for logs and tests: "bitmap-sync-target", ...
  std::string detail;   // which rule or policy decided
  std::string reason;   // kRefuse: what the administrator reads
};

SyncDecision decide_sync(const DiskView& local, const DiskView& peer,
                         const HandshakePolicy& policy = {});

}  // namespace tandem::core
