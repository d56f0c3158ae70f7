// IPMI 1.5 LAN session ("lanplus off"): Get Channel Authentication
// Capabilities, Get Session Challenge, Activate Session, Set Session
// Privilege Level, requests and Close Session, with MD5, straight password
// or no per-message authentication. MD5 codes are MD5(password, session id, message,
// sequence number, password), the password zero-padded to 16 bytes.
// IPMI 1.5 has no encryption: prefer RMCP+ where the BMC offers it.
#pragma once

#include <optional>

#include "fence/ipmi/session.h"
#include "fence/ipmi/session_commands.h"
#include "fence/ipmi/session_packet.h"

namespace tandem::ipmi {

inline constexpr std::size_t kMaxLan15Password = 16;

// The MD5 authentication code of one IPMI 1.5 packet.
std::array<std::uint8_t, 16> lan15_md5_auth_code(std::string_view password,
                                                 std::uint32_t session_id, ByteSpan message,
                                                 std::uint32_t session_seq);

class Lan15Session final : public Session {
 public:
  Lan15Session(SessionConfig config, RandomSource random);

  SessionEvent start() override;
  SessionEvent on_datagram(ByteSpan datagram) override;
  SessionEvent on_timeout() override;
  SessionEvent request(const IpmiRequest& request) override;
  SessionEvent close() override;
  bool established() const override { return state_ == State::kActive; }

 private:
  enum class State {
    kIdle,
    kAuthCapabilities,
    kChallenge,
    kActivate,
    kSetPrivilege,
    kActive,
    kRequest,
    kClosing,
    kClosed,
    kFailed,
  };

  SessionEvent transmit(const IpmiRequest& request, State next, bool new_request);
  SessionEvent fail(std::string message);
  SessionEvent ignore(std::string reason);
  Result<IpmiResponse> decode_reply(ByteSpan datagram);
  std::array<std::uint8_t, 16> auth_code(std::uint32_t session_id, ByteSpan message,
                                         std::uint32_t seq) const;
  SessionEvent on_reply(const IpmiResponse& response);

  SessionConfig config_;
  RandomSource random_;
  State state_ = State::kIdle;
  std::uint8_t auth_type_ = kAuthTypeNone;   // of the session, once chosen
  bool replies_unauthenticated_ok_ = false;  // per-message authentication disabled
  std::uint32_t session_id_ = 0;             // temporary, then the real one
  std::uint32_t out_seq_ = 0;                // next sequence number we send (0 before activation)
  std::uint32_t reply_seq_start_ = 0;        // what we asked the BMC to start at
  std::uint32_t last_in_seq_ = 0;
  std::array<std::uint8_t, 16> challenge_{};
  std::uint8_t rq_seq_ = 0;
  std::optional<IpmiRequest> pending_;
  int attempts_left_ = 0;
  std::string deferred_failure_;  // an unauthenticated refusal, reported at the timeout
};

}  // namespace tandem::ipmi
