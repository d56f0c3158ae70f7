// A set of byte ranges with merge on insert and split on erase, used for
// the out-of-sync ranges the core knows about (status) and by tests.
#pragma once

#include <cstdint>
#include <map>

namespace tandem::core {

class RangeSet {
 public:
  void insert(uint64_t offset, uint64_t length);
  void erase(uint64_t offset, uint64_t length);
  void clear() {
    ranges_.clear();
    total_ = 0;
  }
  bool contains(uint64_t offset, uint64_t length) const;
  bool intersects(uint64_t offset, uint64_t length) const;
  uint64_t total_bytes() const { return total_; }
  bool empty() const { return ranges_.empty(); }
  const std::map<uint64_t, uint64_t>& ranges() const { return ranges_; }  // start -> end

 private:
  std::map<uint64_t, uint64_t> ranges_;
  uint64_t total_ = 0;  // kept current so that status() is O(1)
};

inline bool overlaps(uint64_t a_off, uint64_t a_len, uint64_t b_off, uint64_t b_len) {
  return a_off < b_off + b_len && b_off < a_off + a_len;
}

}  // namespace tandem::core
