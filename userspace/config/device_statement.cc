#include "config/device_statement.h"

#include <arpa/inet.h>

#include <optional>
#include <string_view>

#include "config/dump.h"
#include "config/statement_values.h"

namespace tandem::config {

namespace {

constexpr std::string_view kUsage =
    "write device nbd [ADDR:PORT] [/dev/nbdN]; or device fuse [PATH]; or device ublk [ID]; "
    "(clauses combine: device nbd 0.0.0.0:10809 fuse;) or device /dev/drbdN;";

bool is_frontend(const Argument& a) {
  return !a.quoted && (a.text == kDeviceNbd || a.text == kDeviceFuse || a.text == kDeviceUblk);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// /dev/nbdN with N a plain number.
bool is_nbd_device(std::string_view path) {
  constexpr std::string_view kPrefix = "/dev/nbd";
  if (!starts_with(path, kPrefix) || path.size() == kPrefix.size()) return false;
  for (char c : path.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return false;
  }
  return path.size() - kPrefix.size() <= 6;
}

Result<ListenAddress> parse_listen_address(const std::string& text) {
  const std::string what = "NBD listen address '" + text + "'";
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return make_error(what + " has no port; write ADDR:PORT, e.g. 0.0.0.0:10809 or [::1]:10809");
  }
  std::string host = text.substr(0, colon);
  ListenAddress a;
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return make_error(what + ": unbalanced '[' ']'; write [IPV6]:PORT");
    }
    host = host.substr(1, host.size() - 2);
    a.family = AddressFamily::kIpv6;
  }
  unsigned char buf[16];
  const int af = a.family == AddressFamily::kIpv6 ? AF_INET6 : AF_INET;
  if (host.empty() || inet_pton(af, host.c_str(), buf) != 1) {
    return make_error(what + ": '" + host + "' is not a numeric " + std::string(name(a.family)) +
                      " address (IPv6 goes in brackets: [::1]:10809; every address: "
                      "0.0.0.0:10809)");
  }
  Result<uint32_t> port = parse_u32(text.substr(colon + 1), 1, 65535, "port");
  if (!port) return make_error(what + ": " + port.error().message);
  char canonical[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(af, buf, canonical, sizeof canonical) == nullptr) {
    return make_error(what + " is not a valid address");
  }
  a.host = canonical;
  a.port = static_cast<uint16_t>(*port);
  return a;
}

// The frontend clauses: nbd/fuse/ublk words, each followed by its own
// optional arguments up to the next frontend word.
Result<Device> parse_frontends(const std::vector<Argument>& args) {
  Device d;
  d.has_minor = false;
  std::size_t i = 0;
  while (i < args.size()) {
    const std::string& word = args[i].text;
    if (!is_frontend(args[i])) {
      return make_error("unknown frontend '" + word + "' in the device line; " +
                        std::string(kUsage));
    }
    std::size_t end = i + 1;
    while (end < args.size() && !is_frontend(args[end])) ++end;
    const std::vector<Argument> params(args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                       args.begin() + static_cast<std::ptrdiff_t>(end));
    if (word == kDeviceNbd) {
      if (d.nbd) return make_error("device names nbd twice; keep one nbd clause");
      d.nbd = true;
      for (const Argument& p : params) {
        if (p.text == "minor" && !p.quoted) {
          return make_error("device nbd takes no minor number; write device nbd;");
        }
        if (starts_with(p.text, "/dev/")) {
          if (!is_nbd_device(p.text)) {
            return make_error("device nbd: '" + p.text +
                              "' is not a kernel nbd device; write /dev/nbdN, e.g. /dev/nbd0");
          }
          if (!d.nbd_kernel_device.empty()) {
            return make_error("device nbd names two kernel devices (" + d.nbd_kernel_device + ", " +
                              p.text + "); keep one");
          }
          d.nbd_kernel_device = p.text;
          continue;
        }
        if (d.nbd_tcp) {
          return make_error("device nbd names two TCP addresses; keep one");
        }
        Result<ListenAddress> a = parse_listen_address(p.text);
        if (!a) return a.error();
        d.nbd_tcp = *a;
      }
    } else if (word == kDeviceFuse) {
      if (d.fuse) return make_error("device names fuse twice; keep one fuse clause");
      d.fuse = true;
      if (params.size() > 1) {
        return make_error("device fuse takes at most one mount point; write device fuse " +
                          params[0].text + ";");
      }
      if (params.size() == 1) {
        const std::string& path = params[0].text;
        if (path.empty() || path.front() != '/') {
          return make_error("device fuse: mount point '" + path +
                            "' must be an absolute path, e.g. device fuse /run/tandem/r0;");
        }
        if (path.size() > 1 && path.back() == '/') {
          return make_error("device fuse: write the mount point without a trailing '/'");
        }
        if (path.size() > 1024) return make_error("device fuse: mount point path is too long");
        d.fuse_mount = path;
      }
    } else {
      if (d.ublk) return make_error("device names ublk twice; keep one ublk clause");
      d.ublk = true;
      if (params.size() > 1) {
        return make_error(
            "device ublk takes at most one device number; write device ublk; or "
            "device ublk N;");
      }
      if (params.size() == 1) {
        Result<uint32_t> id = parse_u32(params[0].text, 0, kMaxUblkId, "ublk device number");
        if (!id) return make_error("device ublk: " + id.error().message);
        d.ublk_id = *id;
      }
    }
    i = end;
  }
  return d;
}

