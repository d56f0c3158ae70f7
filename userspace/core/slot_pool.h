// Fixed-identity storage for in-flight objects (requests, I/Os, received
// writes). Slots are reused after release, so the hot path does not
// allocate once the pool has grown to the working set. An id carries the
// slot index and a generation, so a stale or forged id from the wire is
// detected instead of aliasing a reused slot.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

namespace tandem::core {

template <typename T>
class SlotPool {
 public:
  // Stores `value` and returns its id (never 0).
  uint64_t insert(T value) {
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    Slot& s = slots_[index];
    s.value = std::move(value);
    s.used = true;
    ++size_;
    return (uint64_t{s.generation} << 32) | index;
  }

  T* find(uint64_t id) {
    const auto index = static_cast<uint32_t>(id & 0xFFFFFFFFU);
    const auto generation = static_cast<uint32_t>(id >> 32);
    if (index >= slots_.size()) return nullptr;
    Slot& s = slots_[index];
    if (!s.used || s.generation != generation) return nullptr;
    return &s.value;
  }

  // For ids the caller knows are live (taken from ids() or a checked path).
  T& at(uint64_t id) {
    T* p = find(id);
    if (p == nullptr) std::abort();
    return *p;
  }

  const T* find(uint64_t id) const { return const_cast<SlotPool*>(this)->find(id); }

  void erase(uint64_t id) {
    const auto index = static_cast<uint32_t>(id & 0xFFFFFFFFU);
    if (find(id) == nullptr) return;
    Slot& s = slots_[index];
    s.used = false;
    s.value = T{};
    // Generation 0 is never handed out so that id 0 means "none".
    if (++s.generation == 0) s.generation = 1;
    free_.push_back(index);
    --size_;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Calls fn(id, value) for every stored value (in slot order).
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].used) fn((uint64_t{slots_[i].generation} << 32) | i, slots_[i].value);
    }
  }

  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].used) fn((uint64_t{slots_[i].generation} << 32) | i, slots_[i].value);
    }
  }

  std::vector<uint64_t> ids() const {
    std::vector<uint64_t> out;
    out.reserve(size_);
    for_each([&](uint64_t id, const T&) { out.push_back(id); });
    return out;
  }

 private:
  struct Slot {
    T value{};
    uint32_t generation = 1;
    bool used = false;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t size_ = 0;
};

}  // namespace tandem::core
