#include "config/dump.h"

#include <algorithm>

#include "config/device_statement.h"
#include "config/limits.h"
#include "config/options.h"

namespace tandem::config {

namespace {

constexpr std::string_view kIndent = "    ";

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\t') {
      out += "\\t";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

void line(std::string& out, int depth, const std::string& text) {
  for (int i = 0; i < depth; ++i) out += kIndent;
  out += text;
  out += '\n';
}

// Resource and host names that are keywords were quoted in the file and
// must stay quoted to be read back as names.
std::string name_text(std::string_view name) {
  return is_reserved_word(name) ? quoted(name) : quote_if_needed(name);
}

std::string value_text(const OptionSpec& spec, const std::string& shown) {
  if (spec.rule == TextRule::kSecret) return quoted(shown);
  if (spec.rule == TextRule::kResourceRef) return name_text(shown);
  if (spec.kind == ValueKind::kText) return quote_if_needed(shown);
  if (spec.kind == ValueKind::kHostList) {
    // Host names never contain spaces (the declarer checks), so the shown
    // list splits back into names.
    std::string out;
    std::size_t start = 0;
    while (start <= shown.size()) {
      const std::size_t end = std::min(shown.find(' ', start), shown.size());
      if (!out.empty()) out += ' ';
      out += name_text(std::string_view(shown).substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
  return shown;
}

// Options of one section, or only those differing from `base` when given.
void section(std::string& out, int depth, SectionKind kind, const OptionValues& values,
             const OptionValues* base) {
  std::string body;
  for (const OptionSpec& spec : all_options()) {
    if (spec.section != kind) continue;
    const std::string shown = spec.show(values, spec);
    if (base != nullptr && spec.show(*base, spec) == shown) continue;
    if (shown.empty()) continue;  // an unset string option (e.g. no verify-alg)
    // Global switches are bare words in DRBD ("disable-ip-verification;"):
    // present means on.
    if (kind == SectionKind::kGlobal && spec.kind == ValueKind::kFlag) {
      if (shown == "yes") line(body, depth + 1, std::string(spec.keyword) + ";");
      continue;
    }
    line(body, depth + 1, std::string(spec.keyword) + " " + value_text(spec, shown) + ";");
  }
  if (body.empty() && base != nullptr) return;
  line(out, depth, std::string(section_name(kind)) + " {");
  out += body;
  line(out, depth, "}");
}

std::string meta_disk_text(const MetaDisk& m) {
  if (m.internal) return "internal";
  std::string out = quote_if_needed(m.path);
  if (m.index) out += " [" + std::to_string(*m.index) + "]";
  return out;
}

}  // namespace

std::string quote_if_needed(std::string_view word) {
  // The same rule the parser applies to unquoted words.
  const bool plain = !word.empty() && word.size() <= limits::kMaxWordBytes &&
                     std::all_of(word.begin(), word.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' ||
                              c == '-';
                     });
  return plain ? std::string(word) : quoted(word);
}

std::string dump_global(const GlobalOptions& global) {
  OptionValues values;
  values.global = global;
  std::string out;
  section(out, 0, SectionKind::kGlobal, values, nullptr);
  return out;
}

std::string dump_resource(const ResourceConfig& r, std::string_view this_host) {
  std::string out;
  line(out, 0, "resource " + name_text(r.name) + " {");
  OptionValues values;
  values.net = r.net;
  values.disk = r.disk;
  values.startup = r.startup;
  values.options = r.options;
  section(out, 1, SectionKind::kNet, values, nullptr);
  section(out, 1, SectionKind::kDisk, values, nullptr);
  section(out, 1, SectionKind::kStartup, values, nullptr);
  section(out, 1, SectionKind::kOptions, values, nullptr);
  if (!r.handlers.empty()) {
    line(out, 1, "handlers {");
    for (const auto& [handler, command] : r.handlers) {
      line(out, 2, handler + " " + quoted(command) + ";");
    }
    line(out, 1, "}");
  }
  for (const ResolvedHost& h : r.hosts) {
    const bool mine = std::find(h.names.begin(), h.names.end(), this_host) != h.names.end();
    std::string head;
    if (h.floating) {
      head = "floating " + h.address.to_string() + " {";
    } else {
      head = "on";
      for (const std::string& n : h.names) head += " " + name_text(n);
      head += " {";
    }
    if (mine) head += "  # this host";
    line(out, 1, head);
    if (!h.floating) line(out, 2, "address " + h.address.to_string() + ";");
    if (h.node_id) line(out, 2, "node-id " + std::to_string(*h.node_id) + ";");
    for (const ResolvedVolume& v : h.volumes) {
      line(out, 2, "volume " + std::to_string(v.number) + " {");
      line(out, 3, "device " + device_text(v.device) + ";");
      line(out, 3, "disk " + quote_if_needed(v.disk) + ";");
      line(out, 3, "meta-disk " + meta_disk_text(v.meta_disk) + ";");
      OptionValues volume_values = values;
      volume_values.disk = v.disk_options;
      section(out, 3, SectionKind::kDisk, volume_values, &values);
      line(out, 2, "}");
    }
    line(out, 1, "}");
  }
  line(out, 0, "}");
  return out;
}

std::string dump_config(const Config& config, std::string_view this_host,
                        std::optional<std::string_view> resource) {
  std::string out = "# effective configuration as host " + std::string(this_host) +
                    " (defaults explicit, inheritance resolved)\n";
  out += dump_global(config.global());
  for (const ResourceConfig& r : config.resources()) {
    if (resource && r.name != *resource) continue;
    out += '\n';
    out += dump_resource(r, this_host);
  }
  return out;
}

}  // namespace tandem::config
