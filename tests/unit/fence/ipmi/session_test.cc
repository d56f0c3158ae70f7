// The session state machines against a scripted BMC: full set-up for every
// cipher suite and IPMI 1.5, and forged or malformed replies at each step.
#include <gtest/gtest.h>

#include "fake_bmc.h"
#include "fence/ipmi/chassis.h"
#include "fence/ipmi/lan15_session.h"
#include "fence/ipmi/lanplus_session.h"
#include "fence/ipmi/session_commands.h"

namespace tandem::ipmi {
namespace {

using testing::counter_random;
using testing::FakeBmc;
using Kind = SessionEvent::Kind;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Exchanges datagrams until the session reports an outcome or the BMC
// stays silent.
SessionEvent drive(Session& session, FakeBmc& bmc, SessionEvent event) {
  while (event.kind == Kind::kNone && !event.send.empty()) {
    auto reply = bmc.handle(event.send);
    if (!reply) return event;
    event = session.on_datagram(*reply);
  }
  return event;
}

// Like drive(), then lets the step time out: refusals during set-up are
// only reported when no genuine reply follows them.
SessionEvent drive_to_outcome(Session& session, FakeBmc& bmc, SessionEvent event) {
  event = drive(session, bmc, std::move(event));
  if (event.kind == Kind::kNone && !event.rejected.empty()) event = session.on_timeout();
  return event;
}

SessionConfig config_for(int suite) {
  SessionConfig c;
  c.username = "admin";
  c.password = "secret";
  c.suite = *cipher_suite(suite);
  return c;
}

class LanplusSuites : public ::testing::TestWithParam<int> {};

TEST_P(LanplusSuites, EstablishesReadsStatusSwitchesPowerAndCloses) {
  FakeBmc bmc({});
  LanplusSession session(config_for(GetParam()), counter_random(1));
  auto e = drive(session, bmc, session.start());
  ASSERT_EQ(e.kind, Kind::kEstablished) << e.error.message;
  EXPECT_TRUE(session.established());

  e = drive(session, bmc, session.request(get_chassis_status_request()));
  ASSERT_EQ(e.kind, Kind::kResponse) << e.error.message;
  EXPECT_EQ(e.response.completion_code, 0);
  EXPECT_TRUE(decode_chassis_status(e.response.data)->power_on);

  e = drive(session, bmc, session.request(chassis_control_request(ChassisControl::kPowerDown)));
  ASSERT_EQ(e.kind, Kind::kResponse);
  EXPECT_FALSE(bmc.power_on);
  EXPECT_EQ(bmc.controls, std::vector<std::uint8_t>{0});

  e = drive(session, bmc, session.close());
  EXPECT_EQ(e.kind, Kind::kClosed);
  EXPECT_TRUE(bmc.session_closed);
}

INSTANTIATE_TEST_SUITE_P(CipherSuites, LanplusSuites, ::testing::Values(0, 1, 2, 3));

TEST(LanplusSession, WrongPasswordFailsWithoutRevealingIt) {
  FakeBmc bmc({"admin", "the-real-one", Privilege::kAdministrator});
  SessionConfig c = config_for(3);
  c.password = "guessed-pw";
  LanplusSession session(c, counter_random(2));
  auto e = drive_to_outcome(session, bmc, session.start());
  ASSERT_EQ(e.kind, Kind::kFailed);
  EXPECT_TRUE(contains(e.error.message, "does not match the password")) << e.error.message;
  EXPECT_FALSE(contains(e.error.message, "guessed-pw"));
  EXPECT_FALSE(contains(e.error.message, "the-real-one"));
  // The BMC is told (RAKP 3 with status 0x0f) so that it frees the session.
  auto packet = decode_lanplus(e.send, nullptr);
  ASSERT_TRUE(packet.ok());
  EXPECT_EQ(packet->payload_type, kPayloadRakp3);
  EXPECT_EQ(packet->payload.at(1), 0x0f);
}

TEST(LanplusSession, ForgedRakp2IsIgnoredWhenTheGenuineOneFollows) {
  FakeBmc bmc({});
  LanplusSession session(config_for(3), counter_random(18));
  auto e = session.start();
  for (int step = 0; step < 3; ++step) {  // capabilities, Open Session, RAKP 1
    auto reply = bmc.handle(e.send);
    ASSERT_TRUE(reply.has_value());
    if (step == 2) {
      Bytes forged = *reply;
      forged.back() ^= 0x01;  // last byte of the key exchange code
      auto rejected = session.on_datagram(forged);
      EXPECT_EQ(rejected.kind, Kind::kNone);
      EXPECT_TRUE(contains(rejected.rejected, "does not match the password")) << rejected.rejected;
    }
    e = session.on_datagram(*reply);
  }
  e = drive(session, bmc, std::move(e));
  EXPECT_EQ(e.kind, Kind::kEstablished) << e.error.message;
}

TEST(LanplusSession, UnknownUserAndRefusedPrivilegeAreReported) {
  {
    FakeBmc bmc({"someone", "secret", Privilege::kAdministrator});
    LanplusSession session(config_for(3), counter_random(3));
    auto e = drive_to_outcome(session, bmc, session.start());
    ASSERT_EQ(e.kind, Kind::kFailed);
    EXPECT_TRUE(contains(e.error.message, "unauthorized name")) << e.error.message;
  }
  {
    FakeBmc bmc({"admin", "secret", Privilege::kUser});
    LanplusSession session(config_for(3), counter_random(4));
    auto e = drive_to_outcome(session, bmc, session.start());
    ASSERT_EQ(e.kind, Kind::kFailed);
    EXPECT_TRUE(contains(e.error.message, "privilege limit")) << e.error.message;
  }
}

TEST(LanplusSession, LowerGrantedPrivilegeIsRefused) {
  FakeBmc bmc({});
  bmc.granted_privilege = 2;
  LanplusSession session(config_for(3), counter_random(20));
  auto e = drive(session, bmc, session.start());
  ASSERT_EQ(e.kind, Kind::kFailed);
  EXPECT_TRUE(contains(e.error.message, "privilege user instead of the requested administrator"))
      << e.error.message;
}

TEST(LanplusSession, BmcWithoutIpmi20IsRefusedWithAHint) {
  FakeBmc bmc({});
  bmc.offer_ipmi20 = false;
  LanplusSession session(config_for(3), counter_random(5));
  auto e = drive_to_outcome(session, bmc, session.start());
  ASSERT_EQ(e.kind, Kind::kFailed);
  EXPECT_TRUE(contains(e.error.message, "lanplus off")) << e.error.message;
}

TEST(LanplusSession, BmcKeyIsUsedForTheSessionIntegrityKey) {
  Key20 key{};
  key.fill(0x5e);
  {
    FakeBmc bmc({});
    bmc.kg = key;
    SessionConfig c = config_for(3);
    c.bmc_key = key;
    LanplusSession session(c, counter_random(14));
    auto e = drive(session, bmc, session.start());
    ASSERT_EQ(e.kind, Kind::kEstablished) << e.error.message;
    e = drive(session, bmc, session.request(get_chassis_status_request()));
    EXPECT_EQ(e.kind, Kind::kResponse);
  }
  {
    FakeBmc bmc({});
    bmc.kg = key;
    LanplusSession session(config_for(3), counter_random(15));
    auto e = drive_to_outcome(session, bmc, session.start());
    ASSERT_EQ(e.kind, Kind::kFailed);
    EXPECT_TRUE(contains(e.error.message, "--hexadecimal-kg")) << e.error.message;
  }
  {
    FakeBmc bmc({});
    bmc.kg = key;
    SessionConfig c = config_for(3);
    c.bmc_key = Key20{};
    LanplusSession session(c, counter_random(16));
    auto e = drive_to_outcome(session, bmc, session.start());
    ASSERT_EQ(e.kind, Kind::kFailed);
    EXPECT_TRUE(contains(e.error.message, "wrong BMC key")) << e.error.message;
  }
}

class EstablishedLanplus : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = drive(session, bmc, session.start());
    ASSERT_EQ(e.kind, Kind::kEstablished) << e.error.message;
    request = session.request(get_chassis_status_request());
    ASSERT_FALSE(request.send.empty());
    auto genuine_reply = bmc.handle(request.send);
    ASSERT_TRUE(genuine_reply.has_value());
    genuine = *genuine_reply;
    auto packet = decode_lanplus(genuine, &bmc.protection());
    ASSERT_TRUE(packet.ok());
    message = packet->payload;
    seq = packet->session_seq;
  }

