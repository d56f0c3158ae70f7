// Fuzzes the cluster.conf parser and, for documents it accepts, the fencing
// plan built from them: no input may crash, leak or exceed its limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cluster/cluster_conf.h"
#include "fence/fence_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto conf = tandem::cluster::parse_cluster_conf(text, "fuzz.conf");
  if (!conf) return 0;
  for (const auto& node : conf->nodes) {
    auto plan = tandem::fence::plan_fencing(*conf, node.name, "reboot");
    if (!plan) continue;
    tandem::fence::FenceSequence sequence(*plan);
    int step = 0;
    while (const auto* device = sequence.next()) {
      (void)tandem::fence::agent_stdin(*device);
      sequence.record({(step++ % 2), false, ""});
    }
  }
  return 0;
}
