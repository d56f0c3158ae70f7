#include "core/generation_ids.h"

#include <cstdio>

namespace tandem::core {

bool start_new_generation(Metadata& md, uint64_t fresh, bool primary) {
  if (md.bitmap_uuid == 0) {
    md.bitmap_uuid = md.current_uuid;
  } else if (sync_uuid_from_current(md.bitmap_uuid, md.current_uuid)) {
    md.history_uuids[1] = md.history_uuids[0];
    md.history_uuids[0] = md.current_uuid;
  } else {
    return false;
  }
  md.current_uuid = with_role(fresh, primary);
  return true;
}

bool set_primary_indicator(Metadata& md, bool primary) {
  const uint64_t next = with_role(md.current_uuid, primary);
  if (next == md.current_uuid) return false;
  md.current_uuid = next;
  return true;
}

uint64_t begin_sync_as_source(Metadata& md, uint64_t fresh) {
  if (md.bitmap_uuid != 0) {
    md.bitmap_uuid += kSyncUuidStep;
  } else {
    md.bitmap_uuid = names_history(md.current_uuid) ? md.current_uuid + kSyncUuidStep : fresh;
  }
  if (md.bitmap_uuid == 0) md.bitmap_uuid = kSyncUuidStep;  // the sum wrapped to 0
  return md.bitmap_uuid;
}

bool begin_sync_as_target(Metadata& md, uint64_t sync_uuid, bool primary) {
  const uint64_t next = with_role(sync_uuid, primary);
  if (md.current_uuid == next && md.bitmap_uuid == 0) return false;
  md.current_uuid = next;
  md.bitmap_uuid = 0;
  return true;
}

std::string format_generations(uint64_t current, uint64_t bitmap, uint64_t history0,
                               uint64_t history1) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%016llX:%016llX:%016llX:%016llX",
                static_cast<unsigned long long>(current), static_cast<unsigned long long>(bitmap),
                static_cast<unsigned long long>(history0),
                static_cast<unsigned long long>(history1));
  return buf;
}

std::string format_generations(const Metadata& md) {
  return format_generations(md.current_uuid, md.bitmap_uuid, md.history_uuids[0],
                            md.history_uuids[1]);
}

}  // namespace tandem::core
