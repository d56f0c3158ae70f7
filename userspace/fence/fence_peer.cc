#include "fence/fence_peer.h"

#include <string>

namespace tandem::fence {

namespace {

std::string short_name(const std::string& host) {
  return host.substr(0, host.find('.'));
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t begin = text.find_first_not_of(" \t,", pos);
    if (begin == std::string::npos) break;
    std::size_t end = text.find_first_of(" \t,", begin);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(begin, end - begin));
    pos = end;
  }
  return out;
}

}  // namespace

Result<FencePeerTarget> fence_peer_target(const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v != nullptr ? std::string(v).substr(0, 4096) : std::string();
  };
  FencePeerTarget target;
  target.resource = get("DRBD_RESOURCE");
  // DRBD 9 names the peer by node id and maps ids to host names.
  const std::string peer_id = get("DRBD_PEER_NODE_ID");
  if (!peer_id.empty()) {
    const std::string host = get(("DRBD_NODE_ID_" + peer_id).c_str());
    if (!host.empty()) target.peers.push_back(host);
  }
  if (target.peers.empty()) {
    const std::string peer = get("DRBD_PEER");
    if (!peer.empty()) target.peers = split_words(peer);
  }
  if (target.peers.empty()) target.peers = split_words(get("DRBD_PEERS"));
  if (target.peers.empty()) {
    return make_error(
        "no peer to fence: none of DRBD_PEER, DRBD_PEERS or DRBD_PEER_NODE_ID (with "
        "DRBD_NODE_ID_<id>) is set" +
        (target.resource.empty() ? std::string() : " for resource " + target.resource) +
        "; tandem-fence-peer is meant to be run as a fence-peer handler");
  }
  return target;
}

Result<std::string> map_peer_to_node(const cluster::ClusterConf& conf, const std::string& peer) {
  if (const auto* node = conf.find_node(peer)) return node->name;
  const std::string wanted = short_name(peer);
  for (const cluster::ClusterNode& node : conf.nodes) {
    if (short_name(node.name) == wanted) return node.name;
  }
  std::string known;
  for (const auto& n : conf.nodes) known += (known.empty() ? "" : ", ") + n.name;
  return make_error("peer " + peer + " is not a node of " + conf.source + " (nodes: " + known +
                    "); name the <clusternode> like the peer's host name");
}

}  // namespace tandem::fence
