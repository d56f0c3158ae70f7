#include "storage/metadata_store.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "storage/memory_device.h"
#include "storage/sync_io.h"
#include "storage/uring_backing.h"
#include "test_files.h"

namespace tandem::storage {
namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr uint64_t GiB = 1ULL << 30;
constexpr uint64_t TiB = 1ULL << 40;

Superblock identity() {
  Superblock sb;
  sb.node_id = 1;
  sb.flags = kFlagAlClean;
  sb.gi.current = kGiJustCreated;
  for (uint8_t i = 0; i < 16; ++i) sb.device_uuid[i] = i;
  return sb;
}

MetadataStore make(BlockDevice& dev, MetaDiskSpec spec = {}, uint32_t al = 61,
                   uint64_t backing = 0) {
  if (backing == 0) backing = dev.size_bytes();
  auto g = compute_geometry(spec, "backing", backing, dev.name(), dev.size_bytes(), al);
  EXPECT_TRUE(g.ok()) << g.error().message;
  auto store = MetadataStore::create(dev, *g, identity());
  EXPECT_TRUE(store.ok()) << store.error().message;
  return std::move(store).value();
}

TEST(MetadataStore, CreateThenOpenReadsTheSameSuperblock) {
  MemoryDevice dev("/dev/mem0", 64 * MiB);
  auto created = make(dev);
  EXPECT_EQ(created.superblock().sequence, 1U);
  auto opened = MetadataStore::open(dev, {}, dev.size_bytes());
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->superblock(), created.superblock());
  EXPECT_EQ(opened->geometry().usable_size + opened->geometry().area_size, 64 * MiB);
  auto al = opened->read_activity_log();
  ASSERT_TRUE(al.ok());
  EXPECT_FALSE(al->newest.has_value());
  auto bm = opened->read_bitmap();
  ASSERT_TRUE(bm.ok());
  EXPECT_EQ(bm->count(), 0U);
}

TEST(MetadataStore, UpdatesAlternateSlotsAndTheNewestWins) {
  MemoryDevice dev("/dev/mem0", 64 * MiB);
  auto store = make(dev);
  for (uint64_t i = 0; i < 5; ++i) {
    Superblock next = store.superblock();
    next.gi.history[1] = next.gi.history[0];
    next.gi.history[0] = next.gi.bitmap;
    next.gi.bitmap = next.gi.current;
    next.gi.current = 0x1000 + i * 2;
    ASSERT_TRUE(store.write_superblock(next).ok());
    auto opened = MetadataStore::open(dev, {}, dev.size_bytes());
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(opened->superblock().gi.current, 0x1000 + i * 2);
    EXPECT_EQ(opened->superblock().sequence, i + 2);
  }
  // Both slots hold a valid superblock now, one sequence apart.
  std::vector<std::byte> slots(8192);
  dev.peek(dev.size_bytes() - 8192, slots);
  auto s0 = decode_superblock(std::span<const std::byte>(slots).first(4096));
  auto s1 = decode_superblock(std::span<const std::byte>(slots).subspan(4096));
  ASSERT_EQ(s0.problem, SlotProblem::kNone);
  ASSERT_EQ(s1.problem, SlotProblem::kNone);
  EXPECT_EQ(s0.superblock->sequence + s1.superblock->sequence, 6U + 5U);
}

TEST(MetadataStore, NoMetadataAndCorruptMetadataAreClearErrorsAndWriteNothing) {
  MemoryDevice dev("/dev/mem0", 64 * MiB);
  auto blank = MetadataStore::open(dev, {}, dev.size_bytes());
  ASSERT_FALSE(blank.ok());
  EXPECT_NE(blank.error().message.find("/dev/mem0"), std::string::npos);
  EXPECT_NE(blank.error().message.find("no tandem metadata"), std::string::npos);
  EXPECT_NE(blank.error().message.find("create-md"), std::string::npos);

  (void)make(dev);
  // Damage both slots.
  std::vector<std::byte> junk(16, std::byte{0x55});
  dev.poke(dev.size_bytes() - 8192 + 200, junk);
  dev.poke(dev.size_bytes() - 4096 + 300, junk);
  const uint64_t writes_before = dev.writes_seen();
  auto bad = MetadataStore::open(dev, {}, dev.size_bytes());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("/dev/mem0 (internal metadata)"), std::string::npos);
  EXPECT_NE(bad.error().message.find("checksum mismatch"), std::string::npos)
      << bad.error().message;
  EXPECT_EQ(dev.writes_seen(), writes_before);
  EXPECT_EQ(MetadataStore::probe(dev, {}).found, MdProbe::Found::kDamaged);
}

TEST(MetadataStore, OneDamagedSlotFallsBackToTheOther) {
  MemoryDevice dev("/dev/mem0", 64 * MiB);
  auto store = make(dev);
  Superblock next = store.superblock();
  next.gi.current = 0x77770;
  ASSERT_TRUE(store.write_superblock(next).ok());  // sequence 2, slot 0
  std::vector<std::byte> junk(16, std::byte{0x55});
  dev.poke(dev.size_bytes() - 8192 + 64, junk);
  auto opened = MetadataStore::open(dev, {}, dev.size_bytes());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->superblock().sequence, 1U);
  EXPECT_EQ(opened->superblock().gi.current, kGiJustCreated);
}

