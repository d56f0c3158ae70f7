// Fuzzes every decoder of BMC replies and the session state machines'
// datagram handling: set-up state and an established session (cipher
// suite 1, whose replies carry no integrity code, so the fuzzer reaches
// the in-session message checks; and IPMI 1.5 without authentication).
#include <cstddef>
#include <cstdint>

#include "../../../unit/fence/ipmi/fake_bmc.h"
#include "fence/ipmi/chassis.h"
#include "fence/ipmi/lan15_session.h"
#include "fence/ipmi/lanplus_session.h"
#include "fence/ipmi/rakp.h"
#include "fence/ipmi/session_commands.h"
#include "fence/ipmi/session_packet.h"

namespace {

using namespace tandem::ipmi;

SessionEvent drive(Session& session, testing::FakeBmc& bmc, SessionEvent event) {
  while (event.kind == SessionEvent::Kind::kNone && !event.send.empty()) {
    auto reply = bmc.handle(event.send);
    if (!reply) return event;
    event = session.on_datagram(*reply);
  }
  return event;
}

void fuzz_decoders(ByteSpan data) {
  (void)peek_auth_type(data);
  if (auto p = decode_lan15(data)) {
    if (auto r = decode_response(p->message)) {
      (void)decode_channel_auth_capabilities(r->data);
      (void)decode_chassis_status(r->data);
      (void)decode_session_challenge(r->data);
      (void)decode_activate_session(r->data);
      (void)decode_set_session_privilege(r->data);
    }
  }
  if (auto p = decode_lanplus(data, nullptr)) {
    (void)decode_open_session_response(p->payload);
    (void)decode_rakp2(p->payload, 20);
    (void)decode_rakp2(p->payload, 0);
    (void)decode_rakp4(p->payload, 12);
    (void)decode_response(p->payload);
  }
  SessionProtection protection;
  protection.integrity = true;
  protection.confidentiality = true;
  protection.k1.fill(0x11);
  protection.k2.fill(0x22);
  (void)decode_lanplus(data, &protection);
  protection.integrity = false;
  (void)decode_lanplus(data, &protection);
}

void fuzz_sessions(ByteSpan data) {
  SessionConfig config;
  config.username = "admin";
  config.password = "secret";
  config.suite = *cipher_suite(1);
  {
    LanplusSession fresh(config, testing::counter_random(1));
    (void)fresh.start();
    (void)fresh.on_datagram(data);
  }
  {
    testing::FakeBmc bmc({});
    LanplusSession session(config, testing::counter_random(2));
    if (drive(session, bmc, session.start()).kind == SessionEvent::Kind::kEstablished) {
      (void)session.request(get_chassis_status_request());
      (void)session.on_datagram(data);
    }
  }
  {
    testing::FakeBmc bmc({});
    config.lanplus = false;
    config.auth = Lan15Auth::kNone;
    Lan15Session session(config, testing::counter_random(3));
    (void)session.on_datagram(data);
    if (drive(session, bmc, session.start()).kind == SessionEvent::Kind::kEstablished) {
      (void)session.request(get_chassis_status_request());
      (void)session.on_datagram(data);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan input(data, size);
  fuzz_decoders(input);
  fuzz_sessions(input);
  return 0;
}
