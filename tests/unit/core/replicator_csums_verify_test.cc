// Checksum-based resync (csums-alg) and online verify (verify-alg): what
// travels, what is counted, correctness with concurrent writes, and the
// protocol errors of the digest frames.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "peer.pb.h"
#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSize = 1024 * 1024;
constexpr uint32_t kChunk = 64 * 1024;

ReplicatorConfig config(const std::string& self, uint32_t id, const std::string& peer,
                        bool two = false) {
  ReplicatorConfig c = make_config(self, id, peer, WireProtocol::kC, two);
  c.resync_chunk_bytes = kChunk;
  c.resync_max_in_flight = 4;
  return c;
}

void fill(std::vector<std::byte>& disk) {
  for (size_t i = 0; i < disk.size(); ++i) disk[i] = static_cast<std::byte>((i * 7919U) >> 5);
}

net::Frame frame_of(net::FrameType type, const google::protobuf::MessageLite& msg) {
  net::Frame f;
  const std::string bytes = msg.SerializeAsString();
  f.header.type = type;
  f.header.message_bytes = static_cast<uint32_t>(bytes.size());
  f.message.resize(bytes.size());
  std::memcpy(f.message.data(), bytes.data(), bytes.size());
  return f;
}

// ---------------------------------------------------------------- csums

// b holds a's data except in three chunks, but was never synced: a full
// sync with csums-alg moves only the three differing chunks.
struct CsumsSync {
  CsumsSync(DigestAlg alg, uint64_t seed = 1, bool two = false)
      : h(with_csums(config("mail01", 1, "mail02", two), alg),
          with_csums(config("mail02", 2, "mail01", two), alg), kSize, seed) {
    fill(h.a().disk);
    h.b().disk = h.a().disk;
    for (uint64_t off : {uint64_t{0}, 5 * uint64_t{kChunk} + 100, 15 * uint64_t{kChunk} + 4000}) {
      h.b().disk[off] ^= std::byte{0x5A};
    }
    EXPECT_TRUE(h.a().core().attach(DiskInfo{kSize, uptodate_metadata(3)}).ok());
    EXPECT_TRUE(h.b().core().attach(DiskInfo{kSize, fresh_metadata()}).ok());
    EXPECT_TRUE(h.a().core().promote().ok());
    h.connect_both();
  }
  static ReplicatorConfig with_csums(ReplicatorConfig c, DigestAlg alg) {
    c.csums_alg = alg;
    return c;
  }
  TwoNodeHarness h;
};

TEST(ReplicatorCsums, OnlyDifferingChunksAreSent) {
  for (DigestAlg alg :
       {DigestAlg::kCrc32c, DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha256}) {
    CsumsSync s(alg);
    s.h.run_until_quiet();
    const Status a = s.h.a().status();
    const Status b = s.h.b().status();
    EXPECT_EQ(b.disk, DiskState::kUpToDate) << to_string(alg);
    EXPECT_EQ(a.sync_bytes_sent, 3U * kChunk) << to_string(alg);
    EXPECT_EQ(b.sync_bytes_received, 3U * kChunk) << to_string(alg);
    EXPECT_EQ(a.csums_differ_bytes, 3U * kChunk) << to_string(alg);
    EXPECT_EQ(a.csums_equal_bytes, kSize - 3U * kChunk) << to_string(alg);
    EXPECT_EQ(b.csums_equal_bytes, kSize - 3U * kChunk) << to_string(alg);
    EXPECT_EQ(b.csums_differ_bytes, 3U * kChunk) << to_string(alg);
    EXPECT_EQ(a.sync_done_bytes, kSize);
    EXPECT_EQ(b.sync_done_bytes, kSize);
    EXPECT_TRUE(s.h.a().bitmap.empty() && s.h.b().bitmap.empty());
    EXPECT_TRUE(s.h.a().disk == s.h.b().disk) << to_string(alg);
  }
}

TEST(ReplicatorCsums, WithoutCsumsEverythingIsSent) {
  CsumsSync s(DigestAlg::kNone);
  s.h.run_until_quiet();
  EXPECT_EQ(s.h.a().status().sync_bytes_sent, kSize);
  EXPECT_EQ(s.h.a().status().csums_equal_bytes, 0U);
  EXPECT_TRUE(s.h.a().disk == s.h.b().disk);
}

