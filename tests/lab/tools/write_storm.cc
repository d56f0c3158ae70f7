// tandem-write-storm: random writes through an NBD export at a chosen
// queue depth, with a log of every issued and every acknowledged write
// (storm_log.h) that tandem-write-check later proves against a replica.
//
// Writes in flight never overlap each other, so that for every block the
// writes to it are totally ordered and "the latest acknowledged write" is
// well defined even when the server dies mid-storm.
#include <libnbd.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "storm_log.h"
#include "storm_pattern.h"

namespace {

using tandem::lab::StormLogWriter;

struct Options {
  std::string uri;
  std::string log_path;
  uint64_t seed = 1;
  uint64_t region_offset = 0;
  uint64_t region_bytes = 0;  // 0: from the region offset to the end of the export
  uint64_t block = 4096;
  uint64_t max_blocks = 16;
  unsigned depth = 16;
  double seconds = 10;
  uint64_t max_writes = 0;  // 0: no limit
  bool fua = false;
};

void usage() {
  std::fprintf(stderr,
               "usage: tandem-write-storm --uri NBD_URI --log FILE [--seed N] [--offset BYTES]\n"
               "         [--size BYTES] [--block BYTES] [--max-blocks N] [--depth N]\n"
               "         [--seconds S] [--writes N] [--fua]\n"
               "Random writes of 1..max-blocks blocks at depth N until S seconds passed,\n"
               "N writes were issued, or a write failed. Exit 0: all acknowledged;\n"
               "3: a write failed or the connection died (the log says which); 1: error.\n");
}

std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--fua") {
      o.fua = true;
      continue;
    }
    if ((v = next()) == nullptr) {
      std::fprintf(stderr, "write-storm: %s needs a value\n", a.c_str());
      return std::nullopt;
    }
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 0);
    const bool numeric = end != v && *end == '\0';
    if (a == "--uri") {
      o.uri = v;
    } else if (a == "--log") {
      o.log_path = v;
    } else if (a == "--seconds") {
      o.seconds = std::strtod(v, nullptr);
    } else if (!numeric) {
      std::fprintf(stderr, "write-storm: %s: '%s' is not a number (or unknown option)\n", a.c_str(),
                   v);
      return std::nullopt;
    } else if (a == "--seed") {
      o.seed = n;
    } else if (a == "--offset") {
      o.region_offset = n;
    } else if (a == "--size") {
      o.region_bytes = n;
    } else if (a == "--block") {
      o.block = n;
    } else if (a == "--max-blocks") {
      o.max_blocks = n;
    } else if (a == "--depth") {
      o.depth = static_cast<unsigned>(n);
    } else if (a == "--writes") {
      o.max_writes = n;
    } else {
      std::fprintf(stderr, "write-storm: unknown option %s\n", a.c_str());
      return std::nullopt;
    }
  }
  if (o.uri.empty() || o.log_path.empty() || o.block == 0 || o.block % 512 != 0 ||
      o.max_blocks == 0 || o.depth == 0 || o.depth > 256) {
    usage();
    return std::nullopt;
  }
  return o;
}

struct Slot {
  bool busy = false;
  bool done = false;
  int error = 0;
  uint64_t id = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<std::byte> data;
};

int on_complete(void* user, int* error) {
  auto* s = static_cast<Slot*>(user);
  s->done = true;
  s->error = *error;
  return 1;  // retire the command
}

