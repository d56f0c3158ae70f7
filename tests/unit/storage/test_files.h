// Temporary files for tests that need a real file (io_uring backing,
// tandemadm): created in the test temp directory, removed on destruction.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace tandem::storage::testing {

class TempFile {
 public:
  // A sparse file of `size` bytes.
  explicit TempFile(uint64_t size, const std::string& tag = "disk") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = info != nullptr ? info->name() : "test";
    for (char& c : test) {
      if (c == '/') c = '_';
    }
    path_ = (std::filesystem::path(::testing::TempDir()) /
             ("tandem-" + std::to_string(getpid()) + "-" + test + "-" + tag))
                .string();
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ok_ = fd >= 0 && ftruncate(fd, static_cast<off_t>(size)) == 0;
    if (fd >= 0) ::close(fd);
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  bool ok() const { return ok_; }

 private:
  std::string path_;
  bool ok_ = false;
};

}  // namespace tandem::storage::testing
