#include "daemon/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tandem::daemon {
namespace {

constexpr size_t kMaxQueuedReplyBytes = 4u << 20;

std::string errno_text(int e) {
  return std::strerror(e);
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return make_error("control socket path " + path + " is longer than " +
                      std::to_string(sizeof addr.sun_path - 1) +
                      " bytes: choose a shorter --run-dir");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// True when a daemon accepts connections at `path`.
bool someone_listens(const sockaddr_un& addr) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::start(EventLoop& loop,
                                                            const std::string& path,
                                                            ControlAccess access, Handler handler) {
  auto addr = unix_address(path);
  if (!addr) {
    return addr.error();
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(path +
                        " exists and is not a socket: remove it or choose another --run-dir");
    }
    if (someone_listens(*addr)) {
      return make_error("another tandemd already serves " + path +
                        ": stop it first, or give this one its own --run-dir");
    }
    unlink(path.c_str());  // left behind by a daemon that did not exit cleanly
  }
  std::unique_ptr<ControlServer> server(
      new ControlServer(loop, path, std::move(access), std::move(handler)));
  server->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (server->listen_fd_ < 0) {
    return make_error("cannot create the control socket: " + errno_text(errno), errno);
  }
  // Create the socket file without any access for others from the start;
  // chmod below opens it to the group.
  const mode_t old_mask = umask(0117);
  const int b = bind(server->listen_fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  const int bind_errno = errno;
  umask(old_mask);
  if (b != 0) {
    return make_error("cannot bind the control socket " + path + ": " + errno_text(bind_errno),
                      bind_errno);
  }
  if (server->access_.group) {
    if (chown(path.c_str(), static_cast<uid_t>(-1), *server->access_.group) != 0) {
      return make_error("cannot give " + path + " to group " + server->access_.group_name + ": " +
                            errno_text(errno),
                        errno);
    }
  }
  if (chmod(path.c_str(), 0660) != 0) {
    return make_error("cannot set mode 0660 on " + path + ": " + errno_text(errno), errno);
  }
  if (listen(server->listen_fd_, 64) != 0) {
    return make_error("cannot listen on " + path + ": " + errno_text(errno), errno);
  }
  ControlServer* self = server.get();
  server->listen_watch_ =
      loop.watch(server->listen_fd_, POLLIN, [self](uint32_t) { self->on_accept(); });
  return server;
}

ControlServer::~ControlServer() {
  while (!clients_.empty()) {
    drop(clients_.begin()->first);
  }
  if (listen_watch_ != 0) {
    loop_.unwatch(listen_watch_);
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(path_.c_str());
  }
}

std::optional<std::string> ControlServer::access_denied(const ClientCredentials& creds,
                                                        int fd) const {
  if (creds.uid == 0 || creds.uid == geteuid()) {
    return std::nullopt;
  }
  if (access_.group) {
    if (creds.gid == *access_.group) {
      return std::nullopt;
    }
    std::array<gid_t, 256> groups{};
    socklen_t len = sizeof groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      for (size_t i = 0; i < len / sizeof(gid_t); ++i) {
        if (groups[i] == *access_.group) {
          return std::nullopt;
        }
      }
    }
    return "permission denied: uid " + std::to_string(creds.uid) +
           " is neither root nor a member of the control group " + access_.group_name +
           " (run tandemadm as root or add the user to that group)";
  }
  return "permission denied: uid " + std::to_string(creds.uid) +
         " is not root and tandemd was started without --group (run tandemadm as root)";
}

void ControlServer::on_accept() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        TLOG(LOG_WARNING, "control socket %s: accept failed: %s", path_.c_str(),
             errno_text(errno).c_str());
      }
      return;
    }
    const int id = next_client_++;
    Client& c = clients_[id];
    c.fd = fd;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      TLOG(LOG_WARNING, "control socket %s: cannot read the client's credentials: %s",
           path_.c_str(), errno_text(errno).c_str());
      close(fd);
      clients_.erase(id);
      continue;
    }
    c.creds = {cred.pid, cred.uid, cred.gid};
    if (auto denied = access_denied(c.creds, fd)) {
      TLOG(LOG_WARNING, "control socket %s: refused pid %d: %s", path_.c_str(),
           static_cast<int>(cred.pid), denied->c_str());
      proto::ControlReply reply;
      reply.set_ok(false);
      reply.set_error(*denied);
      queue_reply(c, reply);
      c.closing = true;
    } else {
      c.allowed = true;
    }
    c.watch = loop_.watch(fd, c.closing ? POLLOUT : POLLIN,
                          [this, id](uint32_t revents) { on_client(id, revents); });
  }
}

void ControlServer::queue_reply(Client& c, const proto::ControlReply& reply) {
  std::string bytes;
  reply.SerializeToString(&bytes);
  if (auto r = append_control_frame(bytes, c.out); !r) {
    proto::ControlReply small;
    small.set_ok(false);
    small.set_error("reply too large: " + r.error().message);
    small.SerializeToString(&bytes);
    (void)append_control_frame(bytes, c.out);
  }
}

bool ControlServer::read_from(Client& c) {
  std::array<std::byte, 65536> buf;
  while (c.out.size() - c.out_sent < kMaxQueuedReplyBytes) {
    const ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
    if (n > 0) {
      c.reader.feed(std::span(buf.data(), static_cast<size_t>(n)));
      handle_messages(c);
      if (c.closing) {
        return true;
      }
      continue;
    }
    if (n == 0) {
      c.closing = true;  // the client is done; finish sending replies
      return true;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return true;
    }
    return false;
  }
  return true;
}

void ControlServer::handle_messages(Client& c) {
  while (true) {
    auto msg = c.reader.next();
    if (!msg) {
      TLOG(LOG_WARNING, "control socket %s: closing the connection of pid %d: %s", path_.c_str(),
           static_cast<int>(c.creds.pid), msg.error().message.c_str());
      proto::ControlReply reply;
      reply.set_ok(false);
      reply.set_error("malformed control message: " + msg.error().message);
      queue_reply(c, reply);
      c.closing = true;
      return;
    }
    if (!msg->has_value()) {
      return;
    }
    proto::ControlRequest request;
    proto::ControlReply reply;
    if (!request.ParseFromString(**msg)) {
      reply.set_ok(false);
      reply.set_error("malformed control request (not a ControlRequest message)");
    } else {
      reply = handler_(request, c.creds);
    }
    queue_reply(c, reply);
  }
}

bool ControlServer::flush(Client& c) {
  while (c.out_sent < c.out.size()) {
    const ssize_t n =
        send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return true;
    }
    return false;
  }
  c.out.clear();
  c.out_sent = 0;
  return true;
}

void ControlServer::update_events(Client& c) {
  uint32_t events = 0;
  if (!c.closing && c.out.size() - c.out_sent < kMaxQueuedReplyBytes) {
    events |= POLLIN;
  }
  if (c.out_sent < c.out.size()) {
    events |= POLLOUT;
  }
  loop_.set_events(c.watch, events);
}

void ControlServer::on_client(int id, uint32_t revents) {
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    return;
  }
  Client& c = it->second;
  bool alive = true;
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && c.allowed && !c.closing) {
    alive = read_from(c);
  }
  if (alive) {
    alive = flush(c);
  }
  if (!alive || (c.closing && c.out.empty())) {
    drop(id);
    return;
  }
  update_events(c);
}

void ControlServer::drop(int id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    return;
  }
  loop_.unwatch(it->second.watch);
  close(it->second.fd);
  clients_.erase(it);
}

}  // namespace tandem::daemon
