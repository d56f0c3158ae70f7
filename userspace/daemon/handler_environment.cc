#include "daemon/handler_environment.h"

namespace tandem::daemon {
namespace {

std::string family(const config::Address& a) {
  return a.family == config::AddressFamily::kIpv6 ? "ipv6" : "ipv4";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> handler_environment(
    const config::ResolvedResource& resource, std::string_view config_path,
    std::string_view handler) {
  std::vector<std::pair<std::string, std::string>> env;
  auto both = [&](const std::string& name, const std::string& value) {
    env.emplace_back("DRBD_" + name, value);
    env.emplace_back("TANDEM_" + name, value);
  };
  const config::ResolvedHost& me = resource.this_host;
  both("RESOURCE", resource.name);
  if (!resource.peers.empty()) {
    const config::ResolvedHost& peer = resource.peers[0];
    both("PEER", peer.names.empty() ? peer.address.host : peer.names[0]);
    both("PEER_ADDRESS", peer.address.host);
    both("PEER_AF", family(peer.address));
  }
  both("MY_ADDRESS", me.address.host);
  both("MY_AF", family(me.address));
  both("CONF", std::string(config_path));
  if (!me.volumes.empty()) {
    const config::ResolvedVolume& v = me.volumes[0];
    both("BACKING_DEV", v.disk);
    both("VOLUME", std::to_string(v.number));
    if (v.device.has_minor && v.device.path.rfind("/dev/drbd", 0) == 0) {
      env.emplace_back("DRBD_MINOR", std::to_string(v.device.minor));
    }
  }
  if (!me.names.empty()) env.emplace_back("TANDEM_NODE", me.names[0]);
  env.emplace_back("TANDEM_HANDLER", std::string(handler));
  return env;
}

}  // namespace tandem::daemon
