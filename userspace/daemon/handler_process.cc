#include "daemon/handler_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>

#include "common/log.h"

extern char** environ;

namespace tandem::daemon {
namespace {

// A handler that prints without end must not flood the log; the rest of
// its output is read and dropped.
constexpr size_t kMaxLoggedBytes = 64 * 1024;
constexpr size_t kMaxLineBytes = 1024;
constexpr size_t kMaxCapturedBytes = 4096;

std::vector<std::string> environment_with(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

int open_pidfd(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

}  // namespace

HandlerRunner::~HandlerRunner() {
  for (auto& [id, c] : children_) {
    TLOG(LOG_WARNING, "%s: still running at shutdown, killing its process group %d",
         c.label.c_str(), static_cast<int>(c.pid));
    kill(-c.pid, SIGKILL);
    int status = 0;
    while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    release(c);
  }
}

void HandlerRunner::fail_later(Done done, std::string why) {
  std::weak_ptr<bool> alive = alive_;
  loop_.add_timer(std::chrono::milliseconds(0),
                  [alive, done = std::move(done), why = std::move(why)] {
                    if (alive.expired()) return;  // the runner (and its owner) went away
                    HandlerResult r;
                    r.failure = why;
                    done(r);
                  });
}

void HandlerRunner::start(HandlerCommand cmd, Done done) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    const std::string why = std::string("cannot create a pipe: ") + std::strerror(errno);
    TLOG(LOG_ERR, "%s: %s", cmd.label.c_str(), why.c_str());
    fail_later(std::move(done), why);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group (so that a timeout kills everything the shell
  // started), no signal blocked (tandemd blocks SIGTERM for its signalfd),
  // SIGPIPE back to default (tandemd ignores it).
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(
      &attr,
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  std::vector<std::string> env = environment_with(cmd.env);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::array<char*, 4> argv = {sh.data(), dash_c.data(), cmd.command.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, sh.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    const std::string why = "cannot start /bin/sh: " + std::string(std::strerror(rc));
    TLOG(LOG_ERR, "%s: %s", cmd.label.c_str(), why.c_str());
    fail_later(std::move(done), why);
    return;
  }
  const uint64_t id = next_id_++;
  Child& c = children_[id];
  c.pid = pid;
  c.out_fd = pipe_fds[0];
  c.label = std::move(cmd.label);
  c.timeout = cmd.timeout;
  c.done = std::move(done);
  TLOG(LOG_INFO, "%s: running `%s` (pid %d, timeout %lld s)", c.label.c_str(), cmd.command.c_str(),
       static_cast<int>(pid), static_cast<long long>(cmd.timeout.count() / 1000));
  c.out_watch = loop_.watch(c.out_fd, POLLIN, [this, id](uint32_t) { on_output(id); });
  c.pidfd = open_pidfd(pid);
  if (c.pidfd >= 0) {
    c.pid_watch = loop_.watch(c.pidfd, POLLIN, [this, id](uint32_t) { check_exit(id); });
  } else {
    // Kernels before 5.3: look every 50 ms.
    c.poll_timer = loop_.add_timer(std::chrono::milliseconds(50), [this, id] { poll_exit(id); });
  }
  if (cmd.timeout.count() > 0) {
    c.timeout_timer = loop_.add_timer(cmd.timeout, [this, id] { on_timeout(id); });
  }
}

void HandlerRunner::log_line(Child& c, const std::string& line) {
  if (c.captured.size() < kMaxCapturedBytes) {
    c.captured += line.substr(0, kMaxCapturedBytes - c.captured.size());
    c.captured += '\n';
  }
  if (c.logged_bytes >= kMaxLoggedBytes) return;
  c.logged_bytes += line.size();
  TLOG(LOG_INFO, "%s: %s", c.label.c_str(), line.c_str());
  if (c.logged_bytes >= kMaxLoggedBytes) {
    TLOG(LOG_INFO, "%s: (more output not logged)", c.label.c_str());
  }
}

void HandlerRunner::drain_output(Child& c) {
  std::array<char, 4096> buf;
  while (c.out_fd >= 0) {
    const ssize_t n = read(c.out_fd, buf.data(), buf.size());
    if (n > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        const char ch = buf[static_cast<size_t>(i)];
        if (ch == '\n' || c.line.size() >= kMaxLineBytes) {
          log_line(c, c.line);
          c.line.clear();
          if (ch == '\n') continue;
        }
        c.line += ch;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // End of output (or a read error): nothing more will come.
    loop_.unwatch(c.out_watch);
    c.out_watch = 0;
    close(c.out_fd);
    c.out_fd = -1;
  }
}

void HandlerRunner::on_output(uint64_t id) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  drain_output(it->second);
}

void HandlerRunner::on_timeout(uint64_t id) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  Child& c = it->second;
  c.timeout_timer = 0;
  c.timed_out = true;
  TLOG(LOG_ERR, "%s: still running after %lld s, killing its process group %d", c.label.c_str(),
       static_cast<long long>(c.timeout.count() / 1000), static_cast<int>(c.pid));
  kill(-c.pid, SIGKILL);
  // The exit is reported through the pidfd (or the polling timer).
}

void HandlerRunner::poll_exit(uint64_t id) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  it->second.poll_timer = 0;
  check_exit(id);
  it = children_.find(id);
  if (it != children_.end()) {
    it->second.poll_timer =
        loop_.add_timer(std::chrono::milliseconds(50), [this, id] { poll_exit(id); });
  }
}

void HandlerRunner::check_exit(uint64_t id) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  Child& c = it->second;
  int status = 0;
  const pid_t r = waitpid(c.pid, &status, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR)) return;  // not yet
  // Whatever the shell wrote before exiting is in the pipe now; output of
  // background processes it left behind is not waited for.
  drain_output(c);
  if (!c.line.empty()) log_line(c, c.line);
  HandlerResult result;
  result.output = std::move(c.captured);
  if (r < 0) {
    result.failure = std::string("waitpid failed: ") + std::strerror(errno);
  } else if (c.timed_out) {
    result.failure =
        "killed after the timeout of " + std::to_string(c.timeout.count() / 1000) + " s";
  } else if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.failure = "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                     strsignal(WTERMSIG(status)) + ")";
  } else {
    result.failure = "ended with wait status " + std::to_string(status);
  }
  if (result.exited) {
    TLOG(result.exit_code == 0 ? LOG_INFO : LOG_NOTICE, "%s: exit code %d", c.label.c_str(),
         result.exit_code);
  } else {
    TLOG(LOG_ERR, "%s: %s", c.label.c_str(), result.failure.c_str());
  }
  Done done = std::move(c.done);
  release(c);
  children_.erase(it);
  done(result);
}

void HandlerRunner::release(Child& c) {
  if (c.out_watch != 0) loop_.unwatch(c.out_watch);
  if (c.pid_watch != 0) loop_.unwatch(c.pid_watch);
  if (c.timeout_timer != 0) loop_.cancel_timer(c.timeout_timer);
  if (c.poll_timer != 0) loop_.cancel_timer(c.poll_timer);
  if (c.out_fd >= 0) close(c.out_fd);
  if (c.pidfd >= 0) close(c.pidfd);
  c.out_watch = c.pid_watch = 0;
  c.timeout_timer = c.poll_timer = 0;
  c.out_fd = c.pidfd = -1;
}

}  // namespace tandem::daemon
