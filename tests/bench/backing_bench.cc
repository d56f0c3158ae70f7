// backing_bench: the io_uring backing layer (UringBacking) against plain
// io_uring on the same file or device, in the same run, with O_DIRECT.
//
//   backing_bench [--path FILE|DEVICE] [--size BYTES] [--seconds S] [--rounds N]
//
// Cases: 4 KiB random writes at queue depth 1 and 32, 1 MiB sequential
// writes at queue depth 4. Each case alternates raw and layer runs for N
// rounds and reports the median of each, and layer/raw. A regular file is
// created (and filled, so that no run pays for block allocation) when PATH
// does not exist; it is removed at the end. WARNING: a device given as PATH
// is overwritten.
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "storage/aligned_buffer.h"
#include "storage/uring_backing.h"

namespace {

using tandem::storage::AlignedBuffer;
using tandem::storage::DirectIo;
using tandem::storage::IoCompletion;
using tandem::storage::IoOp;
using tandem::storage::UringBacking;
using Clock = std::chrono::steady_clock;

constexpr int kSkipped = 77;  // ctest SKIP_RETURN_CODE

struct Case {
  const char* name;
  uint32_t block;
  uint32_t depth;
  bool sequential;
};

constexpr Case kCases[] = {
    {"4k-randwrite-qd1", 4096, 1, false},
    {"4k-randwrite-qd32", 4096, 32, false},
    {"1m-seqwrite-qd4", 1U << 20, 4, true},
};

class OffsetGen {
 public:
  OffsetGen(uint64_t size, uint32_t block, bool sequential)
      : blocks_(size / block), block_(block), sequential_(sequential) {}
  uint64_t next() {
    if (sequential_) {
      const uint64_t o = (pos_++ % blocks_) * block_;
      return o;
    }
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return (state_ % blocks_) * block_;
  }

 private:
  uint64_t blocks_;
  uint64_t block_;
  bool sequential_;
  uint64_t pos_ = 0;
  uint64_t state_ = 0x9E3779B97F4A7C15ULL;
};

// Runs `depth` writes in flight for `seconds`; returns completed writes.
// Both engines use the same pattern: reap what completed, refill the queue,
// submit the refill in one call.
struct RawEngine {
  io_uring ring{};
  int fd = -1;
  bool init(const std::string& path, uint32_t depth) {
    fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return false;
    return io_uring_queue_init(depth, &ring, 0) == 0;
  }
  ~RawEngine() {
    if (fd >= 0) {
      io_uring_queue_exit(&ring);
      ::close(fd);
    }
  }
  void queue(uint64_t offset, void* buf, uint32_t len, uint64_t tag) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) {  // the ring is as deep as the queue: cannot happen
      std::abort();
    }
    io_uring_prep_write(sqe, fd, buf, len, offset);
    io_uring_sqe_set_data64(sqe, tag);
  }
  void submit() { io_uring_submit(&ring); }
  // Appends the tags of completed writes (at least one).
  bool reap(std::vector<uint64_t>& tags, uint32_t len) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_wait_cqe(&ring, &cqe) != 0) return false;
    do {
      if (cqe->res != static_cast<int>(len)) {
        std::fprintf(stderr, "raw write failed: %s\n", std::strerror(-cqe->res));
        return false;
      }
      tags.push_back(io_uring_cqe_get_data64(cqe));
      io_uring_cqe_seen(&ring, cqe);
    } while (io_uring_peek_cqe(&ring, &cqe) == 0 && cqe != nullptr);
    return true;
  }
};

struct LayerEngine {
  std::unique_ptr<UringBacking> dev;
  std::vector<IoCompletion> done;
  bool init(const std::string& path, uint32_t depth, std::vector<std::span<std::byte>> buffers) {
    tandem::storage::UringOptions o;
    o.queue_depth = depth;
    o.direct = DirectIo::kRequire;
    o.buffers = std::move(buffers);
    auto d = UringBacking::open(path, o);
    if (!d.ok()) {
      std::fprintf(stderr, "%s\n", d.error().message.c_str());
      return false;
    }
    dev = std::move(d).value();
    return true;
  }
  void queue(uint64_t offset, void* buf, uint32_t len, uint64_t tag) {
    auto r = dev->submit({.op = IoOp::kWrite,
                          .offset = offset,
                          .data = buf,
                          .length = len,
                          .buffer_index = static_cast<int>(tag),
                          .user_data = tag});
    if (!r.ok()) std::fprintf(stderr, "%s\n", r.error().message.c_str());
  }
  void submit() { (void)dev->kick(); }
  bool reap(std::vector<uint64_t>& tags, uint32_t) {
    done.clear();
    auto n = dev->reap(done, 1);
    if (!n.ok()) return false;
    for (const auto& c : done) {
      if (!c.ok()) {
        std::fprintf(stderr, "%s\n", tandem::storage::describe_failure(*dev, c).c_str());
        return false;
      }
      tags.push_back(c.user_data);
    }
    return true;
  }
};

