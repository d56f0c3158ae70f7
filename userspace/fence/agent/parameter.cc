#include "fence/agent/parameter.h"

#include <string>

namespace tandem::fence {

namespace {

ParameterSpec spec(std::string name, std::string long_option, char short_option, ParameterType type,
                   std::string shortdesc) {
  ParameterSpec s;
  s.name = std::move(name);
  s.long_option = std::move(long_option);
  s.short_option = short_option;
  s.type = type;
  s.shortdesc = std::move(shortdesc);
  return s;
}

}  // namespace

std::vector<ParameterSpec> common_parameters(bool uses_plug, bool plug_required,
                                             bool supports_cycle) {
  std::vector<ParameterSpec> out;

  ParameterSpec action = spec("action", "action", 'o', ParameterType::kString, "Fencing action");
  action.aliases = {"option"};
  action.default_value = "reboot";
  action.required = true;  // always has a value through its default
  out.push_back(action);

  if (uses_plug) {
    ParameterSpec plug = spec("plug", "plug", 'n', ParameterType::kString,
                              "Physical plug number on device, UUID or identification of machine");
    plug.aliases = {"port"};
    plug.required = plug_required;
    out.push_back(plug);
  }

  if (supports_cycle) {
    ParameterSpec method = spec("method", "method", 'm', ParameterType::kSelect, "Method to fence");
    method.choices = {"onoff", "cycle"};
    method.default_value = "onoff";
    out.push_back(method);
  }

  ParameterSpec nodename = spec("nodename", "nodename", 0, ParameterType::kString,
                                "Name of the node being fenced (set by the cluster)");
  out.push_back(nodename);

  out.push_back(spec("verbose", "verbose", 'v', ParameterType::kBoolean, "Verbose mode"));
  ParameterSpec debug = spec("debug_file", "debug-file", 'D', ParameterType::kString,
                             "Write debug information to given file");
  debug.aliases = {"debug"};
  out.push_back(debug);
  out.push_back(spec("version", "version", 'V', ParameterType::kBoolean,
                     "Display version information and exit"));
  out.push_back(spec("help", "help", 'h', ParameterType::kBoolean, "Display help and exit"));

  ParameterSpec delay =
      spec("delay", "delay", 0, ParameterType::kSecond, "Wait X seconds before fencing is started");
  delay.default_value = "0";
  out.push_back(delay);
  ParameterSpec power_timeout = spec("power_timeout", "power-timeout", 0, ParameterType::kSecond,
                                     "Test X seconds for status change after ON/OFF");
  power_timeout.default_value = "20";
  out.push_back(power_timeout);
  ParameterSpec power_wait = spec("power_wait", "power-wait", 0, ParameterType::kSecond,
                                  "Wait X seconds after issuing ON/OFF");
  power_wait.default_value = "0";
  out.push_back(power_wait);
  ParameterSpec retry_on = spec("retry_on", "retry-on", 0, ParameterType::kInteger,
                                "Count of attempts to retry power on");
  retry_on.default_value = "1";
  out.push_back(retry_on);
  return out;
}

std::vector<ParameterSpec> connection_parameters(int default_port, bool ip_required) {
  std::vector<ParameterSpec> out;
  ParameterSpec ip =
      spec("ip", "ip", 'a', ParameterType::kString, "IP address or hostname of fencing device");
  ip.aliases = {"ipaddr"};
  ip.required = ip_required;
  out.push_back(ip);

  ParameterSpec port = spec("ipport", "ipport", 'u', ParameterType::kInteger,
                            "TCP/UDP port to use for connection with device");
  port.default_value = std::to_string(default_port);
  out.push_back(port);

  ParameterSpec user = spec("username", "username", 'l', ParameterType::kString, "Login name");
  user.aliases = {"login"};
  out.push_back(user);

  ParameterSpec password =
      spec("password", "password", 'p', ParameterType::kString, "Login password or passphrase");
  password.aliases = {"passwd"};
  password.secret = true;
  out.push_back(password);

  ParameterSpec script = spec("password_script", "password-script", 'S', ParameterType::kString,
                              "Script to run to retrieve password");
  script.aliases = {"passwd_script"};
  out.push_back(script);
  return out;
}

const char* parameter_type_name(ParameterType type) {
  switch (type) {
    case ParameterType::kString:
      return "string";
    case ParameterType::kBoolean:
      return "boolean";
    case ParameterType::kInteger:
      return "integer";
    case ParameterType::kSecond:
      return "second";
    case ParameterType::kSelect:
      return "select";
  }
  return "string";
}

}  // namespace tandem::fence
