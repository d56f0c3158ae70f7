#include "config/config.h"

#include <algorithm>

namespace tandem::config {

std::vector<std::string> Config::resource_names() const {
  std::vector<std::string> names;
  names.reserve(resources_.size());
  for (const ResourceConfig& r : resources_) {
    names.push_back(r.name);
  }
  return names;
}

const ResourceConfig* Config::find(std::string_view resource) const {
  for (const ResourceConfig& r : resources_) {
    if (r.name == resource) {
      return &r;
    }
  }
  return nullptr;
}

namespace {

std::string join_host_names(const ResourceConfig& r) {
  std::string out;
  for (const ResolvedHost& h : r.hosts) {
    for (const std::string& n : h.names) {
      if (!out.empty()) out += ", ";
      out += n;
    }
  }
  return out;
}

bool host_matches(const ResolvedHost& h, std::string_view host) {
  return std::find(h.names.begin(), h.names.end(), host) != h.names.end();
}

}  // namespace

Result<ResolvedResource> Config::resolve(std::string_view resource, std::string_view host) const {
  const ResourceConfig* r = find(resource);
  if (r == nullptr) {
    std::string known;
    for (const std::string& n : resource_names()) {
      known += known.empty() ? n : ", " + n;
    }
    return make_error("no resource '" + std::string(resource) + "' in the configuration (" +
                      (known.empty() ? std::string("it defines none") : "known: " + known) + ")");
  }
  ResolvedResource out;
  out.name = r->name;
  out.net = r->net;
  out.disk = r->disk;
  out.startup = r->startup;
  out.handlers = r->handlers;
  out.options = r->options;
  out.location = r->location;
  bool found = false;
  for (const ResolvedHost& h : r->hosts) {
    if (!found && host_matches(h, host)) {
      out.this_host = h;
      found = true;
    } else {
      out.peers.push_back(h);
    }
  }
  if (!found) {
    return make_error(r->location.to_string() + ": resource " + r->name + " has no 'on " +
                      std::string(host) + "' section (its hosts: " + join_host_names(*r) +
                      "); pass --node with one of them or add a section for this host");
  }
  return out;
}

}  // namespace tandem::config
