// Known-answer tests of the IPMI codecs. The expected values were computed
// outside tandem (openssl dgst/enc over byte strings laid out by hand from
// the IPMI 2.0 field order), so they check the layout as well as the math.
#include <gtest/gtest.h>

#include <string>

#include "fence/ipmi/chassis.h"
#include "fence/ipmi/crypto.h"
#include "fence/ipmi/ipmi_message.h"
#include "fence/ipmi/lan15_session.h"
#include "fence/ipmi/rakp.h"
#include "fence/ipmi/session_commands.h"
#include "fence/ipmi/session_packet.h"

namespace tandem::ipmi {
namespace {

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

template <typename C>
std::string to_hex(const C& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

RakpTranscript example_transcript() {
  RakpTranscript t;
  t.console_session_id = 0x11223344;
  t.bmc_session_id = 0xa0b0c0d0;
  for (std::uint8_t i = 0; i < 16; ++i) {
    t.console_random[i] = i;
    t.bmc_random[i] = static_cast<std::uint8_t>(0x10 + i);
    t.bmc_guid[i] = static_cast<std::uint8_t>(0xa0 + i);
  }
  t.role = 0x14;  // administrator, name-only lookup
  t.username = "admin";
  return t;
}

TEST(IpmiMessage, GetChannelAuthCapabilitiesRequestMatchesTheWireFormat) {
  // rsAddr 20, netFn App<<2 = 18, checksum c8, rqAddr 81, rqSeq 0, cmd 38,
  // channel 8e (current, IPMI 2.0 data), privilege 04, checksum b5.
  const auto bytes =
      encode_request(get_channel_auth_capabilities_request(Privilege::kAdministrator, true), 0);
  EXPECT_EQ(to_hex(bytes), "2018c88100388e04b5");
}

TEST(IpmiMessage, ResponseRoundTripAndChecksumsAreVerified) {
  const IpmiRequest request = get_chassis_status_request();
  Bytes reply = encode_response(request, 5, 0, Bytes{0x01, 0x00, 0x00});
  auto decoded = decode_response(reply);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->rq_seq, 5);
  EXPECT_EQ(decoded->netfn, kNetFnChassis | 1);
  EXPECT_TRUE(check_response_matches(*decoded, request, 5).ok());
  EXPECT_FALSE(check_response_matches(*decoded, request, 6).ok());
  EXPECT_FALSE(
      check_response_matches(*decoded, chassis_control_request(ChassisControl::kPowerUp), 5).ok());

  Bytes bad_header = reply;
  bad_header[2] ^= 1;
  auto e1 = decode_response(bad_header);
  ASSERT_FALSE(e1.ok());
  EXPECT_NE(e1.error().message.find("header checksum"), std::string::npos);

  Bytes bad_data = reply;
  bad_data[7] ^= 1;
  auto e2 = decode_response(bad_data);
  ASSERT_FALSE(e2.ok());
  EXPECT_NE(e2.error().message.find("data checksum"), std::string::npos);

  EXPECT_FALSE(decode_response(ByteSpan(reply.data(), 6)).ok());
  EXPECT_FALSE(decode_response(Bytes(300, 0)).ok());
  // A request is not a response, even with valid checksums.
  EXPECT_FALSE(decode_response(encode_request(request, 1)).ok());
}

TEST(IpmiMessage, ChassisStatusBoundsItsLength) {
  EXPECT_TRUE(decode_chassis_status(Bytes{0x01, 0, 0})->power_on);
  EXPECT_FALSE(decode_chassis_status(Bytes{0x00, 0, 0, 0})->power_on);
  EXPECT_FALSE(decode_chassis_status(Bytes{0x01, 0}).ok());
  EXPECT_FALSE(decode_chassis_status(Bytes{0x01, 0, 0, 0, 0}).ok());
}

TEST(Rakp, KeyExchangeCodesMatchKnownAnswers) {
  const auto t = example_transcript();
  const Key20 kuid = password_key("secret");
  EXPECT_EQ(to_hex(kuid), "7365637265740000000000000000000000000000");
  EXPECT_EQ(to_hex(rakp2_key_exchange_code(kuid, t)), "cb12c215ea3ab5589f8cb68e025e449211442b98");
  EXPECT_EQ(to_hex(rakp3_key_exchange_code(kuid, t)), "2e873fbfcd9caa8c56a77cc6897b3b5b724abfd1");
  const auto sik = session_integrity_key(kuid, t);
  EXPECT_EQ(to_hex(sik), "a39ae2b160a1e5efe017ffd6ec1a4ff8eeac6f54");
  EXPECT_EQ(to_hex(rakp4_integrity_check_value(sik, t)),
            "0993ea6fcd1b4cae49b8abaa7849d3d668d88010");
  EXPECT_EQ(to_hex(derive_additional_key(sik, 1)), "58dbc1afa00eb3f9487c9eaef0dc7892cc43e496");
  EXPECT_EQ(to_hex(derive_additional_key(sik, 2)), "8bd9b8ce0674b5d745ced91e728ac1a51464fcaf");
  // With a BMC key K_G the SIK is keyed with K_G instead of the password.
  Key20 kg{};
  kg.fill(0x5e);
  EXPECT_EQ(to_hex(session_integrity_key(kg, t)), "f404ded617500da40e0538cd40990d507a0d10c7");
}

TEST(Rakp, MessagesRoundTripAndRejectBadLengths) {
  Rakp1 r1;
  r1.tag = 9;
  r1.bmc_session_id = 0xa0b0c0d0;
  r1.role = 0x14;
  r1.username = "admin";
  const Bytes e1 = encode_rakp1(r1);
  EXPECT_EQ(e1.size(), 28u + 5u);
  auto d1 = decode_rakp1(e1);
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->username, "admin");
  Bytes long_name = e1;
  long_name[27] = 40;  // claims a 40-byte name
  EXPECT_FALSE(decode_rakp1(long_name).ok());

