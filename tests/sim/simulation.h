// A deterministic simulation of tandem resources: one resource on two
// nodes, or three resources in a ring on three nodes (every node runs two).
// The real replication cores (core::Replicator) run against simulated
// time, simulated peer connections and simulated disks, all driven by one
// seeded generator, while a checker per resource compares what every node
// holds and serves with what that resource's application was promised
// (sim_oracle.h).
// docs/simulation.md describes what is modelled and how to replay a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::sim {

// Which replication mode a run uses. kAny lets the seed choose (the
// default), the others force one.
enum class Mode : uint8_t { kAny, kProtocolA, kProtocolB, kProtocolC, kDualPrimary };

struct SimOptions {
  uint64_t seed = 1;
  uint64_t steps = 3000;  // events with faults and workload before the quiet phase
  int nodes = 2;          // 2: r0 on alpha-beta; 3: r0 alpha-beta, r1 beta-gamma, r2 gamma-alpha
  Mode mode = Mode::kAny;
  // Negative control: the simulated runtime acknowledges a protocol-C write
  // to the application as soon as its local disk write completed, without
  // waiting for the core's completion (which needs the peer's WriteAck).
  bool break_ack = false;
  // Negative control: the runtime submits writes without making their
  // activity-log extents hot first, so a power cut's damage goes unrecorded.
  bool break_activity_log = false;
  // Disks keep completed writes in a volatile cache until a flush or FUA
  // (a power cut loses them). Off by default: see docs/simulation.md.
  bool volatile_cache = false;
  // Power cuts may hit a primary with application writes in flight.
  bool crash_busy_primary = false;
  // Demote a primary while its application has requests in flight.
  bool demote_busy_primary = false;
  // Re-attach a failed disk while the node is still primary.
  bool attach_on_primary = false;
  // Protocol B: hold the secondary to writing every write that reached it,
  // even when the connection breaks before it was submitted (the promise
  // that lets a failover after a primary crash lose nothing).
  bool strict_b = false;
  // A node taken down (clean detach + disconnect) may connect and be
  // promoted while diskless, and is re-attached later (docs/simulation.md).
  bool connect_while_down = false;
  // The power may fail while a primary's metadata write is in flight (a
  // secondary's always may; docs/simulation.md, findings).
  bool crash_primary_in_md_write = false;
  // invalidate / invalidate-remote also while the link is partitioned or
  // stalled (docs/simulation.md, findings).
  bool invalidate_anytime = false;
  // Promote a node while its connection is being set up (link up, node
  // states not yet exchanged) (docs/simulation.md, findings).
  bool promote_during_handshake = false;
  bool print_trace = false;  // every trace line to stdout
  // Attach a disk while the connection is being set up (link up, node
  // states not yet exchanged) (docs/simulation.md, findings).
  bool attach_during_handshake = false;
  // Take a protocol-B secondary down (clean detach) while its core still
  // has work, such as received peer writes not yet written
  // (docs/simulation.md, findings).
  bool down_busy_secondary = false;
};

struct SimResult {
  bool ok = true;
  std::string failure;  // the first violated invariant
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  uint64_t sim_time_us = 0;
  uint64_t acknowledged_writes = 0;
  uint64_t crashes = 0;
  Mode mode = Mode::kAny;               // the mode the run used (of r0 with three nodes)
  std::vector<std::string> last_trace;  // the last trace lines, oldest first
  std::vector<Mode> modes;              // the mode of each resource (r0, r1, r2)
};

SimResult run_simulation(const SimOptions& options);

// The one-line command that replays `options`.
std::string replay_command(const SimOptions& options);

const char* mode_name(Mode mode);

}  // namespace tandem::sim
