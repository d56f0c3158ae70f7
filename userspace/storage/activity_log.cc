#include "storage/activity_log.h"

#include <algorithm>
#include <stdexcept>

#include "storage/md_geometry.h"

namespace tandem::storage {

ActivityLog::ActivityLog(uint32_t capacity, uint64_t extent_count, uint64_t last_number,
                         std::span<const uint32_t> hot)
    : capacity_(capacity),
      extent_count_(extent_count),
      prepared_(last_number),
      durable_(last_number) {
  for (uint32_t e : hot) {
    entries_[e] = Entry{State::kHot, last_number, 0, 0};
  }
  idle_ = static_cast<uint32_t>(entries_.size());
}

std::pair<uint32_t, uint32_t> ActivityLog::extent_range(uint64_t offset, uint64_t length) const {
  if (length == 0) {
    throw std::logic_error("activity log: empty write range");
  }
  const uint64_t first = offset / kAlExtentBytes;
  const uint64_t last = (offset + length - 1) / kAlExtentBytes;
  if (last >= extent_count_) {
    throw std::logic_error("activity log: write beyond the data area");
  }
  return {static_cast<uint32_t>(first), static_cast<uint32_t>(last)};
}

ActivityLog::Admission ActivityLog::begin_write(uint64_t offset, uint64_t length) {
  const auto [first, last] = extent_range(offset, length);
  uint64_t missing = 0;
  uint64_t idle_in_range = 0;
  for (uint64_t e = first; e <= last; ++e) {
    auto it = entries_.find(static_cast<uint32_t>(e));
    if (it == entries_.end()) {
      ++missing;
    } else if (it->second.refs == 0) {
      ++idle_in_range;
    }
  }
  // After this write, entries that are busy or staged cannot be evicted;
  // they must fit in the capacity.
  const uint64_t pinned = entries_.size() - idle_ + idle_in_range + missing;
  if (pinned > capacity_) {
    return {Status::kFull, 0};
  }
  Admission a;
  ++clock_;
  for (uint64_t e = first; e <= last; ++e) {
    auto [it, inserted] = entries_.try_emplace(static_cast<uint32_t>(e));
    Entry& entry = it->second;
    if (inserted) {
      entry.state = State::kStaged;
      ++staged_;
    } else if (entry.refs == 0) {
      --idle_;
    }
    ++entry.refs;
    entry.last_use = clock_;
    const uint64_t needed = entry.state == State::kStaged    ? prepared_ + 1
                            : entry.state == State::kWriting ? entry.tx
                                                             : 0;
    a.durable_after = std::max(a.durable_after, needed);
  }
  a.status = a.durable_after > durable_ ? Status::kNeedsTransaction : Status::kReady;
  return a;
}

void ActivityLog::end_write(uint64_t offset, uint64_t length) {
  const auto [first, last] = extent_range(offset, length);
  for (uint64_t e = first; e <= last; ++e) {
    auto it = entries_.find(static_cast<uint32_t>(e));
    if (it == entries_.end() || it->second.refs == 0) {
      throw std::logic_error("activity log: end_write without begin_write");
    }
    if (--it->second.refs == 0) {
      ++idle_;
    }
  }
}

AlTransaction ActivityLog::snapshot(uint64_t number, uint32_t added, uint32_t evicted) const {
  AlTransaction tx{.number = number, .hot = {}, .added = added, .evicted = evicted};
  tx.hot.reserve(entries_.size());
  for (const auto& [e, entry] : entries_) {
    tx.hot.push_back(e);
  }
  std::sort(tx.hot.begin(), tx.hot.end());
  return tx;
}

ActivityLog::Prepared ActivityLog::prepare_transaction() {
  Prepared p;
  const uint64_t number = ++prepared_;
  const uint32_t added = staged_;
  for (auto& [e, entry] : entries_) {
    if (entry.state == State::kStaged) {
      entry.state = State::kWriting;
      entry.tx = number;
    }
  }
  staged_ = 0;
  if (entries_.size() > capacity_) {
    // Least recently used idle extents go first.
    std::vector<std::pair<uint64_t, uint32_t>> idle;
    for (const auto& [e, entry] : entries_) {
      if (entry.refs == 0) idle.emplace_back(entry.last_use, e);
    }
    std::sort(idle.begin(), idle.end());
    const size_t excess = entries_.size() - capacity_;
    if (idle.size() < excess) {
      throw std::logic_error("activity log: admitted more busy extents than its capacity");
    }
    for (size_t i = 0; i < excess; ++i) {
      entries_.erase(idle[i].second);
      p.evicted.push_back(idle[i].second);
      --idle_;
    }
    std::sort(p.evicted.begin(), p.evicted.end());
  }
  p.tx = snapshot(number, added, static_cast<uint32_t>(p.evicted.size()));
  return p;
}

ActivityLog::Prepared ActivityLog::prepare_clear() {
  if (idle_ != entries_.size()) {
    throw std::logic_error("activity log: clearing while writes are in flight");
  }
  Prepared p;
  for (const auto& [e, entry] : entries_) {
    p.evicted.push_back(e);
  }
  std::sort(p.evicted.begin(), p.evicted.end());
  entries_.clear();
  idle_ = 0;
  staged_ = 0;
  p.tx = snapshot(++prepared_, 0, static_cast<uint32_t>(p.evicted.size()));
  return p;
}

void ActivityLog::transaction_durable(uint64_t number) {
  durable_ = std::max(durable_, number);
  for (auto& [e, entry] : entries_) {
    if (entry.state == State::kWriting && entry.tx <= durable_) {
      entry.state = State::kHot;
    }
  }
}

std::vector<uint32_t> ActivityLog::extents() const {
  return snapshot(0, 0, 0).hot;
}

bool ActivityLog::is_hot(uint32_t extent) const {
  auto it = entries_.find(extent);
  return it != entries_.end() && it->second.state == State::kHot;
}

}  // namespace tandem::storage
