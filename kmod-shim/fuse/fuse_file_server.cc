// Mounting, unmounting and request intake of FuseFileServer; the file
// system operations themselves are in fuse_file_ops.cc.
#include "fuse/fuse_file_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "fuse/fuse_ops_table.h"
#include "fuse/mount_table.h"

namespace tandem::fuse {

namespace {

// Largest request the kernel sends: FUSE's 1 MiB data limit plus headers.
constexpr size_t kBufferBytes = (1u << 20) + 64 * 1024;
// Requests taken per on_readable(): other work on the loop gets its turn.
constexpr int kRequestsPerWakeup = 64;

std::string errno_text(int err) {
  return std::strerror(err);
}

// libfuse's own messages (printf-style) go to tandem's log.
__attribute__((format(printf, 2, 0))) void log_from_libfuse(enum fuse_log_level level,
                                                            const char* fmt, va_list ap) {
  char line[512];
  std::vsnprintf(line, sizeof line, fmt, ap);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  TLOG(level <= FUSE_LOG_ERR ? LOG_ERR : LOG_DEBUG, "libfuse: %s", text.c_str());
}

Result<void> make_dirs(const std::string& path) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return make_error("cannot create " + partial + ": " + errno_text(errno));
    }
  }
  return {};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Loop devices whose backing file lies under `dir` (they keep failing I/O
// once the server behind them is gone).
std::vector<std::string> loop_devices_under(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir("/sys/block");
  if (d == nullptr) return out;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind("loop", 0) != 0) continue;
    std::string backing = read_text("/sys/block/" + name + "/loop/backing_file");
    while (!backing.empty() && backing.back() == '\n') backing.pop_back();
    if (backing.rfind(dir + "/", 0) == 0) out.push_back("/dev/" + name);
  }
  closedir(d);
  return out;
}

// A FUSE mount already at the mount point: stale (its server died, so the
// kernel answers ENOTCONN at once) or served by someone else.
Result<void> clear_stale_mount(const FileExportOptions& o) {
  const std::vector<MountEntry> mounts = parse_mountinfo(read_text("/proc/self/mountinfo"));
  if (!has_fuse_mount(mounts, o.mount_point)) return {};
  struct stat st {};
  if (stat(o.mount_point.c_str(), &st) == 0 || errno != ENOTCONN) {
    return make_error(o.who + ": " + o.mount_point +
                      " is already a FUSE mount served by a running process; unmount it "
                      "(umount " +
                      o.mount_point + ") or choose another mount point in the device line");
  }
  const std::vector<std::string> loops = loop_devices_under(o.mount_point);
  if (umount2(o.mount_point.c_str(), MNT_DETACH) != 0) {
    return make_error(o.who + ": cannot remove the stale FUSE mount at " + o.mount_point + ": " +
                      errno_text(errno) + "; run umount -l " + o.mount_point);
  }
  std::string hint;
  for (const std::string& l : loops) hint += (hint.empty() ? "" : " ") + l;
  TLOG(LOG_WARNING,
       "%s: removed the stale FUSE mount at %s left by a tandemd that did not stop "
       "cleanly%s%s%s",
       o.who.c_str(), o.mount_point.c_str(),
       loops.empty() ? "" : "; loop devices still attached to the old file fail every I/O: ",
       hint.c_str(), loops.empty() ? "" : " (detach them with losetup -d, then attach again)");
  return {};
}

}  // namespace

