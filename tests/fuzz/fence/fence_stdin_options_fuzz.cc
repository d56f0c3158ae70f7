// Fuzzes the fence agent stdin option parser (name=value lines from any
// caller) and the validation that follows it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fence/agent/agent.h"
#include "fence/agent/options.h"
#include "fence/agent/parameter.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<tandem::fence::ParameterSpec> specs = [] {
    tandem::fence::AgentInfo info;
    info.uses_plug = true;
    info.supports_cycle = true;
    info.parameters = tandem::fence::connection_parameters(623, true);
    return tandem::fence::all_parameters(info);
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto options = tandem::fence::parse_stdin_options(text, specs);
  if (!options) return 0;
  (void)tandem::fence::validate_options(*options, specs);
  (void)tandem::fence::check_required(*options, specs);
  (void)options->seconds("power_timeout", 20);
  (void)options->integer("ipport", 623);
  (void)tandem::fence::parse_action(options->get_or("action", "reboot"));
  return 0;
}