  SessionEvent feed(const Bytes& datagram) { return session.on_datagram(datagram); }

  FakeBmc bmc{{}};
  LanplusSession session{config_for(3), counter_random(6)};
  SessionEvent request;
  Bytes genuine;
  Bytes message;  // the plaintext IPMI message of the genuine reply
  std::uint32_t seq = 0;
};

TEST_F(EstablishedLanplus, BadIntegrityCodeIsIgnoredAndTheGenuineReplyStillAccepted) {
  Bytes forged = genuine;
  forged[forged.size() - 3] ^= 0x01;
  auto e = feed(forged);
  EXPECT_EQ(e.kind, Kind::kNone);
  EXPECT_TRUE(contains(e.rejected, "bad integrity code")) << e.rejected;
  EXPECT_EQ(feed(genuine).kind, Kind::kResponse);
}

TEST_F(EstablishedLanplus, WrongSessionIdIsIgnored) {
  auto e = feed(bmc.lanplus_reply(bmc.console_session_id() + 1, seq + 1, message));
  EXPECT_EQ(e.kind, Kind::kNone);
  EXPECT_TRUE(contains(e.rejected, "wrong session id")) << e.rejected;
}

TEST_F(EstablishedLanplus, ReplayedSequenceIsIgnored) {
  ASSERT_EQ(feed(genuine).kind, Kind::kResponse);
  // A second request answered with a correctly signed packet that reuses
  // the old session sequence number: a replay.
  auto second = session.request(get_chassis_status_request());
  auto fresh = bmc.handle(second.send);
  ASSERT_TRUE(fresh.has_value());
  auto fresh_packet = decode_lanplus(*fresh, &bmc.protection());
  ASSERT_TRUE(fresh_packet.ok());
  auto e = feed(bmc.lanplus_reply(bmc.console_session_id(), seq, fresh_packet->payload));
  EXPECT_EQ(e.kind, Kind::kNone);
  EXPECT_TRUE(contains(e.rejected, "sequence")) << e.rejected;
  EXPECT_EQ(feed(*fresh).kind, Kind::kResponse);
}

