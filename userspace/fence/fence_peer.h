// tandem-fence-peer: a fence-peer handler for replicated resources, called
// the way DRBD calls its handlers (environment DRBD_RESOURCE, DRBD_PEER,
// DRBD_PEERS, or DRBD_PEER_NODE_ID with DRBD_NODE_ID_<id>), answering with
// DRBD's fence-peer exit codes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cluster/cluster_conf.h"
#include "common/result.h"

namespace tandem::fence {

// DRBD fence-peer handler exit codes.
inline constexpr int kFencePeerInconsistent = 3;  // peer's disk already Inconsistent
inline constexpr int kFencePeerOutdated = 4;      // peer's disk set to Outdated
inline constexpr int kFencePeerUnreachable = 5;   // peer could not be reached / fenced
inline constexpr int kFencePeerRefused = 6;       // peer is primary and refused
inline constexpr int kFencePeerFenced = 7;        // peer node was fenced off the cluster
// Not a DRBD code: any code DRBD does not know leaves I/O frozen under
// `fencing resource-and-stonith`, which is what must happen when the peer
// may still be alive. tandem-fence-peer's default when fencing failed.
inline constexpr int kFencePeerFailed = 1;

struct FencePeerTarget {
  std::string resource;            // DRBD_RESOURCE (may be empty)
  std::vector<std::string> peers;  // host names to fence
};

// Reads the handler environment through `getenv`.
Result<FencePeerTarget> fence_peer_target(const std::function<const char*(const char*)>& getenv);

// The cluster.conf node for a replication peer's host name: the exact name,
// else the same short host name (before the first '.') on either side.
Result<std::string> map_peer_to_node(const cluster::ClusterConf& conf, const std::string& peer);

}  // namespace tandem::fence
