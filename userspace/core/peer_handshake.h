// The connection handshake between two nodes of one resource, as a sans-I/O
// state machine: it consumes received frames and returns frames to send.
//
//   both sides:  Hello  ->                 (versions, features, names)
//   if a shared secret is configured:
//                AuthChallenge ->          (our random nonce)
//                AuthResponse  ->          (HMAC over the peer's nonce)
//                AuthVerdict   ->          (whether the peer's MAC was right)
//
// The handshake is established when the Hellos agree and, with a secret,
// each side has verified the other's MAC and received an accepting verdict.
// Nothing about the resource's state is exchanged before that. The nonce is
// an input (the runtime draws it from the OS) so that the simulator can run
// the handshake deterministically.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/frame.h"

namespace tandem::core {

inline constexpr uint32_t kPeerProtocolMin = 1;
inline constexpr uint32_t kPeerProtocolMax = 1;
inline constexpr size_t kAuthNonceBytes = 32;

struct HandshakeConfig {
  std::string resource;
  std::string local_node;
  uint32_t local_node_id = 0;
  std::string peer_node;      // the `on HOST` name the peer must present
  std::string shared_secret;  // empty: no authentication
  std::string hmac_alg;       // cram-hmac-alg (OpenSSL digest name: sha1, sha256, ...)
  uint32_t protocol_min = kPeerProtocolMin;
  uint32_t protocol_max = kPeerProtocolMax;
  uint64_t features = 0;
};

enum class HandshakeFailure {
  kProtocolError,  // malformed or unexpected frame
  kIncompatible,   // no common protocol version, wrong resource
  kWrongPeer,      // the peer is not the host the configuration names
  kAuthFailed,     // MAC mismatch either way, or secret on one side only
};

struct OutgoingFrame {
  net::FrameType type;
  std::string message;  // serialized protobuf
};

class PeerHandshake {
 public:
  PeerHandshake(HandshakeConfig config, const std::array<std::byte, kAuthNonceBytes>& nonce);

  // Frames to send as soon as the connection is up.
  std::vector<OutgoingFrame> start();
  // Frames to send in reply to one received frame.
  std::vector<OutgoingFrame> on_frame(const net::Frame& frame);

  bool established() const { return state_ == State::kEstablished; }
  bool failed() const { return state_ == State::kFailed; }
  std::optional<HandshakeFailure> failure() const { return failure_; }
  // Names the peer and says what to do; empty unless failed().
  const std::string& failure_reason() const { return failure_reason_; }

  uint32_t agreed_protocol() const { return agreed_protocol_; }
  uint64_t agreed_features() const { return agreed_features_; }
  uint32_t peer_node_id() const { return peer_node_id_; }

 private:
  enum class State { kIdle, kAwaitHello, kAuthenticating, kEstablished, kFailed };

  std::vector<OutgoingFrame> on_hello(const net::Frame& frame);
  std::vector<OutgoingFrame> on_challenge(const net::Frame& frame);
  std::vector<OutgoingFrame> on_response(const net::Frame& frame);
  std::vector<OutgoingFrame> on_verdict(const net::Frame& frame);
  std::vector<OutgoingFrame> fail(HandshakeFailure kind, std::string reason);
  void maybe_established();
  bool auth_enabled() const { return !config_.shared_secret.empty(); }

  HandshakeConfig config_;
  std::array<std::byte, kAuthNonceBytes> nonce_;
  State state_ = State::kIdle;
  std::optional<HandshakeFailure> failure_;
  std::string failure_reason_;
  uint32_t agreed_protocol_ = 0;
  uint64_t agreed_features_ = 0;
  uint32_t peer_node_id_ = 0;
  bool peer_challenge_answered_ = false;
  bool peer_mac_verified_ = false;
  bool our_mac_accepted_ = false;
};

// HMAC over the authentication context, exposed for tests. Returns an
// empty string when `alg` is not a digest OpenSSL knows.
std::string auth_mac(const std::string& alg, const std::string& secret, const std::string& nonce,
                     const std::string& responder, const std::string& resource);

}  // namespace tandem::core