Result<std::unique_ptr<FuseFileServer>> FuseFileServer::mount(FileExportOptions options,
                                                              Submit submit, Writable writable) {
  const std::string who = options.who;
  if (options.mount_point.empty() || options.mount_point.front() != '/') {
    return make_error(who + ": FUSE mount point '" + options.mount_point +
                      "' must be an absolute path");
  }
  if (access("/dev/fuse", R_OK | W_OK) != 0) {
    return make_error(who + ": cannot export as a FUSE file: /dev/fuse is not usable (" +
                      errno_text(errno) + "); load the fuse module (modprobe fuse)");
  }
  if (auto r = clear_stale_mount(options); !r) return r.error();
  if (auto r = make_dirs(options.mount_point); !r) {
    return make_error(who + ": FUSE mount point: " + r.error().message);
  }

  fuse_set_log_func(log_from_libfuse);
  std::unique_ptr<FuseFileServer> s(
      new FuseFileServer(std::move(options), std::move(submit), std::move(writable)));
  // fsname/subtype name the mount in /proc/mounts; without allow_other only
  // root (which mounted it) may open the file.
  const std::string opts = "fsname=" + s->options_.fs_name + ",subtype=tandem";
  std::vector<std::string> argv_text = {"tandemd", "-o", opts};
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  s->session_ = fuse_session_new(&args, &file_ops(), sizeof(fuse_lowlevel_ops), s.get());
  fuse_opt_free_args(&args);  // libfuse may have copied the arguments
  if (s->session_ == nullptr) {
    return make_error(who + ": cannot create a FUSE session for " + s->options_.mount_point);
  }
  if (fuse_session_mount(s->session_, s->options_.mount_point.c_str()) != 0) {
    return make_error(who + ": cannot mount FUSE at " + s->options_.mount_point +
                      " (see the libfuse line above; tandemd must run as root)");
  }
  s->mounted_ = true;
  s->mounted_at_ = static_cast<int64_t>(time(nullptr));
  s->fd_ = fuse_session_fd(s->session_);
  // The daemon's loop reads requests only when the fd is readable.
  if (const int fl = fcntl(s->fd_, F_GETFL); fl < 0 || fcntl(s->fd_, F_SETFL, fl | O_NONBLOCK)) {
    return make_error(who + ": cannot make /dev/fuse non-blocking: " + errno_text(errno));
  }
  s->buffer_.resize(kBufferBytes);
  TLOG(LOG_INFO, "%s: exported as the file %s (%llu bytes; losetup -f --show %s)", who.c_str(),
       s->file_path().c_str(), static_cast<unsigned long long>(s->options_.geometry.size),
       s->file_path().c_str());
  return s;
}

FuseFileServer::~FuseFileServer() {
  // libfuse frees a request when it is answered; none may outlive the
  // session.
  for (auto& [id, p] : pending_) fuse_reply_err(p.req, EIO);
  pending_.clear();
  if (session_ != nullptr) {
    if (mounted_) {
      fuse_session_unmount(session_);
      TLOG(LOG_INFO, "%s: unmounted %s", options_.who.c_str(), options_.mount_point.c_str());
    }
    fuse_session_destroy(session_);
  }
}

bool FuseFileServer::on_readable() {
  if (!mounted_) return false;
  for (int i = 0; i < kRequestsPerWakeup; ++i) {
    const ssize_t n = read(fd_, buffer_.data(), buffer_.size());
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return true;
      if (err == EINTR || err == ENOENT) continue;  // ENOENT: the request was interrupted
      if (err == ENODEV) {
        TLOG(LOG_WARNING, "%s: the FUSE mount at %s was unmounted from outside tandemd",
             options_.who.c_str(), options_.mount_point.c_str());
      } else {
        TLOG(LOG_ERR, "%s: reading FUSE requests for %s failed: %s", options_.who.c_str(),
             options_.mount_point.c_str(), errno_text(err).c_str());
      }
      // The kernel ends the connection; unmounting again is harmless.
      return false;
    }
    fuse_buf buf{};
    buf.size = static_cast<size_t>(n);
    buf.mem = buffer_.data();
    fuse_session_process_buf(session_, &buf);
  }
  return true;
}

void FuseFileServer::run(fuse_req* req, MappedRequest mapped, Kind kind, uint32_t written) {
  if (mapped.error != 0) {
    fuse_reply_err(req, mapped.error);
    return;
  }
  if (mapped.immediate) {
    if (kind == Kind::kRead) {
      fuse_reply_buf(req, nullptr, 0);
    } else if (kind == Kind::kWrite) {
      fuse_reply_write(req, 0);
    } else {
      fuse_reply_err(req, 0);
    }
    return;
  }
  const uint64_t id = next_id_++;
  Pending& p = pending_[id];
  p.req = req;
  p.kind = kind;
  p.skip = mapped.skip;
  p.reply_length = kind == Kind::kRead ? mapped.reply_length : written;
  mapped.request.id = id;
  mapped.request.cookie = id;
  submit_(std::move(mapped.request));  // may complete before returning
}

void FuseFileServer::complete(nbd::BlockRequest&& request, int error) {
  auto it = pending_.find(request.id);
  if (it == pending_.end()) return;
  const Pending p = it->second;
  pending_.erase(it);
  if (error != 0) {
    fuse_reply_err(p.req, error);
  } else if (p.kind == Kind::kRead) {
    if (request.data.size() < static_cast<size_t>(p.skip) + p.reply_length) {
      fuse_reply_err(p.req, EIO);
      return;
    }
    fuse_reply_buf(p.req, reinterpret_cast<const char*>(request.data.data()) + p.skip,
                   p.reply_length);
  } else if (p.kind == Kind::kWrite) {
    fuse_reply_write(p.req, p.reply_length);
  } else {
    fuse_reply_err(p.req, 0);
  }
}

}  // namespace tandem::fuse