  Rakp2 r2;
  r2.tag = 9;
  r2.console_session_id = 0x11223344;
  r2.key_exchange_code = Bytes(20, 0xee);
  const Bytes e2 = encode_rakp2(r2);
  EXPECT_EQ(e2.size(), 60u);
  ASSERT_TRUE(decode_rakp2(e2, 20).ok());
  EXPECT_FALSE(decode_rakp2(e2, 0).ok()) << "a longer code than the suite's must be refused";
  EXPECT_FALSE(decode_rakp2(ByteSpan(e2.data(), 59), 20).ok());
  r2.status = 0x0d;
  auto short_error = decode_rakp2(encode_rakp2(r2), 20);
  ASSERT_TRUE(short_error.ok());
  EXPECT_EQ(short_error->status, 0x0d);

  OpenSessionResponse o;
  o.tag = 1;
  o.console_session_id = 5;
  o.bmc_session_id = 6;
  o.authentication = 1;
  o.integrity = 1;
  o.confidentiality = 1;
  Bytes eo = encode_open_session_response(o);
  EXPECT_EQ(eo.size(), 36u);
  ASSERT_TRUE(decode_open_session_response(eo).ok());
  eo[12] = 0x01;  // the authentication record announced as an integrity record
  EXPECT_FALSE(decode_open_session_response(eo).ok());
}

TEST(Crypto, AesCbc128PayloadPaddingMatchesKnownAnswer) {
  // A 3-byte payload gets pad bytes 01..0c and pad length 0c: one block.
  SessionProtection p;
  p.confidentiality = true;
  const Bytes k2 = from_hex("8bd9b8ce0674b5d745ced91e728ac1a51464fcaf");
  std::copy(k2.begin(), k2.end(), p.k2.begin());
  const Bytes iv = from_hex("0f0e0d0c0b0a09080706050403020100");
  const Bytes payload = from_hex("2018c8");
  auto packet = encode_lanplus(kPayloadIpmi, 1, 1, payload, &p, iv);
  ASSERT_TRUE(packet.ok());
  // RMCP 4 + session header 12, then IV and one encrypted block.
  ASSERT_EQ(packet->size(), 16u + 32u);
  EXPECT_EQ(to_hex(ByteSpan(*packet).subspan(16, 16)), "0f0e0d0c0b0a09080706050403020100");
  EXPECT_EQ(to_hex(ByteSpan(*packet).subspan(32, 16)), "7f548b4ef9cdc128771c47ab84c83a2d");
  auto decoded = decode_lanplus(*packet, &p);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->payload, payload);
}

