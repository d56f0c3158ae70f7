// Vocabulary of the replication core: states (DRBD names), the plain
// configuration the runtime fills in, the metadata the core asks to persist,
// data buffer handles, and the status snapshot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::core {

enum class Role : uint8_t { kUnknown, kPrimary, kSecondary };

enum class DiskState : uint8_t {
  kDUnknown,  // peer only: not connected
  kDiskless,
  kAttaching,
  kFailed,
  kInconsistent,
  kOutdated,
  kConsistent,
  kUpToDate,
};

enum class ConnState : uint8_t {
  kStandAlone,
  kDisconnecting,
  kNetworkFailure,
  kProtocolError,
  kConnecting,
  kConnected,
};

enum class ReplState : uint8_t { kOff, kEstablished, kSyncSource, kSyncTarget };

enum class WireProtocol : uint8_t { kA, kB, kC };

// Digest of a block for checksum-based resync (csums-alg) and online
// verify (verify-alg); kNone: the feature is off.
enum class DigestAlg : uint8_t { kNone, kCrc32c, kMd5, kSha1, kSha256 };

std::string_view to_string(Role v);
std::string_view to_string(DiskState v);
std::string_view to_string(ConnState v);
std::string_view to_string(ReplState v);
std::string_view to_string(WireProtocol v);
std::string_view to_string(DigestAlg v);

// Split-brain recovery policies (drbd.conf net section), applied when both
// nodes wrote while apart; docs/split-brain.md describes every value.
enum class AfterSb0Pri : uint8_t {
  kDisconnect,
  kDiscardYoungerPrimary,
  kDiscardOlderPrimary,
  kDiscardZeroChanges,
  kDiscardLeastChanges,
  kDiscardNode,  // discard-node-NAME: ReplicatorConfig::discard_node
};
enum class AfterSb1Pri : uint8_t {
  kDisconnect,
  kConsensus,
  kViolentlyAs0p,
  kDiscardSecondary,
  kCallPriLostAfterSb,
};
enum class AfterSb2Pri : uint8_t { kDisconnect, kViolentlyAs0p, kCallPriLostAfterSb };
enum class RrConflict : uint8_t { kDisconnect, kRetryConnect, kViolently, kCallPriLost };
enum class FencingPolicy : uint8_t { kDontCare, kResourceOnly, kResourceAndStonith };
enum class OnIoError : uint8_t { kPassOn, kDetach, kCallLocalIoError };

// Administrator-provided programs the runtime runs on the core's request
// (RunHandler action).
enum class Handler : uint8_t {
  kSplitBrain,
  kPriLostAfterSb,
  kPriLost,
  kLocalIoError,
  kBeforeResyncTarget,
  kAfterResyncTarget,
  kOutOfSync,
  kFencePeer,
  kUnfencePeer,
};

std::string_view to_string(AfterSb0Pri v);
std::string_view to_string(AfterSb1Pri v);
std::string_view to_string(AfterSb2Pri v);
std::string_view to_string(RrConflict v);
std::string_view to_string(FencingPolicy v);
std::string_view to_string(OnIoError v);
// The drbd.conf handler name: "split-brain", "fence-peer", ...
std::string_view to_string(Handler v);

// The disk holds data the peer can use (possibly needing a resync).
inline bool has_data(DiskState d) {
  return d == DiskState::kInconsistent || d == DiskState::kOutdated ||
         d == DiskState::kConsistent || d == DiskState::kUpToDate;
}

// Generation identifiers and flags kept in the on-disk metadata. The core
// decides their values; the runtime writes them (PersistMetadata action).
struct Metadata {
  uint64_t current_uuid = 0;
  uint64_t bitmap_uuid = 0;  // 0: not diverged from the peer since the last sync
  std::array<uint64_t, 2> history_uuids{};
  bool consistent = false;  // false: a sync target was interrupted, data is unusable
  bool up_to_date = false;  // the newest data of the resource
  bool outdated = false;    // known to be older than the peer's
  // Set while the node is primary. Found set at attach, it means the node
  // crashed while primary: writes in flight then may be on one disk only.
  bool primary = false;
  bool operator==(const Metadata&) const = default;
};

// What attach() needs to know about the backing device.
struct DiskInfo {
  uint64_t size_bytes = 0;  // usable data area (without internal metadata)
  Metadata metadata;
  // (offset, length) ranges set in the on-disk bitmap at attach, plus, after
  // an unclean stop, every extent the activity log says was hot. The core
  // starts with them marked out of sync.
  std::vector<std::pair<uint64_t, uint64_t>> out_of_sync{};
  // The node did not detach cleanly (crash or kill -9, as primary or
  // secondary); its hot activity-log extents are in out_of_sync.
  bool unclean = false;
};

