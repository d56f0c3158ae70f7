// The UDP runtime of an IPMI LAN session: resolves the BMC, owns the socket
// and the per-packet timer, and drives a sans-I/O Session until each step
// completes. One client is one session; the destructor closes it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "fence/ipmi/chassis.h"
#include "fence/ipmi/session.h"

namespace tandem::ipmi {

struct BmcAddress {
  std::string host;
  std::uint16_t port = 623;
};

struct LanClientOptions {
  SessionConfig session;
  int packet_timeout_ms = 1000;  // wait per transmission before retrying
};

class LanClient {
 public:
  static Result<std::unique_ptr<LanClient>> connect(const BmcAddress& bmc,
                                                    const LanClientOptions& options);
  ~LanClient();
  LanClient(const LanClient&) = delete;
  LanClient& operator=(const LanClient&) = delete;

  // Sends one request and returns the reply, whatever its completion code.
  Result<IpmiResponse> call(const IpmiRequest& request);
  Result<ChassisStatus> chassis_status();
  Result<void> chassis_control(ChassisControl control);
  // Best effort: a BMC that does not answer Close Session times the session
  // out on its own.
  Result<void> close();

  const std::string& peer() const { return peer_; }

 private:
  LanClient(int fd, std::string peer, LanClientOptions options);
  Result<SessionEvent> run(SessionEvent first);

  int fd_ = -1;
  std::string peer_;  // "host:port" for messages
  LanClientOptions options_;
  std::unique_ptr<Session> session_;
  int icmp_errno_ = 0;  // the last ICMP error reported for our datagrams
};

// A CSPRNG-backed RandomSource.
RandomSource system_random();

}  // namespace tandem::ipmi
