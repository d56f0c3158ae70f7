// on-io-error with the harness's fault-injecting disk: detach keeps serving
// the application from the peer without an error, call-local-io-error runs
// the handler and detaches, pass_on hands the error to the application and
// keeps the disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 64 * 1024;
constexpr uint64_t kBad = 16384;  // the failing 4 KiB on mail01's disk

struct Faulty {
  explicit Faulty(OnIoError policy)
      : h(config(policy, "mail01", 1, "mail02"), config(policy, "mail02", 2, "mail01"), kDisk) {
    EXPECT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
    EXPECT_TRUE(h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
    h.connect_both();
    EXPECT_TRUE(h.a().core().promote().ok());
    h.a().write_pattern(kBad, 4096, 3);  // good data on both disks
    h.run_until_quiet();
    h.a().io_result = [](const SubmitIo& io) {
      return io.kind != LocalIoKind::kFlush && io.offset < kBad + 4096 &&
                     io.offset + io.length > kBad
                 ? EIO
                 : 0;
    };
  }
  static ReplicatorConfig config(OnIoError policy, const char* self, uint32_t id,
                                 const char* peer) {
    ReplicatorConfig c = make_config(self, id, peer);
    c.on_io_error = policy;
    return c;
  }
  bool ran(Handler x) {
    for (const RunHandler& r : h.a().handlers) {
      if (r.handler == x) return true;
    }
    return false;
  }
  TwoNodeHarness h;
};

void expect_served_from_peer(Faulty& f) {
  // The failed write reached the peer: no error for the application.
  const uint64_t w = f.h.a().write_pattern(kBad, 4096, 9);
  f.h.run_until_quiet();
  ASSERT_TRUE(f.h.a().done(w));
  EXPECT_EQ(f.h.a().request(w).result, 0);
  EXPECT_EQ(f.h.a().status().disk, DiskState::kDiskless);
  // Reads come from the peer, writes go only to the peer.
  const uint64_t r = f.h.a().read(kBad, 4096);
  const uint64_t w2 = f.h.a().write_pattern(0, 4096, 11);
  f.h.run_until_quiet();
  ASSERT_TRUE(f.h.a().done(r));
  EXPECT_EQ(f.h.a().request(r).result, 0);
  EXPECT_EQ(f.h.a().request(r).buffer, f.h.a().request(w).written);
  ASSERT_TRUE(f.h.a().done(w2));
  EXPECT_EQ(f.h.a().request(w2).result, 0);
  const auto& data = f.h.a().request(w2).written;
  EXPECT_TRUE(std::equal(data.begin(), data.end(), f.h.b().disk.begin()));
}

TEST(OnIoError, DetachServesTheApplicationFromThePeer) {
  Faulty f(OnIoError::kDetach);
  expect_served_from_peer(f);
  EXPECT_FALSE(f.ran(Handler::kLocalIoError));
}

TEST(OnIoError, CallLocalIoErrorRunsTheHandlerAndDetaches) {
  Faulty f(OnIoError::kCallLocalIoError);
  expect_served_from_peer(f);
  EXPECT_TRUE(f.ran(Handler::kLocalIoError));
}

TEST(OnIoError, DetachAfterAReadErrorRetriesOnThePeer) {
  Faulty f(OnIoError::kDetach);
  const uint64_t r = f.h.a().read(kBad, 4096);
  f.h.run_until_quiet();
  ASSERT_TRUE(f.h.a().done(r));
  EXPECT_EQ(f.h.a().request(r).result, 0);
  EXPECT_TRUE(std::equal(f.h.a().request(r).buffer.begin(), f.h.a().request(r).buffer.end(),
                         f.h.b().disk.begin() + kBad));
  EXPECT_EQ(f.h.a().status().disk, DiskState::kDiskless);
}

TEST(OnIoError, PassOnReturnsTheErrorAndKeepsTheDisk) {
  Faulty f(OnIoError::kPassOn);
  const uint64_t w = f.h.a().write_pattern(kBad, 4096, 9);
  const uint64_t r = f.h.a().read(kBad, 512);
  const uint64_t good = f.h.a().read(0, 512);
  f.h.run_until_quiet();
  ASSERT_TRUE(f.h.a().done(w) && f.h.a().done(r) && f.h.a().done(good));
  EXPECT_EQ(f.h.a().request(w).result, EIO);
  EXPECT_EQ(f.h.a().request(r).result, EIO);
  EXPECT_EQ(f.h.a().request(good).result, 0);
  EXPECT_EQ(f.h.a().status().disk, DiskState::kUpToDate);
  EXPECT_EQ(f.h.a().status().conn, ConnState::kConnected);
  EXPECT_TRUE(f.h.a().bitmap.contains(kBad, 4096));  // the disks may differ there
  EXPECT_FALSE(f.ran(Handler::kLocalIoError));
}

}  // namespace
}  // namespace tandem::core::testing
