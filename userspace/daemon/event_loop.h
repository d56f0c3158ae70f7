// The daemon's single-threaded event loop on io_uring.
//
// File descriptors (sockets, eventfds, another ring's fd) are watched with
// one-shot IORING_OP_POLL_ADD requests that the loop re-arms after every
// callback, so a callback sees level-triggered readiness and does the
// non-blocking read/write/accept itself. Timers live in a deadline-ordered
// map; the loop waits for completions with the nearest deadline as the
// io_uring wait timeout. post() is the only thread-safe entry point: it
// queues a function and wakes the loop through an eventfd.
//
// Everything else must be called on the loop's thread. Callbacks may watch,
// unwatch, add or cancel timers (including their own) freely.
#pragma once

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace tandem::daemon {

using Clock = std::chrono::steady_clock;

class EventLoop {
 public:
  using WatchId = uint64_t;
  using TimerId = uint64_t;
  // Receives the poll events that fired (POLLIN, POLLOUT, POLLERR, POLLHUP).
  using FdCallback = std::function<void(uint32_t revents)>;
  using TimerCallback = std::function<void()>;

  // Which threads use the loop. kAnyThread: it may be created on one thread
  // and run on another (tests and embedders do). kCreatingThreadOnly: every
  // call except post() comes from the thread that created it; the kernel
  // then runs completion work only when the loop asks for events, in one
  // batch, instead of as each completion arrives
  // (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, Linux 6.1 and
  // later; older kernels get kAnyThread's ring). tandemd uses it.
  enum class Threading { kAnyThread, kCreatingThreadOnly };
  static constexpr unsigned kDefaultRingEntries = 256;
  static Result<std::unique_ptr<EventLoop>> create(unsigned ring_entries = kDefaultRingEntries,
                                                   Threading threading = Threading::kAnyThread);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Calls `callback` whenever `fd` has any of `events` (POLLIN/POLLOUT), until
  // unwatch(). The fd stays owned by the caller; unwatch before closing it.
  WatchId watch(int fd, uint32_t events, FdCallback callback);
  // Changes the events of a watch (e.g. add POLLOUT while output is queued).
  void set_events(WatchId id, uint32_t events);
  void unwatch(WatchId id);

  TimerId add_timer(std::chrono::milliseconds delay, TimerCallback callback);
  void cancel_timer(TimerId id);

  // Asynchronous file I/O on the loop's ring. `callback` receives the
  // io_uring result: bytes transferred, or -errno. kWrite with `dsync` is a
  // FUA write (RWF_DSYNC); kFsync is fdatasync. The buffer must stay valid
  // until the callback runs. The request is submitted at once.
  enum class FileOp { kRead, kWrite, kFsync };
  using IoCallback = std::function<void(int32_t result)>;
  void submit_io(FileOp op, int fd, void* buffer, uint32_t length, uint64_t offset, bool dsync,
                 IoCallback callback);
  size_t io_in_flight() const { return io_callbacks_.size(); }

  // Thread-safe: runs `fn` on the loop's thread soon.
  void post(std::function<void()> fn);

  // Runs until stop(). Returns an error only when io_uring itself fails.
  Result<void> run();
  // One round: waits at most `max_wait` for something to happen, then runs
  // every ready callback, expired timer and posted function.
  Result<void> run_once(std::chrono::milliseconds max_wait);
  // Makes run() return after the current round (callable from callbacks; from
  // other threads use post([&]{ loop.stop(); })).
  void stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }

  // Busy polling for latency: after a round in which poll_next_wait() was
  // called, the loop checks the ring for up to `window` before it sleeps in
  // the kernel. An answer that arrives meanwhile (a disk completion, the
  // peer's ack, the application's next request) then costs no wake-up of a
  // sleeping task, which on a virtual machine is an exit to the host. The
  // resource runtimes ask for it while application requests are in flight
  // and after completing one; an idle node never spins. 0 (the default)
  // turns it off.
  void set_busy_poll(std::chrono::microseconds window) { busy_poll_ = window; }
  void poll_next_wait() { poll_requested_ = true; }
  // Rounds whose completions busy polling found (without sleeping).
  uint64_t polled_rounds() const { return polled_rounds_; }

  // Whether completion work waits for the loop (kCreatingThreadOnly on a
  // kernel that supports it).
  bool defers_task_run() const { return defers_task_run_; }

  size_t watch_count() const { return watches_.size(); }
  size_t timer_count() const { return timers_.size(); }

 private:
  struct Watch {
    int fd = -1;
    uint32_t events = 0;
    FdCallback callback;
    uint64_t armed_token = 0;  // user_data of the poll in the ring, 0: none
    bool dispatching = false;  // inside its callback: re-arm afterwards
  };

  EventLoop() = default;
  void arm(WatchId id, Watch& w);
  // release_file: the caller may close the fd next (unwatch).
  void disarm(Watch& w, bool release_file);
  io_uring_sqe* get_sqe();
  void on_completion(uint64_t token, int32_t res);
  void run_timers();
  void run_posted();
  bool busy_poll(std::chrono::nanoseconds limit);

  io_uring ring_{};
  bool ring_ready_ = false;
  bool defers_task_run_ = false;
  int wake_fd_ = -1;
  bool stopping_ = false;
  std::chrono::microseconds busy_poll_{0};
  bool poll_requested_ = false;
  uint64_t polled_rounds_ = 0;

  uint64_t next_id_ = 1;
  uint64_t next_token_ = 1;
  std::unordered_map<WatchId, Watch> watches_;
  std::unordered_map<uint64_t, WatchId> tokens_;           // armed poll -> watch
  std::unordered_map<uint64_t, IoCallback> io_callbacks_;  // file I/O in flight

  std::map<std::pair<Clock::time_point, TimerId>, TimerCallback> timers_;
  std::unordered_map<TimerId, Clock::time_point> timer_deadlines_;

  // Completions of one round, copied out of the ring (reused: no
  // allocation per round). run_once() is not re-entrant.
  std::vector<std::pair<uint64_t, int32_t>> completions_;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace tandem::daemon
