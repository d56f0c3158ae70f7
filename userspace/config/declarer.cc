#include "config/declarer.h"

#include <array>
#include <map>

#include "config/device_statement.h"
#include "config/limits.h"
#include "config/statement_values.h"
#include "config/suggest.h"

namespace tandem::config {

namespace {

constexpr std::array<std::string_view, 4> kTopKeywords{"global", "common", "resource", "include"};
constexpr std::array<std::string_view, 7> kCommonKeywords{
    "protocol", "net", "disk", "syncer", "startup", "handlers", "options"};
constexpr std::array<std::string_view, 14> kResourceKeywords{
    "protocol", "net",      "disk",   "syncer", "startup",   "handlers",           "options",
    "on",       "floating", "volume", "device", "meta-disk", "flexible-meta-disk", "include"};
constexpr std::array<std::string_view, 7> kHostKeywords{
    "volume", "device", "disk", "meta-disk", "flexible-meta-disk", "address", "node-id"};
constexpr std::array<std::string_view, 4> kVolumeKeywords{"device", "disk", "meta-disk",
                                                          "flexible-meta-disk"};

// DRBD keywords for features tandem does not have; rejecting them by name is
// clearer than "unknown keyword".
constexpr std::array<std::string_view, 7> kUnsupportedStructure{
    "connection", "connection-mesh", "stacked-on-top-of", "ignore-on", "_this_host", "skip",
    "proxy"};

std::string hint_for(std::string_view word, std::span<const std::string_view> candidates) {
  if (std::optional<std::string> n = nearest(word, candidates)) {
    return "; did you mean '" + *n + "'?";
  }
  std::string all;
  for (std::string_view c : candidates) {
    if (!all.empty()) all += ", ";
    all += c;
  }
  return "; expected one of: " + all;
}

class Declarer {
 public:
  explicit Declarer(Diagnostics& diag) : diag_(diag) {}

  Declarations run(const std::vector<Statement>& statements) {
    for (const Statement& s : statements) {
      if (diag_.full()) break;
      top_level(s);
    }
    return std::move(out_);
  }

 private:
  void error(const SourceLocation& where, const std::string& message) {
    diag_.error(where, message);
  }

  bool expect_block(const Statement& s, std::string_view usage) {
    if (!s.has_block) {
      error(s.where, "'" + s.keyword + "' needs a { } section: " + std::string(usage));
      return false;
    }
    return true;
  }
  bool expect_no_block(const Statement& s) {
    if (s.has_block) {
      error(s.where, "'" + s.keyword + "' takes a value and ';', not a { } section");
      return false;
    }
    return true;
  }
  bool expect_args(const Statement& s, std::size_t n, std::string_view usage) {
    if (s.args.size() != n) {
      error(s.where, "'" + s.keyword + "' is written as: " + std::string(usage));
      return false;
    }
    return true;
  }

  bool unsupported_structure(const Statement& s) {
    for (std::string_view k : kUnsupportedStructure) {
      if (s.keyword == k) {
        error(s.where,
              "'" + s.keyword + "' is a DRBD feature tandem does not support; remove this section");
        return true;
      }
    }
    return false;
  }

  void top_level(const Statement& s) {
    if (s.keyword == "global") {
      if (!expect_block(s, "global { usage-count no; }") || !expect_args(s, 0, "global { ... }")) {
        return;
      }
      if (global_at_) {
        error(s.where, "second global section (the first is at " + global_at_->to_string() +
                           "); merge them into one");
        return;
      }
      global_at_ = s.where;
      option_block(s, SectionKind::kGlobal, out_.global, global_set_at_);
    } else if (s.keyword == "common") {
      if (!expect_block(s, "common { net { ... } ... }") || !expect_args(s, 0, "common { ... }")) {
        return;
      }
      if (common_at_) {
        error(s.where, "second common section (the first is at " + common_at_->to_string() +
                           "); merge them into one");
        return;
      }
      common_at_ = s.where;
      for (const Statement& c : s.block) {
        if (diag_.full()) return;
        if (!layer_statement(c, out_.common)) {
          unknown(c, "common", kCommonKeywords);
        }
      }
    } else if (s.keyword == "resource") {
      resource(s);
    } else if (s.keyword == "include") {
      // The loader splices includes in; one left here could not be resolved.
      error(s.where, "include could not be followed");
    } else if (!unsupported_structure(s)) {
      unknown(s, "the top level", kTopKeywords);
    }
  }

