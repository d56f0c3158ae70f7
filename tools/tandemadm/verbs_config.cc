#include "verbs.h"

namespace tandem::adm {

void register_config_verbs(std::vector<Verb>& table) {
  (void)table;
}

}  // namespace tandem::adm
