#include "config/options.h"

#include <array>
#include <limits>
#include <type_traits>

namespace tandem::config {

namespace {

constexpr std::array<std::string_view, 3> kProtocols{"A", "B", "C"};
// A word ending in '-' is a prefix: "discard-node-NAME" names a host.
constexpr std::array<std::string_view, 8> kAfterSb0{"disconnect",
                                                    "discard-younger-primary",
                                                    "discard-older-primary",
                                                    "discard-zero-changes",
                                                    "discard-least-changes",
                                                    "discard-local",
                                                    "discard-remote",
                                                    "discard-node-"};
constexpr std::array<std::string_view, 5> kAfterSb1{"disconnect", "consensus", "violently-as0p",
                                                    "discard-secondary", "call-pri-lost-after-sb"};
constexpr std::array<std::string_view, 3> kAfterSb2{"disconnect", "violently-as0p",
                                                    "call-pri-lost-after-sb"};
constexpr std::array<std::string_view, 5> kRrConflict{"disconnect", "call-pri-lost", "violently",
                                                      "retry-connect", "auto-discard"};
constexpr std::array<std::string_view, 3> kOnIoError{"pass_on", "call-local-io-error", "detach"};
constexpr std::array<std::string_view, 3> kFencing{"dont-care", "resource-only",
                                                   "resource-and-stonith"};
constexpr std::array<std::string_view, 2> kOnNoData{"io-error", "suspend-io"};
constexpr std::array<std::string_view, 3> kUsageCount{"yes", "no", "ask"};

constexpr std::array<std::string_view, 14> kHandlers{
    "pri-on-incon-degr",   "pri-lost-after-sb",    "pri-lost",
    "fence-peer",          "unfence-peer",         "local-io-error",
    "initial-split-brain", "split-brain",          "before-resync-target",
    "after-resync-target", "before-resync-source", "out-of-sync",
    "quorum-lost",         "disconnected"};

// Digests both the Linux crypto API (what DRBD uses) and OpenSSL (what
// tandem uses) provide under the same name.
constexpr std::array<std::string_view, 11> kDigests{
    "md5",    "sha1",     "sha224",   "sha256",   "sha384",     "sha512",
    "crc32c", "sha3-256", "sha3-384", "sha3-512", "blake2b-512"};

template <auto Sec, auto Fld>
void store_field(OptionValues& values, const ParsedValue& p) {
  auto& field = (values.*Sec).*Fld;
  using F = std::remove_reference_t<decltype(field)>;
  if constexpr (std::is_same_v<F, bool>) {
    field = p.flag;
  } else if constexpr (std::is_enum_v<F>) {
    field = static_cast<F>(p.choice);
  } else if constexpr (std::is_same_v<F, std::string>) {
    field = p.text;
  } else if constexpr (std::is_same_v<F, std::vector<std::string>>) {
    field = p.list;
  } else {
    field = static_cast<F>(p.number);
  }
}

template <auto Sec, auto Fld>
std::string show_field(const OptionValues& values, const OptionSpec& spec) {
  const auto& field = (values.*Sec).*Fld;
  using F = std::remove_cvref_t<decltype(field)>;
  if constexpr (std::is_same_v<F, bool>) {
    return field ? "yes" : "no";
  } else if constexpr (std::is_enum_v<F>) {
    const auto index = static_cast<std::size_t>(field);
    return index < spec.choices.size() ? std::string(spec.choices[index]) : std::string("?");
  } else if constexpr (std::is_same_v<F, std::string>) {
    return field;
  } else if constexpr (std::is_same_v<F, std::vector<std::string>>) {
    std::string out;
    for (const std::string& s : field) {
      if (!out.empty()) out += ' ';
      out += s;
    }
    return out;
  } else {
    return std::to_string(field);
  }
}

template <auto Sec, auto Fld>
OptionSpec number(std::string_view kw, SectionKind sec, Unit unit, uint64_t min, uint64_t max) {
  OptionSpec s;
  s.keyword = kw;
  s.section = sec;
  s.kind = ValueKind::kNumber;
  s.unit = unit;
  s.min = min;
  s.max = max;
  s.store = &store_field<Sec, Fld>;
  s.show = &show_field<Sec, Fld>;
  return s;
}

template <auto Sec, auto Fld>
OptionSpec flag(std::string_view kw, SectionKind sec) {
  OptionSpec s;
  s.keyword = kw;
  s.section = sec;
  s.kind = ValueKind::kFlag;
  s.store = &store_field<Sec, Fld>;
  s.show = &show_field<Sec, Fld>;
  return s;
}

template <auto Sec, auto Fld>
OptionSpec text(std::string_view kw, SectionKind sec, TextRule rule) {
  OptionSpec s;
  s.keyword = kw;
  s.section = sec;
  s.kind = ValueKind::kText;
  s.rule = rule;
  s.store = &store_field<Sec, Fld>;
  s.show = &show_field<Sec, Fld>;
  return s;
}

template <auto Sec, auto Fld>
OptionSpec choice(std::string_view kw, SectionKind sec, std::span<const std::string_view> words) {
  OptionSpec s;
  s.keyword = kw;
  s.section = sec;
  s.kind = ValueKind::kChoice;
  s.choices = words;
  s.store = &store_field<Sec, Fld>;
  s.show = &show_field<Sec, Fld>;
  return s;
}

// after-sb-0pri keeps the NAME of discard-node-NAME next to the choice.
void store_after_sb_0pri(OptionValues& values, const ParsedValue& p) {
  values.net.after_sb_0pri = static_cast<AfterSb0Pri>(p.choice);
  values.net.after_sb_0pri_node =
      values.net.after_sb_0pri == AfterSb0Pri::kDiscardNode ? p.text : std::string();
}

std::string show_after_sb_0pri(const OptionValues& values, const OptionSpec& spec) {
  const auto index = static_cast<std::size_t>(values.net.after_sb_0pri);
  std::string out = index < spec.choices.size() ? std::string(spec.choices[index]) : "?";
  if (values.net.after_sb_0pri == AfterSb0Pri::kDiscardNode) out += values.net.after_sb_0pri_node;
  return out;
}

OptionSpec after_sb_0pri_spec() {
  OptionSpec s;
  s.keyword = "after-sb-0pri";
  s.section = SectionKind::kNet;
  s.kind = ValueKind::kChoice;
  s.choices = kAfterSb0;
  s.store = &store_after_sb_0pri;
  s.show = &show_after_sb_0pri;
  return s;
}

template <auto Sec, auto Fld>
OptionSpec host_list(std::string_view kw, SectionKind sec) {
  OptionSpec s;
  s.keyword = kw;
  s.section = sec;
  s.kind = ValueKind::kHostList;
  s.store = &store_field<Sec, Fld>;
  s.show = &show_field<Sec, Fld>;
  return s;
}

using V = OptionValues;
using S = SectionKind;

// Ranges and defaults follow DRBD 8.4 (drbd_limits.h); resync-rate is capped
// at 4 GiB/s as drbdadm 8.4 does.
const std::vector<OptionSpec>& table() {
  static const std::vector<OptionSpec> specs = {
      // global
      choice<&V::global, &GlobalOptions::usage_count>("usage-count", S::kGlobal, kUsageCount),
      number<&V::global, &GlobalOptions::minor_count>("minor-count", S::kGlobal, Unit::kCount, 1,
                                                      255),
      number<&V::global, &GlobalOptions::dialog_refresh>("dialog-refresh", S::kGlobal,
                                                         Unit::kSeconds, 0, 600),
      flag<&V::global, &GlobalOptions::disable_ip_verification>("disable-ip-verification",
                                                                S::kGlobal),
      flag<&V::global, &GlobalOptions::udev_always_use_vnr>("udev-always-use-vnr", S::kGlobal),
      // net
      choice<&V::net, &NetOptions::protocol>("protocol", S::kNet, kProtocols),
      flag<&V::net, &NetOptions::allow_two_primaries>("allow-two-primaries", S::kNet),
      after_sb_0pri_spec(),
      choice<&V::net, &NetOptions::after_sb_1pri>("after-sb-1pri", S::kNet, kAfterSb1),
      choice<&V::net, &NetOptions::after_sb_2pri>("after-sb-2pri", S::kNet, kAfterSb2),
      choice<&V::net, &NetOptions::rr_conflict>("rr-conflict", S::kNet, kRrConflict),
      text<&V::net, &NetOptions::shared_secret>("shared-secret", S::kNet, TextRule::kSecret),
      text<&V::net, &NetOptions::cram_hmac_alg>("cram-hmac-alg", S::kNet, TextRule::kDigest),
      number<&V::net, &NetOptions::ping_int>("ping-int", S::kNet, Unit::kSeconds, 1, 120),
      number<&V::net, &NetOptions::ping_timeout>("ping-timeout", S::kNet, Unit::kTenths, 1, 300),
      number<&V::net, &NetOptions::timeout>("timeout", S::kNet, Unit::kTenths, 1, 600),
      number<&V::net, &NetOptions::connect_int>("connect-int", S::kNet, Unit::kSeconds, 1, 120),
      number<&V::net, &NetOptions::ko_count>("ko-count", S::kNet, Unit::kCount, 0, 200),
      number<&V::net, &NetOptions::max_buffers>("max-buffers", S::kNet, Unit::kCount, 32, 131072),
      number<&V::net, &NetOptions::sndbuf_size>("sndbuf-size", S::kNet, Unit::kBytes, 0, 10 << 20),
      number<&V::net, &NetOptions::rcvbuf_size>("rcvbuf-size", S::kNet, Unit::kBytes, 0, 10 << 20),
      text<&V::net, &NetOptions::verify_alg>("verify-alg", S::kNet, TextRule::kDigest),
      text<&V::net, &NetOptions::csums_alg>("csums-alg", S::kNet, TextRule::kDigest),
      text<&V::net, &NetOptions::data_integrity_alg>("data-integrity-alg", S::kNet,
                                                     TextRule::kDigest),
      // disk
      choice<&V::disk, &DiskOptions::on_io_error>("on-io-error", S::kDisk, kOnIoError),
      choice<&V::disk, &DiskOptions::fencing>("fencing", S::kDisk, kFencing),
      flag<&V::disk, &DiskOptions::disk_barrier>("disk-barrier", S::kDisk),
      flag<&V::disk, &DiskOptions::disk_flushes>("disk-flushes", S::kDisk),
      flag<&V::disk, &DiskOptions::disk_drain>("disk-drain", S::kDisk),
      flag<&V::disk, &DiskOptions::md_flushes>("md-flushes", S::kDisk),
      number<&V::disk, &DiskOptions::al_extents>("al-extents", S::kDisk, Unit::kCount, 67, 65534),
      number<&V::disk, &DiskOptions::resync_rate>("resync-rate", S::kDisk, Unit::kKiB, 1, 4 << 20),
      number<&V::disk, &DiskOptions::c_plan_ahead>("c-plan-ahead", S::kDisk, Unit::kTenths, 0, 300),
      number<&V::disk, &DiskOptions::c_fill_target>("c-fill-target", S::kDisk, Unit::kSectors, 0,
                                                    1 << 20),
      number<&V::disk, &DiskOptions::c_delay_target>("c-delay-target", S::kDisk, Unit::kTenths, 1,
                                                     100),
      number<&V::disk, &DiskOptions::c_max_rate>("c-max-rate", S::kDisk, Unit::kKiB, 250, 4 << 20),
      number<&V::disk, &DiskOptions::c_min_rate>("c-min-rate", S::kDisk, Unit::kKiB, 0, 4 << 20),
      text<&V::disk, &DiskOptions::resync_after>("resync-after", S::kDisk, TextRule::kResourceRef),
      // startup
      number<&V::startup, &StartupOptions::wfc_timeout>("wfc-timeout", S::kStartup, Unit::kSeconds,
                                                        0, 300000),
      number<&V::startup, &StartupOptions::degr_wfc_timeout>("degr-wfc-timeout", S::kStartup,
                                                             Unit::kSeconds, 0, 300000),
      number<&V::startup, &StartupOptions::outdated_wfc_timeout>(
          "outdated-wfc-timeout", S::kStartup, Unit::kSeconds, 0, 300000),
      flag<&V::startup, &StartupOptions::wait_after_sb>("wait-after-sb", S::kStartup),
      host_list<&V::startup, &StartupOptions::become_primary_on>("become-primary-on", S::kStartup),
      // options
      text<&V::options, &ResourceOptions::cpu_mask>("cpu-mask", S::kOptions, TextRule::kCpuMask),
      choice<&V::options, &ResourceOptions::on_no_data_accessible>("on-no-data-accessible",
                                                                   S::kOptions, kOnNoData),
  };
  return specs;
}

struct SyncerAlias {
  std::string_view old_name;
  SectionKind section;
  std::string_view new_name;
};
// Exactly the keywords drbdadm 8.4 accepts in syncer { }.
constexpr std::array<SyncerAlias, 12> kSyncer{{
    {"rate", S::kDisk, "resync-rate"},
    {"after", S::kDisk, "resync-after"},
    {"al-extents", S::kDisk, "al-extents"},
    {"c-plan-ahead", S::kDisk, "c-plan-ahead"},
    {"c-fill-target", S::kDisk, "c-fill-target"},
    {"c-delay-target", S::kDisk, "c-delay-target"},
    {"c-max-rate", S::kDisk, "c-max-rate"},
    {"c-min-rate", S::kDisk, "c-min-rate"},
    {"verify-alg", S::kNet, "verify-alg"},
    {"csums-alg", S::kNet, "csums-alg"},
    {"cpu-mask", S::kOptions, "cpu-mask"},
    {"on-no-data-accessible", S::kOptions, "on-no-data-accessible"},
}};

constexpr std::array<std::string_view, 27> kUnimplemented{"max-epoch-size",
                                                          "unplug-watermark",
                                                          "tcp-cork",
                                                          "always-asbp",
                                                          "use-rle",
                                                          "csums-after-crash-only",
                                                          "socket-check-timeout",
                                                          "on-congestion",
                                                          "congestion-fill",
                                                          "congestion-extents",
                                                          "discard-my-data",
                                                          "transport",
                                                          "disk-timeout",
                                                          "al-updates",
                                                          "read-balancing",
                                                          "max-bio-bvecs",
                                                          "size",
                                                          "discard-zeroes-if-aligned",
                                                          "disable-write-same",
                                                          "rs-discard-granularity",
                                                          "al-stripes",
                                                          "al-stripe-size-kB",
                                                          "stacked-timeouts",
                                                          "cmd-timeout-short",
                                                          "cmd-timeout-medium",
                                                          "cmd-timeout-long",
                                                          "delay-probe-volume"};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

uint64_t suffix_factor(char suffix, Unit unit) {
  uint64_t power = 0;  // 1024^power relative to bytes
  switch (suffix) {
    case 'k':
    case 'K':
      power = 1;
      break;
    case 'm':
    case 'M':
      power = 2;
      break;
    case 'g':
    case 'G':
      power = 3;
      break;
    default:
      return 0;
  }
  uint64_t bytes = 1;
  for (uint64_t i = 0; i < power; ++i) bytes *= 1024;
  switch (unit) {
    case Unit::kKiB:
      return bytes / 1024;
    case Unit::kSectors:
      return bytes / 512;
    case Unit::kCount:
    case Unit::kBytes:
      return bytes;
    case Unit::kSeconds:
    case Unit::kTenths:
      return 0;
  }
  return 0;
}

std::string join_words(std::span<const std::string_view> words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w;
    if (w.ends_with('-')) out += "NAME";
  }
  return out;
}

std::string range_text(const OptionSpec& spec) {
  std::string unit(unit_name(spec.unit));
  return std::to_string(spec.min) + ".." + std::to_string(spec.max) +
         (unit.empty() ? "" : " " + unit);
}

Result<std::string> check_text(const OptionSpec& spec, const std::string& value) {
  switch (spec.rule) {
    case TextRule::kNone:
      return value;
    case TextRule::kDigest:
      for (std::string_view d : kDigests) {
        if (d == value) return value;
      }
      return make_error("'" + value + "' is not a digest tandem supports for " +
                        std::string(spec.keyword) + "; use one of " + join_words(kDigests));
    case TextRule::kSecret:
      if (value.empty() || value.size() > 64) {
        return make_error("shared-secret must be 1 to 64 bytes long (it has " +
                          std::to_string(value.size()) + ")");
      }
      return value;
    case TextRule::kCpuMask:
      if (value.empty() || value.size() > 64) {
        return make_error("cpu-mask must be a hexadecimal mask of at most 64 digits (e.g. ff)");
      }
      for (char c : value) {
        const bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex) {
          return make_error("cpu-mask '" + value + "' is not a hexadecimal mask (e.g. ff)");
        }
      }
      return value;
    case TextRule::kResourceRef:
      if (value.empty() || value.size() > 128) {
        return make_error("resync-after needs the name of another resource");
      }
      return value;
  }
  return value;
}

}  // namespace

