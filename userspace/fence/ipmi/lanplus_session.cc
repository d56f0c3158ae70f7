#include "fence/ipmi/lanplus_session.h"

#include "fence/ipmi/session_commands.h"

namespace tandem::ipmi {

namespace {

std::uint32_t random_nonzero_u32(const RandomSource& random) {
  std::uint32_t v = 0;
  while (v == 0) {
    std::array<std::uint8_t, 4> b{};
    random(b);
    v = static_cast<std::uint32_t>(b[0] | (b[1] << 8) | (b[2] << 16)) |
        (static_cast<std::uint32_t>(b[3]) << 24);
  }
  return v;
}

}  // namespace

LanplusSession::LanplusSession(SessionConfig config, RandomSource random)
    : config_(std::move(config)), random_(std::move(random)) {
  transcript_.console_session_id = random_nonzero_u32(random_);
  std::array<std::uint8_t, 2> b{};
  random_(b);
  tag_ = b[0];
  rq_seq_ = static_cast<std::uint8_t>(b[1] & 0x3f);
  protection_.integrity = config_.suite.integrity == kIntegrityHmacSha1_96;
  protection_.confidentiality = config_.suite.confidentiality == kConfidentialityAesCbc128;
}

SessionEvent LanplusSession::ignore(std::string reason) {
  SessionEvent e;
  e.rejected = std::move(reason);
  return e;
}

SessionEvent LanplusSession::fail(std::string message, Bytes last_words) {
  state_ = State::kFailed;
  pending_.reset();
  SessionEvent e;
  e.kind = SessionEvent::Kind::kFailed;
  e.error = make_error(std::move(message));
  e.send = std::move(last_words);
  return e;
}

SessionEvent LanplusSession::defer_failure(std::string message, Bytes last_words) {
  // Set-up replies are not authenticated, so anybody can forge a refusal:
  // remember it, keep listening for the genuine reply, and fail with it
  // only when the step times out.
  if (deferred_failure_.empty()) {
    deferred_failure_ = message;
    deferred_last_words_ = std::move(last_words);
  }
  return ignore(std::move(message));
}

SessionEvent LanplusSession::send_setup(Bytes datagram, State next) {
  deferred_failure_.clear();
  deferred_last_words_.clear();
  state_ = next;
  last_datagram_ = datagram;
  attempts_left_ = config_.attempts - 1;
  SessionEvent e;
  e.send = std::move(datagram);
  return e;
}

SessionEvent LanplusSession::send_in_session(const IpmiRequest& request, State next) {
  // Each transmission gets a fresh session sequence number and IV; the
  // IPMI rqSeq stays the same across retransmissions of one request.
  ++out_seq_;
  std::array<std::uint8_t, kAesBlock> iv{};
  if (protection_.confidentiality) random_(iv);
  auto datagram = encode_lanplus(kPayloadIpmi, transcript_.bmc_session_id, out_seq_,
                                 encode_request(request, rq_seq_), &protection_, iv);
  if (!datagram)
    return fail("cannot encode " + command_name(request.netfn, request.cmd) + ": " +
                datagram.error().message);
  state_ = next;
  pending_ = request;
  SessionEvent e;
  e.send = std::move(*datagram);
  return e;
}

SessionEvent LanplusSession::start() {
  if (state_ != State::kIdle) return fail("session started twice");
  if (config_.username.size() > kMaxUsername) {
    return fail("user name is longer than IPMI's 16 bytes");
  }
  if (config_.password.size() > kMaxPassword) {
    return fail("password is longer than IPMI 2.0's 20 bytes");
  }
  rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f);
  pending_ = get_channel_auth_capabilities_request(config_.privilege, true);
  Lan15Packet p;
  p.message = encode_request(*pending_, rq_seq_);
  return send_setup(encode_lan15(p), State::kAuthCapabilities);
}

SessionEvent LanplusSession::on_timeout() {
  switch (state_) {
    case State::kIdle:
    case State::kActive:
    case State::kClosed:
    case State::kFailed:
      return {};
    default:
      return retransmit();
  }
}

std::string LanplusSession::step_name() const {
  switch (state_) {
    case State::kAuthCapabilities:
      return "Get Channel Authentication Capabilities";
    case State::kOpenSession:
      return "Open Session Request";
    case State::kRakp1:
      return "RAKP Message 1";
    case State::kRakp3:
      return "RAKP Message 3";
    default:
      return pending_ ? command_name(pending_->netfn, pending_->cmd) : "the pending request";
  }
}

