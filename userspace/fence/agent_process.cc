#include "fence/agent_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "fence/agent/secrets.h"

namespace tandem::fence {

namespace {

constexpr std::size_t kMaxAgentOutput = 64 * 1024;
constexpr auto kKillGrace = std::chrono::seconds(5);

bool is_executable(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

std::string last_line(const std::string& text) {
  std::size_t end = text.size();
  while (end > 0) {
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ')) {
      --end;
    }
    if (end == 0) return {};
    std::size_t begin = text.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::string line = text.substr(begin, end - begin);
    if (line.size() > 512) line = line.substr(0, 512) + "...";
    return line;
  }
  return {};
}

// The agent's output goes to our log as it comes: a manual agent's
// instructions must reach the administrator while it waits, not afterwards.
void relay_lines(const DeviceInvocation& device, std::string& pending) {
  std::size_t nl;
  while ((nl = pending.find('\n')) != std::string::npos) {
    std::string line = pending.substr(0, std::min<std::size_t>(nl, 512));
    pending.erase(0, nl + 1);
    if (line.empty()) continue;
    TLOG(LOG_NOTICE, "device %s (%s): %s", device.device.c_str(), device.agent.c_str(),
         redact(line).c_str());
  }
  if (pending.size() > 4096) pending.clear();  // a line without end: drop it
}

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

Result<std::string> find_agent(const std::string& agent, const AgentSearchPath& path) {
  if (agent.find('/') != std::string::npos) {
    if (is_executable(agent)) return agent;
    return make_error("fence agent " + agent + " does not exist or is not executable");
  }
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("TANDEM_FENCE_AGENT_PATH"); env != nullptr) {
    std::string list = env;
    std::size_t pos = 0;
    while (pos <= list.size()) {
      std::size_t colon = list.find(':', pos);
      if (colon == std::string::npos) colon = list.size();
      if (colon > pos) dirs.push_back(list.substr(pos, colon - pos));
      pos = colon + 1;
    }
  }
  dirs.insert(dirs.end(), path.directories.begin(), path.directories.end());
  std::string searched;
  for (const std::string& dir : dirs) {
    const std::string candidate = dir + "/" + agent;
    if (is_executable(candidate)) return candidate;
    searched += (searched.empty() ? "" : ":") + dir;
  }
  return make_error("fence agent " + agent + " was not found in " + searched +
                    "; install it or give its absolute path in agent=\"...\"");
}

AgentOutcome run_agent_process(const DeviceInvocation& device, const AgentSearchPath& path) {
  AgentOutcome outcome;
  // An agent that exits without reading its options must not kill us with
  // SIGPIPE; the write then fails with EPIPE instead.
  signal(SIGPIPE, SIG_IGN);
  for (const auto& [k, v] : device.parameters) {
    if (k == "password" || k == "passwd") register_secret(v);
  }
  auto program = find_agent(device.agent, path);
  if (!program) {
    outcome.detail = program.error().message;
    return outcome;
  }
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    outcome.detail = std::string("cannot create a pipe: ") + std::strerror(errno);
    return outcome;
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    outcome.detail = std::string("cannot create a pipe: ") + std::strerror(errno);
    close(in_pipe[0]);
    close(in_pipe[1]);
    return outcome;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    outcome.detail = std::string("cannot fork: ") + std::strerror(errno);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) close(fd);
    return outcome;
  }
  if (pid == 0) {
    // Own process group, so that a timeout kills whatever the agent started.
    setpgid(0, 0);
    // Ignored signals and the signal mask survive exec: give the agent the
    // defaults (we ignore SIGPIPE ourselves).
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(out_pipe[1], STDERR_FILENO);
    const char* prog = program->c_str();
    execl(prog, prog, static_cast<char*>(nullptr));
    const char msg[] = "cannot execute the fence agent\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  setpgid(pid, pid);
  close(in_pipe[0]);
  close(out_pipe[1]);

  // The options are small (well under a pipe buffer), but write without
  // blocking anyway so that an agent that never reads cannot hang us.
  const std::string input = agent_stdin(device);
  set_nonblocking(in_pipe[1]);
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  set_nonblocking(out_pipe[0]);
  int out_fd = out_pipe[0];

  const auto start = std::chrono::steady_clock::now();
  const auto timeout =
      std::chrono::milliseconds(static_cast<long long>(device.timeout_seconds * 1000));
  std::string output;
  std::string relay;  // output not yet logged line by line
  bool killed = false;
  auto kill_deadline = start;
  int status = 0;
  bool reaped = false;

  while (!reaped) {
    pollfd fds[2];
    nfds_t n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    const int r = poll(fds, n, 100);
    if (r < 0 && errno != EINTR) break;
    for (nfds_t i = 0; r > 0 && i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == out_fd) {
        char buf[4096];
        const ssize_t got = read(out_fd, buf, sizeof buf);
        if (got > 0) {
          if (output.size() < kMaxAgentOutput) output.append(buf, static_cast<std::size_t>(got));
          relay.append(buf, static_cast<std::size_t>(got));
          relay_lines(device, relay);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          close(out_fd);
          out_fd = -1;
        }
      } else if (fds[i].fd == in_fd) {
        const ssize_t put = write(in_fd, input.data() + written, input.size() - written);
        if (put > 0) written += static_cast<std::size_t>(put);
        if ((put < 0 && errno != EAGAIN && errno != EINTR) || written >= input.size()) {
          close(in_fd);
          in_fd = -1;
        }
      }
    }
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!killed && now - start >= timeout) {
      TLOG(LOG_ERR, "fence device %s: agent %s ran longer than %g s; killing it",
           device.device.c_str(), device.agent.c_str(), device.timeout_seconds);
      kill(-pid, SIGTERM);
      kill(pid, SIGTERM);  // in case the agent left its process group
      killed = true;
      outcome.timed_out = true;
      kill_deadline = now + kKillGrace;
    } else if (killed && now >= kill_deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
    }
  }
  if (!reaped) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // Drain what the agent wrote just before exiting.
  if (out_fd >= 0) {
    char buf[4096];
    ssize_t got;
    while ((got = read(out_fd, buf, sizeof buf)) > 0 && output.size() < kMaxAgentOutput) {
      output.append(buf, static_cast<std::size_t>(got));
    }
    close(out_fd);
  }
  if (in_fd >= 0) close(in_fd);

  if (WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  } else {
    outcome.exit_code = -1;
  }
  std::string detail = redact(last_line(output));
  if (outcome.timed_out) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "killed after %g s (agent_timeout)", device.timeout_seconds);
    detail = detail.empty() ? buf : std::string(buf) + "; last output: " + detail;
  } else if (WIFSIGNALED(status)) {
    detail = "killed by signal " + std::to_string(WTERMSIG(status)) +
             (detail.empty() ? "" : "; last output: " + detail);
  }
  outcome.detail = detail;
  return outcome;
}

}  // namespace tandem::fence
