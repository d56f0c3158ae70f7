#include "fence/ipmi/session.h"

#include "fence/ipmi/lan15_session.h"
#include "fence/ipmi/lanplus_session.h"

namespace tandem::ipmi {

Result<std::unique_ptr<Session>> make_session(const SessionConfig& config, RandomSource random) {
  if (config.attempts < 1) return make_error("at least one attempt per packet is needed");
  if (config.lanplus) {
    return std::unique_ptr<Session>(std::make_unique<LanplusSession>(config, std::move(random)));
  }
  return std::unique_ptr<Session>(std::make_unique<Lan15Session>(config, std::move(random)));
}

}  // namespace tandem::ipmi
