// IPMI 2.0 RMCP+ session: Get Channel Authentication Capabilities (IPMI 1.5
// framing), Open Session, RAKP 1-4, Set Session Privilege Level, then
// authenticated (and, with suite 3, encrypted) requests and Close Session.
#pragma once

#include <optional>

#include "fence/ipmi/rakp.h"
#include "fence/ipmi/session.h"
#include "fence/ipmi/session_packet.h"

namespace tandem::ipmi {

class LanplusSession final : public Session {
 public:
  LanplusSession(SessionConfig config, RandomSource random);

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
    kOpenSession,
    kRakp1,
    kRakp3,
    kSetPrivilege,
    kActive,
    kRequest,
    kClosing,
    kClosed,
    kFailed,
  };

  SessionEvent send_setup(Bytes datagram, State next);
  SessionEvent send_in_session(const IpmiRequest& request, State next);
  SessionEvent retransmit();
  std::string step_name() const;
  SessionEvent fail(std::string message, Bytes last_words = {});
  SessionEvent ignore(std::string reason);
  SessionEvent defer_failure(std::string message, Bytes last_words = {});

  SessionEvent on_auth_capabilities(ByteSpan datagram);
  SessionEvent on_open_session_response(const OpenSessionResponse& m);
  SessionEvent on_rakp2(const Rakp2& m);
  SessionEvent on_rakp4(const Rakp4& m);
  SessionEvent on_session_reply(ByteSpan datagram);

  Result<IpmiResponse> decode_session_reply(ByteSpan datagram);

  SessionConfig config_;
  RandomSource random_;
  State state_ = State::kIdle;

  std::uint8_t tag_ = 0;
  std::uint8_t rq_seq_ = 0;
  std::uint32_t out_seq_ = 0;
  std::uint32_t last_in_seq_ = 0;
  RakpTranscript transcript_;
  SessionProtection protection_;
  Sha1Digest sik_{};
  bool bmc_has_key_ = false;  // Get Channel Authentication Capabilities said K_G is set

  // What to resend on timeout.
  Bytes last_datagram_;
  std::optional<IpmiRequest> pending_;
  int attempts_left_ = 0;
  // A refusal seen during the current set-up step, reported at its timeout
  // unless a genuine reply comes first.
  std::string deferred_failure_;
  Bytes deferred_last_words_;
};

}  // namespace tandem::ipmi
