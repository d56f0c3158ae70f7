// The table of options tandem understands inside net, disk, startup,
// options and global sections: their value kind, unit, range and where the
// value lands in the typed structs of config.h. Validation, inheritance and
// the canonical dump are all driven by this one table.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "config/syntax_tree.h"

namespace tandem::config {

enum class SectionKind { kGlobal, kNet, kDisk, kStartup, kOptions };

enum class ValueKind {
  kNumber,    // unsigned integer with optional K/M/G suffix where the unit allows
  kFlag,      // `name;` (yes), `name yes;` or `name no;`
  kText,      // one word or string, checked by a TextRule
  kChoice,    // one of a fixed list of words
  kHostList,  // one or more host names (become-primary-on)
};

// Unit of a number in the configuration file; decides what a K/M/G suffix
// multiplies by (suffixes are 1024-based).
enum class Unit { kCount, kBytes, kKiB, kSectors, kSeconds, kTenths };

enum class TextRule { kNone, kDigest, kSecret, kCpuMask, kResourceRef };

// The option sections of one resource (or of `global`).
struct OptionValues {
  GlobalOptions global;
  NetOptions net;
  DiskOptions disk;
  StartupOptions startup;
  ResourceOptions options;
};

struct ParsedValue {
  uint64_t number = 0;
  bool flag = false;
  std::string text;
  std::size_t choice = 0;
  std::vector<std::string> list;
};

struct OptionSpec {
  std::string_view keyword;
  SectionKind section = SectionKind::kNet;
  ValueKind kind = ValueKind::kNumber;
  Unit unit = Unit::kCount;
  uint64_t min = 0;
  uint64_t max = 0;
  std::span<const std::string_view> choices;  // kChoice, in enum order
  TextRule rule = TextRule::kNone;
  void (*store)(OptionValues&, const ParsedValue&) = nullptr;
  // The current value in configuration-file spelling; empty when the value
  // means "not set" (an empty string option) and must not be printed.
  std::string (*show)(const OptionValues&, const OptionSpec&) = nullptr;
};

std::string_view section_name(SectionKind section);
std::string_view unit_name(Unit unit);

// Every option, in canonical (dump) order.
std::span<const OptionSpec> all_options();
const OptionSpec* find_option(SectionKind section, std::string_view keyword);

// `syncer { }` (DRBD 8.3) keywords, mapped to their DRBD 8.4 home
// (`rate` -> disk resync-rate, `verify-alg` -> net verify-alg, ...).
const OptionSpec* find_syncer_option(std::string_view keyword);

// DRBD options tandem recognises but does not implement, with the section
// they belong to in DRBD; used to explain a rejection.
std::optional<std::string_view> unimplemented_drbd_option(std::string_view keyword);

// Words the drbd.conf grammar reserves (section and option keywords,
// handler names, yes/no/ask, address families, minor) and words the
// scanner reads as numbers or IPv4 addresses: an unquoted resource or host
// name must not be one of them, or drbdadm would misread the file.
bool is_reserved_word(std::string_view word);

// Handler names DRBD 8.4 and 9 know.
std::span<const std::string_view> handler_names();
bool is_handler_name(std::string_view name);

// Digest names accepted for verify-alg, csums-alg, data-integrity-alg and
// cram-hmac-alg.
std::span<const std::string_view> digest_names();

// Validates and converts the arguments of one option. The error message has
// no location (the caller adds file:line) and says what is allowed.
Result<ParsedValue> parse_option_value(const OptionSpec& spec, const std::vector<Argument>& args);

// Parses "123", "10K", "4M", "1G" scaled to `unit`; nullopt with a reason.
Result<uint64_t> parse_scaled_number(std::string_view text, Unit unit);

}  // namespace tandem::config