TEST_F(EstablishedLanplus, StaleRequestSequenceAndBadChecksumAreIgnored) {
  Bytes other_rqseq = message;
  other_rqseq[4] = static_cast<std::uint8_t>(other_rqseq[4] + 4);  // rqSeq + 1
  other_rqseq.back() = static_cast<std::uint8_t>(other_rqseq.back() - 4);
  auto e = feed(bmc.lanplus_reply(bmc.console_session_id(), seq + 1, other_rqseq));
  EXPECT_TRUE(contains(e.rejected, "request sequence")) << e.rejected;

  Bytes bad_checksum = message;
  bad_checksum.back() ^= 0xff;
  e = feed(bmc.lanplus_reply(bmc.console_session_id(), seq + 2, bad_checksum));
  EXPECT_TRUE(contains(e.rejected, "checksum")) << e.rejected;

  e = feed(Bytes{0x06, 0x00, 0xff, 0x07, 0x06});
  EXPECT_EQ(e.kind, Kind::kNone);
  EXPECT_FALSE(e.rejected.empty());
  EXPECT_EQ(feed(genuine).kind, Kind::kResponse);
}

TEST_F(EstablishedLanplus, UnencryptedReplyIsRefusedUnderSuite3) {
  SessionProtection sign_only = bmc.protection();
  sign_only.confidentiality = false;
  auto packet =
      encode_lanplus(kPayloadIpmi, bmc.console_session_id(), seq + 1, message, &sign_only, {});
  ASSERT_TRUE(packet.ok());
  auto e = feed(*packet);
  EXPECT_TRUE(contains(e.rejected, "not encrypted")) << e.rejected;
}