  void unknown(const Statement& s, std::string_view where,
               std::span<const std::string_view> allowed) {
    if (unsupported_structure(s)) return;
    if (s.keyword == "include") {
      error(s.where,
            "include is only allowed at the top level of a file, not inside " + std::string(where));
      return;
    }
    std::string extra;
    for (SectionKind k : {SectionKind::kNet, SectionKind::kDisk, SectionKind::kStartup,
                          SectionKind::kOptions, SectionKind::kGlobal}) {
      if (find_option(k, s.keyword) != nullptr) {
        extra =
            "; '" + s.keyword + "' belongs in a " + std::string(section_name(k)) + " { } section";
        break;
      }
    }
    if (extra.empty() && is_handler_name(s.keyword)) {
      extra = "; '" + s.keyword + "' belongs in a handlers { } section";
    }
    error(s.where, "unknown keyword '" + s.keyword + "' in " + std::string(where) +
                       (extra.empty() ? hint_for(s.keyword, allowed) : extra));
  }

  // Option sections allowed in common and resource; returns false when `s`
  // is none of them.
  bool layer_statement(const Statement& s, OptionLayer& layer) {
    if (s.keyword == "protocol" && !s.has_block) {
      option_statement(s, *find_option(SectionKind::kNet, "protocol"), layer.options, layer.set_at);
      return true;
    }
    if (s.keyword == "net" && s.has_block) {
      option_block(s, SectionKind::kNet, layer.options, layer.set_at);
    } else if (s.keyword == "disk" && s.has_block) {
      option_block(s, SectionKind::kDisk, layer.options, layer.set_at);
    } else if (s.keyword == "startup" && s.has_block) {
      option_block(s, SectionKind::kStartup, layer.options, layer.set_at);
    } else if (s.keyword == "options" && s.has_block) {
      option_block(s, SectionKind::kOptions, layer.options, layer.set_at);
    } else if (s.keyword == "syncer" && s.has_block) {
      syncer_block(s, layer.options, layer.set_at);
    } else if (s.keyword == "handlers" && s.has_block) {
      handlers_block(s, layer.handlers, layer.set_at);
    } else {
      return false;
    }
    if (!s.args.empty()) {
      error(s.where, "'" + s.keyword + "' takes no name; write '" + s.keyword + " { ... }'");
    }
    return true;
  }

  void option_statement(const Statement& s, const OptionSpec& spec, std::vector<OptionUse>& into,
                        std::map<std::string, SourceLocation>& seen) {
    if (!expect_no_block(s)) return;
    auto [it, inserted] = seen.emplace(std::string(spec.keyword), s.where);
    if (!inserted) {
      error(s.where, "'" + std::string(spec.keyword) + "' is set twice at this level (first at " +
                         it->second.to_string() + "); keep one");
      return;
    }
    Result<ParsedValue> v = parse_option_value(spec, s.args);
    if (!v) {
      error(s.where, v.error().message);
      return;
    }
    into.push_back(OptionUse{&spec, std::move(*v), s.where});
  }

  void unknown_option(const Statement& s, SectionKind section) {
    if (unimplemented_drbd_option(s.keyword)) {
      error(s.where, "'" + s.keyword + "' is a DRBD option tandem does not implement; remove it");
      return;
    }
    for (SectionKind k : {SectionKind::kNet, SectionKind::kDisk, SectionKind::kStartup,
                          SectionKind::kOptions, SectionKind::kGlobal}) {
      if (k != section && find_option(k, s.keyword) != nullptr) {
        error(s.where, "'" + s.keyword + "' belongs in a " + std::string(section_name(k)) +
                           " { } section, not in " + std::string(section_name(section)) + " { }");
        return;
      }
    }
    std::vector<std::string_view> names;
    for (const OptionSpec& o : all_options()) {
      if (o.section == section) names.push_back(o.keyword);
    }
    error(s.where, "unknown option '" + s.keyword + "' in " + std::string(section_name(section)) +
                       " { }" + hint_for(s.keyword, names));
  }

  void option_block(const Statement& s, SectionKind section, std::vector<OptionUse>& into,
                    std::map<std::string, SourceLocation>& seen) {
    for (const Statement& c : s.block) {
      if (diag_.full()) return;
      const OptionSpec* spec = find_option(section, c.keyword);
      if (spec == nullptr) {
        unknown_option(c, section);
        continue;
      }
      option_statement(c, *spec, into, seen);
    }
  }

