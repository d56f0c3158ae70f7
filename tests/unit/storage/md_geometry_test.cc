#include "storage/md_geometry.h"

#include <gtest/gtest.h>

namespace tandem::storage {
namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;
constexpr uint64_t TiB = 1024 * GiB;

TEST(MdGeometry, TransactionBlocks) {
  EXPECT_EQ(al_tx_blocks_for(7), 1U);
  EXPECT_EQ(al_tx_blocks_for(1007), 1U);  // 64 + 4028 + 4 = 4096
  EXPECT_EQ(al_tx_blocks_for(1008), 2U);
  EXPECT_EQ(al_tx_blocks_for(1237), 2U);
  EXPECT_EQ(al_tx_blocks_for(65534), 65U);
}

class InternalGeometry : public ::testing::TestWithParam<uint64_t> {};

TEST_P(InternalGeometry, LayoutFitsAndCoversTheDataArea) {
  const uint64_t size = GetParam();
  for (uint32_t al : {7U, 1237U, 6433U}) {
    auto g = compute_geometry({MetaDiskKind::kInternal, 0}, "disk", size, "disk", size, al);
    if (size < 4 * MiB && al == 6433U) {
      // 6433 extents need 7 blocks per transaction: 224 KiB of ring.
      ASSERT_TRUE(g.ok()) << g.error().message;
    }
    ASSERT_TRUE(g.ok()) << size << " al " << al << ": " << g.error().message;
    EXPECT_EQ(g->area_offset, g->usable_size);
    EXPECT_EQ(g->usable_size + g->area_size, size / 4096 * 4096);
    EXPECT_EQ(g->usable_size % 4096, 0U);
    EXPECT_EQ(g->area_size % 4096, 0U);
    EXPECT_GE(g->bitmap_bits * 4096, g->usable_size);
    EXPECT_LT((g->bitmap_bits - 1) * 4096, g->usable_size);
    EXPECT_GE(g->bitmap_bytes * 8, g->bitmap_bits);
    EXPECT_LE(g->al_offset + g->al_bytes(), g->superblock_offset());
    EXPECT_LE(g->bitmap_offset + g->bitmap_bytes, g->al_offset);
    // Metadata is small: the bitmap is 1/32768 of the device.
    EXPECT_LE(g->area_size, size / 32768 + 8192 + g->al_bytes() + 4096);
    EXPECT_TRUE(validate_geometry(*g).ok());
    EXPECT_EQ(g->abs_superblock_slot(1) + 4096, size / 4096 * 4096);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, InternalGeometry,
                         ::testing::Values(1 * MiB, 1 * MiB + 4095, 3 * MiB + 512, 64 * MiB,
                                           1 * GiB, 128 * GiB + 12288, 1 * TiB, 2 * TiB - 4096,
                                           4 * TiB, 16 * TiB - 4096, 16 * TiB, 64 * TiB));

TEST(MdGeometry, SixteenTebibytesInternal) {
  auto g = compute_geometry({MetaDiskKind::kInternal, 0}, "d", 16 * TiB, "d", 16 * TiB, 1237);
  ASSERT_TRUE(g.ok());
  // 2^32 blocks need 512 MiB of bitmap, minus what the metadata itself takes.
  EXPECT_EQ(g->bitmap_bytes, 512 * MiB - 16 * KiB);
  EXPECT_EQ(g->area_size, g->bitmap_bytes + 8 * 2 * 4096 + 8192);
  EXPECT_EQ(g->usable_size, 16 * TiB - g->area_size);
}

TEST(MdGeometry, TooSmallForInternalSaysHowMuchIsNeeded) {
  auto g = compute_geometry({MetaDiskKind::kInternal, 0}, "/dev/tiny", 100 * KiB, "/dev/tiny",
                            100 * KiB, 1237);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("/dev/tiny"), std::string::npos);
  // 64 KiB of ring + 8 KiB superblocks + 4 KiB bitmap = 76 KiB, plus 64 KiB of data.
  EXPECT_NE(g.error().message.find("needs 76 KiB"), std::string::npos) << g.error().message;
  EXPECT_NE(g.error().message.find("external metadata"), std::string::npos);
}

TEST(MdGeometry, AlExtentsOutOfRange) {
  EXPECT_FALSE(compute_geometry({}, "d", GiB, "d", GiB, 6).ok());
  EXPECT_FALSE(compute_geometry({}, "d", GiB, "d", GiB, 65535).ok());
  EXPECT_TRUE(compute_geometry({}, "d", GiB, "d", GiB, 65534).ok());
}

TEST(MdGeometry, ExternalFlexibleUsesWholeDevice) {
  auto g = compute_geometry({MetaDiskKind::kExternal, 0}, "/dev/data", 1 * TiB, "/dev/md", 40 * MiB,
                            1237);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->usable_size, 1 * TiB);
  EXPECT_EQ(g->area_offset, 0U);
  EXPECT_EQ(g->area_size, 40 * MiB);
  EXPECT_EQ(g->bitmap_bytes, 32 * MiB);
  auto small = compute_geometry({MetaDiskKind::kExternal, 0}, "/dev/data", 1 * TiB, "/dev/md",
                                16 * MiB, 1237);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message.find("/dev/md"), std::string::npos);
}

TEST(MdGeometry, ExternalIndexedSlices) {
  auto g = compute_geometry({MetaDiskKind::kExternalIndexed, 2}, "/dev/data", 2 * TiB, "/dev/md",
                            512 * MiB, 1237);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->area_offset, 256 * MiB);
  EXPECT_EQ(g->area_size, 128 * MiB);
  EXPECT_EQ(g->index, 2U);
  // Index 4 would need 640 MiB.
  auto beyond = compute_geometry({MetaDiskKind::kExternalIndexed, 4}, "/dev/data", 2 * TiB,
                                 "/dev/md", 512 * MiB, 1237);
  ASSERT_FALSE(beyond.ok());
  EXPECT_NE(beyond.error().message.find("index 4"), std::string::npos);
  // 128 MiB of metadata covers just under 4 TiB of data.
  auto big = compute_geometry({MetaDiskKind::kExternalIndexed, 0}, "/dev/data", 4 * TiB, "/dev/md",
                              512 * MiB, 1237);
  EXPECT_FALSE(big.ok());
}

TEST(MdGeometry, ValidateRejectsInconsistentFields) {
  auto g = compute_geometry({}, "d", GiB, "d", GiB, 1237);
  ASSERT_TRUE(g.ok());
  Geometry bad = *g;
  bad.bitmap_bits += 1;
  EXPECT_FALSE(validate_geometry(bad).ok());
  bad = *g;
  bad.al_offset = bad.area_size;
  EXPECT_FALSE(validate_geometry(bad).ok());
  bad = *g;
  bad.al_tx_blocks = 1;
  EXPECT_FALSE(validate_geometry(bad).ok());
  bad = *g;
  bad.area_offset = UINT64_MAX - 4095;
  EXPECT_FALSE(validate_geometry(bad).ok());
  bad = *g;
  bad.usable_size = 1ULL << 62;
  EXPECT_FALSE(validate_geometry(bad).ok());
}

}  // namespace
}  // namespace tandem::storage
