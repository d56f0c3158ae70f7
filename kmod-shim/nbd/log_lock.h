// libqb's logger guards against re-entry with one process-wide flag that is
// not thread-safe: two threads logging at the same moment can lose a line.
// The NBD runtime logs from several threads (one per connection, plus the
// volume's workers), so every NBD log line goes through one lock.
#pragma once

#include <mutex>

#include "common/log.h"

namespace tandem::nbd {

inline std::mutex& log_mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace tandem::nbd

#define NBD_LOG(priority, ...)                                              \
  do {                                                                      \
    std::lock_guard<std::mutex> nbd_log_guard_(::tandem::nbd::log_mutex()); \
    TLOG(priority, __VA_ARGS__);                                            \
  } while (0)
