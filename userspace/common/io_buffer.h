// Byte buffers for block data: page-aligned, so that O_DIRECT reads and
// writes can use them as they are (no bounce copy), and not zero-filled
// when they grow, because a read or a receive overwrites them anyway.
#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace tandem {

inline constexpr size_t kIoBufferAlignment = 4096;

template <typename T>
struct IoBufferAllocator {
  using value_type = T;

  IoBufferAllocator() = default;
  template <typename U>
  IoBufferAllocator(const IoBufferAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kIoBufferAlignment}));
  }
  void deallocate(T* p, size_t) noexcept {
    // The unsized form: clang declares the sized one only with
    // -fsized-deallocation.
    ::operator delete (p, std::align_val_t{kIoBufferAlignment});
  }
  // resize() default-initializes: no zero fill.
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <typename U>
  bool operator==(const IoBufferAllocator<U>&) const noexcept {
    return true;
  }
};

using IoBuffer = std::vector<std::byte, IoBufferAllocator<std::byte>>;

}  // namespace tandem
