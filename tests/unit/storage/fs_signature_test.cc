#include "storage/fs_signature.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace tandem::storage {
namespace {

std::vector<std::byte> head_with(size_t offset, const void* magic, size_t n) {
  std::vector<std::byte> head(kSignatureProbeBytes);
  std::memcpy(head.data() + offset, magic, n);
  return head;
}

TEST(FsSignature, RecognisesCommonFormats) {
  const uint8_t ext[] = {0x53, 0xEF};
  EXPECT_EQ(detect_signature(head_with(1080, ext, 2)), "ext2/3/4 file system");
  EXPECT_EQ(detect_signature(head_with(0, "XFSB", 4)), "XFS file system");
  EXPECT_EQ(detect_signature(head_with(65600, "_BHRfS_M", 8)), "btrfs file system");
  EXPECT_EQ(detect_signature(head_with(4086, "SWAPSPACE2", 10)), "swap space");
  EXPECT_EQ(detect_signature(head_with(512, "LABELONE", 8)), "LVM physical volume");
  const uint8_t gfs2[] = {0x01, 0x16, 0x19, 0x70};
  EXPECT_EQ(detect_signature(head_with(65536, gfs2, 4)), "GFS2 file system");
  const uint8_t mbr[] = {0x55, 0xAA};
  EXPECT_EQ(detect_signature(head_with(510, mbr, 2)), "MBR partition table or boot sector");
}

TEST(FsSignature, NothingOnZeroesOrShortInput) {
  std::vector<std::byte> zero(kSignatureProbeBytes);
  EXPECT_FALSE(detect_signature(zero).has_value());
  std::vector<std::byte> tiny(3, std::byte{0x58});
  EXPECT_FALSE(detect_signature(tiny).has_value());
  // A real ext4 image made by mkfs.ext4 is checked by the tandemadm test.
}

}  // namespace
}  // namespace tandem::storage
