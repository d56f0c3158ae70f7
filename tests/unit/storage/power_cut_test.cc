// Power-cut tests: a sequence of metadata updates runs against the
// fault-injecting device, and the power fails at every write of it in turn
// (with the write in flight torn at several points). After each cut the
// metadata must read back as the state before or after the interrupted
// update; never an error, never garbage.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>
#include <vector>

#include "storage/activity_log.h"
#include "storage/memory_device.h"
#include "storage/metadata_store.h"
#include "storage/volume_metadata.h"

namespace tandem::storage {
namespace {

constexpr uint64_t kDeviceBytes = 256ULL << 20;
constexpr uint32_t kTornVariants[] = {0, 512, 2048, 3584, 4096 + 512};

Superblock identity() {
  Superblock sb;
  sb.node_id = 2;
  sb.flags = kFlagAlClean;
  sb.gi.current = kGiJustCreated;
  sb.device_uuid.fill(0x5C);
  return sb;
}

std::unique_ptr<MemoryDevice> fresh_device(uint32_t al_extents) {
  auto dev = std::make_unique<MemoryDevice>("/dev/cut", kDeviceBytes);
  auto g = compute_geometry({}, "/dev/cut", kDeviceBytes, "/dev/cut", kDeviceBytes, al_extents);
  EXPECT_TRUE(g.ok());
  auto store = MetadataStore::create(*dev, *g, identity());
  EXPECT_TRUE(store.ok());
  return dev;
}

// The superblocks a sequence of generation-identifier and flag changes
// passes through (as a node goes primary, loses its peer, ...).
std::vector<Superblock> superblock_history(const Superblock& start) {
  std::vector<Superblock> states{start};
  Superblock s = start;
  for (uint64_t i = 0; i < 12; ++i) {
    s.gi.history[1] = s.gi.history[0];
    s.gi.history[0] = s.gi.bitmap;
    s.gi.bitmap = s.gi.current & ~uint64_t{1};
    s.gi.current = (0x1234567800000000ULL + i * 0x10) | (i % 2);
    s.flags ^= (i % 3 == 0) ? kFlagPrimary : kFlagPeerOutdated;
    s.flags ^= kFlagConsistent;
    states.push_back(s);
  }
  return states;
}

bool same_content(const Superblock& a, const Superblock& b) {
  return a.gi == b.gi && a.flags == b.flags && a.node_id == b.node_id &&
         a.device_uuid == b.device_uuid && a.geometry == b.geometry;
}

TEST(PowerCut, SuperblockUpdatesAreAtomic) {
  auto probe_dev = fresh_device(61);
  auto probe = MetadataStore::open(*probe_dev, {}, kDeviceBytes);
  ASSERT_TRUE(probe.ok());
  const auto states = superblock_history(probe->superblock());
  const uint64_t writes = states.size() - 1;  // one slot write per update

  int runs = 0;
  for (uint64_t cut = 0; cut < writes; ++cut) {
    for (uint32_t torn : kTornVariants) {
      auto dev = fresh_device(61);
      dev->set_fault_plan(FaultPlan::power_cut(dev->writes_seen() + cut, torn));
      auto store = MetadataStore::open(*dev, {}, kDeviceBytes);
      ASSERT_TRUE(store.ok());
      size_t done = 0;
      for (size_t i = 1; i < states.size(); ++i) {
        if (!store->write_superblock(states[i]).ok()) break;
        done = i;
      }
      ASSERT_EQ(done, cut);
      auto after = dev->reboot();
      auto reopened = MetadataStore::open(*after, {}, kDeviceBytes);
      ASSERT_TRUE(reopened.ok()) << "cut " << cut << " torn " << torn << ": "
                                 << reopened.error().message;
      const Superblock& got = reopened->superblock();
      EXPECT_TRUE(same_content(got, states[done]) || same_content(got, states[done + 1]))
          << "cut " << cut << " torn " << torn;
      ++runs;
    }
  }
  EXPECT_EQ(runs, static_cast<int>(writes * std::size(kTornVariants)));
}

// The data path while the peer is away (VolumeMetadata): every write is
// admitted by the activity log (transactions written as needed, evicted
// extents' bitmap pages written back first) and marks its blocks out of
// sync in memory; finally a clean shutdown. After a cut anywhere, recovery (open +
// apply-al + read bitmap) must show every block of every issued write out
// of sync, and nothing outside the extents that were written.
struct Workload {
  std::vector<std::pair<uint64_t, uint64_t>> writes;  // offset, length
};

Workload make_workload(uint64_t usable, uint32_t seed) {
  std::mt19937 rng(seed);
  Workload w;
  const uint64_t extents = usable / (4ULL << 20);
  for (int i = 0; i < 40; ++i) {
    const uint64_t extent = rng() % std::min<uint64_t>(extents, 24);
    const uint64_t block = rng() % 1023;
    w.writes.emplace_back(extent * (4ULL << 20) + block * 4096, 4096 * (1 + rng() % 2));
  }
  return w;
}

struct RunResult {
  bool completed = false;
  std::vector<std::pair<uint64_t, uint64_t>> issued;  // writes that reached the data disk
  std::set<uint64_t> extents_logged;                  // in some attempted AL transaction
};

RunResult run_workload(MemoryDevice& dev, const Workload& w, bool clean_shutdown) {
  RunResult out;
  auto vm = VolumeMetadata::attach(dev, {}, kDeviceBytes);
  if (!vm.ok()) return out;
  for (const auto& [offset, length] : w.writes) {
    auto admitted = vm->begin_write(offset, length);
    // Whatever the log holds now may have reached a transaction.
    for (uint32_t e : vm->activity_log().extents()) out.extents_logged.insert(e);
    if (!admitted.ok()) return out;
    // The data write goes to the (separate) data path here; the peer is
    // away, so its blocks are out of sync.
    vm->mark_out_of_sync(offset, length);
    out.issued.emplace_back(offset, length);
    vm->end_write(offset, length);
  }
  if (clean_shutdown && !vm->detach_clean().ok()) return out;
  out.completed = true;
  return out;
}

void check_recovery(MemoryDevice& after, const RunResult& run, const std::string& where) {
  auto store = MetadataStore::open(after, {}, kDeviceBytes);
  ASSERT_TRUE(store.ok()) << where << ": " << store.error().message;
  auto applied = store->apply_al();
  ASSERT_TRUE(applied.ok()) << where << ": " << applied.error().message;
  auto bm = store->read_bitmap();
  ASSERT_TRUE(bm.ok()) << where;
  for (const auto& [offset, length] : run.issued) {
    for (uint64_t b = offset / 4096; b <= (offset + length - 1) / 4096; ++b) {
      ASSERT_TRUE(bm->test(b)) << where << ": block " << b << " written but not out of sync";
    }
  }
  // No garbage: set bits lie only in extents that some transaction logged.
  uint64_t allowed = 0;
  for (uint64_t e : run.extents_logged) {
    for (uint64_t b = e * 1024; b < (e + 1) * 1024; ++b) allowed += bm->test(b) ? 1U : 0U;
  }
  EXPECT_EQ(allowed, bm->count()) << where << ": bits set outside written extents";
  // The log is clean afterwards.
  EXPECT_TRUE((store->superblock().flags & kFlagAlClean) != 0) << where;
}

class PowerCutWorkload : public ::testing::TestWithParam<uint32_t> {};

TEST_P(PowerCutWorkload, EveryCutPointRecoversEveryIssuedWrite) {
  const uint32_t al_extents = GetParam();
  const uint64_t usable = [&] {
    auto dev = fresh_device(al_extents);
    return MetadataStore::open(*dev, {}, kDeviceBytes)->geometry().usable_size;
  }();
  const Workload w = make_workload(usable, al_extents);

  // A run without faults tells how many metadata writes the workload makes.
  auto reference = fresh_device(al_extents);
  const uint64_t base = reference->writes_seen();
  const RunResult full = run_workload(*reference, w, true);
  ASSERT_TRUE(full.completed);
  const uint64_t total_writes = reference->writes_seen() - base;
  ASSERT_GT(total_writes, 10U);
  check_recovery(*reference->reboot(), full, "no cut");

  for (uint64_t cut = 0; cut < total_writes; ++cut) {
    for (uint32_t torn : kTornVariants) {
      auto dev = fresh_device(al_extents);
      dev->set_fault_plan(FaultPlan::power_cut(dev->writes_seen() + cut, torn));
      const RunResult run = run_workload(*dev, w, true);
      ASSERT_FALSE(run.completed) << "cut " << cut;
      ASSERT_TRUE(dev->powered_off());
      check_recovery(*dev->reboot(), run,
                     "cut at write " + std::to_string(cut) + " torn " + std::to_string(torn));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// 7 extents: constant eviction; 61: some; 1237: two-block transactions.
INSTANTIATE_TEST_SUITE_P(AlExtents, PowerCutWorkload, ::testing::Values(7U, 61U, 1237U));

TEST(PowerCut, CutDuringApplyAlThenApplyAgain) {
  auto dev = fresh_device(7);
  const Workload w = make_workload(200ULL << 20, 99);
  const RunResult crashed = run_workload(*dev, w, false);  // no clean shutdown
  ASSERT_TRUE(crashed.completed);
  auto crashed_image = dev->reboot();
  // How many writes a full apply-al makes.
  auto probe = crashed_image->reboot();
  const uint64_t base = probe->writes_seen();
  {
    auto store = MetadataStore::open(*probe, {}, kDeviceBytes);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store->apply_al().ok());
  }
  const uint64_t writes = probe->writes_seen() - base;
  ASSERT_GE(writes, 3U);
  for (uint64_t cut = 0; cut < writes; ++cut) {
    for (uint32_t torn : kTornVariants) {
      auto attempt = crashed_image->reboot();
      attempt->set_fault_plan(FaultPlan::power_cut(cut, torn));
      auto store = MetadataStore::open(*attempt, {}, kDeviceBytes);
      ASSERT_TRUE(store.ok());
      EXPECT_FALSE(store->apply_al().ok());
      check_recovery(*attempt->reboot(), crashed,
                     "apply-al cut at " + std::to_string(cut) + " torn " + std::to_string(torn));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace tandem::storage
