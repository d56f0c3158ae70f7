#include "fence/manual_ack.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace tandem::fence {

namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

Result<void> make_dirs(const std::string& path) {
  std::string partial;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      const int e = errno;
      return make_error("cannot create directory " + partial + ": " + std::strerror(e) +
                            " (set TANDEM_FENCE_RUN_DIR or --run-dir to a writable directory)",
                        e);
    }
  }
  return {};
}

}  // namespace

std::string default_manual_run_dir() {
  const char* env = std::getenv("TANDEM_FENCE_RUN_DIR");
  return env != nullptr && *env != '\0' ? env : kDefaultManualRunDir;
}

Result<void> check_node_name(const std::string& node) {
  if (node.empty()) return make_error("no node name given");
  if (node.size() > 255) return make_error("node name is longer than 255 bytes");
  if (node[0] == '.') return make_error("node name '" + node + "' must not start with '.'");
  for (char c : node) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return make_error("node name '" + node.substr(0, 64) +
                        "' may only contain letters, digits, '-', '_' and '.'");
    }
  }
  return {};
}

std::string ManualFenceDir::file(const std::string& node, const char* suffix) const {
  return path_ + "/" + node + suffix;
}

Result<void> ManualFenceDir::write_atomically(const std::string& target,
                                              const std::string& content) const {
  const std::string tmp = target + ".tmp." + std::to_string(getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    return make_error("cannot write " + tmp + ": " + std::strerror(e), e);
  }
  const ssize_t n = write(fd, content.data(), content.size());
  const bool ok = n == static_cast<ssize_t>(content.size()) && fsync(fd) == 0;
  const int e = errno;
  close(fd);
  if (!ok || rename(tmp.c_str(), target.c_str()) != 0) {
    const int e2 = ok ? errno : e;
    unlink(tmp.c_str());
    return make_error("cannot write " + target + ": " + std::strerror(e2), e2);
  }
  return {};
}

Result<void> ManualFenceDir::create_request(const ManualRequest& request) {
  if (auto r = check_node_name(request.node); !r) return r;
  if (auto r = make_dirs(path_); !r) return r;
  // A leftover acknowledgement from an earlier request must never satisfy
  // this one.
  unlink(file(request.node, ".ack").c_str());
  unlink(file(request.node, ".rejoined").c_str());
  std::ostringstream text;
  text << "pid=" << request.pid << "\nstarted=" << request.started_unix << "\nhost=" << request.host
       << "\n";
  return write_atomically(file(request.node, ".request"), text.str());
}

Result<ManualRequest> ManualFenceDir::pending_request(const std::string& node) const {
  if (auto r = check_node_name(node); !r) return r.error();
  const std::string path = file(node, ".request");
  std::ifstream in(path);
  if (!in) {
    return make_error("no manual fencing request is pending for node " + node + " (looked for " +
                      path + "); acknowledge only while fence_tandem_manual waits for " + node);
  }
  ManualRequest req;
  req.node = node;
  std::string line;
  int lines = 0;
  while (std::getline(in, line) && ++lines < 16) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const std::string value = line.substr(eq + 1, 256);
    if (key == "pid") req.pid = static_cast<pid_t>(std::atol(value.c_str()));
    if (key == "started") req.started_unix = std::atoll(value.c_str());
    if (key == "host") req.host = value;
  }
  if (req.pid <= 0 || (kill(req.pid, 0) != 0 && errno == ESRCH)) {
    return make_error("the manual fencing request for node " + node + " in " + path +
                      " is stale: its agent (pid " + std::to_string(req.pid) +
                      ") no longer runs; nothing is waiting for an acknowledgement");
  }
  return req;
}

Result<void> ManualFenceDir::acknowledge(const std::string& node, const std::string& by) {
  auto req = pending_request(node);
  if (!req) return req.error();
  return write_atomically(file(node, ".ack"), "by=" + by + "\n");
}

Result<void> ManualFenceDir::cancel_because_rejoined(const std::string& node,
                                                     const std::string& reason) {
  auto req = pending_request(node);
  if (!req) return req.error();
  return write_atomically(file(node, ".rejoined"), "reason=" + reason + "\n");
}

Result<ManualOutcome> ManualFenceDir::check(const std::string& node) const {
  if (auto r = check_node_name(node); !r) return r.error();
  if (file_exists(file(node, ".ack"))) return ManualOutcome::kAcknowledged;
  if (file_exists(file(node, ".rejoined"))) return ManualOutcome::kRejoined;
  return ManualOutcome::kPending;
}

Result<ManualOutcome> ManualFenceDir::wait(const std::string& node,
                                           std::chrono::milliseconds timeout) const {
  // inotify wakes us at once; the one-second re-check covers directories
  // where inotify is unavailable (some network or overlay file systems).
  const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd >= 0) inotify_add_watch(fd, path_.c_str(), IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Result<ManualOutcome> result = ManualOutcome::kPending;
  while (true) {
    result = check(node);
    if (!result || *result != ManualOutcome::kPending) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const int wait_ms = static_cast<int>(std::min<long long>(left.count(), 1000));
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, wait_ms) > 0) {
        char buf[4096];
        while (read(fd, buf, sizeof buf) > 0) {
        }
      }
    } else {
      usleep(static_cast<useconds_t>(wait_ms) * 1000);
    }
  }
  if (fd >= 0) close(fd);
  return result;
}

std::string ManualFenceDir::acknowledged_by(const std::string& node) const {
  if (!check_node_name(node)) return {};
  std::ifstream in(file(node, ".ack"));
  std::string line;
  if (std::getline(in, line) && line.rfind("by=", 0) == 0) return line.substr(3, 64);
  return {};
}

void ManualFenceDir::clear(const std::string& node) {
  if (!check_node_name(node)) return;
  unlink(file(node, ".ack").c_str());
  unlink(file(node, ".rejoined").c_str());
  unlink(file(node, ".request").c_str());
}

}  // namespace tandem::fence
