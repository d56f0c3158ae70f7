// tandemadm fencing verbs: fence-ack (confirm a manual fence), fence-history
// (what was fenced, when, how) and fence (fence a node now, as configured
// in cluster.conf).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>

#include "cluster/cluster_conf.h"
#include "common/log.h"
#include "fence/fence_history.h"
#include "fence/fence_node.h"
#include "fence/manual_ack.h"
#include "verbs.h"

namespace tandem::adm {
namespace {

std::string default_cluster_conf() {
  const char* env = std::getenv("TANDEM_CLUSTER_CONF");
  return env != nullptr && *env != '\0' ? env : "/etc/tandem/cluster.conf";
}

// Takes "--name VALUE" or "--name=VALUE" at args[i]; advances i.
bool take_value(std::span<const std::string> args, std::size_t& i, const std::string& name,
                std::string* out) {
  const std::string& arg = args[i];
  if (arg == name) {
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "tandemadm: option %s needs a value\n", name.c_str());
      *out = "";
      return true;
    }
    *out = args[++i];
    return true;
  }
  if (arg.rfind(name + "=", 0) == 0) {
    *out = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

std::string format_time(std::int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int fence_ack(const GlobalOptions& options, std::span<const std::string> args) {
  (void)options;
  bool yes = false;
  std::string run_dir = fence::default_manual_run_dir();
  std::string node;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string v;
    if (args[i] == "--yes" || args[i] == "-y") {
      yes = true;
    } else if (take_value(args, i, "--run-dir", &v)) {
      if (v.empty()) return kExitUsage;
      run_dir = v;
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "tandemadm fence-ack: unknown option %s\n", args[i].c_str());
      return kExitUsage;
    } else if (node.empty()) {
      node = args[i];
    } else {
      std::fprintf(stderr, "tandemadm fence-ack: acknowledge one node at a time\n");
      return kExitUsage;
    }
  }
  if (node.empty()) {
    std::fprintf(stderr, "usage: tandemadm fence-ack [--yes] [--run-dir DIR] NODE\n");
    return kExitUsage;
  }
  fence::ManualFenceDir dir(run_dir);
  auto request = dir.pending_request(node);
  if (!request) {
    std::fprintf(stderr, "tandemadm fence-ack: %s\n", request.error().message.c_str());
    return kExitFailure;
  }
  if (!yes) {
    if (isatty(STDIN_FILENO) == 0) {
      std::fprintf(stderr,
                   "tandemadm fence-ack: refusing to acknowledge node %s without a terminal to "
                   "confirm on; pass --yes if you are sure it was reset\n",
                   node.c_str());
      return kExitFailure;
    }
    std::fprintf(stderr,
                 "Node %s is waiting to be fenced by hand (request from pid %d on %s).\n"
                 "Acknowledge ONLY if %s has really been powered off or reset: a wrong\n"
                 "acknowledgement lets the cluster use its data while it still writes, which\n"
                 "corrupts data.\nType 'yes' to acknowledge: ",
                 node.c_str(), static_cast<int>(request->pid), request->host.c_str(), node.c_str());
    std::string answer;
    if (!std::getline(std::cin, answer) || answer != "yes") {
      std::fprintf(stderr, "tandemadm fence-ack: not acknowledged\n");
      return kExitFailure;
    }
  }
  const char* user = std::getenv("SUDO_USER");
  if (user == nullptr) user = std::getenv("USER");
  if (auto r = dir.acknowledge(node, user != nullptr ? user : "root"); !r) {
    std::fprintf(stderr, "tandemadm fence-ack: %s\n", r.error().message.c_str());
    return kExitFailure;
  }
  std::printf("fencing of node %s acknowledged\n", node.c_str());
  return kExitOk;
}

int fence_history(const GlobalOptions& options, std::span<const std::string> args) {
  (void)options;
  bool json = false;
  std::string path = fence::default_history_path();
  std::string node;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string v;
    if (args[i] == "--json") {
      json = true;
    } else if (take_value(args, i, "--history", &v)) {
      if (v.empty()) return kExitUsage;
      path = v;
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "tandemadm fence-history: unknown option %s\n", args[i].c_str());
      return kExitUsage;
    } else if (node.empty()) {
      node = args[i];
    } else {
      std::fprintf(stderr, "usage: tandemadm fence-history [NODE] [--json] [--history FILE]\n");
      return kExitUsage;
    }
  }
  auto history = fence::read_history(path);
  if (!history) {
    std::fprintf(stderr, "tandemadm fence-history: %s\n", history.error().message.c_str());
    return kExitFailure;
  }
  if (!history->problem.empty()) {
    std::fprintf(stderr, "tandemadm fence-history: warning: %s: skipped %zu bytes: %s\n",
                 path.c_str(), history->ignored_tail_bytes, history->problem.c_str());
  }
  if (json) std::printf("[");
  bool first = true;
  for (const proto::FenceEvent& e : history->events) {
    if (!node.empty() && e.victim() != node) continue;
    if (json) {
      std::printf(
          "%s\n  {\"victim\": %s, \"victim_nodeid\": %u, \"requester\": %s, "
          "\"started_unix_ms\": %lld, \"finished_unix_ms\": %lld, \"success\": %s, "
          "\"method\": %s, \"attempts\": [",
          first ? "" : ",", json_string(e.victim()).c_str(), e.victim_nodeid(),
          json_string(e.requester()).c_str(), static_cast<long long>(e.started_unix_ms()),
          static_cast<long long>(e.finished_unix_ms()), e.success() ? "true" : "false",
          json_string(e.method()).c_str());
      for (int i = 0; i < e.attempts_size(); ++i) {
        const proto::FenceDeviceAttempt& a = e.attempts(i);
        std::printf(
            "%s{\"device\": %s, \"agent\": %s, \"action\": %s, \"exit_code\": %d, "
            "\"detail\": %s}",
            i == 0 ? "" : ", ", json_string(a.device()).c_str(), json_string(a.agent()).c_str(),
            json_string(a.action()).c_str(), a.exit_code(), json_string(a.detail()).c_str());
      }
      std::printf("]}");
    } else {
      if (first) {
        std::printf("%-19s  %-12s  %-7s  %-10s  %s\n", "STARTED", "NODE", "RESULT", "METHOD",
                    "REQUESTER / DEVICES");
      }
      std::printf("%-19s  %-12s  %-7s  %-10s  %s\n", format_time(e.started_unix_ms()).c_str(),
                  e.victim().c_str(), e.success() ? "fenced" : "FAILED", e.method().c_str(),
                  e.requester().c_str());
      for (const proto::FenceDeviceAttempt& a : e.attempts()) {
        std::printf("%-19s  %-12s  %-7s  %-10s    %s (%s %s): exit %d%s%s\n", "", "", "", "",
                    a.device().c_str(), a.agent().c_str(), a.action().c_str(), a.exit_code(),
                    a.detail().empty() ? "" : ": ", a.detail().c_str());
      }
    }
    first = false;
  }
  if (json) {
    std::printf("%s]\n", first ? "" : "\n");
  } else if (first) {
    std::printf("no fencing recorded%s%s in %s\n", node.empty() ? "" : " for node ", node.c_str(),
                path.c_str());
  }
  return kExitOk;
}