bool overlaps_in_flight(const std::vector<Slot>& slots, uint64_t off, uint64_t len) {
  for (const Slot& s : slots) {
    if (s.busy && off < s.offset + s.length && s.offset < off + len) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  if (!opts) return 1;
  const Options& o = *opts;

  std::unique_ptr<nbd_handle, decltype(&nbd_close)> h(nbd_create(), &nbd_close);
  if (!h || nbd_connect_uri(h.get(), o.uri.c_str()) == -1) {
    std::fprintf(stderr, "write-storm: cannot connect to %s: %s\n", o.uri.c_str(), nbd_get_error());
    return 1;
  }
  const int64_t export_size = nbd_get_size(h.get());
  if (export_size < 0) {
    std::fprintf(stderr, "write-storm: %s: no size: %s\n", o.uri.c_str(), nbd_get_error());
    return 1;
  }
  const uint64_t size = static_cast<uint64_t>(export_size);
  const uint64_t region = o.region_bytes != 0 ? o.region_bytes : size - o.region_offset;
  if (o.region_offset % o.block != 0 || o.region_offset + region > size ||
      region < o.block * o.max_blocks * o.depth * 2) {
    std::fprintf(stderr,
                 "write-storm: region %llu+%llu does not fit the %llu-byte export or is too small "
                 "for %u writes of up to %llu blocks in flight\n",
                 static_cast<unsigned long long>(o.region_offset),
                 static_cast<unsigned long long>(region), static_cast<unsigned long long>(size),
                 o.depth, static_cast<unsigned long long>(o.max_blocks));
    return 1;
  }
  auto log = StormLogWriter::create(o.log_path, o.seed);
  if (!log) {
    std::fprintf(stderr, "write-storm: %s\n", log.error().message.c_str());
    return 1;
  }

  std::mt19937_64 rng(o.seed);
  const uint64_t region_blocks = region / o.block;
  std::vector<Slot> slots(o.depth);
  uint64_t next_id = 1, acked = 0, failed = 0, bytes_acked = 0;
  bool stop_issuing = false;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double next_report = 1.0;

  for (;;) {
    // Retire completions: log them first, so the log never lags behind
    // what the caller could observe.
    for (Slot& s : slots) {
      if (!s.busy || !s.done) continue;
      if (s.error == 0) {
        log->acknowledged(s.id);
        ++acked;
        bytes_acked += s.length;
      } else {
        log->failed(s.id, s.error);
        ++failed;
        stop_issuing = true;
        std::fprintf(stderr, "write-storm: write %llu (%llu+%llu) failed: %s\n",
                     static_cast<unsigned long long>(s.id),
                     static_cast<unsigned long long>(s.offset),
                     static_cast<unsigned long long>(s.length), std::strerror(s.error));
      }
      s.busy = false;
    }
    if (elapsed() >= o.seconds || (o.max_writes != 0 && next_id > o.max_writes)) {
      stop_issuing = true;
    }
    if (!stop_issuing) {
      for (Slot& s : slots) {
        if (s.busy) continue;
        uint64_t off = 0, len = 0;
        do {
          const uint64_t blocks = 1 + rng() % o.max_blocks;
          off = o.region_offset + (rng() % (region_blocks - blocks + 1)) * o.block;
          len = blocks * o.block;
        } while (overlaps_in_flight(slots, off, len));
        s = Slot{true, false, 0, next_id++, off, len, std::move(s.data)};
        s.data.resize(len);
        tandem::lab::fill_storm_pattern(o.seed, s.id, off, s.data);
        log->issued(s.id, off, len);
        const int64_t cookie = nbd_aio_pwrite(
            h.get(), s.data.data(), len, off,
            nbd_completion_callback{.callback = on_complete, .user_data = &s, .free = nullptr},
            o.fua ? LIBNBD_CMD_FLAG_FUA : 0);
        if (cookie == -1) {
          // Not sent: the connection is gone. The write may not be retried
          // elsewhere, so it counts as failed.
          s.done = true;
          s.error = nbd_get_errno() != 0 ? nbd_get_errno() : EIO;
          stop_issuing = true;
          break;
        }
      }
    }
    bool any_busy = false;
    for (const Slot& s : slots) any_busy = any_busy || (s.busy && !s.done);
    bool any_done = false;
    for (const Slot& s : slots) any_done = any_done || (s.busy && s.done);
    if (!any_busy && !any_done && stop_issuing) break;
    if (any_busy) {
      if (nbd_poll(h.get(), 1000) == -1 || nbd_aio_is_dead(h.get())) {
        std::fprintf(stderr, "write-storm: connection to %s lost: %s\n", o.uri.c_str(),
                     nbd_get_error() != nullptr ? nbd_get_error() : "dead");
        // libnbd completes the commands of a dead connection with an
        // error through the callbacks; anything left is failed here.
        for (Slot& s : slots) {
          if (s.busy && !s.done) {
            s.done = true;
            s.error = ENOTCONN;
          }
        }
        stop_issuing = true;
      }
    }
    if (elapsed() >= next_report) {
      std::printf("write-storm: %.0fs: %llu acknowledged (%.1f MiB), %llu failed\n", elapsed(),
                  static_cast<unsigned long long>(acked),
                  static_cast<double>(bytes_acked) / 1048576.0,
                  static_cast<unsigned long long>(failed));
      std::fflush(stdout);
      next_report += 1.0;
    }
  }
  log->sync();
  std::printf("write-storm: done: %llu writes issued, %llu acknowledged (%.1f MiB), %llu failed\n",
              static_cast<unsigned long long>(next_id - 1), static_cast<unsigned long long>(acked),
              static_cast<double>(bytes_acked) / 1048576.0,
              static_cast<unsigned long long>(failed));
  if (failed == 0) nbd_shutdown(h.get(), 0);
  return failed == 0 ? 0 : 3;
}
