#include "fence/agent/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace tandem::fence {

namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  const auto begin = s.find_first_not_of(ws);
  if (begin == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(ws);
  return s.substr(begin, end - begin + 1);
}

const ParameterSpec* find_long(std::span<const ParameterSpec> specs, std::string_view name) {
  for (const ParameterSpec& s : specs) {
    if (s.long_option == name) return &s;
  }
  return nullptr;
}

const ParameterSpec* find_short(std::span<const ParameterSpec> specs, char c) {
  for (const ParameterSpec& s : specs) {
    if (s.short_option != 0 && s.short_option == c) return &s;
  }
  return nullptr;
}

bool parse_seconds_text(std::string_view text, double* out) {
  const std::string copy(trim(text));
  if (copy.empty() || copy.size() > 32) return false;
  for (char c : copy) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (errno != 0 || end != copy.c_str() + copy.size() || !std::isfinite(v) || v < 0 || v > 1e7) {
    return false;
  }
  *out = v;
  return true;
}

bool parse_integer_text(std::string_view text, long* out) {
  const std::string copy(trim(text));
  if (copy.empty() || copy.size() > 18) return false;
  std::size_t i = (copy[0] == '-') ? 1 : 0;
  if (i == copy.size()) return false;
  for (; i < copy.size(); ++i) {
    if (copy[i] < '0' || copy[i] > '9') return false;
  }
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(copy.c_str(), &end, 10);
  if (errno != 0 || end != copy.c_str() + copy.size()) return false;
  *out = v;
  return true;
}

std::string describe(const ParameterSpec& spec) {
  return "--" + spec.long_option + " (stdin: " + spec.name + "=)";
}

}  // namespace

bool parse_bool(std::string_view text, bool* out) {
  const std::string_view t = trim(text);
  if (t.empty() || t == "1" || t == "yes" || t == "on" || t == "true" || t == "YES" ||
      t == "True" || t == "TRUE" || t == "On" || t == "ON" || t == "Yes") {
    *out = true;
    return true;
  }
  if (t == "0" || t == "no" || t == "off" || t == "false" || t == "NO" || t == "False" ||
      t == "FALSE" || t == "Off" || t == "OFF" || t == "No") {
    *out = false;
    return true;
  }
  return false;
}

std::optional<std::string> AgentOptions::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string AgentOptions::get_or(const std::string& name, std::string fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::move(fallback) : it->second;
}

bool AgentOptions::flag(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return false;
  bool v = false;
  return parse_bool(it->second, &v) && v;
}

double AgentOptions::seconds(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  double v = 0;
  if (it == values_.end() || !parse_seconds_text(it->second, &v)) return fallback;
  return v;
}

long AgentOptions::integer(const std::string& name, long fallback) const {
  auto it = values_.find(name);
  long v = 0;
  if (it == values_.end() || !parse_integer_text(it->second, &v)) return fallback;
  return v;
}

const ParameterSpec* find_parameter(std::span<const ParameterSpec> specs, std::string_view name) {
  for (const ParameterSpec& s : specs) {
    if (s.name == name) return &s;
    for (const std::string& alias : s.aliases) {
      if (alias == name) return &s;
    }
  }
  return nullptr;
}

Result<AgentOptions> parse_command_line(std::span<const std::string> args,
                                        std::span<const ParameterSpec> specs,
                                        std::vector<SecretArgument>* secret_arguments) {
  AgentOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const ParameterSpec* spec = nullptr;
    std::optional<std::string> inline_value;
    std::string shown;  // how the user wrote the option, for messages
    if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      std::string name = arg.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      shown = "--" + name;
      spec = find_long(specs, name);
      if (spec == nullptr) {
        // fence-agents spells some long options with underscores too.
        for (char& c : name) {
          if (c == '_') c = '-';
        }
        spec = find_long(specs, name);
      }
    } else if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      shown = arg.substr(0, 2);
      spec = find_short(specs, arg[1]);
      if (arg.size() > 2) inline_value = arg.substr(2);
    } else {
      return make_error("unexpected argument '" + std::string(arg.size() > 64 ? "..." : arg) +
                        "': options are given as --name VALUE or on standard input as "
                        "name=value lines (see --help)");
    }
    if (spec == nullptr) {
      return make_error("unknown option " + shown + " (see --help for the options)");
    }
    if (spec->type == ParameterType::kBoolean) {
      if (inline_value && spec->short_option != 0 && shown.size() == 2 && arg.size() > 2) {
        return make_error("option " + shown + " takes no value");
      }
      options.set(spec->name, inline_value.value_or("1"));
      continue;
    }
    if (inline_value) {
      if (spec->secret && secret_arguments != nullptr) {
        secret_arguments->push_back({i, arg.size() - inline_value->size()});
      }
      options.set(spec->name, *inline_value);
      continue;
    }
    if (i + 1 >= args.size()) {
      return make_error("option " + shown + " needs a value");
    }
    ++i;
    if (spec->secret && secret_arguments != nullptr) secret_arguments->push_back({i, 0});
    options.set(spec->name, args[i]);
  }
  return options;
}

