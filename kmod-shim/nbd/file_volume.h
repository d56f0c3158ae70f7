// FileVolume: a BlockVolume over a regular file or a block device, with
// pread/pwrite/fdatasync and fallocate for trim and write-zeroes (falling
// back to writing zeroes where fallocate cannot). Requests run on a small
// worker pool, so they complete out of order like the engine's will.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "nbd/block_volume.h"
#include "nbd/worker_pool.h"

namespace tandem::nbd {

class FileVolume : public BlockVolume {
 public:
  struct Options {
    bool read_only = false;
    unsigned workers = 4;
  };

  static Result<std::unique_ptr<FileVolume>> open(const std::string& path, Options options);
  // Waits for queued requests to finish.
  ~FileVolume() override;

  uint64_t size() const override { return size_; }
  bool read_only() const override { return read_only_; }
  // One file descriptor and the page cache are shared by every connection,
  // and fdatasync covers all of them.
  bool flush_covers_all_connections() const override { return true; }
  std::string describe() const override {
    return (block_device_ ? "block device " : "file ") + path_;
  }
  void submit(BlockRequest request, Completion done) override;

  // Runs one request on the calling thread; returns 0 or an errno.
  int execute(BlockRequest& request);

 private:
  FileVolume(std::string path, int fd, uint64_t size, bool read_only, bool block_device,
             unsigned workers);

  int do_read(BlockRequest& r);
  int do_write(const BlockRequest& r);
  int do_trim(const BlockRequest& r);
  int do_write_zeroes(const BlockRequest& r);
  int write_zero_bytes(uint64_t offset, uint64_t length);
  int sync();
  int fail(const BlockRequest& r, const char* what, int err);

  std::string path_;
  int fd_;
  uint64_t size_;
  bool read_only_;
  bool block_device_;
  std::unique_ptr<WorkerPool> pool_;  // stopped before the descriptor closes
};

}  // namespace tandem::nbd
