#include "storm_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace tandem::lab {
namespace {

constexpr size_t kMaxLineBytes = 256;
constexpr size_t kMaxWrites = 50'000'000;

Error bad_line(const std::string& path, size_t line_no, const std::string& why) {
  return make_error(path + ":" + std::to_string(line_no) + ": " + why +
                    " (is this a log written by tandem-write-storm?)");
}

}  // namespace

Result<StormLog> read_storm_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("cannot open storm log " + path + ": " + std::strerror(errno));
  StormLog log;
  std::unordered_map<uint64_t, size_t> index;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    // A last line without its newline was cut short when the writer died
    // mid-write (its machine crashed): "A 12" may be the start of "A 123".
    if (in.eof()) break;
    if (line.size() > kMaxLineBytes) return bad_line(path, line_no, "line too long");
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (line_no == 1) {
      unsigned version = 0;
      std::string seed;
      fields >> version >> seed;
      if (kind != "tandem-write-storm" || version != 1 || seed.rfind("seed=", 0) != 0) {
        return bad_line(path, line_no, "missing header 'tandem-write-storm 1 seed=N'");
      }
      const std::string digits = seed.substr(5);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), log.seed);
      if (ec != std::errc() || end != digits.data() + digits.size()) {
        return bad_line(path, line_no, "bad seed '" + digits + "'");
      }
      continue;
    }
    if (kind.empty()) continue;
    uint64_t id = 0;
    if (!(fields >> id)) return bad_line(path, line_no, "no write id");
    if (kind == "I") {
      LoggedWrite w;
      w.id = id;
      if (!(fields >> w.offset >> w.length) || w.length == 0) {
        return bad_line(path, line_no, "issue line needs OFFSET LENGTH");
      }
      if (index.contains(id)) return bad_line(path, line_no, "write id issued twice");
      if (log.writes.size() >= kMaxWrites) return bad_line(path, line_no, "too many writes");
      index[id] = log.writes.size();
      log.writes.push_back(w);
    } else if (kind == "A" || kind == "F") {
      auto it = index.find(id);
      if (it == index.end()) return bad_line(path, line_no, "completion of a write never issued");
      log.writes[it->second].outcome =
          kind == "A" ? WriteOutcome::kAcknowledged : WriteOutcome::kFailed;
    } else {
      return bad_line(path, line_no, "unknown event '" + kind + "'");
    }
  }
  if (line_no == 0) return make_error("storm log " + path + " is empty");
  return log;
}

Result<StormLogWriter> StormLogWriter::create(const std::string& path, uint64_t seed) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot create storm log " + path + ": " + std::strerror(errno));
  StormLogWriter w(fd);
  w.line("tandem-write-storm 1 seed=" + std::to_string(seed) + "\n");
  return w;
}

StormLogWriter::~StormLogWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void StormLogWriter::line(const std::string& text) {
  // One write per line: a line is in the file completely or not at all
  // as far as this process is concerned (the checker tolerates a cut last
  // line for the machine-crash case).
  if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    std::fprintf(stderr, "write-storm: writing the log failed: %s\n", std::strerror(errno));
    std::abort();
  }
}

void StormLogWriter::issued(uint64_t id, uint64_t offset, uint64_t length) {
  line("I " + std::to_string(id) + " " + std::to_string(offset) + " " + std::to_string(length) +
       "\n");
}
void StormLogWriter::acknowledged(uint64_t id) {
  line("A " + std::to_string(id) + "\n");
}
void StormLogWriter::failed(uint64_t id, int error) {
  line("F " + std::to_string(id) + " " + std::to_string(error) + "\n");
}
void StormLogWriter::sync() {
  ::fdatasync(fd_);
}

}  // namespace tandem::lab
