// Lets a local data write reach the backing device only once every 4 MiB
// extent it touches is hot in the on-disk activity log, so that after a
// crash the hot extents are exactly where this disk may differ from the
// peer's. An extent that is already hot costs a hash lookup; a cold one
// costs one activity-log transaction (4 KiB, FUA), written asynchronously on
// the event loop while the write waits; writes arriving meanwhile for the
// same transaction wait for the same write. When the log is full (every hot
// extent busy) writes wait for a running one to finish. Evicting a cold
// extent first writes its bitmap pages (synchronously; it happens only when
// the log is full of idle extents), which is the storage layer's rule that
// keeps set bits from being lost.
//
// Writes to ranges the on-disk bitmap already marks out of sync skip the
// log: a crash resyncs them anyway. That covers resync writes on a sync
// target and repeated writes while disconnected.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "core/replication_actions.h"
#include "daemon/attached_disk.h"
#include "daemon/event_loop.h"

namespace tandem::daemon {

class ActivityLogGate {
 public:
  // Issue: submit the write to the device now; `al_held` must be handed to
  // write_done() when it completes. Fail: the write cannot be made safe
  // (the activity log could not be written): report it failed.
  using Issue = std::function<void(const core::SubmitIo& io, bool al_held)>;
  using Fail = std::function<void(uint64_t io_id, int error)>;

  ActivityLogGate(EventLoop& loop, AttachedDisk& disk, std::string who, Issue issue, Fail fail);
  ~ActivityLogGate();
  ActivityLogGate(const ActivityLogGate&) = delete;
  ActivityLogGate& operator=(const ActivityLogGate&) = delete;

  // A write the core submitted (SubmitIo of kind kWrite).
  void submit_write(const core::SubmitIo& io);
  // The device finished a write that submit_write() issued.
  void write_done(uint64_t offset, uint32_t length, bool al_held);

  // No write waiting, issued under the log, or transaction in flight.
  bool idle() const { return held_ == 0 && waiting_.empty() && full_.empty() && !tx_in_flight_; }

  struct Counters {
    uint64_t writes = 0;           // writes that went through the gate
    uint64_t skipped = 0;          // covered by the on-disk bitmap: no log needed
    uint64_t transactions = 0;     // activity-log transactions written
    uint64_t waited_for_room = 0;  // writes that found the log full
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Waiting {
    core::SubmitIo io;
    uint64_t durable_after = 0;
  };
  void admit(const core::SubmitIo& io);
  void start_transaction();
  void on_transaction_written(uint64_t number, int32_t result);
  void retry_full();

  EventLoop& loop_;
  AttachedDisk& disk_;
  std::string who_;
  Issue issue_;
  Fail fail_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  uint64_t held_ = 0;                // issued writes holding log references
  std::deque<Waiting> waiting_;      // admitted, waiting for a transaction
  std::deque<core::SubmitIo> full_;  // not admitted: the log had no room
  bool tx_in_flight_ = false;
  bool retrying_full_ = false;
  Counters counters_;
};

}  // namespace tandem::daemon