Result<AgentOptions> parse_stdin_options(std::string_view text,
                                         std::span<const ParameterSpec> specs) {
  if (text.size() > kMaxStdinBytes) {
    return make_error("standard input holds " + std::to_string(text.size()) +
                      " bytes of options; at most " + std::to_string(kMaxStdinBytes) +
                      " are accepted");
  }
  AgentOptions options;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    if (line_no > kMaxStdinLines) {
      return make_error("standard input has more than " + std::to_string(kMaxStdinLines) +
                        " lines of options");
    }
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    const std::string where = "standard input line " + std::to_string(line_no);
    if (raw.size() > kMaxStdinLine) {
      return make_error(where + " is longer than " + std::to_string(kMaxStdinLine) + " bytes");
    }
    if (raw.find('\0') != std::string_view::npos) {
      return make_error(where + " contains a NUL byte; expected name=value text");
    }
    const std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    std::string_view name = line;
    std::string_view value;
    bool has_value = false;
    if (auto eq = line.find('='); eq != std::string_view::npos) {
      name = trim(line.substr(0, eq));
      value = trim(line.substr(eq + 1));
      has_value = true;
    }
    const ParameterSpec* spec = find_parameter(specs, name);
    if (spec == nullptr) {
      if (options.unknown_keys.size() < 64) {
        options.unknown_keys.emplace_back(name.substr(0, 64));
      }
      continue;
    }
    if (!has_value && spec->type != ParameterType::kBoolean) {
      return make_error(where + ": '" + std::string(name) + "' needs a value (" +
                        std::string(name) + "=VALUE)");
    }
    options.set(spec->name, std::string(value));
  }
  return options;
}

Result<void> validate_options(const AgentOptions& options, std::span<const ParameterSpec> specs) {
  for (const auto& [name, value] : options.values()) {
    const ParameterSpec* spec = find_parameter(specs, name);
    if (spec == nullptr) continue;
    // Secret values are never echoed back, not even when they are invalid.
    const std::string shown = spec->secret ? std::string("the value") : "'" + value + "'";
    switch (spec->type) {
      case ParameterType::kString:
        break;
      case ParameterType::kBoolean: {
        bool b = false;
        if (!parse_bool(value, &b)) {
          return make_error("option " + describe(*spec) + ": " + shown +
                            " is not a boolean; use 1/0, yes/no, on/off or true/false");
        }
        break;
      }
      case ParameterType::kInteger: {
        long v = 0;
        if (!parse_integer_text(value, &v)) {
          return make_error("option " + describe(*spec) + ": " + shown + " is not an integer");
        }
        break;
      }
      case ParameterType::kSecond: {
        double v = 0;
        if (!parse_seconds_text(value, &v)) {
          return make_error("option " + describe(*spec) + ": " + shown +
                            " is not a number of seconds (e.g. 5 or 0.5)");
        }
        break;
      }
      case ParameterType::kSelect: {
        bool found = false;
        std::string list;
        for (const std::string& c : spec->choices) {
          if (c == value) found = true;
          list += (list.empty() ? "" : ", ") + c;
        }
        if (!found) {
          return make_error("option " + describe(*spec) + ": " + shown + " is not one of " + list);
        }
        break;
      }
    }
  }
  return {};
}

Result<void> check_required(const AgentOptions& options, std::span<const ParameterSpec> specs) {
  for (const ParameterSpec& spec : specs) {
    if (!spec.required || !spec.default_value.empty()) continue;
    const auto value = options.get(spec.name);
    if (!value || value->empty()) {
      return make_error("missing required option " + describe(spec) + ": " + spec.shortdesc);
    }
  }
  return {};
}

}  // namespace tandem::fence
