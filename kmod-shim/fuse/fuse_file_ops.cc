// The file system behind FuseFileServer: a root directory (inode 1) holding
// one regular file (inode 2). Data operations go through file_request.h;
// everything about names and attributes is answered here at once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fuse/fuse_file_server.h"
#include "fuse/fuse_ops_table.h"

namespace tandem::fuse {

namespace {
constexpr fuse_ino_t kRootInode = FUSE_ROOT_ID;
constexpr fuse_ino_t kFileInode = 2;
// The file's attributes never change while mounted; the kernel may cache
// them. Data is never cached (direct I/O).
constexpr double kAttrSeconds = 1.0;
}  // namespace

struct FuseFileServer::Ops {
  static FuseFileServer& self(fuse_req_t req) {
    return *static_cast<FuseFileServer*>(fuse_req_userdata(req));
  }

  static struct stat attributes(const FuseFileServer& s, fuse_ino_t ino) {
    struct stat st {};
    st.st_ino = ino;
    st.st_uid = getuid();
    st.st_gid = getgid();
    st.st_atim.tv_sec = s.mounted_at_;
    st.st_mtim.tv_sec = s.mounted_at_;
    st.st_ctim.tv_sec = s.mounted_at_;
    if (ino == kRootInode) {
      st.st_mode = S_IFDIR | 0755;
      st.st_nlink = 2;
    } else {
      st.st_mode = S_IFREG | 0600;
      st.st_nlink = 1;
      st.st_size = static_cast<off_t>(s.options_.geometry.size);
      st.st_blksize = 4096;
      st.st_blocks = static_cast<blkcnt_t>(s.options_.geometry.size / 512);
    }
    return st;
  }

  static void init(void* userdata, fuse_conn_info* conn) {
    auto& s = *static_cast<FuseFileServer*>(userdata);
    // Requests are read with read(2) into one buffer: no splicing.
    conn->want &=
        ~static_cast<unsigned>(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
    // Let loop's direct I/O keep several requests in flight.
    if ((conn->capable & FUSE_CAP_ASYNC_DIO) != 0) conn->want |= FUSE_CAP_ASYNC_DIO;
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
    conn->max_write = std::min<unsigned>(conn->max_write, s.options_.geometry.max_request);
    conn->max_background = 64;
    conn->congestion_threshold = 48;
  }

  static void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    FuseFileServer& s = self(req);
    if (parent != kRootInode || s.options_.file_name != name) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_entry_param e{};
    e.ino = kFileInode;
    e.generation = 1;
    e.attr = attributes(s, kFileInode);
    e.attr_timeout = kAttrSeconds;
    e.entry_timeout = kAttrSeconds;
    fuse_reply_entry(req, &e);
  }

  static void forget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }

  static void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    if (ino != kRootInode && ino != kFileInode) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    const struct stat st = attributes(self(req), ino);
    fuse_reply_attr(req, &st, kAttrSeconds);
  }

  static void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                      fuse_file_info*) {
    FuseFileServer& s = self(req);
    // The size is the volume's; ownership and mode are fixed. Time updates
    // (touch) are accepted and ignored.
    const bool resize = (to_set & FUSE_SET_ATTR_SIZE) != 0 &&
                        static_cast<uint64_t>(attr->st_size) != s.options_.geometry.size;
    if (resize || (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0) {
      fuse_reply_err(req, EPERM);
      return;
    }
    const struct stat st = attributes(s, ino);
    fuse_reply_attr(req, &st, kAttrSeconds);
  }

  static void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FuseFileServer& s = self(req);
    if (ino != kFileInode) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY && !s.writable_()) {
      fuse_reply_err(req, EROFS);  // Secondary: read-only until promoted
      return;
    }
    fi->direct_io = 1;
    fi->keep_cache = 0;
    // The flush at close sees no open flags: remember whether it may write.
    fi->fh = (fi->flags & O_ACCMODE) == O_RDONLY ? 0 : 1;
    ++s.open_files_;
    if (fuse_reply_open(req, fi) != 0) --s.open_files_;  // the opener is gone
  }

  static void release(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    FuseFileServer& s = self(req);
    if (s.open_files_ > 0) --s.open_files_;
    fuse_reply_err(req, 0);
  }

  static void read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
    FuseFileServer& s = self(req);
    s.run(req, map_read(s.options_.geometry, static_cast<uint64_t>(off), size), Kind::kRead, 0);
  }

  static void write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
                    fuse_file_info* fi) {
    FuseFileServer& s = self(req);
    const auto data = std::as_bytes(std::span(buf, size));
    s.run(req, map_write(s.options_.geometry, static_cast<uint64_t>(off), data, fi->flags),
          Kind::kWrite, static_cast<uint32_t>(size));
  }

  static void flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    FuseFileServer& s = self(req);
    // The flush at close: only a file opened for writing has anything to
    // make durable.
    if (fi->fh == 0) {
      fuse_reply_err(req, 0);
      return;
    }
    s.run(req, map_flush(), Kind::kOther, 0);
  }

  static void fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
    self(req).run(req, map_flush(), Kind::kOther, 0);
  }

  static void fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                        fuse_file_info*) {
    FuseFileServer& s = self(req);
    if (offset < 0 || length < 0) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    s.run(req,
          map_fallocate(s.options_.geometry, mode, static_cast<uint64_t>(offset),
                        static_cast<uint64_t>(length)),
          Kind::kOther, 0);
  }

  static void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (ino != kRootInode) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    fuse_reply_open(req, fi);
  }

  static void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    FuseFileServer& s = self(req);
    if (ino != kRootInode) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    const std::string names[] = {".", "..", s.options_.file_name};
    const fuse_ino_t inodes[] = {kRootInode, kRootInode, kFileInode};
    std::vector<char> out(size);
    size_t used = 0;
    for (off_t i = std::max<off_t>(off, 0); i < 3; ++i) {
      const auto k = static_cast<size_t>(i);
      struct stat st {};
      st.st_ino = inodes[k];
      st.st_mode = k == 2 ? S_IFREG : S_IFDIR;
      const size_t need =
          fuse_add_direntry(req, out.data() + used, size - used, names[k].c_str(), &st, i + 1);
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, out.data(), used);
  }

  static void statfs(fuse_req_t req, fuse_ino_t) {
    FuseFileServer& s = self(req);
    struct statvfs st {};
    st.f_bsize = 4096;
    st.f_frsize = 4096;
    st.f_blocks = s.options_.geometry.size / 4096;
    st.f_files = 2;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  }
};

const fuse_lowlevel_ops& file_ops() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = FuseFileServer::Ops::init;
    o.lookup = FuseFileServer::Ops::lookup;
    o.forget = FuseFileServer::Ops::forget;
    o.getattr = FuseFileServer::Ops::getattr;
    o.setattr = FuseFileServer::Ops::setattr;
    o.open = FuseFileServer::Ops::open;
    o.release = FuseFileServer::Ops::release;
    o.read = FuseFileServer::Ops::read;
    o.write = FuseFileServer::Ops::write;
    o.flush = FuseFileServer::Ops::flush;
    o.fsync = FuseFileServer::Ops::fsync;
    o.fallocate = FuseFileServer::Ops::fallocate;
    o.opendir = FuseFileServer::Ops::opendir;
    o.readdir = FuseFileServer::Ops::readdir;
    o.statfs = FuseFileServer::Ops::statfs;
    return o;
  }();
  return ops;
}

}  // namespace tandem::fuse
