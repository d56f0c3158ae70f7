#include "nbd/server.h"
#include "nbd/protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tandem::nbd {

namespace {

std::string tcp_peer_name(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string("tcp:") + host + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  return std::string("tcp:[") + host + "]:" + std::to_string(port);
}

}  // namespace

NbdServer::NbdServer(std::vector<ServedExport> exports, SessionLimits limits)
    : exports_(std::move(exports)),
      limits_(limits),
      stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  infos_.reserve(exports_.size());
  for (const ServedExport& e : exports_) infos_.push_back(export_info(e));
}

NbdServer::~NbdServer() {
  stop_all_connections();
  for (const Listener& l : listeners_) {
    ::close(l.fd);
    if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
  }
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Result<void> NbdServer::listen_unix(const std::string& path) {
  auto fd = nbd::listen_unix(path);
  if (!fd) return fd.error();
  listeners_.push_back(Listener{*fd, false, "unix:" + path, path});
  return {};
}

Result<uint16_t> NbdServer::listen_tcp(const TcpAddress& address) {
  auto fd = nbd::listen_tcp(address);
  if (!fd) return fd.error();
  const uint16_t port = bound_port(*fd);
  listeners_.push_back(Listener{
      *fd, true, "tcp:" + (address.host.empty() ? "*" : address.host) + ":" + std::to_string(port),
      ""});
  return port;
}

void NbdServer::stop() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(stop_fd_, &one, sizeof one);
}

void NbdServer::run() {
  for (const Listener& l : listeners_) TLOG(LOG_INFO, "nbd: listening on %s", l.label.c_str());
  std::vector<pollfd> fds(listeners_.size() + 1);
  for (;;) {
    fds[0] = pollfd{stop_fd_, POLLIN, 0};
    for (size_t i = 0; i < listeners_.size(); ++i) {
      fds[i + 1] = pollfd{listeners_[i].fd, POLLIN, 0};
    }
    // The timeout only paces the reaping of finished connection threads.
    const int rc = ::poll(fds.data(), fds.size(), 1000);
    if (rc < 0 && errno != EINTR) {
      TLOG(LOG_ERR, "nbd: poll on listening sockets failed: %s", errno_text(errno).c_str());
      break;
    }
    if (fds[0].revents & POLLIN) break;
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (fds[i + 1].revents & POLLIN) accept_from(listeners_[i]);
    }
    reap_finished();
  }
  TLOG(LOG_INFO, "nbd: server stopping; closing %zu connection(s)", workers_.size());
  stop_all_connections();
}

void NbdServer::accept_from(const Listener& listener) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      TLOG(LOG_WARNING, "nbd: accept on %s failed: %s", listener.label.c_str(),
           errno_text(errno).c_str());
    }
    return;
  }
  ++accepted_;
  std::string peer;
  if (listener.tcp) {
    const int one = 1;
    // Replies are small and latency-bound: do not wait to coalesce them.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    peer = tcp_peer_name(ss);
  } else {
    peer = listener.label + "#" + std::to_string(accepted_);
  }
  TLOG(LOG_INFO, "nbd: connection from %s", peer.c_str());
  auto connection = std::make_shared<NbdConnection>(fd, peer, exports_, infos_, limits_);
  auto finished = std::make_shared<std::atomic<bool>>(false);
  Worker w{connection, finished, {}};
  w.thread = std::thread([connection, finished] {
    connection->run();
    *finished = true;
  });
  workers_.push_back(std::move(w));
}

void NbdServer::reap_finished() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (*it->finished) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void NbdServer::stop_all_connections() {
  for (Worker& w : workers_) w.connection->stop();
  for (Worker& w : workers_) w.thread.join();
  workers_.clear();
}

}  // namespace tandem::nbd
