#include "config/resolver.h"

#include <algorithm>
#include <map>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

namespace tandem::config {

namespace {

// Effective option values plus where each was last set, for error messages.
struct Effective {
  OptionValues values;
  Handlers handlers;
  std::map<std::string, SourceLocation> set_at;
};

void apply(const std::vector<OptionUse>& uses, Effective& e) {
  for (const OptionUse& u : uses) {
    u.spec->store(e.values, u.value);
    e.set_at[std::string(u.spec->keyword)] = u.where;
  }
}

void apply(const OptionLayer& layer, Effective& e) {
  apply(layer.options, e);
  for (const HandlerUse& h : layer.handlers) {
    e.handlers[h.name] = h.command;
    e.set_at["handler " + h.name] = h.where;
  }
}

std::string host_label(const ResolvedHost& h) {
  std::string out;
  for (const std::string& n : h.names) {
    if (!out.empty()) out += ' ';
    out += n;
  }
  return out;
}

class Resolver {
 public:
  Resolver(const Declarations& decls, Diagnostics& diag) : decls_(decls), diag_(diag) {}

  std::optional<Config> run() {
    Effective global;
    apply(decls_.global, global);

    std::vector<ResourceConfig> resources;
    std::map<std::string, SourceLocation> names;
    for (const ResourceDecl& r : decls_.resources) {
      auto [it, inserted] = names.emplace(r.name, r.where);
      if (!inserted) {
        diag_.error(r.where, "resource " + r.name + " is defined twice (first at " +
                                 it->second.to_string() + "); rename or remove one");
        continue;
      }
      resources.push_back(resource(r));
    }
    check_across_resources(resources);
    if (!diag_.empty()) return std::nullopt;
    return Config(global.values.global, std::move(resources));
  }

 private:
  void error(const SourceLocation& where, const std::string& message) {
    diag_.error(where, message);
  }

  SourceLocation where_set(const Effective& e, const std::string& key,
                           const SourceLocation& fallback) {
    auto it = e.set_at.find(key);
    return it == e.set_at.end() ? fallback : it->second;
  }

  ResourceConfig resource(const ResourceDecl& r) {
    Effective e;
    apply(decls_.common, e);
    apply(r.layer, e);

    ResourceConfig out;
    out.name = r.name;
    out.location = r.where;
    out.net = e.values.net;
    out.disk = e.values.disk;
    out.startup = e.values.startup;
    out.options = e.values.options;
    out.handlers = e.handlers;

    for (const HostDecl& h : r.hosts) {
      out.hosts.push_back(host(r, h, e));
    }
    check_hosts(r, out);
    check_primaries(r, out, e);
    return out;
  }

  ResolvedHost host(const ResourceDecl& r, const HostDecl& h, const Effective& e) {
    ResolvedHost out;
    out.names = h.names;
    out.floating = h.floating;
    out.node_id = h.node_id;
    out.location = h.where;
    const std::string ctx = "resource " + r.name + ", host " + h.names[0];
    if (h.address) {
      out.address = *h.address;
    } else {
      error(h.where, ctx + " has no address; add e.g. 'address 10.0.0.1:7789;' to its on section");
    }
    std::set<uint32_t> numbers;
    for (const auto& [n, v] : r.volumes.volumes) numbers.insert(n);
    for (const auto& [n, v] : h.volumes.volumes) numbers.insert(n);
    if (numbers.empty()) {
      error(h.where, ctx + " has no volume; add device, disk and meta-disk lines");
    }
    for (uint32_t n : numbers) {
      const VolumeDecl* rv = nullptr;
      const VolumeDecl* hv = nullptr;
      if (auto it = r.volumes.volumes.find(n); it != r.volumes.volumes.end()) rv = &it->second;
      if (auto it = h.volumes.volumes.find(n); it != h.volumes.volumes.end()) hv = &it->second;
      const SourceLocation at = hv != nullptr ? hv->where : (rv != nullptr ? rv->where : h.where);
      const std::string vctx = ctx + ", volume " + std::to_string(n);
      ResolvedVolume v;
      v.number = n;
      // A field written in the host's volume wins over the resource's.
      auto pick = [&](auto member) {
        using Field = std::remove_cvref_t<decltype(hv->*member)>;
        if (hv != nullptr && (hv->*member)) return Field(hv->*member);
        if (rv != nullptr) return Field(rv->*member);
        return Field{};
      };
      const std::optional<Device> device = pick(&VolumeDecl::device);
      const std::optional<std::string> disk = pick(&VolumeDecl::disk);
      const std::optional<MetaDisk> meta = pick(&VolumeDecl::meta_disk);
      if (!device) {
        error(at, vctx + " has no device; add e.g. 'device /dev/drbd" + std::to_string(n) + ";'");
      }
      if (!disk) {
        error(at, vctx + " has no disk; add the backing device, e.g. 'disk /dev/vg01/lv;'");
      }
      if (!meta) {
        error(at, vctx + " has no meta-disk; add 'meta-disk internal;' or an external device");
      }
      if (device) v.device = *device;
      if (disk) v.disk = *disk;
      if (meta) v.meta_disk = *meta;
      Effective ve;
      ve.values.disk = e.values.disk;
      if (rv != nullptr) apply(rv->disk_options, ve);
      if (hv != nullptr) apply(hv->disk_options, ve);
      v.disk_options = ve.values.disk;
      out.volumes.push_back(std::move(v));
    }
    return out;
  }