TEST(Crypto, Md5AuthCodeMatchesKnownAnswer) {
  const Bytes message = from_hex("2018c881043b043c");
  EXPECT_EQ(to_hex(lan15_md5_auth_code("secret", 0x01020304, message, 5)),
            "8ca0e02a27bd81d6caf270979f72bb1b");
}

class SignedPacket : public ::testing::Test {
 protected:
  void SetUp() override {
    protection.integrity = true;
    protection.confidentiality = true;
    protection.k1.fill(0x11);
    protection.k2.fill(0x22);
  }
  Bytes make(ByteSpan payload) {
    auto p = encode_lanplus(kPayloadIpmi, 0x1234, 7, payload, &protection, Bytes(16, 9));
    EXPECT_TRUE(p.ok());
    return p ? *p : Bytes{};
  }
  SessionProtection protection;
};

TEST_F(SignedPacket, IntegrityPadAlignsToFourBytes) {
  for (std::size_t n = 0; n < 40; ++n) {
    const Bytes packet = make(Bytes(n, 0x5a));
    // Everything after the RMCP header up to the integrity code.
    EXPECT_EQ((packet.size() - 4 - kIntegrityCodeSize) % 4, 0u) << n;
    auto decoded = decode_lanplus(packet, &protection);
    ASSERT_TRUE(decoded.ok()) << n << ": " << decoded.error().message;
    EXPECT_EQ(decoded->payload, Bytes(n, 0x5a));
  }
}

TEST_F(SignedPacket, ForgeriesAreRejectedWithAReason) {
  const Bytes good = make(Bytes{1, 2, 3});
  auto reason = [&](const Bytes& packet) {
    auto r = decode_lanplus(packet, &protection);
    return r ? std::string("accepted") : r.error().message;
  };
  Bytes bad_code = good;
  bad_code.back() ^= 0x80;
  EXPECT_NE(reason(bad_code).find("bad integrity code"), std::string::npos);

  Bytes changed_seq = good;
  changed_seq[10] ^= 1;  // session sequence, covered by the integrity code
  EXPECT_NE(reason(changed_seq).find("bad integrity code"), std::string::npos);

  SessionProtection other = protection;
  other.k1.fill(0x12);
  auto wrong_key = decode_lanplus(good, &other);
  ASSERT_FALSE(wrong_key.ok());

  Bytes unsigned_packet = good;
  unsigned_packet[5] &= static_cast<std::uint8_t>(~0x40);
  EXPECT_NE(reason(unsigned_packet).find("lacks the integrity code"), std::string::npos);

  auto clear = encode_lanplus(kPayloadIpmi, 0x1234, 7, Bytes{1, 2, 3}, nullptr, {});
  ASSERT_TRUE(clear.ok());
  EXPECT_NE(reason(*clear).find("lacks the integrity code"), std::string::npos);

  ASSERT_GT(good.size(), 16u);
  const Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_NE(reason(truncated), "accepted");

  Bytes long_length = good;
  long_length[14] = 0xff;  // payload length low byte
  long_length[15] = 0x0f;
  EXPECT_NE(reason(long_length).find("exceeds the datagram"), std::string::npos);
}

TEST(Lan15Packet, RoundTripAndBounds) {
  Lan15Packet p;
  p.auth_type = kAuthTypeMd5;
  p.session_id = 0x01020304;
  p.session_seq = 9;
  p.auth_code.fill(0xab);
  p.message = {1, 2, 3};
  const Bytes bytes = encode_lan15(p);
  EXPECT_EQ(bytes.size(), 4u + 1 + 4 + 4 + 16 + 1 + 3);
  auto d = decode_lan15(bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->message, p.message);
  EXPECT_EQ(d->auth_code, p.auth_code);
  Bytes lying = bytes;
  lying[29] = 200;  // message length beyond the datagram
  EXPECT_FALSE(decode_lan15(lying).ok());
  Bytes not_rmcp = bytes;
  not_rmcp[0] = 0x05;
  EXPECT_FALSE(decode_lan15(not_rmcp).ok());
  EXPECT_FALSE(decode_lan15(Bytes(2000, 0x06)).ok());
}

}  // namespace
}  // namespace tandem::ipmi
