// tandemd: the tandem node daemon. One per node; it runs every resource of
// the configuration that names this node and answers tandemadm on the
// control socket RUN_DIR/tandemd.sock.
//
//   tandemd -c FILE --node NAME --run-dir DIR [--foreground] [--log-file F]
//           [--group GROUP] [--busy-poll USEC]
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/event_loop.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr uint32_t kDefaultBusyPollUs = 100;
constexpr uint32_t kMaxBusyPollUs = 10000;

struct Args {
  tandem::daemon::DaemonOptions daemon;
  bool foreground = false;
  std::string log_file;
  bool verbose = false;
  uint32_t busy_poll_us = kDefaultBusyPollUs;
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: tandemd -c FILE --node NAME [--run-dir DIR] [--foreground]\n"
               "               [--log-file FILE] [--group GROUP] [-v]\n"
               "\n"
               "  -c, --config FILE   configuration file (default /etc/tandem/tandem.conf)\n"
               "  -n, --node NAME     this host's name in the configuration (default: hostname)\n"
               "      --run-dir DIR   control socket and NBD exports (default /run/tandem)\n"
               "  -f, --foreground    do not detach; log to stderr\n"
               "      --log-file FILE also log to FILE\n"
               "      --group GROUP   members of GROUP may use the control socket (default: root "
               "only)\n"
               "      --busy-poll USEC  while application requests are in flight, check for\n"
               "                      their completion for up to USEC microseconds before\n"
               "                      sleeping (default %u, 0: off, at most %u; off on one CPU)\n"
               "  -v, --verbose       log debug details\n",
               kDefaultBusyPollUs, kMaxBusyPollUs);
}

std::string short_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {};
  std::string name(buf);
  if (auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
  return name;
}

// Returns kExitOk when parsing succeeded and the daemon should run, -1 for
// --help, or an exit code.
int parse(int argc, char** argv, Args& args) {
  args.daemon.config_path = "/etc/tandem/tandem.conf";
  args.daemon.run_dir = "/run/tandem";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tandemd: option %s needs %s\n", a.c_str(), what);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "-c" || a == "--config") {
      const char* v = value("a file name");
      if (v == nullptr) return kExitUsage;
      args.daemon.config_path = v;
    } else if (a == "-n" || a == "--node") {
      const char* v = value("a host name");
      if (v == nullptr) return kExitUsage;
      args.daemon.node = v;
    } else if (a == "--run-dir") {
      const char* v = value("a directory");
      if (v == nullptr) return kExitUsage;
      args.daemon.run_dir = v;
    } else if (a == "--log-file") {
      const char* v = value("a file name");
      if (v == nullptr) return kExitUsage;
      args.log_file = v;
    } else if (a == "--group") {
      const char* v = value("a group name");
      if (v == nullptr) return kExitUsage;
      const group* g = getgrnam(v);
      if (g == nullptr) {
        std::fprintf(stderr, "tandemd: --group %s: no such group\n", v);
        return kExitUsage;
      }
      args.daemon.access.group = g->gr_gid;
      args.daemon.access.group_name = v;
    } else if (a == "--busy-poll") {
      const char* v = value("a number of microseconds");
      if (v == nullptr) return kExitUsage;
      char* end = nullptr;
      errno = 0;
      const unsigned long us = std::strtoul(v, &end, 10);
      if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || us > kMaxBusyPollUs) {
        std::fprintf(stderr,
                     "tandemd: --busy-poll %s: expected microseconds from 0 to %u (0: off)\n", v,
                     kMaxBusyPollUs);
        return kExitUsage;
      }
      args.busy_poll_us = static_cast<uint32_t>(us);
    } else if (a == "-f" || a == "--foreground") {
      args.foreground = true;
    } else if (a == "-v" || a == "--verbose") {
      args.verbose = true;
    } else if (a == "-h" || a == "--help") {
      return -1;
    } else {
      std::fprintf(stderr, "tandemd: unknown argument %s (see tandemd --help)\n", a.c_str());
      return kExitUsage;
    }
  }
  if (args.daemon.node.empty()) args.daemon.node = short_hostname();
  return kExitOk;
}

