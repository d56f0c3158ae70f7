#include "simulation.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <type_traits>

#include "core/replicator.h"
#include "net/frame.h"
#include "sim_metadata.h"
#include "sim_oracle.h"
namespace tandem::sim {
namespace {

using core::Action;
using core::ConnState;
using core::DiskState;
using core::ReplState;
using core::Role;

constexpr uint64_t kDiskBytes = 64 * 1024;
constexpr uint64_t kSectors = kDiskBytes / kSector;
constexpr uint64_t kMs = 1000;  // simulated time is in microseconds
constexpr uint64_t kSettleLimitUs = 120'000 * kMs;
constexpr size_t kMaxRequests = 6;  // application requests in flight per node
constexpr uint32_t kMaxWriteBytes = 16 * kSector;

// The last trace lines, kept in fixed storage (formatting a line allocates
// nothing), printed when a run fails or a core invariant aborts.
class TraceRing {
 public:
  static constexpr size_t kLines = 50;
  static constexpr size_t kLineBytes = 320;
  char* next_slot() {
    char* slot = lines_[next_ % kLines].data();
    ++next_;
    return slot;
  }
  template <typename F>
  void for_each(F&& f) const {
    const size_t n = std::min<size_t>(next_, kLines);
    for (size_t i = next_ - n; i < next_; ++i) f(lines_[i % kLines].data());
  }

