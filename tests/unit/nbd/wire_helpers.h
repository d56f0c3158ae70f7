// Test helpers: build what an NBD client sends and pick apart what the
// server answers, independently of the server's own encoders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/io_buffer.h"
#include "gtest/gtest.h"

namespace tandem::nbd::test {

using Bytes = std::vector<std::byte>;

// Block request data is an IoBuffer; these convert for comparisons.
inline IoBuffer io(const Bytes& b) {
  return IoBuffer(b.begin(), b.end());
}
inline Bytes plain(const IoBuffer& b) {
  return Bytes(b.begin(), b.end());
}

inline void be(Bytes& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

inline Bytes client_flags(uint32_t flags) {
  Bytes b;
  be(b, flags, 4);
  return b;
}

inline Bytes option(uint32_t opt, const Bytes& data) {
  Bytes b;
  be(b, 0x49484156454f5054ULL, 8);
  be(b, opt, 4);
  be(b, data.size(), 4);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline Bytes text(const std::string& s) {
  Bytes b;
  for (char c : s) b.push_back(static_cast<std::byte>(c));
  return b;
}

// NBD_OPT_GO / NBD_OPT_INFO data.
inline Bytes go_data(const std::string& name, const std::vector<uint16_t>& infos) {
  Bytes b;
  be(b, name.size(), 4);
  const Bytes n = text(name);
  b.insert(b.end(), n.begin(), n.end());
  be(b, infos.size(), 2);
  for (uint16_t i : infos) be(b, i, 2);
  return b;
}

inline Bytes request(uint16_t flags, uint16_t type, uint64_t cookie, uint64_t offset,
                     uint32_t length) {
  Bytes b;
  be(b, 0x25609513u, 4);
  be(b, flags, 2);
  be(b, type, 2);
  be(b, cookie, 8);
  be(b, offset, 8);
  be(b, length, 4);
  return b;
}

inline Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
  return b;
}

// Sequential reader over server output; a read past the end fails the test
// and yields zeroes.
class Reader {
 public:
  explicit Reader(Bytes bytes) : b_(std::move(bytes)) {}
  uint64_t get(int n) {
    if (pos_ + static_cast<size_t>(n) > b_.size()) {
      ADD_FAILURE() << "read of " << n << " bytes past the end (" << b_.size() << ")";
      pos_ = b_.size();
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint64_t>(b_[pos_++]);
    return v;
  }
  uint16_t u16() { return static_cast<uint16_t>(get(2)); }
  uint32_t u32() { return static_cast<uint32_t>(get(4)); }
  uint64_t u64() { return get(8); }
  Bytes take(size_t n) {
    if (pos_ + n > b_.size()) {
      ADD_FAILURE() << "take of " << n << " bytes past the end";
      n = b_.size() - pos_;
    }
    Bytes out(b_.begin() + static_cast<std::ptrdiff_t>(pos_),
              b_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return out;
  }
  size_t left() const { return b_.size() - pos_; }

 private:
  Bytes b_;
  size_t pos_ = 0;
};

struct OptionReply {
  uint32_t option = 0;
  uint32_t type = 0;
  Bytes data;
};

inline OptionReply read_option_reply(Reader& r) {
  EXPECT_EQ(r.u64(), 0x0003e889045565a9ULL);
  OptionReply out;
  out.option = r.u32();
  out.type = r.u32();
  out.data = r.take(r.u32());
  return out;
}

struct SimpleReply {
  uint32_t error = 0;
  uint64_t cookie = 0;
};

inline SimpleReply read_simple_reply(Reader& r) {
  EXPECT_EQ(r.u32(), 0x67446698u);
  SimpleReply out;
  out.error = r.u32();
  out.cookie = r.u64();
  return out;
}

struct Chunk {
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t cookie = 0;
  Bytes payload;
};

inline Chunk read_chunk(Reader& r) {
  EXPECT_EQ(r.u32(), 0x668e33efu);
  Chunk c;
  c.flags = r.u16();
  c.type = r.u16();
  c.cookie = r.u64();
  c.payload = r.take(r.u32());
  return c;
}

}  // namespace tandem::nbd::test
