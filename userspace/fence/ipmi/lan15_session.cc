#include "fence/ipmi/lan15_session.h"

#include <algorithm>

#include "fence/ipmi/crypto.h"

namespace tandem::ipmi {

std::array<std::uint8_t, 16> lan15_md5_auth_code(std::string_view password,
                                                 std::uint32_t session_id, ByteSpan message,
                                                 std::uint32_t session_seq) {
  Bytes key(16, 0);
  std::copy_n(password.begin(), std::min<std::size_t>(password.size(), 16), key.begin());
  Bytes in;
  ByteWriter w(in);
  w.bytes(key);
  w.u32(session_id);
  w.bytes(message);
  w.u32(session_seq);
  w.bytes(key);
  return md5(in);
}

std::array<std::uint8_t, 16> Lan15Session::auth_code(std::uint32_t session_id, ByteSpan message,
                                                     std::uint32_t seq) const {
  std::array<std::uint8_t, 16> code{};
  if (auth_type_ == kAuthTypeMd5) {
    code = lan15_md5_auth_code(config_.password, session_id, message, seq);
  } else if (auth_type_ == kAuthTypePassword) {
    // "Straight password": the password itself, zero-padded.
    std::copy_n(config_.password.begin(), std::min<std::size_t>(config_.password.size(), 16),
                code.begin());
  }
  return code;
}

Lan15Session::Lan15Session(SessionConfig config, RandomSource random)
    : config_(std::move(config)), random_(std::move(random)) {
  std::array<std::uint8_t, 5> b{};
  random_(b);
  rq_seq_ = static_cast<std::uint8_t>(b[0] & 0x3f);
  // Below 2^31 so the BMC's numbering does not wrap during a fence run.
  reply_seq_start_ = (static_cast<std::uint32_t>(b[1] | (b[2] << 8) | (b[3] << 16)) |
                      (static_cast<std::uint32_t>(b[4] & 0x3f) << 24)) +
                     1;
}

SessionEvent Lan15Session::ignore(std::string reason) {
  SessionEvent e;
  e.rejected = std::move(reason);
  return e;
}

SessionEvent Lan15Session::fail(std::string message) {
  state_ = State::kFailed;
  pending_.reset();
  SessionEvent e;
  e.kind = SessionEvent::Kind::kFailed;
  e.error = make_error(std::move(message));
  return e;
}

SessionEvent Lan15Session::transmit(const IpmiRequest& request, State next, bool new_request) {
  if (new_request) {
    deferred_failure_.clear();
    rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f);
    attempts_left_ = config_.attempts - 1;
  }
  Lan15Packet p;
  p.message = encode_request(request, rq_seq_);
  // Before Activate Session everything is out of session; Activate Session
  // itself is signed with the temporary session id and sequence 0.
  const bool signed_packet = next == State::kActivate || out_seq_ != 0;
  if (signed_packet) {
    p.auth_type = auth_type_;
    p.session_id = session_id_;
    p.session_seq = out_seq_;
    if (out_seq_ != 0) {
      ++out_seq_;
      if (out_seq_ == 0) out_seq_ = 1;
    }
    p.auth_code = auth_code(p.session_id, p.message, p.session_seq);
  }
  state_ = next;
  pending_ = request;
  SessionEvent e;
  e.send = encode_lan15(p);
  return e;
}

SessionEvent Lan15Session::start() {
  if (state_ != State::kIdle) return fail("session started twice");
  if (config_.username.size() > 16) return fail("user name is longer than IPMI's 16 bytes");
  if (config_.password.size() > kMaxLan15Password) {
    return fail("password is longer than IPMI 1.5's 16 bytes; use lanplus");
  }
  return transmit(get_channel_auth_capabilities_request(config_.privilege, false),
                  State::kAuthCapabilities, true);
}

SessionEvent Lan15Session::on_timeout() {
  if (!pending_) return {};
  if (!deferred_failure_.empty()) return fail(deferred_failure_);
  if (attempts_left_ <= 0) {
    std::string hint;
    // The BMC answered the challenge, so it is reachable: silence now
    // means it could not verify our authentication code.
    if (state_ == State::kActivate) {
      hint = " (the BMC drops packets whose authentication code does not verify: wrong password?)";
    }
    return fail("no reply to " + command_name(pending_->netfn, pending_->cmd) + " after " +
                std::to_string(config_.attempts) + " attempts" + hint);
  }
  --attempts_left_;
  return transmit(*pending_, state_, false);
}

SessionEvent Lan15Session::request(const IpmiRequest& request) {
  if (state_ != State::kActive) return fail("request issued while the session is not ready");
  return transmit(request, State::kRequest, true);
}

SessionEvent Lan15Session::close() {
  if (state_ != State::kActive) {
    state_ = State::kClosed;
    SessionEvent e;
    e.kind = SessionEvent::Kind::kClosed;
    return e;
  }
  return transmit(close_session_request(session_id_), State::kClosing, true);
}

