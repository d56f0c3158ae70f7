// NbdSession transmission phase: every request type, completions in any
// order, bounds and flag checks, read-only refusal, malformed input and the
// in-flight budget.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nbd/protocol.h"
#include "nbd/session.h"
#include "wire_helpers.h"

namespace tandem::nbd {
namespace {

using namespace test;

constexpr uint64_t kSize = 1 << 20;

class NbdTransmission : public ::testing::Test {
 protected:
  void open(ExportInfo e = {}, SessionLimits limits = {}, bool structured = false) {
    if (e.size == 0) e.size = kSize;
    session_ = std::make_unique<NbdSession>(std::vector<ExportInfo>{e}, "test-peer", limits);
    session_->receive(client_flags(3));
    if (structured) session_->receive(option(kOptStructuredReply, {}));
    session_->receive(option(kOptExportName, {}));
    ASSERT_EQ(session_->phase(), NbdSession::Phase::kTransmission);
    session_->take_output();
  }
  NbdSession& s() { return *session_; }
  Bytes out() { return concat(s().take_output()); }

  // Sends a request that must be answered at once (no block request) and
  // returns its error.
  uint32_t immediate_error(const Bytes& wire, uint64_t cookie) {
    s().receive(wire);
    EXPECT_FALSE(s().next_request().has_value());
    Reader r(out());
    const SimpleReply rep = read_simple_reply(r);
    EXPECT_EQ(rep.cookie, cookie);
    EXPECT_EQ(r.left(), 0u);
    return rep.error;
  }

  std::unique_ptr<NbdSession> session_;
};

// Read from the socket through prepare/commit, a write's payload lands in
// the block request's own buffer (page-aligned for O_DIRECT): once the
// header is in, prepare() offers exactly what the payload lacks, and the
// request carries that very buffer. A request after it parses as usual.
TEST_F(NbdTransmission, AWritePayloadIsReadInPlaceIntoTheRequestBuffer) {
  open();
  const Bytes data = pattern(64 * 1024, 5);
  const Bytes head = request(0, kCmdWrite, 77, 8192, static_cast<uint32_t>(data.size()));
  const Bytes wire = concat({head, Bytes(data.begin(), data.begin() + 100)});
  std::span<std::byte> space = s().prepare(wire.size());
  ASSERT_GE(space.size(), wire.size());
  std::memcpy(space.data(), wire.data(), wire.size());
  s().commit(wire.size());
  EXPECT_FALSE(s().next_request().has_value());

  space = s().prepare(1 << 20);
  ASSERT_EQ(space.size(), data.size() - 100);
  std::memcpy(space.data(), data.data() + 100, space.size());
  const std::byte* written_at = space.data();
  s().commit(space.size());

  auto req = s().next_request();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->op, BlockOp::kWrite);
  EXPECT_EQ(req->offset, 8192u);
  EXPECT_EQ(plain(req->data), data);
  EXPECT_EQ(req->data.data() + 100, written_at);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(req->data.data()) % kIoBufferAlignment, 0U);

  s().receive(request(0, kCmdFlush, 78, 0, 0));
  auto flush = s().next_request();
  ASSERT_TRUE(flush);
  EXPECT_EQ(flush->op, BlockOp::kFlush);
  EXPECT_EQ(flush->cookie, 78u);
}

TEST_F(NbdTransmission, ReadBecomesABlockRequestAndTheReplyCarriesTheData) {
  open();
  s().receive(request(0, kCmdRead, 0xabcdef0102030405ULL, 4096, 512));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->op, BlockOp::kRead);
  EXPECT_EQ(req->offset, 4096u);
  EXPECT_EQ(req->length, 512u);
  EXPECT_FALSE(req->fua);
  EXPECT_EQ(s().inflight(), 1u);
  EXPECT_TRUE(out().empty());  // nothing until the volume completes

  req->data = io(pattern(512, 7));
  s().complete(std::move(*req), 0);
  Reader r(out());
  const SimpleReply rep = read_simple_reply(r);
  EXPECT_EQ(rep.error, 0u);
  EXPECT_EQ(rep.cookie, 0xabcdef0102030405ULL);
  EXPECT_EQ(r.take(512), pattern(512, 7));
  EXPECT_EQ(r.left(), 0u);
  EXPECT_EQ(s().inflight(), 0u);
}

