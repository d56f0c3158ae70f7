// Fuzzes the whole configuration pipeline on untrusted text: lexer, parser,
// declarations, resolution. Includes are not followed (that would read
// files of the fuzzing machine), everything else runs as in load_string.
//
// Beyond "does not crash": any text that loads must dump to a text that
// loads to an equal configuration, and dumping that again changes nothing.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "config/declarer.h"
#include "config/dump.h"
#include "config/parser.h"
#include "config/resolver.h"

namespace {

using tandem::config::Config;

std::optional<Config> load(std::string_view text) {
  tandem::config::Diagnostics diag;
  const auto statements = tandem::config::parse_statements(text, "fuzz.conf", diag);
  if (!diag.empty()) return std::nullopt;
  for (const auto& s : statements) {
    if (s.keyword == "include") return std::nullopt;
  }
  const auto decls = tandem::config::declare(statements, diag);
  if (!diag.empty()) return std::nullopt;
  auto config = tandem::config::resolve_declarations(decls, diag);
  // Errors are reported as text; a message must exist exactly when it failed.
  if (config.has_value() != diag.empty()) std::abort();
  if (!config && diag.message().empty()) std::abort();
  return config;
}

Config without_locations(const Config& c) {
  std::vector<tandem::config::ResourceConfig> resources = c.resources();
  for (auto& r : resources) {
    r.location = {};
    for (auto& h : r.hosts) h.location = {};
  }
  return Config(c.global(), std::move(resources));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<Config> config = load(text);
  if (!config) return 0;
  const std::string dumped = tandem::config::dump_config(*config, "alpha");
  std::optional<Config> again = load(dumped);
  if (!again || !(without_locations(*config) == without_locations(*again))) std::abort();
  if (tandem::config::dump_config(*again, "alpha") != dumped) std::abort();
  return 0;
}