std::string_view section_name(SectionKind section) {
  switch (section) {
    case SectionKind::kGlobal:
      return "global";
    case SectionKind::kNet:
      return "net";
    case SectionKind::kDisk:
      return "disk";
    case SectionKind::kStartup:
      return "startup";
    case SectionKind::kOptions:
      return "options";
  }
  return "?";
}

std::string_view unit_name(Unit unit) {
  switch (unit) {
    case Unit::kCount:
      return "";
    case Unit::kBytes:
      return "bytes";
    case Unit::kKiB:
      return "KiB/s";
    case Unit::kSectors:
      return "sectors";
    case Unit::kSeconds:
      return "seconds";
    case Unit::kTenths:
      return "tenths of a second";
  }
  return "";
}

std::span<const OptionSpec> all_options() {
  return table();
}

const OptionSpec* find_option(SectionKind section, std::string_view keyword) {
  for (const OptionSpec& s : table()) {
    if (s.section == section && s.keyword == keyword) return &s;
  }
  return nullptr;
}

const OptionSpec* find_syncer_option(std::string_view keyword) {
  for (const SyncerAlias& a : kSyncer) {
    if (a.old_name == keyword) return find_option(a.section, a.new_name);
  }
  return nullptr;
}

std::optional<std::string_view> unimplemented_drbd_option(std::string_view keyword) {
  for (std::string_view k : kUnimplemented) {
    if (k == keyword) return k;
  }
  return std::nullopt;
}

