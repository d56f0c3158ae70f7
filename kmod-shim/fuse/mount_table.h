// Reading /proc/self/mountinfo: finds a FUSE mount left at a mount point by
// a server that died (its requests then fail with ENOTCONN). Parsing is
// pure; the caller reads the file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem::fuse {

struct MountEntry {
  std::string mount_point;  // octal escapes (\040 for a space) decoded
  std::string fs_type;      // "fuse", "fuse.tandem", "ext4", ...
  std::string source;
};

// Lines that do not have the mountinfo shape are skipped.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// True when `mount_point` has a FUSE file system mounted on it.
bool has_fuse_mount(const std::vector<MountEntry>& mounts, const std::string& mount_point);

}  // namespace tandem::fuse
