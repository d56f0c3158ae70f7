#include "daemon/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "daemon/control_framing.h"

namespace tandem::daemon {
namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

std::string control_socket_path(const std::string& run_dir) {
  std::string path = run_dir;
  if (path.empty() || path.back() != '/') path += '/';
  return path + kControlSocketName;
}

Result<proto::ControlReply> control_call(const std::string& run_dir,
                                         const proto::ControlRequest& request,
                                         std::chrono::milliseconds timeout) {
  const std::string path = control_socket_path(run_dir);
  const std::string start_hint = "start it with `tandemd -c FILE --node NAME --run-dir " + run_dir +
                                 "`, or point tandemadm at its run directory with --run-dir";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return make_error("control socket path " + path + " is too long");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return make_error("cannot create a unix socket: " + errno_text(errno), errno);
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
      return make_error("tandemd is not running (no socket at " + path + "): " + start_hint, e);
    }
    if (e == EACCES || e == EPERM) {
      return make_error("permission denied on " + path +
                            ": run tandemadm as root or as a member of tandemd's control group",
                        e);
    }
    return make_error("cannot connect to tandemd at " + path + ": " + errno_text(e), e);
  }
  std::string bytes;
  request.SerializeToString(&bytes);
  std::vector<std::byte> out;
  if (auto r = append_control_frame(bytes, out); !r) {
    return r.error();
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The daemon may already have answered (e.g. access refused) and closed.
      break;
    }
    sent += static_cast<size_t>(n);
  }
  ControlFrameReader reader;
  std::array<std::byte, 65536> buf;
  while (true) {
    auto msg = reader.next();
    if (!msg) {
      return make_error("bad reply from tandemd at " + path + ": " + msg.error().message);
    }
    if (msg->has_value()) {
      proto::ControlReply reply;
      if (!reply.ParseFromString(**msg)) {
        return make_error("bad reply from tandemd at " + path + " (not a ControlReply)");
      }
      return reply;
    }
    pollfd p{fd.get(), POLLIN, 0};
    const int left = remaining_ms(deadline);
    const int pr = poll(&p, 1, left);
    if (pr == 0) {
      return make_error("tandemd at " + path + " did not answer within " +
                        std::to_string(timeout.count()) + " ms");
    }
    if (pr < 0) {
      if (errno == EINTR) continue;
      return make_error("waiting for tandemd failed: " + errno_text(errno), errno);
    }
    const ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
    if (n == 0) {
      return make_error("tandemd closed the control connection at " + path +
                        " without answering (see its log)");
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return make_error("reading from tandemd failed: " + errno_text(errno), errno);
    }
    reader.feed(std::span(buf.data(), static_cast<size_t>(n)));
  }
}

}  // namespace tandem::daemon