 private:
  std::array<std::array<char, kLineBytes>, kLines> lines_{};
  size_t next_ = 0;
};

// The simulation that is running, for the abort handler: a core invariant
// aborts the process, and the run must still say how to replay it.
const SimOptions* g_options = nullptr;
const TraceRing* g_trace = nullptr;

void on_abort(int) {
  if (g_options != nullptr && g_trace != nullptr) {
    std::fprintf(stderr, "\nSIMULATION ABORTED (core invariant); last trace events:\n");
    g_trace->for_each([](const char* line) { std::fprintf(stderr, "  %s\n", line); });
    std::fprintf(stderr, "replay: %s\n", replay_command(*g_options).c_str());
  }
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

const char* frame_name(net::FrameType t) {
  static constexpr const char* kNames[] = {
      "?",          "Hello",         "AuthChallenge", "AuthResponse", "AuthVerdict", "NodeState",
      "Ping",       "PingAck",       "Write",         "RecvAck",      "WriteAck",    "Barrier",
      "BarrierAck", "ReadRequest",   "ReadReply",     "ResyncData",   "ResyncAck",   "Disconnect",
      "OutOfSync",  "DigestRequest", "DigestReply",   "ResyncInSync", "VerifyResult"};
  const auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "?";
}

const char* io_name(core::LocalIoKind k) {
  return k == core::LocalIoKind::kWrite  ? "write"
         : k == core::LocalIoKind::kRead ? "read"
                                         : "flush";
}

// The runtime reports a handler's end (RunHandler exists once the core has
// fencing and split-brain handlers; written generically so that the
// simulator builds against either state of the core).
template <typename R, typename A>
void handler_done(R& core, const A& action, int exit_code) {
  core.on_handler_done(action.handler_id, exit_code);
}

// DiskInfo::unclean and ::out_of_sync, once the core has them (written
// generically so that the simulator builds against either state of the core).
template <typename D>
void set_recovery(D& disk, const SimMetadata::Loaded& loaded) {
  if constexpr (requires {
                  disk.unclean;
                  disk.out_of_sync;
                }) {
    disk.unclean = loaded.unclean;
    disk.out_of_sync = loaded.out_of_sync;
  }
}

struct AppRequest {
  enum class Kind : uint8_t { kWrite, kRead, kFlush };
  bool used = false;
  uint64_t id = 0;
  Kind kind = Kind::kWrite;
  uint64_t offset = 0;
  uint32_t length = 0;
  std::vector<std::byte> buffer;  // capacity kept from request to request
  uint64_t write_id = 0;
  std::vector<uint64_t> floor;  // reads: acknowledged-write floor at submission
  bool check_read = false;
  bool acked_early = false;  // negative control only
};

// A machine of the cluster. Its one disk holds the data and metadata of
// every resource it runs (as logical volumes of one disk): latency, errors
// and power belong to the machine, so a fault hits all of its resources.
struct Host {
  int index = 0;
  const char* name = "";
  double eio_rate = 0;      // the disk fails I/Os with EIO now and then
  uint64_t slow_until = 0;  // the disk is slow until then (three nodes)
  uint64_t slow_by = 0;     // ... and every I/O takes up to this much longer
  bool isolated = false;    // cut off from every other machine
  uint64_t isolation_gen = 0;
  std::vector<std::pair<size_t, int>> replicas;  // (resource, its index in the pair)
};

// One resource's replica on one machine: its core, the runtime state of
// that core, and the resource's data and metadata regions of the disk.
struct Node {
  int index = 0;  // in the resource's pair
  const char* name = "";
  Host* host = nullptr;
  std::unique_ptr<core::Replicator> core;
  uint64_t incarnation = 0;
  bool up = true;
  std::vector<std::byte> image = std::vector<std::byte>(kDiskBytes);    // what reads see
  std::vector<std::byte> durable = std::vector<std::byte>(kDiskBytes);  // what a power cut keeps
  std::vector<uint32_t> cached;        // volatile cache: sectors written since the last flush
  std::unique_ptr<SimMetadata> meta;   // superblock, bitmap, activity log (real format)
  core::Metadata md_pending;           // the metadata write in flight
  std::vector<uint32_t> lost_sectors;  // changed by the last power cut
  bool clean_detach = false;
  bool down = false;  // taken down by the administrator (detached, disconnected)           // the
                      // administrator's detach (down) is under way
  std::deque<std::function<void(core::Replicator&)>> handler_calls;  // handlers running
  bool md_blocked = false;  // a metadata write is in flight: the runtime waits for it
  std::deque<Action> queued;
  std::deque<std::function<void(core::Replicator&)>> deferred;
  std::vector<core::SubmitIo> ios;  // in flight on the local disk
  uint64_t timer_gen[core::kTimerCount] = {};
  std::array<AppRequest, kMaxRequests> requests;
  size_t active_requests = 0;
  uint64_t next_request = 1;
  bool missed_acked = false;  // an acknowledged write may be missing here
  std::vector<Action> scratch;
  // Incremental checking: sectors whose data or floor changed since the
  // last check; a full check when the node becomes checkable.
  std::vector<uint8_t> dirty_mark = std::vector<uint8_t>(kSectors);
  std::vector<uint32_t> dirty;
  bool all_dirty = true;
  bool was_checked = false;
};

enum class Ev : uint8_t {
  kIoDone,     // a: incarnation, b: io id
  kMdDone,     // a: incarnation
  kTimer,      // a: incarnation, b: generation, c: timer
  kDeliver,    // node: sending side, a: link generation
  kEstablish,  // the connection handshake finished
  kHeal,       // the partition ends
  kRestart,    // power is back
  kWorkload,   // the application issues requests
  kFault,      // the fault injector and administrator act
  kSettle,     // the quiet phase's administrator
  kFirstPromote,
  kHandlerDone,  // a: incarnation; the oldest running handler ends
  kCrash,        // a: incarnation; the power fails (the whole machine)
  kHostHeal,     // node: machine, a: isolation generation; it rejoins the network
};

struct Event {
  uint64_t at = 0;
  uint64_t seq = 0;
  Ev kind = Ev::kWorkload;
  uint8_t res = 0;   // the resource (unused by machine events)
  uint8_t node = 0;  // index in the resource's pair; machine events: the machine
  uint64_t a = 0, b = 0, c = 0;
  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

// One frame on the wire.
struct WireFrame {
  uint64_t gen = 0;
  net::FrameType type = net::FrameType::kPing;
  uint64_t write_id = 0;  // kWrite: the application write it carries
  std::vector<std::byte> bytes;
};

class ResourceSim;

// What the resources of a run share: simulated time and its event queue,
// the one seeded generator, the trace, the result, and the machines with
// their disks and network attachments. Two nodes run one resource (r0 on
// alpha and beta); three nodes run three in a ring (r0 on alpha-beta, r1 on
// beta-gamma, r2 on gamma-alpha), so every machine runs two resources.
class Cluster {
 public:
  explicit Cluster(const SimOptions& o);
  ~Cluster();
  SimResult run();

  uint64_t rand(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(double p) { return static_cast<double>(rng_() % 1'000'000) < p * 1'000'000; }
  void at(uint64_t delay, Ev kind, int res, int node, uint64_t a = 0, uint64_t b = 0,
          uint64_t c = 0) {
    queue_.push(Event{now_ + delay, next_seq_++, kind, static_cast<uint8_t>(res),
                      static_cast<uint8_t>(node), a, b, c});
  }
  void vtrace(const char* prefix, const char* fmt, va_list args)
      __attribute__((format(printf, 3, 0)));
  void trace(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void fail(const std::string& what);
  bool three() const { return opt_.nodes == 3; }

  // ---- machine-level faults, hitting every resource of the machine
  bool may_crash(const Host& h) const;
  void crash(Host& h);
  void restart(Host& h);
  void isolate(Host& h);
  void rejoin(Host& h, uint64_t gen);
  void toggle_disk_errors(Host& h);
  void slow_disk(Host& h);

  const SimOptions& opt_;
  std::mt19937_64 rng_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t now_ = 0;
  uint64_t next_seq_ = 0;
  bool quiet_ = false;  // faults stopped
  SimResult result_;
  TraceRing ring_;
  int host_count_ = 2;
  Host hosts_[3];
  std::vector<std::unique_ptr<ResourceSim>> resources_;
};

// One resource replicated between two machines: its two cores, its
// connection over the machines' link, its workload, administrator and
// checker (its own oracle of what its application was promised).
class ResourceSim {
 public:
  ResourceSim(Cluster& cluster, int res, Host& first, Host& second);
  void init();

 private:
  friend class Cluster;
  // ---- plumbing
  uint64_t rand(uint64_t n) { return c_.rand(n); }
  bool chance(double p) { return c_.chance(p); }
  void at(uint64_t delay, Ev kind, int node = 0, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
    c_.at(delay, kind, res_, node, a, b, c);
  }
  void dispatch(const Event& e);
  void trace(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void fail(const std::string& what);
  core::ReplicatorConfig config(int i);
  std::string status_text(const Node& n) const;
  bool protocol_c() const { return mode_ == Mode::kProtocolC || mode_ == Mode::kDualPrimary; }

  // ---- node runtime
  template <typename F>
  void call(Node& n, F&& fn);
  void execute(Node& n);
  void run_action(Node& n, Action& a);
  void start_node(Node& n, bool first);
  void crash(Node& n);
  bool may_crash(const Node& n) const;
  void attach(Node& n);
  void complete_io(Node& n, uint64_t inc, uint64_t io_id);
  void complete_request(Node& n, uint64_t id, int error);
  void acknowledge(Node& n, AppRequest& r, int error);
  void flush_cache(Node& n);
  AppRequest* new_request(Node& n);
  bool overlaps_own_write(const Node& n, uint64_t offset, uint32_t length,
                          const AppRequest* except) const;
  void mark_dirty(Node& n, uint64_t offset, uint64_t length);
  void mark_all_dirty();
  uint64_t disk_latency(const Node& n, uint64_t base, uint64_t spread);

  // ---- network
  void send(int from, const core::SendFrame& f);
  void schedule_delivery(int from, WireFrame&& w);
  void deliver(int from, uint64_t gen);
  void drop_link(const char* reason, int notify_mask, int crashed = -1);
  void maybe_establish();
  void establish();
  void heal();
  void release_held();
  // The link between the pair's machines carries nothing: the pair is cut
  // apart, or either machine is cut off from every other.
  bool partitioned() const {
    return pair_cut_ || nodes_[0].host->isolated || nodes_[1].host->isolated;
  }
  size_t frames_in_flight() const { return wire_[0].size() + wire_[1].size(); }

  // ---- drivers
  void workload_tick();
  void fault_tick();
  void settle_tick();
  void quiesce();
  void promote(Node& n, bool force);
  void demote(Node& n);
  void admin_role_change(Node& n);
  void resolve_split_brain();
  void choose_policies();
  bool all_policies_disconnect() const;
  void on_sync_start(Node& target);
  void admin_extras(Node& n, uint64_t pick);
  void check();
  void check_node(Node& n);
  bool drained(const Node& n) const;
  bool settled();
  void final_check();

  Cluster& c_;
  const SimOptions& opt_;
  uint64_t& now_;
  bool& quiet_;
  SimResult& result_;
  const int res_;
  std::string name_;    // r0, r1, r2
  std::string prefix_;  // of its trace lines and failures ("" with two nodes)
  WriteOracle oracle_;
  Mode mode_ = Mode::kProtocolC;
  uint64_t logical_ = 1;  // order of application submissions and completions
  Node nodes_[2];
  uint64_t idle_until_ = 0;            // the application pauses (time is skipped)
  uint64_t compared_version_ = ~0ULL;  // disk_version_ at the last replica comparison
  uint64_t disk_version_ = 0;

  // The peer connection: one TCP-like stream per direction.
  bool link_up_ = false;
  bool establish_pending_ = false;
  uint64_t link_gen_ = 0;
  bool pair_cut_ = false;  // the network between the two machines is cut
  uint64_t last_delivery_[2] = {};
  uint64_t stall_until_[2] = {};
  std::deque<WireFrame> wire_[2];  // scheduled for delivery, in order
  std::deque<WireFrame> held_[2];  // sent during a partition
  std::vector<std::vector<std::byte>> spare_bytes_;
  net::FrameDecoder decoder_;
  std::vector<uint32_t> check_todo_;
  bool split_brain_seen_ = false;  // a core refused the connection as a split brain
  bool sb_detected_ = false;       // a core reported a split brain (handler or refusal)
  uint64_t sb_gen_ = 0;            // the connection it was reported on
  uint64_t sb_used_gen_ = ~0ULL;   // the connection whose resolution the model followed
  // Split-brain recovery policies of this run (the same on both nodes).
  struct SbPolicy {
    core::AfterSb0Pri p0 = core::AfterSb0Pri::kDisconnect;
    core::AfterSb1Pri p1 = core::AfterSb1Pri::kDisconnect;
    core::AfterSb2Pri p2 = core::AfterSb2Pri::kDisconnect;
    std::string discard_node;
  } sb_policy_;
  struct Features {
    bool csums = false;
    bool verify = false;
    // Fixed rate (plan_ahead 0; rate.resync_rate_kib 0: unlimited) or the
    // dynamic controller, with values from the whole range tandemd accepts.
    core::ResyncRate rate;
  } features_;
  // Online verify: whether both replicas stayed identical and unwritten
  // since it started (then it must find no mismatch).
  bool verify_watch_ = false;
  bool verify_clean_ = false;
  int verify_node_ = 0;
  ReplState last_repl_[2] = {ReplState::kOff, ReplState::kOff};
};

void Cluster::vtrace(const char* prefix, const char* fmt, va_list args) {
  char* line = ring_.next_slot();
  int n = std::snprintf(line, TraceRing::kLineBytes, "t=%lluus %s",
                        static_cast<unsigned long long>(now_), prefix);
  std::vsnprintf(line + n, TraceRing::kLineBytes - static_cast<size_t>(n), fmt, args);
  for (const char* c = line; *c != '\0'; ++c) {
    result_.trace_hash = (result_.trace_hash ^ static_cast<unsigned char>(*c)) * 1099511628211ULL;
  }
  if (opt_.print_trace) std::printf("%s\n", line);
}

void Cluster::trace(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vtrace("", fmt, args);
  va_end(args);
}

void Cluster::fail(const std::string& what) {
  if (!result_.ok) return;
  trace("INVARIANT VIOLATED: %s", what.c_str());
  result_.ok = false;
  result_.failure = what;
}

// Three nodes: every trace line and failure names its resource.
void ResourceSim::trace(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  c_.vtrace(prefix_.c_str(), fmt, args);
  va_end(args);
}

void ResourceSim::fail(const std::string& what) {
  if (!result_.ok) return;
  trace("INVARIANT VIOLATED: %s", what.c_str());
  result_.ok = false;
  result_.failure = prefix_.empty() ? what : name_ + ": " + what;
}

ResourceSim::ResourceSim(Cluster& cluster, int res, Host& first, Host& second)
    : c_(cluster),
      opt_(cluster.opt_),
      now_(cluster.now_),
      quiet_(cluster.quiet_),
      result_(cluster.result_),
      res_(res),
      name_("r" + std::to_string(res)),
      prefix_(cluster.three() ? name_ + " " : ""),
      oracle_(kDiskBytes) {
  Host* hosts[2] = {&first, &second};
  for (int i = 0; i < 2; ++i) {
    nodes_[i].index = i;
    nodes_[i].host = hosts[i];
    nodes_[i].name = hosts[i]->name;
    hosts[i]->replicas.emplace_back(static_cast<size_t>(res), i);
    for (auto& r : nodes_[i].requests) {
      r.buffer.reserve(kMaxWriteBytes);
      r.floor.reserve(kMaxWriteBytes / kSector);
    }
  }
}

core::ReplicatorConfig ResourceSim::config(int i) {
  core::ReplicatorConfig c;
  c.resource = name_;
  c.local_node = nodes_[i].name;
  // Node ids are the machines' (alpha 1, beta 2, gamma 3) in every resource.
  c.local_node_id = static_cast<uint32_t>(nodes_[i].host->index + 1);
  c.peer_node = nodes_[1 - i].name;
  c.protocol = mode_ == Mode::kProtocolA   ? core::WireProtocol::kA
               : mode_ == Mode::kProtocolB ? core::WireProtocol::kB
                                           : core::WireProtocol::kC;
  c.allow_two_primaries = mode_ == Mode::kDualPrimary;
  c.ping_int_ms = 1000;
  c.ping_timeout_ms = 500;
  c.timeout_ms = 600;
  c.ko_count = 4;
  c.resync_chunk_bytes = 16 * 1024;
  // Chunks read at once, and as many awaiting acks: 1 to 16 per node
  // (tandemd's default max-buffers gives 16).
  c.resync_max_in_flight = 1 + static_cast<uint32_t>(c_.rand(16));
  c.after_sb_0pri = sb_policy_.p0;
  c.after_sb_1pri = sb_policy_.p1;
  c.after_sb_2pri = sb_policy_.p2;
  c.discard_node = sb_policy_.discard_node;
  c.csums_alg = features_.csums ? core::DigestAlg::kCrc32c : core::DigestAlg::kNone;
  c.verify_alg = features_.verify ? core::DigestAlg::kCrc32c : core::DigestAlg::kNone;
  c.rate = features_.rate;
  c.uuid_seed = c_.rng_();
  return c;
}

std::string ResourceSim::status_text(const Node& n) const {
  if (!n.up) return std::string(n.name) + " down";
  const core::Status s = n.core->status();
  return std::string(n.name) + " " + std::string(to_string(s.role)) + " " +
         std::string(to_string(s.disk)) + "/" + std::string(to_string(s.peer_disk)) + " " +
         std::string(to_string(s.conn)) + " " + std::string(to_string(s.repl)) +
         (n.missed_acked ? " (may lack acknowledged writes)" : "");
}

void ResourceSim::mark_dirty(Node& n, uint64_t offset, uint64_t length) {
  ++disk_version_;
  if (n.all_dirty) return;
  for (uint64_t s = offset / kSector; s < (offset + length) / kSector; ++s) {
    if (n.dirty_mark[s] == 0) {
      n.dirty_mark[s] = 1;
      n.dirty.push_back(static_cast<uint32_t>(s));
    }
  }
}

void ResourceSim::mark_all_dirty() {
  for (auto& n : nodes_) n.all_dirty = true;
}

// ---------------------------------------------------------------- node runtime

template <typename F>
void ResourceSim::call(Node& n, F&& fn) {
  if (!n.up) return;
  if (n.md_blocked) {
    // The runtime writes metadata synchronously: nothing reaches the core
    // until that write is on the disk.
    n.deferred.emplace_back(std::forward<F>(fn));
    return;
  }
  fn(*n.core);
  execute(n);
}

void ResourceSim::execute(Node& n) {
  for (;;) {
    n.core->take_actions(n.scratch);
    for (auto& a : n.scratch) n.queued.push_back(std::move(a));
    n.scratch.clear();
    while (!n.queued.empty() && !n.md_blocked && n.up && result_.ok) {
      Action a = std::move(n.queued.front());
      n.queued.pop_front();
      run_action(n, a);
    }
    if (n.md_blocked || !n.up || n.deferred.empty() || !result_.ok) return;
    auto fn = std::move(n.deferred.front());
    n.deferred.pop_front();
    fn(*n.core);
  }
}

void ResourceSim::run_action(Node& n, Action& action) {
  std::visit(
      [&](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, core::SendFrame>) {
          send(n.index, a);
        } else if constexpr (std::is_same_v<T, core::SubmitIo>) {
          if (a.offset + a.length > kDiskBytes) {
            return fail(std::string(n.name) + ": I/O beyond the disk");
          }
          if (a.kind == core::LocalIoKind::kWrite && !opt_.break_activity_log) {
            // The activity log covers every write before it is submitted:
            // the application's, the peer's and resync writes.
            if (auto r = n.meta->begin_write(a.offset, a.length); !r) {
              return fail(std::string(n.name) + ": activity log: " + r.error().message);
            }
          }
          n.ios.push_back(a);
          at(disk_latency(n, 10, 3000), Ev::kIoDone, n.index, n.incarnation, a.io_id);
        } else if constexpr (std::is_same_v<T, core::CompleteRequest>) {
          complete_request(n, a.request_id, a.error);
        } else if constexpr (std::is_same_v<T, core::PersistMetadata>) {
          n.md_blocked = true;
          n.md_pending = a.metadata;
          const uint64_t latency = disk_latency(n, 50, 1000);
          at(latency, Ev::kMdDone, n.index, n.incarnation);
          // Now and then the power fails during the metadata write, which
          // then is torn (the on-disk format must keep the old or the new).
          // A primary only with --crash-primary-in-metadata-write
          // (docs/simulation.md, findings).
          const bool allowed =
              n.core->status().role != Role::kPrimary || opt_.crash_primary_in_md_write;
          if (!quiet_ && allowed && c_.may_crash(*n.host) && chance(0.03)) {
            at(rand(latency), Ev::kCrash, n.index, n.incarnation);
          }
        } else if constexpr (std::is_same_v<T, core::ArmTimer>) {
          const auto t = static_cast<size_t>(a.timer);
          at(a.after_ms * kMs, Ev::kTimer, n.index, n.incarnation, ++n.timer_gen[t], t);
        } else if constexpr (std::is_same_v<T, core::CancelTimer>) {
          ++n.timer_gen[static_cast<size_t>(a.timer)];
        } else if constexpr (std::is_same_v<T, core::CloseConnection>) {
          trace("%s closes the connection: %s", n.name, a.reason.c_str());
          if (a.reason.find("split brain") != std::string::npos) {
            split_brain_seen_ = true;
          }
          if (link_up_) drop_link("connection reset by peer", 1 << (1 - n.index));
        } else if constexpr (std::is_same_v<T, core::MarkOutOfSync>) {
          n.meta->mark_out_of_sync(a.offset, a.length);
        } else if constexpr (std::is_same_v<T, core::ClearOutOfSync>) {
          n.meta->mark_in_sync(a.offset, a.length);
        } else if constexpr (std::is_same_v<T, core::StateChanged>) {
          trace("%s %s [%s]", n.name, a.what.c_str(), status_text(n).c_str());
          if (a.status.disk == DiskState::kDiskless && n.meta->loaded()) {
            // The core gave the disk up: after an error the activity log
            // stays as it is (replayed at the next attach); the
            // administrator's detach empties it.
            if (n.clean_detach) {
              // Closing the device flushes its cache (tandemd's fdatasync)
              // before the activity log is emptied.
              flush_cache(n);
              if (auto r = n.meta->detach_cleanly(); !r) {
                return fail(std::string(n.name) + ": clean detach: " + r.error().message);
              }
            } else {
              n.meta->close();
            }
            n.clean_detach = false;
          }
        } else if constexpr (requires { a.handler_id; }) {
          // A handler program runs for a while, then it is not configured
          // or exits with a seeded status.
          const int code = chance(0.4) ? -1 : static_cast<int>(rand(3));
          if (a.handler == core::Handler::kSplitBrain && sb_used_gen_ != link_gen_) {
            sb_detected_ = true;  // for this connection only
            sb_gen_ = link_gen_;
          }
          trace("%s runs handler %u (id %llu)", n.name, static_cast<unsigned>(a.handler),
                static_cast<unsigned long long>(a.handler_id));
          n.handler_calls.emplace_back([this, &n, a, code](core::Replicator& c) {
            trace("%s handler id %llu exits %d", n.name,
                  static_cast<unsigned long long>(a.handler_id), code);
            handler_done(c, a, code);
          });
          at(1 * kMs + rand(200 * kMs), Ev::kHandlerDone, n.index, n.incarnation);
        } else if constexpr (requires {
                               a.text;
                               a.priority;
                             }) {
          trace("%s log: %s", n.name, a.text.c_str());
        }
      },
      action);
}

// An I/O on the machine's disk: `base` plus up to `spread` microseconds, and
// up to `slow_by` more while that disk is slow (it serves every resource of
// the machine).
uint64_t ResourceSim::disk_latency(const Node& n, uint64_t base, uint64_t spread) {
  uint64_t latency = base + rand(spread);
  if (now_ < n.host->slow_until) latency += rand(n.host->slow_by);
  return latency;
}

void ResourceSim::complete_io(Node& n, uint64_t inc, uint64_t io_id) {
  if (!n.up || n.incarnation != inc) return;
  auto it = std::find_if(n.ios.begin(), n.ios.end(),
                         [io_id](const core::SubmitIo& io) { return io.io_id == io_id; });
  if (it == n.ios.end()) return;
  const core::SubmitIo io = *it;
  n.ios.erase(it);
  // A disk error is injected only while the peer holds every acknowledged
  // write and receives the new ones: failing the only copy would be a second
  // fault (e.g. a broken link plus a disk error) that no mirror survives.
  const Node& other = nodes_[1 - n.index];
  const auto established = [](const Node& m) {
    const core::Status s = m.core->status();
    return s.conn == ConnState::kConnected && s.repl == ReplState::kEstablished;
  };
  // Protocols A and B acknowledge writes the peer's disk does not hold yet:
  // while any is on its way, this disk may hold the only copy.
  const bool peer_caught_up = protocol_c() || (wire_[n.index].empty() && held_[n.index].empty() &&
                                               other.up && other.core->idle() && other.ios.empty());
  const double eio_rate = n.host->eio_rate;
  const int error = !quiet_ && eio_rate > 0 && link_up_ && other.up && !other.missed_acked &&
                            peer_caught_up && established(n) && established(other) &&
                            other.core->status().disk == DiskState::kUpToDate && chance(eio_rate)
                        ? EIO
                        : 0;
  trace("%s disk %s @%llu+%u %s", n.name, io_name(io.kind),
        static_cast<unsigned long long>(io.offset), io.length, error == 0 ? "done" : "EIO");
  if (io.kind == core::LocalIoKind::kWrite && !opt_.break_activity_log) {
    n.meta->end_write(io.offset, io.length);
  }
  if (error == 0) {
    if (io.kind == core::LocalIoKind::kWrite) {
      std::memcpy(n.image.data() + io.offset, io.data, io.length);
      mark_dirty(n, io.offset, io.length);
      if (!opt_.volatile_cache || io.fua) {
        std::memcpy(n.durable.data() + io.offset, io.data, io.length);
      } else {
        for (uint64_t s = io.offset / kSector; s < (io.offset + io.length) / kSector; ++s) {
          n.cached.push_back(static_cast<uint32_t>(s));
        }
      }
      if (opt_.break_ack) {
        // Negative control: tell the application its write is done now.
        for (auto& r : n.requests) {
          if (r.used && r.kind == AppRequest::Kind::kWrite && r.buffer.data() == io.data &&
              !r.acked_early) {
            r.acked_early = true;
            acknowledge(n, r, 0);
          }
        }
      }
    } else if (io.kind == core::LocalIoKind::kRead) {
      std::memcpy(io.data, n.image.data() + io.offset, io.length);
    } else {
      flush_cache(n);
    }
  }
  call(n, [io_id, error](core::Replicator& c) { c.on_io_complete(io_id, error); });
}

void ResourceSim::flush_cache(Node& n) {
  for (uint32_t s : n.cached) {
    std::memcpy(n.durable.data() + uint64_t{s} * kSector, n.image.data() + uint64_t{s} * kSector,
                kSector);
  }
  n.cached.clear();
}

void ResourceSim::acknowledge(Node& n, AppRequest& r, int error) {
  oracle_.end_write(r.write_id, error, logical_++);
  trace("%s app write #%llu done: %d", n.name, static_cast<unsigned long long>(r.write_id), error);
  if (error != 0) return;
  for (auto& m : nodes_) mark_dirty(m, r.offset, r.length);
  Node& other = nodes_[1 - n.index];
  // Judged on both sides' state after the whole event, which already shows
  // a connection loss that completed this write on the local result alone.
  const auto established = [](const Node& m) {
    const core::Status s = m.core->status();
    return s.conn == ConnState::kConnected && s.repl == ReplState::kEstablished;
  };
  // A sync target's write succeeds only once the source wrote it.
  const bool other_has_it = link_up_ && other.up &&
                            (established(n) || n.core->status().repl == ReplState::kSyncTarget) &&
                            other.core->status().conn == ConnState::kConnected &&
                            other.core->status().disk == DiskState::kUpToDate;
  if (n.core->status().disk != DiskState::kUpToDate && !n.missed_acked) {
    // Written through the peer (this node is diskless) or onto a disk that
    // is still being synchronized: this disk holds it once it has caught up.
    n.missed_acked = true;
    trace("model: %s's own disk lacks write #%llu", n.name,
          static_cast<unsigned long long>(r.write_id));
  }
  if (!other_has_it) {
    other.missed_acked = true;
    // This disk now holds the only copy: a disk error here would be a second
    // fault, which no replication can survive. Faults stay single.
    if (n.host->eio_rate > 0) trace("%s disk error injection off (only copy)", n.name);
    n.host->eio_rate = 0;
  }
}

bool ResourceSim::overlaps_own_write(const Node& n, uint64_t offset, uint32_t length,
                                     const AppRequest* except) const {
  for (const auto& w : n.requests) {
    if (&w != except && w.used && w.kind == AppRequest::Kind::kWrite &&
        w.offset < offset + length && offset < w.offset + w.length) {
      return true;
    }
  }
  return false;
}

AppRequest* ResourceSim::new_request(Node& n) {
  for (auto& r : n.requests) {
    if (r.used) continue;
    r.used = true;
    r.id = n.next_request++;
    r.acked_early = false;
    r.check_read = false;
    ++n.active_requests;
    return &r;
  }
  return nullptr;
}

void ResourceSim::complete_request(Node& n, uint64_t id, int error) {
  auto it = std::find_if(n.requests.begin(), n.requests.end(),
                         [id](const AppRequest& r) { return r.used && r.id == id; });
  if (it == n.requests.end()) return fail(std::string(n.name) + ": completion of unknown request");
  AppRequest& r = *it;
  if (r.kind == AppRequest::Kind::kWrite) {
    if (!r.acked_early) acknowledge(n, r, error);
  } else if (r.kind == AppRequest::Kind::kRead) {
    trace("%s app read @%llu+%u done: %d", n.name, static_cast<unsigned long long>(r.offset),
          r.length, error);
    if (error == 0 && r.check_read) {
      std::string v = oracle_.check_range(r.buffer, r.offset, r.floor);
      if (!v.empty()) fail(std::string(n.name) + " served stale data to a read: " + v);
    }
  } else {
    trace("%s app flush done: %d", n.name, error);
  }
  r.used = false;
  --n.active_requests;
}

void ResourceSim::start_node(Node& n, bool first) {
  n.up = true;
  ++n.incarnation;
  n.core = std::make_unique<core::Replicator>(config(n.index));
  n.md_blocked = false;
  n.queued.clear();
  n.deferred.clear();
  n.handler_calls.clear();
  n.ios.clear();
  n.all_dirty = true;
  n.clean_detach = false;
  n.down = false;
  trace("%s %s", n.name, first ? "starts" : "restarts");
  attach(n);
  call(n, [](core::Replicator& c) { (void)c.connect(); });
}

void ResourceSim::attach(Node& n) {
  // The metadata is read when the attach runs, which may be after a
  // metadata write in flight has finished (the call may be deferred).
  call(n, [this, &n](core::Replicator& c) {
    if (c.status().disk != DiskState::kDiskless) return;
    // Not while the connection is being set up (link up, node states not
    // yet exchanged) unless --attach-during-handshake: the core does not
    // tell the peer about the new disk then (docs/simulation.md, findings).
    if (link_up_ && c.status().conn == ConnState::kConnecting && !opt_.attach_during_handshake) {
      trace("%s attach waits: the connection is being set up", n.name);
      return;
    }
    auto loaded = n.meta->load();
    if (!loaded) {
      return fail(std::string(n.name) + ": metadata unreadable: " + loaded.error().message);
    }
    // Metadata after a power cut is consistent with the data: every sector
    // the power cut changed (a torn write, a lost cache) is out of sync in
    // the bitmap or in a hot extent of the activity log.
    for (uint32_t sector : n.lost_sectors) {
      const uint64_t at = uint64_t{sector} * kSector;
      const bool covered =
          std::any_of(loaded->out_of_sync.begin(), loaded->out_of_sync.end(),
                      [at](const auto& r) { return at >= r.first && at < r.first + r.second; });
      if (!covered) {
        return fail(std::string(n.name) + ": after the power cut, sector " +
                    std::to_string(sector) +
                    " differs from what was written before, yet neither the bitmap nor the "
                    "activity log marks it out of sync");
      }
    }
    n.lost_sectors.clear();
    const core::Metadata& md = loaded->metadata;
    trace("%s attaches: metadata current=%llx%s%s%s, %zu out-of-sync ranges", n.name,
          static_cast<unsigned long long>(md.current_uuid), md.up_to_date ? " up-to-date" : "",
          md.primary ? " primary" : "", loaded->unclean ? " unclean" : "",
          loaded->out_of_sync.size());
    core::DiskInfo disk;
    disk.size_bytes = kDiskBytes;
    disk.metadata = md;
    set_recovery(disk, *loaded);
    (void)c.attach(disk);
  });
}

// The machine of `n` lost power: this resource's part of it (Cluster::crash
// calls it for every resource of the machine, then schedules the restart).
void ResourceSim::crash(Node& n) {
  trace("%s POWER CUT (%zu I/Os in flight%s)", n.name, n.ios.size(),
        n.md_blocked ? ", metadata write torn" : "");
  const std::vector<std::byte> before = n.image;
  for (auto& io : n.ios) {
    if (io.kind != core::LocalIoKind::kWrite) continue;
    // A write in flight is torn at sector granularity.
    for (uint64_t s = 0; s < io.length / kSector; ++s) {
      if (chance(0.5)) {
        std::memcpy(n.durable.data() + io.offset + s * kSector, io.data + s * kSector, kSector);
      }
    }
  }
  n.image = n.durable;
  n.lost_sectors.clear();
  for (uint64_t s = 0; s < kSectors; ++s) {
    if (std::memcmp(before.data() + s * kSector, n.image.data() + s * kSector, kSector) != 0) {
      n.lost_sectors.push_back(static_cast<uint32_t>(s));
    }
  }
  n.meta->power_cut(n.md_blocked ? std::optional<core::Metadata>(n.md_pending) : std::nullopt,
                    static_cast<uint32_t>(rand(9) * kSector));
  n.cached.clear();
  n.ios.clear();
  n.queued.clear();
  n.deferred.clear();
  n.handler_calls.clear();
  for (auto& r : n.requests) r.used = false;  // the application died with the node
  n.active_requests = 0;
  n.up = false;
  ++n.incarnation;
  n.core.reset();
  n.all_dirty = true;
  ++disk_version_;
  if (link_up_) drop_link("peer lost power", 1 << (1 - n.index), n.index);
  establish_pending_ = false;
  // Writes the power cut took from this disk (a volatile cache, or data a
  // secondary had received under protocol A/B but not yet written) exempt
  // the node until it has resynchronized; from then on it must hold them.
  // With a volatile cache and no peer holding them, the lost writes were
  // only ever in this one cache: like any disk's, unflushed writes are not
  // durable, and a flush the application saw complete had written them.
  const Node& peer = nodes_[1 - n.index];
  const bool peer_complete =
      peer.up && !peer.missed_acked && peer.core->status().disk == DiskState::kUpToDate;
  if (opt_.volatile_cache && !peer_complete) {
    if (const size_t lost = oracle_.forgive_missing(n.image); lost > 0) {
      mark_all_dirty();
      trace("model: %zu unflushed acknowledged writes had no other copy than %s's cache", lost,
            n.name);
    }
  }
  if (!n.missed_acked && !oracle_.check_disk(n.image).empty()) {
    n.missed_acked = true;
    trace("model: the power cut took acknowledged writes from %s's disk", n.name);
  }
}

// ---------------------------------------------------------------- network

void ResourceSim::send(int from, const core::SendFrame& f) {
  if (!link_up_) return;  // no connection: the bytes go nowhere
  WireFrame w;
  if (!spare_bytes_.empty()) {
    w.bytes = std::move(spare_bytes_.back());
    spare_bytes_.pop_back();
    w.bytes.clear();
  }
  const auto* msg = reinterpret_cast<const std::byte*>(f.message.data());
  auto r = net::encode_frame(f.type, f.flags, {msg, f.message.size()},
                             {f.payload, f.payload_length}, w.bytes);
  if (!r.ok()) return fail(std::string(nodes_[from].name) + ": core emitted an unencodable frame");
  w.gen = link_gen_;
  w.type = f.type;
  if (f.type == net::FrameType::kWrite && f.payload_length >= kSector) {
    w.write_id = WriteOracle::sector_id({f.payload, f.payload_length}, 0);
  }
  if (partitioned()) {
    held_[from].push_back(std::move(w));
    return;
  }
  schedule_delivery(from, std::move(w));
}

void ResourceSim::schedule_delivery(int from, WireFrame&& w) {
  // In order within the connection, as TCP delivers.
  const uint64_t when = std::max({now_ + 20 + rand(500), last_delivery_[from], stall_until_[from]});
  last_delivery_[from] = when;
  at(when - now_, Ev::kDeliver, from, w.gen);
  wire_[from].push_back(std::move(w));
}

void ResourceSim::deliver(int from, uint64_t gen) {
  auto& q = wire_[from];
  if (q.empty() || q.front().gen != gen || !link_up_ || link_gen_ != gen) return;
  WireFrame w = std::move(q.front());
  q.pop_front();
  decoder_.feed(w.bytes);
  spare_bytes_.push_back(std::move(w.bytes));
  auto r = decoder_.next();
  if (!r.ok() || !r->has_value()) return fail("a frame did not decode");
  Node& to = nodes_[1 - from];
  trace("%s <- %s +%zuB", to.name, frame_name((*r)->header.type), (*r)->payload.size());
  call(to, [frame = std::move(**r)](core::Replicator& c) mutable { c.on_frame(std::move(frame)); });
}

void ResourceSim::drop_link(const char* reason, int notify_mask, int crashed) {
  // Acknowledged writes still on the way to a node (protocol A acknowledges
  // once the data is sent) are lost with the connection. When their sender
  // lost power, protocol A does not promise them at all; otherwise the
  // sender keeps them and must resynchronize them later.
  for (int from = 0; from < 2; ++from) {
    std::vector<uint64_t> lost;
    for (auto* q : {&wire_[from], &held_[from]}) {
      for (const auto& w : *q) {
        if (w.type == net::FrameType::kWrite && oracle_.acknowledged(w.write_id)) {
          lost.push_back(w.write_id);
        }
      }
    }
    if (lost.empty()) continue;
    if (crashed == from) {
      oracle_.forgive(lost);
      mark_all_dirty();
      trace("model: %zu acknowledged writes of %s died with it on the wire (protocol A)",
            lost.size(), nodes_[from].name);
    } else {
      nodes_[1 - from].missed_acked = true;
      trace("model: %zu acknowledged writes to %s were lost on the wire", lost.size(),
            nodes_[1 - from].name);
    }
  }
  // Protocols A and B acknowledge before the peer's disk has the data, and
  // the core drops received writes it has not submitted yet when the
  // connection breaks (the sender resynchronizes them later). A node that
  // now lacks acknowledged writes is exempt until it has resynchronized.
  // --strict-protocol-b holds protocol B to the stronger promise that data
  // that reached the peer is written there (docs/simulation.md, findings).
  const bool lossy = mode_ == Mode::kProtocolA || (mode_ == Mode::kProtocolB && !opt_.strict_b);
  for (auto& m : nodes_) {
    if (!lossy || !m.up || m.index == crashed || m.missed_acked ||
        oracle_.check_disk(m.image).empty()) {
      continue;
    }
    if (crashed >= 0) {
      // The primary that acknowledged them lost power: A and B promise
      // them only while it lives (docs/simulation.md).
      const size_t n = oracle_.forgive_missing(m.image);
      mark_all_dirty();
      trace("model: %zu acknowledged writes %s lacks died with %s (protocol %s)", n, m.name,
            nodes_[crashed].name, mode_name(mode_));
    } else {
      m.missed_acked = true;
      trace("model: %s lacks acknowledged writes the broken connection did not deliver", m.name);
    }
  }
  verify_clean_ = false;
  link_up_ = false;
  ++link_gen_;
  for (int d = 0; d < 2; ++d) {
    for (auto* q : {&wire_[d], &held_[d]}) {
      for (auto& w : *q) spare_bytes_.push_back(std::move(w.bytes));
      q->clear();
    }
  }
  decoder_ = net::FrameDecoder();
  trace("link down: %s", reason);
  for (int i = 0; i < 2; ++i) {
    if ((notify_mask & (1 << i)) == 0) continue;
    call(nodes_[i], [reason](core::Replicator& c) { c.on_connection_lost(reason); });
  }
}

void ResourceSim::maybe_establish() {
  if (link_up_ || establish_pending_ || partitioned()) return;
  for (auto& n : nodes_) {
    if (!n.up || n.core->status().conn != ConnState::kConnecting) return;
  }
  establish_pending_ = true;
  at(1 * kMs + rand(5 * kMs), Ev::kEstablish);
}

void ResourceSim::establish() {
  establish_pending_ = false;
  if (link_up_ || partitioned()) return;
  for (auto& n : nodes_) {
    if (!n.up || n.core->status().conn != ConnState::kConnecting) return;
  }
  link_up_ = true;
  ++link_gen_;
  last_delivery_[0] = last_delivery_[1] = now_;
  trace("link up (handshake done)");
  for (auto& n : nodes_) call(n, [](core::Replicator& c) { c.on_connection_established(1); });
}

// The cut between the pair's machines ends.
void ResourceSim::heal() {
  if (pair_cut_) {
    pair_cut_ = false;
    trace("network heals");
  }
  release_held();
}

// Frames sent while the link was cut go out once nothing cuts it any more
// (neither the pair's cut nor either machine's isolation).
void ResourceSim::release_held() {
  if (partitioned()) return;
  for (int d = 0; d < 2; ++d) {
    auto held = std::move(held_[d]);
    held_[d].clear();
    for (auto& w : held) schedule_delivery(d, std::move(w));
  }
}

// ---------------------------------------------------------------- drivers

void ResourceSim::promote(Node& n, bool force) {
  if (!n.up || n.md_blocked) return;  // the call below must run now
  if (n.down && !opt_.connect_while_down) return;
  // Not while the connection is being set up (link up, node states not yet
  // exchanged) unless --promote-during-handshake (docs/simulation.md).
  if (link_up_ && n.core->status().conn != ConnState::kConnected &&
      !opt_.promote_during_handshake) {
    return;
  }
  bool ok = false;
  std::string err;
  call(n, [&](core::Replicator& c) {
    auto r = c.promote(force);
    ok = r.ok();
    if (!ok) err = r.error().message;
  });
  trace("admin: %s primary%s: %s", n.name, force ? " --force" : "", ok ? "ok" : err.c_str());
  if (ok && (force || (n.missed_acked && n.core->status().disk == DiskState::kUpToDate))) {
    // The administrator chose this node's data: what it lacks is given up.
    // (Not an Inconsistent node promoted over an UpToDate peer: the peer's
    // data stays the data of record.)
    oracle_.rebase(n.image);
    mark_all_dirty();
    n.missed_acked = false;
    nodes_[1 - n.index].missed_acked = true;
    trace("model: data of record is now %s's disk", n.name);
  }
}

void ResourceSim::demote(Node& n) {
  // An application with requests in flight holds the device open; DRBD
  // refuses to demote then. --demote-busy-primary tries anyway.
  if (!n.up || n.md_blocked || (n.active_requests > 0 && !opt_.demote_busy_primary)) return;
  bool ok = false;
  call(n, [&](core::Replicator& c) { ok = c.demote().ok(); });
  trace("admin: %s secondary: %s", n.name, ok ? "ok" : "refused");
}

void ResourceSim::admin_role_change(Node& n) {
  Node* primaries[2] = {};
  int count = 0;
  for (auto& m : nodes_) {
    if (m.up && m.core->status().role == Role::kPrimary) primaries[count++] = &m;
  }
  const bool dual = mode_ == Mode::kDualPrimary;
  if (count > 0 && (!dual || count == 2 || chance(0.5))) {
    if (chance(0.3)) demote(*primaries[rand(static_cast<uint64_t>(count))]);
    return;
  }
  if (count == 1) {
    // Dual primary: the other node joins when it holds every acknowledged
    // write (a stale node made primary would be a split brain on purpose).
    Node& s = nodes_[1 - primaries[0]->index];
    if (s.up && !s.missed_acked) promote(s, false);
    return;
  }
  // Prefer a node that has every acknowledged write; a stale one only when
  // the other is down, as an administrator would after a crash.
  Node& other = nodes_[1 - n.index];
  Node& pick = (n.missed_acked && other.up && !other.missed_acked) ? other : n;
  const bool peer_down = !nodes_[1 - pick.index].up;
  promote(pick, false);
  if (pick.up && pick.core->status().role != Role::kPrimary && peer_down) promote(pick, true);
}

// Both nodes hold acknowledged writes the other lacks (both were primary
// while apart). The administrator keeps one side's data and has the other
// discard its own: the model follows that choice.
void ResourceSim::resolve_split_brain() {
  if (!nodes_[0].up || !nodes_[1].up) return;
  if (split_brain_seen_ && !nodes_[0].missed_acked && !nodes_[1].missed_acked) {
    // The core refused a split brain although neither side lacks an
    // acknowledged write (e.g. one side was promoted but wrote nothing that
    // was acknowledged): either may be discarded.
    split_brain_seen_ = false;
    Node& victim = nodes_[rand(2)];
    victim.missed_acked = true;
    trace("model: split brain without acknowledged writes on both sides; %s discards its data",
          victim.name);
    return;
  }
  split_brain_seen_ = false;
  if (!nodes_[0].missed_acked || !nodes_[1].missed_acked) return;
  // Only once the cores stand apart: while they are connected (a resync
  // running) the cores have already chosen, and the data checks judge it.
  for (auto& m : nodes_) {
    if (m.core->status().conn == ConnState::kConnected) return;
  }
  Node* keep_pick = &nodes_[rand(2)];
  // Data that is not UpToDate (an interrupted sync target) cannot be kept:
  // whatever the administrator says, the cores make the UpToDate side the
  // sync source. That side must then hold every acknowledged write (its
  // flag was the model's caution, e.g. for writes acknowledged during a
  // resync): nothing is resolved, no acknowledgement given up.
  const bool usable[2] = {nodes_[0].core->status().disk == DiskState::kUpToDate,
                          nodes_[1].core->status().disk == DiskState::kUpToDate};
  if (usable[0] != usable[1]) {
    Node& source = nodes_[usable[0] ? 0 : 1];
    source.missed_acked = false;
    source.all_dirty = true;
    trace(
        "model: no split brain to resolve, %s is the only UpToDate side and must hold every "
        "acknowledged write",
        source.name);
    return;
  }
  Node& keep = *keep_pick;
  Node& victim = nodes_[1 - keep.index];
  oracle_.rebase(keep.image);
  mark_all_dirty();
  keep.missed_acked = false;
  trace("model: split brain, the administrator keeps %s's data; %s discards its own", keep.name,
        victim.name);
}

void ResourceSim::workload_tick() {
  if (!quiet_) {
    if (chance(1.0 / 400)) {
      // The application pauses: only keepalives and faults happen, so
      // simulated time moves on quickly.
      idle_until_ = now_ + 1000 * kMs + rand(20'000 * kMs);
      trace("application idle until t=%llu", static_cast<unsigned long long>(idle_until_));
      at(idle_until_ - now_, Ev::kWorkload);
      return;
    }
    at(200 + rand(2 * kMs), Ev::kWorkload);
  }
  for (auto& n : nodes_) {
    if (!n.up || n.md_blocked || n.core->status().role != Role::kPrimary) continue;
    AppRequest* r = new_request(n);
    if (r == nullptr) continue;
    const uint64_t id = r->id;
    const uint64_t pick = rand(10);
    r->offset = rand(kSectors) * kSector;
    r->length = static_cast<uint32_t>(
        std::min<uint64_t>(1 + rand(16), kSectors - r->offset / kSector) * kSector);
    r->buffer.resize(r->length);
    if (pick < 6) {
      r->kind = AppRequest::Kind::kWrite;
      verify_clean_ = false;
      r->write_id = oracle_.begin_write(r->offset, r->length, logical_++);
      WriteOracle::stamp(r->write_id, r->offset, r->buffer);
      const bool fua = chance(0.1);
      trace("%s app write #%llu @%llu+%u%s", n.name, static_cast<unsigned long long>(r->write_id),
            static_cast<unsigned long long>(r->offset), r->length, fua ? " fua" : "");
      call(n, [r, id, fua](core::Replicator& c) {
        c.submit_write(id, r->offset, core::ConstBuffer{r->buffer.data(), r->length}, fua);
      });
    } else if (pick < 9) {
      r->kind = AppRequest::Kind::kRead;
      std::fill(r->buffer.begin(), r->buffer.end(), std::byte{0xEE});
      // Dual primary: a read overlapping this node's own write in flight is
      // not ordered against it (as on any block device), and the conflict
      // rule lets that write stand in for the peer's overlapping one, so
      // the read may see data older than both (docs/simulation.md).
      r->check_read = !n.missed_acked && !(mode_ == Mode::kDualPrimary &&
                                           overlaps_own_write(n, r->offset, r->length, r));
      oracle_.floor_snapshot(r->offset, r->length, r->floor);
      trace("%s app read @%llu+%u", n.name, static_cast<unsigned long long>(r->offset), r->length);
      call(n, [r, id](core::Replicator& c) {
        c.submit_read(id, r->offset, core::MutableBuffer{r->buffer.data(), r->length});
      });
    } else {
      r->kind = AppRequest::Kind::kFlush;
      trace("%s app flush", n.name);
      call(n, [id](core::Replicator& c) { c.submit_flush(id); });
    }
  }
}

void ResourceSim::fault_tick() {
  if (quiet_) return;
  // While the application is idle the administrator and the faults slow
  // down too, so that idle time costs few events.
  at(now_ < idle_until_ ? 100 * kMs + rand(2000 * kMs) : 5 * kMs + rand(40 * kMs), Ev::kFault);
  Node& n = nodes_[rand(2)];
  const uint64_t pick = rand(100);
  if (pick < 20) {
    admin_role_change(n);
  } else if (pick < 30) {
    if (!n.up) return;
    resolve_split_brain();
    if (n.core->status().conn == ConnState::kStandAlone) {
      // A node that is down stays apart until it is brought up with its
      // disk (docs/simulation.md: --connect-while-down).
      if (n.down && !opt_.connect_while_down) return;
      const bool discard = n.missed_acked && nodes_[1 - n.index].up && chance(0.7);
      if (discard && n.core->status().role == Role::kPrimary) return demote(n);
      if (discard) sb_detected_ = false;  // the administrator resolves it
      call(n, [discard](core::Replicator& c) { (void)c.connect(discard); });
      trace("admin: %s connect%s", n.name, discard ? " --discard-my-data" : "");
    } else if (chance(0.3)) {
      call(n, [](core::Replicator& c) { (void)c.disconnect(); });
      trace("admin: %s disconnect", n.name);
    }
  } else if (pick < 42) {
    if (link_up_) drop_link("connection reset (injected)", 3);
  } else if (pick < 50) {
    if (c_.three() && chance(0.5)) {
      // The machine is cut off from every other: all of its resources'
      // links at once.
      c_.isolate(*n.host);
    } else if (!pair_cut_) {
      pair_cut_ = true;
      trace("network partition");
      at(100 * kMs + rand(3000 * kMs), Ev::kHeal);
    }
  } else if (pick < 62) {
    const int dir = static_cast<int>(rand(2));
    stall_until_[dir] = now_ + rand(1500 * kMs);
    trace("network stall from %s until t=%llu", nodes_[dir].name,
          static_cast<unsigned long long>(stall_until_[dir]));
  } else if (pick < 70) {
    // A power cut takes the whole machine, every resource on it.
    if (c_.may_crash(*n.host)) c_.crash(*n.host);
  } else if (pick < 76) {
    // The machine's disk, shared by its resources, turns slow for a while
    // (three nodes), or starts or stops failing I/Os.
    if (c_.three() && chance(0.3)) {
      c_.slow_disk(*n.host);
    } else {
      c_.toggle_disk_errors(*n.host);
    }
  } else if (pick < 82) {
    // A primary that re-attaches comes back Inconsistent; unless
    // --attach-on-primary, the administrator re-attaches secondaries only.
    if (n.up && n.core->status().disk == DiskState::kDiskless &&
        (n.core->status().role != Role::kPrimary || opt_.attach_on_primary)) {
      attach(n);
      trace("admin: %s attach", n.name);
      if (n.down) {
        // up: the disk first, then the connection
        n.down = false;
        if (n.core->status().conn == ConnState::kStandAlone) {
          call(n, [](core::Replicator& c) { (void)c.connect(); });
        }
        trace("admin: %s up", n.name);
      }
    }
  } else if (pick >= 88) {
    admin_extras(n, pick);
  } else if (pick < 88) {
    // down: the administrator detaches a secondary's disk cleanly and
    // disconnects; attach and connect above bring it up again from what
    // its disk and metadata kept.
    // Only while the peer holds every acknowledged write: taking down the
    // only complete copy is a second fault (a diskless primary would then
    // read stale data from its peer, as it would with DRBD).
    const Node& other = nodes_[1 - n.index];
    if (!n.up || n.md_blocked || n.core->status().role == Role::kPrimary ||
        !core::has_data(n.core->status().disk) || !other.up || other.missed_acked) {
      return;
    }
    // Protocol B: a detach drops received peer writes that wait behind
    // earlier ones, although their RecvAck was sent; unless
    // --down-busy-secondary the administrator waits until the core is idle
    // (docs/simulation.md, findings).
    if (mode_ == Mode::kProtocolB && !n.core->idle() && !opt_.down_busy_secondary) return;
    bool ok = false;
    n.clean_detach = true;  // the Diskless state may come at once
    call(n, [&ok](core::Replicator& c) {
      ok = c.detach().ok();
      (void)c.disconnect();
    });
    if (!ok) n.clean_detach = false;
    n.down = ok;
    trace("admin: %s down (detach%s, disconnect)", n.name, ok ? "" : " refused");
  }
}

// invalidate, invalidate-remote, verify, pause-sync and resume-sync.
void ResourceSim::admin_extras(Node& n, uint64_t pick) {
  if (!n.up || n.md_blocked) return;
  const core::Status s = n.core->status();
  Node& other = nodes_[1 - n.index];
  const bool in_sync = link_up_ && other.up && !n.missed_acked && !other.missed_acked &&
                       s.conn == ConnState::kConnected && s.repl == ReplState::kEstablished &&
                       s.disk == DiskState::kUpToDate && s.peer_disk == DiskState::kUpToDate;
  std::string err;
  const auto run = [&](const char* what, auto fn) {
    bool ok = false;
    call(n, [&](core::Replicator& c) {
      auto r = fn(c);
      ok = r.ok();
      if (!ok) err = r.error().message;
    });
    trace("admin: %s %s: %s", n.name, what, ok ? "ok" : err.c_str());
    return ok;
  };
  if (pick < 92) {
    // A full resync of replicas that hold every acknowledged write: the
    // data of record does not change.
    // Only over a healthy link unless --invalidate-anytime: the core starts
    // the sync on its own side before the peer has agreed
    // (docs/simulation.md, findings).
    const bool healthy = !partitioned() && stall_until_[0] <= now_ && stall_until_[1] <= now_;
    if (!in_sync || (!healthy && !opt_.invalidate_anytime)) return;
    if (chance(0.5)) {
      run("invalidate", [](core::Replicator& c) { return c.invalidate(); });
    } else {
      run("invalidate-remote", [](core::Replicator& c) { return c.invalidate_remote(); });
    }
  } else if (pick < 96) {
    if (!in_sync || !features_.verify || verify_watch_) return;
    const bool identical = nodes_[0].image == nodes_[1].image && frames_in_flight() == 0 &&
                           drained(nodes_[0]) && drained(nodes_[1]);
    if (run("verify", [](core::Replicator& c) { return c.start_verify(); })) {
      verify_watch_ = true;
      verify_clean_ = identical;
      verify_node_ = n.index;
    }
  } else if (s.repl == ReplState::kSyncSource || s.repl == ReplState::kSyncTarget) {
    if (s.sync_paused_user) {
      run("resume-sync", [](core::Replicator& c) { return c.resume_sync(); });
    } else {
      run("pause-sync", [](core::Replicator& c) { return c.pause_sync(); });
    }
  }
}

bool ResourceSim::may_crash(const Node& n) const {
  if (!n.up || !nodes_[1 - n.index].up) return false;
  // A primary with application writes in flight only with
  // --crash-busy-primary.
  const bool busy_primary =
      n.core->status().role == Role::kPrimary &&
      std::any_of(n.requests.begin(), n.requests.end(),
                  [](const AppRequest& r) { return r.used && r.kind == AppRequest::Kind::kWrite; });
  return !busy_primary || opt_.crash_busy_primary;
}

void ResourceSim::settle_tick() {
  at(100 * kMs, Ev::kSettle);
  resolve_split_brain();
  for (auto& n : nodes_) {
    if (!n.up) continue;
    const core::Status s = n.core->status();
    if (s.disk == DiskState::kDiskless && n.ios.empty()) {
      attach(n);
      n.down = false;
      trace("settle: %s attach", n.name);
    }
    if (s.sync_paused_user) {
      call(n, [](core::Replicator& c) { (void)c.resume_sync(); });
      trace("settle: %s resume-sync", n.name);
    }
    // A primary whose data is to be discarded steps down first.
    if (n.missed_acked && s.role == Role::kPrimary && nodes_[1 - n.index].up) demote(n);
    // A split brain is resolved (above) once both nodes are up; until then
    // neither side discards its data.
    const bool split = nodes_[0].missed_acked && nodes_[1].missed_acked;
    if (s.conn == ConnState::kStandAlone && !split) {
      const bool discard = n.missed_acked;
      if (discard) sb_detected_ = false;  // the administrator resolves it
      call(n, [discard](core::Replicator& c) { (void)c.connect(discard); });
      trace("settle: %s connect%s", n.name, discard ? " --discard-my-data" : "");
    }
  }
  if (!nodes_[0].up || !nodes_[1].up) return;
  const core::Status a = nodes_[0].core->status();
  const core::Status b = nodes_[1].core->status();
  if (a.conn == ConnState::kConnected && b.conn == ConnState::kConnected &&
      a.repl == ReplState::kEstablished && a.disk != DiskState::kUpToDate &&
      b.disk != DiskState::kUpToDate && has_data(a.disk) && has_data(b.disk)) {
    promote(nodes_[nodes_[0].missed_acked ? 1 : 0], true);
  }
}

bool ResourceSim::settled() {
  if (frames_in_flight() > 0 || !link_up_) return false;
  for (auto& n : nodes_) {
    if (!n.up || n.md_blocked || !n.ios.empty() || n.active_requests > 0 || !n.core->idle() ||
        !n.handler_calls.empty() || n.core->status().verify_running) {
      return false;
    }
    const core::Status s = n.core->status();
    if (s.disk != DiskState::kUpToDate || s.peer_disk != DiskState::kUpToDate ||
        s.conn != ConnState::kConnected || s.repl != ReplState::kEstablished) {
      return false;
    }
  }
  return true;
}

// Nothing is on its way to this node's disk: no local I/O, no frame from
// the peer, no work inside the core.
bool ResourceSim::drained(const Node& n) const {
  const int from = 1 - n.index;
  return n.ios.empty() && !n.md_blocked && wire_[from].empty() && held_[from].empty() &&
         n.core->idle();
}

void ResourceSim::check_node(Node& n) {
  const core::Status s = n.core->status();
  // Protocol C: a write is acknowledged once it is on every connected
  // UpToDate disk, so such a disk holds every acknowledged write at every
  // moment. Protocols A and B acknowledge earlier (data sent / received by
  // the peer), so a peer's disk catches up only once what it was sent has
  // been written: it is checked whenever nothing is on its way to it.
  const bool checkable =
      s.disk == DiskState::kUpToDate && !n.missed_acked && (protocol_c() || drained(n));
  // Dual primary: where this node's own write is in flight, the peer's
  // overlapping write may be acknowledged before either lands here (the
  // conflict rule lets the local write win); the sector is checked again
  // once the local write is done.
  const auto own_write_pending = [&n](uint64_t sector) {
    for (const auto& r : n.requests) {
      if (r.used && r.kind == AppRequest::Kind::kWrite && sector >= r.offset / kSector &&
          sector < (r.offset + r.length) / kSector) {
        return true;
      }
    }
    return false;
  };
  const auto check_one = [&](uint64_t sector) {
    if (mode_ == Mode::kDualPrimary && own_write_pending(sector)) {
      mark_dirty(n, sector * kSector, kSector);  // again later
      return true;
    }
    std::string v = oracle_.check_sector(n.image, sector);
    if (v.empty()) return true;
    fail(std::string(n.name) + " reports UpToDate, yet " + v);
    return false;
  };
  std::vector<uint32_t>& todo = check_todo_;
  todo.swap(n.dirty);
  for (uint32_t sector : todo) n.dirty_mark[sector] = 0;
  const bool full = !n.was_checked || n.all_dirty;
  n.all_dirty = false;
  n.was_checked = checkable;
  if (checkable && full) {
    for (uint64_t sector = 0; sector < kSectors; ++sector) {
      if (!check_one(sector)) break;
    }
  } else if (checkable) {
    for (uint32_t sector : todo) {
      if (!check_one(sector)) break;
    }
  }
  todo.clear();
}

void ResourceSim::check() {
  const auto in_sync = [](const Node& m) {
    if (!m.up) return false;
    const core::Status s = m.core->status();
    return s.disk == DiskState::kUpToDate && s.conn == ConnState::kConnected &&
           s.repl == ReplState::kEstablished && s.peer_disk == DiskState::kUpToDate;
  };
  const bool both_in_sync = link_up_ && in_sync(nodes_[0]) && in_sync(nodes_[1]);
  for (auto& n : nodes_) {
    const ReplState repl = n.up ? n.core->status().repl : ReplState::kOff;
    if (repl == ReplState::kSyncTarget && last_repl_[n.index] != ReplState::kSyncTarget) {
      last_repl_[n.index] = repl;
      on_sync_start(n);
      if (!result_.ok) return;
    }
    last_repl_[n.index] = repl;
  }
  if (verify_watch_) {
    const core::Status v =
        nodes_[verify_node_].up ? nodes_[verify_node_].core->status() : core::Status{};
    if (!v.verify_running) {
      verify_watch_ = false;
      trace("verify on %s ended: %llu of %llu bytes compared, %llu mismatching",
            nodes_[verify_node_].name, static_cast<unsigned long long>(v.verify_done_bytes),
            static_cast<unsigned long long>(v.verify_total_bytes),
            static_cast<unsigned long long>(v.verify_mismatch_bytes));
      if (verify_clean_ && v.verify_done_bytes == v.verify_total_bytes &&
          v.verify_mismatch_bytes > 0) {
        return fail("online verify reported " + std::to_string(v.verify_mismatch_bytes) +
                    " mismatching bytes although both replicas were identical and unwritten");
      }
    }
  }
  for (auto& n : nodes_) {
    if (!n.up) continue;
    // Both sides see each other UpToDate over a live link: this node must
    // hold everything now. (One side alone may not have noticed yet that
    // the link is gone, e.g. while it waits for a metadata write.)
    if (both_in_sync && n.missed_acked) {
      n.missed_acked = false;
      n.all_dirty = true;
    }
    check_node(n);
    if (!result_.ok) return;
  }
  // Never "Connected UpToDate/UpToDate" over different data once nothing
  // is in flight.
  if (both_in_sync && compared_version_ != disk_version_ && frames_in_flight() == 0 &&
      drained(nodes_[0]) && drained(nodes_[1])) {
    compared_version_ = disk_version_;
    if (nodes_[0].image != nodes_[1].image) {
      for (uint64_t s = 0; s < kSectors; ++s) {
        if (std::memcmp(nodes_[0].image.data() + s * kSector, nodes_[1].image.data() + s * kSector,
                        kSector) != 0) {
          return fail("Connected UpToDate/UpToDate over different data (first at sector " +
                      std::to_string(s) + ": write #" +
                      std::to_string(WriteOracle::sector_id(nodes_[0].image, s)) + " vs #" +
                      std::to_string(WriteOracle::sector_id(nodes_[1].image, s)) + ")");
        }
      }
    }
  }
}

void ResourceSim::choose_policies() {
  // A fifth of the runs recover split brains automatically, with policies
  // drawn from every value; the others use the defaults (disconnect).
  if (chance(0.2)) {
    sb_policy_.p0 = static_cast<core::AfterSb0Pri>(rand(6));
    sb_policy_.p1 = static_cast<core::AfterSb1Pri>(rand(5));
    sb_policy_.p2 = static_cast<core::AfterSb2Pri>(rand(3));
    sb_policy_.discard_node = chance(0.5) ? nodes_[0].name : nodes_[1].name;
  }
  features_.csums = chance(0.3);
  features_.verify = chance(0.3);
  core::ResyncRate& r = features_.rate;
  const uint64_t pick = rand(10);
  if (pick < 3) {
    r.resync_rate_kib = static_cast<uint32_t>(200 + rand(2000));
  } else if (pick < 6) {
    // The dynamic controller: sometimes c-min-rate 0 (never yield) and
    // resync-rate at tandemd's smallest value, the corners where a sync
    // could fail to start or to resume.
    r.resync_rate_kib = chance(0.2) ? 1 : static_cast<uint32_t>(1 + rand(4000));
    r.c_plan_ahead = static_cast<uint32_t>(1 + rand(300));
    r.c_fill_target_sectors = chance(0.5) ? 0 : static_cast<uint32_t>(1 + rand(4096));
    r.c_delay_target = static_cast<uint32_t>(1 + rand(100));
    r.c_max_rate_kib = static_cast<uint32_t>(250 + rand(100'000));
    r.c_min_rate_kib = chance(0.3) ? 0 : static_cast<uint32_t>(1 + rand(4000));
  }
  trace(
      "policies: after-sb-0pri %s, after-sb-1pri %s, after-sb-2pri %s, discard-node %s; "
      "csums %s, verify %s, resync-rate %u KiB/s, c-plan-ahead %u, c-fill-target %u, "
      "c-delay-target %u, c-max-rate %u KiB/s, c-min-rate %u KiB/s",
      std::string(to_string(sb_policy_.p0)).c_str(), std::string(to_string(sb_policy_.p1)).c_str(),
      std::string(to_string(sb_policy_.p2)).c_str(), sb_policy_.discard_node.c_str(),
      features_.csums ? "on" : "off", features_.verify ? "on" : "off", r.resync_rate_kib,
      r.c_plan_ahead, r.c_fill_target_sectors, r.c_delay_target, r.c_max_rate_kib,
      r.c_min_rate_kib);
}

bool ResourceSim::all_policies_disconnect() const {
  return sb_policy_.p0 == core::AfterSb0Pri::kDisconnect &&
         sb_policy_.p1 == core::AfterSb1Pri::kDisconnect &&
         sb_policy_.p2 == core::AfterSb2Pri::kDisconnect;
}

// A resync began with `target` as its target.
void ResourceSim::on_sync_start(Node& target) {
  Node& source = nodes_[1 - target.index];
  // Only a split brain reported on this connection was resolved by this
  // resync (both nodes run the handler; the second report comes later).
  // A resync over a split brain nobody reported shows up in the data
  // checks: both nodes must hold every acknowledged write once in sync.
  if (!sb_detected_ || sb_gen_ != link_gen_) {
    sb_detected_ = false;
    return;
  }
  sb_detected_ = false;
  sb_used_gen_ = link_gen_;
  if (all_policies_disconnect()) {
    return fail(std::string("a split brain was resolved automatically (") + target.name +
                " became sync target) although every after-sb policy is disconnect");
  }
  int primaries = 0;
  for (auto& m : nodes_) primaries += m.up && m.core->status().role == Role::kPrimary ? 1 : 0;
  if (primaries == 0 && sb_policy_.p0 == core::AfterSb0Pri::kDiscardNode &&
      sb_policy_.discard_node != target.name) {
    return fail("after-sb-0pri discard-node-" + sb_policy_.discard_node + " discarded " +
                target.name + "'s data instead");
  }
  if (primaries == 1 && sb_policy_.p1 == core::AfterSb1Pri::kDiscardSecondary &&
      target.core->status().role == Role::kPrimary) {
    return fail(std::string("after-sb-1pri discard-secondary discarded the primary ") +
                target.name + "'s data");
  }
  // The policy chose: the source's data is the data of record now.
  oracle_.rebase(source.image);
  mark_all_dirty();
  source.missed_acked = false;
  target.missed_acked = true;
  trace("model: split brain resolved by policy, %s's data replaces %s's", source.name, target.name);
}

void ResourceSim::dispatch(const Event& e) {
  Node& n = nodes_[e.node];
  switch (e.kind) {
    case Ev::kIoDone:
      complete_io(n, e.a, e.b);
      break;
    case Ev::kMdDone:
      if (!n.up || n.incarnation != e.a) break;
      if (auto r = n.meta->persist(n.md_pending); !r) {
        fail(std::string(n.name) + ": writing metadata: " + r.error().message);
        break;
      }
      n.md_blocked = false;
      execute(n);
      break;
    case Ev::kTimer: {
      if (!n.up || n.incarnation != e.a || n.timer_gen[e.c] != e.b) break;
      const auto id = static_cast<core::TimerId>(e.c);
      call(n, [id](core::Replicator& c) { c.on_timer(id); });
      break;
    }
    case Ev::kDeliver:
      deliver(e.node, e.a);
      break;
    case Ev::kEstablish:
      establish();
      break;
    case Ev::kHeal:
      heal();
      break;
    case Ev::kRestart:
    case Ev::kHostHeal:
      break;  // machine events (Cluster::run)
    case Ev::kWorkload:
      workload_tick();
      break;
    case Ev::kFault:
      fault_tick();
      break;
    case Ev::kSettle:
      settle_tick();
      break;
    case Ev::kFirstPromote:
      promote(nodes_[e.a], e.b != 0);
      break;
    case Ev::kCrash:
      if (n.up && n.incarnation == e.a && c_.may_crash(*n.host)) c_.crash(*n.host);
      break;
    case Ev::kHandlerDone:
      if (!n.up || n.incarnation != e.a || n.handler_calls.empty()) break;
      {
        auto fn = std::move(n.handler_calls.front());
        n.handler_calls.pop_front();
        call(n, std::move(fn));
      }
      break;
  }
}

void ResourceSim::init() {
  mode_ = opt_.mode;
  if (mode_ == Mode::kAny) {
    const uint64_t r = rand(20);
    mode_ = r < 10   ? Mode::kProtocolC
            : r < 13 ? Mode::kProtocolB
            : r < 16 ? Mode::kProtocolA
                     : Mode::kDualPrimary;
  }
  result_.modes.push_back(mode_);
  choose_policies();
  trace("mode %s", mode_name(mode_));
  // Half of the runs start from two identical disks of record, the other
  // half from never-synced disks that need an initial full sync.
  const bool synced_start = chance(0.5);
  core::Metadata md;
  if (synced_start) {
    md.current_uuid = 0x5EED0000 + (opt_.seed << 1) + (uint64_t{static_cast<uint8_t>(res_)} << 32);
    md.consistent = md.up_to_date = true;
  }
  for (auto& n : nodes_) {
    n.meta = std::make_unique<SimMetadata>(n.name, kDiskBytes);
    if (auto r = n.meta->create(md); !r) {
      return fail(std::string(n.name) + ": create-md: " + r.error().message);
    }
  }
  for (auto& n : nodes_) start_node(n, true);
  at(10 * kMs, Ev::kFirstPromote, 0, rand(2), synced_start ? 0 : 1);
  at(20 * kMs, Ev::kWorkload);
  at(30 * kMs, Ev::kFault);
}

// Faults stop: the link heals and the quiet phase's administrator starts.
void ResourceSim::quiesce() {
  stall_until_[0] = stall_until_[1] = 0;
  heal();
  at(100 * kMs, Ev::kSettle);
}

// After the quiet phase: both replicas identical and complete.
void ResourceSim::final_check() {
  if (nodes_[0].image != nodes_[1].image) {
    fail("replicas differ after faults stopped and sync finished");
  }
  for (auto& n : nodes_) {
    std::string v = oracle_.check_disk(n.image);
    if (!v.empty()) fail(std::string(n.name) + " at quiescence: " + v);
  }
  if (result_.ok) trace("settled: replicas identical, every acknowledged write present");
}

// ---------------------------------------------------------------- machines

Cluster::Cluster(const SimOptions& o) : opt_(o), rng_(o.seed) {
  static constexpr const char* kNames[] = {"alpha", "beta", "gamma"};
  host_count_ = three() ? 3 : 2;
  for (int i = 0; i < host_count_; ++i) {
    hosts_[i].index = i;
    hosts_[i].name = kNames[i];
  }
  // Two nodes: r0 on alpha and beta. Three: a ring, so that every machine
  // runs two resources with two different peers.
  const int resources = three() ? 3 : 1;
  for (int r = 0; r < resources; ++r) {
    resources_.push_back(
        std::make_unique<ResourceSim>(*this, r, hosts_[r], hosts_[(r + 1) % host_count_]));
  }
}

Cluster::~Cluster() = default;

// A power cut needs every resource of the machine to allow it (single
// faults: each resource's peer is up).
bool Cluster::may_crash(const Host& h) const {
  for (const auto& [res, i] : h.replicas) {
    const ResourceSim& r = *resources_[res];
    if (!r.may_crash(r.nodes_[i])) return false;
  }
  return true;
}

void Cluster::crash(Host& h) {
  ++result_.crashes;
  for (const auto& [res, i] : h.replicas) {
    ResourceSim& r = *resources_[res];
    r.crash(r.nodes_[i]);
  }
  at(50 * kMs + rand(1000 * kMs), Ev::kRestart, 0, h.index);
}

// Power is back: every resource of the machine starts from what the disk
// kept.
void Cluster::restart(Host& h) {
  for (const auto& [res, i] : h.replicas) {
    ResourceSim& r = *resources_[res];
    r.start_node(r.nodes_[i], false);
  }
}

void Cluster::isolate(Host& h) {
  if (h.isolated) return;
  h.isolated = true;
  trace("network: %s cut off from every node", h.name);
  at(100 * kMs + rand(3000 * kMs), Ev::kHostHeal, 0, h.index, ++h.isolation_gen);
}

void Cluster::rejoin(Host& h, uint64_t gen) {
  if (!h.isolated || gen != h.isolation_gen) return;
  h.isolated = false;
  trace("network: %s reachable again", h.name);
  for (const auto& [res, i] : h.replicas) resources_[res]->release_held();
}

// Disk errors only while every resource's peer holds every acknowledged
// write: an error on the only copy would be a second fault.
void Cluster::toggle_disk_errors(Host& h) {
  bool peers_complete = true;
  for (const auto& [res, i] : h.replicas) {
    const Node& other = resources_[res]->nodes_[1 - i];
    if (!other.up || other.missed_acked) peers_complete = false;
  }
  h.eio_rate = h.eio_rate > 0 || !peers_complete ? 0 : 0.05;
  trace("%s disk error injection %s", h.name, h.eio_rate > 0 ? "on" : "off");
}

void Cluster::slow_disk(Host& h) {
  // Mostly a busy disk (tens of milliseconds), sometimes one that stalls
  // for up to a second per I/O: a metadata write that long keeps the
  // machine's runtime from answering pings (it waits for the write), so
  // the peers of both resources time out.
  h.slow_by = chance(0.7) ? 20 * kMs : 1000 * kMs;
  h.slow_until = now_ + rand(3000 * kMs);
  trace("%s disk slow until t=%llu (I/Os up to %llu ms longer)", h.name,
        static_cast<unsigned long long>(h.slow_until),
        static_cast<unsigned long long>(h.slow_by / kMs));
}

SimResult Cluster::run() {
  g_options = &opt_;
  g_trace = &ring_;
  auto previous = std::signal(SIGABRT, on_abort);
  for (auto& r : resources_) {
    if (result_.ok) r->init();
  }
  result_.mode = result_.modes.front();

  uint64_t settle_start = 0;
  while (!queue_.empty() && result_.ok) {
    const Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    if (e.kind == Ev::kRestart) {
      restart(hosts_[e.node]);
    } else if (e.kind == Ev::kHostHeal) {
      rejoin(hosts_[e.node], e.a);
    } else {
      resources_[e.res]->dispatch(e);
    }
    ++result_.events;
    if (!result_.ok) break;
    for (auto& r : resources_) {
      r->maybe_establish();
      r->check();
      if (!result_.ok) break;
    }
    if (!quiet_ && result_.events >= opt_.steps) {
      quiet_ = true;
      settle_start = now_;
      trace("faults stop; waiting for the nodes to settle");
      for (auto& h : hosts_) {
        h.eio_rate = 0;
        h.slow_until = 0;
        if (h.isolated) trace("network: %s reachable again", h.name);
        h.isolated = false;
      }
      for (auto& r : resources_) r->quiesce();
    }
    const auto all_settled = [this] {
      for (auto& r : resources_) {
        if (!r->settled()) return false;
      }
      return true;
    };
    if (quiet_ && all_settled()) break;
    if (quiet_ && now_ - settle_start > kSettleLimitUs) {
      std::string s;
      for (auto& r : resources_) {
        if (r->settled()) continue;
        if (!s.empty()) s += "; ";
        if (three()) s += r->name_ + ": ";
        s += r->status_text(r->nodes_[0]) + "; " + r->status_text(r->nodes_[1]);
        for (auto& n : r->nodes_) {
          if (n.active_requests > 0) s += "; " + std::string(n.name) + " has unanswered requests";
        }
      }
      fail("no convergence within 120 simulated seconds after faults stopped: " + s);
    }
  }
  if (result_.ok) {
    for (auto& r : resources_) r->final_check();
  }
  result_.sim_time_us = now_;
  for (auto& r : resources_) result_.acknowledged_writes += r->oracle_.acknowledged();
  ring_.for_each([this](const char* line) { result_.last_trace.emplace_back(line); });
  std::signal(SIGABRT, previous);
  g_options = nullptr;
  g_trace = nullptr;
  return result_;
}

}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kAny:
      return "any";
    case Mode::kProtocolA:
      return "a";
    case Mode::kProtocolB:
      return "b";
    case Mode::kProtocolC:
      return "c";
    case Mode::kDualPrimary:
      return "dual";
  }
  return "?";
}

SimResult run_simulation(const SimOptions& options) {
  if (options.nodes != 2 && options.nodes != 3) {
    SimResult r;
    r.ok = false;
    r.failure = "only 2 or 3 nodes are simulated";
    return r;
  }
  auto sim = std::make_unique<Cluster>(options);
  return sim->run();
}

std::string replay_command(const SimOptions& o) {
  std::string cmd = "tandem-sim --seed " + std::to_string(o.seed) + " --steps " +
                    std::to_string(o.steps) + " --nodes " + std::to_string(o.nodes);
  if (o.mode != Mode::kAny) cmd += std::string(" --mode ") + mode_name(o.mode);
  if (o.break_ack) cmd += " --break-ack";
  if (o.break_activity_log) cmd += " --break-activity-log";
  if (o.volatile_cache) cmd += " --volatile-cache";
  if (o.crash_busy_primary) cmd += " --crash-busy-primary";
  if (o.demote_busy_primary) cmd += " --demote-busy-primary";
  if (o.attach_on_primary) cmd += " --attach-on-primary";
  if (o.strict_b) cmd += " --strict-protocol-b";
  if (o.connect_while_down) cmd += " --connect-while-down";
  if (o.invalidate_anytime) cmd += " --invalidate-anytime";
  if (o.promote_during_handshake) cmd += " --promote-during-handshake";
  if (o.attach_during_handshake) cmd += " --attach-during-handshake";
  if (o.down_busy_secondary) cmd += " --down-busy-secondary";
  if (o.crash_primary_in_md_write) cmd += " --crash-primary-in-metadata-write";
  return cmd + " --trace";
}

}  // namespace tandem::sim