TEST(MetadataStore, MetaDiskSettingMustMatchWhatIsOnDisk) {
  MemoryDevice md("/dev/md", 512 * MiB);
  (void)make(md, {MetaDiskKind::kExternalIndexed, 1}, 61, 100 * GiB);
  auto ok = MetadataStore::open(md, {MetaDiskKind::kExternalIndexed, 1}, 100 * GiB);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->geometry().area_offset, 128 * MiB);
  auto other_index = MetadataStore::open(md, {MetaDiskKind::kExternalIndexed, 0}, 100 * GiB);
  EXPECT_FALSE(other_index.ok());
  auto shrunk = MetadataStore::open(md, {MetaDiskKind::kExternalIndexed, 1}, 10 * GiB);
  ASSERT_FALSE(shrunk.ok());
  EXPECT_NE(shrunk.error().message.find("shrunk"), std::string::npos);

  MemoryDevice disk("/dev/disk", 64 * MiB);
  (void)make(disk);
  auto as_external = MetadataStore::open(disk, {MetaDiskKind::kExternal, 0}, 64 * MiB);
  ASSERT_FALSE(as_external.ok());
  EXPECT_NE(as_external.error().message.find("created as internal"), std::string::npos);
}

TEST(MetadataStore, BitmapPagesRoundTrip) {
  MemoryDevice dev("/dev/mem0", 2 * GiB);
  auto store = make(dev);
  SyncBitmap bm(store.geometry().bitmap_bits);
  bm.mark_out_of_sync(0, 4096);
  bm.mark_out_of_sync(1 * GiB, 1 * MiB);
  bm.mark_out_of_sync(store.geometry().usable_size - 4096, 4096);
  ASSERT_TRUE(store.write_dirty_bitmap(bm).ok());
  EXPECT_TRUE(bm.dirty_pages().empty());
  auto back = store.read_bitmap();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, bm);
  EXPECT_EQ(back->count(), 1U + 256U + 1U);
}

TEST(MetadataStore, ApplyAlMarksHotExtentsAndCleansTheLog) {
  MemoryDevice dev("/dev/mem0", 1 * GiB);
  auto store = make(dev);
  Superblock dirty = store.superblock();
  dirty.flags &= ~kFlagAlClean;
  ASSERT_TRUE(store.write_superblock(dirty).ok());
  ASSERT_TRUE(store.write_al_transaction({.number = 1, .hot = {0, 31, 32, 200}}).ok());
  ASSERT_TRUE(store.write_al_transaction({.number = 2, .hot = {3, 40}}).ok());
  auto result = store.apply_al();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(result->was_clean);
  EXPECT_EQ(result->extents, (std::vector<uint32_t>{3, 40}));
  auto bm = store.read_bitmap();
  ASSERT_TRUE(bm.ok());
  EXPECT_EQ(bm->count(), 2U * 1024U);
  EXPECT_TRUE(bm->test(3 * 1024));
  EXPECT_TRUE(bm->test(41 * 1024 - 1));
  EXPECT_FALSE(bm->test(0));
  EXPECT_TRUE((store.superblock().flags & kFlagAlClean) != 0);
  auto al = store.read_activity_log();
  ASSERT_TRUE(al.ok());
  ASSERT_TRUE(al->newest.has_value());
  EXPECT_EQ(al->newest->number, 3U);
  EXPECT_TRUE(al->newest->hot.empty());
  // Applying again changes nothing.
  auto again = store.apply_al();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->was_clean);
  EXPECT_TRUE(again->extents.empty());
  EXPECT_EQ(store.read_bitmap()->count(), 2U * 1024U);
}

TEST(MetadataStore, StaleTransactionsOfOldMetadataAreIgnored) {
  MemoryDevice dev("/dev/mem0", 1 * GiB);
  auto old_md = make(dev);
  ASSERT_TRUE(old_md.write_al_transaction({.number = 1, .hot = {5}}).ok());
  std::vector<std::byte> old_tx(old_md.geometry().al_tx_bytes());
  dev.peek(old_md.geometry().abs_al_slot(0), old_tx);

  Superblock fresh = identity();
  fresh.device_uuid[0] = 0xEE;  // new metadata, new UUID
  auto store = MetadataStore::create(dev, old_md.geometry(), fresh);
  ASSERT_TRUE(store.ok());
  // As if the old ring had survived (e.g. a crash in an older tool).
  dev.poke(old_md.geometry().abs_al_slot(0), old_tx);
  auto al = store->read_activity_log();
  ASSERT_TRUE(al.ok());
  EXPECT_FALSE(al->newest.has_value());
  EXPECT_EQ(al->slots[0].state, AlSlotState::kInvalid);
  EXPECT_NE(al->slots[0].detail.find("other (older) metadata"), std::string::npos);
}