namespace {

std::size_t count_digits(std::string_view text, std::size_t from) {
  std::size_t n = 0;
  while (from + n < text.size() && is_digit(text[from + n])) ++n;
  return n;
}

// drbdadm's scanner reads "12", "1K", "1s" as numbers and anything starting
// with a dotted quad as an IPv4 address, never as a name.
bool reads_as_number_or_address(std::string_view word) {
  const std::size_t digits = count_digits(word, 0);
  if (digits == 0) return false;
  if (digits == word.size()) return true;
  if (digits + 1 == word.size() &&
      std::string_view("kKmMgGs").find(word.back()) != std::string_view::npos) {
    return true;
  }
  std::size_t at = 0;
  for (int part = 0; part < 4; ++part) {
    const std::size_t n = count_digits(word, at);
    if (n == 0 || n > 3) return false;
    at += n;
    if (part < 3) {
      if (at >= word.size() || word[at] != '.') return false;
      ++at;
    }
  }
  return true;
}

}  // namespace

bool is_reserved_word(std::string_view word) {
  if (reads_as_number_or_address(word)) return true;
  static constexpr std::array<std::string_view, 34> kGrammar{
      "global",    "common",     "resource", "on",         "floating",
      "volume",    "device",     "disk",     "meta-disk",  "flexible-meta-disk",
      "address",   "net",        "syncer",   "startup",    "handlers",
      "options",   "protocol",   "include",  "skip",       "stacked-on-top-of",
      "ignore-on", "_this_host", "minor",    "yes",        "no",
      "ask",       "ipv4",       "ipv6",     "ssocks",     "sdp",
      "sci",       "rate",       "after",    "usage-count"};
  for (std::string_view w : kGrammar) {
    if (w == word) return true;
  }
  for (const OptionSpec& o : table()) {
    if (o.keyword == word) return true;
  }
  return is_handler_name(word) || unimplemented_drbd_option(word).has_value();
}

