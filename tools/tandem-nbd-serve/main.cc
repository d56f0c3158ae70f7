// tandem-nbd-serve: exports a regular file or block device over NBD with
// tandem's NBD server, for tests and for trying the frontend without a
// cluster.
//
//   tandem-nbd-serve --socket PATH | --tcp HOST:PORT [--read-only]
//                    [--name EXPORT] [-v] FILE
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/log.h"
#include "nbd/file_volume.h"
#include "nbd/server.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

tandem::nbd::NbdServer* g_server = nullptr;

void on_signal(int) {
  if (g_server != nullptr) g_server->stop();
}

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: tandem-nbd-serve (--socket PATH | --tcp HOST:PORT)... [--read-only]\n"
               "                        [--name EXPORT] [-v] FILE\n"
               "Exports FILE (a regular file or a block device) over the NBD protocol.\n"
               "  --socket PATH    listen on a unix socket\n"
               "  --tcp HOST:PORT  listen on TCP (port 0 picks a free port)\n"
               "  --read-only      refuse writes (clients see a read-only export)\n"
               "  --name EXPORT    export name (default: the empty name, the default export)\n"
               "  -v               log connections and requests refused\n");
}

struct Args {
  std::string socket_path;
  std::string tcp;
  std::string name;
  std::string file;
  bool read_only = false;
  bool verbose = false;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tandem-nbd-serve: %s needs a value\n", flag);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--socket") {
      const char* v = value("--socket");
      if (v == nullptr) return false;
      args.socket_path = v;
    } else if (a == "--tcp") {
      const char* v = value("--tcp");
      if (v == nullptr) return false;
      args.tcp = v;
    } else if (a == "--name") {
      const char* v = value("--name");
      if (v == nullptr) return false;
      args.name = v;
    } else if (a == "--read-only") {
      args.read_only = true;
    } else if (a == "-v" || a == "--verbose") {
      args.verbose = true;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "tandem-nbd-serve: unknown option %s\n", argv[i]);
      return false;
    } else if (args.file.empty()) {
      args.file = argv[i];
    } else {
      std::fprintf(stderr, "tandem-nbd-serve: more than one FILE given (%s)\n", argv[i]);
      return false;
    }
  }
  if (args.file.empty()) {
    std::fprintf(stderr, "tandem-nbd-serve: no FILE to export\n");
    return false;
  }
  if (args.socket_path.empty() && args.tcp.empty()) {
    std::fprintf(stderr, "tandem-nbd-serve: give --socket PATH or --tcp HOST:PORT\n");
    return false;
  }
  if (args.name.size() > 4096) {
    std::fprintf(stderr, "tandem-nbd-serve: export name longer than 4096 bytes\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, args)) {
    usage(stderr);
    return kExitUsage;
  }
  tandem::log::Options log_options;
  log_options.program = "tandem-nbd-serve";
  log_options.stderr_priority = args.verbose ? LOG_INFO : LOG_WARNING;
  tandem::log::init(log_options);

  using namespace tandem::nbd;
  auto volume = FileVolume::open(args.file, FileVolume::Options{args.read_only, 4});
  if (!volume) {
    std::fprintf(stderr, "tandem-nbd-serve: %s\n", volume.error().message.c_str());
    return kExitFailure;
  }
  {
    NbdServer server({ServedExport{args.name, (*volume)->describe(), volume->get()}});
    std::string where;
    if (!args.socket_path.empty()) {
      auto r = server.listen_unix(args.socket_path);
      if (!r) {
        std::fprintf(stderr, "tandem-nbd-serve: %s\n", r.error().message.c_str());
        return kExitFailure;
      }
      where += " unix:" + args.socket_path;
    }
    if (!args.tcp.empty()) {
      auto address = parse_tcp_address(args.tcp);
      if (!address) {
        std::fprintf(stderr, "tandem-nbd-serve: %s\n", address.error().message.c_str());
        return kExitUsage;
      }
      auto port = server.listen_tcp(*address);
      if (!port) {
        std::fprintf(stderr, "tandem-nbd-serve: %s\n", port.error().message.c_str());
        return kExitFailure;
      }
      where += " tcp:" + (address->host.empty() ? std::string("*") : address->host) + ":" +
               std::to_string(*port);
    }

    g_server = &server;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    std::printf("tandem-nbd-serve: exporting %s (%llu bytes, %s) as '%s' on%s\n", args.file.c_str(),
                static_cast<unsigned long long>((*volume)->size()),
                args.read_only ? "read-only" : "read-write", args.name.c_str(), where.c_str());
    std::fflush(stdout);
    server.run();
    g_server = nullptr;
  }
  tandem::log::shutdown();
  return 0;
}
