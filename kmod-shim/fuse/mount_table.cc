#include "fuse/mount_table.h"

#include <algorithm>

namespace tandem::fuse {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    s.begin() + static_cast<std::ptrdiff_t>(i) + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out +=
          static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < line.size()) {
    const size_t end = std::min(line.find(' ', pos), line.size());
    if (end > pos) out.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
  std::vector<MountEntry> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::vector<std::string_view> f = fields(text.substr(pos, end - pos));
    pos = end + 1;
    const auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 6 || dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 3) continue;
    MountEntry e;
    e.mount_point = unescape(f[4]);
    e.fs_type = std::string(*(dash + 1));
    e.source = unescape(*(dash + 2));
    out.push_back(std::move(e));
  }
  return out;
}

bool has_fuse_mount(const std::vector<MountEntry>& mounts, const std::string& mount_point) {
  return std::any_of(mounts.begin(), mounts.end(), [&](const MountEntry& e) {
    return e.mount_point == mount_point &&
           (e.fs_type == "fuse" || e.fs_type.rfind("fuse.", 0) == 0 || e.fs_type == "fuseblk");
  });
}

}  // namespace tandem::fuse
