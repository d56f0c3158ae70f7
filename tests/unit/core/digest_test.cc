// Block digests: known vectors for every algorithm, names, wire values.
#include "core/digest.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::core {
namespace {

std::string hex(const std::string& raw) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (char c : raw) {
    const auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string digest_of(DigestAlg alg, std::string_view text) {
  return hex(compute_digest(alg, {reinterpret_cast<const std::byte*>(text.data()), text.size()}));
}

TEST(Digest, KnownVectors) {
  EXPECT_EQ(digest_of(DigestAlg::kCrc32c, "123456789"), "e3069283");
  EXPECT_EQ(digest_of(DigestAlg::kMd5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(digest_of(DigestAlg::kSha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(digest_of(DigestAlg::kSha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_of(DigestAlg::kNone, "abc"), "");
}

TEST(Digest, SizesMatchTheOutput) {
  for (DigestAlg alg :
       {DigestAlg::kCrc32c, DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha256}) {
    EXPECT_EQ(compute_digest(alg, {}).size(), digest_size(alg)) << to_string(alg);
  }
  EXPECT_EQ(digest_size(DigestAlg::kNone), 0U);
}

TEST(Digest, NamesAndWireValuesRoundTrip) {
  for (DigestAlg alg :
       {DigestAlg::kCrc32c, DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha256}) {
    EXPECT_EQ(parse_digest_alg(to_string(alg)), alg);
    EXPECT_EQ(digest_alg_from_wire(static_cast<uint32_t>(alg)), alg);
  }
  EXPECT_FALSE(parse_digest_alg("none"));
  EXPECT_FALSE(parse_digest_alg("sha512"));
  EXPECT_FALSE(digest_alg_from_wire(0));
  EXPECT_FALSE(digest_alg_from_wire(5));
  EXPECT_FALSE(digest_alg_from_wire(~0U));
}

}  // namespace
}  // namespace tandem::core