  void check_hosts(const ResourceDecl& r, const ResourceConfig& res) {
    const std::string ctx = "resource " + r.name;
    if (res.hosts.size() < 2) {
      error(r.where,
            ctx + " has " + std::to_string(res.hosts.size()) +
                " host section(s); a mirror needs two: add 'on PEER { ... }' for the peer");
    }
    std::map<std::string, SourceLocation> names;
    std::map<std::string, std::string> addresses;  // "host:port" -> host label
    std::map<uint32_t, std::string> node_ids;
    for (std::size_t i = 0; i < res.hosts.size(); ++i) {
      const ResolvedHost& h = res.hosts[i];
      const HostDecl& d = r.hosts[i];
      for (const std::string& n : h.names) {
        auto [it, inserted] = names.emplace(n, h.location);
        if (!inserted) {
          error(h.location, ctx + ": host " + n + " appears in two sections (the other at " +
                                it->second.to_string() + "); remove one");
        }
      }
      if (d.address) {
        const std::string key = h.address.to_string();
        auto [it, inserted] = addresses.emplace(key, host_label(h));
        if (!inserted) {
          error(d.address_at.value_or(h.location), ctx + ": hosts " + it->second + " and " +
                                                       host_label(h) + " both use address " + key +
                                                       "; every host needs its own address:port");
        }
      }
      if (res.hosts.size() > 2 && !h.node_id) {
        error(h.location, ctx + " has more than two hosts, so host " + host_label(h) +
                              " needs a node-id; add 'node-id N;'");
      }
      if (h.node_id) {
        auto [it, inserted] = node_ids.emplace(*h.node_id, host_label(h));
        if (!inserted) {
          error(h.location, ctx + ": hosts " + it->second + " and " + host_label(h) +
                                " both have node-id " + std::to_string(*h.node_id) +
                                "; node ids must differ");
        }
      }
    }
    // Every host must carry the same volumes: a volume exists on all
    // replicas or on none.
    if (res.hosts.size() >= 2) {
      auto numbers = [](const ResolvedHost& h) {
        std::vector<uint32_t> out;
        for (const ResolvedVolume& v : h.volumes) out.push_back(v.number);
        return out;
      };
      const std::vector<uint32_t> first = numbers(res.hosts[0]);
      for (std::size_t i = 1; i < res.hosts.size(); ++i) {
        if (numbers(res.hosts[i]) != first) {
          error(res.hosts[i].location,
                ctx + ": host " + host_label(res.hosts[i]) + " has different volume numbers than " +
                    host_label(res.hosts[0]) + "; define the same volumes on every host");
        }
      }
    }
  }

  void check_primaries(const ResourceDecl& r, const ResourceConfig& res, const Effective& e) {
    const std::string ctx = "resource " + r.name;
    const std::vector<std::string>& bpo = res.startup.become_primary_on;
    const SourceLocation bpo_at = where_set(e, "become-primary-on", r.where);
    const bool both = res.startup.become_primary_on_both();
    if (!both) {
      for (const std::string& n : bpo) {
        const bool known =
            std::any_of(res.hosts.begin(), res.hosts.end(), [&](const ResolvedHost& h) {
              return std::find(h.names.begin(), h.names.end(), n) != h.names.end();
            });
        if (n == "both") {
          error(bpo_at, ctx + ": 'both' must be the only word after become-primary-on");
        } else if (!known) {
          error(bpo_at, ctx + ": become-primary-on names host " + n +
                            ", which has no 'on' section in this resource");
        }
      }
    }
    if (res.net.after_sb_0pri == AfterSb0Pri::kDiscardNode) {
      const std::string& n = res.net.after_sb_0pri_node;
      const bool known =
          std::any_of(res.hosts.begin(), res.hosts.end(), [&](const ResolvedHost& h) {
            return std::find(h.names.begin(), h.names.end(), n) != h.names.end();
          });
      if (!known) {
        error(where_set(e, "after-sb-0pri", r.where),
              ctx + ": after-sb-0pri discard-node-" + n + " names host " + n +
                  ", which has no 'on' section in this resource; name one of its hosts");
      }
    }
    const bool two = both || bpo.size() >= 2;
    if (two && !res.net.allow_two_primaries) {
      error(bpo_at, ctx + ": become-primary-on " + (both ? std::string("both") : "two hosts") +
                        " makes both hosts primary, but allow-two-primaries is not set; add "
                        "'allow-two-primaries yes;' to the net section (or name one host)");
    }
    if (res.net.allow_two_primaries && res.net.protocol != Protocol::kC) {
      error(where_set(e, "allow-two-primaries", r.where),
            ctx + ": allow-two-primaries needs protocol C, but protocol " +
                std::string(name(res.net.protocol)) + " is in effect (set at " +
                where_set(e, "protocol", r.where).to_string() +
                "); set 'protocol C;' in the net section");
    }
  }