std::span<const std::string_view> handler_names() {
  return kHandlers;
}

bool is_handler_name(std::string_view name) {
  for (std::string_view h : kHandlers) {
    if (h == name) return true;
  }
  return false;
}

std::span<const std::string_view> digest_names() {
  return kDigests;
}

Result<uint64_t> parse_scaled_number(std::string_view text, Unit unit) {
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  if (digits == 0) {
    return make_error("'" + std::string(text) + "' is not a number");
  }
  if (digits > 15) {
    return make_error("'" + std::string(text) + "' is too large");
  }
  uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  const std::string_view rest = text.substr(digits);
  if (rest.empty()) return value;
  if (rest.size() == 1) {
    const uint64_t factor = suffix_factor(rest[0], unit);
    if (factor != 0) {
      // value < 10^15 and factor <= 2^30 cannot overflow 64 bits.
      return value * factor;
    }
    if (unit == Unit::kSeconds || unit == Unit::kTenths) {
      return make_error("'" + std::string(text) + "': this option is a time in " +
                        std::string(unit_name(unit)) + " and takes no size suffix");
    }
  }
  return make_error("'" + std::string(text) +
                    "' is not a number with an optional K, M or G suffix");
}

Result<ParsedValue> parse_option_value(const OptionSpec& spec, const std::vector<Argument>& args) {
  const std::string kw(spec.keyword);
  ParsedValue out;
  switch (spec.kind) {
    case ValueKind::kFlag:
      if (args.empty()) {
        out.flag = true;
        return out;
      }
      // Global switches are on by being present (DRBD has no "yes" there),
      // and yes/no are words, never quoted strings.
      if (spec.section == SectionKind::kGlobal) {
        return make_error(kw + " takes no value: write '" + kw + ";' to turn it on");
      }
      if (args.size() == 1 && !args[0].quoted && (args[0].text == "yes" || args[0].text == "no")) {
        out.flag = args[0].text == "yes";
        return out;
      }
      return make_error(kw + " takes no value, 'yes' or 'no'");
    case ValueKind::kNumber: {
      if (args.size() != 1) {
        return make_error(kw + " needs exactly one number (" + range_text(spec) + ")");
      }
      Result<uint64_t> n = parse_scaled_number(args[0].text, spec.unit);
      if (!n) return make_error(kw + ": " + n.error().message);
      if (*n < spec.min || *n > spec.max) {
        return make_error(
            kw + " " + args[0].text + " is out of range: allowed " + range_text(spec) +
            (args[0].text != std::to_string(*n) ? " (the value means " + std::to_string(*n) + ")"
                                                : std::string()));
      }
      out.number = *n;
      return out;
    }
    case ValueKind::kText: {
      if (args.size() != 1 || args[0].text.empty()) {
        return make_error(kw + " needs exactly one value");
      }
      Result<std::string> t = check_text(spec, args[0].text);
      if (!t) return t.error();
      out.text = *t;
      return out;
    }
    case ValueKind::kChoice: {
      if (args.size() != 1) {
        return make_error(kw + " needs one of: " + join_words(spec.choices));
      }
      for (std::size_t i = 0; i < spec.choices.size(); ++i) {
        const std::string_view word = spec.choices[i];
        if (word == args[0].text && !word.ends_with('-')) {
          out.choice = i;
          return out;
        }
        // A prefix word ("discard-node-") takes a host name after it.
        if (word.ends_with('-') && args[0].text.starts_with(word)) {
          const std::string suffix = args[0].text.substr(word.size());
          if (suffix.empty() || suffix.size() > 64 ||
              suffix.find_first_of(" \t/;{}") != std::string::npos) {
            return make_error(kw + " " + args[0].text + ": expected a host name after '" +
                              std::string(word) + "', e.g. " + std::string(word) + "alpha");
          }
          out.choice = i;
          out.text = suffix;
          return out;
        }
      }
      return make_error("'" + args[0].text + "' is not a value of " + kw +
                        "; use one of: " + join_words(spec.choices));
    }
    case ValueKind::kHostList:
      if (args.empty()) {
        return make_error(kw + " needs 'both' or one or more host names");
      }
      for (const Argument& a : args) {
        if (a.text.empty()) return make_error(kw + ": empty host name");
        out.list.push_back(a.text);
      }
      return out;
  }
  return make_error(kw + ": unsupported value kind");
}

}  // namespace tandem::config