  void syncer_block(const Statement& s, std::vector<OptionUse>& into,
                    std::map<std::string, SourceLocation>& seen) {
    for (const Statement& c : s.block) {
      if (diag_.full()) return;
      const OptionSpec* spec = find_syncer_option(c.keyword);
      if (spec == nullptr) {
        if (unimplemented_drbd_option(c.keyword)) {
          error(c.where,
                "'" + c.keyword + "' is a DRBD option tandem does not implement; remove it");
        } else {
          std::vector<std::string_view> names{
              "rate",       "after",        "al-extents",    "verify-alg",
              "csums-alg",  "c-plan-ahead", "c-fill-target", "c-delay-target",
              "c-max-rate", "c-min-rate",   "cpu-mask",      "on-no-data-accessible"};
          std::string extra = hint_for(c.keyword, names);
          for (SectionKind k : {SectionKind::kNet, SectionKind::kDisk, SectionKind::kStartup,
                                SectionKind::kOptions}) {
            if (find_option(k, c.keyword) != nullptr) {
              extra = "; it belongs in a " + std::string(section_name(k)) + " { } section";
            }
          }
          error(c.where, "unknown option '" + c.keyword + "' in syncer { }" + extra);
        }
        continue;
      }
      option_statement(c, *spec, into, seen);
    }
  }

  void handlers_block(const Statement& s, std::vector<HandlerUse>& into,
                      std::map<std::string, SourceLocation>& seen) {
    for (const Statement& c : s.block) {
      if (diag_.full()) return;
      // DRBD 8.3 called fence-peer outdate-peer; drbdadm 8.4 maps it too.
      const std::string name = c.keyword == "outdate-peer" ? "fence-peer" : c.keyword;
      if (!is_handler_name(name)) {
        error(c.where,
              "unknown handler '" + c.keyword + "'" + hint_for(c.keyword, handler_names()));
        continue;
      }
      if (!expect_no_block(c)) continue;
      if (c.args.size() != 1 || c.args[0].text.empty()) {
        error(c.where, "handler " + c.keyword + " needs one command, e.g. " + c.keyword +
                           " \"/usr/lib/drbd/notify.sh root\";");
        continue;
      }
      auto [it, inserted] = seen.emplace("handler " + name, c.where);
      if (!inserted) {
        error(c.where, "handler '" + name + "' is set twice at this level (first at " +
                           it->second.to_string() + "); keep one");
        continue;
      }
      into.push_back(HandlerUse{name, c.args[0].text, c.where});
    }
  }

  void resource(const Statement& s) {
    if (!expect_block(s, "resource NAME { ... }")) return;
    if (s.args.size() != 1 || !valid_name(s.args[0].text)) {
      error(s.where, "resource needs one name of at most " + std::to_string(limits::kMaxNameBytes) +
                         " characters without spaces, '/' or quotes: resource NAME { ... }");
      return;
    }
    if (reserved_name(s.args[0], s.where, "resource")) return;
    if (out_.resources.size() >= limits::kMaxResources) {
      error(s.where, "more than " + std::to_string(limits::kMaxResources) + " resources");
      return;
    }
    ResourceDecl r;
    r.name = s.args[0].text;
    r.where = s.where;
    const std::string ctx = "resource " + r.name;
    for (const Statement& c : s.block) {
      if (diag_.full()) break;
      if (layer_statement(c, r.layer)) continue;
      if (c.keyword == "on") {
        host(c, r, false);
      } else if (c.keyword == "floating") {
        host(c, r, true);
      } else if (c.keyword == "volume") {
        volume_section(c, r.volumes, ctx);
      } else if (is_volume_field(c)) {
        implicit_volume_field(c, r.volumes, ctx);
      } else {
        unknown(c, ctx, kResourceKeywords);
      }
    }
    check_volume_forms(r);
    out_.resources.push_back(std::move(r));
  }

