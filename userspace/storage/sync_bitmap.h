// The quick-sync bitmap: one bit per 4 KiB block of the data area, set while
// the block may differ from the peer's copy. Held in memory; pages that
// changed are tracked so that only they are written back (4 KiB each, bit i
// of the bitmap is bit i % 8 of byte i / 8). Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem::storage {

class SyncBitmap {
 public:
  static constexpr uint64_t kPageBytes = 4096;
  static constexpr uint64_t kBitsPerPage = kPageBytes * 8;
  static constexpr uint64_t kBitsPerExtent = (4ULL << 20) / 4096;

  explicit SyncBitmap(uint64_t bits);

  uint64_t bits() const { return bits_; }
  uint64_t pages() const { return (bits_ + kBitsPerPage - 1) / kBitsPerPage; }
  uint64_t count() const { return count_; }
  bool test(uint64_t bit) const;

  // Bits of every block touched by [offset, offset + length) of the data area.
  void mark_out_of_sync(uint64_t offset, uint64_t length);
  // Clears only blocks wholly inside the range: a partly written block may
  // still differ.
  void mark_in_sync(uint64_t offset, uint64_t length);
  void set_bits(uint64_t first, uint64_t end);  // [first, end), clamped to bits()
  void clear_bits(uint64_t first, uint64_t end);
  // Every block of an activity-log extent (used when replaying the log).
  void set_extent(uint32_t extent);

  bool page_dirty(uint64_t page) const { return dirty_[page]; }
  std::vector<uint64_t> dirty_pages() const;
  void mark_page_clean(uint64_t page) { dirty_[page] = false; }
  void mark_all_dirty();
  static uint64_t page_of_extent(uint32_t extent) {
    return uint64_t{extent} * kBitsPerExtent / kBitsPerPage;
  }

  // Page `page` in on-disk form (kPageBytes long).
  void encode_page(uint64_t page, std::span<std::byte> out) const;
  // Loads a page read from disk; bits beyond bits() are ignored. The page
  // is then clean.
  void decode_page(uint64_t page, std::span<const std::byte> in);

  bool operator==(const SyncBitmap& other) const {
    return bits_ == other.bits_ && words_ == other.words_;
  }

 private:
  void update(uint64_t first, uint64_t end, bool set);

  uint64_t bits_;
  uint64_t count_ = 0;
  std::vector<uint64_t> words_;
  std::vector<bool> dirty_;
};

}  // namespace tandem::storage
