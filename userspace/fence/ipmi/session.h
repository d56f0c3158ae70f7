// The sans-I/O interface of an IPMI LAN session (RMCP+ or IPMI 1.5).
//
// A session is driven by three kinds of events: the caller starts it or
// asks for a request, a datagram arrives, or the caller's per-packet timer
// fires. Every event returns a SessionEvent: possibly a datagram to send
// (the caller then re-arms its timer), and possibly an outcome. The session
// never touches a socket or a clock, so it is tested with scripted replies.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "fence/ipmi/byte_io.h"
#include "fence/ipmi/cipher_suite.h"
#include "fence/ipmi/ipmi_message.h"
#include "fence/ipmi/privilege.h"

namespace tandem::ipmi {

// Fills its argument with unpredictable bytes (session ids, RAKP nonces,
// IVs). The runtime passes a CSPRNG; tests pass a seeded generator.
using RandomSource = std::function<void(std::span<std::uint8_t>)>;

enum class Lan15Auth { kMd5, kPassword, kNone };

struct SessionConfig {
  std::string username;
  std::string password;  // never logged, never put into an error
  Privilege privilege = Privilege::kAdministrator;
  bool lanplus = true;
  CipherSuite suite;  // RMCP+ only
  // The BMC key K_G ("two-key login"), zero-padded; without it K_G is the
  // user's password key. Secret like the password. RMCP+ only.
  std::optional<std::array<std::uint8_t, 20>> bmc_key;
  Lan15Auth auth = Lan15Auth::kMd5;  // IPMI 1.5 only
  int attempts = 3;                  // sends per packet before giving up
};

struct SessionEvent {
  enum class Kind {
    kNone,         // nothing decided yet; keep waiting
    kEstablished,  // the session is ready for requests
    kResponse,     // `response` answers the pending request
    kClosed,       // the BMC confirmed Close Session
    kFailed,       // `error` says why; the session is unusable
  };
  Kind kind = Kind::kNone;
  Bytes send;            // datagram to transmit now, if not empty
  std::string rejected;  // why an incoming datagram was ignored, if it was
  IpmiResponse response;
  Error error;
};

class Session {
 public:
  virtual ~Session() = default;
  virtual SessionEvent start() = 0;
  virtual SessionEvent on_datagram(ByteSpan datagram) = 0;
  virtual SessionEvent on_timeout() = 0;
  // Only when established and no request is pending.
  virtual SessionEvent request(const IpmiRequest& request) = 0;
  virtual SessionEvent close() = 0;
  virtual bool established() const = 0;
};

Result<std::unique_ptr<Session>> make_session(const SessionConfig& config, RandomSource random);

}  // namespace tandem::ipmi
