// Agent parameters: one description per option an agent understands, used
// for command-line parsing, stdin name=value parsing, validation and the
// fence-agents compatible `metadata` XML.
#pragma once

#include <string>
#include <vector>

namespace tandem::fence {

enum class ParameterType {
  kString,   // free text
  kBoolean,  // a flag on the command line; 1/0, yes/no, on/off, true/false on stdin
  kInteger,
  kSecond,  // a duration in seconds (may be fractional, e.g. 0.5)
  kSelect,  // one of `choices`
};

struct ParameterSpec {
  std::string name;                  // stdin key and metadata name, e.g. "password_script"
  std::string long_option;           // command line, without "--", e.g. "password-script"
  char short_option = 0;             // 0 when the option has no short form
  std::vector<std::string> aliases;  // other stdin keys, e.g. "passwd_script" (fence-agents names)
  ParameterType type = ParameterType::kString;
  std::string default_value;         // shown in metadata; used when the option is absent
  std::vector<std::string> choices;  // for kSelect
  std::string shortdesc;             // one line for metadata and --help
  std::string value_name;            // placeholder in --help/metadata, e.g. "ip"; default: name
  bool required = false;             // fencing actions fail without it
  bool unique = false;
  bool secret = false;  // redacted everywhere, scrubbed from argv
};

// The parameters tandem's framework understands for every agent. Agents add
// their own (AgentInfo::parameters) and pick the connection group when they
// talk to a device over the network.
std::vector<ParameterSpec> common_parameters(bool uses_plug, bool plug_required,
                                             bool supports_cycle);
// ip/ipaddr, ipport, username/login, password/passwd, password_script/passwd_script.
std::vector<ParameterSpec> connection_parameters(int default_port, bool ip_required);

const char* parameter_type_name(ParameterType type);  // metadata content type

}  // namespace tandem::fence
