// The write storm's log: one text line per event, appended with one
// write(2) each, so that every line written before the storm process (or
// the node under test) dies is in the file.
//
//   tandem-write-storm 1 seed=SEED
//   I ID OFFSET LENGTH    issued (written before the request is sent)
//   A ID                  acknowledged by the server
//   F ID ERRNO            failed, or still in flight when the connection died
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::lab {

enum class WriteOutcome : uint8_t { kInFlight, kAcknowledged, kFailed };

struct LoggedWrite {
  uint64_t id = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  WriteOutcome outcome = WriteOutcome::kInFlight;
};

struct StormLog {
  uint64_t seed = 0;
  std::vector<LoggedWrite> writes;  // in issue order
};

// Reads a storm log; errors name the file and line.
Result<StormLog> read_storm_log(const std::string& path);

// Appends log lines to a file with one write(2) per line.
class StormLogWriter {
 public:
  static Result<StormLogWriter> create(const std::string& path, uint64_t seed);
  StormLogWriter(StormLogWriter&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  StormLogWriter& operator=(StormLogWriter&&) = delete;
  ~StormLogWriter();

  void issued(uint64_t id, uint64_t offset, uint64_t length);
  void acknowledged(uint64_t id);
  void failed(uint64_t id, int error);
  void sync();

 private:
  explicit StormLogWriter(int fd) : fd_(fd) {}
  void line(const std::string& text);
  int fd_ = -1;
};

}  // namespace tandem::lab