TEST_F(NbdTransmission, WriteCarriesThePayloadEvenWhenItArrivesInPieces) {
  open();
  const Bytes data = pattern(3000, 1);
  const Bytes wire = concat({request(kCmdFlagFua, kCmdWrite, 9, 100, 3000), data});
  s().receive(std::span<const std::byte>(wire).subspan(0, 10));
  s().receive(std::span<const std::byte>(wire).subspan(10, 1000));
  EXPECT_FALSE(s().next_request());
  s().receive(std::span<const std::byte>(wire).subspan(1010));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->op, BlockOp::kWrite);
  EXPECT_EQ(req->offset, 100u);
  EXPECT_TRUE(req->fua);
  EXPECT_EQ(plain(req->data), data);
  s().complete(std::move(*req), 0);
  Reader r(out());
  const SimpleReply rep = read_simple_reply(r);
  EXPECT_EQ(rep.error, 0u);
  EXPECT_EQ(rep.cookie, 9u);
  EXPECT_EQ(r.left(), 0u);
}

TEST_F(NbdTransmission, FlushTrimAndWriteZeroesMapToTheirOperations) {
  open();
  s().receive(concat({request(0, kCmdFlush, 1, 0, 0), request(kCmdFlagFua, kCmdTrim, 2, 0, 8192),
                      request(kCmdFlagNoHole, kCmdWriteZeroes, 3, 8192, 4096),
                      request(0, kCmdWriteZeroes, 4, 0, 512)}));
  auto flush = s().next_request();
  auto trim = s().next_request();
  auto zero_no_hole = s().next_request();
  auto zero = s().next_request();
  ASSERT_TRUE(flush && trim && zero_no_hole && zero);
  EXPECT_EQ(flush->op, BlockOp::kFlush);
  EXPECT_EQ(trim->op, BlockOp::kTrim);
  EXPECT_TRUE(trim->fua);
  EXPECT_EQ(trim->length, 8192u);
  EXPECT_EQ(zero_no_hole->op, BlockOp::kWriteZeroes);
  EXPECT_TRUE(zero_no_hole->no_hole);
  EXPECT_EQ(zero_no_hole->offset, 8192u);
  EXPECT_FALSE(zero->no_hole);
  EXPECT_EQ(s().inflight(), 4u);
}

TEST_F(NbdTransmission, CompletionsInAnyOrderAnswerTheRightCookies) {
  open();
  s().receive(concat({request(0, kCmdRead, 100, 0, 16), request(0, kCmdRead, 200, 16, 16),
                      request(0, kCmdRead, 300, 32, 16)}));
  auto a = s().next_request();
  auto b = s().next_request();
  auto c = s().next_request();
  ASSERT_TRUE(a && b && c);
  c->data = io(pattern(16, 3));
  s().complete(std::move(*c), 0);
  a->data = io(pattern(16, 1));
  s().complete(std::move(*a), 0);
  s().complete(std::move(*b), EIO);
  Reader r(out());
  SimpleReply rep = read_simple_reply(r);
  EXPECT_EQ(rep.cookie, 300u);
  EXPECT_EQ(r.take(16), pattern(16, 3));
  rep = read_simple_reply(r);
  EXPECT_EQ(rep.cookie, 100u);
  EXPECT_EQ(r.take(16), pattern(16, 1));
  rep = read_simple_reply(r);
  EXPECT_EQ(rep.cookie, 200u);
  EXPECT_EQ(rep.error, kErrIo);
  EXPECT_EQ(r.left(), 0u);  // a failed read sends no data
}

TEST_F(NbdTransmission, DuplicateCookiesInFlightAreKeptApart) {
  open();
  s().receive(concat({request(0, kCmdRead, 5, 0, 4), request(0, kCmdRead, 5, 4, 4)}));
  auto a = s().next_request();
  auto b = s().next_request();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->id, b->id);
  b->data = io(pattern(4, 2));
  s().complete(std::move(*b), 0);
  a->data = io(pattern(4, 1));
  s().complete(std::move(*a), 0);
  Reader r(out());
  read_simple_reply(r);
  EXPECT_EQ(r.take(4), pattern(4, 2));
  read_simple_reply(r);
  EXPECT_EQ(r.take(4), pattern(4, 1));
}