template <typename Engine>
double run(Engine& e, const Case& c, uint64_t size, double seconds,
           std::vector<std::span<std::byte>>& bufs) {
  OffsetGen gen(size, c.block, c.sequential);
  for (uint32_t i = 0; i < c.depth; ++i) e.queue(gen.next(), bufs[i].data(), c.block, i);
  e.submit();
  uint64_t completed = 0;
  std::vector<uint64_t> tags;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  uint32_t in_flight = c.depth;
  bool refill = true;
  while (in_flight > 0) {
    tags.clear();
    if (!e.reap(tags, c.block)) std::exit(1);
    completed += tags.size();
    in_flight -= static_cast<uint32_t>(tags.size());
    if (refill && Clock::now() >= stop) refill = false;
    if (refill) {
      for (uint64_t t : tags) e.queue(gen.next(), bufs[t].data(), c.block, t);
      in_flight += static_cast<uint32_t>(tags.size());
      e.submit();
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(completed) / elapsed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string first_line(const char* file, const char* key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "?";
}

bool prepare_file(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "cannot create %s with O_DIRECT: %s\n", path.c_str(),
                 std::strerror(errno));
    if (errno == EINVAL) {
      std::fprintf(stderr, "the file system does not support O_DIRECT; nothing measured\n");
      std::exit(kSkipped);
    }
    return false;
  }
  AlignedBuffer buf(1U << 20);
  std::memset(buf.data(), 0x5A, buf.size());
  for (uint64_t off = 0; off < size; off += buf.size()) {
    if (pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) !=
        static_cast<ssize_t>(buf.size())) {
      std::fprintf(stderr, "cannot fill %s: %s\n", path.c_str(), std::strerror(errno));
      ::close(fd);
      return false;
    }
  }
  fsync(fd);
  ::close(fd);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "tandem-bench.img";
  uint64_t size = 512ULL << 20;
  double seconds = 3.0;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--path") {
      path = val();
    } else if (a == "--size") {
      size = std::stoull(val());
    } else if (a == "--seconds") {
      seconds = std::stod(val());
    } else if (a == "--rounds") {
      rounds = std::max(1, std::stoi(val()));
    } else {
      std::fprintf(stderr,
                   "usage: backing_bench [--path FILE|DEVICE] [--size BYTES] [--seconds S] "
                   "[--rounds N]\n");
      return 2;
    }
  }
  size = size / (1U << 20) * (1U << 20);
  struct stat st {};
  const bool created = stat(path.c_str(), &st) != 0;
  if (created && !prepare_file(path, size)) return 1;
  if (!created && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < size) {
    size = static_cast<uint64_t>(st.st_size) / (1U << 20) * (1U << 20);
  }

  utsname u{};
  uname(&u);
  std::printf("machine: %s, %ld cpus, kernel %s\n",
              first_line("/proc/cpuinfo", "model name").c_str(), sysconf(_SC_NPROCESSORS_ONLN),
              u.release);
  std::printf("target: %s (%llu MiB, O_DIRECT), %.1f s per run, %d rounds, median reported\n",
              path.c_str(), static_cast<unsigned long long>(size >> 20), seconds, rounds);
  std::printf("%-20s %12s %12s %10s %10s %9s\n", "case", "raw IOPS", "layer IOPS", "raw MB/s",
              "layer MB/s", "layer/raw");

  int rc = 0;
  for (const Case& c : kCases) {
    AlignedBuffer pool(size_t{c.block} * c.depth);
    std::memset(pool.data(), 0xA5, pool.size());
    std::vector<std::span<std::byte>> bufs;
    for (uint32_t i = 0; i < c.depth; ++i)
      bufs.push_back(pool.span().subspan(size_t{i} * c.block, c.block));
    std::vector<double> raw_r;
    std::vector<double> layer_r;
    for (int r = 0; r < rounds; ++r) {
      {
        RawEngine raw;
        if (!raw.init(path, c.depth)) {
          std::fprintf(stderr, "cannot open %s with O_DIRECT for the raw run\n", path.c_str());
          rc = 1;
          break;
        }
        raw_r.push_back(run(raw, c, size, seconds, bufs));
      }
      {
        LayerEngine layer;
        if (!layer.init(path, c.depth, bufs)) {
          rc = 1;
          break;
        }
        layer_r.push_back(run(layer, c, size, seconds, bufs));
      }
    }
    if (rc != 0) break;
    const double raw = median(raw_r);
    const double layer = median(layer_r);
    const double mb = static_cast<double>(c.block) / 1e6;
    std::printf("%-20s %12.0f %12.0f %10.1f %10.1f %9.3f\n", c.name, raw, layer, raw * mb,
                layer * mb, layer / raw);
  }
  if (created) ::unlink(path.c_str());
  return rc;
}