SessionEvent LanplusSession::retransmit() {
  if (!deferred_failure_.empty()) {
    // The only answers to this step were refusals or failed checks; no
    // genuine reply came within the timeout, so report the refusal.
    return fail(deferred_failure_, std::move(deferred_last_words_));
  }
  if (attempts_left_ <= 0) {
    return fail("no reply to " + step_name() + " after " + std::to_string(config_.attempts) +
                " attempts");
  }
  --attempts_left_;
  if (state_ == State::kSetPrivilege || state_ == State::kRequest || state_ == State::kClosing) {
    return send_in_session(*pending_, state_);
  }
  SessionEvent e;
  e.send = last_datagram_;
  return e;
}

SessionEvent LanplusSession::request(const IpmiRequest& request) {
  if (state_ != State::kActive) return fail("request issued while the session is not ready");
  rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f);
  attempts_left_ = config_.attempts - 1;
  return send_in_session(request, State::kRequest);
}

SessionEvent LanplusSession::close() {
  if (state_ != State::kActive) {
    SessionEvent e;
    e.kind = SessionEvent::Kind::kClosed;
    state_ = State::kClosed;
    return e;
  }
  rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f);
  attempts_left_ = config_.attempts - 1;
  return send_in_session(close_session_request(transcript_.bmc_session_id), State::kClosing);
}

SessionEvent LanplusSession::on_datagram(ByteSpan datagram) {
  switch (state_) {
    case State::kAuthCapabilities:
      return on_auth_capabilities(datagram);
    case State::kOpenSession:
    case State::kRakp1:
    case State::kRakp3: {
      auto packet = decode_lanplus(datagram, nullptr);
      if (!packet) return ignore(packet.error().message);
      if (packet->session_id != 0 || packet->session_seq != 0) {
        return ignore("session set-up reply carries a session id or sequence number");
      }
      if (state_ == State::kOpenSession) {
        if (packet->payload_type != kPayloadOpenSessionResponse) {
          return ignore("expected an Open Session Response, got payload type " +
                        std::to_string(packet->payload_type));
        }
        auto m = decode_open_session_response(packet->payload);
        if (!m) return ignore(m.error().message);
        return on_open_session_response(*m);
      }
      if (state_ == State::kRakp1) {
        if (packet->payload_type != kPayloadRakp2) {
          return ignore("expected RAKP Message 2, got payload type " +
                        std::to_string(packet->payload_type));
        }
        auto m = decode_rakp2(packet->payload, config_.suite.key_exchange_code_size());
        if (!m) return ignore(m.error().message);
        return on_rakp2(*m);
      }
      if (packet->payload_type != kPayloadRakp4) {
        return ignore("expected RAKP Message 4, got payload type " +
                      std::to_string(packet->payload_type));
      }
      auto m = decode_rakp4(packet->payload, config_.suite.rakp4_icv_size());
      if (!m) return ignore(m.error().message);
      return on_rakp4(*m);
    }
    case State::kSetPrivilege:
    case State::kRequest:
    case State::kClosing:
      return on_session_reply(datagram);
    default:
      return ignore("unsolicited datagram (no request outstanding)");
  }
}

SessionEvent LanplusSession::on_auth_capabilities(ByteSpan datagram) {
  auto packet = decode_lan15(datagram);
  if (!packet) return ignore(packet.error().message);
  if (packet->auth_type != kAuthTypeNone || packet->session_id != 0) {
    return ignore("capabilities reply is not an out-of-session packet");
  }
  auto response = decode_response(packet->message);
  if (!response) return ignore(response.error().message);
  if (auto m = check_response_matches(*response, *pending_, rq_seq_); !m) {
    return ignore(m.error().message);
  }
  if (response->completion_code != 0) {
    return defer_failure("Get Channel Authentication Capabilities failed: " +
                         completion_code_text(response->completion_code));
  }
  auto caps = decode_channel_auth_capabilities(response->data);
  if (!caps) return defer_failure(caps.error().message);
  if (!caps->ipmi20) {
    return defer_failure("the BMC does not offer IPMI 2.0 (RMCP+) sessions; try with lanplus off");
  }
  bmc_has_key_ = caps->kg_set;
  pending_.reset();
  OpenSessionRequest open;
  open.tag = ++tag_;
  open.max_privilege = static_cast<std::uint8_t>(config_.privilege);
  open.console_session_id = transcript_.console_session_id;
  open.suite = config_.suite;
  auto open_packet = encode_lanplus(kPayloadOpenSessionRequest, 0, 0,
                                    encode_open_session_request(open), nullptr, {});
  if (!open_packet) return fail(open_packet.error().message);
  return send_setup(std::move(*open_packet), State::kOpenSession);
}