TEST(ReplicatorCsums, WritesDuringACsumsSyncStayCorrect) {
  for (uint64_t seed = 1; seed <= 120; ++seed) {
    const bool two = seed % 2 == 0;
    CsumsSync s(DigestAlg::kCrc32c, seed, two);
    if (two) {
      ASSERT_TRUE(s.h.b().core().promote().ok());
      s.h.drain();
    }
    auto& rng = s.h.rng();
    for (int op = 0; op < 40; ++op) {
      const int node = two ? static_cast<int>(rng() % 2) : 0;
      s.h.node(node).write_pattern((rng() % (kSize / 512 - 16)) * 512,
                                   static_cast<uint32_t>((1 + rng() % 16) * 512),
                                   static_cast<uint8_t>(op + 1));
      for (uint64_t k = rng() % 10; k > 0; --k) s.h.step();
    }
    s.h.run_until_quiet();
    ASSERT_EQ(s.h.b().status().disk, DiskState::kUpToDate) << "seed " << seed;
    ASSERT_EQ(s.h.a().unfinished_requests() + s.h.b().unfinished_requests(), 0U);
    ASSERT_TRUE(s.h.a().disk == s.h.b().disk) << "replicas differ, seed " << seed;
  }
}

// ---------------------------------------------------------------- verify

struct VerifyPair {
  explicit VerifyPair(DigestAlg alg, uint64_t seed = 1, uint32_t rate_kib = 0)
      : h(with_verify(config("mail01", 1, "mail02"), alg, rate_kib),
          with_verify(config("mail02", 2, "mail01"), alg, rate_kib), kSize, seed) {
    fill(h.a().disk);
    h.b().disk = h.a().disk;
    EXPECT_TRUE(h.a().core().attach(DiskInfo{kSize, uptodate_metadata(9)}).ok());
    EXPECT_TRUE(h.b().core().attach(DiskInfo{kSize, uptodate_metadata(9)}).ok());
    EXPECT_TRUE(h.a().core().promote().ok());
    h.connect_both();
    h.run_until_quiet();
  }
  static ReplicatorConfig with_verify(ReplicatorConfig c, DigestAlg alg, uint32_t rate_kib) {
    c.verify_alg = alg;
    c.rate.resync_rate_kib = rate_kib;
    return c;
  }
  TwoNodeHarness h;
};

TEST(ReplicatorVerify, FindsAndMarksDifferingBlocksWithEveryAlgorithm) {
  for (DigestAlg alg :
       {DigestAlg::kCrc32c, DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha256}) {
    VerifyPair p(alg);
    // Silent corruption on b, in chunks 2 and 9.
    p.h.b().disk[2 * kChunk + 17] ^= std::byte{1};
    p.h.b().disk[9 * kChunk + kChunk - 1] ^= std::byte{0x80};
    ASSERT_TRUE(p.h.a().core().start_verify().ok()) << to_string(alg);
    EXPECT_TRUE(p.h.a().status().verify_running);
    p.h.run_until_quiet();
    for (int n = 0; n < 2; ++n) {
      const Status s = p.h.node(n).status();
      EXPECT_FALSE(s.verify_running) << to_string(alg) << " node " << n;
      EXPECT_EQ(s.verify_total_bytes, kSize) << to_string(alg) << " node " << n;
      EXPECT_EQ(s.verify_done_bytes, kSize) << to_string(alg) << " node " << n;
      EXPECT_EQ(s.verify_mismatch_bytes, 2U * kChunk) << to_string(alg) << " node " << n;
      EXPECT_EQ(s.out_of_sync_bytes, 2U * kChunk) << to_string(alg) << " node " << n;
      EXPECT_TRUE(p.h.node(n).bitmap.contains(2 * kChunk, kChunk));
      EXPECT_TRUE(p.h.node(n).bitmap.contains(9 * kChunk, kChunk));
    }
    // Verify only reports: nothing was copied.
    EXPECT_EQ(p.h.a().status().sync_bytes_sent, 0U);
    EXPECT_FALSE(p.h.a().disk == p.h.b().disk);
  }
}

size_t out_of_sync_handlers(const SimNode& n) {
  return static_cast<size_t>(
      std::count_if(n.handlers.begin(), n.handlers.end(),
                    [](const RunHandler& r) { return r.handler == Handler::kOutOfSync; }));
}

TEST(ReplicatorVerify, DifferencesStartTheOutOfSyncHandlerOnBothNodes) {
  VerifyPair p(DigestAlg::kCrc32c);
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(out_of_sync_handlers(p.h.a()) + out_of_sync_handlers(p.h.b()), 0U)
      << "a clean run starts no handler";
  p.h.b().disk[3 * kChunk] ^= std::byte{4};
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(out_of_sync_handlers(p.h.a()), 1U);
  EXPECT_EQ(out_of_sync_handlers(p.h.b()), 1U);
  // A run stopped early (broken link) starts none.
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  for (int i = 0; i < 5; ++i) p.h.step();
  p.h.cut_link();
  p.h.run_until_quiet();
  EXPECT_EQ(out_of_sync_handlers(p.h.a()), 1U);
  EXPECT_EQ(out_of_sync_handlers(p.h.b()), 1U);
}

