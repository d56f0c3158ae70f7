#include "md_volume.h"

#include <algorithm>
#include <cstdio>

namespace tandem::adm {

namespace {

MdTarget make_target(const config::ResolvedResource& res, const config::ResolvedVolume& v) {
  MdTarget t;
  t.label = res.name + "/" + std::to_string(v.number);
  t.volume = v;
  if (v.meta_disk.internal) {
    t.spec = {storage::MetaDiskKind::kInternal, 0};
    t.md_path = v.disk;
  } else if (v.meta_disk.index) {
    t.spec = {storage::MetaDiskKind::kExternalIndexed, *v.meta_disk.index};
    t.md_path = v.meta_disk.path;
  } else {
    t.spec = {storage::MetaDiskKind::kExternal, 0};
    t.md_path = v.meta_disk.path;
  }
  if (res.this_host.node_id) {
    t.node_id = *res.this_host.node_id;
  }
  return t;
}

}  // namespace

std::vector<MdTarget> md_targets(const config::Config& cfg, const std::string& node,
                                 const std::string& arg, bool* config_error) {
  *config_error = false;
  std::vector<MdTarget> out;
  std::vector<std::string> resources;
  std::string resource = arg;
  std::string volume;
  if (auto slash = arg.find('/'); slash != std::string::npos) {
    resource = arg.substr(0, slash);
    volume = arg.substr(slash + 1);
  }
  if (resource == "all") {
    for (const config::ResourceConfig& r : cfg.resources()) {
      for (const config::ResolvedHost& h : r.hosts) {
        if (std::find(h.names.begin(), h.names.end(), node) != h.names.end()) {
          resources.push_back(r.name);
          break;
        }
      }
    }
    if (resources.empty()) {
      std::fprintf(stderr, "tandemadm: host '%s' has no resource in the configuration\n",
                   node.c_str());
      *config_error = true;
    }
  } else {
    resources.push_back(resource);
  }
  for (const std::string& name : resources) {
    Result<config::ResolvedResource> res = cfg.resolve(name, node);
    if (!res) {
      std::fprintf(stderr, "tandemadm: %s\n", res.error().message.c_str());
      *config_error = true;
      return {};
    }
    bool found = false;
    for (const config::ResolvedVolume& v : res->volumes()) {
      if (!volume.empty() && std::to_string(v.number) != volume) continue;
      found = true;
      out.push_back(make_target(*res, v));
    }
    if (!found) {
      std::fprintf(stderr, "tandemadm: resource %s has no volume %s on host %s\n", name.c_str(),
                   volume.c_str(), node.c_str());
      *config_error = true;
      return {};
    }
  }
  return out;
}

Result<OpenedVolume> open_volume(const MdTarget& t, bool write) {
  storage::UringOptions o;
  o.queue_depth = 4;
  o.read_only = !write;
  o.exclusive = write;
  OpenedVolume v;
  auto backing = storage::UringBacking::open(t.volume.disk, o);
  if (!backing) {
    return make_error(t.label + ": backing device: " + backing.error().message,
                      backing.error().sys_errno);
  }
  v.backing = std::move(backing).value();
  if (t.spec.kind != storage::MetaDiskKind::kInternal) {
    auto md = storage::UringBacking::open(t.md_path, o);
    if (!md) {
      return make_error(t.label + ": metadata device: " + md.error().message, md.error().sys_errno);
    }
    v.md = std::move(md).value();
  }
  return v;
}

}  // namespace tandem::adm