  void check_across_resources(const std::vector<ResourceConfig>& resources) {
    std::map<std::string, std::string> addresses;  // address -> "resource r, host h"
    std::map<std::pair<std::string, uint32_t>, std::string> minors;
    std::map<std::pair<std::string, std::string>, std::string> disks;
    std::map<std::pair<std::string, std::string>, std::string> frontends;
    std::map<std::string, const ResourceConfig*> by_name;
    for (const ResourceConfig& r : resources) by_name[r.name] = &r;
    for (const ResourceConfig& r : resources) {
      for (const ResolvedHost& h : r.hosts) {
        const std::string who = "resource " + r.name + " (host " + host_label(h) + ")";
        if (!h.address.host.empty()) {
          auto [it, inserted] = addresses.emplace(h.address.to_string(), who);
          if (!inserted && it->second.rfind("resource " + r.name + " ", 0) != 0) {
            error(h.location, who + " uses address " + h.address.to_string() +
                                  ", already used by " + it->second +
                                  "; give each resource its own port");
          }
        }
        for (const ResolvedVolume& v : h.volumes) {
          const std::string vwho = who + " volume " + std::to_string(v.number);
          for (const std::string& n : h.names) {
            auto [mit, mnew] = v.device.has_minor
                                   ? minors.emplace(std::make_pair(n, v.device.minor), vwho)
                                   : std::make_pair(minors.end(), true);
            if (!mnew) {
              error(h.location, vwho + " uses minor " + std::to_string(v.device.minor) +
                                    " on host " + n + ", already used by " + mit->second +
                                    "; each device needs its own minor");
            }
            check_device_unique(h.location, n, v.device, vwho, frontends);
            if (!v.disk.empty()) {
              auto [dit, dnew] = disks.emplace(std::make_pair(n, v.disk), vwho);
              if (!dnew) {
                error(h.location, vwho + " uses disk " + v.disk + " on host " + n +
                                      ", already used by " + dit->second +
                                      "; each volume needs its own backing device");
              }
            }
          }
        }
      }
      check_resync_after(r, by_name);
    }
  }

  // Two volumes on one host cannot share a TCP port, a FUSE mount point,
  // a kernel nbd device or a ublk device number.
  void check_device_unique(const SourceLocation& at, const std::string& host, const Device& d,
                           const std::string& vwho,
                           std::map<std::pair<std::string, std::string>, std::string>& used) {
    std::vector<std::pair<std::string, std::string>> claims;  // key, what it is
    if (d.nbd_tcp) {
      claims.emplace_back("tcp " + std::to_string(d.nbd_tcp->port),
                          "NBD TCP port " + std::to_string(d.nbd_tcp->port));
    }
    if (!d.nbd_kernel_device.empty()) {
      claims.emplace_back("nbd " + d.nbd_kernel_device, "kernel device " + d.nbd_kernel_device);
    }
    if (!d.fuse_mount.empty()) {
      claims.emplace_back("fuse " + d.fuse_mount, "FUSE mount point " + d.fuse_mount);
    }
    if (d.ublk_id) {
      claims.emplace_back("ublk " + std::to_string(*d.ublk_id),
                          "ublk device number " + std::to_string(*d.ublk_id));
    }
    for (const auto& [key, what] : claims) {
      auto [it, inserted] = used.emplace(std::make_pair(host, key), vwho);
      if (!inserted) {
        error(at, vwho + " uses " + what + " on host " + host + ", already used by " + it->second +
                      "; give each volume its own");
      }
    }
  }

  void check_resync_after(const ResourceConfig& r,
                          const std::map<std::string, const ResourceConfig*>& by_name) {
    if (r.disk.resync_after.empty()) return;
    std::set<std::string> seen{r.name};
    const ResourceConfig* cur = &r;
    while (!cur->disk.resync_after.empty()) {
      const std::string& next = cur->disk.resync_after;
      auto it = by_name.find(next);
      if (it == by_name.end()) {
        if (cur == &r) {
          error(r.location, "resource " + r.name + ": resync-after names resource " + next +
                                ", which is not defined; name an existing resource or remove it");
        }
        return;
      }
      if (!seen.insert(next).second) {
        error(r.location, "resource " + r.name + ": resync-after forms a cycle through " + next +
                              "; break the chain");
        return;
      }
      cur = it->second;
    }
  }

  const Declarations& decls_;
  Diagnostics& diag_;
};

}  // namespace

std::optional<Config> resolve_declarations(const Declarations& decls, Diagnostics& diag) {
  return Resolver(decls, diag).run();
}

}  // namespace tandem::config
