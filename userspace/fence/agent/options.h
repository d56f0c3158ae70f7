// Option parsing for fence agents, from the command line and from stdin
// name=value lines (the fence-agents protocol). Pure functions: no I/O.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "fence/agent/parameter.h"

namespace tandem::fence {

// Hard limits for stdin input: it may come from any caller.
inline constexpr std::size_t kMaxStdinBytes = 64 * 1024;
inline constexpr std::size_t kMaxStdinLine = 4096;
inline constexpr std::size_t kMaxStdinLines = 1024;

class AgentOptions {
 public:
  // Canonical parameter name (ParameterSpec::name) -> value as given.
  void set(const std::string& name, std::string value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, std::string fallback) const;
  // Boolean options: present with an empty, 1, yes, on or true value.
  bool flag(const std::string& name) const;
  // Numeric options, already checked by validate_options(); the fallback
  // applies when the option is absent.
  double seconds(const std::string& name, double fallback) const;
  long integer(const std::string& name, long fallback) const;

  const std::map<std::string, std::string>& values() const { return values_; }
  // Keys seen on stdin that no parameter knows (ignored, reported in debug output).
  std::vector<std::string> unknown_keys;

 private:
  std::map<std::string, std::string> values_;
};

// Where a secret value sits in argv: args[index], from byte `offset` on.
struct SecretArgument {
  std::size_t index = 0;
  std::size_t offset = 0;
};

// Parses argv (without argv[0]). Unknown options and missing values are
// errors naming the option. `secret_arguments` receives where secret values
// sit, so that the caller can scrub them from the process title.
Result<AgentOptions> parse_command_line(std::span<const std::string> args,
                                        std::span<const ParameterSpec> specs,
                                        std::vector<SecretArgument>* secret_arguments = nullptr);

// Parses stdin text: one name=value per line, '#' comments and blank lines
// skipped, unknown names ignored (recorded), the last value of a name wins.
// Names are matched against ParameterSpec::name and ::aliases. Errors (too
// long, binary data) name the line number.
Result<AgentOptions> parse_stdin_options(std::string_view text,
                                         std::span<const ParameterSpec> specs);

// Checks types, select choices and numeric ranges of the given values.
// Required options are checked separately (check_required) because
// metadata/list/monitor do not need all of them.
Result<void> validate_options(const AgentOptions& options, std::span<const ParameterSpec> specs);
Result<void> check_required(const AgentOptions& options, std::span<const ParameterSpec> specs);

const ParameterSpec* find_parameter(std::span<const ParameterSpec> specs, std::string_view name);

bool parse_bool(std::string_view text, bool* out);

}  // namespace tandem::fence