TEST_F(EstablishedLanplus, RetransmitsWithFreshSequenceThenGivesUp) {
  auto first = decode_lanplus(request.send, &bmc.protection());
  ASSERT_TRUE(first.ok());
  auto retry1 = session.on_timeout();
  ASSERT_FALSE(retry1.send.empty());
  auto retry1_packet = decode_lanplus(retry1.send, &bmc.protection());
  ASSERT_TRUE(retry1_packet.ok());
  EXPECT_GT(retry1_packet->session_seq, first->session_seq);
  EXPECT_EQ(retry1_packet->payload, first->payload) << "rqSeq must stay the same";
  EXPECT_EQ(session.on_timeout().kind, Kind::kNone);
  auto gave_up = session.on_timeout();
  ASSERT_EQ(gave_up.kind, Kind::kFailed);
  EXPECT_TRUE(contains(gave_up.error.message, "no reply to Get Chassis Status after 3 attempts"))
      << gave_up.error.message;
}

TEST(LanplusSession, SetupTimeoutGivesUpAfterTheConfiguredAttempts) {
  SessionConfig c = config_for(3);
  c.attempts = 2;
  LanplusSession session(c, counter_random(7));
  auto first = session.start();
  auto retry = session.on_timeout();
  EXPECT_EQ(retry.send, first.send);
  auto gave_up = session.on_timeout();
  ASSERT_EQ(gave_up.kind, Kind::kFailed);
  EXPECT_TRUE(contains(gave_up.error.message, "after 2 attempts")) << gave_up.error.message;
}

TEST(LanplusSession, ForgedSetupRepliesAreIgnored) {
  FakeBmc bmc({});
  LanplusSession session(config_for(3), counter_random(8));
  auto caps = session.start();
  auto caps_reply = bmc.handle(caps.send);
  auto open = session.on_datagram(*caps_reply);
  ASSERT_FALSE(open.send.empty());
  auto open_reply = bmc.handle(open.send);
  ASSERT_TRUE(open_reply.has_value());
  // Same Open Session Response, but naming another console session id.
  auto packet = decode_lanplus(*open_reply, nullptr);
  ASSERT_TRUE(packet.ok());
  Bytes payload = packet->payload;
  payload[4] ^= 0x01;
  auto forged = encode_lanplus(kPayloadOpenSessionResponse, 0, 0, payload, nullptr, {});
  auto e = session.on_datagram(*forged);
  EXPECT_EQ(e.kind, Kind::kNone);
  EXPECT_TRUE(contains(e.rejected, "wrong session id")) << e.rejected;
  // An IPMI 1.5 packet where RMCP+ is expected.
  e = session.on_datagram(*caps_reply);
  EXPECT_FALSE(e.rejected.empty());
  e = drive(session, bmc, session.on_datagram(*open_reply));
  EXPECT_EQ(e.kind, Kind::kEstablished) << e.error.message;
}

SessionConfig lan15_config(Lan15Auth auth) {
  SessionConfig c = config_for(3);
  c.lanplus = false;
  c.auth = auth;
  return c;
}

TEST(Lan15Session, Md5SessionSwitchesPower) {
  FakeBmc bmc({});
  Lan15Session session(lan15_config(Lan15Auth::kMd5), counter_random(9));
  auto e = drive(session, bmc, session.start());
  ASSERT_EQ(e.kind, Kind::kEstablished) << e.error.message;
  e = drive(session, bmc, session.request(chassis_control_request(ChassisControl::kPowerDown)));
  ASSERT_EQ(e.kind, Kind::kResponse) << e.error.message;
  EXPECT_FALSE(bmc.power_on);
  e = drive(session, bmc, session.request(get_chassis_status_request()));
  ASSERT_EQ(e.kind, Kind::kResponse);
  EXPECT_FALSE(decode_chassis_status(e.response.data)->power_on);
  EXPECT_EQ(drive(session, bmc, session.close()).kind, Kind::kClosed);
  EXPECT_TRUE(bmc.session_closed);
}

