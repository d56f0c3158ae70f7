#include "fence/fence_history.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tandem::fence {

namespace {

constexpr std::uint32_t kMagic = 0x31484654;  // "TFH1"
constexpr std::size_t kHeader = 12;

std::uint32_t fnv1a(std::string_view data) {
  std::uint32_t h = 2166136261u;
  for (char c : data) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | static_cast<std::uint8_t>(in[at + static_cast<std::size_t>(i)]);
  }
  return v;
}

Result<void> make_parent_dirs(const std::string& path) {
  for (std::size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos; ++pos) {
    const std::string dir = path.substr(0, pos);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      const int e = errno;
      return make_error(
          "cannot create directory " + dir + " for the fencing history: " + std::strerror(e), e);
    }
  }
  return {};
}

}  // namespace

std::string default_history_path() {
  const char* env = std::getenv("TANDEM_FENCE_HISTORY");
  return env != nullptr && *env != '\0' ? env : kDefaultHistoryPath;
}

Result<std::string> encode_history_record(const proto::FenceEvent& event) {
  std::string payload;
  if (!event.SerializeToString(&payload)) {
    return make_error("cannot serialize the fencing history record for " + event.victim());
  }
  if (payload.size() > kMaxHistoryRecord) {
    return make_error("fencing history record for " + event.victim() + " is too large (" +
                      std::to_string(payload.size()) + " bytes)");
  }
  std::string out;
  out.reserve(kHeader + payload.size());
  put_u32(out, kMagic);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, fnv1a(payload));
  out += payload;
  return out;
}

HistoryContents decode_history(std::string_view data) {
  HistoryContents out;
  std::size_t pos = 0;
  // A crash can tear the last record; later appends then follow the torn
  // bytes. Skip damage up to the next record header instead of giving up.
  auto skip_damage = [&](const std::string& why) {
    if (out.problem.empty()) out.problem = why + " at byte " + std::to_string(pos);
    const char magic[4] = {'T', 'F', 'H', '1'};
    const std::size_t next = data.find(std::string_view(magic, 4), pos + 1);
    const std::size_t until = next == std::string_view::npos ? data.size() : next;
    out.ignored_tail_bytes += until - pos;
    pos = until;
  };
  while (pos < data.size()) {
    const std::size_t left = data.size() - pos;
    if (left < kHeader) {
      skip_damage("torn record header");
      continue;
    }
    if (get_u32(data, pos) != kMagic) {
      skip_damage("damaged record (bad magic)");
      continue;
    }
    const std::uint32_t len = get_u32(data, pos + 4);
    if (len == 0 || len > kMaxHistoryRecord) {
      skip_damage("damaged record (length " + std::to_string(len) + ")");
      continue;
    }
    if (left - kHeader < len) {
      skip_damage("torn record (" + std::to_string(left - kHeader) + " of " + std::to_string(len) +
                  " bytes)");
      continue;
    }
    const std::string_view payload = data.substr(pos + kHeader, len);
    proto::FenceEvent event;
    if (fnv1a(payload) != get_u32(data, pos + 8) ||
        !event.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      skip_damage("damaged record (checksum mismatch)");
      continue;
    }
    out.events.push_back(std::move(event));
    pos += kHeader + len;
  }
  return out;
}

Result<void> append_history(const std::string& path, const proto::FenceEvent& event) {
  auto record = encode_history_record(event);
  if (!record) return record.error();
  if (auto r = make_parent_dirs(path); !r) return r;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int e = errno;
    return make_error("cannot open fencing history " + path + ": " + std::strerror(e), e);
  }
  // One write: with O_APPEND concurrent writers never interleave records.
  const ssize_t n = write(fd, record->data(), record->size());
  const int write_errno = errno;
  const int sync_rc = fsync(fd);
  const int sync_errno = errno;
  close(fd);
  if (n != static_cast<ssize_t>(record->size())) {
    return make_error("cannot append to fencing history " + path + ": " +
                          (n < 0 ? std::strerror(write_errno) : "short write (disk full?)"),
                      n < 0 ? write_errno : 0);
  }
  if (sync_rc != 0) {
    return make_error("cannot sync fencing history " + path + ": " + std::strerror(sync_errno),
                      sync_errno);
  }
  return {};
}

Result<HistoryContents> read_history(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return HistoryContents{};
    const int e = errno;
    return make_error("cannot read fencing history " + path + ": " + std::strerror(e), e);
  }
  std::string data;
  char buf[65536];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      close(fd);
      return make_error("cannot read fencing history " + path + ": " + std::strerror(e), e);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > kMaxHistoryFile) {
      close(fd);
      return make_error("fencing history " + path + " is larger than " +
                        std::to_string(kMaxHistoryFile / (1024 * 1024)) +
                        " MiB; move it aside to start a new one");
    }
  }
  close(fd);
  return decode_history(data);
}

}  // namespace tandem::fence
