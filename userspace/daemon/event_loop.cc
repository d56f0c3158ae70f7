#include "daemon/event_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "common/log.h"

namespace tandem::daemon {
namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create(unsigned ring_entries, Threading threading) {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  int r = -EINVAL;
  if (threading == Threading::kCreatingThreadOnly) {
    // Completion work (posting a poll's or a disk request's result) runs
    // when this thread next waits for or polls the ring, all at once; a
    // completion arriving while the loop is busy costs it no interruption.
    r = io_uring_queue_init(ring_entries, &loop->ring_,
                            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    loop->defers_task_run_ = r == 0;
  }
  // Completions of file I/O that io_uring hands to its worker threads are
  // delivered when the loop next enters the kernel, not by interrupting it
  // as each one finishes (fewer context switches per write). Kernels before
  // 5.19 refuse the flag: fall back to a plain ring.
  if (r == -EINVAL) r = io_uring_queue_init(ring_entries, &loop->ring_, IORING_SETUP_COOP_TASKRUN);
  if (r == -EINVAL) r = io_uring_queue_init(ring_entries, &loop->ring_, 0);
  if (r < 0) {
    return make_error("cannot set up the event loop's io_uring: " + errno_text(-r) +
                          " (tandemd needs a kernel with io_uring enabled)",
                      -r);
  }
  loop->ring_ready_ = true;
  loop->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (loop->wake_fd_ < 0) {
    return make_error("cannot create the event loop's eventfd: " + errno_text(errno), errno);
  }
  const int wake_fd = loop->wake_fd_;
  loop->watch(wake_fd, POLLIN, [wake_fd](uint32_t) {
    uint64_t count = 0;
    // Drain the counter; the posted queue is run at the end of every round.
    while (read(wake_fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) {
    }
  });
  return loop;
}

EventLoop::~EventLoop() {
  if (ring_ready_) {
    io_uring_queue_exit(&ring_);
  }
  if (wake_fd_ >= 0) {
    close(wake_fd_);
  }
}

io_uring_sqe* EventLoop::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel and retry.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void EventLoop::arm(WatchId id, Watch& w) {
  if (w.armed_token != 0 || w.events == 0) {
    return;
  }
  io_uring_sqe* sqe = get_sqe();
  if (sqe == nullptr) {
    TLOG(LOG_CRIT, "event loop: io_uring submission queue stuck full; fd %d not watched", w.fd);
    return;
  }
  const uint64_t token = next_token_++;
  io_uring_prep_poll_add(sqe, w.fd, w.events);
  io_uring_sqe_set_data64(sqe, token);
  w.armed_token = token;
  tokens_[token] = id;
}

void EventLoop::disarm(Watch& w, bool release_file) {
  if (w.armed_token == 0) {
    return;
  }
  tokens_.erase(w.armed_token);
  if (io_uring_sqe* sqe = get_sqe(); sqe != nullptr) {
    io_uring_prep_poll_remove(sqe, w.armed_token);
    io_uring_sqe_set_data64(sqe, 0);  // its completion is ignored
    // Hand it to the kernel now: an armed poll holds a reference to the
    // file, so a socket closed right after unwatch() would otherwise stay
    // open (a listener would keep its port) until the end of the round.
    io_uring_submit(&ring_);
    // A deferring ring finishes the cancelled poll, and drops its
    // reference, only when its completion work runs: run it now.
    if (release_file && defers_task_run_) io_uring_get_events(&ring_);
  }
  w.armed_token = 0;
}

EventLoop::WatchId EventLoop::watch(int fd, uint32_t events, FdCallback callback) {
  const WatchId id = next_id_++;
  Watch& w = watches_[id];
  w.fd = fd;
  w.events = events;
  w.callback = std::move(callback);
  arm(id, w);
  return id;
}

void EventLoop::set_events(WatchId id, uint32_t events) {
  auto it = watches_.find(id);
  if (it == watches_.end() || it->second.events == events) {
    return;
  }
  Watch& w = it->second;
  w.events = events;
  if (w.dispatching) {
    return;  // re-armed with the new events after the callback
  }
  disarm(w, false);
  arm(id, w);
}

void EventLoop::unwatch(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) {
    return;
  }
  disarm(it->second, true);
  watches_.erase(it);
}

EventLoop::TimerId EventLoop::add_timer(std::chrono::milliseconds delay, TimerCallback callback) {
  const TimerId id = next_id_++;
  const Clock::time_point deadline = Clock::now() + delay;
  timers_.emplace(std::make_pair(deadline, id), std::move(callback));
  timer_deadlines_[id] = deadline;
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) {
    return;
  }
  timers_.erase(std::make_pair(it->second, id));
  timer_deadlines_.erase(it);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  (void)!write(wake_fd_, &one, sizeof one);
}

void EventLoop::submit_io(FileOp op, int fd, void* buffer, uint32_t length, uint64_t offset,
                          bool dsync, IoCallback callback) {
  io_uring_sqe* sqe = get_sqe();
  if (sqe == nullptr) {
    // Report the failure from the loop, never inside the caller.
    add_timer(std::chrono::milliseconds(0), [cb = std::move(callback)] { cb(-EAGAIN); });
    return;
  }
  switch (op) {
    case FileOp::kRead:
      io_uring_prep_read(sqe, fd, buffer, length, offset);
      break;
    case FileOp::kWrite:
      io_uring_prep_write(sqe, fd, buffer, length, offset);
      if (dsync) sqe->rw_flags = RWF_DSYNC;
      break;
    case FileOp::kFsync:
      io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
      break;
  }
  const uint64_t token = next_token_++;
  io_uring_sqe_set_data64(sqe, token);
  io_callbacks_.emplace(token, std::move(callback));
  // Into the kernel now, not when the loop next waits: one callback may
  // run for milliseconds (a peer link draining 4 MiB of frames), and the
  // device should be busy with the first request meanwhile. An O_DIRECT
  // request is issued to the device inside this call, so batching saved
  // only the system call.
  io_uring_submit(&ring_);
}

void EventLoop::on_completion(uint64_t token, int32_t res) {
  if (auto io = io_callbacks_.find(token); io != io_callbacks_.end()) {
    IoCallback callback = std::move(io->second);
    io_callbacks_.erase(io);
    callback(res);
    return;
  }
  auto t = tokens_.find(token);
  if (t == tokens_.end()) {
    return;  // a cancelled poll or a poll_remove request
  }
  const WatchId id = t->second;
  tokens_.erase(t);
  auto it = watches_.find(id);
  if (it == watches_.end()) {
    return;
  }
  Watch& w = it->second;
  w.armed_token = 0;
  uint32_t revents = 0;
  if (res < 0) {
    // The poll itself failed (e.g. EBADF): report an error condition so the
    // owner closes the descriptor instead of spinning on re-arms.
    TLOG(LOG_DEBUG, "event loop: poll on fd %d failed: %s", w.fd, errno_text(-res).c_str());
    revents = POLLERR;
  } else {
    revents = static_cast<uint32_t>(res);
  }
  // The callback may unwatch itself, which would destroy the std::function
  // it runs in: hold it in a local while it runs.
  FdCallback callback = std::move(w.callback);
  w.dispatching = true;
  callback(revents);
  it = watches_.find(id);
  if (it != watches_.end()) {
    it->second.callback = std::move(callback);
    it->second.dispatching = false;
    arm(id, it->second);
  }
}

void EventLoop::run_timers() {
  const Clock::time_point now = Clock::now();
  // Only timers due at `now`: a callback re-adding itself with zero delay
  // runs in the next round, not forever in this one.
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_deadlines_.erase(node.key().second);
    node.mapped()();
  }
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) {
    fn();
  }
}

