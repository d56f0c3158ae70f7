#include "daemon/resource_runtime.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <variant>

#include "common/log.h"
#include "daemon/handler_environment.h"
#include "daemon/resync_options.h"
#include "daemon/superblock_metadata.h"

namespace tandem::daemon {
namespace {

// Largest request the core takes in one piece (one frame payload).
constexpr uint32_t kMaxRequestBytes = net::kMaxPayloadBytes;

uint64_t random_u64() {
  uint64_t v = 0;
  while (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
  }
  return v;
}

net::SocketAddress socket_address(const config::Address& a) {
  return {a.family == config::AddressFamily::kIpv6, a.host, a.port};
}

core::WireProtocol wire_protocol(config::Protocol p) {
  switch (p) {
    case config::Protocol::kA:
      return core::WireProtocol::kA;
    case config::Protocol::kB:
      return core::WireProtocol::kB;
    case config::Protocol::kC:
      return core::WireProtocol::kC;
  }
  return core::WireProtocol::kC;
}

// Split-brain, fencing and I/O-error policies of the resource file, in the
// core's terms. discard-local / discard-remote name this node / the peer.
void map_recovery_policies(const config::ResolvedResource& c, core::ReplicatorConfig& rc) {
  switch (c.net.after_sb_0pri) {
    case config::AfterSb0Pri::kDisconnect:
      rc.after_sb_0pri = core::AfterSb0Pri::kDisconnect;
      break;
    case config::AfterSb0Pri::kDiscardYoungerPrimary:
      rc.after_sb_0pri = core::AfterSb0Pri::kDiscardYoungerPrimary;
      break;
    case config::AfterSb0Pri::kDiscardOlderPrimary:
      rc.after_sb_0pri = core::AfterSb0Pri::kDiscardOlderPrimary;
      break;
    case config::AfterSb0Pri::kDiscardZeroChanges:
      rc.after_sb_0pri = core::AfterSb0Pri::kDiscardZeroChanges;
      break;
    case config::AfterSb0Pri::kDiscardLeastChanges:
      rc.after_sb_0pri = core::AfterSb0Pri::kDiscardLeastChanges;
      break;
    case config::AfterSb0Pri::kDiscardLocal:
      rc.after_sb_0pri = core::AfterSb0Pri::kDiscardNode;
      rc.discard_node = rc.local_node;
      break;
    case config::AfterSb0Pri::kDiscardRemote:
      rc.after_sb_0pri = core::AfterSb0Pri::kDiscardNode;
      rc.discard_node = rc.peer_node;
      break;
    case config::AfterSb0Pri::kDiscardNode:
      rc.after_sb_0pri = core::AfterSb0Pri::kDiscardNode;
      rc.discard_node = c.net.after_sb_0pri_node;
      break;
  }
  switch (c.net.after_sb_1pri) {
    case config::AfterSb1Pri::kDisconnect:
      rc.after_sb_1pri = core::AfterSb1Pri::kDisconnect;
      break;
    case config::AfterSb1Pri::kConsensus:
      rc.after_sb_1pri = core::AfterSb1Pri::kConsensus;
      break;
    case config::AfterSb1Pri::kViolentlyAs0p:
      rc.after_sb_1pri = core::AfterSb1Pri::kViolentlyAs0p;
      break;
    case config::AfterSb1Pri::kDiscardSecondary:
      rc.after_sb_1pri = core::AfterSb1Pri::kDiscardSecondary;
      break;
    case config::AfterSb1Pri::kCallPriLostAfterSb:
      rc.after_sb_1pri = core::AfterSb1Pri::kCallPriLostAfterSb;
      break;
  }
  switch (c.net.after_sb_2pri) {
    case config::AfterSb2Pri::kDisconnect:
      rc.after_sb_2pri = core::AfterSb2Pri::kDisconnect;
      break;
    case config::AfterSb2Pri::kViolentlyAs0p:
      rc.after_sb_2pri = core::AfterSb2Pri::kViolentlyAs0p;
      break;
    case config::AfterSb2Pri::kCallPriLostAfterSb:
      rc.after_sb_2pri = core::AfterSb2Pri::kCallPriLostAfterSb;
      break;
  }
  switch (c.net.rr_conflict) {
    case config::RrConflict::kDisconnect:
    case config::RrConflict::kAutoDiscard:  // not supported: the safe choice
      rc.rr_conflict = core::RrConflict::kDisconnect;
      break;
    case config::RrConflict::kRetryConnect:
      rc.rr_conflict = core::RrConflict::kRetryConnect;
      break;
    case config::RrConflict::kViolently:
      rc.rr_conflict = core::RrConflict::kViolently;
      break;
    case config::RrConflict::kCallPriLost:
      rc.rr_conflict = core::RrConflict::kCallPriLost;
      break;
  }
  const config::DiskOptions& disk = c.volumes()[0].disk_options;
  switch (disk.fencing) {
    case config::Fencing::kDontCare:
      rc.fencing = core::FencingPolicy::kDontCare;
      break;
    case config::Fencing::kResourceOnly:
      rc.fencing = core::FencingPolicy::kResourceOnly;
      break;
    case config::Fencing::kResourceAndStonith:
      rc.fencing = core::FencingPolicy::kResourceAndStonith;
      break;
  }
  switch (disk.on_io_error) {
    case config::OnIoError::kPassOn:
      rc.on_io_error = core::OnIoError::kPassOn;
      break;
    case config::OnIoError::kDetach:
      rc.on_io_error = core::OnIoError::kDetach;
      break;
    case config::OnIoError::kCallLocalIoError:
      rc.on_io_error = core::OnIoError::kCallLocalIoError;
      break;
  }
}

}  // namespace

Result<std::unique_ptr<ResourceRuntime>> ResourceRuntime::create(EventLoop& loop,
                                                                 config::ResolvedResource config,
                                                                 std::string run_dir) {
  const std::string res = "resource " + config.name;
  if (config.peers.size() != 1) {
    return make_error(res + " (" + config.location.to_string() + ") has " +
                      std::to_string(config.peers.size() + 1) +
                      " hosts: tandem mirrors between exactly two hosts per resource");
  }
  if (config.volumes().size() != 1) {
    return make_error(res + " (" + config.location.to_string() + ") has " +
                      std::to_string(config.volumes().size()) +
                      " volumes on this host: tandemd runs exactly one volume per resource");
  }
  if (config.this_host.address.port == 0 || config.peers[0].address.port == 0) {
    return make_error(res + ": both hosts need an `address` line to connect");
  }
  core::ReplicatorConfig check;
  if (auto r = apply_resync_options(config, check); !r) return r.error();
  return std::unique_ptr<ResourceRuntime>(
      new ResourceRuntime(loop, std::move(config), std::move(run_dir)));
}

ResourceRuntime::ResourceRuntime(EventLoop& loop, config::ResolvedResource config,
                                 std::string run_dir)
    : loop_(loop), config_(std::move(config)), run_dir_(std::move(run_dir)), handlers_(loop) {
  build_core();
  build_link();
}

void ResourceRuntime::build_core() {
  const config::ResolvedHost& me = config_.this_host;
  const config::ResolvedHost& peer = config_.peers[0];
  const config::NetOptions& net = config_.net;

  core::ReplicatorConfig rc;
  rc.resource = config_.name;
  rc.local_node = me.names[0];
  rc.local_node_id = me.node_id.value_or(0);
  rc.peer_node = peer.names[0];
  rc.protocol = wire_protocol(net.protocol);
  rc.allow_two_primaries = net.allow_two_primaries;
  rc.ping_int_ms = net.ping_int * 1000;
  rc.ping_timeout_ms = net.ping_timeout * 100;
  rc.timeout_ms = net.timeout * 100;
  rc.ko_count = net.ko_count;
  rc.uuid_seed = random_u64();
  map_recovery_policies(config_, rc);
  (void)apply_resync_options(config_, rc);  // checked in create()
  core_ = std::make_unique<core::Replicator>(rc);
}

void ResourceRuntime::build_link() {
  const config::ResolvedHost& me = config_.this_host;
  const config::ResolvedHost& peer = config_.peers[0];
  const config::NetOptions& net = config_.net;
  net::PeerLinkConfig lc;
  lc.handshake.resource = config_.name;
  lc.handshake.local_node = me.names[0];
  lc.handshake.local_node_id = me.node_id.value_or(0);
  lc.handshake.peer_node = peer.names[0];
  lc.handshake.shared_secret = net.shared_secret;
  lc.handshake.hmac_alg = net.cram_hmac_alg.empty() ? "sha256" : net.cram_hmac_alg;
  lc.peer_node_id = peer.node_id.value_or(0);
  lc.listen = socket_address(me.address);
  lc.peer = socket_address(peer.address);
  lc.connect_interval = std::chrono::seconds(std::max<uint32_t>(net.connect_int, 1));
  lc.handshake_timeout = std::chrono::milliseconds(std::max<uint32_t>(net.timeout * 100, 1000));
  lc.sndbuf_bytes = net.sndbuf_size;
  lc.rcvbuf_bytes = net.rcvbuf_size;
  link_ = std::make_unique<net::PeerLink>(
      loop_, lc,
      net::PeerLink::Callbacks{
          .established =
              [this](const net::LinkEstablished& info) {
                const uint32_t protocol = info.protocol;
                into_core([this, protocol] { core_->on_connection_established(protocol); });
              },
          .frame =
              [this](net::Frame&& frame) {
                if (!executing_) {
                  core_->on_frame(std::move(frame));
                  drain();
                  return;
                }
                auto f = std::make_shared<net::Frame>(std::move(frame));
                deferred_.push_back([this, f] { core_->on_frame(std::move(*f)); });
              },
          .lost =
              [this](const std::string& reason) {
                into_core([this, reason] { core_->on_connection_lost(reason); });
              },
      });
}

ResourceRuntime::~ResourceRuntime() {
  *alive_ = false;
  export_.reset();
  link_.reset();  // no callbacks from here on
  for (auto& [id, timer] : timers_) loop_.cancel_timer(timer);
  if (rate_timer_ != 0) loop_.cancel_timer(rate_timer_);
  if (bitmap_timer_ != 0) loop_.cancel_timer(bitmap_timer_);
  finish_detach();
}

std::string ResourceRuntime::nbd_socket_path() const {
  std::string path = run_dir_;
  if (path.empty() || path.back() != '/') path += '/';
  return path + config_.name + ".nbd";
}

// ---- admin verbs

Result<void> ResourceRuntime::attach() {
  if (disk_) {
    return make_error(who() + ": already attached to " + disk_->path());
  }
  auto disk = AttachedDisk::open(config_.name, config_.volumes()[0],
                                 config_.volumes()[0].disk_options.md_flushes);
  if (!disk) return disk.error();
  auto data = DataPath::open(loop_, (*disk)->path(), who());
  if (!data) return data.error();
  core::DiskInfo info;
  info.size_bytes = (*disk)->usable_bytes() / core::kSectorBytes * core::kSectorBytes;
  info.metadata = metadata_of((*disk)->superblock());
  info.out_of_sync = (*disk)->out_of_sync_ranges(info.size_bytes);
  info.unclean = (*disk)->unclean();
  disk_ = std::move(disk).value();
  data_ = std::move(data).value();
  gate_ = std::make_unique<ActivityLogGate>(
      loop_, *disk_, who(),
      [this](const core::SubmitIo& io, bool al_held) { issue_io(io, al_held); },
      [this](uint64_t io_id, int error) {
        core_->on_io_complete(io_id, error);
        drain();
      });
  if (auto r = core_->attach(info); !r) {
    // Nothing was written: leave the metadata as clean as it was found.
    if (auto c = disk_->close_clean(); !c) TLOG(LOG_ERR, "%s", c.error().message.c_str());
    gate_.reset();
    data_.reset();
    disk_.reset();
    drain();
    return r;
  }
  attached_unclean_ = info.unclean;
  if (info.unclean) {
    TLOG(LOG_WARNING,
         "%s: %s was not detached cleanly (crash or kill -9): %zu activity-log extent(s) of 4 "
         "MiB were hot and are now marked out of sync",
         who().c_str(), disk_->path().c_str(), disk_->recovered_extents().size());
  }
  uint64_t oos = 0;
  for (const auto& [off, len] : info.out_of_sync) oos += len;
  TLOG(LOG_NOTICE, "%s: attached %s (%llu bytes of data, %llu KiB out of sync, %s)", who().c_str(),
       disk_->path().c_str(), static_cast<unsigned long long>(info.size_bytes),
       static_cast<unsigned long long>(oos / 1024), data_->direct() ? "O_DIRECT" : "buffered I/O");
  drain();
  start_export();
  return {};
}

Result<void> ResourceRuntime::detach() {
  if (!disk_) return {};
  stop_export();
  if (auto r = core_->detach(); !r) {
    start_export();
    return r;
  }
  drain();
  if (core_->status().disk == core::DiskState::kDiskless) finish_detach();
  return {};
}

void ResourceRuntime::finish_detach() {
  if (!disk_) return;
  // Data first (fdatasync): the activity log may be emptied and al-clean
  // set only once the data it protected is durable, also when the metadata
  // is on another device.
  data_.reset();
  if (gate_ && gate_->idle()) {
    // Every write finished: empty the log and mark the metadata clean.
    if (auto r = disk_->close_clean(); !r) TLOG(LOG_ERR, "%s", r.error().message.c_str());
  } else {
    // Writes still in flight (the daemon is stopping with a hung device):
    // keep the log as it is, so the next attach resyncs its hot extents.
    if (auto r = disk_->write_dirty_bitmap(); !r) {
      TLOG(LOG_ERR, "%s", r.error().message.c_str());
    }
    TLOG(LOG_WARNING, "%s: detached with writes in flight: the next attach treats it as unclean",
         who().c_str());
  }
  if (gate_) al_transactions_before_ += gate_->counters().transactions;
  TLOG(LOG_NOTICE, "%s: detached from %s", who().c_str(), disk_->path().c_str());
  gate_.reset();
  disk_.reset();
  if (bitmap_timer_ != 0) {
    loop_.cancel_timer(bitmap_timer_);
    bitmap_timer_ = 0;
  }
}

Result<void> ResourceRuntime::connect(bool discard_my_data) {
  if (auto r = core_->connect(discard_my_data); !r) return r;
  drain();
  if (auto r = link_->start(); !r) {
    (void)core_->disconnect();
    drain();
    last_state_error_ = r.error().message;  // what status shows, not "disconnected"
    return r;
  }
  return {};
}

Result<void> ResourceRuntime::disconnect() {
  if (auto r = core_->disconnect(); !r) return r;
  drain();
  link_->stop("disconnected by the administrator");
  drain();
  return {};
}

Result<void> ResourceRuntime::primary(bool force) {
  auto r = core_->promote(force, 0);
  drain();
  return r;
}

Result<void> ResourceRuntime::secondary() {
  if (export_ && export_->connection_count() > 0) {
    return make_error(who() + ": cannot become secondary: " + export_->users() +
                      "; disconnect them first");
  }
  auto r = core_->demote();
  drain();
  return r;
}

Result<void> ResourceRuntime::invalidate() {
  auto r = core_->invalidate();
  drain();
  return r;
}

Result<void> ResourceRuntime::invalidate_remote() {
  auto r = core_->invalidate_remote();
  drain();
  return r;
}

Result<void> ResourceRuntime::verify() {
  auto r = core_->start_verify();
  drain();
  return r;
}

Result<void> ResourceRuntime::pause_sync() {
  auto r = core_->pause_sync();
  drain();
  return r;
}

Result<void> ResourceRuntime::resume_sync() {
  auto r = core_->resume_sync();
  drain();
  return r;
}

Result<void> ResourceRuntime::resume_io() {
  auto r = core_->resume_io();
  drain();
  return r;
}

void ResourceRuntime::set_sync_dependency_paused(bool paused) {
  if (core_->status().sync_paused_dependency == paused) return;
  TLOG(LOG_INFO, "%s: resync %s (resync-after %s)", who().c_str(),
       paused ? "held: the resource it follows is syncing" : "may run again",
       resync_after().c_str());
  into_core([this, paused] { core_->set_sync_dependency_paused(paused); });
}

bool ResourceRuntime::syncing() const {
  const core::ReplState r = core_->status().repl;
  return r == core::ReplState::kSyncSource || r == core::ReplState::kSyncTarget;
}

Result<void> ResourceRuntime::up() {
  if (!disk_) {
    if (auto r = attach(); !r) return r;
  }
  if (core_->status().conn == core::ConnState::kStandAlone) {
    if (auto r = connect(false); !r) return r;
  }
  return {};
}

namespace {

// Options the peer link takes (a change needs a reconnect).
bool link_options_differ(const config::ResolvedResource& a, const config::ResolvedResource& b) {
  return a.net.shared_secret != b.net.shared_secret || a.net.cram_hmac_alg != b.net.cram_hmac_alg ||
         a.net.connect_int != b.net.connect_int || a.net.timeout != b.net.timeout ||
         a.net.sndbuf_size != b.net.sndbuf_size || a.net.rcvbuf_size != b.net.rcvbuf_size ||
         a.this_host.address != b.this_host.address || a.peers[0].address != b.peers[0].address;
}

// Options the replication core takes (a change needs a new core: only
// while Secondary, through a detach and attach).
std::vector<std::string> core_options_changed(const config::ResolvedResource& a,
                                              const config::ResolvedResource& b) {
  std::vector<std::string> out;
  const config::NetOptions& x = a.net;
  const config::NetOptions& y = b.net;
  auto check = [&](bool differs, const char* name) {
    if (differs) out.emplace_back(name);
  };
  check(x.protocol != y.protocol, "protocol");
  check(x.allow_two_primaries != y.allow_two_primaries, "allow-two-primaries");
  check(x.after_sb_0pri != y.after_sb_0pri, "after-sb-0pri");
  check(x.after_sb_1pri != y.after_sb_1pri, "after-sb-1pri");
  check(x.after_sb_2pri != y.after_sb_2pri, "after-sb-2pri");
  check(x.rr_conflict != y.rr_conflict, "rr-conflict");
  check(x.ping_int != y.ping_int, "ping-int");
  check(x.ping_timeout != y.ping_timeout, "ping-timeout");
  check(x.timeout != y.timeout, "timeout");
  check(x.ko_count != y.ko_count, "ko-count");
  check(x.csums_alg != y.csums_alg, "csums-alg");
  check(x.verify_alg != y.verify_alg, "verify-alg");
  check(x.max_buffers != y.max_buffers, "max-buffers");
  check(x.data_integrity_alg != y.data_integrity_alg, "data-integrity-alg");
  const config::DiskOptions& d = a.volumes()[0].disk_options;
  const config::DiskOptions& e = b.volumes()[0].disk_options;
  check(d.on_io_error != e.on_io_error, "on-io-error");
  check(d.fencing != e.fencing, "fencing");
  check(d.resync_rate != e.resync_rate || d.c_plan_ahead != e.c_plan_ahead ||
            d.c_fill_target != e.c_fill_target || d.c_delay_target != e.c_delay_target ||
            d.c_max_rate != e.c_max_rate || d.c_min_rate != e.c_min_rate,
        "resync rate (resync-rate, c-*)");
  check(a.this_host.node_id != b.this_host.node_id || a.peers[0].node_id != b.peers[0].node_id,
        "node-id");
  check(a.this_host.names != b.this_host.names || a.peers[0].names != b.peers[0].names,
        "host names");
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Result<void> ResourceRuntime::adjust(const config::ResolvedResource& file,
                                     std::vector<std::string>& notes) {
  const std::string res = who();
  if (file.peers.size() != 1 || file.volumes().size() != 1) {
    return make_error(res + ": the file now has " + std::to_string(file.peers.size() + 1) +
                      " hosts and " + std::to_string(file.volumes().size()) +
                      " volumes on this host; tandemd runs two hosts and one volume per "
                      "resource: fix " +
                      file.location.to_string());
  }
  core::ReplicatorConfig check;
  if (auto r = apply_resync_options(file, check); !r) return r;

  const config::ResolvedVolume& ov = config_.volumes()[0];
  const config::ResolvedVolume& nv = file.volumes()[0];
  if (ov.device != nv.device) {
    notes.push_back(res + ": device (frontend) changed: run `tandemadm down " + config_.name +
                    "` and restart tandemd to apply it");
  }
  if (ov.disk_options.al_extents != nv.disk_options.al_extents) {
    notes.push_back(res +
                    ": al-extents is fixed when the metadata is created (create-md); the "
                    "running value stays");
  }
  const bool disk_changed = ov.disk != nv.disk || ov.meta_disk != nv.meta_disk ||
                            ov.disk_options.md_flushes != nv.disk_options.md_flushes;
  const std::vector<std::string> core_changes = core_options_changed(config_, file);
  const bool link_changed = link_options_differ(config_, file);
  const core::Status st = core_->status();
  const bool attached = disk_ != nullptr;
  const bool connecting = st.conn != core::ConnState::kStandAlone;

  // Applied at once: they are read when used.
  if (config_.handlers != file.handlers) notes.push_back(res + ": handlers updated");
  if (ov.disk_options.resync_after != nv.disk_options.resync_after) {
    notes.push_back(res + ": resync-after is now '" + nv.disk_options.resync_after + "'");
  }
  config_.handlers = file.handlers;
  config_.this_host.volumes[0].disk_options.resync_after = nv.disk_options.resync_after;

  bool rebuilt = false;
  if (!core_changes.empty() || disk_changed) {
    std::vector<std::string> what = core_changes;
    if (disk_changed) what.emplace_back("disk/meta-disk/md-flushes");
    if (st.role == core::Role::kPrimary) {
      notes.push_back(res + ": " + joined(what) +
                      " changed, but this node is Primary and keeps the running settings: run "
                      "`tandemadm secondary " +
                      config_.name + "` and `tandemadm adjust " + config_.name +
                      "` again (or down and up) to apply them");
    } else if (export_ && export_->connection_count() > 0) {
      notes.push_back(res + ": " + joined(what) + " changed, but " +
                      std::to_string(export_->connection_count()) + " NBD client(s) use " +
                      export_->path() + ": disconnect them and run `tandemadm adjust " +
                      config_.name + "` again");
    } else {
      // A Secondary gives its disk and connection up and takes them again
      // with the new settings; what the peer writes meanwhile is marked out
      // of sync there and resynced at the reconnect.
      if (connecting) {
        if (auto r = disconnect(); !r) return r;
      }
      if (attached) {
        if (auto r = detach(); !r) return r;
        if (disk_) {
          return make_error(res + ": cannot apply " + joined(what) +
                            " yet: local I/O is still in flight; run `tandemadm adjust " +
                            config_.name + "` again");
        }
      }
      for (auto& [id, timer] : timers_) loop_.cancel_timer(timer);
      timers_.clear();
      link_.reset();
      config_ = file;
      build_core();
      build_link();
      rebuilt = true;
      notes.push_back(res + ": applied " + joined(what) +
                      (attached || connecting ? " (detached, re-attached and reconnected)" : ""));
      if (attached) {
        if (auto r = attach(); !r) return r;
      }
      if (connecting) {
        if (auto r = connect(false); !r) return r;
      }
    }
  }
  if (link_changed && !rebuilt) {
    config_.net.shared_secret = file.net.shared_secret;
    config_.net.cram_hmac_alg = file.net.cram_hmac_alg;
    config_.net.connect_int = file.net.connect_int;
    config_.net.sndbuf_size = file.net.sndbuf_size;
    config_.net.rcvbuf_size = file.net.rcvbuf_size;
    config_.this_host.address = file.this_host.address;
    config_.peers[0].address = file.peers[0].address;
    if (connecting) {
      if (auto r = disconnect(); !r) return r;
    }
    link_.reset();
    build_link();
    notes.push_back(res + (connecting ? ": reconnecting with the new net options"
                                      : ": new net options take effect at the next connect"));
    if (connecting) {
      if (auto r = connect(false); !r) return r;
    }
  }
  if (!disk_) {
    if (auto r = attach(); !r) return r;
    notes.push_back(res + ": attached " + disk_->path());
  }
  if (core_->status().conn == core::ConnState::kStandAlone) {
    if (auto r = connect(false); !r) return r;
    notes.push_back(res + ": connecting to " + config_.peers[0].address.to_string());
  }
  return {};
}

void ResourceRuntime::shutdown() {
  // The daemon is stopping: no more application I/O, then give up the role,
  // the connection and the disk in the order the core accepts them.
  stop_export();
  if (core_->status().role == core::Role::kPrimary) {
    if (auto r = core_->demote(); !r) TLOG(LOG_WARNING, "%s", r.error().message.c_str());
    drain();
  }
  (void)core_->disconnect();
  drain();
  link_->stop("tandemd is stopping");
  drain();
  if (disk_) {
    if (auto r = core_->detach(); !r) TLOG(LOG_WARNING, "%s", r.error().message.c_str());
    drain();
  }
}

bool ResourceRuntime::io_idle() const {
  return core_->idle();
}

void ResourceRuntime::close_disk() {
  finish_detach();
}

Result<void> ResourceRuntime::down() {
  if (core_->status().role == core::Role::kPrimary) {
    return make_error(who() + ": cannot go down while Primary: run `tandemadm secondary " +
                      config_.name + "` first");
  }
  if (auto r = disconnect(); !r) return r;
  return detach();
}

// ---- executing the core's actions

void ResourceRuntime::into_core(std::function<void()> event) {
  if (executing_) {
    // A SendFrame later in the running batch may point into a core buffer
    // that is valid only until the next call into the core: run the event
    // after the batch.
    deferred_.push_back(std::move(event));
    return;
  }
  event();
  drain();
}

void ResourceRuntime::drain() {
  if (draining_) return;
  draining_ = true;
  std::vector<core::Action> batch;
  while (true) {
    if (core_->has_actions()) {
      core_->take_actions(batch);
      batch_began_ = Clock::now();
      batch_persist_seconds_ = 0;
      executing_ = true;
      for (core::Action& a : batch) execute(a);
      executing_ = false;
      write_bitmap_if_due();
      continue;
    }
    if (!deferred_.empty()) {
      std::vector<std::function<void()>> events;
      events.swap(deferred_);
      for (auto& e : events) e();
      continue;
    }
    break;
  }
  draining_ = false;
  // Application requests in flight: their completions (disk, peer) are
  // due soon; busy poll for them rather than sleep (EventLoop).
  if (!requests_.empty()) loop_.poll_next_wait();
}

void ResourceRuntime::execute(core::Action& action) {
  if (auto* f = std::get_if<core::SendFrame>(&action)) {
    if (!link_->connected()) return;  // the core learns of the loss from the link
    auto r = link_->send(f->type, f->flags,
                         std::as_bytes(std::span(f->message.data(), f->message.size())),
                         std::span(f->payload, f->payload_length));
    if (!r) TLOG(LOG_WARNING, "%s", r.error().message.c_str());
  } else if (auto* io = std::get_if<core::SubmitIo>(&action)) {
    submit_io(*io);
  } else if (auto* done = std::get_if<core::CompleteRequest>(&action)) {
    uint64_t request_id = done->request_id;
    int error = done->error;
    if (auto part = part_of_.find(request_id); part != part_of_.end()) {
      // One piece of a split request: the request ends with its last piece,
      // failed if any piece failed.
      request_id = part->second;
      part_of_.erase(part);
      auto parent = requests_.find(request_id);
      if (parent == requests_.end()) return;
      AppRequest& p = parent->second;
      if (p.first_error == 0) p.first_error = error;
      --p.parts_pending;
      if (p.first_error == 0 && p.next_part < p.end) {
        into_core([this, request_id] { submit_zero_parts(request_id); });
        return;
      }
      if (p.parts_pending > 0) return;
      error = p.first_error;
    }
    auto it = requests_.find(request_id);
    if (it == requests_.end()) return;
    AppRequest req = std::move(it->second);
    requests_.erase(it);
    if (req.request.op != nbd::BlockOp::kRead) req.request.data.clear();
    if (error == EROFS && !logged_write_refusal_) {
      // Once per Secondary period: a client retrying must not flood the log.
      logged_write_refusal_ = true;
      TLOG(LOG_WARNING,
           "%s: refusing writes from NBD clients: this node is Secondary (run `tandemadm "
           "primary %s` to write here)",
           who().c_str(), config_.name.c_str());
    }
    loop_.poll_next_wait();  // the application's next request is likely soon
    if (export_) export_->complete(req.connection, std::move(req.request), error);
  } else if (auto* mark = std::get_if<core::MarkOutOfSync>(&action)) {
    if (disk_) disk_->mark_out_of_sync(mark->offset, mark->length);
  } else if (auto* clear = std::get_if<core::ClearOutOfSync>(&action)) {
    if (disk_) {
      disk_->mark_in_sync(clear->offset, clear->length);
      schedule_bitmap_write();
    }
  } else if (auto* md = std::get_if<core::PersistMetadata>(&action)) {
    persist(md->metadata);
  } else if (auto* arm = std::get_if<core::ArmTimer>(&action)) {
    arm_timer(arm->timer, arm->after_ms);
  } else if (auto* cancel = std::get_if<core::CancelTimer>(&action)) {
    cancel_timer(cancel->timer);
  } else if (auto* close = std::get_if<core::CloseConnection>(&action)) {
    last_state_error_ = close->reason;
    if (close->reconnect) {
      link_->drop_connection(close->reason);
    } else {
      link_->stop(close->reason);
    }
  } else if (auto* change = std::get_if<core::StateChanged>(&action)) {
    on_state_changed(*change);
  } else if (auto* handler = std::get_if<core::RunHandler>(&action)) {
    run_handler(*handler);
  } else if (auto* event = std::get_if<core::LogEvent>(&action)) {
    TLOG(static_cast<uint8_t>(event->priority), "%s", event->text.c_str());
  }
}

void ResourceRuntime::submit_io(const core::SubmitIo& io) {
  if (!disk_) {
    std::weak_ptr<bool> alive = alive_;
    const uint64_t id = io.io_id;
    loop_.add_timer(std::chrono::milliseconds(0), [this, alive, id] {
      if (alive.expired()) return;
      core_->on_io_complete(id, EIO);
      drain();
    });
    return;
  }
  if (io.kind == core::LocalIoKind::kWrite) {
    gate_->submit_write(io);  // issue_io() now or once the extent is hot
    return;
  }
  issue_io(io, false);
}

void ResourceRuntime::issue_io(const core::SubmitIo& io, bool al_held) {
  std::weak_ptr<bool> alive = alive_;
  const uint64_t id = io.io_id;
  EventLoop::FileOp op = EventLoop::FileOp::kRead;
  switch (io.kind) {
    case core::LocalIoKind::kRead:
      op = EventLoop::FileOp::kRead;
      break;
    case core::LocalIoKind::kWrite:
      op = EventLoop::FileOp::kWrite;
      break;
    case core::LocalIoKind::kFlush:
      op = EventLoop::FileOp::kFsync;
      break;
  }
  const bool is_flush = io.kind == core::LocalIoKind::kFlush;
  const bool is_write = io.kind == core::LocalIoKind::kWrite;
  const uint32_t length = io.length;
  const uint64_t offset = io.offset;
  data_->submit(op, io.data, length, offset, io.fua,
                [this, alive, id, length, offset, is_flush, is_write, al_held](int32_t res) {
                  if (alive.expired()) return;
                  int error = 0;
                  if (res < 0) {
                    error = -res;
                  } else if (!is_flush && static_cast<uint32_t>(res) != length) {
                    error = EIO;  // short transfer: the device ended early
                  }
                  if (error != 0) {
                    TLOG(LOG_ERR, "%s: local I/O of %u bytes at offset %llu on %s failed: %s",
                         who().c_str(), length, static_cast<unsigned long long>(offset),
                         disk_ ? disk_->path().c_str() : "?", std::strerror(error));
                  }
                  if (is_write && gate_) gate_->write_done(offset, length, al_held);
                  core_->on_io_complete(id, error);
                  drain();
                });
}

void ResourceRuntime::write_bitmap_if_due() {
  if (!disk_ || !disk_->bitmap_write_due()) return;
  // Bits set outside hot activity-log extents: a crash would lose them.
  if (auto r = disk_->write_dirty_bitmap(); !r) TLOG(LOG_ERR, "%s", r.error().message.c_str());
}

void ResourceRuntime::schedule_bitmap_write() {
  // Cleared bits: at most one write of the changed pages a second.
  if (bitmap_timer_ != 0) return;
  std::weak_ptr<bool> alive = alive_;
  bitmap_timer_ = loop_.add_timer(std::chrono::milliseconds(1000), [this, alive] {
    if (alive.expired()) return;
    bitmap_timer_ = 0;
    if (!disk_ || !disk_->bitmap_dirty()) return;
    if (auto r = disk_->write_dirty_bitmap_unflushed(); !r) {
      TLOG(LOG_ERR, "%s", r.error().message.c_str());
    }
  });
}

void ResourceRuntime::run_handler(const core::RunHandler& run) {
  const uint64_t handler_id = run.handler_id;
  const std::string name(core::to_string(run.handler));
  auto it = config_.handlers.find(name);
  if (it == config_.handlers.end() || it->second.empty()) {
    TLOG(LOG_INFO, "%s: no %s handler configured", who().c_str(), name.c_str());
    into_core(
        [this, handler_id] { core_->on_handler_done(handler_id, core::kHandlerNotConfigured); });
    return;
  }
  HandlerCommand cmd;
  cmd.command = it->second;
  cmd.env = handler_environment(config_, config_path_, name);
  cmd.timeout = handler_timeout_;
  cmd.label = who() + ": handler " + name;
  running_handlers_.push_back(name);
  std::weak_ptr<bool> alive = alive_;
  handlers_.start(std::move(cmd), [this, alive, handler_id, name](const HandlerResult& r) {
    if (alive.expired()) return;
    if (auto pos = std::find(running_handlers_.begin(), running_handlers_.end(), name);
        pos != running_handlers_.end()) {
      running_handlers_.erase(pos);
    }
    const int code = r.exited ? r.exit_code : core::kHandlerFailed;
    into_core([this, handler_id, code] { core_->on_handler_done(handler_id, code); });
  });
}

void ResourceRuntime::persist(const core::Metadata& md) {
  if (!disk_) return;
  const auto began = Clock::now();
  storage::Superblock sb = disk_->superblock();
  apply_metadata(sb, md);
  if (auto r = disk_->write_dirty_bitmap(); !r) {
    TLOG(LOG_ERR, "%s", r.error().message.c_str());
  }
  if (auto r = disk_->write_superblock(sb); !r) {
    TLOG(LOG_ERR, "%s", r.error().message.c_str());
  }
  batch_persist_seconds_ += std::chrono::duration<double>(Clock::now() - began).count();
}

void ResourceRuntime::on_state_changed(const core::StateChanged& change) {
  TLOG(LOG_NOTICE, "%s", change.what.c_str());
  const core::Status& s = change.status;
  if (s.role == core::Role::kPrimary) logged_write_refusal_ = false;
  if (disk_ && s.conn == core::ConnState::kConnected && s.repl == core::ReplState::kEstablished) {
    // The sync handshake has compared both nodes since the unclean attach
    // (and any resync it started is over): a clean stop may say clean again.
    disk_->mark_recovered();
  }
  if (on_change_) {
    // The daemon's resync-after check calls into other resources: not from
    // inside this one's action batch.
    std::weak_ptr<bool> alive = alive_;
    loop_.add_timer(std::chrono::milliseconds(0), [this, alive] {
      if (!alive.expired() && on_change_) on_change_();
    });
  }
  const bool syncing =
      s.repl == core::ReplState::kSyncSource || s.repl == core::ReplState::kSyncTarget;
  if (syncing && !sync_running_) {
    sync_running_ = true;
    sync_began_ = Clock::now();
  } else if (!syncing && sync_running_) {
    sync_running_ = false;
    log_sync_end(s);
  }
  if (syncing && rate_timer_ == 0) {
    rate_last_done_ = s.sync_done_bytes;
    rate_last_time_ = Clock::now();
    rate_bytes_per_sec_ = 0;
    rate_timer_ = loop_.add_timer(std::chrono::milliseconds(1000), [this] { sample_sync_rate(); });
  } else if (!syncing && rate_timer_ != 0) {
    loop_.cancel_timer(rate_timer_);
    rate_timer_ = 0;
  }
  if (s.disk == core::DiskState::kDiskless && disk_) {
    // The core gave the disk up (detach, or an I/O error with on-io-error
    // detach) after its last I/O finished. This may run inside the export's
    // own call stack, so close the disk from the loop. The export stays:
    // after an I/O error the application keeps its device, served by the
    // peer (an administrative detach has closed the export already).
    std::weak_ptr<bool> alive = alive_;
    loop_.add_timer(std::chrono::milliseconds(0), [this, alive] {
      if (alive.expired() || core_->status().disk != core::DiskState::kDiskless) return;
      finish_detach();
    });
  }
}

// As DRBD's "Resync done (total N sec ...)": how long the sync took and
// its rate (1 MB = 10^6 bytes), until the core took it for done; then how
// long writing the metadata that records the end took (with its flush, it
// is when the data synced is known to be on stable storage). Or how far an
// interrupted sync got.
void ResourceRuntime::log_sync_end(const core::Status& s) {
  // A sync that began and ended in one batch took no time.
  const double secs =
      std::max(0.0, std::chrono::duration<double>(batch_began_ - sync_began_).count());
  const unsigned long long done_kib = s.sync_done_bytes / 1024;
  if (s.conn == core::ConnState::kConnected && s.sync_done_bytes >= s.sync_total_bytes) {
    TLOG(LOG_INFO, "%s: resync done: %llu KiB in %.3f s (%.1f MB/s), metadata written in %.3f s",
         who().c_str(), done_kib, secs,
         secs > 0 ? static_cast<double>(s.sync_done_bytes) / 1e6 / secs : 0.0,
         batch_persist_seconds_);
  } else {
    TLOG(LOG_INFO, "%s: resync stopped after %.3f s with %llu of %llu KiB done", who().c_str(),
         secs, done_kib, static_cast<unsigned long long>(s.sync_total_bytes / 1024));
  }
}

void ResourceRuntime::sample_sync_rate() {
  rate_timer_ = 0;
  const core::Status s = core_->status();
  const auto now = Clock::now();
  const double secs = std::chrono::duration<double>(now - rate_last_time_).count();
  if (secs > 0 && s.sync_done_bytes >= rate_last_done_) {
    rate_bytes_per_sec_ =
        static_cast<uint64_t>(static_cast<double>(s.sync_done_bytes - rate_last_done_) / secs);
  }
  rate_last_done_ = s.sync_done_bytes;
  rate_last_time_ = now;
  if (s.repl == core::ReplState::kSyncSource || s.repl == core::ReplState::kSyncTarget) {
    rate_timer_ = loop_.add_timer(std::chrono::milliseconds(1000), [this] { sample_sync_rate(); });
  }
}

void ResourceRuntime::arm_timer(core::TimerId id, uint32_t after_ms) {
  cancel_timer(id);
  const auto key = static_cast<uint8_t>(id);
  timers_[key] = loop_.add_timer(std::chrono::milliseconds(after_ms), [this, id, key] {
    timers_.erase(key);
    core_->on_timer(id);
    drain();
  });
}

void ResourceRuntime::cancel_timer(core::TimerId id) {
  auto it = timers_.find(static_cast<uint8_t>(id));
  if (it == timers_.end()) return;
  loop_.cancel_timer(it->second);
  timers_.erase(it);
}

// ---- NBD export

void ResourceRuntime::start_export() {
  if (export_ || !disk_) return;
  nbd::ExportInfo info;
  info.name = config_.name;
  info.description = "tandem resource " + config_.name;
  info.size = core_->status().size_bytes;
  info.read_only = false;  // the core refuses writes while Secondary (EROFS -> EPERM)
  info.can_multi_conn = false;
  info.limits.minimum = core::kSectorBytes;
  info.limits.preferred = 4096;
  info.limits.maximum = kMaxRequestBytes;
  auto e = DeviceExport::start(
      loop_, {run_dir_, config_.name, config_.volumes()[0].device, std::move(info), who()},
      [this](uint64_t conn, nbd::BlockRequest&& r) { on_nbd_request(conn, std::move(r)); },
      [this] { return core_->status().role == core::Role::kPrimary; });
  if (!e) {
    TLOG(LOG_ERR, "%s", e.error().message.c_str());
    last_state_error_ = e.error().message;
    return;
  }
  export_ = std::move(e).value();
}

void ResourceRuntime::stop_export() {
  export_.reset();
}

void ResourceRuntime::on_nbd_request(uint64_t connection, nbd::BlockRequest&& request) {
  if (executing_) {
    // Handed over by the export while it delivers a completion of the
    // running batch: submit it to the core after the batch.
    auto r = std::make_shared<nbd::BlockRequest>(std::move(request));
    deferred_.push_back([this, connection, r] { on_nbd_request(connection, std::move(*r)); });
    return;
  }
  if (request.op == nbd::BlockOp::kTrim) {
    // A hint the client may send; the data stays as it is on both nodes,
    // which the protocol allows.
    export_->complete(connection, std::move(request), 0);
    return;
  }
  const uint64_t id = next_request_id_++;
  AppRequest& slot = requests_[id];
  slot.connection = connection;
  slot.request = std::move(request);
  nbd::BlockRequest& r = slot.request;
  switch (r.op) {
    case nbd::BlockOp::kRead:
      r.data.resize(r.length);
      core_->submit_read(id, r.offset, core::MutableBuffer{r.data.data(), r.length});
      break;
    case nbd::BlockOp::kWriteZeroes:
      if (r.length == 0) {  // nothing to split: done
        AppRequest done = std::move(slot);
        requests_.erase(id);
        export_->complete(done.connection, std::move(done.request), 0);
        return;
      }
      slot.next_part = r.offset;
      slot.end = r.offset + r.length;
      submit_zero_parts(id);
      break;
    case nbd::BlockOp::kWrite:
      core_->submit_write(id, r.offset, core::ConstBuffer{r.data.data(), r.length}, r.fua);
      break;
    case nbd::BlockOp::kFlush:
      core_->submit_flush(id);
      break;
    case nbd::BlockOp::kTrim:
      break;
  }
  drain();
}

void ResourceRuntime::submit_zero_parts(uint64_t id) {
  // NBD bounds write-zeroes only by the export size; the core takes at most
  // one frame payload per write. Send it in pieces, a few at a time so that
  // a huge request cannot flood the peer link; the pieces share one buffer
  // of zeroes (the core never modifies write data).
  static const std::vector<std::byte> zeroes(kMaxRequestBytes);
  constexpr uint32_t kPartsInFlight = 8;
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  AppRequest& r = it->second;
  const bool fua = r.request.fua;
  while (r.parts_pending < kPartsInFlight && r.next_part < r.end) {
    const uint64_t part = next_request_id_++;
    const uint64_t at = r.next_part;
    const auto len = static_cast<uint32_t>(std::min<uint64_t>(kMaxRequestBytes, r.end - at));
    r.next_part += len;
    ++r.parts_pending;
    part_of_[part] = id;
    // May complete at once (and re-enter nothing: completions are actions).
    core_->submit_write(part, at, core::ConstBuffer{zeroes.data(), len}, fua);
  }
}

// ---- status

proto::ResourceStatus ResourceRuntime::status() const {
  const core::Status s = core_->status();
  proto::ResourceStatus out;
  out.set_name(config_.name);
  out.set_role(std::string(core::to_string(s.role)));
  out.set_disk(std::string(core::to_string(s.disk)));
  out.set_connection(std::string(core::to_string(s.conn)));
  out.set_peer_node(config_.peers[0].names[0]);
  out.set_peer_role(std::string(core::to_string(s.peer_role)));
  out.set_peer_disk(std::string(core::to_string(s.peer_disk)));
  out.set_replication(std::string(core::to_string(s.repl)));
  out.set_size_bytes(s.size_bytes);
  out.set_sync_total_bytes(s.sync_total_bytes);
  out.set_sync_done_bytes(s.sync_done_bytes);
  out.set_sync_rate_bytes_per_sec(rate_bytes_per_sec_);
  out.set_out_of_sync_bytes(s.out_of_sync_bytes);
  std::string err = link_->last_error();
  if (s.conn == core::ConnState::kStandAlone && !last_state_error_.empty()) err = last_state_error_;
  out.set_last_error(err);
  if (export_) out.set_nbd_socket(export_->path());
  if (disk_) out.set_backing_device(disk_->path());
  out.set_sync_bytes_sent(s.sync_bytes_sent);
  out.set_sync_bytes_received(s.sync_bytes_received);
  out.set_verify_running(s.verify_running);
  out.set_verify_total_bytes(s.verify_total_bytes);
  out.set_verify_done_bytes(s.verify_done_bytes);
  out.set_verify_mismatch_bytes(s.verify_mismatch_bytes);
  out.set_sync_paused_user(s.sync_paused_user);
  out.set_sync_paused_peer(s.sync_paused_peer);
  out.set_sync_paused_dependency(s.sync_paused_dependency);
  out.set_resync_after(resync_after());
  out.set_io_suspended(s.io_suspended);
  out.set_csums_equal_bytes(s.csums_equal_bytes);
  out.set_csums_differ_bytes(s.csums_differ_bytes);
  out.set_al_transactions(al_transactions_before_ + (gate_ ? gate_->counters().transactions : 0));
  out.set_attached_unclean(disk_ != nullptr && attached_unclean_);
  std::string running;
  for (const auto& h : running_handlers_) running += (running.empty() ? "" : ", ") + h;
  out.set_running_handler(running);
  return out;
}

}  // namespace tandem::daemon
