// Metadata verbs: create-md, dump-md, show-gi, wipe-md, apply-al. They work
// on the volumes of a configured resource (RES, RES/VNR or "all") and must
// not run while tandemd has the resource up.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "config_loader.h"
#include "md_volume.h"
#include "storage/aligned_buffer.h"
#include "storage/fs_signature.h"
#include "storage/metadata_store.h"
#include "storage/sync_io.h"
#include "verbs.h"

namespace tandem::adm {
namespace {

using storage::MetadataStore;

struct VerbArgs {
  bool force = false;
  std::string target;
};

// Parses "[--force] TARGET"; prints usage on error.
bool parse(std::string_view verb, std::span<const std::string> args, bool allow_force,
           VerbArgs* out) {
  for (const std::string& a : args) {
    if (allow_force && a == "--force") {
      out->force = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "tandemadm: %.*s: unknown option %s\n", static_cast<int>(verb.size()),
                   verb.data(), a.c_str());
      return false;
    } else if (out->target.empty()) {
      out->target = a;
    } else {
      std::fprintf(stderr, "tandemadm: %.*s takes one resource\n", static_cast<int>(verb.size()),
                   verb.data());
      return false;
    }
  }
  if (out->target.empty()) {
    std::fprintf(stderr, "tandemadm: usage: tandemadm %.*s %sRESOURCE[/VOLUME]\n",
                 static_cast<int>(verb.size()), verb.data(), allow_force ? "[--force] " : "");
    return false;
  }
  return true;
}

std::string human(uint64_t bytes) {
  char buf[64];
  if (bytes >= (1ULL << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ULL << 30));
  } else if (bytes >= (1ULL << 20)) {
    std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1ULL << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  }
  return buf;
}

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016" PRIX64, v);
  return buf;
}

std::string md_where(const MdTarget& t) {
  std::string s = t.md_path + " (" + storage::kind_name(t.spec.kind);
  if (t.spec.kind == storage::MetaDiskKind::kExternalIndexed) {
    s += " index " + std::to_string(t.spec.index);
  }
  return s + ")";
}

// Runs `fn` for every volume the argument names; returns the worst exit code.
template <typename Fn>
int for_each_volume(const GlobalOptions& options, const std::string& target, Fn fn) {
  std::optional<config::Config> cfg = load_config_or_report(options);
  if (!cfg) return kExitConfig;
  bool config_error = false;
  std::vector<MdTarget> targets = md_targets(*cfg, options.node, target, &config_error);
  if (config_error) return kExitConfig;
  int rc = kExitOk;
  for (const MdTarget& t : targets) {
    const int r = fn(t);
    if (r != kExitOk) rc = r;
  }
  return rc;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "tandemadm: %s\n", message.c_str());
  return kExitFailure;
}

