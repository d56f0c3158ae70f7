#include "storage/fs_signature.h"

#include <cstring>
#include <string_view>

#include "common/byte_order.h"

namespace tandem::storage {
namespace {

bool has(std::span<const std::byte> head, size_t offset, std::string_view magic) {
  return offset <= head.size() && magic.size() <= head.size() - offset &&
         std::memcmp(head.data() + offset, magic.data(), magic.size()) == 0;
}

}  // namespace

std::optional<std::string> detect_signature(std::span<const std::byte> head) {
  struct Magic {
    size_t offset;
    std::string_view bytes;
    const char* name;
  };
  static constexpr Magic kMagics[] = {
      {0, "XFSB", "XFS file system"},
      {0, "LUKS\xba\xbe", "LUKS encrypted volume"},
      {512, "LABELONE", "LVM physical volume"},
      {512, "EFI PART", "GPT partition table"},
      {3, "NTFS    ", "NTFS file system"},
      {82, "FAT32   ", "FAT32 file system"},
      {54, "FAT16   ", "FAT16 file system"},
      {54, "FAT12   ", "FAT12 file system"},
      {4086, "SWAPSPACE2", "swap space"},
      {4086, "SWAP-SPACE", "swap space"},
      {32769, "CD001", "ISO 9660 file system"},
      {65600, "_BHRfS_M", "btrfs file system"},
      {65536 + 0x34, "ReIsEr", "ReiserFS file system"},
  };
  for (const Magic& m : kMagics) {
    if (has(head, m.offset, m.bytes)) {
      return std::string(m.name);
    }
  }
  // ext2/3/4: superblock at 1024, s_magic 0xEF53 (little-endian) at +56.
  if (head.size() >= 1024 + 58 && load_le<uint16_t>(head, 1024 + 56) == 0xEF53) {
    return std::string("ext2/3/4 file system");
  }
  // GFS2: superblock at 64 KiB, magic 0x01161970 big-endian.
  if (has(head, 65536, std::string_view("\x01\x16\x19\x70", 4))) {
    return std::string("GFS2 file system");
  }
  // A boot sector / MBR partition table ends its first sector with 55 AA.
  if (head.size() >= 512 && head[510] == std::byte{0x55} && head[511] == std::byte{0xAA}) {
    return std::string("MBR partition table or boot sector");
  }
  return std::nullopt;
}

}  // namespace tandem::storage
