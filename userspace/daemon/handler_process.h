// Runs the resource handlers of the configuration (`handlers { split-brain
// "..."; }`) as child processes without ever blocking the event loop:
// `/bin/sh -c COMMAND` in its own process group, stdin from /dev/null,
// stdout and stderr logged line by line, exit noticed through a pidfd on
// the loop, and the whole process group killed when the handler runs past
// its timeout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/event_loop.h"

namespace tandem::daemon {

struct HandlerCommand {
  std::string command;  // given to /bin/sh -c
  // Added to (or replacing in) tandemd's own environment.
  std::vector<std::pair<std::string, std::string>> env;
  std::chrono::milliseconds timeout{0};
  std::string label;  // "resource r0: handler split-brain", starts every log line
};

struct HandlerResult {
  // The handler ran and exited: its exit status (0..255).
  bool exited = false;
  int exit_code = 0;
  // Otherwise why not: could not start, killed by a signal, timed out.
  std::string failure;
  // The start of its output (stdout and stderr, at most 4 KiB); all of it
  // up to 64 KiB is in the log.
  std::string output;
};

class HandlerRunner {
 public:
  using Done = std::function<void(const HandlerResult&)>;

  explicit HandlerRunner(EventLoop& loop) : loop_(loop) {}
  // Kills the process group of every handler still running and reaps it;
  // their callbacks are not called.
  ~HandlerRunner();
  HandlerRunner(const HandlerRunner&) = delete;
  HandlerRunner& operator=(const HandlerRunner&) = delete;

  // Starts the handler. `done` runs exactly once, always later from the
  // loop (never inside start()), also when the process could not be started.
  void start(HandlerCommand command, Done done);
  size_t running() const { return children_.size(); }

 private:
  struct Child {
    pid_t pid = -1;
    int pidfd = -1;
    int out_fd = -1;
    EventLoop::WatchId pid_watch = 0;
    EventLoop::WatchId out_watch = 0;
    EventLoop::TimerId timeout_timer = 0;
    EventLoop::TimerId poll_timer = 0;  // without pidfd: waitpid polling
    std::string label;
    std::string line;  // output not yet ending in a newline
    std::string captured;
    size_t logged_bytes = 0;
    bool timed_out = false;
    std::chrono::milliseconds timeout{0};
    Done done;
  };

  void on_output(uint64_t id);
  void drain_output(Child& c);
  void log_line(Child& c, const std::string& line);
  void on_timeout(uint64_t id);
  void check_exit(uint64_t id);
  void poll_exit(uint64_t id);
  void release(Child& c);
  void fail_later(Done done, std::string why);

  EventLoop& loop_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Child> children_;
};

}  // namespace tandem::daemon