Result<IpmiResponse> Lan15Session::decode_reply(ByteSpan datagram) {
  auto packet = decode_lan15(datagram);
  if (!packet) return packet.error();
  const bool in_session = state_ == State::kActivate || out_seq_ != 0;
  if (!in_session) {
    if (packet->auth_type != kAuthTypeNone || packet->session_id != 0) {
      return make_error("out-of-session reply carries a session id or authentication");
    }
  } else {
    if (packet->session_id != session_id_) {
      return make_error("wrong session id " + std::to_string(packet->session_id) +
                        " in reply (expected " + std::to_string(session_id_) + ")");
    }
    if (packet->auth_type == kAuthTypeNone) {
      if (auth_type_ != kAuthTypeNone && !replies_unauthenticated_ok_) {
        return make_error("reply lacks the authentication code the session requires");
      }
    } else if (packet->auth_type != auth_type_) {
      return make_error("reply uses authentication type " + std::to_string(packet->auth_type) +
                        ", not the session's");
    } else {
      const auto code = auth_code(packet->session_id, packet->message, packet->session_seq);
      if (!equal_digest(code, packet->auth_code)) {
        return make_error(std::string("bad ") + (auth_type_ == kAuthTypeMd5 ? "MD5" : "password") +
                          " authentication code (forged packet or wrong password)");
      }
    }
    if (state_ != State::kActivate) {
      if (packet->session_seq == 0 || packet->session_seq < reply_seq_start_ ||
          packet->session_seq <= last_in_seq_) {
        return make_error("wrong session sequence number " + std::to_string(packet->session_seq) +
                          ": replay or stale");
      }
    }
  }
  auto response = decode_response(packet->message);
  if (!response) return response.error();
  if (auto m = check_response_matches(*response, *pending_, rq_seq_); !m) return m.error();
  if (in_session && state_ != State::kActivate) last_in_seq_ = packet->session_seq;
  return response;
}

SessionEvent Lan15Session::on_datagram(ByteSpan datagram) {
  if (!pending_) return ignore("unsolicited datagram (no request outstanding)");
  auto response = decode_reply(datagram);
  if (!response) return ignore(response.error().message);
  return on_reply(*response);
}

SessionEvent Lan15Session::on_reply(const IpmiResponse& response) {
  const std::uint8_t cc = response.completion_code;
  const IpmiRequest answered = *pending_;
  pending_.reset();
  // Out-of-session replies carry no authentication, so a refusal may be
  // forged: keep waiting for the genuine reply and report the refusal only
  // when the step times out.
  auto defer = [&](std::string message) {
    pending_ = answered;
    if (deferred_failure_.empty()) deferred_failure_ = message;
    return ignore(std::move(message));
  };
  SessionEvent e;
  switch (state_) {
    case State::kAuthCapabilities: {
      if (cc != 0) {
        return defer("Get Channel Authentication Capabilities failed: " + completion_code_text(cc));
      }
      auto caps = decode_channel_auth_capabilities(response.data);
      if (!caps) return defer(caps.error().message);
      switch (config_.auth) {
        case Lan15Auth::kMd5:
          auth_type_ = kAuthTypeMd5;
          if (!(caps->auth_types & kAuthSupportMd5)) {
            return defer("the BMC does not offer MD5 authentication on IPMI 1.5; try lanplus");
          }
          break;
        case Lan15Auth::kPassword:
          auth_type_ = kAuthTypePassword;
          if (!(caps->auth_types & kAuthSupportPassword)) {
            return defer("the BMC does not offer password authentication on IPMI 1.5; use md5");
          }
          break;
        case Lan15Auth::kNone:
          auth_type_ = kAuthTypeNone;
          if (!(caps->auth_types & kAuthSupportNone)) {
            return defer(
                "the BMC does not allow unauthenticated IPMI 1.5 sessions; use md5 or lanplus");
          }
          break;
      }
      replies_unauthenticated_ok_ = caps->per_message_auth_disabled;
      return transmit(get_session_challenge_request(auth_type_, config_.username),
                      State::kChallenge, true);
    }
    case State::kChallenge: {
      if (cc == 0x81) return defer("the BMC does not know user '" + config_.username + "'");
      if (cc == 0x82) return defer("the BMC does not allow a null user name");
      if (cc != 0) return defer("Get Session Challenge failed: " + completion_code_text(cc));
      auto challenge = decode_session_challenge(response.data);
      if (!challenge) return defer(challenge.error().message);
      if (challenge->temporary_session_id == 0) return defer("the BMC gave temporary session id 0");
      session_id_ = challenge->temporary_session_id;
      challenge_ = challenge->challenge;
      return transmit(
          activate_session_request(auth_type_, config_.privilege, challenge_, reply_seq_start_),
          State::kActivate, true);
    }
    case State::kActivate: {
      if (cc == 0x81 || cc == 0x86) {
        return fail("the BMC refused to activate a session for user '" + config_.username +
                    "': " + completion_code_text(cc) +
                    (cc == 0x86 ? " (requested privilege exceeds the user's limit)" : ""));
      }
      if (cc != 0) {
        return fail("Activate Session for user '" + config_.username +
                    "' failed: " + completion_code_text(cc) + " (wrong password?)");
      }
      auto activated = decode_activate_session(response.data);
      if (!activated) return fail(activated.error().message);
      if (activated->session_id == 0) return fail("the BMC activated session id 0");
      if (activated->auth_type != auth_type_) {
        return fail("the BMC activated the session with another authentication type");
      }
      session_id_ = activated->session_id;
      out_seq_ = activated->initial_outbound_seq == 0 ? 1 : activated->initial_outbound_seq;
      return transmit(set_session_privilege_request(config_.privilege), State::kSetPrivilege, true);
    }
    case State::kSetPrivilege:
      if (auto granted = check_privilege_granted(cc, response.data, config_.privilege); !granted) {
        return fail(granted.error().message);
      }
      state_ = State::kActive;
      e.kind = SessionEvent::Kind::kEstablished;
      return e;
    case State::kRequest:
      state_ = State::kActive;
      e.kind = SessionEvent::Kind::kResponse;
      e.response = response;
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
