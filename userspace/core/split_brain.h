// Automatic split-brain recovery (after-sb-0pri / -1pri / -2pri): which
// node's changes survive when both nodes wrote while apart and both still
// diverged from the same generation (equal bitmap UUIDs). A pure function
// of both nodes' views, evaluated on each node with the sides swapped, so
// that both reach mirrored answers. docs/split-brain.md has the table.
#pragma once

#include <cstdint>
#include <string>

#include "core/replication_types.h"

namespace tandem::core {

struct SplitBrainPolicy {
  AfterSb0Pri after_sb_0pri = AfterSb0Pri::kDisconnect;
  AfterSb1Pri after_sb_1pri = AfterSb1Pri::kDisconnect;
  AfterSb2Pri after_sb_2pri = AfterSb2Pri::kDisconnect;
  std::string discard_node;  // discard-node-NAME
};

// One node as the policies see it.
struct SplitBrainSide {
  std::string node_name;
  uint32_t node_id = 0;
  bool primary = false;  // role now
  // Was primary when the nodes parted: the primary indicator of its bitmap
  // UUID (the generation that was current then).
  bool primary_at_split = false;
  uint64_t changes_bytes = 0;  // its out-of-sync bytes (bitmap weight)
};

enum class SplitBrainWinner : uint8_t { kUnresolved, kLocal, kPeer };

struct SplitBrainResolution {
  SplitBrainWinner winner = SplitBrainWinner::kUnresolved;
  // call-pri-lost-after-sb: this node is a primary that lost; it becomes
  // secondary before it is synchronized, or, when it cannot, runs the
  // pri-lost-after-sb handler and the connection is dropped.
  bool local_must_demote = false;
  std::string why;  // e.g. "after-sb-0pri discard-zero-changes: peer made no changes"
};

// When the sides are equal in every respect a policy looks at, the node
// with the lower node id (then the lexically smaller name) keeps its data.
SplitBrainResolution resolve_split_brain(const SplitBrainPolicy& policy,
                                         const SplitBrainSide& local, const SplitBrainSide& peer);

}  // namespace tandem::core
