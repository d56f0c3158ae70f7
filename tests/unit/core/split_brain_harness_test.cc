// Split brain end to end on two cores: both nodes write while apart, then
// reconnect under each after-sb / rr-conflict policy value. Each case
// asserts whose data survives, byte for byte, on both disks; that the sync
// was bitmap-based (only the changed blocks moved); and which handlers ran.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 256 * 1024;
constexpr uint32_t kBlock = 4096;

enum class Survivor { kNone, kA, kB };

struct Case {
  const char* name;
  std::function<void(ReplicatorConfig&)> policy;
  bool a_primary;  // roles when the nodes meet again
  bool b_primary;
  int a_writes;  // 4 KiB writes while apart
  int b_writes;
  Survivor survivor;
  // Handlers each node must have run, besides split-brain (which always runs).
  std::vector<Handler> a_handlers = {};
  std::vector<Handler> b_handlers = {};
  // Survivor::kNone: what the refusal says, and whether mail02 (which did
  // not refuse) keeps trying to connect.
  const char* refusal = "split brain";
  bool b_reconnects = false;
};

bool ran(const SimNode& n, Handler h) {
  for (const RunHandler& r : n.handlers) {
    if (r.handler == h) return true;
  }
  return false;
}

std::string events(const SimNode& n) {
  std::string s;
  for (const auto& e : n.events) s += "\n  " + e;
  for (const auto& e : n.state_log) s += "\n  state: " + e;
  for (const auto& e : n.closes) s += "\n  close: " + e.reason;
  return s;
}

