// The resync and online-verify options of a resource file (csums-alg,
// verify-alg, resync-rate, c-plan-ahead, c-fill-target, c-delay-target,
// c-max-rate, c-min-rate, max-buffers), and data-integrity-alg, in the
// replication core's terms.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "config/config.h"
#include "core/replication_types.h"

namespace tandem::daemon {

// "crc32c", "md5", "sha1", "sha256" (any case); empty: kNone. Other names
// fail with a message that lists the supported ones.
Result<core::DigestAlg> digest_alg(std::string_view name);

// The unit of max-buffers (DRBD counts pages).
inline constexpr uint32_t kMaxBuffersUnitBytes = 4096;

// How many resync or verify chunks of `chunk_bytes` a source reads at once
// (ReplicatorConfig::resync_max_in_flight) so that the chunks in flight,
// being read or waiting for the peer, fit in max-buffers: at least 1.
uint32_t resync_reads_in_flight(uint32_t max_buffers, uint32_t chunk_bytes);

// Sets rc.csums_alg, rc.verify_alg, rc.integrity_alg, rc.rate and
// rc.resync_max_in_flight from `resource` (the volume's effective disk
// options, net max-buffers; rc.resync_chunk_bytes must be set first).
// Errors name the resource and the file.
Result<void> apply_resync_options(const config::ResolvedResource& resource,
                                  core::ReplicatorConfig& rc);

}  // namespace tandem::daemon
