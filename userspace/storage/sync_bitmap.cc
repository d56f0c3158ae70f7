#include "storage/sync_bitmap.h"

#include <algorithm>
#include <bit>

#include "common/byte_order.h"

namespace tandem::storage {
namespace {
constexpr uint64_t kBlock = 4096;
constexpr uint64_t kWordsPerPage = SyncBitmap::kPageBytes / 8;
}  // namespace

SyncBitmap::SyncBitmap(uint64_t bits)
    : bits_(bits), words_((bits + 63) / 64, 0), dirty_(static_cast<size_t>(pages()), false) {}

bool SyncBitmap::test(uint64_t bit) const {
  return bit < bits_ && ((words_[bit / 64] >> (bit % 64)) & 1U) != 0;
}

void SyncBitmap::update(uint64_t first, uint64_t end, bool set) {
  end = std::min(end, bits_);
  if (first >= end) {
    return;
  }
  for (uint64_t page = first / kBitsPerPage; page <= (end - 1) / kBitsPerPage; ++page) {
    dirty_[page] = true;
  }
  uint64_t bit = first;
  while (bit < end) {
    const uint64_t word = bit / 64;
    const uint64_t lo = bit % 64;
    const uint64_t n = std::min<uint64_t>(64 - lo, end - bit);
    const uint64_t mask = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << lo;
    const uint64_t before = words_[word];
    words_[word] = set ? (before | mask) : (before & ~mask);
    count_ = count_ - static_cast<uint64_t>(std::popcount(before)) +
             static_cast<uint64_t>(std::popcount(words_[word]));
    bit += n;
  }
}

void SyncBitmap::set_bits(uint64_t first, uint64_t end) {
  update(first, end, true);
}
void SyncBitmap::clear_bits(uint64_t first, uint64_t end) {
  update(first, end, false);
}

void SyncBitmap::mark_out_of_sync(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  const uint64_t last_byte = offset + (length - 1);
  set_bits(offset / kBlock, last_byte / kBlock + 1);
}

void SyncBitmap::mark_in_sync(uint64_t offset, uint64_t length) {
  const uint64_t first = (offset + kBlock - 1) / kBlock;
  const uint64_t end = (offset + length) / kBlock;
  if (first < end) {
    clear_bits(first, end);
  }
}

void SyncBitmap::set_extent(uint32_t extent) {
  const uint64_t first = uint64_t{extent} * kBitsPerExtent;
  set_bits(first, first + kBitsPerExtent);
}

std::vector<uint64_t> SyncBitmap::dirty_pages() const {
  std::vector<uint64_t> out;
  for (size_t p = 0; p < dirty_.size(); ++p) {
    if (dirty_[p]) out.push_back(p);
  }
  return out;
}

void SyncBitmap::mark_all_dirty() {
  std::fill(dirty_.begin(), dirty_.end(), true);
}

void SyncBitmap::encode_page(uint64_t page, std::span<std::byte> out) const {
  for (uint64_t i = 0; i < kWordsPerPage; ++i) {
    const uint64_t w = page * kWordsPerPage + i;
    store_le<uint64_t>(out, static_cast<size_t>(i * 8), w < words_.size() ? words_[w] : 0);
  }
}

void SyncBitmap::decode_page(uint64_t page, std::span<const std::byte> in) {
  for (uint64_t i = 0; i < kWordsPerPage; ++i) {
    const uint64_t w = page * kWordsPerPage + i;
    if (w >= words_.size()) break;
    uint64_t v = load_le<uint64_t>(in, static_cast<size_t>(i * 8));
    if (w == words_.size() - 1 && bits_ % 64 != 0) {
      v &= (uint64_t{1} << (bits_ % 64)) - 1;  // padding bits carry no meaning
    }
    count_ = count_ - static_cast<uint64_t>(std::popcount(words_[w])) +
             static_cast<uint64_t>(std::popcount(v));
    words_[w] = v;
  }
  dirty_[page] = false;
}

}  // namespace tandem::storage
