// tandem-write-check: proves that a replica holds every write a
// tandem-write-storm run saw acknowledged, byte for byte.
//
// For every 512-byte sector the storm wrote, the writes to it are totally
// ordered (the storm never has two overlapping writes in flight). The
// sector must hold the data of the last acknowledged write to it, or of a
// later write that was in flight or failed (such a write may have reached
// the disk without its acknowledgement reaching the client). Sectors that
// no acknowledged write covers are not judged.
#include <fcntl.h>
#include <libnbd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "storm_log.h"
#include "storm_pattern.h"

namespace {

using tandem::lab::LoggedWrite;
using tandem::lab::StormLog;
using tandem::lab::WriteOutcome;

constexpr uint64_t kSector = 512;
constexpr uint64_t kChunk = 1 << 20;

// Reads device ranges from a file/block device or an NBD URI.
class Target {
 public:
  static std::unique_ptr<Target> open(const std::string& spec) {
    auto t = std::unique_ptr<Target>(new Target());
    t->spec_ = spec;
    if (spec.rfind("nbd", 0) == 0) {
      t->nbd_ = nbd_create();
      if (t->nbd_ == nullptr || nbd_connect_uri(t->nbd_, spec.c_str()) == -1) {
        std::fprintf(stderr, "write-check: cannot connect to %s: %s\n", spec.c_str(),
                     nbd_get_error());
        return nullptr;
      }
    } else {
      t->fd_ = ::open(spec.c_str(), O_RDONLY | O_CLOEXEC);
      if (t->fd_ < 0) {
        std::fprintf(stderr, "write-check: cannot open %s: %s\n", spec.c_str(),
                     std::strerror(errno));
        return nullptr;
      }
    }
    return t;
  }
  ~Target() {
    if (nbd_ != nullptr) nbd_close(nbd_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool read(uint64_t offset, std::vector<std::byte>& buf) {
    if (nbd_ != nullptr) {
      if (nbd_pread(nbd_, buf.data(), buf.size(), offset, 0) == -1) {
        std::fprintf(stderr, "write-check: %s: read at %llu failed: %s\n", spec_.c_str(),
                     static_cast<unsigned long long>(offset), nbd_get_error());
        return false;
      }
      return true;
    }
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t n =
          ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
      if (n <= 0) {
        std::fprintf(stderr, "write-check: %s: read at %llu failed: %s\n", spec_.c_str(),
                     static_cast<unsigned long long>(offset + done),
                     n == 0 ? "end of file" : std::strerror(errno));
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

 private:
  Target() = default;
  std::string spec_;
  nbd_handle* nbd_ = nullptr;
  int fd_ = -1;
};

const char* outcome_name(WriteOutcome o) {
  switch (o) {
    case WriteOutcome::kAcknowledged:
      return "acknowledged";
    case WriteOutcome::kFailed:
      return "failed";
    case WriteOutcome::kInFlight:
      break;
  }
  return "in flight";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: tandem-write-check LOG TARGET\n"
                 "TARGET: a file or block device holding the data area at offset 0, or an\n"
                 "NBD URI. Exit 0: every acknowledged write is there; 1: not (or an error).\n");
    return 1;
  }
  auto log = tandem::lab::read_storm_log(argv[1]);
  if (!log) {
    std::fprintf(stderr, "write-check: %s\n", log.error().message.c_str());
    return 1;
  }
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const LoggedWrite& w : log->writes) {
    if (w.offset % kSector != 0 || w.length % kSector != 0) {
      std::fprintf(stderr, "write-check: %s: write %llu is not sector aligned\n", argv[1],
                   static_cast<unsigned long long>(w.id));
      return 1;
    }
    lo = std::min(lo, w.offset);
    hi = std::max(hi, w.offset + w.length);
  }
  if (log->writes.empty()) {
    std::fprintf(stderr, "write-check: %s holds no writes: nothing to prove\n", argv[1]);
    return 1;
  }
  // Per sector: the indexes (into log->writes) of the writes that may
  // legitimately be its content, i.e. the last acknowledged one and the
  // unacknowledged ones after it.
  const uint64_t sectors = (hi - lo) / kSector;
  std::vector<std::vector<uint32_t>> allowed(sectors);
  for (size_t i = 0; i < log->writes.size(); ++i) {
    const LoggedWrite& w = log->writes[i];
    for (uint64_t s = (w.offset - lo) / kSector; s < (w.offset + w.length - lo) / kSector; ++s) {
      if (w.outcome == WriteOutcome::kAcknowledged) allowed[s].clear();
      allowed[s].push_back(static_cast<uint32_t>(i));
    }
  }
  auto target = Target::open(argv[2]);
  if (!target) return 1;

  uint64_t judged = 0, mismatches = 0, unjudged = 0, unacked_content = 0;
  std::vector<std::byte> buf;
  for (uint64_t off = lo; off < hi; off += kChunk) {
    buf.resize(std::min(kChunk, hi - off));
    if (!target->read(off, buf)) return 1;
    for (uint64_t pos = off; pos < off + buf.size(); pos += kSector) {
      const auto& cand = allowed[(pos - lo) / kSector];
      if (cand.empty()) continue;
      const LoggedWrite& first = log->writes[cand.front()];
      if (first.outcome != WriteOutcome::kAcknowledged) {
        ++unjudged;
        continue;
      }
      ++judged;
      std::span<const std::byte> sector(buf.data() + (pos - off), kSector);
      size_t match = cand.size();
      for (size_t k = 0; k < cand.size(); ++k) {
        if (tandem::lab::matches_storm_pattern(log->seed, log->writes[cand[k]].id, pos, sector)) {
          match = k;
          break;
        }
      }
      if (match == cand.size()) {
        if (++mismatches <= 10) {
          std::fprintf(stderr,
                       "write-check: %s: sector at byte %llu lacks acknowledged write %llu "
                       "(%llu+%llu)%s\n",
                       argv[2], static_cast<unsigned long long>(pos),
                       static_cast<unsigned long long>(first.id),
                       static_cast<unsigned long long>(first.offset),
                       static_cast<unsigned long long>(first.length),
                       cand.size() > 1 ? " and every later unacknowledged write to it" : "");
        }
      } else if (match > 0) {
        ++unacked_content;
      }
    }
  }
  uint64_t acked = 0, other = 0;
  for (const LoggedWrite& w : log->writes) {
    (w.outcome == WriteOutcome::kAcknowledged ? acked : other) += 1;
  }
  std::printf(
      "write-check: %s: %llu writes in the log (%llu acknowledged, %llu %s or failed); "
      "%llu sectors judged, %llu lost, %llu hold a later unacknowledged write, %llu not judged\n",
      argv[2], static_cast<unsigned long long>(log->writes.size()),
      static_cast<unsigned long long>(acked), static_cast<unsigned long long>(other),
      outcome_name(WriteOutcome::kInFlight), static_cast<unsigned long long>(judged),
      static_cast<unsigned long long>(mismatches), static_cast<unsigned long long>(unacked_content),
      static_cast<unsigned long long>(unjudged));
  if (mismatches != 0) {
    std::fprintf(stderr, "write-check: FAILED: %llu sectors lost acknowledged data\n",
                 static_cast<unsigned long long>(mismatches));
    return 1;
  }
  return 0;
}
