#include "fence/agent/secrets.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace tandem::fence {

namespace {

std::mutex g_mutex;
std::vector<std::string>& secrets() {
  static std::vector<std::string> list;
  return list;
}

constexpr std::size_t kMaxScriptOutput = 4096;
constexpr int kScriptTimeoutMs = 30'000;

}  // namespace

void register_secret(std::string_view secret) {
  if (secret.size() < 3) return;
  std::lock_guard lock(g_mutex);
  auto& list = secrets();
  if (std::find(list.begin(), list.end(), secret) == list.end()) {
    list.emplace_back(secret);
    // Longest first, so that a secret containing another is hidden whole.
    std::sort(list.begin(), list.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }
}

void clear_secrets() {
  std::lock_guard lock(g_mutex);
  secrets().clear();
}

std::string redact(std::string_view text) {
  std::string out(text);
  std::lock_guard lock(g_mutex);
  for (const std::string& secret : secrets()) {
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kRedacted);
      pos += kRedacted.size();
    }
  }
  return out;
}

Result<std::string> run_password_script(const std::string& script) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return make_error("password script: cannot create a pipe: " + std::string(strerror(errno)),
                      errno);
  }
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(fds[0]);
    close(fds[1]);
    return make_error("password script: cannot fork: " + std::string(strerror(e)), e);
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string output;
  bool timed_out = false;
  char buf[512];
  while (output.size() <= kMaxScriptOutput) {
    pollfd p{fds[0], POLLIN, 0};
    const int r = poll(&p, 1, kScriptTimeoutMs);
    if (r == 0) {
      timed_out = true;
      break;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  if (timed_out || output.size() > kMaxScriptOutput) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string password = output.substr(0, output.find('\n'));
  if (!password.empty() && password.back() == '\r') password.pop_back();
  register_secret(password);
  std::fill(output.begin(), output.end(), '\0');

  if (timed_out) {
    return make_error("password script '" + redact(script) + "' did not finish within " +
                      std::to_string(kScriptTimeoutMs / 1000) + " s");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status)
                                ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                : "was killed by signal " + std::to_string(WTERMSIG(status));
    return make_error("password script '" + redact(script) + "' " + how +
                      "; check that it runs and prints the password on its first line");
  }
  if (password.empty()) {
    return make_error("password script '" + redact(script) +
                      "' printed nothing; it must print the password on its first line");
  }
  return password;
}

void scrub_argv_value(char* arg, std::size_t offset) {
  if (arg == nullptr || offset > std::strlen(arg)) return;
  for (char* c = arg + offset; *c != '\0'; ++c) *c = '*';
}

}  // namespace tandem::fence
