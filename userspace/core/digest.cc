#include "core/digest.h"

#include <openssl/evp.h>

#include "common/crc32c.h"

namespace tandem::core {

namespace {

const EVP_MD* evp_for(DigestAlg alg) {
  switch (alg) {
    case DigestAlg::kMd5:
      return EVP_md5();
    case DigestAlg::kSha1:
      return EVP_sha1();
    case DigestAlg::kSha256:
      return EVP_sha256();
    case DigestAlg::kNone:
    case DigestAlg::kCrc32c:
      break;
  }
  return nullptr;
}

}  // namespace

size_t digest_size(DigestAlg alg) {
  switch (alg) {
    case DigestAlg::kNone:
      return 0;
    case DigestAlg::kCrc32c:
      return 4;
    case DigestAlg::kMd5:
      return 16;
    case DigestAlg::kSha1:
      return 20;
    case DigestAlg::kSha256:
      return 32;
  }
  return 0;
}

std::optional<DigestAlg> parse_digest_alg(std::string_view name) {
  for (DigestAlg alg :
       {DigestAlg::kCrc32c, DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha256}) {
    if (name == to_string(alg)) return alg;
  }
  return std::nullopt;
}

std::optional<DigestAlg> digest_alg_from_wire(uint32_t value) {
  switch (value) {
    case static_cast<uint32_t>(DigestAlg::kCrc32c):
      return DigestAlg::kCrc32c;
    case static_cast<uint32_t>(DigestAlg::kMd5):
      return DigestAlg::kMd5;
    case static_cast<uint32_t>(DigestAlg::kSha1):
      return DigestAlg::kSha1;
    case static_cast<uint32_t>(DigestAlg::kSha256):
      return DigestAlg::kSha256;
    default:
      return std::nullopt;
  }
}

std::string compute_digest(DigestAlg alg, std::span<const std::byte> data) {
  if (alg == DigestAlg::kNone) return {};
  if (alg == DigestAlg::kCrc32c) {
    const uint32_t crc = crc32c(data);
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i)
      out[static_cast<size_t>(i)] = static_cast<char>(crc >> (24 - 8 * i));
    return out;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // EVP_Digest fails only when OpenSSL itself is broken (no memory, or the
  // algorithm disabled by a FIPS policy): an empty digest never equals a
  // real one, so the block is then treated as differing, which is safe.
  if (EVP_Digest(data.data(), data.size(), md, &md_len, evp_for(alg), nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(md), md_len);
}

}  // namespace tandem::core
