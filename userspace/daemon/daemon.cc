#include "daemon/daemon.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/log.h"
#include "daemon/control_client.h"

namespace tandem::daemon {
namespace {

bool is_host_of(const config::ResourceConfig& r, const std::string& node) {
  for (const auto& h : r.hosts) {
    for (const auto& n : h.names) {
      if (n == node) return true;
    }
  }
  return false;
}

const char* verb_name(proto::ControlVerb v) {
  switch (v) {
    case proto::CONTROL_VERB_UP:
      return "up";
    case proto::CONTROL_VERB_DOWN:
      return "down";
    case proto::CONTROL_VERB_ATTACH:
      return "attach";
    case proto::CONTROL_VERB_DETACH:
      return "detach";
    case proto::CONTROL_VERB_CONNECT:
      return "connect";
    case proto::CONTROL_VERB_DISCONNECT:
      return "disconnect";
    case proto::CONTROL_VERB_PRIMARY:
      return "primary";
    case proto::CONTROL_VERB_SECONDARY:
      return "secondary";
    case proto::CONTROL_VERB_ADJUST:
      return "adjust";
    case proto::CONTROL_VERB_STATUS:
      return "status";
    case proto::CONTROL_VERB_INVALIDATE:
      return "invalidate";
    case proto::CONTROL_VERB_INVALIDATE_REMOTE:
      return "invalidate-remote";
    case proto::CONTROL_VERB_VERIFY:
      return "verify";
    case proto::CONTROL_VERB_PAUSE_SYNC:
      return "pause-sync";
    case proto::CONTROL_VERB_RESUME_SYNC:
      return "resume-sync";
    case proto::CONTROL_VERB_RESUME_IO:
      return "resume-io";
    default:
      return "?";
  }
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(EventLoop& loop, const DaemonOptions& options) {
  auto cfg = config::load_file(options.config_path);
  if (!cfg) return cfg.error();
  std::unique_ptr<Daemon> d(new Daemon(loop));
  d->options_ = options;
  for (const auto& rc : cfg->resources()) {
    if (!is_host_of(rc, options.node)) continue;
    auto resolved = cfg->resolve(rc.name, options.node);
    if (!resolved) return resolved.error();
    auto runtime = ResourceRuntime::create(loop, std::move(resolved).value(), options.run_dir);
    if (!runtime) return runtime.error();
    (*runtime)->set_config_path(options.config_path);
    Daemon* self = d.get();
    (*runtime)->on_change([self] { self->update_sync_dependencies(); });
    d->resources_.emplace(rc.name, std::move(runtime).value());
  }
  for (const auto& [name, r] : d->resources_) {
    const std::string& after = r->resync_after();
    if (!after.empty() && d->resources_.count(after) == 0) {
      TLOG(LOG_WARNING,
           "resource %s: resync-after %s names a resource this tandemd does not run (node %s): "
           "the order is not enforced",
           name.c_str(), after.c_str(), options.node.c_str());
    }
  }
  if (d->resources_.empty()) {
    TLOG(LOG_WARNING, "%s names no resource with a host called '%s': nothing to manage",
         options.config_path.c_str(), options.node.c_str());
  }
  if (mkdir(options.run_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return make_error("cannot create the run directory " + options.run_dir + ": " +
                      std::strerror(errno));
  }
  Daemon* self = d.get();
  auto server =
      ControlServer::start(loop, control_socket_path(options.run_dir), options.access,
                           [self](const proto::ControlRequest& req, const ClientCredentials&) {
                             return self->handle(req);
                           });
  if (!server) return server.error();
  d->control_ = std::move(server).value();
  TLOG(LOG_NOTICE, "tandemd for node %s: %zu resource(s) from %s, control socket %s",
       options.node.c_str(), d->resources_.size(), options.config_path.c_str(),
       d->control_->path().c_str());
  return d;
}

Daemon::~Daemon() = default;

proto::ControlReply Daemon::handle(const proto::ControlRequest& request) {
  proto::ControlReply reply;
  std::vector<ResourceRuntime*> targets;
  const std::string& name = request.resource();
  if (name.empty() || name == "all") {
    for (auto& [n, r] : resources_) targets.push_back(r.get());
  } else if (auto it = resources_.find(name); it != resources_.end()) {
    targets.push_back(it->second.get());
  } else {
    std::string known;
    for (const auto& [n, r] : resources_) known += (known.empty() ? "" : ", ") + n;
    reply.set_ok(false);
    reply.set_error("resource " + name + " is not managed by this tandemd (node " + options_.node +
                    ", " + options_.config_path +
                    "; its resources: " + (known.empty() ? "none" : known) + ")");
    return reply;
  }
  std::string errors;
  std::optional<config::Config> reloaded;
  if (request.verb() == proto::CONTROL_VERB_ADJUST) {
    auto cfg = config::load_file(options_.config_path);
    if (!cfg) {
      reply.set_ok(false);
      reply.set_error("adjust: " + cfg.error().message + " (nothing was changed)");
      return reply;
    }
    reloaded = std::move(cfg).value();
    for (const auto& rc : reloaded->resources()) {
      if (is_host_of(rc, options_.node) && resources_.count(rc.name) == 0) {
        reply.add_notes("resource " + rc.name + " is new in " + options_.config_path +
                        ": restart tandemd to run it");
      }
    }
  }
  for (ResourceRuntime* r : targets) {
    Result<void> result;
    switch (request.verb()) {
      case proto::CONTROL_VERB_UP:
        result = r->up();
        break;
      case proto::CONTROL_VERB_DOWN:
        result = r->down();
        break;
      case proto::CONTROL_VERB_ATTACH:
        result = r->attach();
        break;
      case proto::CONTROL_VERB_DETACH:
        result = r->detach();
        break;
      case proto::CONTROL_VERB_CONNECT:
        result = r->connect(request.discard_my_data());
        break;
      case proto::CONTROL_VERB_DISCONNECT:
        result = r->disconnect();
        break;
      case proto::CONTROL_VERB_PRIMARY:
        result = r->primary(request.force());
        break;
      case proto::CONTROL_VERB_SECONDARY:
        result = r->secondary();
        break;
      case proto::CONTROL_VERB_ADJUST: {
        auto resolved = reloaded->resolve(r->name(), options_.node);
        if (!resolved) {
          result = make_error("resource " + r->name() + ": " + resolved.error().message +
                              " (to remove a resource, run `tandemadm down " + r->name() +
                              "` and restart tandemd)");
          break;
        }
        std::vector<std::string> notes;
        result = r->adjust(*resolved, notes);
        for (auto& n : notes) reply.add_notes(n);
        break;
      }
      case proto::CONTROL_VERB_INVALIDATE:
        result = r->invalidate();
        break;
      case proto::CONTROL_VERB_INVALIDATE_REMOTE:
        result = r->invalidate_remote();
        break;
      case proto::CONTROL_VERB_VERIFY:
        result = r->verify();
        break;
      case proto::CONTROL_VERB_PAUSE_SYNC:
        result = r->pause_sync();
        break;
      case proto::CONTROL_VERB_RESUME_SYNC:
        result = r->resume_sync();
        break;
      case proto::CONTROL_VERB_RESUME_IO:
        result = r->resume_io();
        break;
      case proto::CONTROL_VERB_STATUS:
        break;
      default:
        result = make_error("unknown control verb " + std::to_string(request.verb()) +
                            " (tandemadm and tandemd versions differ?)");
    }
    if (!result) {
      errors += (errors.empty() ? "" : "\n") + result.error().message;
      TLOG(LOG_WARNING, "%s %s refused: %s", verb_name(request.verb()), r->name().c_str(),
           result.error().message.c_str());
    } else if (request.verb() != proto::CONTROL_VERB_STATUS) {
      TLOG(LOG_INFO, "resource %s: %s%s done", r->name().c_str(), verb_name(request.verb()),
           request.force() ? " --force" : "");
    }
    *reply.add_resources() = r->status();
  }
  reply.set_ok(errors.empty());
  reply.set_error(errors);
  return reply;
}

void Daemon::update_sync_dependencies() {
  // resync-after A: this resource's resync waits while A (or whatever A
  // itself waits for) syncs. Chains are followed; a cycle (which the
  // configuration check should refuse) is cut after one round.
  for (auto& [name, r] : resources_) {
    bool paused = false;
    std::string after = r->resync_after();
    for (size_t hops = 0; !after.empty() && hops < resources_.size(); ++hops) {
      auto it = resources_.find(after);
      if (it == resources_.end() || it->second.get() == r.get()) break;
      if (it->second->syncing()) {
        paused = true;
        break;
      }
      after = it->second->resync_after();
    }
    r->set_sync_dependency_paused(paused);
  }
}

void Daemon::shutdown() {
  control_.reset();
  for (auto& [name, r] : resources_) r->shutdown();
  // Let local I/O finish before its buffers go away with the runtimes.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (loop_.io_in_flight() > 0 && Clock::now() < deadline) {
    (void)loop_.run_once(std::chrono::milliseconds(50));
  }
  for (auto& [name, r] : resources_) r->close_disk();
  resources_.clear();
}

}  // namespace tandem::daemon