// The sequence: verify marks the differing blocks, a disconnect and
// connect resyncs exactly those, and both replicas end identical.
TEST(ReplicatorVerify, ReconnectAfterVerifyResyncsTheDifferingBlocks) {
  VerifyPair p(DigestAlg::kSha1);
  p.h.b().disk[4 * kChunk + 1] ^= std::byte{2};
  p.h.b().disk[11 * kChunk + 2] ^= std::byte{8};
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  p.h.run_until_quiet();
  ASSERT_EQ(p.h.a().status().verify_mismatch_bytes, 2U * kChunk);
  ASSERT_TRUE(p.h.a().core().disconnect().ok());
  ASSERT_TRUE(p.h.b().core().disconnect().ok());
  p.h.drain();
  p.h.connect_both();
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.a().status().sync_bytes_sent, 2U * kChunk);
  EXPECT_EQ(p.h.a().status().repl, ReplState::kEstablished);
  EXPECT_EQ(p.h.b().status().disk, DiskState::kUpToDate);
  EXPECT_TRUE(p.h.a().bitmap.empty() && p.h.b().bitmap.empty());
  EXPECT_TRUE(p.h.a().disk == p.h.b().disk) << "the differing blocks were not resynced";
}

TEST(ReplicatorVerify, IdenticalReplicasVerifyCleanEvenWithConcurrentWrites) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    VerifyPair p(DigestAlg::kCrc32c, seed);
    // Either node walks the device while the primary writes.
    const int walker = static_cast<int>(seed % 2);
    ASSERT_TRUE(p.h.node(walker).core().start_verify().ok());
    auto& rng = p.h.rng();
    for (int op = 0; op < 30; ++op) {
      p.h.a().write_pattern((rng() % (kSize / 512 - 16)) * 512,
                            static_cast<uint32_t>((1 + rng() % 16) * 512),
                            static_cast<uint8_t>(op + 1));
      for (uint64_t k = rng() % 10; k > 0; --k) p.h.step();
    }
    p.h.run_until_quiet();
    ASSERT_FALSE(p.h.node(walker).status().verify_running) << "seed " << seed;
    ASSERT_EQ(p.h.node(walker).status().verify_done_bytes, kSize) << "seed " << seed;
    ASSERT_EQ(p.h.a().status().verify_mismatch_bytes, 0U) << "seed " << seed;
    ASSERT_EQ(p.h.b().status().verify_mismatch_bytes, 0U) << "seed " << seed;
    ASSERT_TRUE(p.h.a().disk == p.h.b().disk) << "seed " << seed;
  }
}

TEST(ReplicatorVerify, IsPacedByTheRateController) {
  VerifyPair p(DigestAlg::kSha1, 1, 1280);  // 128 KiB (two chunks) per tick
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  p.h.run_until_quiet();
  // The first tick runs when the verify starts.
  EXPECT_EQ(p.h.a().status().verify_done_bytes, 2 * kChunk);
  int ticks = 1;
  while (p.h.a().status().verify_running && ticks < 100) {
    p.h.a().timer_armed[static_cast<size_t>(TimerId::kResync)] = false;
    p.h.a().core().on_timer(TimerId::kResync);
    p.h.run_until_quiet();
    ++ticks;
    EXPECT_EQ(p.h.a().status().verify_done_bytes,
              std::min<uint64_t>(kSize, static_cast<uint64_t>(ticks) * 2 * kChunk));
  }
  EXPECT_EQ(ticks, 8);  // the starting tick and 7 more
}

TEST(ReplicatorVerify, StartIsRefusedWithAReason) {
  {
    VerifyPair p(DigestAlg::kNone);
    auto r = p.h.a().core().start_verify();
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("verify-alg"));
  }
  {
    VerifyPair p(DigestAlg::kSha256);
    ASSERT_TRUE(p.h.a().core().start_verify().ok());
    auto again = p.h.a().core().start_verify();
    ASSERT_FALSE(again.ok());
    EXPECT_THAT(again.error().message, HasSubstr("already in progress"));
    p.h.run_until_quiet();
    p.h.cut_link();
    auto r = p.h.a().core().start_verify();
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("not connected to peer mail02"));
  }
  {
    // b never synced: a resync runs.
    TwoNodeHarness h(VerifyPair::with_verify(config("mail01", 1, "mail02"), DigestAlg::kMd5, 0),
                     config("mail02", 2, "mail01"), kSize);
    ASSERT_TRUE(h.a().core().attach(DiskInfo{kSize, uptodate_metadata(3)}).ok());
    ASSERT_TRUE(h.b().core().attach(DiskInfo{kSize, fresh_metadata()}).ok());
    h.connect_both();
    auto r = h.a().core().start_verify();
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("resync is running"));
  }
}

