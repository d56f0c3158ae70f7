// Logging for every tandem program goes through libqb. Programs call
// tandem::log::init() once; code logs with TLOG(priority, fmt, ...), where
// priority is a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
// Lines that concern a resource, peer or device name it in the text.
#pragma once

#include <qb/qblog.h>
#include <syslog.h>

#include <mutex>

namespace tandem::log {

struct Options {
  const char* program = "tandem";
  int stderr_priority = LOG_WARNING;  // lines at or above this go to stderr
  bool to_syslog = false;
  const char* file = nullptr;  // optional log file
  int file_priority = LOG_INFO;
};

void init(const Options& options);
void set_stderr_priority(int priority);
void shutdown();

// libqb guards its logger against re-entry with one process-wide flag that
// is not thread-safe: two threads logging at once can lose a line. Every
// TLOG takes this lock, so programs with several threads (the NBD server,
// agent runners) log safely.
std::mutex& mutex();

}  // namespace tandem::log

#define TLOG(priority, ...)                                          \
  do {                                                               \
    std::lock_guard<std::mutex> tlog_guard_(::tandem::log::mutex()); \
    qb_log(priority, __VA_ARGS__);                                   \
  } while (0)