  // Volume 0 is either implicit everywhere in a resource (device/disk/
  // meta-disk written directly) or declared with volume sections everywhere;
  // drbdadm refuses a mix, and a mix is ambiguous to read.
  void check_volume_forms(const ResourceDecl& r) {
    std::optional<SourceLocation> implicit_at = r.volumes.implicit_at;
    std::optional<SourceLocation> explicit_at = r.volumes.explicit_at;
    for (const HostDecl& h : r.hosts) {
      if (!implicit_at) implicit_at = h.volumes.implicit_at;
      if (!explicit_at) explicit_at = h.volumes.explicit_at;
    }
    if (implicit_at && explicit_at) {
      const SourceLocation& later =
          implicit_at->line > explicit_at->line ? *implicit_at : *explicit_at;
      error(later, "resource " + r.name + " mixes volume sections (first at " +
                       explicit_at->to_string() +
                       ") with device/disk/meta-disk written directly (first at " +
                       implicit_at->to_string() +
                       "); use volume N { } sections everywhere or nowhere in the resource");
    }
  }

  bool reserved_name(const Argument& name, const SourceLocation& where, std::string_view what) {
    if (name.quoted || !is_reserved_word(name.text)) return false;
    error(where, "'" + name.text +
                     "' is a keyword or number in the configuration language and cannot be a " +
                     std::string(what) + " name as it stands; write it in quotes (\"" + name.text +
                     "\") or choose another name");
    return true;
  }

  static bool is_volume_field(const Statement& s) {
    return (s.keyword == "device" || s.keyword == "disk" || s.keyword == "meta-disk" ||
            s.keyword == "flexible-meta-disk") &&
           !s.has_block;
  }

  void host(const Statement& s, ResourceDecl& r, bool floating) {
    const std::string usage =
        floating ? "floating [ipv4|ipv6] ADDRESS:PORT { ... }" : "on HOST [HOST...] { ... }";
    if (!expect_block(s, usage)) return;
    if (r.hosts.size() >= limits::kMaxHostsPerResource) {
      error(s.where, "resource " + r.name + " has more than " +
                         std::to_string(limits::kMaxHostsPerResource) + " host sections");
      return;
    }
    HostDecl h;
    h.floating = floating;
    h.where = s.where;
    if (floating) {
      Result<Address> a = parse_address(s.args);
      if (!a) {
        error(s.where, "in resource " + r.name + ": " + a.error().message);
        return;
      }
      h.names.push_back(a->host);
      h.address = *a;
      h.address_at = s.where;
    } else {
      if (s.args.empty()) {
        error(s.where, "'on' needs a host name: " + usage);
        return;
      }
      for (const Argument& a : s.args) {
        if (!valid_name(a.text)) {
          error(s.where, "'" + a.text +
                             "' is not a valid host name; use the name 'uname -n' "
                             "prints (letters, digits, '-', '.', '_')");
          return;
        }
        if (reserved_name(a, s.where, "host")) return;
        h.names.push_back(a.text);
      }
    }
    const std::string ctx = "resource " + r.name + ", host " + h.names[0];
    for (const Statement& c : s.block) {
      if (diag_.full()) break;
      if (c.keyword == "volume") {
        volume_section(c, h.volumes, ctx);
      } else if (is_volume_field(c)) {
        implicit_volume_field(c, h.volumes, ctx);
      } else if (c.keyword == "address" && !c.has_block) {
        if (floating) {
          error(c.where, "a floating section takes its address from its header; remove this line");
        } else if (h.address_at) {
          error(c.where, "address is set twice for " + ctx + " (first at " +
                             h.address_at->to_string() + "); keep one");
        } else {
          Result<Address> a = parse_address(c.args);
          if (!a) {
            error(c.where, "in " + ctx + ": " + a.error().message);
          } else {
            h.address = *a;
            h.address_at = c.where;
          }
        }
      } else if (c.keyword == "node-id" && !c.has_block) {
        if (h.node_id) {
          error(c.where, "node-id is set twice for " + ctx + "; keep one");
        } else if (!expect_args(c, 1, "node-id N;") || c.args[0].quoted) {
          if (c.args.size() == 1) error(c.where, "node-id takes a plain number: node-id N;");
        } else if (Result<uint32_t> n = parse_u32(c.args[0].text, 0, 31, "node-id"); !n) {
          error(c.where, n.error().message);
        } else {
          h.node_id = *n;
        }
      } else if (c.keyword == "disk" && c.has_block) {
        error(c.where,
              "disk options cannot be set per host; put them in the resource's disk { } "
              "or in a volume { disk { } } section");
      } else {
        unknown(c, ctx, kHostKeywords);
      }
    }
    r.hosts.push_back(std::move(h));
  }