// Resync rate control (core/resync_controller.h). With c_plan_ahead 0 the
// source sends at most resync_rate_kib KiB/s; otherwise the dynamic
// controller aims at c_fill_target_sectors in flight (or, when that is 0,
// at c_delay_target tenths of a second of resync data in flight), between
// c_min_rate_kib (the floor it yields down to while application I/O runs)
// and c_max_rate_kib. resync_rate_kib 0 with c_plan_ahead 0: unlimited
// (no controller ticks at all); the daemon fills in drbd.conf's defaults.
struct ResyncRate {
  uint32_t resync_rate_kib = 0;
  uint32_t c_plan_ahead = 0;  // tenths of a second
  uint32_t c_fill_target_sectors = 0;
  uint32_t c_delay_target = 10;  // tenths of a second
  uint32_t c_max_rate_kib = 102'400;
  uint32_t c_min_rate_kib = 250;
  bool operator==(const ResyncRate&) const = default;
};

struct ReplicatorConfig {
  std::string resource;
  std::string local_node;
  uint32_t local_node_id = 0;
  std::string peer_node;
  WireProtocol protocol = WireProtocol::kC;
  bool allow_two_primaries = false;
  uint32_t ping_int_ms = 10'000;
  uint32_t ping_timeout_ms = 500;
  uint32_t timeout_ms = 6'000;  // ack timeout unit for ko-count
  uint32_t ko_count = 7;        // 0: never declare a slow peer dead
  uint32_t resync_chunk_bytes = 256 * 1024;
  // Chunks a sync or verify source reads at once; as many more may wait
  // for the peer's acknowledgement. tandemd derives it from max-buffers.
  uint32_t resync_max_in_flight = 4;
  DigestAlg csums_alg = DigestAlg::kNone;   // checksum-based resync when set
  DigestAlg verify_alg = DigestAlg::kNone;  // start_verify() needs it set
  // data-integrity-alg: every Write, ResyncData and ReadReply carries the
  // digest of its data, which the receiver checks.
  DigestAlg integrity_alg = DigestAlg::kNone;
  ResyncRate rate;
  AfterSb0Pri after_sb_0pri = AfterSb0Pri::kDisconnect;
  AfterSb1Pri after_sb_1pri = AfterSb1Pri::kDisconnect;
  AfterSb2Pri after_sb_2pri = AfterSb2Pri::kDisconnect;
  RrConflict rr_conflict = RrConflict::kDisconnect;
  std::string discard_node;  // the NAME of after-sb-0pri discard-node-NAME
  FencingPolicy fencing = FencingPolicy::kDontCare;
  OnIoError on_io_error = OnIoError::kDetach;  // the config library's default
  // Seed of the generator for new generation UUIDs; the runtime draws it
  // from the OS at start so that the core itself stays deterministic.
  uint64_t uuid_seed = 0;
  // Test only: the conflict winner writes the peer's whole write instead of
  // only the parts not covered by its own pending writes. Breaks replica
  // identity on purpose so that tests can show their check catches it.
  bool test_break_conflict_rule = false;
};

// Application data for a write: valid from submit_write() until the core
// completes the request (CompleteRequest action).
struct ConstBuffer {
  const std::byte* data = nullptr;
  uint32_t length = 0;
};

// Application destination of a read: valid until the request completes.
struct MutableBuffer {
  std::byte* data = nullptr;
  uint32_t length = 0;
};

struct Status {
  Role role = Role::kSecondary;
  DiskState disk = DiskState::kDiskless;
  ConnState conn = ConnState::kStandAlone;
  Role peer_role = Role::kUnknown;
  DiskState peer_disk = DiskState::kDUnknown;
  ReplState repl = ReplState::kOff;
  uint64_t size_bytes = 0;
  uint64_t sync_total_bytes = 0;
  uint64_t sync_done_bytes = 0;
  uint64_t out_of_sync_bytes = 0;  // ranges the core marked and has not cleared
  // Resync payload bytes (ResyncData) since attach, cumulative.
  uint64_t sync_bytes_sent = 0;
  uint64_t sync_bytes_received = 0;
  // Checksum-based resync (csums-alg), cumulative since attach, counted on
  // both nodes: chunks whose digests matched (no data sent) / differed.
  uint64_t csums_equal_bytes = 0;
  uint64_t csums_differ_bytes = 0;
  // Online verify: the current (or last) run.
  uint64_t verify_total_bytes = 0;
  uint64_t verify_done_bytes = 0;
  uint64_t verify_mismatch_bytes = 0;
  bool verify_running = false;
  // Why the resync issues no data: pause-sync here or on the peer, or
  // resync-after (another resource syncs first).
  bool sync_paused_user = false;
  bool sync_paused_peer = false;
  bool sync_paused_dependency = false;
  bool io_suspended = false;  // application I/O frozen (fencing)
  Metadata metadata;
};

// Alignment of every offset and length the core accepts (one sector).
inline constexpr uint32_t kSectorBytes = 512;

}  // namespace tandem::core
