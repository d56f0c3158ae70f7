#include "storage/sync_bitmap.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::storage {
namespace {

TEST(SyncBitmap, MarksBlocksTouchedByARange) {
  SyncBitmap bm(1000);
  bm.mark_out_of_sync(4095, 2);  // touches blocks 0 and 1
  EXPECT_TRUE(bm.test(0));
  EXPECT_TRUE(bm.test(1));
  EXPECT_FALSE(bm.test(2));
  EXPECT_EQ(bm.count(), 2U);
  bm.mark_out_of_sync(100 * 4096, 64 * 4096);
  EXPECT_EQ(bm.count(), 66U);
}

TEST(SyncBitmap, InSyncClearsOnlyWholeBlocks) {
  SyncBitmap bm(100);
  bm.set_bits(0, 100);
  bm.mark_in_sync(2048, 3 * 4096);  // whole blocks 1 and 2 only
  EXPECT_TRUE(bm.test(0));
  EXPECT_FALSE(bm.test(1));
  EXPECT_FALSE(bm.test(2));
  EXPECT_TRUE(bm.test(3));
  EXPECT_EQ(bm.count(), 98U);
}

TEST(SyncBitmap, RangesAreClampedToTheDevice) {
  SyncBitmap bm(70);
  bm.set_bits(60, 1000);
  EXPECT_EQ(bm.count(), 10U);
  EXPECT_FALSE(bm.test(70));
}

TEST(SyncBitmap, PageEncodingIsLsbFirstPerByte) {
  SyncBitmap bm(SyncBitmap::kBitsPerPage * 2 + 5);
  bm.set_bits(0, 1);
  bm.set_bits(9, 10);
  bm.set_bits(SyncBitmap::kBitsPerPage + 63, SyncBitmap::kBitsPerPage + 65);
  std::vector<std::byte> page(4096);
  bm.encode_page(0, page);
  EXPECT_EQ(page[0], std::byte{0x01});
  EXPECT_EQ(page[1], std::byte{0x02});
  bm.encode_page(1, page);
  EXPECT_EQ(page[7], std::byte{0x80});
  EXPECT_EQ(page[8], std::byte{0x01});
  EXPECT_EQ(bm.pages(), 3U);
}

TEST(SyncBitmap, DirtyPagesFollowChangesAndDecodeRoundTrips) {
  const uint64_t bits = SyncBitmap::kBitsPerPage * 3 + 17;
  SyncBitmap bm(bits);
  EXPECT_TRUE(bm.dirty_pages().empty());
  bm.set_extent(33);  // extent 33 lives in page 1
  EXPECT_EQ(bm.dirty_pages(), std::vector<uint64_t>{1});
  EXPECT_EQ(SyncBitmap::page_of_extent(33), 1U);
  bm.set_bits(bits - 3, bits);
  EXPECT_EQ(bm.dirty_pages(), (std::vector<uint64_t>{1, 3}));

  SyncBitmap copy(bits);
  std::vector<std::byte> page(4096);
  for (uint64_t p = 0; p < bm.pages(); ++p) {
    bm.encode_page(p, page);
    copy.decode_page(p, page);
  }
  EXPECT_EQ(copy, bm);
  EXPECT_EQ(copy.count(), 1024U + 3U);
  EXPECT_TRUE(copy.dirty_pages().empty());
}

TEST(SyncBitmap, DecodeIgnoresPaddingBits) {
  SyncBitmap bm(10);
  std::vector<std::byte> page(4096, std::byte{0xFF});
  bm.decode_page(0, page);
  EXPECT_EQ(bm.count(), 10U);
}

}  // namespace
}  // namespace tandem::storage
