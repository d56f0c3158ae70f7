// Keeping secrets out of output: a process-wide list of secret strings
// (passwords, password-script output) that redact() replaces, the
// password_script runner, and argv scrubbing so `ps` does not show them.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem::fence {

inline constexpr std::string_view kRedacted = "[redacted]";

// Registers a secret; every later redact() call hides it. Empty and very
// short strings (under 3 bytes) are not registered: hiding them would
// mangle ordinary text, and they are not worth protecting by substitution.
void register_secret(std::string_view secret);
void clear_secrets();  // tests
// Returns text with every registered secret replaced by kRedacted.
std::string redact(std::string_view text);

// Runs `script` with /bin/sh -c and returns the first line of its standard
// output (without the newline). The script's output is registered as a
// secret before anything else can see it. Errors never include the output.
Result<std::string> run_password_script(const std::string& script);

// Overwrites arg from byte `offset` on (a secret value) so that the process
// title in /proc/PID/cmdline no longer shows it.
void scrub_argv_value(char* arg, std::size_t offset);

}  // namespace tandem::fence
