// NbdSession handshake: byte-exact greeting and option replies, both ways
// into transmission (NBD_OPT_GO and NBD_OPT_EXPORT_NAME), and refusal of
// malformed input.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nbd/protocol.h"
#include "nbd/session.h"
#include "wire_helpers.h"

namespace tandem::nbd {
namespace {

using namespace test;

Bytes drain(NbdSession& s) {
  return concat(s.take_output());
}

std::vector<ExportInfo> one_export(uint64_t size = 1 << 20, bool read_only = false) {
  ExportInfo e;
  e.name = "";
  e.description = "test volume";
  e.size = size;
  e.read_only = read_only;
  return {e};
}

// Session past the greeting and the client flags.
NbdSession started(std::vector<ExportInfo> exports, uint32_t flags = 3) {
  NbdSession s(std::move(exports), "test-peer");
  s.take_output();
  s.receive(client_flags(flags));
  return s;
}

TEST(NbdHandshake, GreetingIsFixedNewstyleWithNoZeroes) {
  NbdSession s(one_export(), "test-peer");
  Reader r(drain(s));
  EXPECT_EQ(r.u64(), 0x4e42444d41474943ULL);  // NBDMAGIC
  EXPECT_EQ(r.u64(), 0x49484156454f5054ULL);  // IHAVEOPT
  EXPECT_EQ(r.u16(), 0x0003);                 // FIXED_NEWSTYLE | NO_ZEROES
  EXPECT_EQ(r.left(), 0u);
  EXPECT_EQ(s.phase(), NbdSession::Phase::kHandshake);
  EXPECT_TRUE(s.wants_input());
}

TEST(NbdHandshake, GoRepliesExportInfoBlockSizeThenAckAndEntersTransmission) {
  NbdSession s = started(one_export(12345678));
  s.receive(option(kOptGo, go_data("", {kInfoBlockSize})));
  Reader r(drain(s));

  OptionReply info = read_option_reply(r);
  EXPECT_EQ(info.option, kOptGo);
  EXPECT_EQ(info.type, kRepInfo);
  ASSERT_EQ(info.data.size(), 12u);
  Reader ir(info.data);
  EXPECT_EQ(ir.u16(), kInfoExport);
  EXPECT_EQ(ir.u64(), 12345678u);
  EXPECT_EQ(ir.u16(), kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendTrim | kTxSendWriteZeroes);

  OptionReply bs = read_option_reply(r);
  EXPECT_EQ(bs.type, kRepInfo);
  ASSERT_EQ(bs.data.size(), 14u);
  Reader br(bs.data);
  EXPECT_EQ(br.u16(), kInfoBlockSize);
  EXPECT_EQ(br.u32(), 1u);
  EXPECT_EQ(br.u32(), 4096u);
  EXPECT_EQ(br.u32(), 32u << 20);

  OptionReply ack = read_option_reply(r);
  EXPECT_EQ(ack.option, kOptGo);
  EXPECT_EQ(ack.type, kRepAck);
  EXPECT_TRUE(ack.data.empty());
  EXPECT_EQ(r.left(), 0u);  // no zero padding after NBD_OPT_GO
  EXPECT_EQ(s.phase(), NbdSession::Phase::kTransmission);
  EXPECT_EQ(s.export_index(), 0u);
}

TEST(NbdHandshake, InfoDoesNotEnterTransmissionAndGoMayFollow) {
  NbdSession s = started(one_export());
  s.receive(option(kOptInfo, go_data("", {})));
  Reader r(drain(s));
  EXPECT_EQ(read_option_reply(r).type, kRepInfo);
  EXPECT_EQ(read_option_reply(r).type, kRepInfo);
  const OptionReply ack = read_option_reply(r);
  EXPECT_EQ(ack.option, kOptInfo);
  EXPECT_EQ(ack.type, kRepAck);
  EXPECT_EQ(s.phase(), NbdSession::Phase::kHandshake);
  s.receive(option(kOptGo, go_data("", {})));
  EXPECT_EQ(s.phase(), NbdSession::Phase::kTransmission);
}

TEST(NbdHandshake, GoSendsNameAndDescriptionWhenAsked) {
  NbdSession s = started(one_export());
  s.receive(option(kOptGo, go_data("", {kInfoName, kInfoDescription, 999})));
  Reader r(drain(s));
  bool saw_name = false, saw_description = false;
  for (;;) {
    const OptionReply rep = read_option_reply(r);
    if (rep.type == kRepAck) break;
    ASSERT_EQ(rep.type, kRepInfo);
    Reader ir(rep.data);
    const uint16_t type = ir.u16();
    if (type == kInfoName) {
      saw_name = true;
      EXPECT_EQ(ir.left(), 0u);  // the default export's name is ""
    }
    if (type == kInfoDescription) {
      saw_description = true;
      EXPECT_EQ(ir.take(ir.left()), text("test volume"));
    }
  }
  EXPECT_TRUE(saw_name);
  EXPECT_TRUE(saw_description);
}

TEST(NbdHandshake, ExportNameWithNoZeroesSendsSizeAndFlagsOnly) {
  NbdSession s = started(one_export(4096, true), 3);
  s.receive(option(kOptExportName, {}));
  Reader r(drain(s));
  EXPECT_EQ(r.u64(), 4096u);
  EXPECT_EQ(r.u16(), kTxHasFlags | kTxReadOnly | kTxSendFlush | kTxSendFua | kTxSendTrim |
                         kTxSendWriteZeroes);
  EXPECT_EQ(r.left(), 0u);
  EXPECT_EQ(s.phase(), NbdSession::Phase::kTransmission);
}

TEST(NbdHandshake, ExportNameWithoutNoZeroesPads124Zeroes) {
  NbdSession s = started(one_export(8192), 1);
  s.receive(option(kOptExportName, {}));
  Reader r(drain(s));
  EXPECT_EQ(r.u64(), 8192u);
  r.u16();
  const Bytes pad = r.take(124);
  EXPECT_EQ(pad, Bytes(124, std::byte{0}));
  EXPECT_EQ(r.left(), 0u);
}

TEST(NbdHandshake, NamedExportsAreSelectedByNameAndListed) {
  std::vector<ExportInfo> exports(2);
  exports[0].name = "r0";
  exports[0].size = 100;
  exports[1].name = "r1";
  exports[1].size = 200;
  exports[1].can_multi_conn = true;
  NbdSession s = started(exports);

  s.receive(option(kOptList, {}));
  Reader lr(drain(s));
  for (const char* name : {"r0", "r1"}) {
    const OptionReply rep = read_option_reply(lr);
    EXPECT_EQ(rep.type, kRepServer);
    Reader rr(rep.data);
    EXPECT_EQ(rr.u32(), 2u);
    EXPECT_EQ(rr.take(2), text(name));
  }
  EXPECT_EQ(read_option_reply(lr).type, kRepAck);

  s.receive(option(kOptGo, go_data("r1", {})));
  Reader r(drain(s));
  const OptionReply info = read_option_reply(r);
  Reader ir(info.data);
  ir.u16();
  EXPECT_EQ(ir.u64(), 200u);
  EXPECT_NE(ir.u16() & kTxCanMultiConn, 0);
  EXPECT_EQ(s.export_index(), 1u);
}

TEST(NbdHandshake, UnknownExportViaGoIsAnErrorReplyNotADisconnect) {
  std::vector<ExportInfo> named = one_export();
  named[0].name = "r0";
  NbdSession n = started(named);
  n.receive(option(kOptGo, go_data("nope", {})));
  Reader r(drain(n));
  const OptionReply rep = read_option_reply(r);
  EXPECT_EQ(rep.type, kRepErrUnknown);
  EXPECT_FALSE(rep.data.empty());  // a message for the user
  EXPECT_EQ(n.phase(), NbdSession::Phase::kHandshake);
  n.receive(option(kOptGo, go_data("r0", {})));
  EXPECT_EQ(n.phase(), NbdSession::Phase::kTransmission);
}

TEST(NbdHandshake, UnknownExportViaExportNameCloses) {
  std::vector<ExportInfo> named = one_export();
  named[0].name = "r0";
  NbdSession s = started(named);
  s.receive(option(kOptExportName, text("other")));
  EXPECT_TRUE(s.closed());
  EXPECT_NE(s.close_reason().find("unknown export 'other'"), std::string::npos);
  EXPECT_TRUE(drain(s).empty());
}

TEST(NbdHandshake, UnsupportedOptionsGetErrUnsupAndNegotiationGoesOn) {
  NbdSession s = started(one_export());
  s.receive(option(kOptStartTls, {}));
  s.receive(option(42, text("whatever")));
  s.receive(option(9, {}));   // NBD_OPT_LIST_META_CONTEXT
  s.receive(option(10, {}));  // NBD_OPT_SET_META_CONTEXT
  Reader r(drain(s));
  for (uint32_t opt : {kOptStartTls, 42u, 9u, 10u}) {
    const OptionReply rep = read_option_reply(r);
    EXPECT_EQ(rep.option, opt);
    EXPECT_EQ(rep.type, kRepErrUnsup);
  }
  EXPECT_EQ(r.left(), 0u);
  EXPECT_FALSE(s.closed());
}

TEST(NbdHandshake, StructuredRepliesAreAcknowledgedAndAddDontFragment) {
  NbdSession s = started(one_export());
  s.receive(option(kOptStructuredReply, text("x")));
  s.receive(option(kOptStructuredReply, {}));
  s.receive(option(kOptGo, go_data("", {})));
  Reader r(drain(s));
  EXPECT_EQ(read_option_reply(r).type, kRepErrInvalid);  // takes no data
  const OptionReply ack = read_option_reply(r);
  EXPECT_EQ(ack.option, kOptStructuredReply);
  EXPECT_EQ(ack.type, kRepAck);
  Reader info(read_option_reply(r).data);
  info.u16();
  info.u64();
  EXPECT_NE(info.u16() & kTxSendDf, 0);
}

TEST(NbdHandshake, DontFragmentIsNotAdvertisedWithoutStructuredReplies) {
  NbdSession s = started(one_export());
  s.receive(option(kOptGo, go_data("", {})));
  Reader r(drain(s));
  Reader info(read_option_reply(r).data);
  info.u16();
  info.u64();
  EXPECT_EQ(info.u16() & kTxSendDf, 0);
}

TEST(NbdHandshake, ListWithDataIsInvalid) {
  NbdSession s = started(one_export());
  s.receive(option(kOptList, text("x")));
  Reader r(drain(s));
  EXPECT_EQ(read_option_reply(r).type, kRepErrInvalid);
}

TEST(NbdHandshake, MalformedGoDataIsInvalid) {
  NbdSession s = started(one_export());
  // Too short.
  s.receive(option(kOptGo, text("abc")));
  // Name length beyond the data.
  Bytes long_name;
  be(long_name, 100, 4);
  be(long_name, 0, 2);
  s.receive(option(kOptGo, long_name));
  // Request count that does not match the length.
  Bytes bad_count = go_data("", {});
  bad_count[5] = std::byte{3};
  s.receive(option(kOptGo, bad_count));
  // NUL inside the name.
  Bytes nul = go_data("a", {});
  nul[4] = std::byte{0};
  s.receive(option(kOptGo, nul));
  Reader r(drain(s));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(read_option_reply(r).type, kRepErrInvalid) << i;
  EXPECT_EQ(s.phase(), NbdSession::Phase::kHandshake);
}

TEST(NbdHandshake, AbortIsAcknowledgedThenCloses) {
  NbdSession s = started(one_export());
  s.receive(option(kOptAbort, {}));
  Reader r(drain(s));
  const OptionReply rep = read_option_reply(r);
  EXPECT_EQ(rep.option, kOptAbort);
  EXPECT_EQ(rep.type, kRepAck);
  EXPECT_TRUE(s.closed());
}

TEST(NbdHandshake, UnknownClientFlagsClose) {
  NbdSession s(one_export(), "test-peer");
  s.take_output();
  s.receive(client_flags(0x4));
  EXPECT_TRUE(s.closed());
  EXPECT_NE(s.close_reason().find("client flags"), std::string::npos);
}

TEST(NbdHandshake, BadOptionMagicCloses) {
  NbdSession s = started(one_export());
  Bytes bad = option(kOptList, {});
  bad[0] = std::byte{0x12};
  s.receive(bad);
  EXPECT_TRUE(s.closed());
  EXPECT_NE(s.close_reason().find("bad option magic"), std::string::npos);
  EXPECT_FALSE(s.wants_input());
}

TEST(NbdHandshake, OversizedOptionClosesBeforeBufferingItsData) {
  NbdSession s = started(one_export());
  Bytes header;
  be(header, 0x49484156454f5054ULL, 8);
  be(header, kOptGo, 4);
  be(header, 0xfffffff0u, 4);
  s.receive(header);
  EXPECT_TRUE(s.closed());
  EXPECT_NE(s.close_reason().find("limit"), std::string::npos);
}

TEST(NbdHandshake, TooManyOptionsClose) {
  NbdSession s = started(one_export());
  for (uint32_t i = 0; i <= kMaxOptionsPerHandshake && !s.closed(); ++i) {
    s.receive(option(42, {}));
    s.take_output();
  }
  EXPECT_TRUE(s.closed());
}

TEST(NbdHandshake, ByteAtATimeGivesTheSameOutput) {
  const Bytes input = concat({client_flags(1), option(kOptList, {}), option(99, {}),
                              option(kOptGo, go_data("", {kInfoBlockSize}))});
  NbdSession whole(one_export(), "a");
  whole.receive(input);
  NbdSession bytewise(one_export(), "b");
  for (std::byte b : input) bytewise.receive(std::span<const std::byte>(&b, 1));
  EXPECT_EQ(drain(whole), drain(bytewise));
  EXPECT_EQ(bytewise.phase(), NbdSession::Phase::kTransmission);
}

TEST(NbdHandshake, PeerClosingDuringHandshakeCloses) {
  NbdSession s = started(one_export());
  s.peer_closed();
  EXPECT_TRUE(s.closed());
  EXPECT_NE(s.close_reason().find("handshake"), std::string::npos);
}

}  // namespace
}  // namespace tandem::nbd