// Why create-md must not proceed without --force, or empty.
std::string create_md_obstacle(const MdTarget& t, OpenedVolume& v) {
  const storage::MdProbe probe = MetadataStore::probe(v.md_device(), t.spec);
  switch (probe.found) {
    case storage::MdProbe::Found::kValid:
      return md_where(t) + " already holds tandem metadata; 'tandemadm create-md --force " +
             t.label + "' replaces it (its generation identifiers and out-of-sync bitmap are lost)";
    case storage::MdProbe::Found::kDamaged:
      return md_where(t) + " holds " + probe.detail + "; 'tandemadm create-md --force " + t.label +
             "' replaces it";
    case storage::MdProbe::Found::kForeign:
      if (t.spec.kind == storage::MetaDiskKind::kInternal) {
        return "the end of " + t.md_path +
               ", where internal metadata goes, holds data; use --force if that data may be "
               "overwritten";
      }
      break;
    case storage::MdProbe::Found::kNothing:
      break;
  }
  // A file system on the device: internal metadata takes the end of it, and
  // external metadata on a device that holds a file system destroys it.
  storage::BlockDevice& probe_dev =
      t.spec.kind == storage::MetaDiskKind::kInternal ? *v.backing : v.md_device();
  const uint64_t probe_at = t.spec.kind == storage::MetaDiskKind::kExternalIndexed
                                ? uint64_t{t.spec.index} * storage::kIndexedAreaBytes
                                : 0;
  const uint64_t n =
      std::min<uint64_t>(storage::kSignatureProbeBytes,
                         probe_dev.size_bytes() - std::min(probe_at, probe_dev.size_bytes()));
  const uint64_t aligned = n / 4096 * 4096;
  if (aligned > 0) {
    storage::AlignedBuffer head(static_cast<size_t>(aligned));
    if (auto r = storage::read_sync(probe_dev, probe_at, head.span()); !r) {
      return "cannot check " + probe_dev.name() + " for a file system: " + r.error().message;
    }
    if (auto sig = storage::detect_signature(head.span())) {
      if (t.spec.kind == storage::MetaDiskKind::kInternal) {
        return t.md_path + " appears to contain: " + *sig +
               "; internal metadata would overwrite its last " +
               human(
                   storage::internal_md_bytes(v.backing_size(), t.volume.disk_options.al_extents)) +
               ". Shrink the file system first (or use external metadata), then use --force";
      }
      return probe_dev.name() + " appears to contain: " + *sig +
             " where the metadata would go; use --force to overwrite it";
    }
  }
  return {};
}

int create_md(const GlobalOptions& options, std::span<const std::string> args) {
  VerbArgs a;
  if (!parse("create-md", args, true, &a)) return kExitUsage;
  return for_each_volume(options, a.target, [&](const MdTarget& t) {
    auto v = open_volume(t, true);
    if (!v) return fail(v.error().message);
    if (!a.force) {
      if (std::string obstacle = create_md_obstacle(t, *v); !obstacle.empty()) {
        return fail(t.label + ": " + obstacle + ". Nothing was written.");
      }
    }
    const uint32_t al = t.volume.disk_options.al_extents;
    auto g = storage::compute_geometry(t.spec, t.volume.disk, v->backing_size(), t.md_path,
                                       v->md_device().size_bytes(), al);
    if (!g) return fail(t.label + ": " + g.error().message + " Nothing was written.");
    storage::Superblock identity;
    identity.node_id = t.node_id;
    identity.flags = storage::kFlagAlClean;
    identity.device_uuid = storage::random_device_uuid();
    identity.gi.current = storage::kGiJustCreated;
    auto store = MetadataStore::create(v->md_device(), *g, identity,
                                       {.flushes = t.volume.disk_options.md_flushes});
    if (!store) return fail(t.label + ": creating metadata failed: " + store.error().message);
    std::printf(
        "%s: created %s metadata on %s: %s for data, %s of metadata (bitmap %s, activity log "
        "%u x %s for %u extents, superblock 8 KiB)\n",
        t.label.c_str(), storage::kind_name(g->kind), t.md_path.c_str(),
        human(g->usable_size).c_str(), human(g->area_size).c_str(), human(g->bitmap_bytes).c_str(),
        g->al_ring_slots, human(g->al_tx_bytes()).c_str(), g->al_extents);
    return kExitOk;
  });
}

Result<MetadataStore> open_store(const MdTarget& t, OpenedVolume& v) {
  auto store = MetadataStore::open(v.md_device(), t.spec, v.backing_size(),
                                   {.flushes = t.volume.disk_options.md_flushes});
  // The activity-log layout is fixed when the metadata is created.
  if (store && store->geometry().al_extents != t.volume.disk_options.al_extents) {
    std::fprintf(stderr,
                 "tandemadm: note: %s: the configuration sets al-extents %u but the metadata "
                 "was created with %u, which stays in force until create-md is run again\n",
                 t.label.c_str(), t.volume.disk_options.al_extents, store->geometry().al_extents);
  }
  return store;
}