TEST_F(NbdTransmission, VolumeErrnosMapToProtocolErrors) {
  open();
  const std::vector<std::pair<int, uint32_t>> cases = {
      {EROFS, kErrPerm}, {EDQUOT, kErrNoSpc}, {EFBIG, kErrNoSpc},       {ENOSPC, kErrNoSpc},
      {EBADF, kErrIo},   {EIO, kErrIo},       {ESHUTDOWN, kErrShutdown}};
  for (const auto& [err, wire] : cases) {
    s().receive(concat({request(0, kCmdWrite, 2, 0, 1), Bytes(1)}));
    auto req = s().next_request();
    ASSERT_TRUE(req);
    s().complete(std::move(*req), err);
    Reader r(out());
    EXPECT_EQ(read_simple_reply(r).error, wire) << err;
  }
}

TEST_F(NbdTransmission, ReadBeyondTheEndIsEinvalAndWriteIsEnospc) {
  open();
  EXPECT_EQ(immediate_error(request(0, kCmdRead, 1, kSize - 512, 1024), 1), kErrInval);
  EXPECT_EQ(immediate_error(request(0, kCmdRead, 2, kSize + 1, 0), 2), kErrInval);
  EXPECT_EQ(immediate_error(request(0, kCmdTrim, 3, kSize, 1), 3), kErrInval);
  EXPECT_EQ(immediate_error(request(0, kCmdWriteZeroes, 4, kSize - 1, 2), 4), kErrNoSpc);
  // The refused write's payload is consumed: the next request parses.
  EXPECT_EQ(immediate_error(concat({request(0, kCmdWrite, 5, kSize - 1, 8), pattern(8, 0)}), 5),
            kErrNoSpc);
  // An offset near 2^64 must not wrap around the bounds check.
  EXPECT_EQ(immediate_error(request(0, kCmdRead, 6, ~0ULL - 10, 4096), 6), kErrInval);
  s().receive(request(0, kCmdRead, 7, kSize - 512, 512));
  EXPECT_TRUE(s().next_request());
}

TEST_F(NbdTransmission, ReadsLongerThanTheMaximumBlockSizeAreEinvalButZeroingIsNot) {
  ExportInfo e;
  e.size = 1ULL << 33;
  open(e);
  EXPECT_EQ(immediate_error(request(0, kCmdRead, 1, 0, (32u << 20) + 1), 1), kErrInval);
  // Trim and write-zeroes have no payload and no maximum.
  s().receive(request(0, kCmdTrim, 3, 0, 0xfffff000u));
  EXPECT_TRUE(s().next_request());
  s().receive(request(0, kCmdWriteZeroes, 4, 0, 0xfffff000u));
  EXPECT_TRUE(s().next_request());
}

TEST_F(NbdTransmission, WriteLongerThan32MiBClosesBeforeBufferingIt) {
  ExportInfo e;
  e.size = 1ULL << 30;
  open(e);
  s().receive(request(0, kCmdWrite, 1, 0, (32u << 20) + 1));
  EXPECT_TRUE(s().closed());
  EXPECT_NE(s().close_reason().find("exceeds the limit"), std::string::npos);
  EXPECT_TRUE(out().empty());
}

TEST_F(NbdTransmission, ReadOnlyExportRefusesWritesWithEpermAndStillReads) {
  ExportInfo e;
  e.read_only = true;
  open(e);
  EXPECT_EQ(immediate_error(concat({request(0, kCmdWrite, 1, 0, 512), pattern(512, 0)}), 1),
            kErrPerm);
  EXPECT_EQ(immediate_error(request(0, kCmdTrim, 2, 0, 512), 2), kErrPerm);
  EXPECT_EQ(immediate_error(request(0, kCmdWriteZeroes, 3, 0, 512), 3), kErrPerm);
  s().receive(request(0, kCmdRead, 4, 0, 512));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->op, BlockOp::kRead);
  s().receive(request(0, kCmdFlush, 5, 0, 0));
  EXPECT_TRUE(s().next_request());
}

TEST_F(NbdTransmission, UnknownCommandsAndFlagsAreEinval) {
  open();
  EXPECT_EQ(immediate_error(request(0, 5, 1, 0, 512), 1), kErrInval);  // NBD_CMD_CACHE
  EXPECT_EQ(immediate_error(request(0, 7, 2, 0, 512), 2), kErrInval);  // NBD_CMD_BLOCK_STATUS
  EXPECT_EQ(immediate_error(request(0, 999, 3, 0, 0), 3), kErrInval);  // unknown
  EXPECT_EQ(immediate_error(request(kCmdFlagNoHole, kCmdTrim, 5, 0, 512), 5), kErrInval);
  EXPECT_EQ(immediate_error(request(1u << 4, kCmdWriteZeroes, 6, 0, 512), 6), kErrInval);
  EXPECT_EQ(immediate_error(request(0, kCmdFlush, 7, 4096, 0), 7), kErrInval);
  EXPECT_EQ(
      immediate_error(concat({request(kCmdFlagNoHole, kCmdWrite, 8, 0, 4), pattern(4, 0)}), 8),
      kErrInval);
  EXPECT_FALSE(s().closed());
}