SessionEvent LanplusSession::on_open_session_response(const OpenSessionResponse& m) {
  if (m.tag != tag_) return ignore("Open Session Response has a stale message tag");
  if (m.console_session_id != transcript_.console_session_id) {
    return ignore("Open Session Response names another console session id (wrong session id)");
  }
  if (m.status != 0) {
    return defer_failure(
        "the BMC refused to open a session with cipher suite " + std::to_string(config_.suite.id) +
        ": " + rakp_status_text(m.status) +
        (m.status == 0x11 || m.status == 0x04 || m.status == 0x05 || m.status == 0x10
             ? " (choose another --cipher)"
             : ""));
  }
  if (m.authentication != config_.suite.authentication || m.integrity != config_.suite.integrity ||
      m.confidentiality != config_.suite.confidentiality) {
    return defer_failure("the BMC answered with algorithms other than cipher suite " +
                         std::to_string(config_.suite.id) + " proposed");
  }
  if (m.bmc_session_id == 0) return defer_failure("the BMC assigned the invalid session id 0");
  transcript_.bmc_session_id = m.bmc_session_id;
  random_(transcript_.console_random);
  transcript_.role =
      static_cast<std::uint8_t>(static_cast<std::uint8_t>(config_.privilege) | kRoleNameOnlyLookup);
  transcript_.username = config_.username;
  Rakp1 rakp1;
  rakp1.tag = ++tag_;
  rakp1.bmc_session_id = transcript_.bmc_session_id;
  rakp1.console_random = transcript_.console_random;
  rakp1.role = transcript_.role;
  rakp1.username = transcript_.username;
  auto datagram = encode_lanplus(kPayloadRakp1, 0, 0, encode_rakp1(rakp1), nullptr, {});
  if (!datagram) return fail(datagram.error().message);
  return send_setup(std::move(*datagram), State::kRakp1);
}

SessionEvent LanplusSession::on_rakp2(const Rakp2& m) {
  if (m.tag != tag_) return ignore("RAKP Message 2 has a stale message tag");
  if (m.console_session_id != transcript_.console_session_id) {
    return ignore("RAKP Message 2 names another console session id (wrong session id)");
  }
  if (m.status != 0) {
    std::string hint;
    if (m.status == 0x0d) hint = " (check the user name)";
    if (m.status == 0x09 || m.status == 0x0a) hint = " (use a lower --privlvl)";
    return defer_failure("the BMC rejected user '" + config_.username + "' at privilege " +
                         privilege_name(config_.privilege) + ": " + rakp_status_text(m.status) +
                         hint);
  }
  RakpTranscript candidate = transcript_;
  candidate.bmc_random = m.bmc_random;
  candidate.bmc_guid = m.bmc_guid;
  const Key20 kuid = password_key(config_.password);
  Rakp3 rakp3;
  rakp3.tag = static_cast<std::uint8_t>(tag_ + 1);
  rakp3.bmc_session_id = transcript_.bmc_session_id;
  if (config_.suite.authentication == kAuthRakpHmacSha1 &&
      !equal_digest(rakp2_key_exchange_code(kuid, candidate), m.key_exchange_code)) {
    // Tell the BMC when giving up, so that it frees the half-open session.
    rakp3.status = 0x0f;
    auto bye = encode_lanplus(kPayloadRakp3, 0, 0, encode_rakp3(rakp3), nullptr, {});
    return defer_failure("authentication failed for user '" + config_.username +
                             "': the BMC's RAKP 2 key exchange code does not match the "
                             "password (wrong password, or a forged reply)",
                         bye ? std::move(*bye) : Bytes{});
  }
  transcript_ = candidate;
  ++tag_;
  if (config_.suite.authentication == kAuthRakpHmacSha1) {
    const auto code = rakp3_key_exchange_code(kuid, transcript_);
    rakp3.key_exchange_code.assign(code.begin(), code.end());
    // Without a BMC key K_G, K_G is the user key.
    if (config_.bmc_key) {
      sik_ = session_integrity_key(*config_.bmc_key, transcript_);
    } else {
      sik_ = session_integrity_key(kuid, transcript_);
    }
    const auto k1 = derive_additional_key(sik_, 0x01);
    const auto k2 = derive_additional_key(sik_, 0x02);
    std::copy(k1.begin(), k1.end(), protection_.k1.begin());
    std::copy(k2.begin(), k2.end(), protection_.k2.begin());
  }
  auto datagram = encode_lanplus(kPayloadRakp3, 0, 0, encode_rakp3(rakp3), nullptr, {});
  if (!datagram) return fail(datagram.error().message);
  return send_setup(std::move(*datagram), State::kRakp3);
}

