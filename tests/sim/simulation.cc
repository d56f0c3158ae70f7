#include "simulation.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <type_traits>

#include "core/replicator.h"
#include "net/frame.h"
#include "sim_oracle.h"

namespace tandem::sim {
namespace {

using core::Action;
using core::ConnState;
using core::DiskState;
using core::ReplState;
using core::Role;

constexpr uint64_t kDiskBytes = 64 * 1024;
constexpr size_t kTraceKeep = 50;
constexpr uint64_t kMs = 1000;  // simulated time is in microseconds
constexpr uint64_t kSettleLimitUs = 120'000 * kMs;

// The simulation that is running, for the abort handler: a core invariant
// aborts the process, and the run must still say how to replay it.
const SimOptions* g_options = nullptr;
const std::deque<std::string>* g_trace = nullptr;

void on_abort(int) {
  if (g_options != nullptr && g_trace != nullptr) {
    std::fprintf(stderr, "\nSIMULATION ABORTED (core invariant); last trace events:\n");
    for (const auto& line : *g_trace) std::fprintf(stderr, "  %s\n", line.c_str());
    std::fprintf(stderr, "replay: %s\n", replay_command(*g_options).c_str());
  }
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

std::string frame_name(net::FrameType t) {
  static constexpr const char* kNames[] = {
      "?",          "Hello",       "AuthChallenge", "AuthResponse", "AuthVerdict", "NodeState",
      "Ping",       "PingAck",     "Write",         "RecvAck",      "WriteAck",    "Barrier",
      "BarrierAck", "ReadRequest", "ReadReply",     "ResyncData",   "ResyncAck",   "Disconnect"};
  const auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "?";
}

const char* io_name(core::LocalIoKind k) {
  return k == core::LocalIoKind::kWrite  ? "write"
         : k == core::LocalIoKind::kRead ? "read"
                                         : "flush";
}

struct AppRequest {
  enum class Kind { kWrite, kRead, kFlush } kind = Kind::kWrite;
  uint64_t offset = 0;
  std::vector<std::byte> buffer;
  uint64_t write_id = 0;
  std::vector<uint64_t> floor;  // reads: acknowledged-write floor at submission
  bool check_read = false;
  bool acked_early = false;  // negative control only
};

struct Node {
  int index = 0;
  std::string name;
  std::unique_ptr<core::Replicator> core;
  uint64_t incarnation = 0;
  bool up = true;
  std::vector<std::byte> image = std::vector<std::byte>(kDiskBytes);    // what reads see
  std::vector<std::byte> durable = std::vector<std::byte>(kDiskBytes);  // what a power cut keeps
  core::Metadata md_durable;
  bool md_blocked = false;  // a metadata write is in flight: the runtime waits for it
  std::deque<Action> queued;
  std::deque<std::function<void()>> deferred;
  std::map<uint64_t, core::SubmitIo> ios;
  uint64_t timer_gen[core::kTimerCount] = {};
  std::map<uint64_t, AppRequest> requests;
  uint64_t next_request = 1;
  bool missed_acked = false;  // an acknowledged write may be missing here
  double eio_rate = 0;
  std::vector<Action> scratch;
};

struct Event {
  uint64_t at = 0;
  uint64_t seq = 0;
  std::function<void()> fn;
  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& o) : opt_(o), rng_(o.seed), oracle_(kDiskBytes) {}
  SimResult run();

 private:
  // ---- plumbing
  uint64_t rand(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(double p) { return static_cast<double>(rng_() % 1'000'000) < p * 1'000'000; }
  void at(uint64_t delay, std::function<void()> fn) {
    queue_.push(Event{now_ + delay, next_seq_++, std::move(fn)});
  }
  void trace(const std::string& line);
  void fail(const std::string& what);
  core::ReplicatorConfig config(int i);
  std::string status_text(const Node& n) const;

  // ---- node runtime
  void call(Node& n, std::function<void(core::Replicator&)> fn);
  void execute(Node& n);
  void run_action(Node& n, Action& a);
  void start_node(Node& n, bool first);
  void crash(Node& n);
  void attach(Node& n);
  void complete_io(Node& n, uint64_t inc, uint64_t io_id);
  void complete_request(Node& n, uint64_t id, int error);
  void acknowledge(Node& n, AppRequest& r, int error);

  // ---- network
  void send(int from, std::vector<std::byte> bytes);
  void schedule_delivery(int from, std::vector<std::byte> bytes);
  void drop_link(const std::string& reason, int notify_mask);
  void maybe_establish();

  // ---- drivers
  void workload_tick();
  void fault_tick();
  void settle_tick();
  void promote(Node& n, bool force);
  void check();
  bool settled();

  const SimOptions& opt_;
  std::mt19937_64 rng_;
  WriteOracle oracle_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t logical_ = 1;  // order of application submissions and completions
  Node nodes_[2];
  bool quiet_ = false;  // faults stopped
  SimResult result_;
  std::deque<std::string> ring_;

  // The peer connection: one TCP-like stream per direction.
  bool link_up_ = false;
  bool establish_pending_ = false;
  uint64_t link_gen_ = 0;
  bool partitioned_ = false;
  uint64_t last_delivery_[2] = {};
  uint64_t stall_until_[2] = {};
  std::deque<std::vector<std::byte>> held_[2];  // sent during a partition
  size_t in_flight_frames_ = 0;
};

void Simulation::trace(const std::string& line) {
  std::string full = "t=" + std::to_string(now_) + "us " + line;
  for (char c : full) {
    result_.trace_hash = (result_.trace_hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  if (opt_.print_trace) std::printf("%s\n", full.c_str());
  ring_.push_back(std::move(full));
  if (ring_.size() > kTraceKeep) ring_.pop_front();
}

void Simulation::fail(const std::string& what) {
  if (!result_.ok) return;
  trace("INVARIANT VIOLATED: " + what);
  result_.ok = false;
  result_.failure = what;
}

core::ReplicatorConfig Simulation::config(int i) {
  core::ReplicatorConfig c;
  c.resource = "r0";
  c.local_node = i == 0 ? "alpha" : "beta";
  c.local_node_id = static_cast<uint32_t>(i + 1);
  c.peer_node = i == 0 ? "beta" : "alpha";
  c.protocol = core::WireProtocol::kC;
  c.ping_int_ms = 1000;
  c.ping_timeout_ms = 500;
  c.timeout_ms = 600;
  c.ko_count = 4;
  c.resync_chunk_bytes = 16 * 1024;
  c.resync_max_in_flight = 3;
  c.uuid_seed = rng_();
  return c;
}

std::string Simulation::status_text(const Node& n) const {
  if (!n.up) return n.name + " down";
  const core::Status s = n.core->status();
  return n.name + " " + std::string(to_string(s.role)) + " " + std::string(to_string(s.disk)) +
         "/" + std::string(to_string(s.peer_disk)) + " " + std::string(to_string(s.conn)) + " " +
         std::string(to_string(s.repl)) + (n.missed_acked ? " (may lack acknowledged writes)" : "");
}

// ---------------------------------------------------------------- node runtime

void Simulation::call(Node& n, std::function<void(core::Replicator&)> fn) {
  if (!n.up) return;
  if (n.md_blocked) {
    // The runtime writes metadata synchronously: nothing reaches the core
    // until that write is on the disk.
    const uint64_t inc = n.incarnation;
    n.deferred.push_back([this, &n, inc, fn = std::move(fn)]() {
      if (n.up && n.incarnation == inc) call(n, fn);
    });
    return;
  }
  fn(*n.core);
  execute(n);
}

void Simulation::execute(Node& n) {
  n.core->take_actions(n.scratch);
  for (auto& a : n.scratch) n.queued.push_back(std::move(a));
  n.scratch.clear();
  while (!n.queued.empty() && !n.md_blocked && n.up && result_.ok) {
    Action a = std::move(n.queued.front());
    n.queued.pop_front();
    run_action(n, a);
  }
  while (!n.md_blocked && !n.deferred.empty() && n.up) {
    auto fn = std::move(n.deferred.front());
    n.deferred.pop_front();
    fn();
  }
}

void Simulation::run_action(Node& n, Action& action) {
  std::visit(
      [&](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, core::SendFrame>) {
          std::vector<std::byte> bytes;
          const auto* msg = reinterpret_cast<const std::byte*>(a.message.data());
          auto r = net::encode_frame(a.type, a.flags, {msg, a.message.size()},
                                     {a.payload, a.payload_length}, bytes);
          if (!r.ok()) return fail(n.name + ": core emitted an unencodable frame");
          send(n.index, std::move(bytes));
        } else if constexpr (std::is_same_v<T, core::SubmitIo>) {
          if (a.offset + a.length > kDiskBytes) return fail(n.name + ": I/O beyond the disk");
          n.ios[a.io_id] = a;
          const uint64_t inc = n.incarnation;
          const uint64_t id = a.io_id;
          at(10 + rand(3000), [this, &n, inc, id] { complete_io(n, inc, id); });
        } else if constexpr (std::is_same_v<T, core::CompleteRequest>) {
          complete_request(n, a.request_id, a.error);
        } else if constexpr (std::is_same_v<T, core::PersistMetadata>) {
          n.md_blocked = true;
          const uint64_t inc = n.incarnation;
          core::Metadata md = a.metadata;
          at(50 + rand(1000), [this, &n, inc, md] {
            if (!n.up || n.incarnation != inc) return;
            n.md_durable = md;
            n.md_blocked = false;
            execute(n);
          });
        } else if constexpr (std::is_same_v<T, core::ArmTimer>) {
          const auto t = static_cast<size_t>(a.timer);
          const uint64_t gen = ++n.timer_gen[t];
          const uint64_t inc = n.incarnation;
          const core::TimerId id = a.timer;
          at(a.after_ms * kMs, [this, &n, inc, gen, t, id] {
            if (!n.up || n.incarnation != inc || n.timer_gen[t] != gen) return;
            call(n, [id](core::Replicator& c) { c.on_timer(id); });
          });
        } else if constexpr (std::is_same_v<T, core::CancelTimer>) {
          ++n.timer_gen[static_cast<size_t>(a.timer)];
        } else if constexpr (std::is_same_v<T, core::CloseConnection>) {
          trace(n.name + " closes the connection: " + a.reason);
          if (link_up_) drop_link("connection reset by peer", 1 << (1 - n.index));
        } else if constexpr (std::is_same_v<T, core::StateChanged>) {
          trace(n.name + " " + a.what + " [" + status_text(n) + "]");
        }
      },
      action);
}

void Simulation::complete_io(Node& n, uint64_t inc, uint64_t io_id) {
  if (!n.up || n.incarnation != inc) return;
  auto it = n.ios.find(io_id);
  if (it == n.ios.end()) return;
  const core::SubmitIo io = it->second;
  n.ios.erase(it);
  // A disk error is injected only while the peer holds every acknowledged
  // write and receives the new ones: failing the only copy would be a second
  // fault (e.g. a broken link plus a disk error) that no mirror survives.
  const Node& other = nodes_[1 - n.index];
  const auto established = [](const Node& m) {
    const core::Status s = m.core->status();
    return s.conn == ConnState::kConnected && s.repl == ReplState::kEstablished;
  };
  const bool redundant = link_up_ && other.up && !other.missed_acked && established(n) &&
                         established(other) && other.core->status().disk == DiskState::kUpToDate;
  const int error = !quiet_ && redundant && n.eio_rate > 0 && chance(n.eio_rate) ? EIO : 0;
  trace(n.name + " disk " + io_name(io.kind) + " @" + std::to_string(io.offset) + "+" +
        std::to_string(io.length) + (error == 0 ? " done" : " EIO"));
  if (error == 0) {
    if (io.kind == core::LocalIoKind::kWrite) {
      std::memcpy(n.image.data() + io.offset, io.data, io.length);
      if (!opt_.volatile_cache || io.fua) {
        std::memcpy(n.durable.data() + io.offset, io.data, io.length);
      }
      if (opt_.break_ack) {
        // Negative control: tell the application its write is done now.
        for (auto& [rid, r] : n.requests) {
          if (r.kind == AppRequest::Kind::kWrite && r.buffer.data() == io.data && !r.acked_early) {
            r.acked_early = true;
            acknowledge(n, r, 0);
          }
        }
      }
    } else if (io.kind == core::LocalIoKind::kRead) {
      std::memcpy(io.data, n.image.data() + io.offset, io.length);
    } else {
      n.durable = n.image;
    }
  }
  call(n, [io_id, error](core::Replicator& c) { c.on_io_complete(io_id, error); });
}

void Simulation::acknowledge(Node& n, AppRequest& r, int error) {
  oracle_.end_write(r.write_id, error, logical_++);
  trace(n.name + " app write #" + std::to_string(r.write_id) + " done: " + std::to_string(error));
  if (error != 0) return;
  Node& other = nodes_[1 - n.index];
  // Judged on both sides' state after the whole event, which already shows
  // a connection loss that completed this write on the local result alone.
  const auto established = [](const Node& m) {
    const core::Status s = m.core->status();
    return s.conn == ConnState::kConnected && s.repl == ReplState::kEstablished;
  };
  const bool other_has_it = link_up_ && other.up && established(n) && established(other) &&
                            other.core->status().disk == DiskState::kUpToDate;
  if (!other_has_it) {
    other.missed_acked = true;
    // This disk now holds the only copy: a disk error here would be a second
    // fault, which no replication can survive. Faults stay single.
    if (n.eio_rate > 0) trace(n.name + " disk error injection off (only copy)");
    n.eio_rate = 0;
  }
}

void Simulation::complete_request(Node& n, uint64_t id, int error) {
  auto it = n.requests.find(id);
  if (it == n.requests.end()) return fail(n.name + ": completion of unknown request");
  AppRequest& r = it->second;
  if (r.kind == AppRequest::Kind::kWrite) {
    if (!r.acked_early) acknowledge(n, r, error);
  } else if (r.kind == AppRequest::Kind::kRead) {
    trace(n.name + " app read @" + std::to_string(r.offset) + "+" +
          std::to_string(r.buffer.size()) + " done: " + std::to_string(error));
    if (error == 0 && r.check_read) {
      std::string v = oracle_.check_range(r.buffer, r.offset, r.floor);
      if (!v.empty()) fail(n.name + " served stale data to a read: " + v);
    }
  } else {
    trace(n.name + " app flush done: " + std::to_string(error));
  }
  n.requests.erase(it);
}

void Simulation::start_node(Node& n, bool first) {
  n.up = true;
  ++n.incarnation;
  n.core = std::make_unique<core::Replicator>(config(n.index));
  n.md_blocked = false;
  n.queued.clear();
  n.deferred.clear();
  n.ios.clear();
  const core::Metadata md = n.md_durable;
  trace(n.name + (first ? " starts" : " restarts") + " with metadata current=" +
        std::to_string(md.current_uuid) + (md.up_to_date ? " up-to-date" : ""));
  call(n, [md](core::Replicator& c) {
    auto r = c.attach(core::DiskInfo{kDiskBytes, md});
    (void)r;
    (void)c.connect();
  });
}

void Simulation::attach(Node& n) {
  // The metadata is read when the attach runs, which may be after a
  // metadata write in flight has finished (the call may be deferred).
  call(n, [&n](core::Replicator& c) { (void)c.attach(core::DiskInfo{kDiskBytes, n.md_durable}); });
}

void Simulation::crash(Node& n) {
  ++result_.crashes;
  trace(n.name + " POWER CUT (" + std::to_string(n.ios.size()) + " I/Os in flight" +
        (n.md_blocked ? ", metadata write lost" : "") + ")");
  for (auto& [id, io] : n.ios) {
    if (io.kind != core::LocalIoKind::kWrite) continue;
    // A write in flight is torn at sector granularity.
    for (uint64_t s = 0; s < io.length / kSector; ++s) {
      if (chance(0.5)) {
        std::memcpy(n.durable.data() + io.offset + s * kSector, io.data + s * kSector, kSector);
      }
    }
  }
  n.image = n.durable;
  n.ios.clear();
  n.queued.clear();
  n.deferred.clear();
  n.requests.clear();  // the application died with the node
  n.up = false;
  ++n.incarnation;
  n.core.reset();
  if (link_up_) drop_link("peer " + n.name + " lost power", 1 << (1 - n.index));
  establish_pending_ = false;
  at(50 * kMs + rand(1000 * kMs), [this, &n] { start_node(n, false); });
}

// ---------------------------------------------------------------- network

void Simulation::send(int from, std::vector<std::byte> bytes) {
  if (!link_up_) return;  // no connection: the bytes go nowhere
  if (partitioned_) {
    held_[from].push_back(std::move(bytes));
    return;
  }
  schedule_delivery(from, std::move(bytes));
}

void Simulation::schedule_delivery(int from, std::vector<std::byte> bytes) {
  // In order within the connection, as TCP delivers.
  uint64_t when = std::max({now_ + 20 + rand(500), last_delivery_[from], stall_until_[from]});
  last_delivery_[from] = when;
  const uint64_t gen = link_gen_;
  ++in_flight_frames_;
  auto shared = std::make_shared<std::vector<std::byte>>(std::move(bytes));
  at(when - now_, [this, from, gen, shared] {
    --in_flight_frames_;
    if (!link_up_ || link_gen_ != gen) return;
    net::FrameDecoder dec;
    dec.feed(*shared);
    auto r = dec.next();
    if (!r.ok() || !r->has_value()) return fail("a frame did not decode");
    auto frame = std::make_shared<net::Frame>(std::move(**r));
    trace(nodes_[1 - from].name + " <- " + frame_name(frame->header.type) +
          (frame->payload.empty() ? "" : " +" + std::to_string(frame->payload.size()) + "B"));
    call(nodes_[1 - from], [frame](core::Replicator& c) { c.on_frame(std::move(*frame)); });
  });
}

void Simulation::drop_link(const std::string& reason, int notify_mask) {
  link_up_ = false;
  ++link_gen_;
  held_[0].clear();
  held_[1].clear();
  trace("link down: " + reason);
  for (int i = 0; i < 2; ++i) {
    if ((notify_mask & (1 << i)) == 0) continue;
    call(nodes_[i], [reason](core::Replicator& c) { c.on_connection_lost(reason); });
  }
}

void Simulation::maybe_establish() {
  if (link_up_ || establish_pending_ || partitioned_) return;
  for (auto& n : nodes_) {
    if (!n.up || n.core->status().conn != ConnState::kConnecting) return;
  }
  establish_pending_ = true;
  at(1 * kMs + rand(5 * kMs), [this] {
    establish_pending_ = false;
    if (link_up_ || partitioned_) return;
    for (auto& n : nodes_) {
      if (!n.up || n.core->status().conn != ConnState::kConnecting) return;
    }
    link_up_ = true;
    ++link_gen_;
    last_delivery_[0] = last_delivery_[1] = now_;
    trace("link up (handshake done)");
    for (auto& n : nodes_) call(n, [](core::Replicator& c) { c.on_connection_established(1); });
  });
}

// ---------------------------------------------------------------- drivers

void Simulation::promote(Node& n, bool force) {
  if (!n.up || n.md_blocked) return;  // the lambda below must run now
  bool ok = false;
  std::string err;
  call(n, [&](core::Replicator& c) {
    auto r = c.promote(force);
    ok = r.ok();
    if (!ok) err = r.error().message;
  });
  trace("admin: " + n.name + " primary" + (force ? " --force" : "") + ": " + (ok ? "ok" : err));
  if (ok && (force || n.missed_acked)) {
    // The administrator chose this node's data: what it lacks is given up.
    oracle_.rebase(n.image);
    n.missed_acked = false;
    nodes_[1 - n.index].missed_acked = true;
    trace("model: data of record is now " + n.name + "'s disk");
  }
}

void Simulation::workload_tick() {
  if (!quiet_) at(200 + rand(2 * kMs), [this] { workload_tick(); });
  for (auto& n : nodes_) {
    if (!n.up || n.md_blocked || n.core->status().role != Role::kPrimary) continue;
    if (n.requests.size() >= 6) continue;
    const uint64_t id = n.next_request++;
    AppRequest& r = n.requests[id];
    const uint64_t pick = rand(10);
    const uint64_t sectors = kDiskBytes / kSector;
    r.offset = rand(sectors) * kSector;
    const uint64_t len = std::min<uint64_t>(1 + rand(16), sectors - r.offset / kSector) * kSector;
    if (pick < 6) {
      r.kind = AppRequest::Kind::kWrite;
      r.buffer.resize(len);
      r.write_id = oracle_.begin_write(r.offset, static_cast<uint32_t>(len), logical_++);
      WriteOracle::stamp(r.write_id, r.offset, r.buffer);
      const bool fua = chance(0.1);
      trace(n.name + " app write #" + std::to_string(r.write_id) + " @" + std::to_string(r.offset) +
            "+" + std::to_string(len) + (fua ? " fua" : ""));
      call(n, [&r, id, fua](core::Replicator& c) {
        c.submit_write(id, r.offset,
                       core::ConstBuffer{r.buffer.data(), static_cast<uint32_t>(r.buffer.size())},
                       fua);
      });
    } else if (pick < 9) {
      r.kind = AppRequest::Kind::kRead;
      r.buffer.assign(len, std::byte{0xEE});
      r.check_read = !n.missed_acked;
      r.floor = oracle_.floor_snapshot(r.offset, static_cast<uint32_t>(len));
      trace(n.name + " app read @" + std::to_string(r.offset) + "+" + std::to_string(len));
      call(n, [&r, id](core::Replicator& c) {
        c.submit_read(id, r.offset,
                      core::MutableBuffer{r.buffer.data(), static_cast<uint32_t>(r.buffer.size())});
      });
    } else {
      r.kind = AppRequest::Kind::kFlush;
      trace(n.name + " app flush");
      call(n, [id](core::Replicator& c) { c.submit_flush(id); });
    }
  }
}

void Simulation::fault_tick() {
  if (quiet_) return;
  at(5 * kMs + rand(40 * kMs), [this] { fault_tick(); });
  Node& n = nodes_[rand(2)];
  const uint64_t pick = rand(100);
  if (pick < 20) {
    Node* primary = nullptr;
    for (auto& m : nodes_) {
      if (m.up && m.core->status().role == Role::kPrimary) primary = &m;
    }
    if (primary != nullptr) {
      // An application with requests in flight holds the device open;
      // DRBD refuses to demote then. --demote-busy-primary tries anyway.
      const bool busy = !primary->requests.empty();
      if (chance(0.3) && !primary->md_blocked && (!busy || opt_.demote_busy_primary)) {
        bool ok = false;
        call(*primary, [&](core::Replicator& c) { ok = c.demote().ok(); });
        trace("admin: " + primary->name + " secondary: " + (ok ? "ok" : "refused"));
      }
      return;
    }
    // Prefer a node that has every acknowledged write; a stale one only
    // when the other is down, as an administrator would after a crash.
    Node& other = nodes_[1 - n.index];
    Node& pick_node = (n.missed_acked && other.up && !other.missed_acked) ? other : n;
    const bool peer_down = !nodes_[1 - pick_node.index].up;
    promote(pick_node, false);
    if (pick_node.up && pick_node.core->status().role != Role::kPrimary && peer_down) {
      promote(pick_node, true);
    }
  } else if (pick < 30) {
    if (!n.up) return;
    if (n.core->status().conn == ConnState::kStandAlone) {
      const bool discard = n.missed_acked && nodes_[1 - n.index].up && chance(0.7);
      call(n, [discard](core::Replicator& c) { (void)c.connect(discard); });
      trace("admin: " + n.name + " connect" + (discard ? " --discard-my-data" : ""));
    } else if (chance(0.3)) {
      call(n, [](core::Replicator& c) { (void)c.disconnect(); });
      trace("admin: " + n.name + " disconnect");
    }
  } else if (pick < 42) {
    if (link_up_) drop_link("connection reset (injected)", 3);
  } else if (pick < 50) {
    if (!partitioned_) {
      partitioned_ = true;
      trace("network partition");
      at(100 * kMs + rand(3000 * kMs), [this] {
        if (!partitioned_) return;
        partitioned_ = false;
        trace("network heals");
        for (int d = 0; d < 2; ++d) {
          auto held = std::move(held_[d]);
          held_[d].clear();
          for (auto& b : held) schedule_delivery(d, std::move(b));
        }
      });
    }
  } else if (pick < 62) {
    const int dir = static_cast<int>(rand(2));
    stall_until_[dir] = now_ + rand(1500 * kMs);
    trace("network stall from " + nodes_[dir].name +
          " until t=" + std::to_string(stall_until_[dir]));
  } else if (pick < 70) {
    if (!n.up || !nodes_[1 - n.index].up) return;
    // The core has no crash recovery for a primary's in-flight writes yet
    // (no activity log): see docs/simulation.md, --crash-busy-primary.
    const bool busy_primary = n.core->status().role == Role::kPrimary &&
                              std::any_of(n.requests.begin(), n.requests.end(), [](auto& r) {
                                return r.second.kind == AppRequest::Kind::kWrite;
                              });
    if (!busy_primary || opt_.crash_busy_primary) crash(n);
  } else if (pick < 76) {
    const Node& other = nodes_[1 - n.index];
    n.eio_rate = n.eio_rate > 0 || !other.up || other.missed_acked ? 0 : 0.05;
    trace(n.name + " disk error injection " + (n.eio_rate > 0 ? "on" : "off"));
  } else if (pick < 82) {
    // A primary that re-attaches comes back Inconsistent and keeps taking
    // writes if the link then breaks (docs/simulation.md); unless
    // --attach-on-primary, the administrator re-attaches secondaries only.
    if (n.up && n.core->status().disk == DiskState::kDiskless &&
        (n.core->status().role != Role::kPrimary || opt_.attach_on_primary)) {
      attach(n);
      trace("admin: " + n.name + " attach");
    }
  }
}

void Simulation::settle_tick() {
  at(100 * kMs, [this] { settle_tick(); });
  for (auto& n : nodes_) {
    if (!n.up) continue;
    const core::Status s = n.core->status();
    if (s.disk == DiskState::kDiskless && n.ios.empty()) {
      attach(n);
      trace("settle: " + n.name + " attach");
    }
    if (s.conn == ConnState::kStandAlone) {
      const bool discard = n.missed_acked;
      call(n, [discard](core::Replicator& c) { (void)c.connect(discard); });
      trace(std::string("settle: ") + n.name + " connect" + (discard ? " --discard-my-data" : ""));
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

bool Simulation::settled() {
  if (in_flight_frames_ > 0 || !link_up_) return false;
  for (auto& n : nodes_) {
    if (!n.up || n.md_blocked || !n.ios.empty() || !n.requests.empty() || !n.core->idle()) {
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

void Simulation::check() {
  const auto in_sync = [](const Node& m) {
    if (!m.up) return false;
    const core::Status s = m.core->status();
    return s.disk == DiskState::kUpToDate && s.conn == ConnState::kConnected &&
           s.repl == ReplState::kEstablished && s.peer_disk == DiskState::kUpToDate;
  };
  for (auto& n : nodes_) {
    if (!n.up) continue;
    const core::Status s = n.core->status();
    // Both sides see each other UpToDate over a live link: this node must
    // hold everything now. (One side alone may not have noticed yet that
    // the link is gone, e.g. while it waits for a metadata write.)
    if (link_up_ && in_sync(n) && in_sync(nodes_[1 - n.index])) n.missed_acked = false;
    if (s.disk == DiskState::kUpToDate && !n.missed_acked) {
      std::string v = oracle_.check_disk(n.image);
      if (!v.empty()) return fail(n.name + " reports UpToDate, yet " + v);
    }
  }
  // Never "Connected UpToDate/UpToDate" over different data once nothing
  // is in flight.
  if (in_flight_frames_ == 0 && nodes_[0].up && nodes_[1].up && nodes_[0].ios.empty() &&
      nodes_[1].ios.empty() && !nodes_[0].md_blocked && !nodes_[1].md_blocked &&
      nodes_[0].core->idle() && nodes_[1].core->idle()) {
    const core::Status a = nodes_[0].core->status();
    const core::Status b = nodes_[1].core->status();
    if (a.conn == ConnState::kConnected && b.conn == ConnState::kConnected &&
        a.repl == ReplState::kEstablished && b.repl == ReplState::kEstablished &&
        a.disk == DiskState::kUpToDate && b.disk == DiskState::kUpToDate &&
        nodes_[0].image != nodes_[1].image) {
      for (uint64_t s = 0; s < kDiskBytes / kSector; ++s) {
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

SimResult Simulation::run() {
  g_options = &opt_;
  g_trace = &ring_;
  auto previous = std::signal(SIGABRT, on_abort);
  for (int i = 0; i < 2; ++i) {
    nodes_[i].index = i;
    nodes_[i].name = i == 0 ? "alpha" : "beta";
  }
  // Half of the runs start from two identical disks of record, the other
  // half from never-synced disks that need an initial full sync.
  const bool synced_start = chance(0.5);
  if (synced_start) {
    core::Metadata md;
    md.current_uuid = 0x5EED0000 + opt_.seed;
    md.consistent = md.up_to_date = true;
    nodes_[0].md_durable = nodes_[1].md_durable = md;
  }
  for (auto& n : nodes_) start_node(n, true);
  at(10 * kMs, [this, synced_start] { promote(nodes_[rand(2)], !synced_start); });
  at(20 * kMs, [this] { workload_tick(); });
  at(30 * kMs, [this] { fault_tick(); });

  uint64_t settle_start = 0;
  while (!queue_.empty() && result_.ok) {
    Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    e.fn();
    ++result_.events;
    if (!result_.ok) break;
    maybe_establish();
    check();
    if (!quiet_ && result_.events >= opt_.steps) {
      quiet_ = true;
      settle_start = now_;
      trace("faults stop; waiting for the nodes to settle");
      for (auto& n : nodes_) n.eio_rate = 0;
      stall_until_[0] = stall_until_[1] = 0;
      if (partitioned_) {
        partitioned_ = false;
        for (int d = 0; d < 2; ++d) {
          auto held = std::move(held_[d]);
          held_[d].clear();
          for (auto& b : held) schedule_delivery(d, std::move(b));
        }
      }
      at(100 * kMs, [this] { settle_tick(); });
    }
    if (quiet_ && settled()) break;
    if (quiet_ && now_ - settle_start > kSettleLimitUs) {
      std::string s = status_text(nodes_[0]) + "; " + status_text(nodes_[1]);
      for (auto& n : nodes_) {
        if (!n.requests.empty()) s += "; " + n.name + " has unanswered application requests";
      }
      fail("no convergence within 120 simulated seconds after faults stopped: " + s);
    }
  }
  if (result_.ok) {
    if (nodes_[0].image != nodes_[1].image) {
      fail("replicas differ after faults stopped and sync finished");
    }
    for (auto& n : nodes_) {
      std::string v = oracle_.check_disk(n.image);
      if (!v.empty()) fail(n.name + " at quiescence: " + v);
    }
    if (result_.ok) trace("settled: replicas identical, every acknowledged write present");
  }
  result_.sim_time_us = now_;
  result_.acknowledged_writes = oracle_.acknowledged();
  result_.last_trace.assign(ring_.begin(), ring_.end());
  std::signal(SIGABRT, previous);
  g_options = nullptr;
  g_trace = nullptr;
  return result_;
}

}  // namespace

SimResult run_simulation(const SimOptions& options) {
  Simulation sim(options);
  return sim.run();
}

std::string replay_command(const SimOptions& o) {
  std::string cmd = "tandem-sim --seed " + std::to_string(o.seed) + " --steps " +
                    std::to_string(o.steps) + " --nodes " + std::to_string(o.nodes);
  if (o.break_ack) cmd += " --break-ack";
  if (o.volatile_cache) cmd += " --volatile-cache";
  if (o.crash_busy_primary) cmd += " --crash-busy-primary";
  if (o.demote_busy_primary) cmd += " --demote-busy-primary";
  if (o.attach_on_primary) cmd += " --attach-on-primary";
  return cmd + " --trace";
}

}  // namespace tandem::sim
