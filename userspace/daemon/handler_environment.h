// The environment a resource handler runs with: the variables DRBD's
// handlers expect (so that existing scripts keep working) and tandem's own.
//
//   DRBD_RESOURCE      resource name             TANDEM_RESOURCE
//   DRBD_PEER          peer host name            TANDEM_PEER
//   DRBD_PEER_ADDRESS  peer IP address           TANDEM_PEER_ADDRESS
//   DRBD_PEER_AF       ipv4 | ipv6               TANDEM_PEER_AF
//   DRBD_MY_ADDRESS    this host's IP address    TANDEM_MY_ADDRESS
//   DRBD_MY_AF         ipv4 | ipv6               TANDEM_MY_AF
//   DRBD_BACKING_DEV   backing device            TANDEM_BACKING_DEV
//   DRBD_CONF          configuration file        TANDEM_CONF
//   DRBD_VOLUME        volume number             TANDEM_VOLUME
//   DRBD_MINOR         N of `device /dev/drbdN` (only then)
//   TANDEM_NODE        this host's name
//   TANDEM_HANDLER     the handler's name ("split-brain", "fence-peer", ...)
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace tandem::daemon {

std::vector<std::pair<std::string, std::string>> handler_environment(
    const config::ResolvedResource& resource, std::string_view config_path,
    std::string_view handler);

}  // namespace tandem::daemon
