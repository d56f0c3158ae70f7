#include "config/statement_values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <string>

#include "config/limits.h"

namespace tandem::config {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxNameBytes) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '/' || c == '"' || c == '\\' || c == '{' || c == '}' ||
        c == ';' || c == '#') {
      return false;
    }
  }
  return true;
}

Result<uint32_t> parse_u32(std::string_view text, uint32_t min, uint32_t max,
                           std::string_view what) {
  if (text.empty() || text.size() > 10) {
    return make_error(std::string(what) + " '" + std::string(text) + "' is not a number");
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return make_error(std::string(what) + " '" + std::string(text) + "' is not a number");
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < min || v > max) {
    return make_error(std::string(what) + " " + std::string(text) + " is out of range " +
                      std::to_string(min) + ".." + std::to_string(max));
  }
  return static_cast<uint32_t>(v);
}

Result<MetaDisk> parse_meta_disk(const std::vector<Argument>& args, bool flexible) {
  const char* usage = "write meta-disk internal; or meta-disk PATH; or meta-disk PATH [INDEX];";
  MetaDisk m;
  if (args.size() == 1 && args[0].text == "internal") return m;
  std::string path;
  std::string index_text;
  if (args.size() == 1) {
    path = args[0].text;
    if (auto b = path.find('['); b != std::string::npos) {
      index_text = path.substr(b);
      path.resize(b);
    }
  } else if (args.size() == 2 && !flexible && !args[1].quoted) {
    path = args[0].text;
    index_text = args[1].text;
  } else {
    return make_error(usage);
  }
  if (path.empty() || path.front() != '/') {
    return make_error("meta-disk '" + path + "' is neither 'internal' nor an absolute path; " +
                      usage);
  }
  m.internal = false;
  m.path = path;
  if (!index_text.empty()) {
    if (flexible) return make_error("flexible-meta-disk takes no index; use meta-disk PATH [N]");
    if (index_text.size() < 3 || index_text.front() != '[' || index_text.back() != ']') {
      return make_error("meta-disk index '" + index_text + "' must be written as [N]");
    }
    Result<uint32_t> n = parse_u32(std::string_view(index_text).substr(1, index_text.size() - 2), 0,
                                   255, "meta-disk index");
    if (!n) return n.error();
    m.index = *n;
  }
  return m;
}

Result<Address> parse_address(const std::vector<Argument>& args) {
  const char* usage =
      "write address [ipv4|ipv6] IP:PORT; e.g. address 10.0.0.1:7789; or "
      "address ipv6 [fd00::1]:7789;";
  Address a;
  std::string text;
  bool family_given = false;
  for (const Argument& arg : args) {
    if (arg.quoted) {
      return make_error("write the address without quotes; " + std::string(usage));
    }
  }
  if (args.size() == 2) {
    if (args[0].text == "ipv4") {
      a.family = AddressFamily::kIpv4;
    } else if (args[0].text == "ipv6") {
      a.family = AddressFamily::kIpv6;
    } else if (args[0].text == "ssocks" || args[0].text == "sdp" || args[0].text == "sci") {
      return make_error("address family " + args[0].text +
                        " is not supported; tandem speaks TCP over ipv4 or ipv6");
    } else {
      return make_error("unknown address family '" + args[0].text + "'; " + usage);
    }
    family_given = true;
    text = args[1].text;
  } else if (args.size() == 1) {
    text = args[0].text;
  } else {
    return make_error(std::string("address needs IP:PORT; ") + usage);
  }
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return make_error("address '" + text + "' has no port; " + usage);
  }
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return make_error("address '" + text + "': unbalanced '[' ']'; " + usage);
    }
    host = host.substr(1, host.size() - 2);
    if (family_given && a.family != AddressFamily::kIpv6) {
      return make_error("address '" + text + "' is written as ipv6 but declared ipv4");
    }
    if (!family_given) {
      return make_error("address '" + text + "' is an ipv6 address; write 'address ipv6 " + text +
                        ";'");
    }
  } else if (a.family == AddressFamily::kIpv6) {
    return make_error("ipv6 address '" + text + "' must be written in brackets: [ADDR]:PORT");
  }
  unsigned char buf[16];
  const int af = a.family == AddressFamily::kIpv6 ? AF_INET6 : AF_INET;
  if (inet_pton(af, host.c_str(), buf) != 1) {
    return make_error("'" + host + "' is not a numeric " + std::string(name(a.family)) +
                      " address; " + usage);
  }
  Result<uint32_t> p = parse_u32(port, 1, 65535, "port");
  if (!p) return make_error("address '" + text + "': " + p.error().message);
  // Canonical spelling, so that equal addresses compare equal.
  char canonical[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(af, buf, canonical, sizeof canonical) == nullptr) {
    return make_error("'" + host + "' is not a valid address");
  }
  a.host = canonical;
  a.port = static_cast<uint16_t>(*p);
  return a;
}

}  // namespace tandem::config
