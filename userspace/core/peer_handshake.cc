#include "core/peer_handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <utility>

#include "peer.pb.h"

namespace tandem::core {

namespace {

constexpr std::string_view kAuthContext = "tandem-auth-1";

template <typename Msg>
OutgoingFrame make_frame(net::FrameType type, const Msg& msg) {
  return OutgoingFrame{type, msg.SerializeAsString()};
}

template <typename Msg>
bool parse(const net::Frame& frame, Msg& msg) {
  return msg.ParseFromArray(frame.message.data(), static_cast<int>(frame.message.size()));
}

}  // namespace

std::string auth_mac(const std::string& alg, const std::string& secret, const std::string& nonce,
                     const std::string& responder, const std::string& resource) {
  const EVP_MD* md = EVP_get_digestbyname(alg.c_str());
  if (md == nullptr) return {};
  // Length-prefix the variable parts so that no two different inputs
  // concatenate to the same bytes.
  std::string input(kAuthContext);
  for (const std::string* part : {&nonce, &responder, &resource}) {
    const auto n = static_cast<uint32_t>(part->size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      input.push_back(static_cast<char>((n >> shift) & 0xFFU));
    }
    input += *part;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(md, secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
           &out_len) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

PeerHandshake::PeerHandshake(HandshakeConfig config,
                             const std::array<std::byte, kAuthNonceBytes>& nonce)
    : config_(std::move(config)), nonce_(nonce) {}

std::vector<OutgoingFrame> PeerHandshake::start() {
  if (state_ != State::kIdle) return {};
  state_ = State::kAwaitHello;
  proto::Hello hello;
  hello.set_protocol_min(config_.protocol_min);
  hello.set_protocol_max(config_.protocol_max);
  hello.set_features(config_.features);
  hello.set_node_name(config_.local_node);
  hello.set_node_id(config_.local_node_id);
  hello.set_resource(config_.resource);
  if (auth_enabled()) hello.set_auth_alg(config_.hmac_alg);
  return {make_frame(net::FrameType::kHello, hello)};
}

std::vector<OutgoingFrame> PeerHandshake::on_frame(const net::Frame& frame) {
  switch (state_) {
    case State::kIdle:
      return fail(HandshakeFailure::kProtocolError, "frame received before the handshake started");
    case State::kEstablished:
    case State::kFailed:
      return {};  // later frames belong to the replication protocol / are dropped
    case State::kAwaitHello:
      if (frame.header.type != net::FrameType::kHello) {
        return fail(HandshakeFailure::kProtocolError,
                    "peer sent frame type " +
                        std::to_string(static_cast<unsigned>(frame.header.type)) +
                        " before its Hello");
      }
      return on_hello(frame);
    case State::kAuthenticating:
      switch (frame.header.type) {
        case net::FrameType::kAuthChallenge:
          return on_challenge(frame);
        case net::FrameType::kAuthResponse:
          return on_response(frame);
        case net::FrameType::kAuthVerdict:
          return on_verdict(frame);
        default:
          return fail(HandshakeFailure::kProtocolError,
                      "peer " + config_.peer_node + " sent frame type " +
                          std::to_string(static_cast<unsigned>(frame.header.type)) +
                          " during authentication");
      }
  }
  return {};
}

std::vector<OutgoingFrame> PeerHandshake::on_hello(const net::Frame& frame) {
  proto::Hello hello;
  if (!parse(frame, hello)) {
    return fail(HandshakeFailure::kProtocolError, "malformed Hello from the peer");
  }
  if (hello.resource() != config_.resource) {
    return fail(HandshakeFailure::kIncompatible,
                "peer " + hello.node_name() + " connected for resource '" + hello.resource() +
                    "', not '" + config_.resource + "': check the address/port of both resources");
  }
  if (hello.node_name() != config_.peer_node) {
    return fail(HandshakeFailure::kWrongPeer,
                "resource " + config_.resource + ": peer presents itself as '" + hello.node_name() +
                    "' but the configuration expects '" + config_.peer_node +
                    "': check the address lines and host names");
  }
  const uint32_t lo = std::max(config_.protocol_min, hello.protocol_min());
  const uint32_t hi = std::min(config_.protocol_max, hello.protocol_max());
  if (lo > hi) {
    return fail(HandshakeFailure::kIncompatible,
                "resource " + config_.resource + ": peer " + config_.peer_node +
                    " speaks protocol versions " + std::to_string(hello.protocol_min()) + ".." +
                    std::to_string(hello.protocol_max()) + ", this node " +
                    std::to_string(config_.protocol_min) + ".." +
                    std::to_string(config_.protocol_max) + ": upgrade the older node");
  }
  agreed_protocol_ = hi;
  agreed_features_ = config_.features & hello.features();
  peer_node_id_ = hello.node_id();

  const bool peer_auth = !hello.auth_alg().empty();
  if (peer_auth != auth_enabled()) {
    return fail(HandshakeFailure::kAuthFailed,
                "resource " + config_.resource + ": " +
                    (auth_enabled() ? "this node requires a shared-secret but peer " +
                                          config_.peer_node + " has none"
                                    : "peer " + config_.peer_node +
                                          " requires a shared-secret but this node has none") +
                    ": set the same shared-secret and cram-hmac-alg on both hosts");
  }
  if (!auth_enabled()) {
    state_ = State::kEstablished;
    return {};
  }
  if (hello.auth_alg() != config_.hmac_alg) {
    return fail(HandshakeFailure::kAuthFailed,
                "resource " + config_.resource + ": peer " + config_.peer_node +
                    " uses cram-hmac-alg " + hello.auth_alg() + ", this node " + config_.hmac_alg +
                    ": configure the same algorithm on both hosts");
  }
  state_ = State::kAuthenticating;
  proto::AuthChallenge challenge;
  challenge.set_nonce(reinterpret_cast<const char*>(nonce_.data()), nonce_.size());
  return {make_frame(net::FrameType::kAuthChallenge, challenge)};
}

std::vector<OutgoingFrame> PeerHandshake::on_challenge(const net::Frame& frame) {
  proto::AuthChallenge challenge;
  if (!parse(frame, challenge) || challenge.nonce().size() != kAuthNonceBytes ||
      peer_challenge_answered_) {
    return fail(HandshakeFailure::kProtocolError,
                "malformed or repeated authentication challenge from peer " + config_.peer_node);
  }
  // Refuse to answer our own nonce: a reflected challenge would make us
  // compute a MAC an impostor could replay.
  if (challenge.nonce() ==
      std::string_view(reinterpret_cast<const char*>(nonce_.data()), nonce_.size())) {
    return fail(HandshakeFailure::kAuthFailed,
                "peer " + config_.peer_node + " reflected this node's challenge");
  }
  peer_challenge_answered_ = true;
  proto::AuthResponse response;
  response.set_mac(auth_mac(config_.hmac_alg, config_.shared_secret, challenge.nonce(),
                            config_.local_node, config_.resource));
  return {make_frame(net::FrameType::kAuthResponse, response)};
}

std::vector<OutgoingFrame> PeerHandshake::on_response(const net::Frame& frame) {
  proto::AuthResponse response;
  if (!parse(frame, response) || peer_mac_verified_) {
    return fail(HandshakeFailure::kProtocolError,
                "malformed or repeated authentication response from peer " + config_.peer_node);
  }
  const std::string expected =
      auth_mac(config_.hmac_alg, config_.shared_secret,
               std::string(reinterpret_cast<const char*>(nonce_.data()), nonce_.size()),
               config_.peer_node, config_.resource);
  const bool ok = !expected.empty() && response.mac().size() == expected.size() &&
                  CRYPTO_memcmp(response.mac().data(), expected.data(), expected.size()) == 0;
  proto::AuthVerdict verdict;
  verdict.set_accepted(ok);
  std::vector<OutgoingFrame> out{make_frame(net::FrameType::kAuthVerdict, verdict)};
  if (!ok) {
    auto failed = fail(HandshakeFailure::kAuthFailed,
                       "resource " + config_.resource + ": peer " + config_.peer_node +
                           " failed authentication (wrong shared-secret): set the same "
                           "shared-secret on both hosts");
    out.insert(out.end(), failed.begin(), failed.end());
    return out;
  }
  peer_mac_verified_ = true;
  maybe_established();
  return out;
}

std::vector<OutgoingFrame> PeerHandshake::on_verdict(const net::Frame& frame) {
  proto::AuthVerdict verdict;
  if (!parse(frame, verdict) || our_mac_accepted_ || !peer_challenge_answered_) {
    return fail(HandshakeFailure::kProtocolError,
                "unexpected authentication verdict from peer " + config_.peer_node);
  }
  if (!verdict.accepted()) {
    return fail(HandshakeFailure::kAuthFailed,
                "resource " + config_.resource + ": peer " + config_.peer_node +
                    " rejected this node's authentication (wrong shared-secret): set the same "
                    "shared-secret on both hosts");
  }
  our_mac_accepted_ = true;
  maybe_established();
  return {};
}

void PeerHandshake::maybe_established() {
  if (peer_mac_verified_ && our_mac_accepted_) state_ = State::kEstablished;
}

std::vector<OutgoingFrame> PeerHandshake::fail(HandshakeFailure kind, std::string reason) {
  state_ = State::kFailed;
  failure_ = kind;
  failure_reason_ = std::move(reason);
  return {};
}

}  // namespace tandem::core
