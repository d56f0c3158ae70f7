// Listening sockets for the NBD server: a unix socket (in the run
// directory) and optionally TCP.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace tandem::nbd {

struct TcpAddress {
  std::string host;  // name or address; "" or "*" listens on every address
  uint16_t port = 0;
};

// Parses HOST:PORT, [IPV6]:PORT or :PORT.
Result<TcpAddress> parse_tcp_address(const std::string& text);

// Binds and listens on a unix socket at `path`. A stale socket file from a
// server that is gone is replaced; a live one is an error.
Result<int> listen_unix(const std::string& path);

// Binds and listens on TCP. Port 0 picks a free port (see bound_port()).
Result<int> listen_tcp(const TcpAddress& address);

// The local port of a bound TCP socket.
uint16_t bound_port(int fd);

}  // namespace tandem::nbd