  void volume_section(const Statement& s, VolumeSet& set, const std::string& ctx) {
    if (!expect_block(s, "volume N { device ...; disk ...; meta-disk ...; }")) return;
    if (s.args.size() != 1 || s.args[0].quoted) {
      error(s.where, "volume needs its number, unquoted: volume N { ... }");
      return;
    }
    Result<uint32_t> n = parse_u32(s.args[0].text, 0, 65535, "volume number");
    if (!n) {
      error(s.where, n.error().message);
      return;
    }
    if (set.implicit_at) {
      error(s.where, "in " + ctx +
                         ": volume sections cannot be mixed with device/disk/meta-disk "
                         "written directly in the section (at " +
                         set.implicit_at->to_string() + "); move those into 'volume 0 { }'");
      return;
    }
    if (set.volumes.count(*n) != 0) {
      error(s.where, "in " + ctx + ": volume " + std::to_string(*n) +
                         " is defined twice (first at " + set.volumes[*n].where.to_string() + ")");
      return;
    }
    if (set.volumes.size() >= limits::kMaxVolumesPerResource) {
      error(s.where, "in " + ctx + ": more than " + std::to_string(limits::kMaxVolumesPerResource) +
                         " volumes");
      return;
    }
    if (!set.explicit_at) set.explicit_at = s.where;
    VolumeDecl& v = set.volumes[*n];
    v.where = s.where;
    const std::string vctx = ctx + ", volume " + std::to_string(*n);
    for (const Statement& c : s.block) {
      if (diag_.full()) return;
      if (is_volume_field(c)) {
        volume_field(c, v, vctx);
      } else if (c.keyword == "disk" && c.has_block) {
        for (const Statement& o : c.block) {
          const OptionSpec* spec = find_option(SectionKind::kDisk, o.keyword);
          if (spec == nullptr) {
            unknown_option(o, SectionKind::kDisk);
            continue;
          }
          option_statement(o, *spec, v.disk_options, v.disk_options_at);
        }
      } else {
        unknown(c, vctx, kVolumeKeywords);
      }
    }
  }

  void implicit_volume_field(const Statement& s, VolumeSet& set, const std::string& ctx) {
    if (set.explicit_at) {
      error(s.where, "in " + ctx + ": '" + s.keyword +
                         "' written directly cannot be mixed with "
                         "volume sections (at " +
                         set.explicit_at->to_string() + "); move it into a volume { } section");
      return;
    }
    if (!set.implicit_at) set.implicit_at = s.where;
    VolumeDecl& v = set.volumes[0];
    if (v.where.line == 0) v.where = s.where;
    volume_field(s, v, ctx);
  }

  void volume_field(const Statement& s, VolumeDecl& v, const std::string& ctx) {
    const std::string field = s.keyword == "flexible-meta-disk" ? "meta-disk" : s.keyword;
    auto [it, inserted] = v.set_at.emplace(field, s.where);
    if (!inserted) {
      error(s.where, "in " + ctx + ": " + field + " is set twice (first at " +
                         it->second.to_string() + "); keep one");
      return;
    }
    if (s.keyword == "device") {
      Result<Device> d = parse_device(s.args);
      if (!d) {
        error(s.where, "in " + ctx + ": " + d.error().message);
      } else {
        v.device = *d;
      }
    } else if (s.keyword == "disk") {
      if (s.args.size() != 1) {
        error(s.where, "in " + ctx + ": disk needs the backing device path: disk /dev/vg/lv;");
      } else if (s.args[0].text == "none") {
        error(s.where, "in " + ctx +
                           ": diskless volumes ('disk none') are not supported; give "
                           "the backing device path");
      } else if (s.args[0].text.front() != '/') {
        error(s.where, "in " + ctx + ": disk '" + s.args[0].text +
                           "' is not an absolute path; write e.g. disk /dev/vg01/lv;");
      } else {
        v.disk = s.args[0].text;
      }
    } else {
      Result<MetaDisk> m = parse_meta_disk(s.args, s.keyword == "flexible-meta-disk");
      if (!m) {
        error(s.where, "in " + ctx + ": " + m.error().message);
      } else {
        v.meta_disk = *m;
      }
    }
  }

  Diagnostics& diag_;
  Declarations out_;
  std::optional<SourceLocation> global_at_;
  std::optional<SourceLocation> common_at_;
  std::map<std::string, SourceLocation> global_set_at_;
};

}  // namespace

Declarations declare(const std::vector<Statement>& statements, Diagnostics& diag) {
  return Declarer(diag).run(statements);
}

}  // namespace tandem::config
