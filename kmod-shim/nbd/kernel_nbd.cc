#include "nbd/kernel_nbd.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "nbd/kernel_netlink.h"

namespace tandem::nbd {

namespace {

constexpr uint64_t kDestroyOnDisconnect = 1;  // NBD_CFLAG_DESTROY_ON_DISCONNECT

class NetlinkSocket {
 public:
  ~NetlinkSocket() {
    if (fd_ >= 0) close(fd_);
  }
  Result<void> open() {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd_ < 0) return make_error(std::string("netlink socket: ") + std::strerror(errno));
    timeval tv{};
    tv.tv_sec = 5;  // the kernel answers at once; never hang the daemon
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return {};
  }
  // Sends `request` and collects replies up to the acknowledgement.
  Result<netlink::Reply> call(const std::vector<std::byte>& request, uint32_t seq) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd_, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
      return make_error(std::string("netlink send: ") + std::strerror(errno), errno);
    }
    netlink::Reply merged;
    std::vector<std::byte> buf(16 * 1024);
    while (true) {
      const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n < 0) {
        return make_error(std::string("no netlink answer from the kernel: ") + std::strerror(errno),
                          errno);
      }
      for (const netlink::Reply& r :
           netlink::parse_replies(std::span(buf.data(), static_cast<size_t>(n)))) {
        if (r.malformed) return make_error("malformed netlink reply: " + r.reason, EPROTO);
        if (r.seq != seq) continue;
        if (r.family_id) merged.family_id = r.family_id;
        if (r.nbd_index) merged.nbd_index = r.nbd_index;
        if (r.error) {
          merged.error = r.error;
          return merged;
        }
      }
    }
  }
  Result<uint16_t> nbd_family() {
    const uint32_t seq = next_seq_++;
    auto r = call(netlink::get_family_request(seq), seq);
    if (!r) return r.error();
    if (r->error && *r->error != 0) {
      if (*r->error == ENOENT) {
        return make_error("the nbd kernel module is not loaded (modprobe nbd)", ENOENT);
      }
      return make_error(
          std::string("cannot look up the nbd netlink family: ") + std::strerror(*r->error),
          *r->error);
    }
    if (!r->family_id) return make_error("the kernel did not name the nbd netlink family", EPROTO);
    return *r->family_id;
  }
  uint32_t next_seq() { return next_seq_++; }

 private:
  int fd_ = -1;
  uint32_t next_seq_ = 1;
};

Result<uint32_t> device_index(const std::string& device) {
  auto index = netlink::nbd_index_of(device);
  if (!index) return make_error(device + " is not of the form /dev/nbdN", EINVAL);
  return *index;
}

}  // namespace

Result<void> kernel_nbd_connect(const KernelNbdConnect& c) {
  const std::string what = "attaching the kernel nbd driver as " + c.device;
  auto index = device_index(c.device);
  if (!index) return make_error(what + ": " + index.error().message);
  NetlinkSocket nl;
  if (auto r = nl.open(); !r) return make_error(what + ": " + r.error().message);
  auto family = nl.nbd_family();
  if (!family) return make_error(what + ": " + family.error().message, family.error().sys_errno);
  netlink::ConnectRequest req;
  req.family = *family;
  req.seq = nl.next_seq();
  req.index = *index;
  req.size_bytes = c.size_bytes;
  req.block_size = c.block_size;
  req.server_flags = c.transmission_flags;
  req.client_flags = kDestroyOnDisconnect;
  req.socket_fd = c.socket_fd;
  auto r = nl.call(netlink::connect_request(req), req.seq);
  if (!r) return make_error(what + ": " + r.error().message, r.error().sys_errno);
  if (r->error && *r->error != 0) {
    const int err = *r->error;
    std::string hint;
    if (err == EBUSY) {
      hint = "; it is connected already (nbd-client -d " + c.device +
             ") or choose another device in the device line";
    } else if (err == EINVAL) {
      struct stat st {};
      if (stat(c.device.c_str(), &st) != 0) {
        hint = "; " + c.device + " does not exist (modprobe nbd nbds_max=N)";
      }
    }
    return make_error(what + ": the kernel refused: " + std::strerror(err) + hint, err);
  }
  return {};
}

Result<void> kernel_nbd_disconnect(const std::string& device) {
  const std::string what = "detaching the kernel nbd driver from " + device;
  auto index = device_index(device);
  if (!index) return make_error(what + ": " + index.error().message);
  NetlinkSocket nl;
  if (auto r = nl.open(); !r) return make_error(what + ": " + r.error().message);
  auto family = nl.nbd_family();
  if (!family) return make_error(what + ": " + family.error().message);
  const uint32_t seq = nl.next_seq();
  auto r = nl.call(netlink::disconnect_request(*family, seq, *index), seq);
  if (!r) return make_error(what + ": " + r.error().message);
  if (r->error && *r->error != 0) {
    return make_error(what + ": the kernel refused: " + std::strerror(*r->error), *r->error);
  }
  return {};
}

}  // namespace tandem::nbd