// DRBD's spelling: /dev/drbdN (minor N, "minor N" optional but must agree),
// /dev/drbd_NAME with an explicit minor, or just a minor.
Result<Device> parse_drbd_device(const std::vector<Argument>& args) {
  const std::string usage =
      std::string(kUsage) + " (DRBD spellings: device /dev/drbd_NAME minor N; device minor N;)";
  Device d;
  std::size_t i = 0;
  if (i < args.size() && (args[i].text != "minor" || args[i].quoted)) {
    d.path = args[i].text;
    ++i;
  }
  std::optional<uint32_t> minor;
  if (i < args.size()) {
    if (args[i].text != "minor" || args[i].quoted || i + 2 != args.size() || args[i + 1].quoted) {
      return make_error(
          "cannot read the device line (the word minor and its number are not "
          "quoted); " +
          usage);
    }
    Result<uint32_t> m = parse_u32(args[i + 1].text, 0, (1u << 20) - 1, "minor");
    if (!m) return m.error();
    minor = *m;
  } else if (d.path.empty()) {
    return make_error("device needs a frontend, a path or a minor number; " + usage);
  }
  if (d.path.empty()) {
    d.minor = *minor;
    d.path = "/dev/drbd" + std::to_string(d.minor);
    return d;
  }
  const std::string numbered = "/dev/drbd";
  const std::string named = "/dev/drbd_";
  if (d.path.compare(0, named.size(), named) == 0) {
    if (d.path.size() == named.size()) {
      return make_error("device " + d.path + " needs a name after /dev/drbd_; " + usage);
    }
    if (!minor) {
      return make_error("device " + d.path + " has no number in its name; write device " + d.path +
                        " minor N;");
    }
    d.minor = *minor;
    return d;
  }
  if (d.path.compare(0, numbered.size(), numbered) != 0) {
    return make_error(
        "device " + d.path +
        " must be nbd, /dev/drbdN or /dev/drbd_NAME (or another frontend: fuse, ublk); " + usage);
  }
  Result<uint32_t> from_name =
      parse_u32(d.path.substr(numbered.size()), 0, (1u << 20) - 1, "minor of " + d.path);
  if (!from_name) {
    return make_error("device " + d.path + " must be named /dev/drbdN or /dev/drbd_NAME; " + usage);
  }
  if (minor && *minor != *from_name) {
    return make_error("device " + d.path + " has minor " + std::to_string(*from_name) +
                      " in its name but minor " + std::to_string(*minor) +
                      " is given; write device /dev/drbd" + std::to_string(*minor) +
                      "; or leave one of them off");
  }
  d.minor = *from_name;
  return d;
}

}  // namespace

Result<Device> parse_device(const std::vector<Argument>& args) {
  if (!args.empty() && is_frontend(args[0])) return parse_frontends(args);
  return parse_drbd_device(args);
}

std::string listen_address_text(const ListenAddress& address) {
  const std::string host =
      address.family == AddressFamily::kIpv6 ? "[" + address.host + "]" : address.host;
  return host + ":" + std::to_string(address.port);
}

std::string device_text(const Device& device) {
  if (!device.path.empty()) {
    return quote_if_needed(device.path) +
           (device.has_minor ? " minor " + std::to_string(device.minor) : "");
  }
  std::string out;
  auto add = [&out](const std::string& word) {
    if (!out.empty()) out += ' ';
    out += word;
  };
  if (device.nbd) {
    add(kDeviceNbd);
    if (device.nbd_tcp) add(listen_address_text(*device.nbd_tcp));
    if (!device.nbd_kernel_device.empty()) add(device.nbd_kernel_device);
  }
  if (device.fuse) {
    add(kDeviceFuse);
    // Always absolute, so never mistaken for a frontend word.
    if (!device.fuse_mount.empty()) add(quote_if_needed(device.fuse_mount));
  }
  if (device.ublk) {
    add(kDeviceUblk);
    if (device.ublk_id) add(std::to_string(*device.ublk_id));
  }
  return out;
}

}  // namespace tandem::config