SessionEvent LanplusSession::on_rakp4(const Rakp4& m) {
  if (m.tag != tag_) return ignore("RAKP Message 4 has a stale message tag");
  if (m.console_session_id != transcript_.console_session_id) {
    return ignore("RAKP Message 4 names another console session id (wrong session id)");
  }
  if (m.status != 0) {
    return defer_failure("the BMC rejected RAKP Message 3 for user '" + config_.username +
                         "': " + rakp_status_text(m.status) +
                         (m.status == 0x0f ? " (wrong password?)" : ""));
  }
  if (config_.suite.authentication == kAuthRakpHmacSha1) {
    const auto icv = rakp4_integrity_check_value(sik_, transcript_);
    if (!equal_digest(ByteSpan(icv.data(), config_.suite.rakp4_icv_size()),
                      m.integrity_check_value)) {
      std::string hint = " (forged reply?)";
      if (bmc_has_key_ && !config_.bmc_key) {
        hint = " (the BMC has a key K_G set: give it with --hexadecimal-kg)";
      } else if (config_.bmc_key) {
        hint = " (wrong BMC key K_G, or a forged reply)";
      }
      return defer_failure("RAKP Message 4 integrity check value is wrong" + hint);
    }
  }
  rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f);
  attempts_left_ = config_.attempts - 1;
  return send_in_session(set_session_privilege_request(config_.privilege), State::kSetPrivilege);
}

Result<IpmiResponse> LanplusSession::decode_session_reply(ByteSpan datagram) {
  auto packet = decode_lanplus(datagram, &protection_);
  if (!packet) return packet.error();
  if (packet->payload_type != kPayloadIpmi) {
    return make_error("in-session reply has payload type " + std::to_string(packet->payload_type) +
                      ", expected an IPMI message");
  }
  if (packet->session_id != transcript_.console_session_id) {
    return make_error("wrong session id " + std::to_string(packet->session_id) +
                      " in reply (expected " + std::to_string(transcript_.console_session_id) +
                      ")");
  }
  // The BMC numbers its packets upwards; anything not newer than what we
  // accepted is a replay or a stale duplicate.
  if (packet->session_seq == 0 || packet->session_seq <= last_in_seq_) {
    return make_error("wrong session sequence number " + std::to_string(packet->session_seq) +
                      " (last accepted " + std::to_string(last_in_seq_) + "): replay or stale");
  }
  auto response = decode_response(packet->payload);
  if (!response) return response.error();
  if (auto m = check_response_matches(*response, *pending_, rq_seq_); !m) return m.error();
  last_in_seq_ = packet->session_seq;
  return response;
}

SessionEvent LanplusSession::on_session_reply(ByteSpan datagram) {
  auto response = decode_session_reply(datagram);
  if (!response) return ignore(response.error().message);
  pending_.reset();
  SessionEvent e;
  switch (state_) {
    case State::kSetPrivilege: {
      if (auto granted =
              check_privilege_granted(response->completion_code, response->data, config_.privilege);
          !granted) {
        return fail(granted.error().message);
      }
      state_ = State::kActive;
      e.kind = SessionEvent::Kind::kEstablished;
      return e;
    }
    case State::kRequest:
      state_ = State::kActive;
      e.kind = SessionEvent::Kind::kResponse;
      e.response = std::move(*response);
      return e;
    case State::kClosing:
      state_ = State::kClosed;
      e.kind = SessionEvent::Kind::kClosed;
      return e;
    default:
      return ignore("unexpected reply");
  }
}

}  // namespace tandem::ipmi
