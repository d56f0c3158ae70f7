// The resync and online-verify options of a resource file (csums-alg,
// verify-alg, resync-rate, c-plan-ahead, c-fill-target, c-delay-target,
// c-max-rate, c-min-rate) in the replication core's terms.
#pragma once

#include <string_view>

#include "common/result.h"
#include "config/config.h"
#include "core/replication_types.h"

namespace tandem::daemon {

// "crc32c", "md5", "sha1", "sha256" (any case); empty: kNone. Other names
// fail with a message that lists the supported ones.
Result<core::DigestAlg> digest_alg(std::string_view name);

// Sets rc.csums_alg, rc.verify_alg and rc.rate from `resource` (the
// volume's effective disk options). Errors name the resource and the file.
Result<void> apply_resync_options(const config::ResolvedResource& resource,
                                  core::ReplicatorConfig& rc);

}  // namespace tandem::daemon
