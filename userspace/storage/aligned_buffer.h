// A heap buffer aligned for O_DIRECT I/O (4 KiB), zero-filled on creation.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace tandem::storage {

inline constexpr size_t kIoAlignment = 4096;

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size) : size_(size) {
    if (size == 0) {
      return;
    }
    const size_t rounded = (size + kIoAlignment - 1) / kIoAlignment * kIoAlignment;
    void* p = std::aligned_alloc(kIoAlignment, rounded);
    if (p == nullptr) {
      throw std::bad_alloc();
    }
    std::memset(p, 0, rounded);
    data_.reset(static_cast<std::byte*>(p));
  }

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<std::byte> span() { return {data_.get(), size_}; }
  std::span<const std::byte> span() const { return {data_.get(), size_}; }
  void fill_zero() {
    if (size_ != 0) std::memset(data_.get(), 0, size_);
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t size_ = 0;
};

}  // namespace tandem::storage