// Returns whether a completion arrived within `limit`.
bool EventLoop::busy_poll(std::chrono::nanoseconds limit) {
  const auto until = Clock::now() + limit;
  io_uring_submit(&ring_);
  do {
    if (io_uring_cq_ready(&ring_) > 0) return true;
    // Poll and file completions are posted by task work that runs when
    // this thread enters the kernel: enter it without waiting.
    if (io_uring_get_events(&ring_) < 0) return false;
    if (io_uring_cq_ready(&ring_) > 0) return true;
  } while (Clock::now() < until);
  return false;
}

Result<void> EventLoop::run_once(std::chrono::milliseconds max_wait) {
  auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(max_wait);
  if (!timers_.empty()) {
    const auto until_timer = timers_.begin()->first.first - Clock::now();
    if (until_timer < wait) {
      wait = std::max(std::chrono::nanoseconds(0),
                      std::chrono::duration_cast<std::chrono::nanoseconds>(until_timer));
    }
  }
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    if (!posted_.empty()) {
      wait = std::chrono::nanoseconds(0);
    }
  }
  const bool poll = poll_requested_;
  poll_requested_ = false;
  if (poll && busy_poll_.count() > 0 && wait.count() > 0) {
    const auto start = Clock::now();
    if (busy_poll(std::min<std::chrono::nanoseconds>(wait, busy_poll_))) ++polled_rounds_;
    wait -= std::min<std::chrono::nanoseconds>(wait, Clock::now() - start);
  }
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(wait.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long long>(wait.count() % 1'000'000'000);
  io_uring_cqe* cqe = nullptr;
  const int r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY) {
    return make_error("event loop: waiting for io_uring completions failed: " + errno_text(-r), -r);
  }
  // Copy the completions out before dispatching: callbacks submit new
  // requests, which must not race with advancing the completion queue.
  std::vector<std::pair<uint64_t, int32_t>>& done = completions_;
  done.clear();
  unsigned head = 0;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    done.emplace_back(io_uring_cqe_get_data64(cqe), cqe->res);
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  for (const auto& [token, res] : done) {
    on_completion(token, res);
  }
  run_timers();
  run_posted();
  // The polls armed by this round's callbacks reach the kernel with the
  // next round's wait (one system call for both); file I/O and poll
  // removals were submitted when they were queued.
  return {};
}

Result<void> EventLoop::run() {
  stopping_ = false;
  while (!stopping_) {
    if (auto r = run_once(std::chrono::milliseconds(1000)); !r) {
      return r;
    }
  }
  return {};
}

}  // namespace tandem::daemon
