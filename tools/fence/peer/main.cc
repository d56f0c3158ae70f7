// tandem-fence-peer: fences a replication peer through the cluster.conf
// fencing configuration and answers with DRBD's fence-peer exit codes:
// 7 when every peer was fenced, 1 (or --failure-exit) when not.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cluster/cluster_conf.h"
#include "common/log.h"
#include "fence/fence_history.h"
#include "fence/fence_node.h"
#include "fence/fence_peer.h"

namespace {

constexpr const char* kUsage =
    "usage: tandem-fence-peer [--cluster-conf FILE] [--history FILE] [--action reboot|off]\n"
    "                         [--failure-exit CODE] [--no-delay] [-v]\n"
    "Fences the peer named by DRBD_PEER / DRBD_PEERS / DRBD_PEER_NODE_ID (as DRBD's\n"
    "fence-peer handler) with the methods of cluster.conf. Exit 7: peer fenced;\n"
    "1: fencing failed, DRBD keeps I/O frozen (--failure-exit 5 reports 'peer unreachable'\n"
    "instead, which lets DRBD resume I/O without the peer: only for set-ups that accept that).\n";

int run(int argc, char** argv) {
  std::string conf_path = "/etc/tandem/cluster.conf";
  if (const char* env = std::getenv("TANDEM_CLUSTER_CONF"); env != nullptr && *env != '\0') {
    conf_path = env;
  }
  std::string history = tandem::fence::default_history_path();
  std::string action = "reboot";
  int failure_exit = tandem::fence::kFencePeerFailed;
  bool delay = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--cluster-conf" && (v = value()) != nullptr) {
      conf_path = v;
    } else if (arg == "--history" && (v = value()) != nullptr) {
      history = v;
    } else if (arg == "--action" && (v = value()) != nullptr &&
               (std::strcmp(v, "reboot") == 0 || std::strcmp(v, "off") == 0)) {
      action = v;
    } else if (arg == "--failure-exit" && (v = value()) != nullptr && std::atoi(v) > 0 &&
               std::atoi(v) < 256) {
      failure_exit = std::atoi(v);
    } else if (arg == "--no-delay") {
      delay = false;
    } else if (arg == "-v" || arg == "--verbose") {
      tandem::log::set_stderr_priority(LOG_DEBUG);
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "tandem-fence-peer: bad argument %s\n%s", arg.c_str(), kUsage);
      return failure_exit;
    }
  }

  auto target = tandem::fence::fence_peer_target(std::getenv);
  if (!target) {
    std::fprintf(stderr, "tandem-fence-peer: %s\n", target.error().message.c_str());
    return failure_exit;
  }
  auto conf = tandem::cluster::load_cluster_conf(conf_path);
  if (!conf) {
    std::fprintf(stderr, "tandem-fence-peer: %s\n", conf.error().message.c_str());
    return failure_exit;
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string requester = std::string("tandem-fence-peer on ") + host +
                                (target->resource.empty() ? "" : " for " + target->resource);
  const tandem::fence::FenceRuntime runtime = tandem::fence::FenceRuntime::real(history);
  bool all_fenced = true;
  for (const std::string& peer : target->peers) {
    auto node = tandem::fence::map_peer_to_node(*conf, peer);
    if (!node) {
      std::fprintf(stderr, "tandem-fence-peer: %s\n", node.error().message.c_str());
      all_fenced = false;
      continue;
    }
    tandem::fence::FenceRequest request;
    request.victim = *node;
    request.requester = requester;
    request.action = action;
    request.after_failure = delay;
    auto result = tandem::fence::fence_node(*conf, request, runtime);
    if (!result) {
      std::fprintf(stderr, "tandem-fence-peer: %s\n", result.error().message.c_str());
      all_fenced = false;
      continue;
    }
    // fence_node() already logged the outcome (notice or error) to stderr.
    if (!result->history_problem.empty()) {
      std::fprintf(stderr, "tandem-fence-peer: warning: %s\n", result->history_problem.c_str());
    }
    all_fenced = all_fenced && result->success;
  }
  return all_fenced ? tandem::fence::kFencePeerFenced : failure_exit;
}

}  // namespace

// DRBD logs the handler's stderr; the outcome and the agents' output are
// logged at notice level.
int main(int argc, char** argv) {
  tandem::log::init(
      {.program = "tandem-fence-peer", .stderr_priority = LOG_NOTICE, .to_syslog = true});
  const int rc = run(argc, argv);
  tandem::log::shutdown();
  return rc;
}
