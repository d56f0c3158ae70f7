#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

namespace tandem {
namespace {

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(crc32c(bytes("123456789")), 0xE3069283U);
  EXPECT_EQ(crc32c_extend_portable(0, bytes("123456789")), 0xE3069283U);
}

TEST(Crc32c, KnownVectorsFromRfc3720) {
  // iSCSI (RFC 3720, B.4): 32 bytes of zeroes and of 0xFF.
  std::vector<std::byte> zeroes(32, std::byte{0});
  std::vector<std::byte> ones(32, std::byte{0xFF});
  EXPECT_EQ(crc32c(zeroes), 0x8A9136AAU);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43U);
  std::vector<std::byte> ascending(32);
  for (size_t i = 0; i < 32; ++i) ascending[i] = static_cast<std::byte>(i);
  EXPECT_EQ(crc32c(ascending), 0x46DD794EU);
}

TEST(Crc32c, EmptyInputIsZero) {
  EXPECT_EQ(crc32c({}), 0U);
}

TEST(Crc32c, HardwareAndPortableAgreeOnEveryLengthAndAlignment) {
  std::mt19937 rng(42);
  std::vector<std::byte> data(4096 + 16);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; len < 300; ++len) {
      auto s = std::span<const std::byte>(data).subspan(start, len);
      ASSERT_EQ(crc32c(s), crc32c_extend_portable(0, s)) << start << "+" << len;
    }
  }
  auto whole = std::span<const std::byte>(data);
  EXPECT_EQ(crc32c(whole), crc32c_extend_portable(0, whole));
}

TEST(Crc32c, ExtendEqualsWholeInput) {
  const std::string_view text = "the quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const uint32_t first = crc32c(bytes(text.substr(0, cut)));
    EXPECT_EQ(crc32c_extend(first, bytes(text.substr(cut))), crc32c(bytes(text)));
  }
}

TEST(Crc32c, DetectsSingleBitFlip) {
  std::vector<std::byte> data(512, std::byte{0x5A});
  const uint32_t before = crc32c(data);
  data[100] ^= std::byte{0x04};
  EXPECT_NE(crc32c(data), before);
}

}  // namespace
}  // namespace tandem
