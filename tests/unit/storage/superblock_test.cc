#include "storage/superblock.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/byte_order.h"
#include "common/crc32c.h"

namespace tandem::storage {
namespace {

Superblock sample() {
  Superblock sb;
  sb.sequence = 41;
  sb.flags = kFlagConsistent | kFlagPrimary | kFlagAlClean;
  sb.node_id = 3;
  for (uint8_t i = 0; i < 16; ++i) sb.device_uuid[i] = static_cast<uint8_t>(0xA0 + i);
  sb.gi = {0x1122334455667789ULL, 0x0102030405060708ULL, {0xAAULL, 0xBBULL}};
  auto g = compute_geometry({}, "d", 1ULL << 30, "d", 1ULL << 30, 1237);
  sb.geometry = *g;
  return sb;
}

std::vector<std::byte> encoded(const Superblock& sb) {
  std::vector<std::byte> buf(4096, std::byte{0xEE});
  encode_superblock(sb, buf);
  return buf;
}

// Recomputes the checksum after a test edits a field, so that the decoder's
// content checks (not the checksum) are exercised.
void reseal(std::vector<std::byte>& buf) {
  store_le<uint32_t>(buf, 4092, crc32c(std::span<const std::byte>(buf).first(4092)));
}

TEST(Superblock, RoundTrip) {
  const Superblock sb = sample();
  auto buf = encoded(sb);
  DecodedSlot d = decode_superblock(buf);
  ASSERT_EQ(d.problem, SlotProblem::kNone) << d.detail;
  EXPECT_EQ(*d.superblock, sb);
}

TEST(Superblock, FieldsAreLittleEndianAtDocumentedOffsets) {
  auto buf = encoded(sample());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), 8), "TANDEMMD");
  EXPECT_EQ(load_le<uint32_t>(buf, 8), 1U);
  EXPECT_EQ(buf[12], std::byte{0x0D});
  EXPECT_EQ(buf[15], std::byte{0x0A});
  EXPECT_EQ(load_le<uint64_t>(buf, 16), 41U);
  EXPECT_EQ(buf[48], std::byte{0x89});  // lowest byte of the current identifier
  EXPECT_EQ(load_le<uint64_t>(buf, 104), sample().geometry.usable_size);
  EXPECT_EQ(load_le<uint32_t>(buf, 144), 1237U);
  EXPECT_EQ(load_le<uint32_t>(buf, 156), 4096U);
  EXPECT_EQ(load_le<uint32_t>(buf, 160), 4U << 20);
  for (size_t i = 168; i < 4092; ++i) ASSERT_EQ(buf[i], std::byte{0}) << i;
}

TEST(Superblock, BlankAndForeign) {
  std::vector<std::byte> zero(4096, std::byte{0});
  EXPECT_EQ(decode_superblock(zero).problem, SlotProblem::kBlank);
  std::vector<std::byte> junk(4096, std::byte{0x37});
  EXPECT_EQ(decode_superblock(junk).problem, SlotProblem::kForeign);
  EXPECT_EQ(decode_superblock(std::span<const std::byte>(zero).first(100)).problem,
            SlotProblem::kInvalid);
}

TEST(Superblock, EveryFlippedBitIsDetected) {
  const auto good = encoded(sample());
  for (size_t byte = 0; byte < 4096; byte += 7) {
    auto buf = good;
    buf[byte] ^= std::byte{0x10};
    DecodedSlot d = decode_superblock(buf);
    EXPECT_NE(d.problem, SlotProblem::kNone) << "byte " << byte;
    EXPECT_FALSE(d.detail.empty());
  }
}

TEST(Superblock, TornWriteIsABadChecksum) {
  auto old_sb = sample();
  auto new_sb = old_sb;
  new_sb.sequence++;
  new_sb.gi.current = 0x9999999999999998ULL;
  new_sb.flags = 0;
  const auto a = encoded(old_sb);
  const auto b = encoded(new_sb);
  for (size_t sectors = 1; sectors < 8; ++sectors) {
    auto torn = a;
    std::copy(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(sectors * 512), torn.begin());
    EXPECT_EQ(decode_superblock(torn).problem, SlotProblem::kBadChecksum) << sectors;
  }
}

TEST(Superblock, VersionAndByteOrderAreReported) {
  auto buf = encoded(sample());
  store_le<uint32_t>(buf, 8, 7);
  DecodedSlot d = decode_superblock(buf);
  EXPECT_EQ(d.problem, SlotProblem::kBadVersion);
  EXPECT_NE(d.detail.find("version 7"), std::string::npos);
  buf = encoded(sample());
  buf[12] = std::byte{0x0A};
  buf[15] = std::byte{0x0D};
  EXPECT_EQ(decode_superblock(buf).problem, SlotProblem::kBadByteOrder);
}

TEST(Superblock, InconsistentContentsWithValidChecksum) {
  auto buf = encoded(sample());
  store_le<uint32_t>(buf, 24, 0x80000000U);  // unknown flag
  reseal(buf);
  DecodedSlot d = decode_superblock(buf);
  EXPECT_EQ(d.problem, SlotProblem::kInvalid);
  EXPECT_NE(d.detail.find("unknown flags"), std::string::npos);

  buf = encoded(sample());
  store_le<uint64_t>(buf, 120, 5);  // bitmap bits
  reseal(buf);
  EXPECT_EQ(decode_superblock(buf).problem, SlotProblem::kInvalid);

  buf = encoded(sample());
  store_le<uint32_t>(buf, 80, 9);  // meta-disk kind
  reseal(buf);
  EXPECT_EQ(decode_superblock(buf).problem, SlotProblem::kInvalid);
}

TEST(Superblock, FlagNamesAndUuid) {
  EXPECT_EQ(flag_names(0), "none");
  EXPECT_EQ(flag_names(kFlagConsistent | kFlagAlClean), "consistent,al-clean");
  EXPECT_EQ(flag_names(0x100), "unknown:0x00000100");
  DeviceUuid u{};
  u[0] = 0xAB;
  u[15] = 0x01;
  EXPECT_EQ(uuid_to_string(u), "ab000000-0000-0000-0000-000000000001");
}

}  // namespace
}  // namespace tandem::storage
