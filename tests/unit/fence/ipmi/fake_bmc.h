// A scripted BMC for unit tests: answers RMCP+ and IPMI 1.5 session set-up
// and the chassis commands with tandem's own codecs, playing the managed
// system's side of RAKP. Tests drive a Session against it datagram by
// datagram and tamper with replies to check that forgeries are rejected.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fence/ipmi/byte_io.h"
#include "fence/ipmi/ipmi_message.h"
#include "fence/ipmi/rakp.h"
#include "fence/ipmi/session.h"
#include "fence/ipmi/session_packet.h"

namespace tandem::ipmi::testing {

// Deterministic RandomSource: a byte counter from `seed`.
RandomSource counter_random(std::uint8_t seed);

class FakeBmc {
 public:
  struct User {
    std::string name = "admin";
    std::string password = "secret";
    Privilege max_privilege = Privilege::kAdministrator;
  };

  explicit FakeBmc(User user) : user_(std::move(user)) {}

  // Returns the reply to one datagram, or nothing (silently dropped).
  std::optional<Bytes> handle(ByteSpan datagram);

  bool power_on = true;
  std::vector<std::uint8_t> controls;  // chassis control codes received
  std::uint32_t bmc_session_id = 0x0a0b0c0d;
  Random16 guid{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
  // Completion code returned for Set Session Privilege Level (0 = accept).
  std::uint8_t set_privilege_cc = 0;
  std::optional<std::uint8_t> granted_privilege;  // reply with this level instead

  std::uint8_t rakp2_status = 0;
  bool offer_ipmi20 = true;
  std::optional<Key20> kg;  // BMC key; when unset K_G is the user key
  bool session_closed = false;

  // The session keys as the BMC derived them (valid after RAKP3).
  const SessionProtection& protection() const { return protection_; }
  std::uint32_t console_session_id() const { return transcript_.console_session_id; }
  // Builds an in-session RMCP+ reply with the BMC's keys; tests use it to
  // craft replies with a chosen session id, sequence or message.
  Bytes lanplus_reply(std::uint32_t session_id, std::uint32_t seq, ByteSpan message);
  std::uint32_t next_out_seq() { return ++out_seq_; }

 private:
  std::optional<Bytes> handle_lan15(ByteSpan datagram);
  std::array<std::uint8_t, 16> lan15_auth_code(std::uint32_t session_id, ByteSpan message,
                                               std::uint32_t seq) const;
  std::optional<Bytes> handle_lanplus(ByteSpan datagram);
  Bytes answer(const IpmiRequest& request, std::uint8_t rq_seq);

  User user_;
  RakpTranscript transcript_;
  SessionProtection protection_;
  CipherSuite suite_;
  bool active_ = false;
  std::uint32_t out_seq_ = 0x100;
  // IPMI 1.5
  std::array<std::uint8_t, 16> challenge_{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
  std::uint32_t temp_session_id_ = 0x55aa55aa;
  std::uint32_t lan15_session_id_ = 0x01020304;
  std::uint8_t lan15_auth_ = 0;
  std::uint32_t lan15_out_seq_ = 0;
  std::uint32_t lan15_expected_in_ = 0x40;
  bool lan15_active_ = false;
};

}  // namespace tandem::ipmi::testing