int fence_now(const GlobalOptions& options, std::span<const std::string> args) {
  std::string conf_path = default_cluster_conf();
  std::string history = fence::default_history_path();
  std::string action = "reboot";
  std::string node;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string v;
    if (take_value(args, i, "--cluster-conf", &v)) {
      if (v.empty()) return kExitUsage;
      conf_path = v;
    } else if (take_value(args, i, "--history", &v)) {
      if (v.empty()) return kExitUsage;
      history = v;
    } else if (take_value(args, i, "--action", &v)) {
      if (v != "reboot" && v != "off") {
        std::fprintf(stderr, "tandemadm fence: --action must be reboot or off\n");
        return kExitUsage;
      }
      action = v;
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "tandemadm fence: unknown option %s\n", args[i].c_str());
      return kExitUsage;
    } else if (node.empty()) {
      node = args[i];
    } else {
      std::fprintf(stderr, "tandemadm fence: fence one node at a time\n");
      return kExitUsage;
    }
  }
  if (node.empty()) {
    std::fprintf(stderr,
                 "usage: tandemadm fence [--cluster-conf FILE] [--action reboot|off] NODE\n");
    return kExitUsage;
  }
  auto conf = cluster::load_cluster_conf(conf_path);
  if (!conf) {
    std::fprintf(stderr, "tandemadm fence: %s\n", conf.error().message.c_str());
    return kExitConfig;
  }
  // Show the agents' output as it comes: a manual agent's instructions
  // must reach the administrator while it waits.
  if (!options.verbose) log::set_stderr_priority(LOG_NOTICE);
  fence::FenceRequest request;
  request.victim = node;
  request.requester = "tandemadm" + (options.node.empty() ? "" : " on " + options.node);
  request.action = action;
  auto result = fence::fence_node(*conf, request, fence::FenceRuntime::real(history));
  if (!result) {
    std::fprintf(stderr, "tandemadm fence: %s\n", result.error().message.c_str());
    return kExitFailure;
  }
  if (!result->history_problem.empty()) {
    std::fprintf(stderr, "tandemadm fence: warning: %s\n", result->history_problem.c_str());
  }
  // fence_node() logged the outcome (notice level, shown on stderr).
  return result->success ? kExitOk : kExitFailure;
}

}  // namespace

void register_fence_verbs(std::vector<Verb>& table) {
  table.push_back({"fence", "[--cluster-conf FILE] [--action reboot|off] NODE",
                   "fence NODE now with the methods of cluster.conf", fence_now});
  table.push_back({"fence-ack", "[--yes] [--run-dir DIR] NODE",
                   "confirm that NODE was reset by hand (manual fencing)", fence_ack});
  table.push_back({"fence-history", "[NODE] [--json] [--history FILE]",
                   "show past fencing attempts", fence_history});
}

}  // namespace tandem::adm