int dump_md(const GlobalOptions& options, std::span<const std::string> args) {
  VerbArgs a;
  if (!parse("dump-md", args, false, &a)) return kExitUsage;
  return for_each_volume(options, a.target, [&](const MdTarget& t) {
    auto v = open_volume(t, false);
    if (!v) return fail(v.error().message);
    auto store = open_store(t, *v);
    if (!store) return fail(t.label + ": " + store.error().message);
    auto al = store->read_activity_log();
    if (!al) return fail(t.label + ": " + al.error().message);
    auto bm = store->read_bitmap();
    if (!bm) return fail(t.label + ": " + bm.error().message);
    const storage::Superblock& sb = store->superblock();
    const storage::Geometry& g = sb.geometry;
    std::printf("# tandem metadata of %s on %s\n", t.label.c_str(), md_where(t).c_str());
    std::printf("version %u;\n", storage::kMdFormatVersion);
    std::printf("sequence %" PRIu64 ";\n", sb.sequence);
    if (sb.node_id == storage::kNoNodeId) {
      std::printf("node-id none;\n");
    } else {
      std::printf("node-id %u;\n", sb.node_id);
    }
    std::printf("device-uuid %s;\n", storage::uuid_to_string(sb.device_uuid).c_str());
    std::printf("gi { current 0x%s; bitmap 0x%s; history 0x%s 0x%s; }\n",
                hex64(sb.gi.current).c_str(), hex64(sb.gi.bitmap).c_str(),
                hex64(sb.gi.history[0]).c_str(), hex64(sb.gi.history[1]).c_str());
    std::printf("flags %s;\n", storage::flag_names(sb.flags).c_str());
    std::printf("usable-size %" PRIu64 "; # bytes, %s\n", g.usable_size,
                human(g.usable_size).c_str());
    std::printf("md-area { offset %" PRIu64 "; size %" PRIu64 "; }\n", g.area_offset, g.area_size);
    std::printf("bitmap { offset %" PRIu64 "; bits %" PRIu64 "; bytes %" PRIu64
                "; out-of-sync %" PRIu64 "; } # %s out of sync\n",
                g.bitmap_offset, g.bitmap_bits, g.bitmap_bytes, bm->count(),
                human(bm->count() * storage::kBytesPerBitmapBit).c_str());
    std::printf("activity-log { offset %" PRIu64 "; al-extents %u; ring %u; tx-blocks %u; }\n",
                g.al_offset, g.al_extents, g.al_ring_slots, g.al_tx_blocks);
    for (size_t i = 0; i < al->slots.size(); ++i) {
      const storage::DecodedAlSlot& s = al->slots[i];
      if (s.state == storage::AlSlotState::kValid) {
        std::printf("al-slot %zu { transaction %" PRIu64 "; hot %zu; added %u; evicted %u; }\n", i,
                    s.tx->number, s.tx->hot.size(), s.tx->added, s.tx->evicted);
      } else if (s.state == storage::AlSlotState::kInvalid) {
        std::printf("al-slot %zu { invalid; } # %s\n", i, s.detail.c_str());
      }
    }
    if (al->newest) {
      std::printf("hot-extents {");
      for (uint32_t e : al->newest->hot) std::printf(" %u", e);
      std::printf(" } # from transaction %" PRIu64 "%s\n", al->newest->number,
                  (sb.flags & storage::kFlagAlClean) != 0 ? ", log is clean" : "");
    } else {
      std::printf("hot-extents { } # no transaction yet\n");
    }
    return kExitOk;
  });
}