TEST_F(NbdTransmission, UnalignedRequestsAreEinvalWhenTheMinimumBlockIsLarger) {
  ExportInfo e;
  e.limits.minimum = 512;
  open(e);
  EXPECT_EQ(immediate_error(request(0, kCmdRead, 1, 100, 512), 1), kErrInval);
  EXPECT_EQ(immediate_error(request(0, kCmdTrim, 2, 0, 100), 2), kErrInval);
  s().receive(request(0, kCmdRead, 3, 512, 1024));
  EXPECT_TRUE(s().next_request());
}

TEST_F(NbdTransmission, ZeroLengthRequestsSucceedWithoutTouchingTheVolume) {
  open();
  EXPECT_EQ(immediate_error(request(0, kCmdRead, 1, 0, 0), 1), 0u);
  EXPECT_EQ(immediate_error(request(0, kCmdWrite, 2, 0, 0), 2), 0u);
  EXPECT_EQ(immediate_error(request(0, kCmdTrim, 3, kSize, 0), 3), 0u);
}

TEST_F(NbdTransmission, BadRequestMagicClosesAndDropsQueuedReplies) {
  open();
  s().receive(request(0, kCmdRead, 1, 0, 0));  // a reply is queued
  Bytes bad = request(0, kCmdRead, 2, 0, 512);
  bad[3] = std::byte{0};
  s().receive(bad);
  EXPECT_TRUE(s().closed());
  EXPECT_NE(s().close_reason().find("bad request magic"), std::string::npos);
  EXPECT_TRUE(out().empty());
}

TEST_F(NbdTransmission, DisconnectWaitsForRequestsInFlight) {
  open();
  s().receive(concat({request(0, kCmdWrite, 1, 0, 4), pattern(4, 0), request(0, kCmdDisc, 2, 0, 0),
                      request(0, kCmdRead, 3, 0, 4)}));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  EXPECT_FALSE(s().next_request());  // nothing after NBD_CMD_DISC is parsed
  EXPECT_EQ(s().phase(), NbdSession::Phase::kDraining);
  EXPECT_FALSE(s().wants_input());
  s().complete(std::move(*req), 0);
  Reader r(out());
  EXPECT_EQ(read_simple_reply(r).cookie, 1u);
  EXPECT_TRUE(s().closed());
  EXPECT_NE(s().close_reason().find("NBD_CMD_DISC"), std::string::npos);
}

TEST_F(NbdTransmission, InflightBudgetPausesParsingUntilACompletion) {
  SessionLimits limits;
  limits.max_inflight_requests = 2;
  open({}, limits);
  s().receive(concat({request(0, kCmdRead, 1, 0, 8), request(0, kCmdRead, 2, 0, 8),
                      request(0, kCmdRead, 3, 0, 8)}));
  auto a = s().next_request();
  auto b = s().next_request();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(s().next_request());
  EXPECT_FALSE(s().wants_input());
  a->data = io(pattern(8, 0));
  s().complete(std::move(*a), 0);
  EXPECT_TRUE(s().next_request());  // the third was parsed from the buffer
}

TEST_F(NbdTransmission, InflightByteBudgetCountsReadsAndWrites) {
  SessionLimits limits;
  limits.max_inflight_bytes = 4096;
  open({}, limits);
  s().receive(concat({request(0, kCmdRead, 1, 0, 4096), request(0, kCmdFlush, 2, 0, 0)}));
  ASSERT_TRUE(s().next_request());
  EXPECT_FALSE(s().next_request());
  EXPECT_FALSE(s().wants_input());
}

TEST_F(NbdTransmission, ShortReadFromTheVolumeIsReportedAsEio) {
  open();
  s().receive(request(0, kCmdRead, 1, 0, 64));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  req->data = io(pattern(10, 0));
  s().complete(std::move(*req), 0);
  Reader r(out());
  EXPECT_EQ(read_simple_reply(r).error, kErrIo);
  EXPECT_EQ(r.left(), 0u);
}

