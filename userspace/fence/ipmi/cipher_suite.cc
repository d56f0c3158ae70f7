#include "fence/ipmi/cipher_suite.h"

namespace tandem::ipmi {

std::optional<CipherSuite> cipher_suite(int id) {
  switch (id) {
    case 0:
      return CipherSuite{0, kAuthRakpNone, kIntegrityNone, kConfidentialityNone};
    case 1:
      return CipherSuite{1, kAuthRakpHmacSha1, kIntegrityNone, kConfidentialityNone};
    case 2:
      return CipherSuite{2, kAuthRakpHmacSha1, kIntegrityHmacSha1_96, kConfidentialityNone};
    case 3:
      return CipherSuite{3, kAuthRakpHmacSha1, kIntegrityHmacSha1_96, kConfidentialityAesCbc128};
    default:
      return std::nullopt;
  }
}

}  // namespace tandem::ipmi