// A was primary when the link broke; B was promoted while apart (the
// younger primary).
void run_case(const Case& c) {
  SCOPED_TRACE(c.name);
  ReplicatorConfig ca = make_config("mail01", 1, "mail02", WireProtocol::kC, true);
  ReplicatorConfig cb = make_config("mail02", 2, "mail01", WireProtocol::kC, true);
  c.policy(ca);
  c.policy(cb);
  TwoNodeHarness h(ca, cb, kDisk);
  ASSERT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  ASSERT_TRUE(h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  h.connect_both();
  ASSERT_TRUE(h.a().core().promote().ok());
  h.a().write_pattern(64 * 1024, 8192, 1);  // replicated
  h.run_until_quiet();
  ASSERT_EQ(h.a().disk, h.b().disk);

  h.cut_link();
  for (int i = 0; i < c.a_writes; ++i) {
    h.a().write_pattern(static_cast<uint64_t>(i) * 2 * kBlock, kBlock,
                        static_cast<uint8_t>(10 + i));
  }
  ASSERT_TRUE(h.b().core().promote().ok());
  for (int i = 0; i < c.b_writes; ++i) {
    h.b().write_pattern(static_cast<uint64_t>(i) * 2 * kBlock + kBlock, kBlock,
                        static_cast<uint8_t>(50 + i));
  }
  h.run_until_quiet();
  if (!c.a_primary) {
    ASSERT_TRUE(h.a().core().demote().ok());
  }
  if (!c.b_primary) {
    ASSERT_TRUE(h.b().core().demote().ok());
  }
  h.drain();
  const std::vector<std::byte> a_before = h.a().disk;
  const std::vector<std::byte> b_before = h.b().disk;
  ASSERT_NE(a_before, b_before);

  h.establish();
  h.run_until_quiet();
  const Status a = h.a().status();
  const Status b = h.b().status();
  EXPECT_TRUE(ran(h.a(), Handler::kSplitBrain)) << events(h.a());
  EXPECT_TRUE(ran(h.b(), Handler::kSplitBrain)) << events(h.b());
  for (Handler x : c.a_handlers) {
    EXPECT_TRUE(ran(h.a(), x)) << to_string(x) << events(h.a());
  }
  for (Handler x : c.b_handlers) {
    EXPECT_TRUE(ran(h.b(), x)) << to_string(x) << events(h.b());
  }
  if (c.survivor == Survivor::kNone) {
    EXPECT_EQ(a.conn, ConnState::kStandAlone) << events(h.a());
    EXPECT_EQ(b.conn, c.b_reconnects ? ConnState::kConnecting : ConnState::kStandAlone)
        << events(h.b());
    EXPECT_EQ(h.a().disk, a_before);
    EXPECT_EQ(h.b().disk, b_before);
    EXPECT_NE(h.first_close_reason().find(c.refusal), std::string::npos) << h.first_close_reason();
    return;
  }
  ASSERT_EQ(a.repl, ReplState::kEstablished) << events(h.a()) << events(h.b());
  ASSERT_EQ(b.repl, ReplState::kEstablished);
  EXPECT_EQ(a.disk, DiskState::kUpToDate);
  EXPECT_EQ(b.disk, DiskState::kUpToDate);
  const std::vector<std::byte>& kept = c.survivor == Survivor::kA ? a_before : b_before;
  EXPECT_EQ(h.a().disk, kept) << "mail01's disk is not the survivor's data";
  EXPECT_EQ(h.b().disk, kept) << "mail02's disk is not the survivor's data";
  EXPECT_TRUE(h.a().bitmap.empty());
  EXPECT_TRUE(h.b().bitmap.empty());
  // Bitmap-based: only the blocks either node changed moved.
  const Status& source = c.survivor == Survivor::kA ? a : b;
  EXPECT_EQ(source.sync_bytes_sent, static_cast<uint64_t>(c.a_writes + c.b_writes) * kBlock);
  EXPECT_EQ(h.a().metadata.current_uuid | 1, h.b().metadata.current_uuid | 1);
}

auto p0(AfterSb0Pri v, std::string node = "") {
  return [v, node](ReplicatorConfig& c) {
    c.after_sb_0pri = v;
    c.discard_node = node;
  };
}
auto p1(AfterSb1Pri v, AfterSb0Pri zero = AfterSb0Pri::kDiscardLeastChanges,
        RrConflict rr = RrConflict::kDisconnect) {
  return [v, zero, rr](ReplicatorConfig& c) {
    c.after_sb_0pri = zero;
    c.after_sb_1pri = v;
    c.rr_conflict = rr;
  };
}
auto p2(AfterSb2Pri v, AfterSb0Pri zero = AfterSb0Pri::kDiscardLeastChanges,
        RrConflict rr = RrConflict::kDisconnect) {
  return [v, zero, rr](ReplicatorConfig& c) {
    c.after_sb_0pri = zero;
    c.after_sb_2pri = v;
    c.rr_conflict = rr;
  };
}

using A0 = AfterSb0Pri;
using A1 = AfterSb1Pri;
using A2 = AfterSb2Pri;

TEST(SplitBrainHarness, AfterSb0Pri) {
  const Case cases[] = {
      {"disconnect", p0(A0::kDisconnect), false, false, 3, 2, Survivor::kNone},
      {"discard-younger-primary", p0(A0::kDiscardYoungerPrimary), false, false, 1, 3, Survivor::kA},
      {"discard-older-primary", p0(A0::kDiscardOlderPrimary), false, false, 3, 1, Survivor::kB},
      {"discard-zero-changes", p0(A0::kDiscardZeroChanges), false, false, 3, 0, Survivor::kA},
      {"discard-zero-changes, both changed", p0(A0::kDiscardZeroChanges), false, false, 3, 2,
       Survivor::kNone},
      {"discard-least-changes", p0(A0::kDiscardLeastChanges), false, false, 2, 4, Survivor::kB},
      {"discard-node-mail01", p0(A0::kDiscardNode, "mail01"), false, false, 4, 1, Survivor::kB},
      {"discard-node-mail02", p0(A0::kDiscardNode, "mail02"), false, false, 1, 4, Survivor::kA},
  };
  for (const Case& c : cases) run_case(c);
}

TEST(SplitBrainHarness, AfterSb1Pri) {
  const Case cases[] = {
      {"disconnect", p1(A1::kDisconnect), true, false, 3, 2, Survivor::kNone},
      {"consensus: the secondary loses", p1(A1::kConsensus), true, false, 3, 1, Survivor::kA},
      {"consensus: 0pri would discard the primary", p1(A1::kConsensus), true, false, 1, 3,
       Survivor::kNone},
      {"violently-as0p: the primary survives", p1(A1::kViolentlyAs0p), true, false, 3, 1,
       Survivor::kA},
      {"violently-as0p with rr-conflict violently: the primary is overwritten",
       p1(A1::kViolentlyAs0p, A0::kDiscardLeastChanges, RrConflict::kViolently), true, false, 1, 3,
       Survivor::kB},
      {"discard-secondary", p1(A1::kDiscardSecondary), false, true, 4, 1, Survivor::kB},
      {"call-pri-lost-after-sb: the primary loses and steps down", p1(A1::kCallPriLostAfterSb),
       true, false, 1, 3, Survivor::kB},
  };
  for (const Case& c : cases) run_case(c);
}

TEST(SplitBrainHarness, AfterSb2Pri) {
  const Case cases[] = {
      {"disconnect", p2(A2::kDisconnect), true, true, 3, 2, Survivor::kNone},
      {"violently-as0p with rr-conflict violently",
       p2(A2::kViolentlyAs0p, A0::kDiscardLeastChanges, RrConflict::kViolently), true, true, 3, 1,
       Survivor::kA},
      {"call-pri-lost-after-sb: the loser steps down", p2(A2::kCallPriLostAfterSb), true, true, 1,
       3, Survivor::kB},
  };
  for (const Case& c : cases) run_case(c);
}

// rr-conflict: the primary whose data loses refuses to be overwritten.
TEST(SplitBrainHarness, RrConflict) {
  Case disconnect{"violently-as0p, rr-conflict disconnect",
                  p1(A1::kViolentlyAs0p, A0::kDiscardLeastChanges, RrConflict::kDisconnect),
                  true,
                  false,
                  1,
                  3,
                  Survivor::kNone};
  disconnect.refusal = "rr-conflict disconnect";
  disconnect.b_reconnects = true;
  Case pri_lost = disconnect;
  pri_lost.name = "violently-as0p, rr-conflict call-pri-lost";
  pri_lost.policy = p1(A1::kViolentlyAs0p, A0::kDiscardLeastChanges, RrConflict::kCallPriLost);
  pri_lost.a_handlers = {Handler::kPriLost};
  pri_lost.refusal = "rr-conflict call-pri-lost";
  const Case cases[] = {disconnect, pri_lost};
  for (const Case& c : cases) run_case(c);
}

// rr-conflict retry-connect: the primary that would be overwritten drops
// the connection and both nodes keep connecting, the sync source too (it
// evaluates the decision its peer makes and does not start the sync), so
// that the generations stay as they were; every retry ends the same way
// until the primary is demoted, and then the next connection resyncs it.
TEST(SplitBrainHarness, RrConflictRetryConnect) {
  ReplicatorConfig ca = make_config("mail01", 1, "mail02", WireProtocol::kC, true);
  ReplicatorConfig cb = make_config("mail02", 2, "mail01", WireProtocol::kC, true);
  const auto policy = p1(A1::kViolentlyAs0p, A0::kDiscardLeastChanges, RrConflict::kRetryConnect);
  policy(ca);
  policy(cb);
  TwoNodeHarness h(ca, cb, kDisk);
  ASSERT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  ASSERT_TRUE(h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
  h.connect_both();
  ASSERT_TRUE(h.a().core().promote().ok());
  h.run_until_quiet();
  h.cut_link();
  h.a().write_pattern(0, kBlock, 10);  // a changes less: discard-least-changes picks a
  ASSERT_TRUE(h.b().core().promote().ok());
  for (int i = 0; i < 3; ++i) {
    h.b().write_pattern(static_cast<uint64_t>(i) * 2 * kBlock + kBlock, kBlock,
                        static_cast<uint8_t>(50 + i));
  }
  h.run_until_quiet();
  ASSERT_TRUE(h.b().core().demote().ok());
  h.drain();
  const std::vector<std::byte> a_before = h.a().disk;
  const std::vector<std::byte> b_before = h.b().disk;
  const Metadata b_md = h.b().metadata;

  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE(attempt);
    h.establish();
    h.run_until_quiet();
    EXPECT_EQ(h.a().status().conn, ConnState::kConnecting) << events(h.a());
    EXPECT_EQ(h.b().status().conn, ConnState::kConnecting) << events(h.b());
    EXPECT_EQ(h.a().status().role, Role::kPrimary);
    EXPECT_EQ(h.a().disk, a_before);
    EXPECT_EQ(h.b().disk, b_before);
    // The source did not start the sync: no new generation to confuse the
    // next handshake.
    EXPECT_EQ(h.b().metadata.current_uuid, b_md.current_uuid);
    EXPECT_EQ(h.b().metadata.bitmap_uuid, b_md.bitmap_uuid) << events(h.b());
    EXPECT_NE(h.first_close_reason().find("rr-conflict retry-connect"), std::string::npos)
        << h.first_close_reason();
  }
  EXPECT_TRUE(ran(h.a(), Handler::kSplitBrain)) << events(h.a());
  EXPECT_TRUE(ran(h.b(), Handler::kSplitBrain)) << events(h.b());

  ASSERT_TRUE(h.a().core().demote().ok());
  h.establish();
  h.run_until_quiet();
  ASSERT_EQ(h.a().status().repl, ReplState::kEstablished) << events(h.a()) << events(h.b());
  EXPECT_EQ(h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(h.a().disk, b_before);
  EXPECT_EQ(h.b().disk, b_before);
}

}  // namespace
}  // namespace tandem::core::testing
