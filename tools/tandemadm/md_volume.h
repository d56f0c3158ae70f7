// Opening the backing and metadata devices of a configured volume for the
// metadata verbs (create-md, dump-md, show-gi, wipe-md, apply-al).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "storage/md_geometry.h"
#include "storage/uring_backing.h"

namespace tandem::adm {

// One volume of a resource as the metadata verbs see it.
struct MdTarget {
  std::string label;  // "r0/0", used in every message
  config::ResolvedVolume volume;
  storage::MetaDiskSpec spec;
  std::string md_path;  // the backing disk for internal metadata
  std::string node_id_text;
  uint32_t node_id = 0xFFFFFFFFU;
};

// Volumes named by a verb argument: "RES" (all its volumes), "RES/VNR", or
// "all" (every resource this node has). Prints the reason and returns an
// empty list when the configuration or the argument is wrong.
std::vector<MdTarget> md_targets(const config::Config& cfg, const std::string& node,
                                 const std::string& arg, bool* config_error);

struct OpenedVolume {
  std::unique_ptr<storage::UringBacking> backing;
  std::unique_ptr<storage::UringBacking> md;  // null for internal metadata
  storage::BlockDevice& md_device() { return md ? *md : *backing; }
  uint64_t backing_size() const { return backing->size_bytes(); }
};

// Opens the backing device (and the external metadata device). `write`:
// opened read-write, and exclusively for block devices so that a mounted
// device is refused.
Result<OpenedVolume> open_volume(const MdTarget& target, bool write);

}  // namespace tandem::adm
