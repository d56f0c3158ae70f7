// What a configuration file declares, before inheritance is applied: the
// layers (common, resource, volume) exactly as written, each value already
// checked. config/resolver.h turns these into the resolved structs of
// config.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/options.h"

namespace tandem::config {

struct OptionUse {
  const OptionSpec* spec = nullptr;
  ParsedValue value;
  SourceLocation where;
};

struct HandlerUse {
  std::string name;
  std::string command;
  SourceLocation where;
};

// Options set by one section level (common, a resource, a volume).
struct OptionLayer {
  std::vector<OptionUse> options;
  std::vector<HandlerUse> handlers;
  // Where each option/handler was set: once per level, even across
  // sections (net { verify-alg } and syncer { verify-alg } collide).
  std::map<std::string, SourceLocation> set_at;
};

struct VolumeDecl {
  std::optional<Device> device;
  std::optional<std::string> disk;
  std::optional<MetaDisk> meta_disk;
  std::vector<OptionUse> disk_options;
  std::map<std::string, SourceLocation> disk_options_at;
  std::map<std::string, SourceLocation> set_at;  // device/disk/meta-disk statements
  SourceLocation where;
};

// Volumes of a resource or host: `volume N { }` sections, or device/disk/
// meta-disk written directly in the enclosing section (implicit volume 0).
struct VolumeSet {
  std::map<uint32_t, VolumeDecl> volumes;
  std::optional<SourceLocation> implicit_at;  // first direct device/disk/meta-disk
  std::optional<SourceLocation> explicit_at;  // first `volume N { }`
};

struct HostDecl {
  std::vector<std::string> names;
  bool floating = false;
  std::optional<Address> address;
  std::optional<SourceLocation> address_at;
  std::optional<uint32_t> node_id;
  VolumeSet volumes;
  SourceLocation where;
};

struct ResourceDecl {
  std::string name;
  OptionLayer layer;
  VolumeSet volumes;
  std::vector<HostDecl> hosts;
  SourceLocation where;
};

struct Declarations {
  std::vector<OptionUse> global;
  OptionLayer common;
  std::vector<ResourceDecl> resources;
};

}  // namespace tandem::config
