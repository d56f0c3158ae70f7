// Configuration verbs (`dump`) and the shared configuration loading used by
// every verb that reads the resource file.
#include <cstdio>
#include <string>

#include "config/dump.h"
#include "config_loader.h"
#include "verbs.h"

namespace tandem::adm {

namespace {

void print_error(const GlobalOptions& options, const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fprintf(stderr, "tandemadm: configuration %s is not usable; fix the errors above\n",
               options.config_path.c_str());
}

bool hosts_resource(const config::ResourceConfig& r, std::string_view node) {
  for (const config::ResolvedHost& h : r.hosts) {
    for (const std::string& n : h.names) {
      if (n == node) return true;
    }
  }
  return false;
}

int dump(const GlobalOptions& options, std::span<const std::string> args) {
  if (args.size() > 1) {
    std::fprintf(stderr, "tandemadm: usage: tandemadm dump [RESOURCE]\n");
    return kExitUsage;
  }
  std::optional<config::Config> cfg = load_config_or_report(options);
  if (!cfg) return kExitConfig;
  if (!args.empty()) {
    // Resolving checks that the resource exists and has this node.
    if (!load_resource_or_report(options, args[0])) return kExitConfig;
    std::fputs(config::dump_config(*cfg, options.node, args[0]).c_str(), stdout);
    return kExitOk;
  }
  bool anywhere = false;
  for (const config::ResourceConfig& r : cfg->resources()) {
    anywhere = anywhere || hosts_resource(r, options.node);
  }
  if (!anywhere && !cfg->resources().empty()) {
    std::fprintf(stderr,
                 "tandemadm: warning: host '%s' has no 'on' section in any resource of %s; "
                 "pass --node NAME to act as one of the configured hosts\n",
                 options.node.c_str(), options.config_path.c_str());
  }
  std::fputs(config::dump_config(*cfg, options.node).c_str(), stdout);
  return kExitOk;
}

}  // namespace

std::optional<config::Config> load_config_or_report(const GlobalOptions& options) {
  Result<config::Config> cfg = config::load_file(options.config_path);
  if (!cfg) {
    print_error(options, cfg.error().message);
    return std::nullopt;
  }
  return std::move(*cfg);
}

std::optional<config::ResolvedResource> load_resource_or_report(const GlobalOptions& options,
                                                                std::string_view resource) {
  std::optional<config::Config> cfg = load_config_or_report(options);
  if (!cfg) return std::nullopt;
  Result<config::ResolvedResource> r = cfg->resolve(resource, options.node);
  if (!r) {
    std::fprintf(stderr, "tandemadm: %s\n", r.error().message.c_str());
    return std::nullopt;
  }
  return std::move(*r);
}

void register_config_verbs(std::vector<Verb>& table) {
  table.push_back(Verb{"dump", "[RESOURCE]",
                       "print the effective configuration (defaults explicit) and check it",
                       &dump});
}

}  // namespace tandem::adm
