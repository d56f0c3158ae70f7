// FuseFileServer: a volume shown as one regular file in a FUSE mount, so
// that `losetup` can make a kernel block device of it on machines without
// nbd or ublk. Built on libfuse's low-level API without its loop: the owner
// watches fd(), calls on_readable() when it is readable, and answers each
// submitted request with complete(), in any order and whenever it likes —
// nothing here blocks or starts a thread.
//
// The mount point holds one file named after the volume, of the volume's
// size, opened in direct-I/O mode (no page cache in between, so a node that
// becomes primary never serves stale cached data). Operations map to volume
// requests as fuse/file_request.h says; opening for writing while the
// volume is not writable fails with EROFS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "fuse/file_request.h"
#include "nbd/block_volume.h"

struct fuse_session;
struct fuse_req;

namespace tandem::fuse {

struct FileExportOptions {
  std::string mount_point;  // a directory; created when missing
  std::string file_name;    // the one file in it
  FileGeometry geometry;
  std::string who;      // names the export in log lines, e.g. "resource r0"
  std::string fs_name;  // source shown in the mount table, e.g. "tandem:r0"
};

class FuseFileServer {
 public:
  // `submit` receives requests with a unique id; answer each with
  // complete(). `writable` says whether the volume takes writes now.
  using Submit = std::function<void(nbd::BlockRequest&& request)>;
  using Writable = std::function<bool()>;

  // Clears a stale mount a dead server left at the mount point first (and
  // says which loop devices still point into it); refuses a live one.
  static Result<std::unique_ptr<FuseFileServer>> mount(FileExportOptions options, Submit submit,
                                                       Writable writable);
  // Answers what is still pending with EIO, then unmounts (lazily: never
  // waits for users of the file, whose further I/O fails).
  ~FuseFileServer();
  FuseFileServer(const FuseFileServer&) = delete;
  FuseFileServer& operator=(const FuseFileServer&) = delete;

  // The /dev/fuse descriptor (non-blocking) to watch for POLLIN.
  int fd() const { return fd_; }
  // Reads and dispatches the requests the kernel queued. False once the
  // file system is gone (unmounted from outside): stop watching then.
  bool on_readable();
  void complete(nbd::BlockRequest&& request, int error);

  const std::string& mount_point() const { return options_.mount_point; }
  std::string file_path() const { return options_.mount_point + "/" + options_.file_name; }
  // Open file handles: a loop device holds one.
  size_t open_files() const { return open_files_; }
  size_t pending() const { return pending_.size(); }

  // libfuse's callbacks (fuse_file_ops.cc) reach the server through these.
  struct Ops;

 private:
  enum class Kind : uint8_t { kRead, kWrite, kOther };
  struct Pending {
    fuse_req* req = nullptr;
    Kind kind = Kind::kOther;
    uint32_t skip = 0;
    uint32_t reply_length = 0;  // read: bytes to answer; write: bytes written
  };

  FuseFileServer(FileExportOptions options, Submit submit, Writable writable)
      : options_(std::move(options)), submit_(std::move(submit)), writable_(std::move(writable)) {}

  // Runs a mapped operation: answers at once or hands it to the volume.
  void run(fuse_req* req, MappedRequest mapped, Kind kind, uint32_t written);

  FileExportOptions options_;
  Submit submit_;
  Writable writable_;
  fuse_session* session_ = nullptr;
  int fd_ = -1;
  bool mounted_ = false;
  int64_t mounted_at_ = 0;  // seconds since the epoch: the file's times
  size_t open_files_ = 0;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
  std::vector<char> buffer_;  // one kernel request at a time
};

}  // namespace tandem::fuse
