// Random link cuts and reconnects under a write workload: no write the
// application saw complete is ever lost, and after the final resync both
// replicas equal the model built from the completed writes.
#include <gtest/gtest.h>

#include <algorithm>

#include "two_node_harness.h"

namespace tandem::core::testing {
namespace {

constexpr uint64_t kDisk = 128 * 1024;

void run_seed(uint64_t seed, WireProtocol protocol) {
  TwoNodeHarness h(make_config("mail01", 1, "mail02", protocol),
                   make_config("mail02", 2, "mail01", protocol), kDisk, seed);
  ASSERT_TRUE(h.a().core().attach(DiskInfo{kDisk, uptodate_metadata(3)}).ok());
  ASSERT_TRUE(h.b().core().attach(DiskInfo{kDisk, uptodate_metadata(3)}).ok());
  h.connect_both();
  ASSERT_TRUE(h.a().core().promote().ok());
  h.run_until_quiet();
  auto& rng = h.rng();
  for (int op = 0; op < 80; ++op) {
    const uint64_t off = (rng() % (kDisk / 512 - 16)) * 512;
    const auto len = static_cast<uint32_t>((1 + rng() % 16) * 512);
    h.a().write_pattern(off, len, static_cast<uint8_t>(op + 1));
    for (uint64_t s = rng() % 8; s > 0; --s) h.step();
    if (rng() % 25 == 0) {
      h.cut_link();
    } else if (!h.link_up() && rng() % 4 == 0) {
      h.establish();
    }
  }
  if (!h.link_up()) h.establish();
  h.run_until_quiet();

  // Overlapping writes complete in submission order, so applying the
  // completed writes in completion order gives the only correct content.
  std::vector<std::byte> model(kDisk);
  for (uint64_t id : h.a().completion_order) {
    const AppRequest& r = h.a().request(id);
    ASSERT_EQ(r.result, 0) << "seed " << seed;
  }
  for (uint64_t id : h.a().completion_order) {
    const AppRequest& r = h.a().request(id);
    std::copy(r.written.begin(), r.written.end(), model.begin() + static_cast<ptrdiff_t>(r.offset));
  }
  ASSERT_EQ(h.a().status().conn, ConnState::kConnected) << "seed " << seed;
  ASSERT_EQ(h.b().status().disk, DiskState::kUpToDate) << "seed " << seed;
  ASSERT_TRUE(h.a().bitmap.empty()) << "seed " << seed;
  ASSERT_EQ(h.a().disk, model) << "primary lost a completed write, seed " << seed;
  ASSERT_EQ(h.b().disk, model) << "secondary differs after resync, seed " << seed;
}

TEST(ReplicatorLinkFailure, CompletedWritesSurviveLinkCutsInEveryProtocol) {
  for (WireProtocol p : {WireProtocol::kA, WireProtocol::kB, WireProtocol::kC}) {
    for (uint64_t seed = 1; seed <= 100; ++seed) run_seed(seed, p);
  }
}

}  // namespace
}  // namespace tandem::core::testing
