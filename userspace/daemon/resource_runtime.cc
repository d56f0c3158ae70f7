#include "daemon/resource_runtime.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <variant>

#include "common/log.h"

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

core::Metadata metadata_of(const storage::Superblock& sb) {
  core::Metadata md;
  md.current_uuid = sb.gi.current;
  md.bitmap_uuid = sb.gi.bitmap;
  md.history_uuids = sb.gi.history;
  md.consistent = (sb.flags & storage::kFlagConsistent) != 0;
  md.up_to_date = md.consistent && (sb.flags & storage::kFlagWasUpToDate) != 0;
  md.outdated = md.consistent && !md.up_to_date;
  md.primary = (sb.flags & storage::kFlagPrimary) != 0;
  return md;
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
  return std::unique_ptr<ResourceRuntime>(
      new ResourceRuntime(loop, std::move(config), std::move(run_dir)));
}

ResourceRuntime::ResourceRuntime(EventLoop& loop, config::ResolvedResource config,
                                 std::string run_dir)
    : loop_(loop), config_(std::move(config)), run_dir_(std::move(run_dir)) {
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
  core_ = std::make_unique<core::Replicator>(rc);

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
  if (disk_) {
    if (auto r = disk_->write_dirty_bitmap(); !r) {
      TLOG(LOG_ERR, "%s", r.error().message.c_str());
    }
  }
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
  core::DiskInfo info;
  info.size_bytes = (*disk)->usable_bytes() / core::kSectorBytes * core::kSectorBytes;
  info.metadata = metadata_of((*disk)->superblock());
  disk_ = std::move(disk).value();
  if (auto r = core_->attach(info); !r) {
    disk_.reset();
    drain();
    return r;
  }
  TLOG(LOG_NOTICE, "%s: attached %s (%llu bytes of data)", who().c_str(), disk_->path().c_str(),
       static_cast<unsigned long long>(info.size_bytes));
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
  if (auto r = disk_->write_dirty_bitmap(); !r) {
    TLOG(LOG_ERR, "%s", r.error().message.c_str());
  }
  TLOG(LOG_NOTICE, "%s: detached from %s", who().c_str(), disk_->path().c_str());
  disk_.reset();
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

Result<void> ResourceRuntime::up() {
  if (!disk_) {
    if (auto r = attach(); !r) return r;
  }
  if (core_->status().conn == core::ConnState::kStandAlone) {
    if (auto r = connect(false); !r) return r;
  }
  return {};
}

Result<void> ResourceRuntime::adjust() {
  return up();
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
      executing_ = true;
      for (core::Action& a : batch) execute(a);
      executing_ = false;
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
    if (export_) export_->complete(req.connection, std::move(req.request), error);
  } else if (auto* mark = std::get_if<core::MarkOutOfSync>(&action)) {
    if (disk_) disk_->bitmap().mark_out_of_sync(mark->offset, mark->length);
  } else if (auto* clear = std::get_if<core::ClearOutOfSync>(&action)) {
    if (disk_) disk_->bitmap().mark_in_sync(clear->offset, clear->length);
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
  }
}

void ResourceRuntime::submit_io(const core::SubmitIo& io) {
  std::weak_ptr<bool> alive = alive_;
  const uint64_t id = io.io_id;
  if (!disk_) {
    loop_.add_timer(std::chrono::milliseconds(0), [this, alive, id] {
      if (alive.expired()) return;
      core_->on_io_complete(id, EIO);
      drain();
    });
    return;
  }
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
  const uint32_t length = io.length;
  const uint64_t offset = io.offset;
  loop_.submit_io(op, disk_->data_fd(), io.data, length, offset, io.fua,
                  [this, alive, id, length, offset, is_flush](int32_t res) {
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
                    core_->on_io_complete(id, error);
                    drain();
                  });
}

void ResourceRuntime::persist(const core::Metadata& md) {
  if (!disk_) return;
  storage::Superblock sb = disk_->superblock();
  sb.gi.current = md.current_uuid;
  sb.gi.bitmap = md.bitmap_uuid;
  sb.gi.history = md.history_uuids;
  sb.flags &= ~(storage::kFlagConsistent | storage::kFlagWasUpToDate | storage::kFlagPrimary);
  if (md.consistent) sb.flags |= storage::kFlagConsistent;
  if (md.up_to_date) sb.flags |= storage::kFlagWasUpToDate;
  if (md.primary) sb.flags |= storage::kFlagPrimary;
  if (auto r = disk_->write_dirty_bitmap(); !r) {
    TLOG(LOG_ERR, "%s", r.error().message.c_str());
  }
  if (auto r = disk_->write_superblock(sb); !r) {
    TLOG(LOG_ERR, "%s", r.error().message.c_str());
  }
}

void ResourceRuntime::on_state_changed(const core::StateChanged& change) {
  TLOG(LOG_NOTICE, "%s", change.what.c_str());
  const core::Status& s = change.status;
  if (s.role == core::Role::kPrimary) logged_write_refusal_ = false;
  const bool syncing =
      s.repl == core::ReplState::kSyncSource || s.repl == core::ReplState::kSyncTarget;
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
    // own call stack, so close it from the loop.
    std::weak_ptr<bool> alive = alive_;
    loop_.add_timer(std::chrono::milliseconds(0), [this, alive] {
      if (alive.expired() || core_->status().disk != core::DiskState::kDiskless) return;
      stop_export();
      finish_detach();
    });
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
  return out;
}

}  // namespace tandem::daemon
