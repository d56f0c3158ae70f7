#include "ipmilan_agent.h"

#include <array>
#include <string_view>

#include "common/log.h"
#include "fence/ipmi/rakp.h"

namespace tandem::fence {

namespace {

ParameterSpec parameter(std::string name, std::string long_option, char short_option,
                        ParameterType type, std::string default_value, std::string shortdesc) {
  ParameterSpec s;
  s.name = std::move(name);
  s.long_option = std::move(long_option);
  s.short_option = short_option;
  s.type = type;
  s.default_value = std::move(default_value);
  s.shortdesc = std::move(shortdesc);
  return s;
}

// Up to 40 hex digits, zero-padded to 20 bytes as IPMI keys are.
Result<std::array<std::uint8_t, 20>> parse_hex_key(std::string_view hex) {
  if (hex.starts_with("0x") || hex.starts_with("0X")) hex.remove_prefix(2);
  if (hex.empty() || hex.size() > 40 || hex.size() % 2 != 0) {
    return make_error("--hexadecimal-kg needs an even number of hex digits, at most 40");
  }
  std::array<std::uint8_t, 20> key{};
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[i];
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    // The key is secret: say where, never what.
    if (v < 0) return make_error("--hexadecimal-kg has a character that is not a hex digit");
    key[i / 2] = static_cast<std::uint8_t>(key[i / 2] | (v << (i % 2 == 0 ? 4 : 0)));
  }
  return key;
}

}  // namespace

AgentInfo ipmilan_agent_info() {
  AgentInfo info;
  info.name = "fence_tandem_ipmilan";
  info.shortdesc = "Fence agent for IPMI over LAN (native RMCP+ client)";
  info.longdesc =
      "fence_tandem_ipmilan switches a node's power through its baseboard management "
      "controller (BMC) with IPMI over LAN. It speaks IPMI 2.0 RMCP+ itself (cipher suite 3 "
      "by default: HMAC-SHA1 authentication, HMAC-SHA1-96 integrity, AES-CBC-128 "
      "encryption) and IPMI 1.5 with MD5 authentication when lanplus is off; no ipmitool is "
      "needed. An action succeeds only once the power state read back from the BMC matches.";
  info.vendor_url =
      "https://www.intel.com/content/www/us/en/products/docs/servers/ipmi/ipmi-home.html";
  info.uses_plug = false;
  info.supports_cycle = true;
  info.default_power_timeout = 20;
  info.default_power_wait = 2;

  info.parameters = connection_parameters(623, true);
  ParameterSpec lanplus = parameter("lanplus", "lanplus", 'P', ParameterType::kBoolean, "1",
                                    "Use IPMI 2.0 RMCP+ (lanplus=0 selects IPMI 1.5)");
  info.parameters.push_back(lanplus);
  ParameterSpec cipher = parameter("cipher", "cipher", 'C', ParameterType::kSelect, "3",
                                   "RMCP+ cipher suite: 0 (no authentication), 1, 2 or 3");
  cipher.choices = {"0", "1", "2", "3"};
  info.parameters.push_back(cipher);
  ParameterSpec privlvl = parameter("privlvl", "privlvl", 'L', ParameterType::kSelect,
                                    "administrator", "Privilege level on the BMC");
  privlvl.choices = {"callback", "user", "operator", "administrator"};
  info.parameters.push_back(privlvl);
  ParameterSpec auth =
      parameter("auth", "auth", 'A', ParameterType::kSelect, "md5",
                "IPMI 1.5 authentication type (lanplus off): md5, password or none");
  auth.choices = {"md5", "password", "none"};
  info.parameters.push_back(auth);
  ParameterSpec kg = parameter("hexadecimal_kg", "hexadecimal-kg", 'k', ParameterType::kString, "",
                               "BMC key K_G in hexadecimal (RMCP+ two-key login)");
  kg.secret = true;
  kg.value_name = "key";
  info.parameters.push_back(kg);
  ParameterSpec timeout = parameter("ipmi_timeout", "ipmi-timeout", 0, ParameterType::kSecond, "1",
                                    "Wait X seconds for each IPMI reply before resending");
  info.parameters.push_back(timeout);
  ParameterSpec retries = parameter("ipmi_retries", "ipmi-retries", 0, ParameterType::kInteger, "3",
                                    "Send each IPMI packet at most X times");
  info.parameters.push_back(retries);
  return info;
}

