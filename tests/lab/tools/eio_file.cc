// tandem-eio-file: serves one file over FUSE, backed by a real file, that
// fails chosen byte ranges with EIO on command. Attached through losetup it
// is a block device with bad sectors, for testing on-io-error handling on
// a machine without device-mapper's error targets.
//
//   tandem-eio-file BACKING MOUNTPOINT
//
// MOUNTPOINT/disk is the device file (direct I/O: every read and write
// reaches this program, none is served from the page cache).
// MOUNTPOINT/control takes one command per write:
//   fail read|write|rw OFFSET LENGTH   fail requests touching the range
//   clear                              fail nothing any more
// and reading it lists the rules and how many requests failed.
#define FUSE_USE_VERSION 31
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Rule {
  bool reads = false;
  bool writes = false;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct State {
  int backing_fd = -1;
  std::mutex mu;
  std::vector<Rule> rules;
  uint64_t failed_reads = 0;
  uint64_t failed_writes = 0;
};

State g_state;
constexpr const char* kDisk = "/disk";
constexpr const char* kControl = "/control";

bool must_fail(bool is_write, uint64_t off, uint64_t len) {
  std::lock_guard lock(g_state.mu);
  for (const Rule& r : g_state.rules) {
    if ((is_write ? r.writes : r.reads) && off < r.offset + r.length && r.offset < off + len) {
      (is_write ? g_state.failed_writes : g_state.failed_reads) += 1;
      return true;
    }
  }
  return false;
}

std::string control_text() {
  std::lock_guard lock(g_state.mu);
  std::ostringstream out;
  for (const Rule& r : g_state.rules) {
    out << "fail "
        << (r.reads && r.writes ? "rw"
            : r.reads           ? "read"
                                : "write")
        << " " << r.offset << " " << r.length << "\n";
  }
  out << "failed reads " << g_state.failed_reads << "\nfailed writes " << g_state.failed_writes
      << "\n";
  return out.str();
}

int apply_command(const std::string& text) {
  std::istringstream in(text);
  std::string verb, kind;
  in >> verb;
  std::lock_guard lock(g_state.mu);
  if (verb == "clear") {
    g_state.rules.clear();
    std::fprintf(stderr, "eio-file: cleared all failure rules\n");
    return 0;
  }
  Rule r;
  if (verb != "fail" || !(in >> kind >> r.offset >> r.length) || r.length == 0 ||
      (kind != "read" && kind != "write" && kind != "rw")) {
    std::fprintf(stderr,
                 "eio-file: bad control command '%s': use 'fail read|write|rw OFFSET LENGTH' "
                 "or 'clear'\n",
                 text.c_str());
    return -EINVAL;
  }
  r.reads = kind != "write";
  r.writes = kind != "read";
  g_state.rules.push_back(r);
  std::fprintf(stderr, "eio-file: failing %s requests touching %llu+%llu\n", kind.c_str(),
               static_cast<unsigned long long>(r.offset),
               static_cast<unsigned long long>(r.length));
  return 0;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info*) {
  std::memset(st, 0, sizeof *st);
  if (std::strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  if (std::strcmp(path, kDisk) == 0) {
    struct stat b {};
    if (fstat(g_state.backing_fd, &b) != 0) return -errno;
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = b.st_size;
    return 0;
  }
  if (std::strcmp(path, kControl) == 0) {
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    return 0;
  }
  return -ENOENT;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*,
               fuse_readdir_flags) {
  if (std::strcmp(path, "/") != 0) return -ENOENT;
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, kDisk + 1, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, kControl + 1, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int op_open(const char* path, fuse_file_info* fi) {
  if (std::strcmp(path, kDisk) != 0 && std::strcmp(path, kControl) != 0) return -ENOENT;
  fi->direct_io = 1;  // no page cache: every request must be able to fail
  return 0;
}

int op_truncate(const char* path, off_t, fuse_file_info*) {
  // `echo CMD > control` truncates first; the disk's size is fixed.
  return std::strcmp(path, kControl) == 0 ? 0 : -EPERM;
}

int op_read(const char* path, char* buf, size_t size, off_t off, fuse_file_info*) {
  if (std::strcmp(path, kControl) == 0) {
    const std::string text = control_text();
    if (static_cast<size_t>(off) >= text.size()) return 0;
    const size_t n = std::min(size, text.size() - static_cast<size_t>(off));
    std::memcpy(buf, text.data() + off, n);
    return static_cast<int>(n);
  }
  if (must_fail(false, static_cast<uint64_t>(off), size)) return -EIO;
  const ssize_t n = pread(g_state.backing_fd, buf, size, off);
  return n < 0 ? -errno : static_cast<int>(n);
}

int op_write(const char* path, const char* buf, size_t size, off_t off, fuse_file_info*) {
  if (std::strcmp(path, kControl) == 0) {
    const int rc = apply_command(std::string(buf, size));
    return rc == 0 ? static_cast<int>(size) : rc;
  }
  if (must_fail(true, static_cast<uint64_t>(off), size)) return -EIO;
  const ssize_t n = pwrite(g_state.backing_fd, buf, size, off);
  return n < 0 ? -errno : static_cast<int>(n);
}

int op_fsync(const char* path, int, fuse_file_info*) {
  if (std::strcmp(path, kDisk) != 0) return 0;
  return fdatasync(g_state.backing_fd) == 0 ? 0 : -errno;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: tandem-eio-file BACKING MOUNTPOINT\n"
                 "Serves MOUNTPOINT/disk (backed by BACKING) and MOUNTPOINT/control; see the\n"
                 "comment at the top of tests/lab/tools/eio_file.cc or docs/lab.md.\n");
    return 1;
  }
  g_state.backing_fd = open(argv[1], O_RDWR | O_CLOEXEC);
  if (g_state.backing_fd < 0) {
    std::fprintf(stderr, "eio-file: cannot open backing file %s: %s\n", argv[1],
                 std::strerror(errno));
    return 1;
  }
  fuse_operations ops{};
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.open = op_open;
  ops.truncate = op_truncate;
  ops.read = op_read;
  ops.write = op_write;
  ops.fsync = op_fsync;
  // Foreground (the lab records and stops this process itself).
  std::string prog = argv[0], fg = "-f", mnt = argv[2];
  char* fuse_argv[] = {prog.data(), fg.data(), mnt.data(), nullptr};
  return fuse_main(3, fuse_argv, &ops, nullptr);
}
