// Fencing hooks on two cores: a primary losing its peer runs fence-peer;
// every exit status is interpreted as DRBD does; resource-and-stonith freezes
// new writes until the handler decided or resume-io; unfence-peer after the
// resync that brought the peer back.
#include <gtest/gtest.h>

#include <cerrno>
#include <optional>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 64 * 1024;

struct Fenced {
  explicit Fenced(FencingPolicy policy)
      : h(config(policy, "mail01", 1, "mail02"), config(policy, "mail02", 2, "mail01"), kDisk) {
    EXPECT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
    EXPECT_TRUE(h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(0x40)}).ok());
    h.a().hold_handlers = true;
    h.connect_both();
    EXPECT_TRUE(h.a().core().promote().ok());
    h.run_until_quiet();
  }
  static ReplicatorConfig config(FencingPolicy policy, const char* self, uint32_t id,
                                 const char* peer) {
    ReplicatorConfig c = make_config(self, id, peer);
    c.fencing = policy;
    return c;
  }
  std::optional<RunHandler> fence_peer() {
    for (const RunHandler& r : h.node(0).handlers) {
      if (r.handler == Handler::kFencePeer) return r;
    }
    return std::nullopt;
  }
  TwoNodeHarness h;
};

TEST(Fencing, DontCareRunsNoHandler) {
  Fenced f(FencingPolicy::kDontCare);
  f.h.cut_link();
  EXPECT_FALSE(f.fence_peer().has_value());
  const uint64_t id = f.h.a().write_pattern(0, 4096, 1);
  f.h.run_until_quiet();
  EXPECT_TRUE(f.h.a().done(id));
}

TEST(Fencing, ResourceOnlyRunsFencePeerWithoutFreezing) {
  Fenced f(FencingPolicy::kResourceOnly);
  f.h.cut_link();
  ASSERT_TRUE(f.fence_peer().has_value());
  EXPECT_FALSE(f.h.a().status().io_suspended);
  const uint64_t id = f.h.a().write_pattern(0, 4096, 1);
  f.h.run_until_quiet();
  EXPECT_TRUE(f.h.a().done(id));
  EXPECT_EQ(f.h.a().request(id).result, 0);
}

TEST(Fencing, ResourceAndStonithFreezesWritesUntilThePeerIsFenced) {
  for (int code : {3, 4, 5, 7}) {
    SCOPED_TRACE(code);
    Fenced f(FencingPolicy::kResourceAndStonith);
    f.h.cut_link();
    const auto run = f.fence_peer();
    ASSERT_TRUE(run.has_value());
    EXPECT_TRUE(f.h.a().status().io_suspended);
    const uint64_t id = f.h.a().write_pattern(0, 4096, 1);
    const uint64_t read = f.h.a().read(8192, 512);
    f.h.run_until_quiet();
    EXPECT_FALSE(f.h.a().done(id)) << "a write completed while I/O was frozen";
    EXPECT_TRUE(f.h.a().done(read)) << "reads are served while writes are frozen";
    f.h.a().core().on_handler_done(run->handler_id, code);
    f.h.run_until_quiet();
    EXPECT_FALSE(f.h.a().status().io_suspended);
    ASSERT_TRUE(f.h.a().done(id));
    EXPECT_EQ(f.h.a().request(id).result, 0);
    EXPECT_EQ(f.h.a().status().disk, DiskState::kUpToDate);
    EXPECT_TRUE(f.h.a().bitmap.contains(0, 4096));  // the peer lacks it
  }
}

TEST(Fencing, PeerIsPrimaryOutdatesThisNode) {
  Fenced f(FencingPolicy::kResourceAndStonith);
  f.h.cut_link();
  const auto run = f.fence_peer();
  ASSERT_TRUE(run.has_value());
  const uint64_t id = f.h.a().write_pattern(0, 4096, 1);
  f.h.a().core().on_handler_done(run->handler_id, 6);
  f.h.run_until_quiet();
  EXPECT_EQ(f.h.a().status().disk, DiskState::kOutdated);
  EXPECT_TRUE(f.h.a().metadata.outdated);
  EXPECT_FALSE(f.h.a().metadata.up_to_date);
  ASSERT_TRUE(f.h.a().done(id));
  EXPECT_EQ(f.h.a().request(id).result, EIO);  // no UpToDate copy is reachable
}

TEST(Fencing, BrokenHandlerKeepsWritesFrozenUntilResumeIo) {
  for (int code : {0, 1, 2, 8, kHandlerNotConfigured, kHandlerFailed}) {
    SCOPED_TRACE(code);
    Fenced f(FencingPolicy::kResourceAndStonith);
    f.h.cut_link();
    const auto run = f.fence_peer();
    ASSERT_TRUE(run.has_value());
    const uint64_t id = f.h.a().write_pattern(0, 4096, 1);
    f.h.a().core().on_handler_done(run->handler_id, code);
    f.h.run_until_quiet();
    EXPECT_TRUE(f.h.a().status().io_suspended);
    EXPECT_FALSE(f.h.a().done(id));
    bool logged = false;
    for (const auto& e : f.h.a().events) logged |= e.find("resume-io") != std::string::npos;
    EXPECT_TRUE(logged);
    ASSERT_TRUE(f.h.a().core().resume_io().ok());
    f.h.run_until_quiet();
    EXPECT_FALSE(f.h.a().status().io_suspended);
    ASSERT_TRUE(f.h.a().done(id));
    EXPECT_EQ(f.h.a().request(id).result, 0);
    EXPECT_FALSE(f.h.a().core().resume_io().ok());  // nothing frozen any more
  }
}

TEST(Fencing, ReconnectUnfreezesAndUnfencesAfterTheResync) {
  Fenced f(FencingPolicy::kResourceAndStonith);
  f.h.cut_link();
  ASSERT_TRUE(f.fence_peer().has_value());
  const uint64_t id = f.h.a().write_pattern(0, 4096, 1);
  f.h.run_until_quiet();
  EXPECT_FALSE(f.h.a().done(id));
  f.h.establish();
  f.h.run_until_quiet();
  EXPECT_FALSE(f.h.a().status().io_suspended);
  ASSERT_TRUE(f.h.a().done(id));
  EXPECT_EQ(f.h.a().request(id).result, 0);
  EXPECT_EQ(f.h.a().disk, f.h.b().disk);
  bool unfenced = false;
  for (const RunHandler& r : f.h.a().handlers) unfenced |= r.handler == Handler::kUnfencePeer;
  EXPECT_TRUE(unfenced);
}

}  // namespace
}  // namespace tandem::core::testing
