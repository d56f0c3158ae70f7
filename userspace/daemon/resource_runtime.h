// One resource inside tandemd: the replication core (core::Replicator) and
// everything that executes its actions — the peer link (frames), the
// attached backing device (local I/O through the activity log, metadata,
// bitmap), the loop's timers, the handler programs — plus the NBD export
// that feeds it application requests.
//
// Every event (admin verb, frame, I/O completion, timer, NBD request) goes
// into the core, then drain() executes the actions the core returned, in
// order. Nothing here decides replication behaviour; that is the core's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "control.pb.h"
#include "core/replicator.h"
#include "daemon/activity_log_gate.h"
#include "daemon/attached_disk.h"
#include "daemon/data_path.h"
#include "daemon/device_export.h"
#include "daemon/event_loop.h"
#include "daemon/handler_process.h"
#include "net/peer_link.h"

namespace tandem::daemon {

class ResourceRuntime {
 public:
  // Fails when the resource cannot be run by this daemon (not exactly one
  // peer, bad addresses); the message names the resource and the reason.
  static Result<std::unique_ptr<ResourceRuntime>> create(EventLoop& loop,
                                                         config::ResolvedResource config,
                                                         std::string run_dir);
  // How long a handler may run before its process group is killed and the
  // core told it failed (docs/admin-guide.md, "Handlers").
  static constexpr std::chrono::seconds kHandlerTimeout{120};
  ~ResourceRuntime();
  ResourceRuntime(const ResourceRuntime&) = delete;
  ResourceRuntime& operator=(const ResourceRuntime&) = delete;

  const std::string& name() const { return config_.name; }

  Result<void> up();  // attach (unless attached) + connect (unless connecting)
  Result<void> down();
  Result<void> attach();
  Result<void> detach();
  Result<void> connect(bool discard_my_data);
  Result<void> disconnect();
  Result<void> primary(bool force);
  Result<void> secondary();
  // Brings the running state to what `file` (the resource as the reloaded
  // configuration describes it) asks for, as far as possible without data
  // loss: attach and connect when missing, reconnect with changed net
  // options, new resync/handler settings at once. `notes` says what was
  // done and what needs `down` + `up`.
  Result<void> adjust(const config::ResolvedResource& file, std::vector<std::string>& notes);
  Result<void> invalidate();
  Result<void> invalidate_remote();
  Result<void> verify();
  Result<void> pause_sync();
  Result<void> resume_sync();
  Result<void> resume_io();
  // resync-after: the daemon holds this resource's resync while the one it
  // follows syncs.
  void set_sync_dependency_paused(bool paused);
  const std::string& resync_after() const { return config_.volumes()[0].disk_options.resync_after; }
  bool syncing() const;  // SyncSource/SyncTarget, or waiting to (paused)
  // Called after every state change (the daemon re-evaluates resync-after).
  void on_change(std::function<void()> fn) { on_change_ = std::move(fn); }
  // DRBD_CONF / TANDEM_CONF of the handlers.
  void set_config_path(std::string path) { config_path_ = std::move(path); }
  void set_handler_timeout(std::chrono::milliseconds t) { handler_timeout_ = t; }

  // Daemon stop: demote, disconnect and detach whatever the state, without
  // refusing; then the owner waits for local I/O before close_disk().
  void shutdown();
  bool io_idle() const;
  // Writes the bitmap and closes the backing device (after shutdown()).
  void close_disk();

  proto::ResourceStatus status() const;
  std::string nbd_socket_path() const;

 private:
  ResourceRuntime(EventLoop& loop, config::ResolvedResource config, std::string run_dir);

  // Executes every action the core has produced (re-entrant calls return
  // at once; the outer drain picks up new actions).
  void drain();
  void build_core();  // core_ from config_
  void build_link();  // link_ from config_
  void execute(core::Action& action);
  void submit_io(const core::SubmitIo& io);
  void issue_io(const core::SubmitIo& io, bool al_held);
  void run_handler(const core::RunHandler& run);
  void write_bitmap_if_due();
  void schedule_bitmap_write();
  void persist(const core::Metadata& md);
  void on_state_changed(const core::StateChanged& change);
  void arm_timer(core::TimerId id, uint32_t after_ms);
  void cancel_timer(core::TimerId id);
  void start_export();
  void stop_export();
  void on_nbd_request(uint64_t connection, nbd::BlockRequest&& request);
  void finish_detach();
  void submit_zero_parts(uint64_t request_id);
  void sample_sync_rate();
  void log_sync_end(const core::Status& s);
  std::string who() const { return "resource " + config_.name; }

  EventLoop& loop_;
  config::ResolvedResource config_;
  std::string run_dir_;
  std::unique_ptr<core::Replicator> core_;
  std::unique_ptr<net::PeerLink> link_;
  std::unique_ptr<AttachedDisk> disk_;
  std::unique_ptr<DataPath> data_;         // lives while disk_ does
  std::unique_ptr<ActivityLogGate> gate_;  // lives while disk_ does
  std::unique_ptr<DeviceExport> export_;
  HandlerRunner handlers_;
  std::string config_path_;
  std::chrono::milliseconds handler_timeout_ = kHandlerTimeout;
  std::vector<std::string> running_handlers_;
  std::function<void()> on_change_;
  EventLoop::TimerId bitmap_timer_ = 0;  // lazy write of cleared bits
  uint64_t al_transactions_before_ = 0;  // of earlier attaches (status)
  bool attached_unclean_ = false;
  // Guards callbacks (I/O completions) that may outlive this object.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  // Calls `event` (which calls into the core) now, or after the batch of
  // actions being executed, then drains.
  void into_core(std::function<void()> event);

  bool draining_ = false;
  bool executing_ = false;  // inside execute() of a batch
  std::vector<std::function<void()>> deferred_;
  std::vector<core::Action> actions_;
  std::unordered_map<uint8_t, EventLoop::TimerId> timers_;

  // Application requests from the NBD export, by core request id.
  struct AppRequest {
    uint64_t connection = 0;
    nbd::BlockRequest request;
    // Write-zeroes is split into pieces the core takes (submit_zero_parts).
    uint64_t next_part = 0;      // offset of the next piece to submit
    uint64_t end = 0;            // end of the whole request
    uint32_t parts_pending = 0;  // pieces in the core
    int first_error = 0;
  };
  uint64_t next_request_id_ = 1;
  std::unordered_map<uint64_t, AppRequest> requests_;
  std::unordered_map<uint64_t, uint64_t> part_of_;  // piece id -> request id

  bool logged_write_refusal_ = false;
  std::string last_state_error_;
  // Sync rate, sampled once a second while a resync runs.
  EventLoop::TimerId rate_timer_ = 0;
  uint64_t rate_last_done_ = 0;
  Clock::time_point rate_last_time_{};
  // The running resync (this node SyncSource or SyncTarget) began here; its
  // end is logged with the time it took and its rate.
  bool sync_running_ = false;
  Clock::time_point sync_began_{};
  // The action batch being executed began here (the core had just handled
  // the event behind it), and its metadata writes took this long: a sync
  // ends when the core takes it for done, before the metadata write (and
  // its flush) that records the end, as DRBD's "Resync done" line counts.
  Clock::time_point batch_began_{};
  double batch_persist_seconds_ = 0;
  uint64_t rate_bytes_per_sec_ = 0;
};

}  // namespace tandem::daemon