Result<void> IpmilanAgent::configure(const AgentOptions& options) {
  bmc_.host = options.get_or("ip", "");
  if (bmc_.host.empty()) return make_error("no BMC address given (--ip / ip=)");
  const long port = options.integer("ipport", 623);
  if (port < 1 || port > 65535) {
    return make_error("--ipport " + std::to_string(port) + " is not a UDP port (1-65535)");
  }
  bmc_.port = static_cast<std::uint16_t>(port);

  ipmi::SessionConfig& s = options_.session;
  s.username = options.get_or("username", "");
  s.password = options.get_or("password", "");
  s.lanplus = options.has("lanplus") ? options.flag("lanplus") : true;
  const int cipher = static_cast<int>(options.integer("cipher", ipmi::kDefaultCipherSuite));
  auto suite = ipmi::cipher_suite(cipher);
  if (!suite) return make_error("--cipher " + std::to_string(cipher) + ": use 0, 1, 2 or 3");
  s.suite = *suite;
  const std::string privlvl = options.get_or("privlvl", "administrator");
  auto privilege = ipmi::parse_privilege(privlvl);
  if (!privilege) {
    return make_error("--privlvl " + privlvl + ": use callback, user, operator or administrator");
  }
  s.privilege = *privilege;
  const std::string auth = options.get_or("auth", "md5");
  s.auth = auth == "none"       ? ipmi::Lan15Auth::kNone
           : auth == "password" ? ipmi::Lan15Auth::kPassword
                                : ipmi::Lan15Auth::kMd5;
  if (auto kg = options.get("hexadecimal_kg"); kg && !kg->empty()) {
    auto key = parse_hex_key(*kg);
    if (!key) return key.error();
    s.bmc_key = *key;
  }
  const long retries = options.integer("ipmi_retries", 3);
  if (retries < 1 || retries > 20) {
    return make_error("--ipmi-retries " + std::to_string(retries) + ": use 1 to 20");
  }
  s.attempts = static_cast<int>(retries);
  const double timeout = options.seconds("ipmi_timeout", 1);
  if (timeout < 0.05 || timeout > 60) {
    return make_error("--ipmi-timeout must be between 0.05 and 60 seconds");
  }
  options_.packet_timeout_ms = static_cast<int>(timeout * 1000);

  if (s.username.size() > ipmi::kMaxUsername) {
    return make_error("--username is longer than IPMI's 16 bytes");
  }
  const std::size_t max_password = s.lanplus ? ipmi::kMaxPassword : 16;
  if (s.password.size() > max_password) {
    return make_error("--password is longer than the " + std::to_string(max_password) +
                      " bytes IPMI allows" + (s.lanplus ? "" : " without lanplus"));
  }
  if (s.lanplus && cipher == 0) {
    TLOG(LOG_WARNING, "BMC %s: cipher suite 0 sends commands without any authentication",
         bmc_.host.c_str());
  }
  return {};
}

Result<ipmi::LanClient*> IpmilanAgent::client() {
  if (!client_) {
    auto connected = ipmi::LanClient::connect(bmc_, options_);
    if (!connected) return connected.error();
    client_ = std::move(*connected);
  }
  return client_.get();
}

template <typename T>
Result<T> IpmilanAgent::keep_or_drop(Result<T> result) {
  if (!result) client_.reset();
  return result;
}

Result<PowerState> IpmilanAgent::power_status() {
  auto c = client();
  if (!c) return c.error();
  auto status = keep_or_drop((*c)->chassis_status());
  if (!status) return status.error();
  return status->power_on ? PowerState::kOn : PowerState::kOff;
}

Result<void> IpmilanAgent::set_power(PowerState target) {
  auto c = client();
  if (!c) return c.error();
  return keep_or_drop((*c)->chassis_control(target == PowerState::kOn
                                                ? ipmi::ChassisControl::kPowerUp
                                                : ipmi::ChassisControl::kPowerDown));
}

Result<void> IpmilanAgent::power_cycle() {
  auto c = client();
  if (!c) return c.error();
  return keep_or_drop((*c)->chassis_control(ipmi::ChassisControl::kPowerCycle));
}

void IpmilanAgent::finish() {
  if (!client_) return;
  if (auto closed = client_->close(); !closed) {
    TLOG(LOG_DEBUG, "%s", closed.error().message.c_str());
  }
  client_.reset();
}

}  // namespace tandem::fence
