#include "fence/ipmi/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

namespace tandem::ipmi {

Sha1Digest hmac_sha1(ByteSpan key, ByteSpan data) {
  Sha1Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &len);
  return out;
}

Md5Digest md5(ByteSpan data) {
  Md5Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Result<Bytes> aes_cbc_128(ByteSpan key, ByteSpan iv, ByteSpan in, bool encrypt) {
  if (key.size() < 16 || iv.size() != 16) return make_error("AES-CBC-128: bad key or IV length");
  if (in.size() % 16 != 0) {
    return make_error("AES-CBC-128: data length " + std::to_string(in.size()) +
                      " is not a multiple of the 16-byte block");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) return make_error("AES-CBC-128: out of memory");
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key.data(), iv.data(),
                        encrypt ? 1 : 0) != 1) {
    return make_error("AES-CBC-128: cipher initialisation failed");
  }
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  Bytes out(in.size() + 16);
  int len = 0;
  int total = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1) {
    return make_error("AES-CBC-128: cipher update failed");
  }
  total = len;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + total, &len) != 1) {
    return make_error("AES-CBC-128: cipher finalisation failed");
  }
  total += len;
  out.resize(static_cast<std::size_t>(total));
  return out;
}

}  // namespace

Result<Bytes> aes_cbc_128_encrypt(ByteSpan key, ByteSpan iv, ByteSpan plaintext) {
  return aes_cbc_128(key, iv, plaintext, true);
}

Result<Bytes> aes_cbc_128_decrypt(ByteSpan key, ByteSpan iv, ByteSpan ciphertext) {
  return aes_cbc_128(key, iv, ciphertext, false);
}

bool equal_digest(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tandem::ipmi
