#include "storage/volume_metadata.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "storage/memory_device.h"

namespace tandem::storage {
namespace {

constexpr uint64_t kSize = 256ULL << 20;
constexpr uint64_t kExtent = 4ULL << 20;

std::unique_ptr<MemoryDevice> device_with_md(uint32_t al_extents) {
  auto dev = std::make_unique<MemoryDevice>("/dev/vm", kSize);
  Superblock sb;
  sb.flags = kFlagAlClean;
  sb.gi.current = kGiJustCreated;
  sb.device_uuid.fill(3);
  auto g = compute_geometry({}, "/dev/vm", kSize, "/dev/vm", kSize, al_extents);
  EXPECT_TRUE(MetadataStore::create(*dev, *g, sb).ok());
  return dev;
}

TEST(VolumeMetadata, CrashReplaysHotExtentsCleanShutdownDoesNot) {
  auto dev = device_with_md(7);
  {
    auto vm = VolumeMetadata::attach(*dev, {}, kSize);
    ASSERT_TRUE(vm.ok()) << vm.error().message;
    for (uint64_t e : {1U, 5U}) {
      ASSERT_TRUE(vm->begin_write(e * kExtent, 4096).ok());
      vm->mark_out_of_sync(e * kExtent, 4096);
      vm->end_write(e * kExtent, 4096);
    }
    EXPECT_EQ(vm->bitmap().count(), 2U);
  }
  // Power lost without detach: the two hot extents come back whole.
  auto crashed = dev->reboot();
  {
    auto vm = VolumeMetadata::attach(*crashed, {}, kSize);
    ASSERT_TRUE(vm.ok()) << vm.error().message;
    EXPECT_EQ(vm->bitmap().count(), 2U * 1024U);
    EXPECT_EQ(vm->store().superblock().flags & kFlagAlClean, 0U);
    vm->mark_in_sync(0, kSize);  // a resync ran
    ASSERT_TRUE(vm->begin_write(9 * kExtent, 8192).ok());
    vm->mark_out_of_sync(9 * kExtent, 8192);
    vm->end_write(9 * kExtent, 8192);
    ASSERT_TRUE(vm->detach_clean().ok());
  }
  auto after_clean = crashed->reboot();
  auto vm = VolumeMetadata::attach(*after_clean, {}, kSize);
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ(vm->bitmap().count(), 2U);
  EXPECT_TRUE(vm->activity_log().extents().empty());
}

TEST(VolumeMetadata, FullLogIsReportedNotBlocking) {
  auto dev = device_with_md(7);
  auto vm = VolumeMetadata::attach(*dev, {}, kSize);
  ASSERT_TRUE(vm.ok());
  for (uint64_t e = 0; e < 7; ++e) ASSERT_TRUE(vm->begin_write(e * kExtent, 4096).ok());
  auto full = vm->begin_write(7 * kExtent, 4096);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().sys_errno, EAGAIN);
  EXPECT_NE(full.error().message.find("/dev/vm"), std::string::npos);
  vm->end_write(3 * kExtent, 4096);
  EXPECT_TRUE(vm->begin_write(7 * kExtent, 4096).ok());
}

}  // namespace
}  // namespace tandem::storage