TEST_F(NbdTransmission, CompletionForAnUnknownIdIsIgnored) {
  open();
  BlockRequest bogus;
  bogus.id = 12345;
  s().complete(std::move(bogus), 0);
  EXPECT_TRUE(out().empty());
  EXPECT_FALSE(s().closed());
}

TEST_F(NbdTransmission, CompletionsAfterShutdownOnlySettleTheCount) {
  open();
  s().receive(request(0, kCmdRead, 1, 0, 8));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  s().shutdown("test stops");
  EXPECT_EQ(s().inflight(), 1u);
  s().complete(std::move(*req), 0);
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_TRUE(out().empty());
}

TEST_F(NbdTransmission, PeerClosingInsideAWritePayloadSaysSo) {
  open();
  s().receive(concat({request(0, kCmdWrite, 1, 0, 100), pattern(10, 0)}));
  s().peer_closed();
  EXPECT_TRUE(s().closed());
  EXPECT_NE(s().close_reason().find("middle of a write payload"), std::string::npos);
}

// With structured replies: reads answer with one data chunk, errors with an
// error chunk carrying a message, other successes with simple replies.
TEST_F(NbdTransmission, StructuredReadIsOneDataChunkWithItsOffset) {
  open({}, {}, true);
  s().receive(request(kCmdFlagDf, kCmdRead, 77, 8192, 100));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  req->data = io(pattern(100, 3));
  s().complete(std::move(*req), 0);
  Reader r(out());
  const Chunk c = read_chunk(r);
  EXPECT_EQ(c.flags, kReplyFlagDone);
  EXPECT_EQ(c.type, kReplyTypeOffsetData);
  EXPECT_EQ(c.cookie, 77u);
  ASSERT_EQ(c.payload.size(), 108u);
  Reader p(c.payload);
  EXPECT_EQ(p.u64(), 8192u);
  EXPECT_EQ(p.take(100), pattern(100, 3));
  EXPECT_EQ(r.left(), 0u);
}

TEST_F(NbdTransmission, StructuredErrorsCarryAMessage) {
  ExportInfo e;
  e.name = "r0";
  e.read_only = true;
  open(e, {}, true);
  s().receive(concat({request(0, kCmdWrite, 1, 0, 4), pattern(4, 0)}));
  Reader r(out());
  const Chunk c = read_chunk(r);
  EXPECT_EQ(c.type, kReplyTypeError);
  EXPECT_EQ(c.flags, kReplyFlagDone);
  EXPECT_EQ(c.cookie, 1u);
  Reader p(c.payload);
  EXPECT_EQ(p.u32(), kErrPerm);
  const uint16_t length = p.u16();
  EXPECT_EQ(p.take(length), text("export 'r0' is read-only"));
  EXPECT_EQ(p.left(), 0u);

  s().receive(request(0, kCmdRead, 2, 0, 16));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  s().complete(std::move(*req), EIO);
  Reader r2(out());
  const Chunk failed = read_chunk(r2);
  EXPECT_EQ(failed.type, kReplyTypeError);
  EXPECT_EQ(failed.cookie, 2u);
  Reader p2(failed.payload);
  EXPECT_EQ(p2.u32(), kErrIo);
  EXPECT_GT(p2.u16(), 0u);
}

TEST_F(NbdTransmission, StructuredZeroLengthReadIsANoneChunkAndFlushIsASimpleReply) {
  open({}, {}, true);
  s().receive(request(0, kCmdRead, 5, 0, 0));
  Reader r(out());
  const Chunk c = read_chunk(r);
  EXPECT_EQ(c.type, kReplyTypeNone);
  EXPECT_EQ(c.flags, kReplyFlagDone);
  EXPECT_TRUE(c.payload.empty());
  s().receive(request(0, kCmdFlush, 6, 0, 0));
  auto req = s().next_request();
  ASSERT_TRUE(req);
  s().complete(std::move(*req), 0);
  Reader r2(out());
  const SimpleReply rep = read_simple_reply(r2);
  EXPECT_EQ(rep.cookie, 6u);
  EXPECT_EQ(rep.error, 0u);
}

TEST_F(NbdTransmission, DontFragmentIsRefusedWithoutStructuredReplies) {
  open();
  EXPECT_EQ(immediate_error(request(kCmdFlagDf, kCmdRead, 1, 0, 512), 1), kErrInval);
}

}  // namespace
}  // namespace tandem::nbd
