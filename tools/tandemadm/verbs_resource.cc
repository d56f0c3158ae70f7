// tandemadm verbs that act on running resources through tandemd's control
// socket: up, down, attach, detach, connect, disconnect, primary,
// secondary, adjust, invalidate, invalidate-remote, verify, pause-sync,
// resume-sync, resume-io, role, cstate, dstate, status, wait-connect,
// wait-sync.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "control.pb.h"
#include "daemon/control_client.h"
#include "verbs.h"

namespace tandem::adm {
namespace {

using namespace std::chrono_literals;
constexpr auto kCallTimeout = 60s;
// How long invalidate / invalidate-remote wait for the peer to start the sync.
constexpr auto kSyncStartWait = 10s;

struct Parsed {
  std::string resource;
  bool force = false;
  bool discard_my_data = false;
  bool json = false;
  int timeout_s = 0;  // wait-*: 0 waits forever
};

// Accepts exactly one resource name (or "all") and the flags in `allowed`.
bool parse_args(std::string_view verb, std::span<const std::string> args,
                std::initializer_list<std::string_view> allowed, Parsed& out) {
  auto allowed_flag = [&](std::string_view f) {
    for (auto a : allowed) {
      if (a == f) return true;
    }
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.empty() && a[0] == '-') {
      if (!allowed_flag(a) && !(a.rfind("--timeout=", 0) == 0 && allowed_flag("--timeout"))) {
        std::fprintf(stderr, "tandemadm %.*s: unknown option %s\n", static_cast<int>(verb.size()),
                     verb.data(), a.c_str());
        return false;
      }
      if (a == "--force") out.force = true;
      if (a == "--discard-my-data") out.discard_my_data = true;
      if (a == "--json") out.json = true;
      if (a == "--timeout" || a.rfind("--timeout=", 0) == 0) {
        std::string v;
        if (a == "--timeout") {
          if (i + 1 >= args.size()) {
            std::fprintf(stderr, "tandemadm: --timeout needs a number of seconds\n");
            return false;
          }
          v = args[++i];
        } else {
          v = a.substr(std::string("--timeout=").size());
        }
        try {
          out.timeout_s = std::stoi(v);
        } catch (...) {
          std::fprintf(stderr, "tandemadm: --timeout %s is not a number of seconds\n", v.c_str());
          return false;
        }
      }
      continue;
    }
    if (!out.resource.empty()) {
      std::fprintf(stderr, "tandemadm %.*s: one resource name (or 'all') expected, got '%s' too\n",
                   static_cast<int>(verb.size()), verb.data(), a.c_str());
      return false;
    }
    out.resource = a;
  }
  if (out.resource.empty()) {
    std::fprintf(stderr, "tandemadm %.*s: name a resource (or 'all')\n",
                 static_cast<int>(verb.size()), verb.data());
    return false;
  }
  return true;
}

std::optional<proto::ControlReply> call(const GlobalOptions& options, proto::ControlVerb verb,
                                        const Parsed& p) {
  proto::ControlRequest req;
  req.set_verb(verb);
  req.set_resource(p.resource);
  req.set_force(p.force);
  req.set_discard_my_data(p.discard_my_data);
  auto reply = daemon::control_call(options.run_dir, req, kCallTimeout);
  if (!reply) {
    std::fprintf(stderr, "tandemadm: %s\n", reply.error().message.c_str());
    return std::nullopt;
  }
  return std::move(reply).value();
}

// What the core says while a connection's node states are being exchanged
// (core::Replicator::promote).
constexpr std::string_view kHandshakeInProgress = "node states not yet exchanged";

int run_verb(const GlobalOptions& options, std::span<const std::string> args, std::string_view name,
             proto::ControlVerb verb, std::initializer_list<std::string_view> flags = {}) {
  Parsed p;
  if (!parse_args(name, args, flags, p)) return kExitUsage;
  auto reply = call(options, verb, p);
  // A promotion is refused for the few milliseconds in which a new
  // connection exchanges the node states; that is no answer for the
  // administrator, so ask again for a while before reporting it.
  for (int attempt = 0; reply && !reply->ok() && attempt < 50 &&
                        reply->error().find(kHandshakeInProgress) != std::string::npos;
       ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reply = call(options, verb, p);
  }
  if (!reply) return kExitFailure;
  for (const auto& note : reply->notes()) std::printf("%s\n", note.c_str());
  if (!reply->ok()) {
    std::fprintf(stderr, "%s\n", reply->error().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

bool syncing(const proto::ResourceStatus& s) {
  return s.replication() == "SyncSource" || s.replication() == "SyncTarget";
}

// "user, peer, resync-after r1" or empty when the resync is not paused.
std::string paused_reasons(const proto::ResourceStatus& s) {
  std::string out;
  auto add = [&](const std::string& r) { out += (out.empty() ? "" : ", ") + r; };
  if (s.sync_paused_user()) add("user (pause-sync here)");
  if (s.sync_paused_peer()) add("peer (pause-sync on the peer)");
  if (s.sync_paused_dependency()) add("resync-after " + s.resync_after());
  return out;
}

void print_status(const proto::ResourceStatus& s) {
  std::printf("%s role:%s disk:%s\n", s.name().c_str(), s.role().c_str(), s.disk().c_str());
  std::printf("  %s connection:%s role:%s disk:%s replication:%s\n", s.peer_node().c_str(),
              s.connection().c_str(), s.peer_role().c_str(), s.peer_disk().c_str(),
              s.replication().c_str());
  if (syncing(s) && s.sync_total_bytes() > 0) {
    const double done = 100.0 * static_cast<double>(s.sync_done_bytes()) /
                        static_cast<double>(s.sync_total_bytes());
    std::printf("    sync: %.1f%% done (%s of %s)", done,
                human_bytes(static_cast<double>(s.sync_done_bytes())).c_str(),
                human_bytes(static_cast<double>(s.sync_total_bytes())).c_str());
    if (s.sync_rate_bytes_per_sec() > 0) {
      const uint64_t left =
          (s.sync_total_bytes() - std::min(s.sync_done_bytes(), s.sync_total_bytes())) /
          s.sync_rate_bytes_per_sec();
      std::printf(", %s/s, %llu:%02llu:%02llu left",
                  human_bytes(static_cast<double>(s.sync_rate_bytes_per_sec())).c_str(),
                  static_cast<unsigned long long>(left / 3600),
                  static_cast<unsigned long long>(left / 60 % 60),
                  static_cast<unsigned long long>(left % 60));
    }
    std::printf("\n");
  }
  const std::string paused = paused_reasons(s);
  if (!paused.empty()) std::printf("    sync paused: %s\n", paused.c_str());
  if (s.out_of_sync_bytes() > 0) {
    std::printf("    out of sync: %llu KiB\n",
                static_cast<unsigned long long>(s.out_of_sync_bytes() / 1024));
  }
  if (s.verify_running() || s.verify_total_bytes() > 0) {
    const double done = s.verify_total_bytes() == 0
                            ? 0.0
                            : 100.0 * static_cast<double>(s.verify_done_bytes()) /
                                  static_cast<double>(s.verify_total_bytes());
    std::printf("    verify: %s %.1f%% (%s of %s), %llu KiB differ\n",
                s.verify_running() ? "running" : "finished", done,
                human_bytes(static_cast<double>(s.verify_done_bytes())).c_str(),
                human_bytes(static_cast<double>(s.verify_total_bytes())).c_str(),
                static_cast<unsigned long long>(s.verify_mismatch_bytes() / 1024));
  }
  if (s.sync_bytes_sent() > 0 || s.sync_bytes_received() > 0) {
    std::printf("    resync data: %s sent, %s received since attach\n",
                human_bytes(static_cast<double>(s.sync_bytes_sent())).c_str(),
                human_bytes(static_cast<double>(s.sync_bytes_received())).c_str());
  }
  if (s.io_suspended()) {
    std::printf(
        "    I/O suspended (fencing): run `tandemadm resume-io %s` once the peer is fenced\n",
        s.name().c_str());
  }
  if (!s.running_handler().empty()) {
    std::printf("    handler running: %s\n", s.running_handler().c_str());
  }
  if (!s.nbd_socket().empty()) std::printf("  nbd: %s\n", s.nbd_socket().c_str());
  if (!s.last_error().empty() && s.connection() != "Connected") {
    std::printf("  last error: %s\n", s.last_error().c_str());
  }
}

std::string json_string(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

const char* json_bool(bool v) {
  return v ? "true" : "false";
}

void print_json(const proto::ControlReply& reply) {
  std::printf("{\"resources\":[");
  for (int i = 0; i < reply.resources_size(); ++i) {
    const auto& s = reply.resources(i);
    const double pct = s.sync_total_bytes() == 0
                           ? 0.0
                           : 100.0 * static_cast<double>(s.sync_done_bytes()) /
                                 static_cast<double>(s.sync_total_bytes());
    std::printf(
        "%s{\"name\":%s,\"role\":%s,\"disk\":%s,\"connection\":%s,\"peer\":%s,"
        "\"peer_role\":%s,\"peer_disk\":%s,\"replication\":%s,\"size_bytes\":%llu,"
        "\"sync\":{\"active\":%s,\"total_bytes\":%llu,\"done_bytes\":%llu,\"percent\":%.2f,"
        "\"rate_bytes_per_sec\":%llu,\"bytes_sent\":%llu,\"bytes_received\":%llu,"
        "\"paused_user\":%s,\"paused_peer\":%s,\"paused_dependency\":%s,\"resync_after\":%s},"
        "\"out_of_sync_bytes\":%llu,\"out_of_sync_kib\":%llu,"
        "\"verify\":{\"running\":%s,\"total_bytes\":%llu,\"done_bytes\":%llu,"
        "\"mismatch_bytes\":%llu},\"io_suspended\":%s,\"attached_unclean\":%s,"
        "\"al_transactions\":%llu,\"running_handler\":%s,\"nbd_socket\":%s,"
        "\"backing_device\":%s,\"last_error\":%s}",
        i == 0 ? "" : ",", json_string(s.name()).c_str(), json_string(s.role()).c_str(),
        json_string(s.disk()).c_str(), json_string(s.connection()).c_str(),
        json_string(s.peer_node()).c_str(), json_string(s.peer_role()).c_str(),
        json_string(s.peer_disk()).c_str(), json_string(s.replication()).c_str(),
        static_cast<unsigned long long>(s.size_bytes()), syncing(s) ? "true" : "false",
        static_cast<unsigned long long>(s.sync_total_bytes()),
        static_cast<unsigned long long>(s.sync_done_bytes()), pct,
        static_cast<unsigned long long>(s.sync_rate_bytes_per_sec()),
        static_cast<unsigned long long>(s.sync_bytes_sent()),
        static_cast<unsigned long long>(s.sync_bytes_received()), json_bool(s.sync_paused_user()),
        json_bool(s.sync_paused_peer()), json_bool(s.sync_paused_dependency()),
        json_string(s.resync_after()).c_str(),
        static_cast<unsigned long long>(s.out_of_sync_bytes()),
        static_cast<unsigned long long>(s.out_of_sync_bytes() / 1024),
        json_bool(s.verify_running()), static_cast<unsigned long long>(s.verify_total_bytes()),
        static_cast<unsigned long long>(s.verify_done_bytes()),
        static_cast<unsigned long long>(s.verify_mismatch_bytes()), json_bool(s.io_suspended()),
        json_bool(s.attached_unclean()), static_cast<unsigned long long>(s.al_transactions()),
        json_string(s.running_handler()).c_str(), json_string(s.nbd_socket()).c_str(),
        json_string(s.backing_device()).c_str(), json_string(s.last_error()).c_str());
  }
  std::printf("]}\n");
}

int status_verb(const GlobalOptions& options, std::span<const std::string> args) {
  Parsed p;
  std::vector<std::string> a(args.begin(), args.end());
  bool has_resource = false;
  for (const auto& x : a) has_resource = has_resource || (!x.empty() && x[0] != '-');
  if (!has_resource) a.push_back("all");
  if (!parse_args("status", a, {"--json"}, p)) return kExitUsage;
  auto reply = call(options, proto::CONTROL_VERB_STATUS, p);
  if (!reply) return kExitFailure;
  if (!reply->ok()) {
    std::fprintf(stderr, "%s\n", reply->error().c_str());
    return kExitFailure;
  }
  if (p.json) {
    print_json(*reply);
  } else {
    for (const auto& s : reply->resources()) print_status(s);
  }
  return kExitOk;
}

// role / cstate / dstate: one line per resource, DRBD 8.4 style.
int state_verb(const GlobalOptions& options, std::span<const std::string> args,
               std::string_view name) {
  Parsed p;
  if (!parse_args(name, args, {}, p)) return kExitUsage;
  auto reply = call(options, proto::CONTROL_VERB_STATUS, p);
  if (!reply) return kExitFailure;
  if (!reply->ok()) {
    std::fprintf(stderr, "%s\n", reply->error().c_str());
    return kExitFailure;
  }
  for (const auto& s : reply->resources()) {
    if (name == "role") {
      std::printf("%s/%s\n", s.role().c_str(), s.peer_role().c_str());
    } else if (name == "dstate") {
      std::printf("%s/%s\n", s.disk().c_str(), s.peer_disk().c_str());
    } else {
      std::printf("%s\n", syncing(s) ? s.replication().c_str() : s.connection().c_str());
    }
  }
  return kExitOk;
}

// wait-connect / wait-sync: polls the status until every named resource
// reaches the state, or the timeout passes.
int wait_verb(const GlobalOptions& options, std::span<const std::string> args,
              std::string_view name, bool (*reached)(const proto::ResourceStatus&)) {
  Parsed p;
  if (!parse_args(name, args, {"--timeout"}, p)) return kExitUsage;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(p.timeout_s);
  while (true) {
    auto reply = call(options, proto::CONTROL_VERB_STATUS, p);
    if (!reply) return kExitFailure;
    if (!reply->ok()) {
      std::fprintf(stderr, "%s\n", reply->error().c_str());
      return kExitFailure;
    }
    bool all = true;
    for (const auto& s : reply->resources()) {
      if (!reached(s)) {
        all = false;
        if (s.connection() == "StandAlone") {
          std::fprintf(stderr,
                       "tandemadm %.*s: resource %s is StandAlone (not trying to connect)%s%s\n",
                       static_cast<int>(name.size()), name.data(), s.name().c_str(),
                       s.last_error().empty() ? "" : ": ", s.last_error().c_str());
          return kExitFailure;
        }
      }
    }
    if (all) return kExitOk;
    if (p.timeout_s > 0 && std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr, "tandemadm %.*s: timed out after %d s\n", static_cast<int>(name.size()),
                   name.data(), p.timeout_s);
      for (const auto& s : reply->resources()) print_status(s);
      return kExitFailure;
    }
    std::this_thread::sleep_for(200ms);
  }
}

// invalidate / invalidate-remote: over a connection the daemon's "ok" means
// the peer was asked; the sync starts once it confirms. Like drbdadm, which
// returns after the cluster-wide state change, wait until it has started
// (the resource is syncing, or its resync counter moved: a small device may
// be done between two looks), so that a following wait-sync waits for it.
// Without a connection, invalidate takes effect at once and there is
// nothing to wait for.
int run_sync_request_verb(const GlobalOptions& options, std::span<const std::string> args,
                          std::string_view name, proto::ControlVerb verb) {
  Parsed p;
  if (!parse_args(name, args, {}, p)) return kExitUsage;
  auto before = call(options, proto::CONTROL_VERB_STATUS, p);
  if (!before) return kExitFailure;
  const int rc = run_verb(options, args, name, verb);
  if (rc != kExitOk || !before->ok()) return rc;
  const bool remote = verb == proto::CONTROL_VERB_INVALIDATE_REMOTE;
  const auto counter = [remote](const proto::ResourceStatus& s) {
    return remote ? s.sync_bytes_sent() : s.sync_bytes_received();
  };
  const auto deadline = std::chrono::steady_clock::now() + kSyncStartWait;
  for (const auto& b : before->resources()) {
    if (b.connection() != "Connected") continue;
    Parsed one = p;
    one.resource = b.name();
    while (true) {
      auto now = call(options, proto::CONTROL_VERB_STATUS, one);
      if (!now) return kExitFailure;
      if (!now->ok() || now->resources_size() != 1) {
        std::fprintf(stderr, "%s\n", now->error().c_str());
        return kExitFailure;
      }
      const proto::ResourceStatus& s = now->resources(0);
      if (syncing(s) || counter(s) > counter(b)) break;
      if (s.connection() != "Connected") {
        std::fprintf(stderr,
                     "tandemadm %.*s: resource %s: the connection to %s was lost before the peer "
                     "confirmed; nothing was changed, run it again once connected\n",
                     static_cast<int>(name.size()), name.data(), b.name().c_str(),
                     b.peer_node().c_str());
        return kExitFailure;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        std::fprintf(stderr,
                     "tandemadm %.*s: resource %s: the sync has not started %lld s after the "
                     "request (peer %s did not confirm); see `tandemadm status %s` and the logs\n",
                     static_cast<int>(name.size()), name.data(), b.name().c_str(),
                     static_cast<long long>(kSyncStartWait.count()), b.peer_node().c_str(),
                     b.name().c_str());
        return kExitFailure;
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  return kExitOk;
}

bool is_connected(const proto::ResourceStatus& s) {
  return s.connection() == "Connected";
}
bool is_synced(const proto::ResourceStatus& s) {
  return s.connection() == "Connected" && s.replication() == "Established";
}

}  // namespace

void register_resource_verbs(std::vector<Verb>& table) {
  table.push_back({"up", "RESOURCE|all", "attach the backing device and connect to the peer",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "up", proto::CONTROL_VERB_UP);
                   }});
  table.push_back({"down", "RESOURCE|all", "disconnect and detach (refused while Primary)",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "down", proto::CONTROL_VERB_DOWN);
                   }});
  table.push_back({"attach", "RESOURCE|all", "open the backing device and its metadata",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "attach", proto::CONTROL_VERB_ATTACH);
                   }});
  table.push_back({"detach", "RESOURCE|all", "stop using the backing device (become Diskless)",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "detach", proto::CONTROL_VERB_DETACH);
                   }});
  table.push_back({"connect", "[--discard-my-data] RESOURCE|all", "start connecting to the peer",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "connect", proto::CONTROL_VERB_CONNECT,
                                     {"--discard-my-data"});
                   }});
  table.push_back({"disconnect", "RESOURCE|all", "close the peer connection (StandAlone)",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "disconnect", proto::CONTROL_VERB_DISCONNECT);
                   }});
  table.push_back({"primary", "[--force] RESOURCE|all",
                   "promote; --force makes an Inconsistent disk UpToDate and syncs the peer",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "primary", proto::CONTROL_VERB_PRIMARY, {"--force"});
                   }});
  table.push_back({"secondary", "RESOURCE|all", "demote to Secondary",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "secondary", proto::CONTROL_VERB_SECONDARY);
                   }});
  table.push_back({"adjust", "RESOURCE|all",
                   "apply the configuration file: attach, connect, reconnect for changed options",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "adjust", proto::CONTROL_VERB_ADJUST);
                   }});
  table.push_back(
      {"invalidate", "RESOURCE|all",
       "discard this node's data: full sync from the peer (now, or at the next connection)",
       [](const GlobalOptions& o, std::span<const std::string> a) {
         return run_sync_request_verb(o, a, "invalidate", proto::CONTROL_VERB_INVALIDATE);
       }});
  table.push_back({"invalidate-remote", "RESOURCE|all",
                   "discard the peer's data: full sync from this node",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_sync_request_verb(o, a, "invalidate-remote",
                                                  proto::CONTROL_VERB_INVALIDATE_REMOTE);
                   }});
  table.push_back({"verify", "RESOURCE|all",
                   "compare both replicas online (verify-alg); differences become out of sync",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "verify", proto::CONTROL_VERB_VERIFY);
                   }});
  table.push_back({"pause-sync", "RESOURCE|all", "pause the resync (until resume-sync)",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "pause-sync", proto::CONTROL_VERB_PAUSE_SYNC);
                   }});
  table.push_back({"resume-sync", "RESOURCE|all", "resume a resync paused by pause-sync",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "resume-sync", proto::CONTROL_VERB_RESUME_SYNC);
                   }});
  table.push_back({"resume-io", "RESOURCE|all",
                   "unfreeze application I/O frozen by fencing resource-and-stonith",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return run_verb(o, a, "resume-io", proto::CONTROL_VERB_RESUME_IO);
                   }});
  table.push_back({"role", "RESOURCE|all", "print local/peer role",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return state_verb(o, a, "role");
                   }});
  table.push_back({"cstate", "RESOURCE|all", "print the connection (or sync) state",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return state_verb(o, a, "cstate");
                   }});
  table.push_back({"dstate", "RESOURCE|all", "print local/peer disk state",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return state_verb(o, a, "dstate");
                   }});
  table.push_back(
      {"status", "[--json] [RESOURCE|all]",
       "roles, disk/connection/replication states, sync progress",
       [](const GlobalOptions& o, std::span<const std::string> a) { return status_verb(o, a); }});
  table.push_back({"wait-connect", "[--timeout SEC] RESOURCE|all", "wait until connected",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return wait_verb(o, a, "wait-connect", is_connected);
                   }});
  table.push_back({"wait-sync", "[--timeout SEC] RESOURCE|all",
                   "wait until connected and no resync is running",
                   [](const GlobalOptions& o, std::span<const std::string> a) {
                     return wait_verb(o, a, "wait-sync", is_synced);
                   }});
}

}  // namespace tandem::adm