// Detaches from the terminal. The parent exits only when the child reports
// (through a pipe) that it is serving or has failed, so that `tandemd ...;
// tandemadm up` works without a race. Returns the write end in the child.
int daemonize() {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("tandemd: pipe");
    std::exit(kExitFailure);
  }
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("tandemd: fork");
    std::exit(kExitFailure);
  }
  if (pid > 0) {
    close(fds[1]);
    char status = 1;
    const ssize_t n = read(fds[0], &status, 1);
    std::_Exit(n == 1 && status == 0 ? kExitOk : kExitFailure);
  }
  close(fds[0]);
  setsid();
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    // stderr stays until start-up has succeeded: errors reach the admin.
    if (null_fd > STDERR_FILENO) close(null_fd);
  }
  return fds[1];
}

void report_ready(int fd, bool ok) {
  if (fd < 0) return;
  const char status = ok ? 0 : 1;
  (void)!write(fd, &status, 1);
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  // Block data moves through heap buffers of up to a few MiB (NBD requests,
  // peer frame payloads), allocated and freed per request. With glibc's
  // adaptive thresholds such buffers were mapped and unmapped, or the heap
  // trimmed and regrown, so every request paid page faults on fresh memory
  // (seen in profiles of 1 MiB sequential writes). Fixed thresholds keep
  // freed memory in the heap for the next request.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  Args args;
  const int p = parse(argc, argv, args);
  if (p == -1) {
    usage(stdout);
    return kExitOk;
  }
  if (p != kExitOk) return p;

  const int ready_fd = args.foreground ? -1 : daemonize();
  tandem::log::init({.program = "tandemd",
                     .stderr_priority = args.verbose ? LOG_DEBUG : LOG_INFO,
                     .to_syslog = !args.foreground,
                     .file = args.log_file.empty() ? nullptr : args.log_file.c_str(),
                     .file_priority = args.verbose ? LOG_DEBUG : LOG_INFO});

  // SIGTERM/SIGINT end the loop through a signalfd; SIGPIPE is never wanted.
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  // Everything runs on this thread: the ring may defer completion work
  // until the loop waits (EventLoop::Threading).
  using tandem::daemon::EventLoop;
  auto loop =
      EventLoop::create(EventLoop::kDefaultRingEntries, EventLoop::Threading::kCreatingThreadOnly);
  if (loop) {
    // Spinning helps only when the task being waited for runs on another
    // CPU.
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    (*loop)->set_busy_poll(std::chrono::microseconds(cpus > 1 ? args.busy_poll_us : 0));
  }
  if (!loop) {
    TLOG(LOG_ERR, "%s", loop.error().message.c_str());
    std::fprintf(stderr, "tandemd: %s\n", loop.error().message.c_str());
    report_ready(ready_fd, false);
    return kExitFailure;
  }
  auto daemon = tandem::daemon::Daemon::start(**loop, args.daemon);
  if (!daemon) {
    TLOG(LOG_ERR, "%s", daemon.error().message.c_str());
    if (args.foreground) {
      // The log already went to stderr.
    } else {
      std::fprintf(stderr, "tandemd: %s\n", daemon.error().message.c_str());
    }
    report_ready(ready_fd, false);
    return kExitFailure;
  }
  const std::string pid_path = args.daemon.run_dir + "/tandemd.pid";
  {
    std::ofstream pid_file(pid_path, std::ios::trunc);
    pid_file << getpid() << "\n";
  }
  if (!args.foreground) {
    const int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, STDERR_FILENO);
      if (null_fd > STDERR_FILENO) close(null_fd);
    }
  }
  report_ready(ready_fd, true);

  (*loop)->watch(sig_fd, POLLIN, [&](uint32_t) {
    signalfd_siginfo info{};
    while (read(sig_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      TLOG(LOG_NOTICE, "tandemd: signal %u received, shutting down", info.ssi_signo);
      (*loop)->stop();
    }
  });
  int rc = kExitOk;
  if (auto r = (*loop)->run(); !r) {
    TLOG(LOG_ERR, "%s", r.error().message.c_str());
    rc = kExitFailure;
  }
  (*daemon)->shutdown();
  daemon->reset();
  unlink(pid_path.c_str());
  TLOG(LOG_NOTICE, "tandemd: stopped");
  tandem::log::shutdown();
  return rc;
}
