// The fencing history: one FenceEvent record (userspace/proto/fence.proto)
// per fencing attempt, appended to a file under the state directory.
//
// File format: a sequence of records, each
//   u32 magic "TFH1" (0x31484654 little endian) | u32 length | u32 FNV-1a
//   of the payload | payload (serialized FenceEvent, at most 64 KiB)
// all little endian. Each record is appended with one O_APPEND write and
// fsync, so a crash can only leave a torn last record; the reader reports
// it and resumes at the next record header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "fence.pb.h"

namespace tandem::fence {

inline constexpr const char* kDefaultHistoryPath = "/var/lib/tandem/fence-history";
inline constexpr std::size_t kMaxHistoryRecord = 64 * 1024;
inline constexpr std::size_t kMaxHistoryFile = 64 * 1024 * 1024;

// The history file: TANDEM_FENCE_HISTORY when set, else kDefaultHistoryPath.
std::string default_history_path();

// Encodes one record (header + payload).
Result<std::string> encode_history_record(const proto::FenceEvent& event);

struct HistoryContents {
  std::vector<proto::FenceEvent> events;
  std::size_t ignored_tail_bytes = 0;  // bytes of torn or damaged records skipped
  std::string problem;                 // the first damage found, with its offset
};

// Decodes a whole history file image. Never fails: damage ends the list.
HistoryContents decode_history(std::string_view data);

// Appends one record atomically (creates the file and its directory).
Result<void> append_history(const std::string& path, const proto::FenceEvent& event);
// Reads the file; a missing file is an empty history.
Result<HistoryContents> read_history(const std::string& path);

}  // namespace tandem::fence
