#include "verbs.h"

namespace tandem::adm {

void register_resource_verbs(std::vector<Verb>& table) {
  (void)table;
}

}  // namespace tandem::adm
