// cluster.conf (the cman-era cluster configuration): nodes and their fence
// methods, shared fence devices, fence_daemon delays, cman quorum settings
// and totem timing. The parser keeps the line of every element so that
// errors and later checks can point at it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tandem::cluster {

// Hard limits: cluster.conf is read by privileged daemons and tools.
inline constexpr std::size_t kMaxClusterConfBytes = 1024 * 1024;
inline constexpr int kMaxClusterConfDepth = 32;
inline constexpr std::size_t kMaxClusterConfElements = 20000;
inline constexpr std::size_t kMaxAttributeLength = 1024;
inline constexpr std::size_t kMaxAttributesPerElement = 64;
inline constexpr std::size_t kMaxClusterNodes = 256;

// Attributes in document order; the last duplicate wins on lookup.
using Attributes = std::vector<std::pair<std::string, std::string>>;

struct FenceDeviceRef {  // <device name=... attr=.../> inside a <method>
  std::string name;
  Attributes attributes;  // every attribute except name
  int line = 0;
};

struct FenceMethod {  // <method name=...>
  std::string name;
  std::vector<FenceDeviceRef> devices;
  int line = 0;
};

struct ClusterNode {  // <clusternode name nodeid votes>
  std::string name;
  std::uint32_t nodeid = 0;
  std::uint32_t votes = 1;
  std::vector<FenceMethod> fence_methods;
  int line = 0;
};

struct FenceDevice {  // <fencedevice name agent .../>
  std::string name;
  std::string agent;
  Attributes attributes;  // every attribute except name and agent
  int line = 0;
};

struct FenceDaemonSettings {          // <fence_daemon/>, cman's defaults
  std::uint32_t post_join_delay = 6;  // seconds
  std::uint32_t post_fail_delay = 0;  // seconds
  int line = 0;
};

struct CmanSettings {  // <cman/>
  bool two_node = false;
  std::uint32_t expected_votes = 0;  // 0: not given (sum of votes)
  int line = 0;
};

struct TotemSettings {  // <totem/>
  std::uint32_t token_ms = 10000;
  std::uint32_t consensus_ms = 0;  // 0: not given (1.2 * token)
  int line = 0;
};

struct ClusterConf {
  std::string source;  // file name used in messages
  std::string name;
  std::uint32_t config_version = 0;
  std::vector<ClusterNode> nodes;
  std::vector<FenceDevice> fence_devices;
  FenceDaemonSettings fence_daemon;
  CmanSettings cman;
  TotemSettings totem;

  const ClusterNode* find_node(std::string_view node_name) const;
  const ClusterNode* find_node_by_id(std::uint32_t nodeid) const;
  const FenceDevice* find_fence_device(std::string_view device_name) const;
};

// Parses and checks cluster.conf text. `source` names the file in errors,
// which read "SOURCE:LINE: <element>: what is wrong; what to do".
Result<ClusterConf> parse_cluster_conf(std::string_view text, const std::string& source);
Result<ClusterConf> load_cluster_conf(const std::string& path);

std::string attribute_or(const Attributes& attributes, std::string_view name, std::string fallback);

}  // namespace tandem::cluster