int show_gi(const GlobalOptions& options, std::span<const std::string> args) {
  VerbArgs a;
  if (!parse("show-gi", args, false, &a)) return kExitUsage;
  return for_each_volume(options, a.target, [&](const MdTarget& t) {
    auto v = open_volume(t, false);
    if (!v) return fail(v.error().message);
    auto store = open_store(t, *v);
    if (!store) return fail(t.label + ": " + store.error().message);
    const storage::Superblock& sb = store->superblock();
    auto bit = [&](uint32_t f) { return (sb.flags & f) != 0 ? 1 : 0; };
    std::printf("%s: %s:%s:%s:%s:%d:%d:%d:%d:%d:%d\n", t.label.c_str(),
                hex64(sb.gi.current).c_str(), hex64(sb.gi.bitmap).c_str(),
                hex64(sb.gi.history[0]).c_str(), hex64(sb.gi.history[1]).c_str(),
                bit(storage::kFlagConsistent), bit(storage::kFlagWasUpToDate),
                bit(storage::kFlagPrimary), bit(storage::kFlagCrashedPrimary),
                bit(storage::kFlagPeerOutdated), bit(storage::kFlagAlClean));
    std::printf("  current  %s%s\n", hex64(sb.gi.current).c_str(),
                sb.gi.current == storage::kGiJustCreated ? "  (just created)"
                : (sb.gi.current & 1U) != 0              ? "  (primary)"
                                                         : "");
    std::printf("  bitmap   %s\n", hex64(sb.gi.bitmap).c_str());
    std::printf("  history  %s %s\n", hex64(sb.gi.history[0]).c_str(),
                hex64(sb.gi.history[1]).c_str());
    std::printf("  flags    %s\n", storage::flag_names(sb.flags).c_str());
    return kExitOk;
  });
}

int wipe_md(const GlobalOptions& options, std::span<const std::string> args) {
  VerbArgs a;
  if (!parse("wipe-md", args, true, &a)) return kExitUsage;
  return for_each_volume(options, a.target, [&](const MdTarget& t) {
    if (!a.force && isatty(STDIN_FILENO) != 0) {
      std::printf("Wipe the tandem metadata of %s on %s? Type 'yes': ", t.label.c_str(),
                  md_where(t).c_str());
      std::fflush(stdout);
      char answer[16] = {};
      if (std::fgets(answer, sizeof answer, stdin) == nullptr || std::string(answer) != "yes\n") {
        return fail(t.label + ": not wiped");
      }
    }
    auto v = open_volume(t, true);
    if (!v) return fail(v.error().message);
    if (auto w = MetadataStore::wipe(v->md_device(), t.spec); !w) {
      return fail(t.label + ": " + w.error().message);
    }
    std::printf("%s: metadata on %s wiped\n", t.label.c_str(), md_where(t).c_str());
    return kExitOk;
  });
}

int apply_al(const GlobalOptions& options, std::span<const std::string> args) {
  VerbArgs a;
  if (!parse("apply-al", args, false, &a)) return kExitUsage;
  return for_each_volume(options, a.target, [&](const MdTarget& t) {
    auto v = open_volume(t, true);
    if (!v) return fail(v.error().message);
    auto store = open_store(t, *v);
    if (!store) return fail(t.label + ": " + store.error().message);
    auto r = store->apply_al();
    if (!r) return fail(t.label + ": applying the activity log failed: " + r.error().message);
    if (r->was_clean) {
      std::printf("%s: activity log is clean, nothing to apply\n", t.label.c_str());
    } else {
      std::printf("%s: activity log applied: %zu extents (%s) marked out of sync\n",
                  t.label.c_str(), r->extents.size(),
                  human(r->extents.size() * storage::kAlExtentBytes).c_str());
    }
    return kExitOk;
  });
}

}  // namespace

void register_md_verbs(std::vector<Verb>& table) {
  table.push_back(Verb{"create-md", "[--force] RES[/VOL]",
                       "write new metadata for a resource's volumes", create_md});
  table.push_back(Verb{"dump-md", "RES[/VOL]", "print the metadata in text form", dump_md});
  table.push_back(
      Verb{"show-gi", "RES[/VOL]", "print the generation identifiers and flags", show_gi});
  table.push_back(Verb{"wipe-md", "[--force] RES[/VOL]", "destroy the metadata", wipe_md});
  table.push_back(Verb{"apply-al", "RES[/VOL]",
                       "mark the activity log's extents out of sync after a crash", apply_al});
}

}  // namespace tandem::adm
