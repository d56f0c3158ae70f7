// Placeholder until the parser lands: every load fails with a clear message.
#include "config/config.h"

namespace tandem::config {

Result<Config> load_file(const std::string& path) {
  return make_error(path + ": the configuration parser is not implemented yet");
}

Result<Config> load_string(std::string_view /*text*/, const std::string& name) {
  return make_error(name + ": the configuration parser is not implemented yet");
}

}  // namespace tandem::config
