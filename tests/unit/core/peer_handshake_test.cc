#include "core/peer_handshake.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "peer.pb.h"

namespace tandem::core {
namespace {

std::array<std::byte, kAuthNonceBytes> nonce(uint8_t seed) {
  std::array<std::byte, kAuthNonceBytes> n{};
  for (size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::byte>(seed + i);
  return n;
}

HandshakeConfig config(std::string self, std::string peer, std::string secret = "") {
  HandshakeConfig c;
  c.resource = "r0";
  c.local_node = std::move(self);
  c.peer_node = std::move(peer);
  c.local_node_id = c.local_node == "mail01" ? 1 : 2;
  c.shared_secret = std::move(secret);
  c.hmac_alg = c.shared_secret.empty() ? "" : "sha256";
  return c;
}

net::Frame to_wire_and_back(const OutgoingFrame& out) {
  std::vector<std::byte> bytes;
  const auto* p = reinterpret_cast<const std::byte*>(out.message.data());
  EXPECT_TRUE(net::encode_frame(out.type, 0, {p, out.message.size()}, {}, bytes).ok());
  net::FrameDecoder dec;
  dec.feed(bytes);
  auto r = dec.next();
  EXPECT_TRUE(r.ok() && r->has_value());
  return std::move(**r);
}

// Runs two handshakes against each other over an in-order channel per
// direction, delivering alternately until neither has anything to say.
void run(PeerHandshake& a, PeerHandshake& b) {
  std::deque<OutgoingFrame> to_b, to_a;
  for (auto& f : a.start()) to_b.push_back(f);
  for (auto& f : b.start()) to_a.push_back(f);
  for (int guard = 0; guard < 100 && (!to_a.empty() || !to_b.empty()); ++guard) {
    if (!to_b.empty()) {
      auto f = to_wire_and_back(to_b.front());
      to_b.pop_front();
      for (auto& o : b.on_frame(f)) to_a.push_back(o);
    }
    if (!to_a.empty()) {
      auto f = to_wire_and_back(to_a.front());
      to_a.pop_front();
      for (auto& o : a.on_frame(f)) to_b.push_back(o);
    }
  }
}

TEST(PeerHandshake, WithoutSecretEstablishesAfterHellos) {
  PeerHandshake a(config("mail01", "mail02"), nonce(1));
  PeerHandshake b(config("mail02", "mail01"), nonce(2));
  run(a, b);
  EXPECT_TRUE(a.established());
  EXPECT_TRUE(b.established());
  EXPECT_EQ(a.agreed_protocol(), kPeerProtocolMax);
  EXPECT_EQ(a.peer_node_id(), 2u);
  EXPECT_EQ(b.peer_node_id(), 1u);
}

TEST(PeerHandshake, SameSecretAuthenticatesBothWays) {
  PeerHandshake a(config("mail01", "mail02", "s3cret"), nonce(1));
  PeerHandshake b(config("mail02", "mail01", "s3cret"), nonce(2));
  run(a, b);
  EXPECT_TRUE(a.established()) << a.failure_reason();
  EXPECT_TRUE(b.established()) << b.failure_reason();
}

TEST(PeerHandshake, WrongSecretRejectedOnBothSides) {
  PeerHandshake a(config("mail01", "mail02", "s3cret"), nonce(1));
  PeerHandshake b(config("mail02", "mail01", "other"), nonce(2));
  run(a, b);
  ASSERT_TRUE(a.failed());
  ASSERT_TRUE(b.failed());
  EXPECT_EQ(a.failure(), HandshakeFailure::kAuthFailed);
  EXPECT_EQ(b.failure(), HandshakeFailure::kAuthFailed);
  EXPECT_NE(a.failure_reason().find("wrong shared-secret"), std::string::npos);
  EXPECT_NE(a.failure_reason().find("mail02"), std::string::npos);
  // The secret itself never appears in a message.
  EXPECT_EQ(a.failure_reason().find("s3cret"), std::string::npos);
  EXPECT_EQ(b.failure_reason().find("other"), std::string::npos);
}

TEST(PeerHandshake, SecretOnOneSideOnlyIsAnAuthFailure) {
  PeerHandshake a(config("mail01", "mail02", "s3cret"), nonce(1));
  PeerHandshake b(config("mail02", "mail01"), nonce(2));
  run(a, b);
  EXPECT_EQ(a.failure(), HandshakeFailure::kAuthFailed);
  EXPECT_EQ(b.failure(), HandshakeFailure::kAuthFailed);
  EXPECT_NE(b.failure_reason().find("requires a shared-secret"), std::string::npos);
}

TEST(PeerHandshake, UnexpectedPeerNameRefused) {
  PeerHandshake a(config("mail01", "mail02"), nonce(1));
  PeerHandshake b(config("mail03", "mail01"), nonce(2));
  run(a, b);
  EXPECT_EQ(a.failure(), HandshakeFailure::kWrongPeer);
  EXPECT_NE(a.failure_reason().find("'mail03'"), std::string::npos);
}

TEST(PeerHandshake, NoCommonVersionRefused) {
  auto ca = config("mail01", "mail02");
  ca.protocol_min = ca.protocol_max = 1;
  auto cb = config("mail02", "mail01");
  cb.protocol_min = cb.protocol_max = 2;
  PeerHandshake a(ca, nonce(1));
  PeerHandshake b(cb, nonce(2));
  run(a, b);
  EXPECT_EQ(a.failure(), HandshakeFailure::kIncompatible);
  EXPECT_EQ(b.failure(), HandshakeFailure::kIncompatible);
}

TEST(PeerHandshake, VersionAndFeaturesNegotiated) {
  auto ca = config("mail01", "mail02");
  ca.protocol_min = 1;
  ca.protocol_max = 3;
  ca.features = 0b1011;
  auto cb = config("mail02", "mail01");
  cb.protocol_min = 2;
  cb.protocol_max = 2;
  cb.features = 0b0110;
  PeerHandshake a(ca, nonce(1));
  PeerHandshake b(cb, nonce(2));
  run(a, b);
  ASSERT_TRUE(a.established());
  EXPECT_EQ(a.agreed_protocol(), 2u);
  EXPECT_EQ(b.agreed_protocol(), 2u);
  EXPECT_EQ(a.agreed_features(), 0b0010u);
}

TEST(PeerHandshake, FrameBeforeHelloIsProtocolError) {
  PeerHandshake a(config("mail01", "mail02", "s3cret"), nonce(1));
  a.start();
  proto::AuthResponse response;
  response.set_mac("forged");
  auto f = to_wire_and_back({net::FrameType::kAuthResponse, response.SerializeAsString()});
  a.on_frame(f);
  EXPECT_EQ(a.failure(), HandshakeFailure::kProtocolError);
}

TEST(PeerHandshake, ReflectedChallengeIsRefused) {
  PeerHandshake a(config("mail01", "mail02", "s3cret"), nonce(1));
  auto hello_out = a.start();
  // An impostor answers with a Hello claiming to be mail02, then sends back
  // the challenge a issued, hoping a computes the MAC for it.
  proto::Hello hello;
  hello.set_protocol_min(1);
  hello.set_protocol_max(1);
  hello.set_node_name("mail02");
  hello.set_resource("r0");
  hello.set_auth_alg("sha256");
  auto challenge_out =
      a.on_frame(to_wire_and_back({net::FrameType::kHello, hello.SerializeAsString()}));
  ASSERT_EQ(challenge_out.size(), 1u);
  ASSERT_EQ(challenge_out[0].type, net::FrameType::kAuthChallenge);
  auto reply = a.on_frame(to_wire_and_back(challenge_out[0]));
  EXPECT_TRUE(reply.empty());
  EXPECT_EQ(a.failure(), HandshakeFailure::kAuthFailed);
}

TEST(PeerHandshake, MacBindsResponderAndResource) {
  const std::string n(32, 'n');
  const auto base = auth_mac("sha1", "k", n, "mail01", "r0");
  ASSERT_EQ(base.size(), 20u);
  EXPECT_NE(base, auth_mac("sha1", "k", n, "mail02", "r0"));
  EXPECT_NE(base, auth_mac("sha1", "k", n, "mail01", "r1"));
  EXPECT_NE(base, auth_mac("sha1", "k2", n, "mail01", "r0"));
  EXPECT_EQ(base, auth_mac("sha1", "k", n, "mail01", "r0"));
  EXPECT_TRUE(auth_mac("no-such-digest", "k", n, "mail01", "r0").empty());
}

}  // namespace
}  // namespace tandem::core