TEST(MetadataStore, WipeRemovesMetadataAndRefusesWhenThereIsNone) {
  MemoryDevice dev("/dev/mem0", 64 * MiB);
  auto refused = MetadataStore::wipe(dev, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("nothing was written"), std::string::npos);
  EXPECT_EQ(dev.writes_seen(), 0U);
  auto store = make(dev);
  ASSERT_TRUE(store.write_al_transaction({.number = 1, .hot = {1}}).ok());
  EXPECT_EQ(MetadataStore::probe(dev, {}).found, MdProbe::Found::kValid);
  ASSERT_TRUE(MetadataStore::wipe(dev, {}).ok());
  EXPECT_EQ(MetadataStore::probe(dev, {}).found, MdProbe::Found::kNothing);
  EXPECT_FALSE(MetadataStore::open(dev, {}, dev.size_bytes()).ok());
  std::vector<std::byte> ring(4096);
  dev.peek(store.geometry().abs_al_slot(0), ring);
  EXPECT_TRUE(std::all_of(ring.begin(), ring.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST(MetadataStore, ProbeSeesForeignData) {
  MemoryDevice dev("/dev/mem0", 64 * MiB);
  std::vector<std::byte> junk(8192, std::byte{0x42});
  dev.poke(dev.size_bytes() - 8192, junk);
  EXPECT_EQ(MetadataStore::probe(dev, {}).found, MdProbe::Found::kForeign);
}

TEST(MetadataStore, WriteErrorsSurfaceWithTheOffset) {
  MemoryDevice dev("/dev/mem0", 64 * MiB);
  auto store = make(dev);
  FaultPlan plan;
  plan.fail_if = [](const IoRequest& r, uint64_t) { return r.op == IoOp::kWrite ? EIO : 0; };
  dev.set_fault_plan(plan);
  auto w = store.write_al_transaction({.number = 1, .hot = {1}});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().sys_errno, EIO);
  EXPECT_NE(w.error().message.find("at offset " + std::to_string(store.geometry().abs_al_slot(0))),
            std::string::npos)
      << w.error().message;
}

// Real sparse files through io_uring, from 1 MiB to the largest file ext4
// allows (16 TiB - 4 KiB; the 16 TiB geometry itself is covered by
// md_geometry_test and the memory device test below).
class SparseFileSizes : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SparseFileSizes, CreateOpenApplyAl) {
  testing::TempFile file(GetParam());
  if (!file.ok()) {
    GTEST_SKIP() << "temp directory cannot hold a sparse file of " << GetParam() << " bytes";
  }
  auto dev = UringBacking::open(file.path(), {});
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  auto g = compute_geometry({}, file.path(), GetParam(), file.path(), GetParam(), 1237);
  ASSERT_TRUE(g.ok()) << g.error().message;
  auto store = MetadataStore::create(**dev, *g, identity());
  ASSERT_TRUE(store.ok()) << store.error().message;
  const uint32_t last_extent = static_cast<uint32_t>(g->al_extent_count() - 1);
  std::vector<uint32_t> hot = {0};
  if (last_extent != 0) hot.push_back(last_extent);
  ASSERT_TRUE(store->write_al_transaction({.number = 1, .hot = hot}).ok());
  Superblock dirty = store->superblock();
  dirty.flags &= ~kFlagAlClean;
  ASSERT_TRUE(store->write_superblock(dirty).ok());

  auto opened = MetadataStore::open(**dev, {}, GetParam());
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->geometry(), *g);
  auto applied = opened->apply_al();
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->extents, hot);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SparseFileSizes,
                         ::testing::Values(1 * MiB, 3 * MiB + 4096, 1 * GiB, 1 * TiB,
                                           16 * TiB - 4096));

TEST(MetadataStore, SixteenTebibytesOnASparseMemoryDevice) {
  MemoryDevice dev("/dev/big", 16 * TiB);
  auto store = make(dev, {}, 1237);
  const auto last = static_cast<uint32_t>(store.geometry().al_extent_count() - 1);
  EXPECT_EQ(last, 4194176U - 1U);  // (16 TiB - 512 MiB + 16 KiB - 72 KiB) / 4 MiB, rounded up
  Superblock dirty = store.superblock();
  dirty.flags &= ~kFlagAlClean;
  ASSERT_TRUE(store.write_superblock(dirty).ok());
  ASSERT_TRUE(store.write_al_transaction({.number = 1, .hot = {last}}).ok());
  auto opened = MetadataStore::open(dev, {}, 16 * TiB);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->geometry().bitmap_bytes, 512 * MiB - 16 * 1024);
  auto applied = opened->apply_al();
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->extents, std::vector<uint32_t>{last});
  // The last extent is partial: its bits stop at the end of the bitmap.
  std::vector<std::byte> page(4096);
  const auto& g = opened->geometry();
  dev.peek(g.abs_bitmap() + g.bitmap_bytes - 4096, page);
  EXPECT_NE(page[4095 - 0], std::byte{0xFF});
}

}  // namespace
}  // namespace tandem::storage
