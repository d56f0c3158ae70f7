#include "core/range_set.h"

#include <algorithm>
#include <iterator>

namespace tandem::core {

void RangeSet::insert(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  uint64_t start = offset;
  uint64_t end = offset + length;
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= start) it = prev;
  }
  while (it != ranges_.end() && it->first <= end) {
    start = std::min(start, it->first);
    end = std::max(end, it->second);
    total_ -= it->second - it->first;
    it = ranges_.erase(it);
  }
  ranges_.emplace(start, end);
  total_ += end - start;
}

void RangeSet::erase(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  const uint64_t start = offset;
  const uint64_t end = offset + length;
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first < end) {
    const uint64_t s = it->first;
    const uint64_t e = it->second;
    if (e <= start) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    total_ -= e - s;
    if (s < start) {
      ranges_.emplace(s, start);
      total_ += start - s;
    }
    if (e > end) {
      ranges_.emplace(end, e);
      total_ += e - end;
      break;
    }
  }
}

bool RangeSet::contains(uint64_t offset, uint64_t length) const {
  auto it = ranges_.upper_bound(offset);
  if (it == ranges_.begin()) return false;
  --it;
  return it->first <= offset && it->second >= offset + length;
}

bool RangeSet::intersects(uint64_t offset, uint64_t length) const {
  auto it = ranges_.lower_bound(offset + length);
  if (it == ranges_.begin()) return false;
  --it;
  return it->second > offset;
}

}  // namespace tandem::core
