// NbdSession::skip_handshake: the kernel nbd driver speaks only the
// transmission phase on the socket tandem hands it.
#include <gtest/gtest.h>

#include "nbd/session.h"
#include "nbd/wire_helpers.h"

namespace tandem::nbd {
namespace {

using test::Bytes;

ExportInfo export_of(uint64_t size) {
  ExportInfo e;
  e.name = "r0";
  e.size = size;
  e.limits.minimum = 512;
  return e;
}

size_t output_bytes(NbdSession& s) {
  size_t n = 0;
  for (const auto& chunk : s.take_output()) n += chunk.size();
  return n;
}

TEST(SessionWithoutHandshake, ServesRequestsAtOnceAndSendsNoGreeting) {
  NbdSession s({export_of(1 << 20)}, "kernel /dev/nbd0");
  s.skip_handshake(0);
  EXPECT_EQ(s.phase(), NbdSession::Phase::kTransmission);
  EXPECT_EQ(output_bytes(s), 0u);  // the greeting is gone
  ASSERT_TRUE(s.export_index().has_value());
  s.receive(test::request(0, 0 /*read*/, 0xabc, 4096, 1024));
  auto req = s.next_request();
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->op, BlockOp::kRead);
  EXPECT_EQ(req->offset, 4096u);
  EXPECT_EQ(req->length, 1024u);
  req->data.assign(1024, std::byte{7});
  s.complete(std::move(*req), 0);
  // A simple reply: magic, error, cookie, then the data.
  EXPECT_EQ(output_bytes(s), 16u + 1024u);
}

TEST(SessionWithoutHandshake, WritesFlushAndFuaPass) {
  NbdSession s({export_of(1 << 20)}, "kernel /dev/nbd0");
  s.skip_handshake(0);
  s.receive(test::concat({test::request(1 /*fua*/, 1 /*write*/, 1, 0, 512), test::pattern(512, 3),
                          test::request(0, 3 /*flush*/, 2, 0, 0)}));
  auto w = s.next_request();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->op, BlockOp::kWrite);
  EXPECT_TRUE(w->fua);
  EXPECT_EQ(test::plain(w->data), test::pattern(512, 3));
  auto f = s.next_request();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->op, BlockOp::kFlush);
}

TEST(SessionWithoutHandshake, OnlyBeforeAnyInputAndForAnExistingExport) {
  NbdSession late({export_of(4096)}, "client");
  late.receive(test::client_flags(1));
  late.skip_handshake(0);
  EXPECT_EQ(late.phase(), NbdSession::Phase::kHandshake);  // ignored mid-handshake
  NbdSession bad({export_of(4096)}, "kernel");
  bad.skip_handshake(3);
  EXPECT_TRUE(bad.closed());
}

}  // namespace
}  // namespace tandem::nbd
