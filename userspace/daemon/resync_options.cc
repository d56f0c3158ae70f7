#include "daemon/resync_options.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace tandem::daemon {

Result<core::DigestAlg> digest_alg(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n.empty()) return core::DigestAlg::kNone;
  if (n == "crc32c") return core::DigestAlg::kCrc32c;
  if (n == "md5") return core::DigestAlg::kMd5;
  if (n == "sha1") return core::DigestAlg::kSha1;
  if (n == "sha256") return core::DigestAlg::kSha256;
  return make_error("digest algorithm '" + std::string(name) +
                    "' is not supported (use crc32c, md5, sha1 or sha256)");
}

uint32_t resync_reads_in_flight(uint32_t max_buffers, uint32_t chunk_bytes) {
  // max-buffers counts 4 KiB buffers, as DRBD's does. The core lets as many
  // chunks wait for the peer's acknowledgement as it reads at once, so half
  // the window is read at a time; one chunk at least, whatever the setting.
  const uint64_t window = uint64_t{max_buffers} * kMaxBuffersUnitBytes;
  const uint64_t chunks = chunk_bytes == 0 ? 0 : window / chunk_bytes;
  return static_cast<uint32_t>(std::max<uint64_t>(chunks / 2, 1));
}

Result<void> apply_resync_options(const config::ResolvedResource& resource,
                                  core::ReplicatorConfig& rc) {
  const std::string where =
      "resource " + resource.name + " (" + resource.location.to_string() + ")";
  auto csums = digest_alg(resource.net.csums_alg);
  if (!csums) return make_error(where + ": csums-alg: " + csums.error().message);
  auto verify = digest_alg(resource.net.verify_alg);
  if (!verify) return make_error(where + ": verify-alg: " + verify.error().message);
  auto integrity = digest_alg(resource.net.data_integrity_alg);
  if (!integrity) {
    return make_error(where + ": data-integrity-alg: " + integrity.error().message);
  }
  rc.csums_alg = *csums;
  rc.verify_alg = *verify;
  rc.integrity_alg = *integrity;
  // Disk options may differ per volume; tandemd runs one volume per resource.
  const config::DiskOptions& d =
      resource.volumes().empty() ? resource.disk : resource.volumes()[0].disk_options;
  if (d.c_plan_ahead > 0 && d.c_min_rate > d.c_max_rate) {
    return make_error(where + ": c-min-rate " + std::to_string(d.c_min_rate) +
                      " is above c-max-rate " + std::to_string(d.c_max_rate) +
                      ": lower c-min-rate or raise c-max-rate");
  }
  rc.rate.resync_rate_kib = d.resync_rate;
  rc.rate.c_plan_ahead = d.c_plan_ahead;
  rc.rate.c_fill_target_sectors = d.c_fill_target;
  rc.rate.c_delay_target = d.c_delay_target;
  rc.rate.c_max_rate_kib = d.c_max_rate;
  rc.rate.c_min_rate_kib = d.c_min_rate;
  rc.resync_max_in_flight = resync_reads_in_flight(resource.net.max_buffers, rc.resync_chunk_bytes);
  return {};
}

}  // namespace tandem::daemon