TEST(Lan15Session, StraightPasswordSessionWorks) {
  FakeBmc bmc({});
  Lan15Session session(lan15_config(Lan15Auth::kPassword), counter_random(17));
  auto e = drive(session, bmc, session.start());
  ASSERT_EQ(e.kind, Kind::kEstablished) << e.error.message;
  e = drive(session, bmc, session.request(get_chassis_status_request()));
  EXPECT_EQ(e.kind, Kind::kResponse);
}

TEST(Lan15Session, UnauthenticatedSessionWorksWhenAskedFor) {
  FakeBmc bmc({});
  Lan15Session session(lan15_config(Lan15Auth::kNone), counter_random(10));
  auto e = drive(session, bmc, session.start());
  ASSERT_EQ(e.kind, Kind::kEstablished) << e.error.message;
  e = drive(session, bmc, session.request(get_chassis_status_request()));
  EXPECT_EQ(e.kind, Kind::kResponse);
}

TEST(Lan15Session, WrongPasswordTimesOutAndPrivilegeAboveTheLimitIsRefused) {
  {
    // A BMC drops packets whose MD5 code it cannot verify.
    FakeBmc bmc({"admin", "other", Privilege::kAdministrator});
    Lan15Session session(lan15_config(Lan15Auth::kMd5), counter_random(11));
    auto e = drive(session, bmc, session.start());
    EXPECT_EQ(e.kind, Kind::kNone);
    e = session.on_timeout();
    e = session.on_timeout();
    e = session.on_timeout();
    ASSERT_EQ(e.kind, Kind::kFailed);
    EXPECT_TRUE(contains(e.error.message, "Activate Session")) << e.error.message;
  }
  {
    FakeBmc bmc({"admin", "secret", Privilege::kUser});
    Lan15Session session(lan15_config(Lan15Auth::kMd5), counter_random(12));
    auto e = drive_to_outcome(session, bmc, session.start());
    ASSERT_EQ(e.kind, Kind::kFailed);
    EXPECT_TRUE(contains(e.error.message, "exceeds the user's limit")) << e.error.message;
  }
}

TEST(Lan15Session, UnknownUserIsReportedAtTheTimeoutUnlessAGenuineReplyFollows) {
  FakeBmc bmc({"someone", "secret", Privilege::kAdministrator});
  Lan15Session session(lan15_config(Lan15Auth::kMd5), counter_random(19));
  auto e = drive(session, bmc, session.start());
  EXPECT_EQ(e.kind, Kind::kNone);
  EXPECT_TRUE(contains(e.rejected, "does not know user 'admin'")) << e.rejected;
  e = session.on_timeout();
  ASSERT_EQ(e.kind, Kind::kFailed);
  EXPECT_TRUE(contains(e.error.message, "does not know user 'admin'")) << e.error.message;
}

TEST(Lan15Session, ForgedMd5CodeIsIgnored) {
  FakeBmc bmc({});
  Lan15Session session(lan15_config(Lan15Auth::kMd5), counter_random(13));
  ASSERT_EQ(drive(session, bmc, session.start()).kind, Kind::kEstablished);
  auto request = session.request(get_chassis_status_request());
  auto reply = bmc.handle(request.send);
  ASSERT_TRUE(reply.has_value());
  Bytes forged = *reply;
  forged[14] ^= 0x01;  // inside the 16-byte authentication code
  auto e = session.on_datagram(forged);
  EXPECT_TRUE(contains(e.rejected, "bad MD5 authentication code")) << e.rejected;
  Bytes wrong_id = *reply;
  wrong_id[9] ^= 0x01;  // session id
  e = session.on_datagram(wrong_id);
  EXPECT_TRUE(contains(e.rejected, "wrong session id")) << e.rejected;
  EXPECT_EQ(session.on_datagram(*reply).kind, Kind::kResponse);
  // The same reply again is stale.
  auto again = session.request(get_chassis_status_request());
  e = session.on_datagram(*reply);
  EXPECT_FALSE(e.rejected.empty());
}

}  // namespace
}  // namespace tandem::ipmi