TEST(ReplicatorVerify, ABrokenLinkEndsTheRunOnBothNodes) {
  VerifyPair p(DigestAlg::kCrc32c);
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  for (int i = 0; i < 15; ++i) p.h.step();
  EXPECT_TRUE(p.h.b().status().verify_running);
  p.h.cut_link();
  EXPECT_FALSE(p.h.a().status().verify_running);
  EXPECT_FALSE(p.h.b().status().verify_running);
  EXPECT_LT(p.h.a().status().verify_done_bytes, kSize);
  p.h.run_until_quiet();
  EXPECT_TRUE(p.h.a().core().idle());
  EXPECT_TRUE(p.h.b().core().idle());
  // The next connection verifies again from the start.
  p.h.establish();
  p.h.run_until_quiet();
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  p.h.run_until_quiet();
  EXPECT_EQ(p.h.b().status().verify_done_bytes, kSize);
}

TEST(ReplicatorVerify, MalformedDigestFramesAreProtocolErrors) {
  struct Case {
    const char* what;
    std::function<net::Frame()> frame;
    const char* reason;
  };
  auto request = [](uint32_t purpose, uint32_t alg, uint64_t offset, uint32_t length) {
    proto::DigestRequest m;
    m.set_id(1);
    m.set_offset(offset);
    m.set_length(length);
    m.set_purpose(static_cast<proto::DigestPurpose>(purpose));
    m.set_alg(alg);
    return frame_of(net::FrameType::kDigestRequest, m);
  };
  const std::vector<Case> cases = {
      {"unknown purpose", [&] { return request(7, 1, 0, 4096); }, "unknown purpose"},
      {"unset purpose", [&] { return request(0, 1, 0, 4096); }, "unknown purpose"},
      {"unknown algorithm", [&] { return request(2, 9, 0, 4096); }, "unknown algorithm"},
      {"beyond the device", [&] { return request(2, 1, kSize, 4096); }, "does not fit"},
      {"unaligned", [&] { return request(2, 1, 100, 4096); }, "does not fit"},
      {"too long", [&] { return request(2, 1, 0, 2 * 1024 * 1024); }, "does not fit"},
      {"empty", [&] { return request(2, 1, 0, 0); }, "does not fit"},
      {"reply to nothing",
       [&] {
         proto::DigestReply m;
         m.set_id(77);
         m.set_digest("abcd");
         return frame_of(net::FrameType::kDigestReply, m);
       },
       "DigestReply for unknown request"},
      {"in-sync beyond the device",
       [&] {
         proto::ResyncInSync m;
         m.set_offset(kSize - 512);
         m.set_length(1024);
         return frame_of(net::FrameType::kResyncInSync, m);
       },
       "does not fit"},
      {"verify result beyond the device",
       [&] {
         proto::VerifyResult m;
         m.set_offset(kSize);
         m.set_length(512);
         return frame_of(net::FrameType::kVerifyResult, m);
       },
       "does not fit"},
  };
  for (const Case& c : cases) {
    VerifyPair p(DigestAlg::kCrc32c);
    p.h.b().core().on_frame(c.frame());
    p.h.drain();
    ASSERT_FALSE(p.h.b().closes.empty()) << c.what;
    EXPECT_THAT(p.h.b().closes[0].reason, HasSubstr(c.reason)) << c.what;
  }
  // Too many requests outstanding.
  VerifyPair p(DigestAlg::kCrc32c);
  for (int i = 0; i < 257 && p.h.b().closes.empty(); ++i) {
    p.h.b().core().on_frame(request(2, 1, 0, 4096));
  }
  p.h.drain();
  ASSERT_FALSE(p.h.b().closes.empty());
  EXPECT_THAT(p.h.b().closes[0].reason, HasSubstr("DigestRequests outstanding"));
}

// A DigestReply whose digest has the wrong length for the algorithm.
TEST(ReplicatorVerify, DigestOfTheWrongLengthIsAProtocolError) {
  VerifyPair p(DigestAlg::kSha256);
  ASSERT_TRUE(p.h.a().core().start_verify().ok());
  p.h.drain();
  proto::DigestReply m;
  m.set_id(uint64_t{1} << 32);  // the first chunk's id: slot 0, generation 1
  m.set_digest("short");
  p.h.a().core().on_frame(frame_of(net::FrameType::kDigestReply, m));
  p.h.drain();
  ASSERT_FALSE(p.h.a().closes.empty());
  EXPECT_THAT(p.h.a().closes[0].reason, HasSubstr("5-byte digest for sha256"));
}

}  // namespace
}  // namespace tandem::core::testing
