#include "common/log.h"

#include <cstdio>

namespace tandem::log {

namespace {
bool g_initialised = false;
}

void init(const Options& options) {
  qb_log_init(options.program, LOG_DAEMON, LOG_DEBUG);
  g_initialised = true;

  // qb_log_init enables syslog; tools only want it when asked.
  qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, options.to_syslog ? QB_TRUE : QB_FALSE);
  if (options.to_syslog) {
    qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_INFO);
  }

  qb_log_format_set(QB_LOG_STDERR, "%N: %p: %b");
  qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
  set_stderr_priority(options.stderr_priority);

  if (options.file != nullptr) {
    const int32_t fd = qb_log_file_open(options.file);
    if (fd < 0) {
      std::fprintf(stderr, "%s: cannot open log file %s; logging to stderr only\n", options.program,
                   options.file);
    } else {
      qb_log_format_set(fd, "%t %N[%P]: %p: %b");
      qb_log_filter_ctl(fd, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*",
                        static_cast<uint8_t>(options.file_priority));
      qb_log_ctl(fd, QB_LOG_CONF_ENABLED, QB_TRUE);
    }
  }
}

void set_stderr_priority(int priority) {
  qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
  qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*",
                    static_cast<uint8_t>(priority));
}

std::mutex& mutex() {
  static std::mutex mu;
  return mu;
}

void shutdown() {
  if (g_initialised) {
    qb_log_fini();
    g_initialised = false;
  }
}

}  // namespace tandem::log
